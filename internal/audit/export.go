package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"syscall"
	"time"

	"github.com/clinomics/clinomics/internal/catalog"
)

// Sink is an export destination.
type Sink interface {
	// Send delivers evs in order. nil means all were delivered as far as
	// the transport can tell; after an error any of them may or may not
	// have been, and the next Send starts again (reconnecting if needed).
	Send(ctx context.Context, evs []catalog.AuditEvent) error
	Close() error
}

// CursorStore is the part of the catalog an Exporter reads and keeps its place in.
type CursorStore interface {
	// ListAudit returns up to limit records after seq afterSeq, in order.
	ListAudit(ctx context.Context, afterSeq int64, limit int) ([]catalog.AuditEvent, error)
	// GetAuditCursor returns the last seq delivered to name; 0 when none.
	GetAuditCursor(ctx context.Context, name string) (int64, error)
	// PutAuditCursor records that name has every record up to seq.
	PutAuditCursor(ctx context.Context, name string, seq int64) error
}

// Exporter copies the trail to a Sink, at least once and in order.
type Exporter struct {
	Store CursorStore
	Sink  Sink
	// Cursor names the destination whose position is kept in the
	// catalog ("syslog:siem.example:6514"): the export starts after the
	// last record delivered there and advances only past what Send
	// delivered. Empty: start after After and keep no position.
	Cursor string
	After  int64
	// Batch is the records per Send (500).
	Batch int
	// Follow keeps exporting new records until ctx ends; Poll is how
	// often it looks for them (1s).
	Follow bool
	Poll   time.Duration
	// Retries is how many failed Sends in a row a run without Follow
	// tolerates before it returns the error (5); with Follow, it retries
	// for as long as ctx lasts. Backoff is the first wait (1s), doubled
	// after each failure up to 30 times that.
	Retries int
	Backoff time.Duration
	Log     *slog.Logger
}

// Run exports until everything is delivered (or, with Follow, until ctx
// ends) and returns how many records it delivered.
func (x *Exporter) Run(ctx context.Context) (int64, error) {
	batch, poll, backoff, retries := x.Batch, x.Poll, x.Backoff, x.Retries
	if batch <= 0 {
		batch = 500
	}
	if poll <= 0 {
		poll = time.Second
	}
	if backoff <= 0 {
		backoff = time.Second
	}
	if retries <= 0 {
		retries = 5
	}
	log := x.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	pos := x.After
	if x.Cursor != "" {
		var err error
		if pos, err = x.Store.GetAuditCursor(ctx, x.Cursor); err != nil {
			return 0, err
		}
	}
	var sent int64
	fails, wait := 0, backoff
	for {
		evs, err := x.Store.ListAudit(ctx, pos, batch)
		if err != nil {
			return sent, err
		}
		if len(evs) == 0 {
			if !x.Follow {
				return sent, nil
			}
			if err := sleep(ctx, poll); err != nil {
				return sent, err
			}
			continue
		}
		if err := x.Sink.Send(ctx, evs); err != nil {
			fails++
			if ctx.Err() != nil {
				return sent, ctx.Err()
			}
			if !x.Follow && fails > retries {
				return sent, fmt.Errorf("audit export: %d attempts failed; records after seq %d are not exported: %w", fails, pos, err)
			}
			log.Warn("audit export: send failed; retrying", "after_seq", pos, "attempt", fails, "wait", wait.String(), "err", err.Error())
			if err := sleep(ctx, wait); err != nil {
				return sent, err
			}
			wait = min(2*wait, 30*backoff)
			continue
		}
		fails, wait = 0, backoff
		pos = evs[len(evs)-1].Seq
		sent += int64(len(evs))
		if x.Cursor != "" {
			if err := x.Store.PutAuditCursor(ctx, x.Cursor, pos); err != nil {
				return sent, fmt.Errorf("audit export: records up to %d were sent but the cursor was not saved (they will be sent again): %w", pos, err)
			}
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// jsonRecord is one line of the JSON lines export.
type jsonRecord struct {
	Seq        int64  `json:"seq"`
	Time       string `json:"time"`
	Actor      string `json:"actor"`
	Action     string `json:"action"`
	Resource   string `json:"resource"`
	Patient    string `json:"patient"`
	Source     string `json:"source"`
	Outcome    string `json:"outcome"`
	Detail     string `json:"detail"`
	BreakGlass string `json:"break_glass"`
	Prev       string `json:"prev"`
	Hash       string `json:"hash"`
}

func toJSON(e catalog.AuditEvent) jsonRecord {
	return jsonRecord{e.Seq, e.Time.UTC().Format(time.RFC3339Nano), e.Actor, e.Action, e.Resource, e.Patient, e.Source,
		e.Outcome, e.Detail, e.BreakGlass, e.Prev, e.Hash}
}

// JSONLines writes each record as one JSON object on a line. After each
// Send the output is synced when it is a file, so a cursor never runs
// ahead of what is on disk; a regular file a write failed on is cut back
// to where the batch began, so no torn line is left.
type JSONLines struct {
	w io.Writer
}

// NewJSONLines returns a sink writing to w.
func NewJSONLines(w io.Writer) *JSONLines { return &JSONLines{w: w} }

func (j *JSONLines) Send(_ context.Context, evs []catalog.AuditEvent) error {
	var buf []byte
	for _, e := range evs {
		b, err := json.Marshal(toJSON(e))
		if err != nil {
			return err
		}
		buf = append(append(buf, b...), '\n')
	}
	f, isFile := j.w.(*os.File)
	var size int64 = -1
	if isFile {
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			size = st.Size()
		}
	}
	if _, err := j.w.Write(buf); err != nil {
		if size >= 0 {
			f.Truncate(size) // no torn line before the batch is written again
		}
		return fmt.Errorf("audit export: %w", err)
	}
	if isFile {
		// A pipe or terminal cannot be synced; that is not a failure.
		if err := f.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOTSUP) {
			return fmt.Errorf("audit export: %w", err)
		}
	}
	return nil
}

// Close closes the writer when it is a Closer.
func (j *JSONLines) Close() error {
	if c, ok := j.w.(io.Closer); ok {
		return c.Close()
	}
	return nil
}
