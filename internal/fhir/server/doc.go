// Package server is a FHIR R4 REST server over a Store: read, search
// (identifier, patient/subject, category, status, code, _id, _lastUpdated,
// _count with paging, _include), the CapabilityStatement, and, in writable
// mode, create, update and transaction Bundles with conditional create.
//
// It serves two ways: as the platform's own read-only FHIR API (mounted by
// httpapi behind its guard, over the sealed catalog store), and writable,
// as the EHR stand-in the tests send reports to (package standin, over the
// journaled in-memory store).
//
// Search works over index tokens the server derives from each resource
// (index.go): "param=value" strings a store matches for equality only, so a
// store can keep them as keyed hashes and never hold an identifier value.
// Paging is by offset within a snapshot: the first page fixes the highest
// store sequence number it saw, and later pages see only resources created
// up to it, so pages do not shift under concurrent inserts. The cursor in a
// next link is opaque to clients.
//
// Every error is an OperationOutcome with a public message; causes are
// only logged, never sent.
package server
