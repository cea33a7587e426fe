package app

import (
	"log/slog"

	"github.com/clinomics/clinomics/internal/audit"
	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/clinical"
	"github.com/clinomics/clinomics/internal/report"
)

// NewReports builds the clinical report workflow over the catalog: the
// content sealed under the clinical database's key, its audit records
// covered by alog's checkpoints. opts.Hooks run in each signing
// transaction (the FHIR and HL7 outboxes enqueue there); opts.Notify after
// it commits.
func NewReports(st catalog.Store, db *clinical.DB, alog *audit.Log, log *slog.Logger, opts report.Options) *report.Store {
	opts.Log = log
	if opts.Complete == nil {
		opts.Complete = CompleteDraft(db)
	}
	if alog != nil {
		opts.Audit = alog
	}
	return report.NewStore(st, db, opts)
}
