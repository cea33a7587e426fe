package app

import (
	"context"
	"log/slog"

	"github.com/clinomics/clinomics/internal/audit"
	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/clinical"
	"github.com/clinomics/clinomics/internal/keys"
	"github.com/clinomics/clinomics/internal/report"
)

// OpenReports builds the clinical report workflow over the catalog: the
// content sealed under the clinical data key (wrapped by kp), its audit
// records covered by alog's checkpoints. opts.Hooks run in each signing
// transaction (the FHIR and HL7 outboxes enqueue there); opts.Notify after
// it commits.
func OpenReports(ctx context.Context, st catalog.Store, kp keys.Provider, alog *audit.Log, log *slog.Logger, opts report.Options) (*report.Store, error) {
	db, err := clinical.Open(ctx, st, kp)
	if err != nil {
		return nil, err
	}
	opts.Log = log
	if opts.Complete == nil {
		opts.Complete = CompleteDraft(db)
	}
	if alog != nil {
		opts.Audit = alog
	}
	return report.NewStore(st, db, opts), nil
}
