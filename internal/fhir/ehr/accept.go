package ehr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/clinomics/clinomics/internal/audit"
	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/clinical"
	"github.com/clinomics/clinomics/internal/fhir"
)

// MaxServiceRequest bounds a ServiceRequest posted to us.
const MaxServiceRequest = 1 << 20

// AcceptServiceRequest applies one ServiceRequest posted to our own FHIR
// API: it creates or updates the order (by its identifier, the placer
// order number) and its patient, with an audit record by actor, in one
// transaction, and returns the order's id.
//
// The patient is found from the subject: a contained Patient ("#id"), a
// logical reference (subject.identifier), or "Patient/<id>" naming one of
// our patients. A specimen (contained, or by identifier) gives the sample
// id. A request that cannot be applied returns an *fhir.Issue naming the
// element at fault (e.g. "ServiceRequest.subject"), for
// fhir.OutcomeOf; a conflict with stored records wraps
// clinical.ErrConflict. Other errors are internal.
func AcceptServiceRequest(ctx context.Context, db *clinical.DB, sr []byte, actor string) (string, error) {
	a, err := Accept(ctx, db, sr, actor)
	return a.OrderID, err
}

// Accepted is what AcceptServiceRequest made of a ServiceRequest: the
// order's id and its patient's pseudonymous id.
type Accepted struct {
	OrderID, PatientID string
}

// Accept is AcceptServiceRequest, returning the patient's id too.
func Accept(ctx context.Context, db *clinical.DB, sr []byte, actor string) (Accepted, error) {
	oid, pid, err := accept(ctx, db, sr, actor)
	if err != nil {
		return Accepted{}, err
	}
	return Accepted{OrderID: oid, PatientID: pid}, nil
}

func accept(ctx context.Context, db *clinical.DB, sr []byte, actor string) (string, string, error) {
	if len(sr) > MaxServiceRequest {
		return "", "", &fhir.Issue{Code: fhir.CodeTooLong, Expression: "ServiceRequest", Message: "the resource is too large", Err: fhir.ErrTooLarge}
	}
	req, err := parseServiceRequest(sr)
	if err != nil {
		return "", "", err
	}
	r, err := mapOrder(req, "")
	if err != nil {
		return "", "", err
	}
	if r.Order.AsOf.IsZero() {
		r.Order.AsOf = time.Now().UTC()
	}
	contained := map[string]json.RawMessage{}
	for _, c := range req.Contained {
		var h head
		if json.Unmarshal(c, &h) == nil && h.ID != "" {
			contained["#"+h.ID] = c
		}
	}
	subj := req.Subject
	switch ref := subj.Reference; {
	case strings.HasPrefix(ref, "#"):
		b, ok := contained[ref]
		if !ok {
			return "", "", invalid("ServiceRequest.subject.reference", fhir.ErrValue, "no contained resource has that id")
		}
		if r.Patient, err = mapPatient(b, "ServiceRequest.subject"); err != nil {
			return "", "", err
		}
	case strings.HasPrefix(ref, "Patient/"):
		r.PatientID = strings.TrimPrefix(ref, "Patient/")
		if r.PatientID == "" || strings.ContainsAny(r.PatientID, "/?#") {
			return "", "", invalid("ServiceRequest.subject.reference", fhir.ErrValue, "not a Patient/<id> reference")
		}
	case ref == "" && subj.Identifier != nil && subj.Identifier.Value != "":
		r.Patient = clinical.Patient{Identifiers: []clinical.Identifier{mapIdentifier(*subj.Identifier)}}
	default:
		return "", "", invalid("ServiceRequest.subject", fhir.ErrValue,
			"name the patient by a contained Patient, an identifier, or a Patient/<id> of this server")
	}
	for i, sp := range req.Specimen {
		switch {
		case strings.HasPrefix(sp.Reference, "#"):
			b, ok := contained[sp.Reference]
			if !ok {
				return "", "", invalid(fmt.Sprintf("ServiceRequest.specimen[%d].reference", i), fhir.ErrValue, "no contained resource has that id")
			}
			applySpecimen(&r.Order, b)
		case sp.Identifier != nil:
			applySpecimenIdentifier(&r.Order, sp.Identifier)
		}
	}
	r.Order.Clear = absent(r.Order)
	if actor == "" {
		actor = "fhir-api"
	}
	var oid, patient string
	err = db.Update(ctx, func(tx *clinical.Tx) error {
		pid, id, changed, err := storeOrder(tx, r)
		if err != nil {
			return err
		}
		oid, patient = id, pid
		if !changed {
			return nil
		}
		e, err := audit.Check(catalog.AuditEvent{Actor: actor, Source: "fhir-api", Action: "fhir.order.accept",
			Resource: "order:" + oid, Patient: pid, Outcome: audit.OK})
		if err != nil {
			return err
		}
		_, err = tx.AppendAudit([]catalog.AuditEvent{e})
		return err
	})
	if errors.Is(err, clinical.ErrNoIdentifier) {
		return "", "", invalid("Patient.identifier", fhir.ErrRequired, "the patient has no identifier")
	}
	if errors.Is(err, clinical.ErrConflict) {
		return "", "", fmt.Errorf("ServiceRequest: %w", err)
	}
	return oid, patient, err
}
