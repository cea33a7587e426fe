// Package fhir is the HL7 FHIR R4 of clinomics: the resources the platform
// reads and writes (Patient, ServiceRequest, Specimen, DiagnosticReport,
// Observation, Bundle, Provenance, DocumentReference, Task,
// OperationOutcome, CapabilityStatement) and their datatypes, written here
// because no FHIR library for Go is available; their JSON form; structural
// and profile validation; and the HL7 Genomics Reporting bundle built from
// a signed clinical report.
//
// JSON. Parse reads any resource, choosing the type by resourceType (a type
// not modelled here becomes a RawResource); Marshal writes it back. Typed
// fields cover what the platform uses; every other member, primitive
// extensions ("_birthDate") included, is kept in the element's Extra and
// written back, and decimals keep their literal text (Decimal), so a
// resource from an EHR round-trips to the same JSON tree.
//
// Errors. Parse and Validate return *Issue or Issues, errors that carry an
// IssueType code, a FHIRPath-like location
// ("Observation.component[2].valueQuantity.value") and, for JSON syntax,
// the byte offset, line and column; OperationOutcome (or OutcomeOf for any
// error) turns them into the OperationOutcome a FHIR client expects.
// Messages name elements and types, never content: no patient data.
//
// Genomics. GenomicReportBundle maps a report.Report onto a transaction
// Bundle that follows the Genomics Reporting IG STU3 (see genomics.go):
// deterministic fullUrls and conditional creates, so that sending the
// same report twice creates nothing new.
package fhir
