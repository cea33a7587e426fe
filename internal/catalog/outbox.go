package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Outbox states.
const (
	OutboxPending   = "pending"
	OutboxDelivered = "delivered"
	OutboxDead      = "dead" // dead-lettered: retries exhausted or refused by the destination
)

// OutboxItem is one message waiting for (or done with) delivery.
type OutboxItem struct {
	ID          string
	Destination string
	Seq         int64 // order within the destination, set by PutOutbox
	Kind        string
	State       string
	Attempts    int
	NextAttempt time.Time
	LastError   string // public reason, no patient data
	PatientID   string
	Sealed      []byte
	Created     time.Time
	Updated     time.Time
}

const outboxCols = `id, destination, seq, kind, state, attempts, next_attempt, last_error, patient_id, sealed, created, updated`

func scanOutbox(sc scanner) (OutboxItem, error) {
	var o OutboxItem
	var next, cr, up int64
	var sealed binary
	err := sc.Scan(&o.ID, &o.Destination, &o.Seq, &o.Kind, &o.State, &o.Attempts, &next, &o.LastError, &o.PatientID, &sealed, &cr, &up)
	o.NextAttempt, o.Created, o.Updated, o.Sealed = fromNanos(next), fromNanos(cr), fromNanos(up), sealed
	return o, err
}

// PutOutbox appends a pending item at the end of its destination's queue,
// durably.
func (s *sqlStore) PutOutbox(ctx context.Context, o OutboxItem) (OutboxItem, error) {
	if o.ID == "" || o.Destination == "" {
		return o, errors.New("catalog: outbox item needs an id and a destination")
	}
	now := time.Now()
	o.State, o.Created, o.Updated = OutboxPending, now, now
	err := s.durableTx(ctx, func(tx *sql.Tx) error {
		if s.postgres {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7260523)`); err != nil {
				return err
			}
		}
		var last int64
		if err := tx.QueryRowContext(ctx, s.q(`SELECT COALESCE(MAX(seq), 0) FROM outbox WHERE destination = ?`), o.Destination).Scan(&last); err != nil {
			return err
		}
		o.Seq = last + 1
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO outbox (`+outboxCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			o.ID, o.Destination, o.Seq, o.Kind, o.State, o.Attempts, nanos(o.NextAttempt), o.LastError, o.PatientID, b64.EncodeToString(o.Sealed), nanos(o.Created), nanos(o.Updated))
		return err
	})
	if err != nil {
		return o, fmt.Errorf("catalog: outbox: %w", err)
	}
	return o, nil
}

// NextOutbox returns the oldest pending item of destination (whatever its
// next attempt time: delivery is in order), or ErrNotFound.
func (s *sqlStore) NextOutbox(ctx context.Context, destination string) (OutboxItem, error) {
	o, err := scanOutbox(s.db.QueryRowContext(ctx, s.q(`SELECT `+outboxCols+` FROM outbox WHERE destination = ? AND state = ? ORDER BY seq LIMIT 1`), destination, OutboxPending))
	return o, notFound(err, "outbox item")
}

// UpdateOutbox records an attempt: state, attempts, next attempt, error.
func (s *sqlStore) UpdateOutbox(ctx context.Context, o OutboxItem) error {
	err := s.durableTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE outbox SET state = ?, attempts = ?, next_attempt = ?, last_error = ?, updated = ? WHERE id = ?`),
			o.State, o.Attempts, nanos(o.NextAttempt), o.LastError, time.Now().UnixNano(), o.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("outbox item %q: %w", o.ID, ErrNotFound)
		}
		return nil
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("catalog: outbox: %w", err)
	}
	return err
}

// GetOutbox returns one item, or ErrNotFound.
func (s *sqlStore) GetOutbox(ctx context.Context, id string) (OutboxItem, error) {
	o, err := scanOutbox(s.db.QueryRowContext(ctx, s.q(`SELECT `+outboxCols+` FROM outbox WHERE id = ?`), id))
	return o, notFound(err, "outbox item")
}

// ListOutbox returns items of destination ("" for all) in state ("" for
// all), in queue order.
func (s *sqlStore) ListOutbox(ctx context.Context, destination, state string, limit int) ([]OutboxItem, error) {
	if limit <= 0 {
		limit = 1000
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+outboxCols+` FROM outbox WHERE (? = '' OR destination = ?) AND (? = '' OR state = ?) ORDER BY destination, seq LIMIT ?`),
		destination, destination, state, state, limit)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	var out []OutboxItem
	for rows.Next() {
		o, err := scanOutbox(rows)
		if err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
		out = append(out, o)
	}
	return out, rows.Err()
}
