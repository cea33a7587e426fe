package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/clinical"
	"github.com/clinomics/clinomics/internal/report"
)

// CompleteDraft fills in what a report draft leaves out from the clinical
// database (report.Options.Complete): the patient named by Patient.ID, or
// else by the order that names the specimen's sample id (the lab's id is
// what the annotator knows), with demographics, MRN and its authority;
// and the order named by Order.ID or, failing that, the patient's order
// of the specimen's sample id. What the draft already holds is kept. A
// patient unknown here is an error naming the field unless the draft
// carries the MRN itself; a draft without an order is allowed (a research
// sample).
func CompleteDraft(db *clinical.DB) func(context.Context, *report.Report) error {
	return func(ctx context.Context, r *report.Report) error {
		if r.Patient.ID == "" && r.Specimen.SampleID != "" {
			pid, err := db.PatientOfSample(ctx, r.Specimen.SampleID)
			switch {
			case errors.Is(err, clinical.ErrNotFound):
				return &report.FieldError{Field: "Specimen.SampleID", Problem: "no order in the clinical database names this sample: name the patient (Patient.ID)"}
			case errors.Is(err, catalog.ErrSeveralPatients):
				return &report.FieldError{Field: "Specimen.SampleID", Problem: "orders of several patients name this sample: name the patient (Patient.ID)"}
			case err != nil:
				return fmt.Errorf("finding the patient of a draft's sample: %w", err)
			}
			r.Patient.ID = pid
		}
		p, _, orders, _, err := db.Records(ctx, r.Patient.ID)
		if errors.Is(err, clinical.ErrNotFound) {
			if r.Patient.MRN != "" {
				return nil // a draft that carries the patient's details itself
			}
			return &report.FieldError{Field: "Patient.ID", Problem: "no such patient in the clinical database, and the draft has no MRN"}
		}
		if err != nil {
			return fmt.Errorf("reading the patient of a draft: %w", err)
		}
		if r.Patient.MRN != "" && !hasIdentifier(db, p.Identifiers, r.Patient.MRN, r.Patient.Authority) {
			// The MRN is how the EHR files the result: one that is not
			// this patient's would file it in another patient's record.
			return &report.FieldError{Field: "Patient.MRN", Problem: "not an identifier of the patient named by Patient.ID"}
		}
		fillPatient(&r.Patient, p)
		for _, o := range orders {
			if o.ID == r.Order.ID || r.Order.ID == "" && r.Specimen.SampleID != "" && o.SampleID == r.Specimen.SampleID {
				fillOrder(r, o)
				return nil
			}
		}
		if r.Order.ID != "" {
			return &report.FieldError{Field: "Order.ID", Problem: "not an order of this patient"}
		}
		return nil
	}
}

func fillPatient(dst *report.Patient, p clinical.Patient) {
	set := func(d *string, v string) {
		if *d == "" {
			*d = v
		}
	}
	if dst.MRN == "" {
		if id, ok := mrnOf(p.Identifiers); ok {
			dst.MRN, dst.Authority = id.Value, id.Authority
		}
	}
	set(&dst.Family, p.Family)
	set(&dst.Given, p.Given)
	set(&dst.BirthDate, isoDate(p.BirthDate))
	set(&dst.Sex, sexOf(p.Sex))
}

func fillOrder(r *report.Report, o clinical.Order) {
	set := func(d *string, v string) {
		if *d == "" {
			*d = v
		}
	}
	set(&r.Order.ID, o.ID)
	set(&r.Order.Placer, o.PlacerNumber)
	set(&r.Order.Filler, o.FillerNumber)
	set(&r.Order.Code, o.Code)
	set(&r.Order.Display, o.Display)
	set(&r.Order.OrderedBy, o.Orderer)
	set(&r.Order.OrderedDate, isoDate(o.Ordered))
	set(&r.Order.CodeSystem, codeSystemURI(o.CodeSystem))
	set(&r.Specimen.SampleID, o.SampleID)
	set(&r.Specimen.Type, o.SpecimenType) // SPM-4 (OBR-15) as text
}

// codeSystemURI is the URI of an order code's system: an HL7 v2 coding
// system name (HL7 orders) we know, or the system as a FHIR order gives
// it (already a URI); "" for a local or unknown one.
func codeSystemURI(s string) string {
	switch {
	case s == "LN":
		return "http://loinc.org"
	case strings.Contains(s, ":"):
		return s
	}
	return ""
}

// hasIdentifier says whether ids hold value (under authority, or another
// name of it, when given).
func hasIdentifier(db *clinical.DB, ids []clinical.Identifier, value, authority string) bool {
	for _, id := range ids {
		if id.Value == value && (authority == "" || db.SameAuthority(id.Authority, authority)) {
			return true
		}
	}
	return false
}

// mrnOf is the patient's medical record number: the identifier of type
// MR, else the first.
func mrnOf(ids []clinical.Identifier) (clinical.Identifier, bool) {
	for _, id := range ids {
		if id.Type == "MR" {
			return id, true
		}
	}
	if len(ids) > 0 {
		return ids[0], true
	}
	return clinical.Identifier{}, false
}

// isoDate turns an HL7 date (YYYYMMDD…) into YYYY-MM-DD; "" when it has
// no day.
func isoDate(s string) string {
	if len(s) < 8 {
		return ""
	}
	d := s[:4] + "-" + s[4:6] + "-" + s[6:8]
	if _, err := time.Parse(time.DateOnly, d); err != nil {
		return ""
	}
	return d
}

// sexOf maps HL7 administrative sex to the report's words.
func sexOf(s string) string {
	switch s {
	case "M":
		return "male"
	case "F":
		return "female"
	case "O", "A", "N":
		return "other"
	case "":
		return ""
	}
	return "unknown"
}
