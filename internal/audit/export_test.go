package audit_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/clinomics/clinomics/internal/audit"
	"github.com/clinomics/clinomics/internal/catalog"
)

// readJSONL returns the seqs in a JSON lines export, checking every line.
func readJSONL(t *testing.T, path string) []int64 {
	t.Helper()
	f, err := os.Open(path)
	must(t, err)
	defer f.Close()
	var seqs []int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r map[string]any
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %d: %v: %s", len(seqs)+1, err, sc.Bytes())
		}
		for _, k := range []string{"seq", "time", "actor", "action", "resource", "patient", "source", "outcome", "detail", "break_glass", "prev", "hash"} {
			if _, ok := r[k]; !ok {
				t.Fatalf("line %d has no %q: %s", len(seqs)+1, k, sc.Bytes())
			}
		}
		if _, err := time.Parse(time.RFC3339Nano, r["time"].(string)); err != nil {
			t.Fatalf("line %d: time: %v", len(seqs)+1, err)
		}
		seqs = append(seqs, int64(r["seq"].(float64)))
	}
	must(t, sc.Err())
	return seqs
}

func wantSeqs(t *testing.T, got []int64, from, to int64) {
	t.Helper()
	if len(got) != int(to-from+1) {
		t.Fatalf("%d records exported, want %d to %d", len(got), from, to)
	}
	for i, s := range got {
		if s != from+int64(i) {
			t.Fatalf("record %d of the export is seq %d, want %d", i, s, from+int64(i))
		}
	}
}

func TestExportJSONLinesResumes(t *testing.T) {
	s, _, _ := trail(t) // 33 records
	out := filepath.Join(t.TempDir(), "audit.jsonl")
	run := func() int64 {
		f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		must(t, err)
		x := &audit.Exporter{Store: s, Sink: audit.NewJSONLines(f), Cursor: "jsonl:" + out, Batch: 10}
		n, err := x.Run(ctx)
		must(t, err)
		must(t, f.Close())
		return n
	}
	if n := run(); n != 33 {
		t.Fatalf("first export: %d records", n)
	}
	for range 5 {
		_, err := s.AppendAudit(ctx, catalog.AuditEvent{Actor: "cli:root", Action: "key.rotate", Resource: "lake", Outcome: audit.OK})
		must(t, err)
	}
	if n := run(); n != 5 {
		t.Fatalf("second export: %d records, want the 5 new ones", n)
	}
	if n := run(); n != 0 {
		t.Fatalf("third export: %d records, want none", n)
	}
	wantSeqs(t, readJSONL(t, out), 1, 38)
}

// failingSink delivers to a JSON lines file except while down.
type failingSink struct {
	*audit.JSONLines
	down  func(call int) bool
	calls int
}

func (f *failingSink) Send(ctx context.Context, evs []catalog.AuditEvent) error {
	f.calls++
	if f.down(f.calls) {
		return errors.New("receiver unreachable")
	}
	return f.JSONLines.Send(ctx, evs)
}

func TestExportOutage(t *testing.T) {
	s, _, _ := trail(t) // 33 records
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	f, err := os.Create(path)
	must(t, err)
	defer f.Close()

	// Without --follow: the receiver goes down after the first batch and
	// stays down; the run gives up and the cursor stays at what was sent.
	sink := &failingSink{JSONLines: audit.NewJSONLines(f), down: func(call int) bool { return call > 1 }}
	x := &audit.Exporter{Store: s, Sink: sink, Cursor: "c", Batch: 10, Retries: 2, Backoff: time.Millisecond}
	n, err := x.Run(ctx)
	if err == nil || n != 10 {
		t.Fatalf("export into an outage: %d records, %v", n, err)
	}
	if c, _ := s.GetAuditCursor(ctx, "c"); c != 10 {
		t.Fatalf("cursor %d after the outage, want 10", c)
	}
	// Following: the receiver comes back after a few failures; the export
	// carries on from the cursor without a gap.
	sink.calls, sink.down = 0, func(call int) bool { return call <= 3 }
	x.Follow, x.Poll = true, 5*time.Millisecond
	fctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { _, err := x.Run(fctx); done <- err }()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if c, _ := s.GetAuditCursor(ctx, "c"); c == 33 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("export did not catch up after the receiver came back")
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("follow ended with %v", err)
	}
	wantSeqs(t, readJSONL(t, path), 1, 33)
}
