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

// PutBundle applies a transaction Bundle (a signed report's, as the
// report builder makes it) to st as the transaction interaction would,
// with the same code: conditional creates (ifNoneExist) find existing
// resources, conditional updates (PUT Type?search) find the resource they
// replace, and urn:uuid references between entries are rewritten to the
// ids the entries got. Any resource type is written. A Patient the Bundle
// creates gets the id patientID (the pseudonymous patient id, so the
// audit trail of FHIR reads names the patient as the rest of the platform
// does) when it is not ""; other created resources get new random ids.
// All entries are written or none. Errors are *Error with a public
// message naming the entry, never content.
func PutBundle(ctx context.Context, st WritableStore, now time.Time, bundle []byte, patientID string) ([]Record, error) {
	var raw map[string]any
	if err := json.Unmarshal(bundle, &raw); err != nil || raw == nil {
		return nil, errorf(400, "structure", "the Bundle is not a JSON object")
	}
	if patientID != "" && !validID(patientID) {
		return nil, fmt.Errorf("fhir put bundle: the patient id is not a FHIR id")
	}
	s := &Server{opt: Options{Store: st, Writable: st, Now: func() time.Time { return now }}, anyType: true,
		idFor: func(typ string) string {
			if typ == "Patient" {
				return patientID
			}
			return ""
		}}
	plan, _, err := s.transact(ctx, "", raw, nil)
	if err != nil {
		return nil, err
	}
	recs := make([]Record, len(plan))
	for i, p := range plan {
		recs[i] = p.rec
	}
	return recs, nil
}
