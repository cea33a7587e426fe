package report

import (
	"context"
	"slices"
	"time"

	"github.com/clinomics/clinomics/internal/catalog"
)

// Enqueuer is what a SignedHook may do inside the signing transaction:
// queue a delivery in the durable outbox (catalog.ReportTx.PutOutbox).
type Enqueuer interface {
	PutOutbox(ctx context.Context, o catalog.OutboxItem) (catalog.OutboxItem, error)
}

// SignedHook is run for each report signed, inside the transaction that
// signs it, before the commit: the FHIR outbox and the HL7 ORU sender
// build their message from r, seal it, and queue it with q.
//
// This is the design that never loses a delivery: the report becomes
// signed if and only if its deliveries are queued, because both commit
// together (there is no moment when a crash leaves a signed report with
// nothing queued, and no "after commit" callback to miss). A hook that
// fails fails the signing (the report stays reviewed, and the caller sees
// the error): a hook must therefore only enqueue — build, seal, PutOutbox
// — and never talk to the network; the outbox's sender delivers later,
// retrying until the destination takes it or dead-letters it.
//
// A hook must not keep r or q after it returns. Items it queues carry the
// pseudonymous patient id and sealed payloads only.
type SignedHook func(ctx context.Context, q Enqueuer, r Report) error

// SignedSince returns the reports signed after t (those since superseded
// too), by signing time, opened, each amendment with the report it
// amends (Amended). It is for catching up on what hooks did
// not see: a destination configured after reports were signed, or a
// re-delivery after an outage of the receiver. Hooks that run in the
// signing transaction need no catch-up after a crash of the server.
func (s *Store) SignedSince(ctx context.Context, t time.Time) ([]Report, error) {
	rows, err := s.cat.ListReports(ctx, catalog.ReportFilter{SignedAfter: t, Limit: 10000})
	if err != nil {
		return nil, catalogErr(err)
	}
	slices.SortStableFunc(rows, func(a, b catalog.ReportRow) int { return a.Signed.Compare(b.Signed) })
	out := make([]Report, 0, len(rows))
	for _, row := range rows {
		r, err := s.open(row)
		if err != nil {
			return nil, err
		}
		if r.Amends != "" {
			orow, err := s.cat.GetReport(ctx, r.Amends)
			if err != nil {
				return nil, catalogErr(err)
			}
			orig, err := s.open(orow)
			if err != nil {
				return nil, err
			}
			orig.Status = Signed // as it was signed (it is superseded now)
			r.Amended = &orig
		}
		out = append(out, r)
	}
	return out, nil
}
