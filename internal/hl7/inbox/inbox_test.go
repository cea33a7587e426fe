package inbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinomics/clinomics/internal/audit"
	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/clinical"
	"github.com/clinomics/clinomics/internal/hl7"
	"github.com/clinomics/clinomics/internal/hl7/inbox"
	"github.com/clinomics/clinomics/internal/keys"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func init() { keys.DefaultKDF.MemoryKiB = 8 * 1024 }

const shared = "../../../../shared/data/hl7v2"

type fixture struct {
	in *inbox.Inbox
	db *clinical.DB
	st catalog.Store
}

func newFixture(t *testing.T, opts ...clinical.Option) fixture {
	t.Helper()
	dir := t.TempDir()
	st, err := catalog.Open(context.Background(), filepath.Join(dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	kr, err := keys.OpenLocal(filepath.Join(dir, "keyring"), "t")
	if err != nil {
		t.Fatal(err)
	}
	db, err := clinical.Open(context.Background(), st, kr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	alog, err := audit.Open(context.Background(), st, kr, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	in := &inbox.Inbox{DB: db, Audit: alog}
	in.Start()
	t.Cleanup(func() { in.Close(); alog.Close(); st.Close() })
	return fixture{in, db, st}
}

// TestSharedMessages: every message of the shared HL7 data, the malformed
// fuzzer finds included, is stored and acknowledged or rejected with a
// positioned reason; the outcomes are in testdata/shared.golden.
func TestSharedMessages(t *testing.T) {
	f := newFixture(t)
	var files []string
	filepath.WalkDir(shared, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasSuffix(p, ".vcf") && !strings.HasSuffix(p, ".bed") && !strings.HasSuffix(p, ".py") &&
			!strings.Contains(p, "LICENSE") && !strings.HasSuffix(p, "RENAMED.txt") && !strings.Contains(p, "annotations") {
			files = append(files, p)
		}
		return nil
	})
	sort.Strings(files)
	var golden bytes.Buffer
	counts := map[string]int{}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for i, raw := range hl7.SplitFile(b) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			ack, err := f.in.Receive(ctx, "test", raw)
			cancel()
			if err != nil {
				t.Fatalf("%s #%d: not stored: %v", file, i+1, err)
			}
			am, perr := hl7.Parse(ack)
			if perr != nil {
				t.Fatalf("%s #%d: our ACK does not parse: %v\n%q", file, i+1, perr, ack)
			}
			code := am.Get("MSA-1")
			reason := am.Get("ERR-8")
			if code != "AA" && code != "CA" && reason == "" {
				t.Errorf("%s #%d: %s without a reason", file, i+1, code)
			}
			counts[code]++
			fmt.Fprintf(&golden, "%s #%d: %s %s\n", strings.TrimPrefix(file, shared+"/"), i+1, code, reason)
		}
	}
	t.Logf("ACK codes over %d files: %v", len(files), counts)
	checkGolden(t, "shared.golden", golden.Bytes())
	if counts["AA"]+counts["CA"] < 10 {
		t.Errorf("only %d messages accepted", counts["AA"]+counts["CA"])
	}
}

var idPattern = regexp.MustCompile(`"[per][0-9a-f]{20}"|"o[0-9a-f]{20}"`)

// records dumps what the clinical database holds for the patient with
// identifier mrn at authority, without the random ids.
func records(t *testing.T, f fixture, ids ...clinical.Identifier) []byte {
	t.Helper()
	pid, err := f.db.FindPatient(context.Background(), ids)
	if err != nil {
		t.Fatalf("patient %v: %v", ids, err)
	}
	p, encs, ords, ress, err := f.db.Records(context.Background(), pid)
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(encs, func(i, j int) bool { return encs[i].VisitNumber < encs[j].VisitNumber })
	sort.Slice(ords, func(i, j int) bool { return ords[i].PlacerNumber < ords[j].PlacerNumber })
	sort.Slice(ress, func(i, j int) bool { return ress[i].SetID+ress[i].Code < ress[j].SetID+ress[j].Code })
	b, _ := json.MarshalIndent(map[string]any{"patient": p, "encounters": encs, "orders": ords, "results": ress}, "", "  ")
	return idPattern.ReplaceAll(b, []byte(`"ID"`))
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (rerun with -update if intended):\n%s", name, got)
	}
}

