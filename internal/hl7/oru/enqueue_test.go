package oru

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/clinical"
	"github.com/clinomics/clinomics/internal/hl7"
	"github.com/clinomics/clinomics/internal/hl7/mllp"
	"github.com/clinomics/clinomics/internal/hl7/outbound"
	"github.com/clinomics/clinomics/internal/keys"
	"github.com/clinomics/clinomics/internal/outbox"
	"github.com/clinomics/clinomics/internal/report"

	"github.com/clinomics/clinomics/internal/testtools"
)

func init() { keys.DefaultKDF.MemoryKiB = 8 * 1024 }

// queueTo opens a catalog and clinical database in a temp dir and makes
// the HL7 outbound queue to addr, as `clinomics serve` does; run starts
// its delivery, until the test ends. (Queue.Enqueue and the start of
// Queue.Run race on the queue's defaults, so the tests enqueue first.)
func queueTo(t *testing.T, addr string) (q *outbox.Queue, st catalog.Store, run func()) {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	st, err := catalog.Open(ctx, filepath.Join(dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	kr, err := keys.OpenLocal(filepath.Join(dir, "keyring"), "t")
	if err != nil {
		t.Fatal(err)
	}
	db, err := clinical.Open(ctx, st, kr)
	if err != nil {
		t.Fatal(err)
	}
	client := &mllp.Client{Addr: addr, Timeout: 10 * time.Second}
	q = &outbox.Queue{Store: st, Sealer: db, Destination: "hl7:" + addr, Sender: &outbound.Sender{Client: client},
		Backoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, Poll: 20 * time.Millisecond}
	run = func() {
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { q.Run(runCtx); close(done) }()
		t.Cleanup(func() { cancel(); <-done; client.Close() })
	}
	return q, st, run
}

// delivered waits until the outbox records the report's message as
// delivered.
func delivered(t *testing.T, st catalog.Store, q *outbox.Queue, r report.Report) {
	t.Helper()
	id := ItemID(r, q.Destination)
	var it catalog.OutboxItem
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var err error
		if it, err = st.GetOutbox(context.Background(), id); err == nil && it.State == catalog.OutboxDelivered {
			if it.PatientID != r.Patient.ID || it.Kind != Kind {
				t.Errorf("outbox item %+v", it)
			}
			return
		}
	}
	t.Fatalf("not delivered: %+v", it)
}

// checkReceived parses what the receiver got and checks it is r's ORU.
func checkReceived(t *testing.T, raw []byte, r report.Report) {
	t.Helper()
	m, err := hl7.Parse(raw)
	if err != nil {
		t.Fatalf("the received message does not parse: %v", err)
	}
	want, err := ORU(r, Options{ControlID: "x", Time: signedAt})
	if err != nil {
		t.Fatal(err)
	}
	if m.Type().String() != "ORU^R01^ORU_R01" || m.Get("PID-3") != r.Patient.MRN || len(m.All("OBX")) != len(want.All("OBX")) {
		t.Errorf("received %v with %d OBX, want %d", m, len(m.All("OBX")), len(want.All("OBX")))
	}
	if got := m.All("NTE")[0].Field(3).Text(); got != nastyComment {
		t.Errorf("the comment arrived as %q", got)
	}
}

// TestDeliveredToOwnListener: the signed report's ORU, queued by
// Enqueue, reaches the project's own MLLP listener and is acknowledged.
func TestDeliveredToOwnListener(t *testing.T) {
	var mu sync.Mutex
	var got [][]byte
	srv := &mllp.Server{Handler: mllp.HandlerFunc(func(_ context.Context, _ mllp.Peer, msg []byte) []byte {
		m, err := hl7.Parse(msg)
		if err != nil {
			return hl7.AckUnparsed(msg, err, time.Now(), "ACK1").Bytes()
		}
		mu.Lock()
		got = append(got, append([]byte(nil), msg...))
		mu.Unlock()
		return hl7.Ack(m, hl7.AA, nil, time.Now(), "ACK1").Bytes()
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	q, st, run := queueTo(t, ln.Addr().String())
	r := threeVariants()
	if err := Enqueue(context.Background(), q, r, testOptions()); err != nil {
		t.Fatal(err)
	}
	run()
	delivered(t, st, q, r)
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 {
		t.Fatalf("%d messages received", len(got))
	}
	checkReceived(t, got[0], r)
	if err := Enqueue(context.Background(), q, r, testOptions()); err == nil {
		t.Error("the same report was queued twice")
	}
}

// TestOnSignedHook: the hook queues the ORU inside the signing
// transaction; it is delivered once the transaction commits, and not at
// all when it rolls back.
func TestOnSignedHook(t *testing.T) {
	srv := &mllp.Server{Handler: mllp.HandlerFunc(func(_ context.Context, _ mllp.Peer, msg []byte) []byte {
		m, _ := hl7.Parse(msg)
		return hl7.Ack(m, hl7.AA, nil, time.Now(), "ACK1").Bytes()
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	q, st, run := queueTo(t, ln.Addr().String())
	run()
	pdf := func(context.Context, report.Report) ([]byte, error) { return []byte("%PDF-1.7 test"), nil }
	hook := OnSigned(q, testOptions(), pdf)
	ctx := context.Background()

	rolledBack := amendedReport()
	err = st.InReportTx(ctx, func(tx catalog.ReportTx) error {
		if err := hook(ctx, tx, rolledBack); err != nil {
			return err
		}
		return context.Canceled // the signing failed after the hook
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	r := threeVariants()
	if err := st.InReportTx(ctx, func(tx catalog.ReportTx) error { return hook(ctx, tx, r) }); err != nil {
		t.Fatal(err)
	}
	delivered(t, st, q, r)
	if _, err := st.GetOutbox(ctx, ItemID(rolledBack, q.Destination)); err == nil {
		t.Error("a rolled-back signing left its message in the outbox")
	}
}

// TestDeliveredToNPMReceivers: the ORU, queued by Enqueue, is delivered
// to the npm MLLP servers the project tests against (simple-hl7 and
// node-hl7-server, run by scripts/node/hl7-listen.mjs), which read it
// and acknowledge it with AA.
func TestDeliveredToNPMReceivers(t *testing.T) {
	node := testtools.Node(t, "simple-hl7", "node-hl7-server")
	for _, impl := range []string{"simple-hl7", "node-hl7-server"} {
		t.Run(impl, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			cmd := exec.CommandContext(ctx, node, filepath.Join(testtools.NodeDir(), "hl7-listen.mjs"), "--impl", impl, "--port", "0")
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cancel(); cmd.Wait() })
			lines := make(chan map[string]any, 16)
			go func() {
				sc := bufio.NewScanner(stdout)
				sc.Buffer(nil, 4<<20)
				for sc.Scan() {
					var l map[string]any
					if json.Unmarshal(sc.Bytes(), &l) == nil {
						lines <- l
					}
				}
				close(lines)
			}()
			next := func() map[string]any {
				select {
				case l, ok := <-lines:
					if !ok {
						t.Fatal("hl7-listen.mjs exited")
					}
					return l
				case <-time.After(30 * time.Second):
					t.Fatal("hl7-listen.mjs said nothing")
				}
				return nil
			}
			port, _ := next()["listening"].(float64)
			q, st, run := queueTo(t, "127.0.0.1:"+strconv.Itoa(int(port)))
			r := threeVariants()
			opt := testOptions()
			if err := Enqueue(context.Background(), q, r, opt); err != nil {
				t.Fatal(err)
			}
			run()
			l := next()
			if l["control_id"] != opt.ControlID {
				t.Errorf("%s received control id %v, want %s", impl, l["control_id"], opt.ControlID)
			}
			msg, _ := l["message"].(string)
			checkReceived(t, []byte(msg), r)
			delivered(t, st, q, r)
		})
	}
}
