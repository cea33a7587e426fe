package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/hl7/mllp"
)

const hl7Shared = "../../../shared/data/hl7v2"

// hl7Server starts `clinomics serve` with an MLLP listener (and the
// configuration lines extra); it returns a func that kills the server
// with SIGKILL.
func hl7Server(t *testing.T, s *sandbox, mllpAddr string, extra ...string) func() {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "site.yaml")
	if err := os.WriteFile(cfg, []byte("hl7:\n  listen: "+mllpAddr+"\n"+strings.Join(extra, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	s.login(t)
	cmd := exec.Command(binary, "serve", "--listen", freePort(t))
	cmd.Env = append(append([]string{}, s.env...), "CLINOMICS_CONFIG="+cfg)
	logf, _ := os.OpenFile(filepath.Join(s.data, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	kill := func() { cmd.Process.Signal(syscall.SIGKILL); cmd.Wait(); logf.Close() }
	c := &mllp.Client{Addr: mllpAddr, Timeout: time.Second}
	defer c.Close()
	for range 100 {
		if _, err := c.Send(context.Background(), []byte("MSH|^~\\&|PING|X|||20260101||ADT^A01|ping|P|2.5\rPID|1||PING^^^X")); err == nil {
			return kill
		}
		time.Sleep(100 * time.Millisecond)
	}
	kill()
	log, _ := os.ReadFile(filepath.Join(s.data, "server.log"))
	t.Fatalf("MLLP listener did not start:\n%s", log)
	return nil
}

// TestHL7FeedErrorQueueAndReprocess sends the shared real messages with
// `clinomics hl7 send`, then fixes one from the error queue.
func TestHL7FeedErrorQueueAndReprocess(t *testing.T) {
	needTools(t)
	s := newSandbox(t, t.TempDir())
	addr := freePort(t)
	kill := hl7Server(t, s, addr)
	defer kill()
	files := []string{hl7Shared + "/hapi-hl7v2/ADT_A01.txt", hl7Shared + "/hapi-hl7v2/example_oml_o21.hl7", hl7Shared + "/efferent-hl7-dotnetcore/Sample-ORM.txt"}
	bad := filepath.Join(t.TempDir(), "no_pid3.hl7")
	os.WriteFile(bad, []byte("MSH|^~\\&|EPIC|HOSP|CLINOMICS|LAB|20260301080000||ADT^A01^ADT_A01|NOPID3|P|2.5.1\rPID|1||||Quill^Zora||19700101|F\r"), 0o600)
	stdout, stderr, code := s.run(nil, append([]string{"hl7", "send", "--to", addr}, append(files, bad)...)...)
	if code != 3 || !strings.Contains(stdout, "\tAA\t") || !strings.Contains(stdout, "no_pid3.hl7 #1\tAE") {
		t.Fatalf("hl7 send: exit %d\n%s\n%s", code, stdout, stderr)
	}
	// Sent again: the same ACKs, nothing stored twice.
	again, _, _ := s.run(nil, append([]string{"hl7", "send", "--to", addr}, files[0])...)
	if first := strings.SplitN(stdout, "\n", 2)[0]; strings.Fields(again)[1] != strings.Fields(first)[1] {
		t.Errorf("duplicate answered %q, first %q", again, first)
	}
	kill()
	errs, _, _ := s.run(nil, "hl7", "errors", "--json")
	if !strings.Contains(errs, "NOPID3") || !strings.Contains(errs, "PID-3") || strings.Contains(errs, "Quill") {
		t.Fatalf("hl7 errors:\n%s", errs)
	}
	id := errs[strings.Index(errs, `"ID": "`)+7:]
	id = id[:strings.Index(id, `"`)]
	fixed := filepath.Join(t.TempDir(), "fixed.hl7")
	os.WriteFile(fixed, []byte("MSH|^~\\&|EPIC|HOSP|CLINOMICS|LAB|20260301080000||ADT^A01^ADT_A01|NOPID3|P|2.5.1\rPID|1||MRN77^^^HOSP^MR||Quill^Zora||19700101|F\r"), 0o600)
	if out, e, code := s.run(nil, "hl7", "reprocess", id); code != 3 || !strings.Contains(e, "still not applied") {
		t.Fatalf("reprocess as stored: %d %s %s", code, out, e)
	}
	if out, e, code := s.run(nil, "hl7", "reprocess", id, "--file", fixed); code != 0 || !strings.Contains(out, "processed") {
		t.Fatalf("reprocess fixed: %d %s %s", code, out, e)
	}
	if errs, _, _ := s.run(nil, "hl7", "errors"); strings.Contains(errs, "NOPID3") {
		t.Fatalf("fixed message still in the error queue:\n%s", errs)
	}
	if out, e, code := s.run(nil, "audit", "verify"); code != 0 {
		t.Fatalf("audit verify: %s %s", out, e)
	}
}

// TestServeWatchesExtracts: `serve` loads the files that arrive in an
// extract.watch folder and moves them to done/.
func TestServeWatchesExtracts(t *testing.T) {
	needTools(t)
	s := newSandbox(t, t.TempDir())
	dir := t.TempDir()
	mapping, err := filepath.Abs("../extract/testdata/clarity_patients.yaml")
	if err != nil {
		t.Fatal(err)
	}
	kill := hl7Server(t, s, freePort(t), "extract:\n  interval: 200ms\n  watch:\n    - dir: "+dir+"\n      mapping: "+mapping+"\n      pattern: 'PATIENTS_*.txt'\n")
	defer kill()
	// A second server on the same data directory is refused at once
	// (it would re-key the clinical database under the running one).
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	second := exec.CommandContext(ctx, binary, "serve", "--listen", freePort(t))
	second.Env = s.env
	if out, err := second.CombinedOutput(); err == nil || ctx.Err() != nil || !strings.Contains(string(out), "another `clinomics serve`") {
		t.Fatalf("a second serve: %v\n%s", err, out)
	}
	b, err := os.ReadFile("../extract/testdata/clarity_patients.txt")
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(dir, "PATIENTS_20250101.txt")
	os.WriteFile(f, b, 0o600)
	old := time.Now().Add(-time.Minute)
	os.Chtimes(f, old, old)
	for range 100 {
		if _, err := os.Stat(filepath.Join(dir, "done", "PATIENTS_20250101.txt")); err == nil {
			kill()
			// Loaded: a second load of the same rows skips them all.
			out, e, _ := s.run(nil, "extract", "load", "--mapping", mapping, "--rejects", t.TempDir(), filepath.Join(dir, "done", "PATIENTS_20250101.txt"))
			if !strings.Contains(out, " 0 loaded") || !strings.Contains(out, "skipped") {
				t.Fatalf("after the watch: %s %s", out, e)
			}
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	log, _ := os.ReadFile(filepath.Join(s.data, "server.log"))
	t.Fatalf("serve did not load the extract:\n%s", log)
}

// TestHL7CrashLosesNothing streams messages from 4 connections while the
// server is killed with SIGKILL; after a restart every message that was
// acknowledged is in the database exactly once, and the senders' resends
// of the unacknowledged ones complete the set.
func TestHL7CrashLosesNothing(t *testing.T) {
	needTools(t)
	s := newSandbox(t, t.TempDir())
	addr := freePort(t)
	kill := hl7Server(t, s, addr)
	const conns, perConn = 4, 1500
	var mu sync.Mutex
	acked := map[string]bool{}
	var wg sync.WaitGroup
	stream := func(k int, untilFail bool) {
		defer wg.Done()
		c := &mllp.Client{Addr: addr, Timeout: 5 * time.Second}
		defer c.Close()
		for i := range perConn {
			ctl := fmt.Sprintf("K%d-%05d", k, i)
			mu.Lock()
			done := acked[ctl]
			mu.Unlock()
			if done {
				continue
			}
			when := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second).Format("20060102150405") // a valid MSH-7
			msg := fmt.Sprintf("MSH|^~\\&|EPIC|HOSP|CLINOMICS|LAB|%s||ADT^A08^ADT_A01|%s|P|2.5.1\rPID|1||M%d-%d^^^HOSP^MR||Name%d||19700101|F", when, ctl, k, i%50, i)
			ack, err := c.Send(context.Background(), []byte(msg))
			if err != nil {
				if untilFail {
					return
				}
				t.Errorf("%s after the restart: %v", ctl, err)
				return
			}
			if strings.Contains(string(ack), "MSA|AA|"+ctl) {
				mu.Lock()
				acked[ctl] = true
				mu.Unlock()
			}
		}
	}
	for k := range conns {
		wg.Add(1)
		go stream(k, true)
	}
	// Kill the server while the messages flow.
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= conns*perConn/4 {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	kill()
	wg.Wait()
	mu.Lock()
	before := len(acked)
	ackedBefore := make(map[string]bool, len(acked))
	for k := range acked {
		ackedBefore[k] = true
	}
	mu.Unlock()
	t.Logf("%d messages acknowledged before the kill", before)

	store, err := catalog.Open(context.Background(), filepath.Join(s.data, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]int{}
	ms, err := store.ListHL7Messages(context.Background(), "processed", 1_000_000)
	store.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		stored[m.ControlID]++
	}
	for ctl := range ackedBefore {
		if stored[ctl] != 1 {
			t.Fatalf("%s was acknowledged but is stored %d times after the crash", ctl, stored[ctl])
		}
	}
	// Restart; the senders send what was not acknowledged.
	kill = hl7Server(t, s, addr)
	defer kill()
	for k := range conns {
		wg.Add(1)
		go stream(k, false)
	}
	wg.Wait()
	kill()
	store, err = catalog.Open(context.Background(), filepath.Join(s.data, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ms, _ = store.ListHL7Messages(context.Background(), "processed", 1_000_000)
	count := map[string]int{}
	for _, m := range ms {
		if strings.HasPrefix(m.ControlID, "K") {
			count[m.ControlID]++
		}
	}
	if len(count) != conns*perConn {
		t.Fatalf("%d distinct messages stored, want %d", len(count), conns*perConn)
	}
	for ctl, n := range count {
		if n != 1 {
			t.Fatalf("%s stored %d times", ctl, n)
		}
	}
}

// TestExtractLoad loads a Clarity-style extract with its mapping: rows in,
// bad rows to the reject file (mode 0600), the load audited, a rerun a no-op.
func TestExtractLoad(t *testing.T) {
	needTools(t)
	s := newSandbox(t, t.TempDir())
	dir := t.TempDir()
	for _, f := range []string{"clarity_patients.yaml", "clarity_patients.txt"} {
		b, err := os.ReadFile("../extract/testdata/" + f)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, f), b, 0o600)
	}
	file := filepath.Join(dir, "clarity_patients.txt")
	if _, errs, code := s.run(nil, "extract", "load", "--batch-size", "0", "--mapping", filepath.Join(dir, "clarity_patients.yaml"), file); code != 2 || !strings.Contains(errs, "--batch-size") {
		t.Fatalf("batch size 0: %d %s", code, errs)
	}
	// Batches of two rows: the patient given twice in the file is in two
	// batches, so both rows are loaded (the newer stands) instead of the
	// older being superseded inside one batch.
	out, errs, code := s.run(nil, "extract", "load", "--batch-size", "2", "--mapping", filepath.Join(dir, "clarity_patients.yaml"), file)
	if code != 3 || !strings.Contains(out, "6 loaded, 0 superseded") || !strings.Contains(errs, "3 rows rejected") {
		t.Fatalf("extract load: %d\n%s\n%s", code, out, errs)
	}
	rejects, _ := filepath.Glob(file + ".*Z.rejects.csv")
	if len(rejects) != 1 {
		t.Fatalf("reject files: %v", rejects)
	}
	if st, err := os.Stat(rejects[0]); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("reject file: %v %v", st, err)
	}
	out, _, _ = s.run(nil, "extract", "load", "--mapping", filepath.Join(dir, "clarity_patients.yaml"), file)
	if !strings.Contains(out, "0 loaded") {
		t.Fatalf("second load: %s", out)
	}
	if trail, _, _ := s.run(nil, "audit", "export", "--jsonl", "-"); strings.Count(trail, "extract.load") != 2 {
		t.Fatalf("loads not audited:\n%s", trail)
	}
}

// TestOutboundFeedToANodeReceiver queues three results while the
// destination (npm simple-hl7, a third-party MLLP server) is down; the
// server retries; once the receiver is up they arrive in order, and the
// queue shows them delivered.
func TestOutboundFeedToANodeReceiver(t *testing.T) {
	needTools(t)
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is needed (scripts/install-deps test installs it)")
	}
	if _, err := os.Stat("../../scripts/node/node_modules/simple-hl7"); err != nil {
		t.Fatal("scripts/node/node_modules is not installed (scripts/test runs npm ci)")
	}
	s := newSandbox(t, t.TempDir())
	dest := freePort(t)
	_, destPort, _ := strings.Cut(dest, ":")
	cfg := filepath.Join(t.TempDir(), "site.yaml")
	os.WriteFile(cfg, []byte("hl7:\n  outbound:\n    address: "+dest+"\n    backoff: 100ms\n    max_backoff: 300ms\n"), 0o644)
	s.env = append(s.env, "CLINOMICS_CONFIG="+cfg)
	msgs := filepath.Join(t.TempDir(), "oru.hl7")
	var b strings.Builder
	for i := 1; i <= 3; i++ {
		fmt.Fprintf(&b, "MSH|^~\\&|CLINOMICS|LAB|EPIC|HOSP|2026031009000%d||ORU^R01^ORU_R01|OUT-%d|P|2.5.1\rPID|1||MRN100^^^HOSP^MR\rOBR|1|PO-77^EPIC|F-1^LIS|81247-9^panel^LN\rOBX|1|ST|48004-6^c.HGVS^LN|1|NM_000059.4:c.5946del||||||F\r\n", i, i)
	}
	os.WriteFile(msgs, []byte(b.String()), 0o600)
	if out, e, code := s.run(nil, "hl7", "queue", msgs); code != 0 || strings.Count(out, "queued as") != 3 {
		t.Fatalf("hl7 queue: %d %s %s", code, out, e)
	}
	_, stop := startServer(t, s)
	defer stop()
	time.Sleep(time.Second) // a few failed attempts while the receiver is down
	if out, _, _ := s.run(nil, "hl7", "outbox", "--state", "pending"); strings.Count(out, "pending") != 3 || !strings.Contains(out, "connection refused") {
		t.Fatalf("outbox while the receiver is down:\n%s", out)
	}
	recv := exec.Command(node, "../../scripts/node/hl7-listen.mjs", "--impl", "simple-hl7", "--port", destPort)
	stdout, _ := recv.StdoutPipe()
	if err := recv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { recv.Process.Kill(); recv.Wait() }()
	var got []string
	dec := json.NewDecoder(stdout)
	deadline := time.Now().Add(30 * time.Second)
	for len(got) < 3 && time.Now().Before(deadline) {
		var line struct {
			Listening int    `json:"listening"`
			ControlID string `json:"control_id"`
		}
		if err := dec.Decode(&line); err != nil {
			t.Fatalf("receiver output: %v", err)
		}
		if line.ControlID != "" {
			got = append(got, line.ControlID)
		}
	}
	if strings.Join(got, ",") != "OUT-1,OUT-2,OUT-3" {
		t.Fatalf("received %v, want OUT-1..3 in order", got)
	}
	for time.Now().Before(deadline) {
		if out, _, _ := s.run(nil, "hl7", "outbox", "--state", "delivered"); strings.Count(out, "delivered") == 3 {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	out, _, _ := s.run(nil, "hl7", "outbox")
	t.Fatalf("not recorded as delivered:\n%s", out)
}