func receive(t *testing.T, f fixture, raw string) *hl7.Message {
	t.Helper()
	ack, err := f.in.Receive(context.Background(), "test", []byte(strings.ReplaceAll(raw, "\n", "\r")))
	if err != nil {
		t.Fatal(err)
	}
	m, err := hl7.Parse(ack)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

const (
	a01 = "MSH|^~\\&|EPIC|HOSP|CLINOMICS|LAB|20260301080000||ADT^A01^ADT_A01|C1|P|2.5.1\n" +
		"EVN|A01|20260301080000\n" +
		"PID|1||MRN100^^^HOSP^MR~999-00-1000^^^SSA^SS||Quill^Zora^M||19700101|F\n" +
		"PV1|1|I|W1^101^A||||||||||||||||V500^^^HOSP^VN|||||||||||||||||||||||||20260301075500\n"
	a08old = "MSH|^~\\&|EPIC|HOSP|CLINOMICS|LAB|20260228080000||ADT^A08^ADT_A01|C0|P|2.5.1\n" +
		"PID|1||MRN100^^^HOSP^MR||Stale^Name||19700101|F\n"
	a03 = "MSH|^~\\&|EPIC|HOSP|CLINOMICS|LAB|20260302120000||ADT^A03^ADT_A03|C2|P|2.5.1\n" +
		"PID|1||MRN100^^^HOSP^MR||Quill^Zora^M||19700101|F\n" +
		"PV1|1|I|W1^101^A||||||||||||||||V500^^^HOSP^VN|||||||||||||||||||||||||20260301075500|20260302115000\n"
	oml = "MSH|^~\\&|EPIC|HOSP|CLINOMICS|LAB|20260302130000||OML^O21^OML_O21|C3|P|2.5.1|||AL|AL\n" +
		"PID|1||MRN100^^^HOSP^MR||Quill^Zora^M||19700101|F\n" +
		"ORC|NW|PO-77^EPIC|||||||20260302130000|||1234^Ordering^Doc\n" +
		"OBR|1|PO-77^EPIC||81247-9^Master HL7 genetic variant reporting panel^LN|||20260302130000\n" +
		"SPM|1|SMP-9001&EPIC||BLD^Whole blood^HL70487\n"
	oru = "MSH|^~\\&|LIS|LAB|EPIC|HOSP|20260310090000||ORU^R01^ORU_R01|C4|P|2.5.1\n" +
		"PID|1||MRN100^^^HOSP^MR||Quill^Zora^M||19700101|F\n" +
		"OBR|1|PO-77^EPIC|F-1^LIS|81247-9^Master HL7 genetic variant reporting panel^LN|||20260309000000||||||||||||||20260310085900|||F\n" +
		"OBX|1|CWE|48018-6^Gene studied^LN|1|HGNC:1101^BRCA2^HGNC||||||F\n" +
		"OBX|2|ST|48004-6^DNA change c.HGVS^LN|1|NM_000059.4:c.5946del||||||F\n" +
		"OBX|3|NM|81258-6^Sample variant allelic frequency^LN|1|0.48|1^relative frequency^UCUM|0.3-0.7|N~A|||F\n"
	a40 = "MSH|^~\\&|EPIC|HOSP|CLINOMICS|LAB|20260311090000||ADT^A40^ADT_A39|C5|P|2.5.1\n" +
		"PID|1||MRN100^^^HOSP^MR||Quill^Zora^M||19700101|F\n" +
		"MRG|TMP-42^^^HOSP^MR\n"
	tmp = "MSH|^~\\&|EPIC|HOSP|CLINOMICS|LAB|20260305090000||ADT^A04^ADT_A01|C6|P|2.5.1\n" +
		"PID|1||TMP-42^^^HOSP^MR||Unknown^Trauma||19700101|F\n" +
		"PV1|1|E|ED||||||||||||||||V600^^^HOSP^VN\n"
)

// TestMapping runs a patient's story through the inbox and checks the
// clinical database against testdata/story.golden: admission, an older
// update that must not win, discharge, a genetic test order with its
// specimen, its result, and the merge of a temporary trauma registration.
func TestMapping(t *testing.T) {
	f := newFixture(t)
	for i, raw := range []string{a01, a08old, a03, tmp, oml, oru, a40} {
		m := receive(t, f, raw)
		if code := m.Get("MSA-1"); code != "AA" && code != "CA" {
			t.Fatalf("message %d: %s %s", i+1, code, m.Get("ERR-8"))
		}
	}
	got := records(t, f, clinical.Identifier{Value: "MRN100", Authority: "HOSP", Type: "MR"})
	checkGolden(t, "story.golden", got)
	// The genetic order is linked to its sample: ingest files the FASTQ under this patient.
	pid, _ := f.db.FindPatient(context.Background(), []clinical.Identifier{{Value: "TMP-42", Authority: "HOSP", Type: "MR"}})
	if got, err := f.st.PatientOfSample(context.Background(), "SMP-9001"); err != nil || got != pid {
		t.Fatalf("patient of sample SMP-9001: %s %v, want %s", got, err, pid)
	}
}

func TestDuplicatesGetTheFirstACK(t *testing.T) {
	f := newFixture(t)
	first := receive(t, f, a01)
	again := receive(t, f, a01)
	if first.String() != again.String() {
		t.Fatalf("duplicate answered differently:\n%s\n%s", first, again)
	}
	ms, _ := f.st.ListHL7Messages(context.Background(), "", 10)
	if len(ms) != 1 {
		t.Fatalf("%d messages stored, want 1", len(ms))
	}
}

func TestErrorQueueAndReprocess(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	bad := strings.Replace(a01, "MRN100^^^HOSP^MR~999-00-1000^^^SSA^SS", "", 1)
	m := receive(t, f, bad)
	if m.Get("MSA-1") != "AE" || !strings.Contains(m.Get("ERR-2"), "PID") || m.Get("ERR-3.1") != "101" {
		t.Fatalf("missing PID-3: %s", m)
	}
	unsupported := strings.Replace(a01, "ADT^A01^ADT_A01", "ADT^A31^ADT_A05", 1)
	if m := receive(t, f, strings.Replace(unsupported, "|C1|", "|C9|", 1)); m.Get("MSA-1") != "AR" || m.Get("ERR-3.1") != "201" {
		t.Fatalf("unsupported event: %s", m)
	}
	if m := receive(t, f, "garbage\nnot HL7 at all"); m.Get("MSA-1") != "AR" {
		t.Fatalf("garbage: %s", m)
	}
	errs, _ := f.st.ListHL7Messages(ctx, inbox.StateError, 10)
	rej, _ := f.st.ListHL7Messages(ctx, inbox.StateRejected, 10)
	if len(errs) != 1 || len(rej) != 2 || !strings.Contains(errs[0].Error, "PID-3") {
		t.Fatalf("error queue %+v, rejected %+v", errs, rej)
	}
	// Reprocessing the stored body fails the same way; a fixed copy goes in.
	if state, why, err := f.in.Reprocess(ctx, f.st, errs[0].ID, nil, "cli:test"); err != nil || state != inbox.StateError || why == "" {
		t.Fatalf("reprocess as is: %s %q %v", state, why, err)
	}
	if state, why, err := f.in.Reprocess(ctx, f.st, errs[0].ID, []byte(strings.ReplaceAll(a01, "\n", "\r")), "cli:test"); err != nil || state != inbox.StateProcessed {
		t.Fatalf("reprocess fixed: %s %q %v", state, why, err)
	}
	if _, err := f.db.FindPatient(ctx, []clinical.Identifier{{Value: "MRN100", Authority: "HOSP", Type: "MR"}}); err != nil {
		t.Fatal("the fixed message did not create the patient")
	}
}

// TestManyConnectionsKeepOrder sends each patient's updates from its own
// goroutine (as one connection would) while others send theirs: the last
// update of each patient is the one that stands.
func TestManyConnectionsKeepOrder(t *testing.T) {
	f := newFixture(t)
	var wg sync.WaitGroup
	for c := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 30 {
				raw := fmt.Sprintf("MSH|^~\\&|EPIC|HOSP|CLINOMICS|LAB|202603010800%02d||ADT^A08^ADT_A01|C%d-%d|P|2.5.1\rPID|1||M%d^^^HOSP^MR||Name%d^Given||19700101|F",
					i, c, i, c, i)
				ack, err := f.in.Receive(context.Background(), "test", []byte(raw))
				if err != nil || !bytes.Contains(ack, []byte("MSA|AA")) {
					t.Errorf("connection %d message %d: %v %s", c, i, err, ack)
					return
				}
			}
		}()
	}
	wg.Wait()
	for c := range 16 {
		pid, err := f.db.FindPatient(context.Background(), []clinical.Identifier{{Value: fmt.Sprintf("M%d", c), Authority: "HOSP", Type: "MR"}})
		if err != nil {
			t.Fatal(err)
		}
		p, _, _, _, _ := f.db.Records(context.Background(), pid)
		if p.Family != "Name29" {
			t.Errorf("patient %d: family %q, want the last update's", c, p.Family)
		}
	}
}

