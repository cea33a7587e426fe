package fhir

// encoding/json methods: the resources and datatypes of this package encode
// and decode with encoding/json as they do with Marshal and Parse, so other
// packages can embed them in their own JSON.

import "encoding/json"

// MarshalJSON encodes the resource as FHIR JSON.
func (r *Patient) MarshalJSON() ([]byte, error) { return Marshal(r) }

// UnmarshalJSON decodes FHIR JSON; see Unmarshal.
func (r *Patient) UnmarshalJSON(b []byte) error { return Unmarshal(b, r) }

// MarshalJSON encodes the resource as FHIR JSON.
func (r *ServiceRequest) MarshalJSON() ([]byte, error) { return Marshal(r) }

// UnmarshalJSON decodes FHIR JSON; see Unmarshal.
func (r *ServiceRequest) UnmarshalJSON(b []byte) error { return Unmarshal(b, r) }

// MarshalJSON encodes the resource as FHIR JSON.
func (r *Specimen) MarshalJSON() ([]byte, error) { return Marshal(r) }

// UnmarshalJSON decodes FHIR JSON; see Unmarshal.
func (r *Specimen) UnmarshalJSON(b []byte) error { return Unmarshal(b, r) }

// MarshalJSON encodes the resource as FHIR JSON.
func (r *DiagnosticReport) MarshalJSON() ([]byte, error) { return Marshal(r) }

// UnmarshalJSON decodes FHIR JSON; see Unmarshal.
func (r *DiagnosticReport) UnmarshalJSON(b []byte) error { return Unmarshal(b, r) }

// MarshalJSON encodes the resource as FHIR JSON.
func (r *Observation) MarshalJSON() ([]byte, error) { return Marshal(r) }

// UnmarshalJSON decodes FHIR JSON; see Unmarshal.
func (r *Observation) UnmarshalJSON(b []byte) error { return Unmarshal(b, r) }

// MarshalJSON encodes the resource as FHIR JSON.
func (r *Bundle) MarshalJSON() ([]byte, error) { return Marshal(r) }

// UnmarshalJSON decodes FHIR JSON; see Unmarshal.
func (r *Bundle) UnmarshalJSON(b []byte) error { return Unmarshal(b, r) }

// MarshalJSON encodes the resource as FHIR JSON.
func (r *Provenance) MarshalJSON() ([]byte, error) { return Marshal(r) }

// UnmarshalJSON decodes FHIR JSON; see Unmarshal.
func (r *Provenance) UnmarshalJSON(b []byte) error { return Unmarshal(b, r) }

// MarshalJSON encodes the resource as FHIR JSON.
func (r *DocumentReference) MarshalJSON() ([]byte, error) { return Marshal(r) }

// UnmarshalJSON decodes FHIR JSON; see Unmarshal.
func (r *DocumentReference) UnmarshalJSON(b []byte) error { return Unmarshal(b, r) }

// MarshalJSON encodes the resource as FHIR JSON.
func (r *Task) MarshalJSON() ([]byte, error) { return Marshal(r) }

// UnmarshalJSON decodes FHIR JSON; see Unmarshal.
func (r *Task) UnmarshalJSON(b []byte) error { return Unmarshal(b, r) }

// MarshalJSON encodes the resource as FHIR JSON.
func (r *OperationOutcome) MarshalJSON() ([]byte, error) { return Marshal(r) }

// UnmarshalJSON decodes FHIR JSON; see Unmarshal.
func (r *OperationOutcome) UnmarshalJSON(b []byte) error { return Unmarshal(b, r) }

// MarshalJSON encodes the resource as FHIR JSON.
func (r *CapabilityStatement) MarshalJSON() ([]byte, error) { return Marshal(r) }

// UnmarshalJSON decodes FHIR JSON; see Unmarshal.
func (r *CapabilityStatement) UnmarshalJSON(b []byte) error { return Unmarshal(b, r) }

// MarshalJSON encodes the resource as FHIR JSON.
func (r *RawResource) MarshalJSON() ([]byte, error) { return Marshal(r) }

// UnmarshalJSON decodes any resource as raw members.
func (r *RawResource) UnmarshalJSON(b []byte) error { return Unmarshal(b, r) }

// MarshalJSON encodes the element as FHIR JSON.
func (x Coding) MarshalJSON() ([]byte, error) { return marshalElement(&x) }

// UnmarshalJSON decodes the element from FHIR JSON.
func (x *Coding) UnmarshalJSON(b []byte) error { return unmarshalElement(b, "Coding", x) }

// MarshalJSON encodes the element as FHIR JSON.
func (x CodeableConcept) MarshalJSON() ([]byte, error) { return marshalElement(&x) }

// UnmarshalJSON decodes the element from FHIR JSON.
func (x *CodeableConcept) UnmarshalJSON(b []byte) error {
	return unmarshalElement(b, "CodeableConcept", x)
}

// MarshalJSON encodes the element as FHIR JSON.
func (x Identifier) MarshalJSON() ([]byte, error) { return marshalElement(&x) }

