// Package ehr is clinomics' client of the hospital EHR's FHIR R4 API:
// results out, orders in.
//
// Results out: Client.SendTransaction posts a transaction Bundle (the
// genomic report, built with conditional creates so a retry never
// duplicates) and classifies the answer: 2xx delivered, with the
// locations of what was created; 5xx, 429, timeouts and connection
// errors retryable; any other 4xx a refusal, with the OperationOutcome's
// text kept. Sender puts that behind the durable outbox (internal/outbox):
// a bundle queued when a report is signed is delivered in order once the
// EHR is reachable, with backoff, across restarts; a refusal is
// dead-lettered for a person (`clinomics fhir outbox`, `fhir retry`).
//
// Orders in: Puller searches the EHR for genetic ServiceRequests that are
// active, revoked or entered-in-error, updated since a watermark, follows
// the result pages, and creates or updates each active order, its patient
// and its specimen's sample id in the clinical database
// (internal/clinical), idempotently and audited. A revoked or
// entered-in-error request cancels the order we have (status "cancelled",
// as an HL7 ORC-1 CA does) and is skipped, creating nothing, when we never
// had it. The watermark (the catalog's extract_watermarks) moves forward
// only after a page's orders are committed. AcceptServiceRequest applies one
// ServiceRequest posted to our own FHIR API the same way.
//
// Every request carries a SMART Backend Services access token (package
// smart); a 401 drops the cached token and the request is tried once more
// with a new one. No request or response body, token or patient data is
// logged.
package ehr
