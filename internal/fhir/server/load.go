package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Put writes resources (FHIR JSON, each with resourceType and id) to st
// in one transaction, each as its next version: how the platform puts the
// resources of a signed report, or a ServiceRequest received, into the
// store its read-only API serves. Errors name the entry, never content.
func Put(ctx context.Context, st WritableStore, now time.Time, resources ...[]byte) error {
	s := &Server{opt: Options{}}
	return st.Apply(ctx, func(tx Tx) error {
		for i, b := range resources {
			var res map[string]any
			if err := json.Unmarshal(b, &res); err != nil {
				return fmt.Errorf("fhir put: resource %d: not a JSON object", i)
			}
			typ, _ := res["resourceType"].(string)
			id, _ := res["id"].(string)
			if !validType(typ) || !validID(id) {
				return fmt.Errorf("fhir put: resource %d: needs resourceType and a valid id", i)
			}
			prev, err := tx.Get(ctx, typ, id)
			var pp *Record
			switch {
			case errors.Is(err, ErrNotFound):
			case err != nil:
				return err
			default:
				pp = &prev
			}
			rec, err := s.prepare(typ, id, res, pp, now)
			if err != nil {
				return fmt.Errorf("fhir put: resource %d: %w", i, err)
			}
			if err := tx.Put(rec); err != nil {
				return err
			}
		}
		return nil
	})
}