// UnmarshalJSON decodes the element from FHIR JSON.
func (x *Identifier) UnmarshalJSON(b []byte) error { return unmarshalElement(b, "Identifier", x) }

// MarshalJSON encodes the element as FHIR JSON.
func (x Reference) MarshalJSON() ([]byte, error) { return marshalElement(&x) }

// UnmarshalJSON decodes the element from FHIR JSON.
func (x *Reference) UnmarshalJSON(b []byte) error { return unmarshalElement(b, "Reference", x) }

// MarshalJSON encodes the element as FHIR JSON.
func (x Period) MarshalJSON() ([]byte, error) { return marshalElement(&x) }

// UnmarshalJSON decodes the element from FHIR JSON.
func (x *Period) UnmarshalJSON(b []byte) error { return unmarshalElement(b, "Period", x) }

// MarshalJSON encodes the element as FHIR JSON.
func (x Quantity) MarshalJSON() ([]byte, error) { return marshalElement(&x) }

// UnmarshalJSON decodes the element from FHIR JSON.
func (x *Quantity) UnmarshalJSON(b []byte) error { return unmarshalElement(b, "Quantity", x) }

// MarshalJSON encodes the element as FHIR JSON.
func (x Range) MarshalJSON() ([]byte, error) { return marshalElement(&x) }

// UnmarshalJSON decodes the element from FHIR JSON.
func (x *Range) UnmarshalJSON(b []byte) error { return unmarshalElement(b, "Range", x) }

// MarshalJSON encodes the element as FHIR JSON.
func (x Ratio) MarshalJSON() ([]byte, error) { return marshalElement(&x) }

// UnmarshalJSON decodes the element from FHIR JSON.
func (x *Ratio) UnmarshalJSON(b []byte) error { return unmarshalElement(b, "Ratio", x) }

// MarshalJSON encodes the element as FHIR JSON.
func (x Attachment) MarshalJSON() ([]byte, error) { return marshalElement(&x) }

// UnmarshalJSON decodes the element from FHIR JSON.
func (x *Attachment) UnmarshalJSON(b []byte) error { return unmarshalElement(b, "Attachment", x) }

// MarshalJSON encodes the element as FHIR JSON.
func (x Meta) MarshalJSON() ([]byte, error) { return marshalElement(&x) }

// UnmarshalJSON decodes the element from FHIR JSON.
func (x *Meta) UnmarshalJSON(b []byte) error { return unmarshalElement(b, "Meta", x) }

// MarshalJSON encodes the element as FHIR JSON.
func (x Narrative) MarshalJSON() ([]byte, error) { return marshalElement(&x) }

// UnmarshalJSON decodes the element from FHIR JSON.
func (x *Narrative) UnmarshalJSON(b []byte) error { return unmarshalElement(b, "Narrative", x) }

// MarshalJSON encodes the element as FHIR JSON.
func (x HumanName) MarshalJSON() ([]byte, error) { return marshalElement(&x) }

// UnmarshalJSON decodes the element from FHIR JSON.
func (x *HumanName) UnmarshalJSON(b []byte) error { return unmarshalElement(b, "HumanName", x) }

// MarshalJSON encodes the element as FHIR JSON.
func (x ContactPoint) MarshalJSON() ([]byte, error) { return marshalElement(&x) }

// UnmarshalJSON decodes the element from FHIR JSON.
func (x *ContactPoint) UnmarshalJSON(b []byte) error { return unmarshalElement(b, "ContactPoint", x) }

// MarshalJSON encodes the element as FHIR JSON.
func (x Address) MarshalJSON() ([]byte, error) { return marshalElement(&x) }

// UnmarshalJSON decodes the element from FHIR JSON.
func (x *Address) UnmarshalJSON(b []byte) error { return unmarshalElement(b, "Address", x) }

// MarshalJSON encodes the element as FHIR JSON.
func (x Annotation) MarshalJSON() ([]byte, error) { return marshalElement(&x) }

// UnmarshalJSON decodes the element from FHIR JSON.
func (x *Annotation) UnmarshalJSON(b []byte) error { return unmarshalElement(b, "Annotation", x) }

// MarshalJSON encodes the element as FHIR JSON.
func (x Extension) MarshalJSON() ([]byte, error) { return marshalElement(&x) }

// UnmarshalJSON decodes the element from FHIR JSON.
func (x *Extension) UnmarshalJSON(b []byte) error { return unmarshalElement(b, "Extension", x) }

// MarshalJSON writes the decimal as its number literal.
func (d Decimal) MarshalJSON() ([]byte, error) {
	if !validNumber(string(d)) {
		return nil, &Issue{Code: CodeValue, Err: ErrValue, Message: "decimal is not a JSON number"}
	}
	return []byte(d), nil
}

// UnmarshalJSON keeps the number literal.
func (d *Decimal) UnmarshalJSON(b []byte) error {
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil || !validNumber(string(b)) {
		return &Issue{Code: CodeStructure, Err: ErrType, Message: "expected a number"}
	}
	*d = Decimal(b)
	return nil
}
