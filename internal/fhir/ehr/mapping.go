package ehr

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/clinomics/clinomics/internal/clinical"
	"github.com/clinomics/clinomics/internal/fhir"
)

// orderRecord is one ServiceRequest mapped for the clinical database.
type orderRecord struct {
	Ref       string           // "ServiceRequest/<id>" at the EHR, for the audit trail; may be ""
	Patient   clinical.Patient // the patient, by identifiers (when PatientID is "")
	PatientID string           // a patient of ours, named directly
	Order     clinical.Order
	Updated   time.Time // meta.lastUpdated; zero when absent
	// Cancel: the EHR revoked the request or entered it in error (Order.Status
	// is "cancelled"); a pull cancels the order it names, never creates one.
	Cancel bool
	// version identifies the ServiceRequest's content (a hash of it), so a
	// refusal is reported once per content (Puller.reported).
	version string
}

// invalid is an *fhir.Issue at path: the message names elements, never
// their content.
func invalid(path string, sentinel error, format string, a ...any) *fhir.Issue {
	code := fhir.CodeInvalid
	switch sentinel {
	case fhir.ErrRequired:
		code = fhir.CodeRequired
	case fhir.ErrValue:
		code = fhir.CodeValue
	case fhir.ErrSyntax, fhir.ErrResourceType:
		code = fhir.CodeStructure
	}
	return &fhir.Issue{Code: code, Expression: path, Message: fmt.Sprintf(format, a...), Err: sentinel}
}

// parseServiceRequest decodes and checks what an order needs.
func parseServiceRequest(b []byte) (*serviceRequest, error) {
	var sr serviceRequest
	if err := json.Unmarshal(b, &sr); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return nil, invalid("ServiceRequest."+te.Field, fhir.ErrType, "expected a JSON %s", te.Type.Kind())
		}
		return nil, invalid("ServiceRequest", fhir.ErrSyntax, "the body is not a JSON resource")
	}
	if sr.ResourceType != "ServiceRequest" {
		return nil, invalid("ServiceRequest.resourceType", fhir.ErrResourceType, "want ServiceRequest")
	}
	return &sr, nil
}

// mapOrder maps the ServiceRequest itself (without subject and specimen).
// idIssuer, when not "", lets the EHR's logical id stand as the placer
// number when the request carries no identifier.
func mapOrder(sr *serviceRequest, idIssuer string) (orderRecord, error) {
	r := orderRecord{}
	if sr.ID != "" {
		r.Ref = "ServiceRequest/" + sr.ID
	}
	if sr.Meta != nil && sr.Meta.LastUpdated != "" {
		t, err := time.Parse(time.RFC3339Nano, sr.Meta.LastUpdated)
		if err != nil {
			return r, invalid("ServiceRequest.meta.lastUpdated", fhir.ErrValue, "not a FHIR instant")
		}
		r.Updated = t
	}
	o := clinical.Order{Genetic: true, AsOf: r.Updated}
	if id, ok := placerIdentifier(sr.Identifier); ok {
		o.PlacerNumber, o.PlacerIssuer = id.Value, id.System
	} else if idIssuer != "" && sr.ID != "" {
		o.PlacerNumber, o.PlacerIssuer = sr.ID, idIssuer
	} else {
		return r, invalid("ServiceRequest.identifier", fhir.ErrRequired, "the order needs an identifier (the placer order number)")
	}
	switch sr.Status {
	case "draft", "active", "on-hold":
		o.Status = "new"
	case "completed":
		o.Status = "completed"
	case "revoked", "entered-in-error":
		o.Status = "cancelled" // as HL7 ORC-1 CA or OC (internal/hl7/inbox)
		r.Cancel = true
	case "":
		return r, invalid("ServiceRequest.status", fhir.ErrRequired, "the status is missing")
	default:
		return r, invalid("ServiceRequest.status", fhir.ErrValue, "not a ServiceRequest status code")
	}
	if sr.Intent == "" {
		return r, invalid("ServiceRequest.intent", fhir.ErrRequired, "the intent is missing")
	}
	if sr.Code == nil {
		return r, invalid("ServiceRequest.code", fhir.ErrRequired, "the test ordered is missing")
	}
	if c, ok := firstCoding(sr.Code); ok {
		o.Code, o.CodeSystem, o.Display = c.Code, c.System, c.Display
	}
	if o.Display == "" {
		o.Display = sr.Code.Text
	}
	if o.Code == "" && o.Display == "" {
		return r, invalid("ServiceRequest.code", fhir.ErrRequired, "the code has neither a coding with a code nor a text")
	}
	if sr.AuthoredOn != "" {
		o.Ordered = hl7Time(sr.AuthoredOn)
	}
	if q := sr.Requester; q != nil {
		o.Orderer = q.Display
		if o.Orderer == "" {
			o.Orderer = q.Reference
		}
	}
	if sr.Subject == nil || (sr.Subject.Reference == "" && sr.Subject.Identifier == nil) {
		return r, invalid("ServiceRequest.subject", fhir.ErrRequired, "the order names no patient (a reference or an identifier)")
	}
	if t := sr.Subject.Type; t != "" && t != "Patient" {
		return r, invalid("ServiceRequest.subject.type", fhir.ErrValue, "the subject must be a Patient")
	}
	r.Order = o
	return r, nil
}

