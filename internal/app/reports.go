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
// records covered by alog's checkpoints. hooks run in each signing
// transaction (the FHIR and HL7 outboxes enqueue there).
func OpenReports(ctx context.Context, st catalog.Store, kp keys.Provider, alog *audit.Log, log *slog.Logger, hooks ...report.SignedHook) (*report.Store, error) {
	db, err := clinical.Open(ctx, st, kp)
	if err != nil {
		return nil, err
	}
	opts := report.Options{Hooks: hooks, Log: log}
	if alog != nil {
		opts.Audit = alog
	}
	return report.NewStore(st, db, opts), nil
}
