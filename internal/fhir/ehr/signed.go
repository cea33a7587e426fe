package ehr

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/fhir"
	"github.com/clinomics/clinomics/internal/outbox"
	"github.com/clinomics/clinomics/internal/report"
)

// BundleKind is the outbox kind of queued report bundles.
const BundleKind = "fhir-transaction"

// BundleItemID is the outbox id of report r's bundle for destination: one
// per report and destination, so a report is never queued twice for the
// same EHR.
func BundleItemID(reportID, destination string) string {
	h := sha256.Sum256([]byte(destination))
	return "fhir-" + reportID + "-" + hex.EncodeToString(h[:4])
}

// ReportBundle is the Genomics Reporting transaction Bundle of the signed
// report r, as JSON, with its PDF rendering when pdf is not nil.
func ReportBundle(ctx context.Context, r report.Report, opt fhir.BundleOptions, pdf func(context.Context, report.Report) ([]byte, error)) ([]byte, error) {
	if pdf != nil {
		doc, err := pdf(ctx, r)
		if err != nil {
			return nil, fmt.Errorf("fhir: rendering report %s: %w", r.ID, err)
		}
		opt.PDF = doc
	}
	b, err := fhir.GenomicReportBundle(r, opt)
	if err != nil {
		return nil, fmt.Errorf("fhir: building report %s's bundle: %w", r.ID, err)
	}
	if err := fhir.Validate(b); err != nil {
		return nil, fmt.Errorf("fhir: report %s's bundle does not validate: %w", r.ID, err)
	}
	return fhir.Marshal(b)
}

// OnSigned returns the hook for report.Options.Hooks: run inside the
// transaction that signs a report, it builds the report's bundle and puts
// it on q's destination (the EHR) through that transaction, sealed with
// q.Sealer as q.Enqueue does, so the bundle is queued if and only if the
// signing commits. It never touches the network; q.Run delivers. A
// report whose patient the bundle cannot identify (no MRN, or an MRN
// without a system: fhir.results.patient_system unset and an assigning
// authority that is no URI) is refused with a *report.FieldError, so the
// signer is told why (HTTP 400) instead of getting an internal error.
func OnSigned(q *outbox.Queue, opt fhir.BundleOptions, pdf func(context.Context, report.Report) ([]byte, error)) report.SignedHook {
	return func(ctx context.Context, tx report.Enqueuer, r report.Report) error {
		b, err := ReportBundle(ctx, r, opt, pdf)
		if err != nil {
			return bundleError(r, err)
		}
		defer clear(b)
		id := BundleItemID(r.ID, q.Destination)
		sealed, err := q.Sealer.Seal("outbox", id, b)
		if err != nil {
			return fmt.Errorf("fhir: sealing report %s's bundle: %w", r.ID, err)
		}
		if _, err := tx.PutOutbox(ctx, catalog.OutboxItem{ID: id, Destination: q.Destination, Kind: BundleKind,
			PatientID: r.Patient.ID, Sealed: sealed}); err != nil {
			return fmt.Errorf("fhir: queueing report %s's bundle: %w", r.ID, err)
		}
		return nil
	}
}

// CheckSigned returns a hook for a site without an EHR connection: it
// refuses to sign a report that cannot be written as a bundle, which our
// own FHIR API must serve, as OnSigned does; it queues nothing.
func CheckSigned(opt fhir.BundleOptions) report.SignedHook {
	return func(ctx context.Context, _ report.Enqueuer, r report.Report) error {
		_, err := ReportBundle(ctx, r, opt, nil)
		return bundleError(r, err)
	}
}

// bundleError explains a bundle that cannot be built from the report's
// data with this site's settings as a *report.FieldError, so the signer
// is told why (HTTP 400) instead of getting an internal error.
func bundleError(r report.Report, err error) error {
	if !errors.Is(err, fhir.ErrNoPatientID) {
		return err
	}
	if r.Patient.MRN == "" {
		return &report.FieldError{Field: "Patient.MRN", Problem: "required to write the report as FHIR (for the EHR and our FHIR API)"}
	}
	return &report.FieldError{Field: "Patient.Authority", Problem: "the MRN's assigning authority is neither a URI nor an OID, no URI name of it is listed in clinical.authorities, " +
		"and fhir.results.patient_system (the system of this site's MRNs) is not set, so the report cannot be written as FHIR (for the EHR and our FHIR API)"}
}