// TestBadMessagesAmongGoodOnes: groups are first run without a savepoint
// per message; one that cannot be applied sends its group round again
// with savepoints. Every sender's messages, good and bad, arriving in the
// same groups, come out as they would alone: AA and applied, or AE and in
// the error queue with nothing of them applied.
func TestBadMessagesAmongGoodOnes(t *testing.T) {
	f := newFixture(t)
	// Patient X: a bad message names its sender's patient and X, two
	// patients, and is refused after the first one's lookups.
	receive(t, f, "MSH|^~\\&|EPIC|HOSP|CLINOMICS|LAB|20260301070000||ADT^A04^ADT_A01|X0|P|2.5.1\rPID|1||X^^^HOSP^MR||Other^Person||19700101|F")
	const senders, each = 8, 20
	bad := func(c, i int) bool { return c%2 == 1 && i%3 == 1 }
	var wg sync.WaitGroup
	for c := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				pid := fmt.Sprintf("M%d^^^HOSP^MR", c)
				if bad(c, i) {
					pid += "~X^^^HOSP^MR"
				}
				raw := fmt.Sprintf("MSH|^~\\&|EPIC|HOSP|CLINOMICS|LAB|202603010800%02d||ADT^A08^ADT_A01|G%d-%d|P|2.5.1\rPID|1||%s||Name%d^Given||19700101|F",
					i, c, i, pid, i)
				ack, err := f.in.Receive(context.Background(), "test", []byte(raw))
				want := "MSA|AA"
				if bad(c, i) {
					want = "MSA|AE"
				}
				if err != nil || !bytes.Contains(ack, []byte(want)) {
					t.Errorf("sender %d message %d: want %s, got %v %q", c, i, want, err, ack)
					return
				}
			}
		}()
	}
	wg.Wait()
	errs, err := f.st.ListHL7Messages(context.Background(), inbox.StateError, 0)
	if err != nil {
		t.Fatal(err)
	}
	wantErrs, last := 0, make([]int, senders)
	for c := range senders {
		for i := range each {
			if bad(c, i) {
				wantErrs++
			} else {
				last[c] = i
			}
		}
	}
	if len(errs) != wantErrs {
		t.Fatalf("%d messages in the error queue, want %d", len(errs), wantErrs)
	}
	all, _ := f.st.ListHL7Messages(context.Background(), "", 0)
	if len(all) != senders*each+1 {
		t.Fatalf("%d messages stored, want %d", len(all), senders*each+1)
	}
	for c := range senders {
		pid, err := f.db.FindPatient(context.Background(), []clinical.Identifier{{Value: fmt.Sprintf("M%d", c), Authority: "HOSP", Type: "MR"}})
		if err != nil {
			t.Fatal(err)
		}
		p, _, _, _, _ := f.db.Records(context.Background(), pid)
		if p.Family != fmt.Sprintf("Name%d", last[c]) || len(p.Identifiers) != 1 {
			t.Errorf("patient %d: %+v, want the last good update's name and one identifier", c, p)
		}
	}
}

