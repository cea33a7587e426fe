package ehr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/clinomics/clinomics/internal/fhir/server"
)

// PutAccepted puts a ServiceRequest that Accept applied into st, the
// store of the platform's own FHIR API, so that it can be read back there:
// as ServiceRequest/<order id> (a second post of the same order is its
// next version) with its subject rewritten to Patient/<patient id>, the
// pseudonymous id. When the request named its patient by a contained
// Patient or by an identifier, Patient/<patient id> is written too: the
// contained Patient (taken out of contained), or the Patient already
// stored with the identifier added; identifiers the stored Patient had
// are kept. A subject "Patient/<id>" of ours writes no Patient. Both go in
// one transaction. It returns the stored ServiceRequest.
func PutAccepted(ctx context.Context, st server.WritableStore, a Accepted, sr []byte, now time.Time) (server.Record, error) {
	if a.OrderID == "" || a.PatientID == "" {
		return server.Record{}, errors.New("ehr: put accepted: no order or patient id")
	}
	var m map[string]any
	if err := json.Unmarshal(sr, &m); err != nil || m == nil {
		return server.Record{}, errors.New("ehr: put accepted: the ServiceRequest is not a JSON object")
	}
	subj, _ := m["subject"].(map[string]any)
	ref, _ := subj["reference"].(string)
	var pat map[string]any
	switch {
	case strings.HasPrefix(ref, "#"):
		contained, _ := m["contained"].([]any)
		var rest []any
		for _, c := range contained {
			if cm, ok := c.(map[string]any); ok && pat == nil && cm["resourceType"] == "Patient" && cm["id"] == ref[1:] {
				pat = cm
				continue
			}
			rest = append(rest, c)
		}
		if pat == nil {
			return server.Record{}, errors.New("ehr: put accepted: the contained patient is missing")
		}
		if len(rest) == 0 {
			delete(m, "contained")
		} else {
			m["contained"] = rest
		}
	case ref == "" && subj["identifier"] != nil:
		pat = map[string]any{"resourceType": "Patient", "identifier": []any{subj["identifier"]}}
	}
	m["id"] = a.OrderID
	m["subject"] = map[string]any{"reference": "Patient/" + a.PatientID}
	var resources [][]byte
	if pat != nil {
		old, err := st.Get(ctx, "Patient", a.PatientID)
		switch {
		case errors.Is(err, server.ErrNotFound):
		case err != nil:
			return server.Record{}, err
		default:
			var prev map[string]any
			if err := json.Unmarshal(old.Body, &prev); err != nil {
				return server.Record{}, fmt.Errorf("ehr: put accepted: stored patient: %w", err)
			}
			if !strings.HasPrefix(ref, "#") {
				pat, prev = prev, pat // keep the stored demographics, add the identifier
			}
			pat["identifier"] = mergeIdentifiers(pat["identifier"], prev["identifier"])
		}
		pat["id"] = a.PatientID
		b, err := json.Marshal(pat)
		if err != nil {
			return server.Record{}, err
		}
		resources = append(resources, b)
	}
	b, err := json.Marshal(m)
	if err != nil {
		return server.Record{}, err
	}
	resources = append(resources, b)
	if err := server.Put(ctx, st, now, resources...); err != nil {
		return server.Record{}, err
	}
	return st.Get(ctx, "ServiceRequest", a.OrderID)
}

// mergeIdentifiers returns the identifiers of a followed by those of b
// not in a (by system and value).
func mergeIdentifiers(a, b any) []any {
	out, _ := a.([]any)
	have := map[string]bool{}
	key := func(v any) string {
		m, _ := v.(map[string]any)
		s, _ := m["system"].(string)
		val, _ := m["value"].(string)
		return s + "|" + val
	}
	for _, v := range out {
		have[key(v)] = true
	}
	more, _ := b.([]any)
	for _, v := range more {
		if k := key(v); !have[k] {
			have[k] = true
			out = append(out, v)
		}
	}
	return out
}
