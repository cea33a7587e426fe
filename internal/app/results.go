package app

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/clinomics/clinomics/internal/config"
	"github.com/clinomics/clinomics/internal/fhir"
	"github.com/clinomics/clinomics/internal/fhir/ehr"
	"github.com/clinomics/clinomics/internal/hl7"
	"github.com/clinomics/clinomics/internal/hl7/oru"
	"github.com/clinomics/clinomics/internal/outbox"
	"github.com/clinomics/clinomics/internal/report"
)

// ReportPDF renders r as PDF: what goes with a report to the EHR.
func ReportPDF(_ context.Context, r report.Report) ([]byte, error) {
	var b bytes.Buffer
	if err := report.PDF(&b, r); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// BundleOptions are fhir.results' choices for the Bundle of a signed report.
func BundleOptions(cfg *config.Config) fhir.BundleOptions {
	r := cfg.FHIR.Results
	return fhir.BundleOptions{IdentifierSystem: r.IdentifierSystem, PatientSystem: r.PatientSystem,
		AuthoritySystems: authoritySystems(cfg.Clinical.Authorities),
		PDFAsDocument:    r.PDF == "document", PDFTitle: "Genetic analysis report"}
}

// SystemAliases are the identifier systems our FHIR API searches as
// another: each other name of an authority in clinical.authorities that
// is a URI (an OID as urn:oid:) searched as the system its patients'
// identifiers are written with (authoritySystems). None when
// fhir.results.patient_system names one system for every MRN.
func SystemAliases(cfg *config.Config) map[string]string {
	if cfg.FHIR.Results.PatientSystem != "" {
		return nil
	}
	out := map[string]string{}
	for n, sys := range authoritySystems(cfg.Clinical.Authorities) {
		if fhir.IsURI(n) {
			out[n] = sys
		}
	}
	return out
}

// authoritySystems maps each name of an authority in clinical.authorities
// (and an OID name's urn:oid: form) to the FHIR system its patients'
// identifiers are written with: the first of its names that is a URI or
// an OID (as urn:oid:), in the order listed, the authority's own name
// first. The system itself is left out. A report whose MRN authority is
// any of these names is written under that system, and a search under
// any of them finds it (SystemAliases).
func authoritySystems(names map[string][]string) map[string]string {
	out := map[string]string{}
	for canon, others := range names {
		all := append([]string{canon}, others...)
		sys := ""
		for _, n := range all {
			n = strings.TrimSpace(n)
			if fhir.IsURI(n) {
				sys = n
				break
			}
			if fhir.IsOID(n) {
				sys = "urn:oid:" + n
				break
			}
		}
		if sys == "" {
			continue
		}
		for _, n := range all {
			n = strings.TrimSpace(n)
			forms := []string{n}
			if fhir.IsOID(n) {
				forms = append(forms, "urn:oid:"+n)
			}
			for _, f := range forms {
				if f != sys {
					out[f] = sys
				}
			}
		}
	}
	return out
}

// ResultHooks are the report-signing hooks of the configured result
// destinations: the ORU^R01 on the HL7 outbound feed (hl7q, nil when there
// is none) and the Genomics Reporting Bundle for the EHR (ehrq, nil when
// there is none). Each queues in the signing transaction (report.SignedHook).
// Without an EHR, a hook still refuses a report that cannot be written as
// a bundle, since our own FHIR API serves every signed report.
func ResultHooks(cfg *config.Config, hl7q, ehrq *outbox.Queue) []report.SignedHook {
	var hooks []report.SignedHook
	if hl7q != nil {
		o := cfg.HL7.Outbound
		opt := oru.Options{SendingApp: hl7.HD{Namespace: o.SendingApplication}, SendingFacility: hl7.HD{Namespace: o.SendingFacility},
			ReceivingApp: hl7.HD{Namespace: o.ReceivingApplication}, ReceivingFacility: hl7.HD{Namespace: o.ReceivingFacility}}
		var pdf func(context.Context, report.Report) ([]byte, error)
		if o.SendPDF {
			pdf = ReportPDF
		}
		hooks = append(hooks, oru.OnSigned(hl7q, opt, pdf))
	}
	if ehrq != nil {
		var pdf func(context.Context, report.Report) ([]byte, error)
		if cfg.FHIR.Results.PDF != "none" {
			pdf = ReportPDF
		}
		hooks = append(hooks, ehr.OnSigned(ehrq, BundleOptions(cfg), pdf))
	} else {
		// Our own FHIR API serves every signed report: one that cannot be
		// written as a bundle is not signed (the publisher would stall on it).
		hooks = append(hooks, ehr.CheckSigned(BundleOptions(cfg)))
	}
	return hooks
}

// ReportPublisher puts the Bundle of each signed report into the
// platform's own FHIR store, so that our FHIR API serves it. It works
// from a watermark (the signing time of the last report it put, kept in
// the catalog), so it catches up at start on reports signed while it was
// not running, and after a failure to store it retries from the same
// report. A report that cannot be written as a bundle at all is logged and
// passed over (signing refuses those, see ResultHooks). Notify (report.Options.Notify) wakes it after each
// signing; it also looks every Every.
type ReportPublisher struct {
	Reports *report.Store
	FHIR    *FHIRStore
	Options fhir.BundleOptions
	Every   time.Duration // default 1 minute
	Log     *slog.Logger

	wake chan struct{}
}

// publisherWatermark names the publisher's watermark in the catalog.
const publisherWatermark = "fhir-api:signed-reports"

// NewReportPublisher returns a publisher of reports' Bundles into f.
func NewReportPublisher(reports *report.Store, f *FHIRStore, opt fhir.BundleOptions, log *slog.Logger) *ReportPublisher {
	return &ReportPublisher{Reports: reports, FHIR: f, Options: opt, Every: time.Minute, Log: log, wake: make(chan struct{}, 1)}
}

// Notify wakes the publisher; it never blocks.
func (p *ReportPublisher) Notify(report.Report) {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Run publishes until ctx ends.
func (p *ReportPublisher) Run(ctx context.Context) {
	t := time.NewTicker(p.Every)
	defer t.Stop()
	for {
		if err := p.CatchUp(ctx); err != nil && ctx.Err() == nil {
			p.Log.Error("publishing signed reports to the FHIR API", "err", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-p.wake:
		case <-t.C:
		}
	}
}

// CatchUp puts every report signed after the watermark, in signing
// order, moving the watermark after each; it reads them a page at a time
// until none is left.
func (p *ReportPublisher) CatchUp(ctx context.Context) error {
	since, err := p.FHIR.db.Watermark(ctx, publisherWatermark)
	if err != nil {
		return err
	}
	for {
		reports, err := p.Reports.SignedSince(ctx, since)
		if err != nil {
			return err
		}
		moved := false
		for _, r := range reports {
			at := signedAt(r)
			if !at.After(since) {
				continue
			}
			b, err := ehr.ReportBundle(ctx, r, p.Options, nil)
			if err != nil {
				// Deterministic: retrying cannot help, and waiting would keep
				// every later report from the API. Signing refuses such
				// reports (ehr.CheckSigned); this is one signed before.
				p.Log.Error("a signed report cannot be written as FHIR; it is not in the FHIR API", "report", r.ID, "err", err.Error())
			} else if err := p.FHIR.PutBundle(ctx, b, r.Patient.ID); err != nil {
				return fmt.Errorf("report %s: %w", r.ID, err)
			}
			if err := p.FHIR.db.PutWatermark(ctx, publisherWatermark, at); err != nil {
				return err
			}
			since, moved = at, true
		}
		if !moved {
			return nil
		}
	}
}

// signedAt is when r was signed.
func signedAt(r report.Report) time.Time {
	var t time.Time
	for _, s := range r.Review {
		if s.Action == string(report.ActSign) {
			t = s.At
		}
	}
	return t
}