// placerIdentifier picks the placer order number: the identifier typed
// PLAC, else the first with a value.
func placerIdentifier(ids []identifier) (identifier, bool) {
	for _, id := range ids {
		if id.Value != "" && id.Type != nil {
			for _, c := range id.Type.Coding {
				if c.Code == "PLAC" {
					return id, true
				}
			}
		}
	}
	for _, id := range ids {
		if id.Value != "" {
			return id, true
		}
	}
	return identifier{}, false
}

func firstCoding(cc *codeableConcept) (coding, bool) {
	for _, c := range cc.Coding {
		if c.Code != "" {
			return c, true
		}
	}
	return coding{}, false
}

// mapIdentifier maps a FHIR identifier to a patient identifier: the system
// stands as the assigning authority, the type's code (MR, PI...) as the type.
func mapIdentifier(id identifier) clinical.Identifier {
	out := clinical.Identifier{Value: id.Value, Authority: id.System}
	if id.Type != nil {
		if c, ok := firstCoding(id.Type); ok {
			out.Type = c.Code
		}
	}
	return out
}

// mapPatient maps a Patient resource; path names where it came from.
func mapPatient(b []byte, path string) (clinical.Patient, error) {
	var p patient
	if err := json.Unmarshal(b, &p); err != nil || p.ResourceType != "Patient" {
		return clinical.Patient{}, invalid(path, fhir.ErrResourceType, "the subject is not a Patient resource")
	}
	out := clinical.Patient{}
	for _, id := range p.Identifier {
		if id.Value != "" {
			out.Identifiers = append(out.Identifiers, mapIdentifier(id))
		}
	}
	if len(out.Identifiers) == 0 {
		return out, invalid("Patient.identifier", fhir.ErrRequired, "the patient (%s) has no identifier to find them by", path)
	}
	if len(p.Name) > 0 {
		n := p.Name[0]
		for _, x := range p.Name {
			if x.Use == "official" {
				n = x
				break
			}
		}
		out.Family = n.Family
		if len(n.Given) > 0 {
			out.Given = n.Given[0]
		}
		if len(n.Given) > 1 {
			out.Middle = strings.Join(n.Given[1:], " ")
		}
	}
	out.BirthDate = hl7Time(p.BirthDate)
	out.Sex = map[string]string{"male": "M", "female": "F", "other": "O", "unknown": "U"}[p.Gender]
	switch {
	case p.DeceasedDateTime != "":
		out.Deceased = hl7Time(p.DeceasedDateTime)
	case p.DeceasedBoolean != nil && *p.DeceasedBoolean:
		out.Deceased = "Y"
	}
	if p.Meta != nil {
		if t, err := time.Parse(time.RFC3339Nano, p.Meta.LastUpdated); err == nil {
			out.AsOf = t
		}
	}
	return out, nil
}

// applySpecimen takes the sample id (accession, else first identifier)
// and type from a Specimen resource.
func applySpecimen(o *clinical.Order, b []byte) {
	var s specimen
	if json.Unmarshal(b, &s) != nil || s.ResourceType != "Specimen" {
		return
	}
	applySpecimenIdentifier(o, s.AccessionIdentifier)
	for _, id := range s.Identifier {
		applySpecimenIdentifier(o, &id)
	}
	if s.Type != nil {
		if c, ok := firstCoding(s.Type); ok {
			o.Specimen = c.Display
			if o.Specimen == "" {
				o.Specimen = c.Code
			}
		}
		if o.Specimen == "" {
			o.Specimen = s.Type.Text
		}
	}
}

func applySpecimenIdentifier(o *clinical.Order, id *identifier) {
	if o.SampleID == "" && id != nil && id.Value != "" {
		o.SampleID = id.Value
	}
}

// hl7Time writes a FHIR date or dateTime the way the clinical database
// keeps dates (HL7 DTM, with the source's precision); what does not parse
// is kept as given.
func hl7Time(s string) string {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.Format("20060102150405-0700")
	}
	for _, layout := range []string{"2006-01-02", "2006-01", "2006"} {
		if _, err := time.Parse(layout, s); err == nil {
			return strings.ReplaceAll(s, "-", "")
		}
	}
	return s
}

// isIssue reports whether err is a problem of the resource itself (an
// *fhir.Issue), as opposed to a failure to store or reach something.
func isIssue(err error) bool {
	var is *fhir.Issue
	return errors.As(err, &is)
}
