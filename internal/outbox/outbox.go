// Package outbox delivers messages to outside systems (HL7 ORU over MLLP
// to the EHR, FHIR bundles) through a durable store-and-forward queue:
// a message is in the catalog before Enqueue returns, sealed like all
// patient data; it is sent in order per destination, retried with
// exponential backoff while the destination is down, and dead-lettered
// (with an alert) when the destination refuses it or after MaxAttempts.
// Nothing is lost across restarts: a new Queue over the same catalog
// carries on where the last one stopped.
//
// Delivery is at least once: a message whose acknowledgment was lost is
// sent again, so receivers should drop duplicates (HL7: by MSH-10).
package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/clinomics/clinomics/internal/catalog"
)

// ErrRefused is wrapped by a Sender's error when the destination refused
// the message for good (an HL7 AR, an HTTP 4xx): it is dead-lettered
// without further attempts.
var ErrRefused = errors.New("refused by the destination")

// Sender delivers one payload; nil means the destination accepted it.
type Sender interface {
	Send(ctx context.Context, payload []byte) error
}

// Store is the part of the catalog the queue uses.
type Store interface {
	PutOutbox(ctx context.Context, o catalog.OutboxItem) (catalog.OutboxItem, error)
	NextOutbox(ctx context.Context, destination string) (catalog.OutboxItem, error)
	UpdateOutbox(ctx context.Context, o catalog.OutboxItem) error
}

// Sealer seals payloads (clinical.DB).
type Sealer interface {
	Seal(kind, id string, b []byte) ([]byte, error)
	Open(kind, id string, b []byte) ([]byte, error)
}

// Queue is one destination's queue.
type Queue struct {
	Store       Store
	Sealer      Sealer
	Destination string // a name: "ehr-oru", "fhir-ehr"
	Sender      Sender
	MaxAttempts int           // then dead-letter; default 20
	Backoff     time.Duration // first retry delay; default 1s, doubled up to MaxBackoff
	MaxBackoff  time.Duration // default 5m
	Poll        time.Duration // how often an idle queue looks for work; default 1s
	Log         *slog.Logger
	// Alert is called for each dead-lettered item (after it is recorded).
	Alert func(item catalog.OutboxItem)
	// wake, when sent to, makes an idle Run look at once (Enqueue and Wake do).
	wake chan struct{}
	once sync.Once
}

// defaults fills in the zero settings, once: Enqueue and Run may be
// called concurrently, so the fields must not change after the first use.
func (q *Queue) defaults() { q.once.Do(q.setDefaults) }

func (q *Queue) setDefaults() {
	if q.MaxAttempts <= 0 {
		q.MaxAttempts = 20
	}
	if q.Backoff <= 0 {
		q.Backoff = time.Second
	}
	if q.MaxBackoff <= 0 {
		q.MaxBackoff = 5 * time.Minute
	}
	if q.Poll <= 0 {
		q.Poll = time.Second
	}
	if q.Log == nil {
		q.Log = slog.New(slog.DiscardHandler)
	}
	if q.wake == nil {
		q.wake = make(chan struct{}, 1)
	}
}

