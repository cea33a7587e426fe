package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/clinical"
	"github.com/clinomics/clinomics/internal/keys"
	"github.com/clinomics/clinomics/internal/outbox"
)

func init() { keys.DefaultKDF.MemoryKiB = 8 * 1024 }

// destination records what it accepted; fail decides each attempt's fate.
type destination struct {
	mu       sync.Mutex
	got      []string
	attempts int
	fail     func(payload string, attempt int) error
}

func (d *destination) Send(_ context.Context, p []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.attempts++
	if d.fail != nil {
		if err := d.fail(string(p), d.attempts); err != nil {
			return err
		}
	}
	d.got = append(d.got, string(p))
	return nil
}

func (d *destination) received() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.got)
}

func setup(t *testing.T) (catalog.Store, *clinical.DB) {
	t.Helper()
	dir := t.TempDir()
	st, err := catalog.Open(context.Background(), filepath.Join(dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	kr, err := keys.OpenLocal(filepath.Join(dir, "keyring"), "t")
	if err != nil {
		t.Fatal(err)
	}
	db, err := clinical.Open(context.Background(), st, kr)
	if err != nil {
		t.Fatal(err)
	}
	return st, db
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestInOrderWithRetriesAndRestart(t *testing.T) {
	st, db := setup(t)
	ctx := context.Background()
	down := &destination{fail: func(string, int) error { return errors.New("connection refused") }}
	q := &outbox.Queue{Store: st, Sealer: db, Destination: "ehr", Sender: down, Backoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, Poll: time.Millisecond}
	for i := range 5 {
		if _, err := q.Enqueue(ctx, fmt.Sprintf("m%d", i), "hl7", "p1", []byte(fmt.Sprintf("payload %d", i))); err != nil {
			t.Fatal(err)
		}
	}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { q.Run(rctx); close(done) }()
	waitFor(t, "several failed attempts", func() bool { down.mu.Lock(); defer down.mu.Unlock(); return down.attempts >= 4 })
	stop()
	<-done
	if it, _ := st.NextOutbox(ctx, "ehr"); it.ID != "m0" || it.Attempts < 3 || it.LastError != "connection refused" {
		t.Fatalf("head of the queue while down: %+v", it)
	}
	// A new process: the destination is back and flaky for two more tries.
	up := &destination{fail: func(_ string, n int) error {
		if n <= 2 {
			return errors.New("timeout")
		}
		return nil
	}}
	q2 := &outbox.Queue{Store: st, Sealer: db, Destination: "ehr", Sender: up, Backoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, Poll: time.Millisecond}
	rctx, stop = context.WithCancel(ctx)
	defer stop()
	go q2.Run(rctx)
	waitFor(t, "all five delivered", func() bool { return len(up.received()) == 5 })
	want := []string{"payload 0", "payload 1", "payload 2", "payload 3", "payload 4"}
	if got := up.received(); !slices.Equal(got, want) {
		t.Fatalf("delivered %q, want %q", got, want)
	}
	if l, _ := st.ListOutbox(ctx, "ehr", catalog.OutboxDelivered, 10); len(l) != 5 {
		t.Fatalf("%d delivered in the catalog", len(l))
	}
}

func TestRefusedAndExhaustedAreDeadLettered(t *testing.T) {
	st, db := setup(t)
	ctx := context.Background()
	dest := &destination{fail: func(p string, _ int) error {
		switch p {
		case "bad":
			return fmt.Errorf("%w: AR (unknown patient)", outbox.ErrRefused)
		case "flaky":
			return errors.New("timeout")
		}
		return nil
	}}
	var alerts []string
	var mu sync.Mutex
	q := &outbox.Queue{Store: st, Sealer: db, Destination: "lis", Sender: dest, MaxAttempts: 3, Backoff: time.Millisecond, Poll: time.Millisecond,
		Alert: func(it catalog.OutboxItem) { mu.Lock(); alerts = append(alerts, it.ID); mu.Unlock() }}
	for _, p := range []string{"bad", "flaky", "good"} {
		if _, err := q.Enqueue(ctx, "id-"+p, "hl7", "", []byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	go q.Run(rctx)
	waitFor(t, "the good message", func() bool { return len(dest.received()) == 1 })
	dead, _ := st.ListOutbox(ctx, "lis", catalog.OutboxDead, 10)
	if len(dead) != 2 || dead[0].ID != "id-bad" || dead[0].Attempts != 1 || dead[1].ID != "id-flaky" || dead[1].Attempts != 3 {
		t.Fatalf("dead letters: %+v", dead)
	}
	mu.Lock()
	if !slices.Equal(alerts, []string{"id-bad", "id-flaky"}) {
		t.Errorf("alerts %v", alerts)
	}
	mu.Unlock()
	// A fixed dead letter can be sent again.
	dest.mu.Lock()
	dest.fail = nil
	dest.mu.Unlock()
	if err := outbox.Retry(ctx, st, "id-flaky"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the retried message", func() bool { return len(dest.received()) == 2 })
	if err := outbox.Retry(ctx, st, "id-good"); err == nil {
		t.Error("retried a delivered message")
	}
}