// TestDuplicatesInOneGroup: copies of a message sent at once (so that
// they share a group, whose duplicate check is one lookup and whose
// messages are written together at its end) are stored once and all get
// the first copy's ACK, an accepted one's and a failed one's alike.
func TestDuplicatesInOneGroup(t *testing.T) {
	f := newFixture(t)
	receive(t, f, "MSH|^~\\&|EPIC|HOSP|CLINOMICS|LAB|20260301070000||ADT^A04^ADT_A01|X0|P|2.5.1\rPID|1||X^^^HOSP^MR||Other^Person||19700101|F")
	receive(t, f, "MSH|^~\\&|EPIC|HOSP|CLINOMICS|LAB|20260301070000||ADT^A04^ADT_A01|Y0|P|2.5.1\rPID|1||Y^^^HOSP^MR||Third^Person||19700101|F")
	good := "MSH|^~\\&|EPIC|HOSP|CLINOMICS|LAB|20260301080000||ADT^A01^ADT_A01|D1|P|2.5.1\rPID|1||D^^^HOSP^MR||Dup^Licate||19700101|F"
	bad := "MSH|^~\\&|EPIC|HOSP|CLINOMICS|LAB|20260301080000||ADT^A08^ADT_A01|D2|P|2.5.1\rPID|1||Y^^^HOSP^MR~X^^^HOSP^MR||Two^People||19700101|F"
	const copies = 12
	acks := make([][]byte, 2*copies)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range acks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			raw := good
			if i%2 == 1 {
				raw = bad
			}
			<-start
			ack, err := f.in.Receive(context.Background(), "test", []byte(raw))
			if err != nil {
				t.Error(err)
			}
			acks[i] = ack
		}()
	}
	close(start)
	wg.Wait()
	for i := range acks {
		want := "MSA|AA"
		if i%2 == 1 {
			want = "MSA|AE"
		}
		if !bytes.Contains(acks[i], []byte(want)) || !bytes.Equal(acks[i], acks[i%2]) {
			t.Fatalf("copy %d answered %q, want %s and the first copy's ACK %q", i, acks[i], want, acks[i%2])
		}
	}
	all, err := f.st.ListHL7Messages(context.Background(), "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 4 {
		t.Fatalf("%d messages stored, want 4 (X0, Y0, D1, D2)", len(all))
	}
	errs, _ := f.st.ListHL7Messages(context.Background(), inbox.StateError, 0)
	if len(errs) != 1 || errs[0].ControlID != "D2" || !bytes.Equal(errs[0].Ack, acks[1]) {
		t.Fatalf("error queue: %+v", errs)
	}
}