// Wake makes an idle Run look for work at once: for items put into the
// queue through a catalog transaction (after it commits) rather than by
// Enqueue.
func (q *Queue) Wake() {
	q.defaults()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Enqueue stores payload for delivery and returns its id once it is
// durably in the queue.
func (q *Queue) Enqueue(ctx context.Context, id, kind, patientID string, payload []byte) (catalog.OutboxItem, error) {
	q.defaults()
	sealed, err := q.Sealer.Seal("outbox", id, payload)
	if err != nil {
		return catalog.OutboxItem{}, err
	}
	it, err := q.Store.PutOutbox(ctx, catalog.OutboxItem{ID: id, Destination: q.Destination, Kind: kind, PatientID: patientID, Sealed: sealed})
	if err != nil {
		return it, err
	}
	q.Wake()
	return it, nil
}

// Run delivers the queue in order until ctx ends. A message that fails
// blocks the ones behind it (order is kept) until it is delivered or
// dead-lettered.
func (q *Queue) Run(ctx context.Context) error {
	q.defaults()
	for {
		it, err := q.Store.NextOutbox(ctx, q.Destination)
		switch {
		case errors.Is(err, catalog.ErrNotFound):
			if !q.sleep(ctx, q.Poll) {
				return nil
			}
			continue
		case err != nil:
			if ctx.Err() != nil {
				return nil
			}
			q.Log.Error("outbox: reading the queue", "destination", q.Destination, "err", err.Error())
			if !q.sleep(ctx, q.Poll) {
				return nil
			}
			continue
		}
		if wait := time.Until(it.NextAttempt); wait > 0 {
			if !q.sleep(ctx, wait) {
				return nil
			}
			continue
		}
		q.attempt(ctx, it)
		if ctx.Err() != nil {
			return nil
		}
	}
}

// attempt sends one item and records the outcome.
func (q *Queue) attempt(ctx context.Context, it catalog.OutboxItem) {
	payload, err := q.Sealer.Open("outbox", it.ID, it.Sealed)
	if err != nil {
		err = fmt.Errorf("%w: the stored message does not open: %w", ErrRefused, err) // retrying cannot help
	} else {
		err = q.Sender.Send(ctx, payload)
		clear(payload)
	}
	if ctx.Err() != nil {
		return // shutting down: not an attempt
	}
	it.Attempts++
	switch {
	case err == nil:
		it.State, it.LastError = catalog.OutboxDelivered, ""
		q.Log.Info("outbox: delivered", "destination", q.Destination, "item", it.ID, "seq", it.Seq, "attempts", it.Attempts)
	case errors.Is(err, ErrRefused) || it.Attempts >= q.MaxAttempts:
		it.State, it.LastError = catalog.OutboxDead, err.Error()
	default:
		it.LastError = err.Error()
		it.NextAttempt = time.Now().Add(q.backoff(it.Attempts))
		q.Log.Warn("outbox: delivery failed; will retry", "destination", q.Destination, "item", it.ID, "attempts", it.Attempts,
			"next", it.NextAttempt.Format(time.RFC3339), "err", it.LastError)
	}
	if uerr := q.Store.UpdateOutbox(context.WithoutCancel(ctx), it); uerr != nil {
		q.Log.Error("outbox: recording the attempt", "destination", q.Destination, "item", it.ID, "err", uerr.Error())
		q.sleep(ctx, q.Poll)
		return
	}
	if it.State == catalog.OutboxDead {
		q.Log.Error("outbox: dead-lettered; delivery of the rest continues", "destination", q.Destination, "item", it.ID,
			"attempts", it.Attempts, "err", it.LastError)
		if q.Alert != nil {
			q.Alert(it)
		}
	}
}

func (q *Queue) backoff(attempts int) time.Duration {
	d := q.Backoff
	for i := 1; i < attempts && d < q.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, q.MaxBackoff)
}

func (q *Queue) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-q.wake:
		return true
	case <-t.C:
		return true
	}
}

// Retry puts a dead-lettered item back at its place in the queue.
func Retry(ctx context.Context, st interface {
	GetOutbox(ctx context.Context, id string) (catalog.OutboxItem, error)
	UpdateOutbox(ctx context.Context, o catalog.OutboxItem) error
}, id string) error {
	it, err := st.GetOutbox(ctx, id)
	if err != nil {
		return err
	}
	if it.State != catalog.OutboxDead {
		return fmt.Errorf("outbox item %s is %s, not dead-lettered", id, it.State)
	}
	it.State, it.Attempts, it.NextAttempt = catalog.OutboxPending, 0, time.Time{}
	return st.UpdateOutbox(ctx, it)
}
