package ehr

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/clinical"
	"github.com/clinomics/clinomics/internal/fhir"
	"github.com/clinomics/clinomics/internal/keys"
	"github.com/clinomics/clinomics/internal/outbox"
)

func init() { keys.DefaultKDF.MemoryKiB = 8 * 1024 } // fast tests

// world is a catalog, a keyring and the clinical database over them, in
// a directory that outlives a reopen.
type world struct {
	dir string
	st  catalog.Store
	db  *clinical.DB
}

func openWorld(t *testing.T, dir string) *world {
	t.Helper()
	st, err := catalog.Open(context.Background(), filepath.Join(dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	kr, err := keys.OpenLocal(filepath.Join(dir, "keyring"), "test")
	if err != nil {
		t.Fatal(err)
	}
	db, err := clinical.Open(context.Background(), st, kr)
	if err != nil {
		t.Fatal(err)
	}
	return &world{dir, st, db}
}

// countingTokens is a TokenSource double: token-N, renewed on Invalidate.
type countingTokens struct {
	mu     sync.Mutex
	n      int
	cached string
}

func (c *countingTokens) Token(context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cached == "" {
		c.n++
		c.cached = fmt.Sprintf("token-%d", c.n)
	}
	return c.cached, nil
}

func (c *countingTokens) Invalidate(tok string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cached == tok {
		c.cached = ""
	}
}

func bundle(id string) []byte {
	return []byte(fmt.Sprintf(`{"resourceType":"Bundle","type":"transaction","identifier":{"value":%q},"entry":[
{"fullUrl":"urn:uuid:1","resource":{"resourceType":"DiagnosticReport"},"request":{"method":"POST","url":"DiagnosticReport","ifNoneExist":"identifier=urn:clinomics|%s"}},
{"fullUrl":"urn:uuid:2","resource":{"resourceType":"Observation"},"request":{"method":"POST","url":"Observation","ifNoneExist":"identifier=urn:clinomics|%s-1"}}]}`, id, id, id))
}

func TestSendTransactionClassification(t *testing.T) {
	f := newFakeEHR(t)
	c := &Client{Base: f.base(), Tokens: &countingTokens{}, Timeout: 300 * time.Millisecond}
	cases := []struct {
		status    int
		delay     time.Duration
		ok        bool
		retryable bool
		outcome   string
	}{
		{0, 0, true, false, ""}, // 200 transaction-response
		{201, 0, true, false, ""},
		{400, 0, false, false, "error invalid at Bundle.entry[0].resource.subject"}, // the free text is not kept
		{422, 0, false, false, "error invalid"},
		{404, 0, false, false, ""},
		{500, 0, false, true, ""},
		{503, 0, false, true, ""},
		{429, 0, false, true, ""},
		{0, time.Second, false, true, ""}, // timeout
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%d/%v", tc.status, tc.delay), func(t *testing.T) {
			f.mu.Lock()
			f.status, f.delay = tc.status, tc.delay
			f.mu.Unlock()
			res, err := c.SendTransaction(context.Background(), bundle("r1"))
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var de *DeliveryError
			if !errors.As(err, &de) {
				t.Fatalf("error %T %v (result %+v)", err, err, res)
			}
			if de.Retryable != tc.retryable || !strings.Contains(de.Outcome, tc.outcome) {
				t.Fatalf("retryable %v, outcome %q: %v", de.Retryable, de.Outcome, err)
			}
		})
	}
	f.mu.Lock()
	f.status, f.delay = 0, 0
	f.mu.Unlock()
	res, err := c.SendTransaction(context.Background(), bundle("r2"))
	if err != nil || len(res.Locations) != 2 || res.Entries[0].Status != "201 Created" {
		t.Fatalf("delivered: %+v, %v", res, err)
	}
	before := len(f.created)
	// Sent again, the conditional creates match: nothing is duplicated.
	res, err = c.SendTransaction(context.Background(), bundle("r2"))
	if err != nil || res.Entries[0].Status != "200 OK" || len(f.created) != before {
		t.Fatalf("resent: %+v, %v; %d resources", res, err, len(f.created))
	}
	// Connection refused is retryable.
	dead := &Client{Base: "http://127.0.0.1:1/fhir"}
	_, err = dead.SendTransaction(context.Background(), bundle("r3"))
	var de *DeliveryError
	if !errors.As(err, &de) || !de.Retryable {
		t.Fatalf("connection refused: %v", err)
	}
	if _, err := c.SendTransaction(context.Background(), []byte(`{"resourceType":"Patient"}`)); !errors.Is(err, ErrNotTransaction) {
		t.Fatalf("not a bundle: %v", err)
	}
}

func TestRenewTokenOn401(t *testing.T) {
	f := newFakeEHR(t)
	tokens := &countingTokens{}
	c := &Client{Base: f.base(), Tokens: tokens}
	if _, err := c.SendTransaction(context.Background(), bundle("a")); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.token = "token-2" // the EHR revoked token-1
	f.mu.Unlock()
	if _, err := c.SendTransaction(context.Background(), bundle("b")); err != nil {
		t.Fatalf("after revocation: %v", err)
	}
	if tokens.n != 2 || f.unauth != 1 {
		t.Fatalf("%d tokens, %d 401s", tokens.n, f.unauth)
	}
	f.mu.Lock()
	f.token = "never"
	f.mu.Unlock()
	_, err := c.SendTransaction(context.Background(), bundle("c"))
	var de *DeliveryError
	if !errors.As(err, &de) || de.Status != 401 || de.Retryable || f.unauth != 3 {
		t.Fatalf("a second 401 is not retried again: %v (%d 401s)", err, f.unauth)
	}
}

func TestOutboxDurability(t *testing.T) {
	ctx := context.Background()
	f := newFakeEHR(t)
	dir := t.TempDir()
	w := openWorld(t, dir)
	c := &Client{Base: f.base(), Tokens: &countingTokens{}}
	queue := func(w *world) *outbox.Queue {
		return &outbox.Queue{Store: w.st, Sealer: w.db, Destination: Destination(c.Base), Sender: &Sender{Client: c},
			Backoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, Poll: 10 * time.Millisecond}
	}
	// Signed reports are queued while nothing delivers; the process stops.
	for _, id := range []string{"rep-1", "rep-2", "refuse-me", "rep-3"} {
		if _, err := Enqueue(ctx, queue(w), "p1", bundle(id)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Enqueue(ctx, queue(w), "p1", []byte(`{"resourceType":"Patient"}`)); !errors.Is(err, ErrNotTransaction) {
		t.Fatalf("a non-bundle was queued: %v", err)
	}
	w.st.Close()

	// After a restart the EHR is down for a while, then back.
	w = openWorld(t, dir)
	defer w.st.Close()
	f.mu.Lock()
	f.status = 503
	f.mu.Unlock()
	rctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); queue(w).Run(rctx) }()
	time.Sleep(150 * time.Millisecond)
	items, _ := w.st.ListOutbox(ctx, Destination(c.Base), catalog.OutboxPending, 0)
	if len(items) != 4 || items[0].Attempts == 0 || !strings.Contains(items[0].LastError, "503") {
		t.Fatalf("while down: %+v", items)
	}
	f.mu.Lock()
	f.status = 0
	f.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for {
		items, _ = w.st.ListOutbox(ctx, Destination(c.Base), catalog.OutboxPending, 0)
		if len(items) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	<-done
	f.mu.Lock()
	got := strings.Join(f.received, " ")
	f.mu.Unlock()
	if got != "rep-1 rep-2 rep-3" {
		t.Fatalf("delivered %q, want rep-1 rep-2 rep-3 in order", got)
	}
	dead, _ := w.st.ListOutbox(ctx, Destination(c.Base), catalog.OutboxDead, 0)
	if len(dead) != 1 || !strings.Contains(dead[0].LastError, "error invalid at Bundle.entry[1]") || strings.Contains(dead[0].LastError, "unknown code") || !strings.Contains(dead[0].LastError, "400") {
		t.Fatalf("dead letters: %+v", dead)
	}
	// Fixed at the EHR, retried: delivered.
	f.mu.Lock()
	f.received = nil
	f.mu.Unlock()
	if err := outbox.Retry(ctx, w.st, dead[0].ID); err != nil {
		t.Fatal(err)
	}
	// The EHR now accepts it.
	f.mu.Lock()
	f.status = 201
	f.mu.Unlock()
	rctx, stop = context.WithCancel(ctx)
	done = make(chan struct{})
	go func() { defer close(done); queue(w).Run(rctx) }()
	var it catalog.OutboxItem
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if it, _ = w.st.GetOutbox(ctx, dead[0].ID); it.State == catalog.OutboxDelivered {
			break
		}
	}
	stop()
	<-done
	if it.State != catalog.OutboxDelivered {
		t.Fatalf("after retry: %s %s", it.State, it.LastError)
	}
}

func newPuller(t *testing.T, f *fakeEHR) (*Puller, *world) {
	w := openWorld(t, t.TempDir())
	t.Cleanup(func() { w.st.Close() })
	return &Puller{Client: &Client{Base: f.base(), Tokens: &countingTokens{}}, DB: w.db, Store: w.st,
		Category: "http://terminology.hl7.org/CodeSystem/v2-0074|GE", PageSize: 3}, w
}

func TestPullOrders(t *testing.T) {
	ctx := context.Background()
	f := newFakeEHR(t)
	t0 := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	for i := range 7 {
		var edit func(map[string]any)
		if i == 4 {
			edit = func(sr map[string]any) { delete(sr, "code") }
		}
		f.addOrder(fmt.Sprintf("sr%d", i), fmt.Sprintf("pat%d", i%3), fmt.Sprintf("sp%d", i), t0.Add(time.Duration(i)*time.Minute), edit)
	}
	f.omit["pat2"] = true // not _included: read separately
	p, w := newPuller(t, f)
	res, err := p.PullOrders(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Pages != 3 || len(res.Applied) != 6 || len(res.Rejected) != 1 {
		t.Fatalf("pages %d, applied %d, rejected %v", res.Pages, len(res.Applied), res.Rejected)
	}
	var is *fhir.Issue
	if r := res.Rejected[0]; r.Ref != "ServiceRequest/sr4" || !errors.As(r.Err, &is) || is.Expression != "ServiceRequest.code" {
		t.Fatalf("rejected %+v", res.Rejected[0])
	}
	if !res.Watermark.Equal(t0.Add(6 * time.Minute)) {
		t.Fatalf("watermark %v", res.Watermark)
	}
	pid, err := w.db.FindPatient(ctx, []clinical.Identifier{{Value: "MRN-pat0", Authority: "urn:oid:9.9", Type: "MR"}})
	if err != nil {
		t.Fatal(err)
	}
	pat, _, orders, _, err := w.db.Records(ctx, pid)
	if err != nil {
		t.Fatal(err)
	}
	if pat.Family != "Doe" || pat.BirthDate != "19700203" || pat.Sex != "F" || len(orders) != 3 {
		t.Fatalf("patient %+v, %d orders", pat, len(orders))
	}
	for _, o := range orders {
		if !o.Genetic || o.Status != "new" || o.Code != "81247-9" || !strings.HasPrefix(o.SampleID, "SAMPLE-sp") || o.PlacerIssuer != "urn:oid:1.2.3" {
			t.Fatalf("order %+v", o)
		}
	}
	audits, _ := w.st.ListAudit(ctx, 0, 0)
	n := 0
	for _, a := range audits {
		if a.Action == "fhir.order.pull" {
			n++
		}
	}
	if n != 7 {
		t.Fatalf("%d audit records, want 7 (6 applied, 1 refused)", n)
	}

	// Pulled again: the same orders, nothing new written.
	res, err = p.PullOrders(ctx, time.Time{})
	if err != nil || len(res.Applied) != 0 || res.Unchanged != 1 {
		t.Fatalf("second pull: %+v, %v", res, err)
	}
	if q := f.requests[len(f.requests)-1]; !strings.Contains(q, "_lastUpdated=ge2024-05-01T10%3A06%3A00.000Z") {
		t.Fatalf("second search %s", q)
	}
	res, err = p.PullOrders(ctx, t0.Add(-time.Hour))
	if err != nil || len(res.Applied) != 0 || res.Unchanged != 6 || len(res.Rejected) != 0 || res.Repeated != 1 {
		t.Fatalf("full re-pull: applied %d unchanged %d rejected %d repeated %d, %v", len(res.Applied), res.Unchanged, len(res.Rejected), res.Repeated, err)
	}
	// The refused request, changed at the EHR and still without a code,
	// is refused and audited again.
	f.mu.Lock()
	f.orders[4]["meta"] = map[string]any{"lastUpdated": t0.Add(30 * time.Minute).Format(time.RFC3339)}
	f.mu.Unlock()
	if res, err = p.PullOrders(ctx, time.Time{}); err != nil || len(res.Rejected) != 1 || res.Repeated != 0 {
		t.Fatalf("changed refused request: rejected %d repeated %d, %v", len(res.Rejected), res.Repeated, err)
	}
	audits, _ = w.st.ListAudit(ctx, 0, 0)
	n = 0
	for _, a := range audits {
		if a.Action == "fhir.order.pull" && a.Outcome == "refused" {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d refusals audited, want 2 (once per content of sr4)", n)
	}
	_, _, orders, _, _ = w.db.Records(ctx, pid)
	if len(orders) != 3 {
		t.Fatalf("%d orders after re-pulls", len(orders))
	}
	// An update at the EHR is applied.
	f.mu.Lock()
	f.orders[1]["status"] = "active"
	f.orders[1]["meta"] = map[string]any{"lastUpdated": t0.Add(time.Hour).Format(time.RFC3339)}
	f.orders[1]["code"] = map[string]any{"text": "exome"}
	f.mu.Unlock()
	res, err = p.PullOrders(ctx, time.Time{})
	if err != nil || len(res.Applied) != 1 || res.Applied[0].Ref != "ServiceRequest/sr1" {
		t.Fatalf("update: %+v, %v", res, err)
	}
}

// The watermark moves after each page only when the EHR sorted by
// _lastUpdated; an EHR that refuses _sort (a strict server, like the
// stand-in) is searched again without it, and the watermark then moves
// only when every page was read: a failure part-way leaves it in place.
func TestPullWatermarkAndSort(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	for _, noSort := range []bool{false, true} {
		t.Run(fmt.Sprintf("noSort=%v", noSort), func(t *testing.T) {
			f := newFakeEHR(t)
			for i := range 7 {
				f.addOrder(fmt.Sprintf("sr%d", i), fmt.Sprintf("pat%d", i%3), fmt.Sprintf("sp%d", i), t0.Add(time.Duration(i)*time.Minute), nil)
			}
			f.noSort, f.failPage = noSort, 1
			p, _ := newPuller(t, f)
			res, err := p.PullOrders(ctx, time.Time{})
			if err == nil || res.Pages != 1 || len(res.Applied) != 3 {
				t.Fatalf("pull failing on page 2: %d pages, %d applied, %v", res.Pages, len(res.Applied), err)
			}
			want := t0.Add(2 * time.Minute) // page 1's newest
			if noSort {
				want = time.Time{}
				if len(f.requests) != 3 || !strings.Contains(f.requests[0], "_sort=") || strings.Contains(f.requests[1], "_sort=") {
					t.Fatalf("searches %q: want one with _sort, then without", f.requests)
				}
			}
			if w, err := p.Watermark(ctx); err != nil || !w.Equal(want) {
				t.Fatalf("watermark after a failed page 2: %v (%v), want %v", w, err, want)
			}
			f.failPage = 0
			res, err = p.PullOrders(ctx, time.Time{})
			if err != nil || res.Pages == 0 || !res.Watermark.Equal(t0.Add(6*time.Minute)) {
				t.Fatalf("pull: %d pages, watermark %v, %v", res.Pages, res.Watermark, err)
			}
		})
	}
}

func TestPullStopsWhenEHRFails(t *testing.T) {
	f := newFakeEHR(t)
	f.addOrder("sr1", "pat1", "sp1", time.Now(), func(sr map[string]any) { sr["subject"] = map[string]any{"reference": "Patient/gone"} })
	p, _ := newPuller(t, f)
	res, err := p.PullOrders(context.Background(), time.Time{})
	if err != nil || len(res.Rejected) != 1 || !strings.Contains(res.Rejected[0].Err.Error(), "ServiceRequest.subject") {
		t.Fatalf("%+v, %v", res, err)
	}
	p.Client.Base = "http://127.0.0.1:1/fhir"
	if _, err := p.PullOrders(context.Background(), time.Time{}); err == nil {
		t.Fatal("no error from an unreachable EHR")
	}
	// A next link to another host is not followed (the token would go there).
	p.Client.Base = f.base()
	if _, err := p.Client.resolve("https://evil.example/fhir/ServiceRequest?_page=2"); err == nil {
		t.Fatal("followed a link off the EHR")
	}
}

// A revoked or entered-in-error ServiceRequest cancels the order pulled
// before it (status "cancelled", the rest as stored, audited
// fhir.order.cancel with pseudonymous ids); one we never had is skipped:
// no order, no patient, one audit record saying so. A completed request
// is not searched for; a cancellation naming another patient than the
// order's is refused. Pulled again, nothing changes; an order made active
// again at the EHR is updated as any other.
func TestPullCancellations(t *testing.T) {
	ctx := context.Background()
	f := newFakeEHR(t)
	t0 := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	for i := range 4 {
		f.addOrder(fmt.Sprintf("sr%d", i), fmt.Sprintf("pat%d", i%2), fmt.Sprintf("sp%d", i), t0.Add(time.Duration(i)*time.Minute), nil)
	}
	p, w := newPuller(t, f)
	res, err := p.PullOrders(ctx, time.Time{})
	if err != nil || len(res.Applied) != 4 || len(res.Cancelled) != 0 || len(res.Skipped) != 0 {
		t.Fatalf("first pull: %+v, %v", res, err)
	}
	oid := map[string]string{} // ServiceRequest ref -> order id
	pidOf := map[string]string{}
	for _, o := range res.Applied {
		oid[o.Ref], pidOf[o.Ref] = o.OrderID, o.PatientID
	}

	t1 := t0.Add(time.Hour)
	set := func(i int, status string, at time.Time) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.orders[i]["status"] = status
		f.orders[i]["meta"] = map[string]any{"lastUpdated": at.Format(time.RFC3339Nano)}
	}
	set(0, "revoked", t1)
	set(1, "entered-in-error", t1.Add(time.Minute))
	set(2, "revoked", t1.Add(2*time.Minute))
	f.mu.Lock()
	f.orders[2]["subject"] = map[string]any{"reference": "Patient/pat1"} // the order is pat0's
	f.mu.Unlock()
	set(3, "completed", t1.Add(3*time.Minute))
	f.addOrder("sr9", "pat9", "sp9", t1.Add(4*time.Minute), func(sr map[string]any) { sr["status"] = "revoked" })

	res, err = p.PullOrders(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if q := f.requests[len(f.requests)-1]; !strings.Contains(q, "status=active%2Crevoked%2Centered-in-error") {
		t.Fatalf("search %s: want status=active,revoked,entered-in-error", q)
	}
	if len(res.Applied) != 0 || res.Unchanged != 0 || len(res.Cancelled) != 2 ||
		res.Cancelled[0] != (PulledOrder{Ref: "ServiceRequest/sr0", OrderID: oid["ServiceRequest/sr0"], PatientID: pidOf["ServiceRequest/sr0"]}) ||
		res.Cancelled[1] != (PulledOrder{Ref: "ServiceRequest/sr1", OrderID: oid["ServiceRequest/sr1"], PatientID: pidOf["ServiceRequest/sr1"]}) {
		t.Fatalf("cancelled %+v, applied %+v, unchanged %d", res.Cancelled, res.Applied, res.Unchanged)
	}
	if len(res.Skipped) != 1 || res.Skipped[0] != "ServiceRequest/sr9" {
		t.Fatalf("skipped %q, want ServiceRequest/sr9", res.Skipped)
	}
	if len(res.Rejected) != 1 || res.Rejected[0].Ref != "ServiceRequest/sr2" || !errors.Is(res.Rejected[0].Err, clinical.ErrConflict) {
		t.Fatalf("rejected %+v, want sr2 for a conflict", res.Rejected)
	}
	if !res.Watermark.Equal(t1.Add(4 * time.Minute)) {
		t.Fatalf("watermark %v", res.Watermark)
	}

	// The clinical database: the two orders cancelled as of the EHR's
	// change with their sample ids; the others as they were; no order or
	// patient for the request we never had.
	want := map[string]string{"PL-sr0": "cancelled", "PL-sr1": "cancelled", "PL-sr2": "new", "PL-sr3": "new"}
	n := 0
	for _, pat := range []string{"pat0", "pat1"} {
		pid, err := w.db.FindPatient(ctx, []clinical.Identifier{{Value: "MRN-" + pat, Authority: "urn:oid:9.9", Type: "MR"}})
		if err != nil {
			t.Fatal(err)
		}
		_, _, orders, _, err := w.db.Records(ctx, pid)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range orders {
			n++
			if o.Status != want[o.PlacerNumber] || o.SampleID != "SAMPLE-sp"+strings.TrimPrefix(o.PlacerNumber, "PL-sr") || o.Code != "81247-9" {
				t.Errorf("order %+v: want status %q", o, want[o.PlacerNumber])
			}
			if o.PlacerNumber == "PL-sr0" && !o.AsOf.Equal(t1) {
				t.Errorf("cancelled order as of %v, want the EHR's change %v", o.AsOf, t1)
			}
		}
	}
	if n != 4 {
		t.Errorf("%d orders, want 4", n)
	}
	if _, err := w.db.FindPatient(ctx, []clinical.Identifier{{Value: "MRN-pat9", Authority: "urn:oid:9.9", Type: "MR"}}); !errors.Is(err, clinical.ErrNotFound) {
		t.Errorf("the patient of the skipped cancellation: %v, want not found", err)
	}

	type key struct{ action, resource, patient, outcome, detail string }
	trail := func() map[key]int {
		audits, err := w.st.ListAudit(ctx, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		m := map[key]int{}
		for _, a := range audits {
			if a.Action == "fhir.order.cancel" {
				m[key{a.Action, a.Resource, a.Patient, a.Outcome, a.Detail}]++
			}
		}
		return m
	}
	wantTrail := map[key]int{
		{"fhir.order.cancel", "order:" + oid["ServiceRequest/sr0"], pidOf["ServiceRequest/sr0"], "ok", "ServiceRequest/sr0"}: 1,
		{"fhir.order.cancel", "order:" + oid["ServiceRequest/sr1"], pidOf["ServiceRequest/sr1"], "ok", "ServiceRequest/sr1"}: 1,
		{"fhir.order.cancel", "ServiceRequest/sr9", "", "ok", skippedDetail}:                                                 1,
		{"fhir.order.cancel", "ServiceRequest/sr2", "", "refused", publicReason(clinical.ErrConflict)}:                       1,
	}
	if got := trail(); !maps.Equal(got, wantTrail) {
		t.Fatalf("audit trail of cancellations:\n%v\nwant\n%v", got, wantTrail)
	}

	// Pulled again from the start: the cancelled orders are unchanged, the
	// skip and the refusal recur but are not audited again (the watermark's
	// ge search returns the last ones at every poll), nothing new is
	// cancelled.
	res, err = p.PullOrders(ctx, t0.Add(-time.Hour))
	if err != nil || len(res.Applied) != 0 || len(res.Cancelled) != 0 || res.Unchanged != 2 || len(res.Skipped) != 0 || len(res.Rejected) != 0 || res.Repeated != 2 {
		t.Fatalf("re-pull: applied %d, cancelled %d, unchanged %d, skipped %d, rejected %d, repeated %d, %v",
			len(res.Applied), len(res.Cancelled), res.Unchanged, len(res.Skipped), len(res.Rejected), res.Repeated, err)
	}
	if got := trail(); !maps.Equal(got, wantTrail) {
		t.Fatalf("audit trail after the re-pull:\n%v\nwant\n%v", got, wantTrail)
	}

	// Made active again at the EHR: the order is updated to new.
	set(0, "active", t1.Add(10*time.Minute))
	res, err = p.PullOrders(ctx, time.Time{})
	if err != nil || len(res.Applied) != 1 || res.Applied[0].Ref != "ServiceRequest/sr0" || res.Applied[0].OrderID != oid["ServiceRequest/sr0"] {
		t.Fatalf("reactivated: %+v, %v", res, err)
	}
	if err := w.db.Update(ctx, func(tx *clinical.Tx) error {
		o, err := tx.OrderByPlacer("urn:oid:1.2.3", "PL-sr0")
		if err == nil && o.Status != "new" {
			err = fmt.Errorf("status %q after reactivation, want new", o.Status)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// A cancellation older than the stored order's state changes nothing (the
// newer state stands, as for any update).
func TestPullCancellationOlderThanStored(t *testing.T) {
	ctx := context.Background()
	f := newFakeEHR(t)
	t0 := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	f.addOrder("sr0", "pat0", "sp0", t0, nil)
	p, w := newPuller(t, f)
	if res, err := p.PullOrders(ctx, time.Time{}); err != nil || len(res.Applied) != 1 {
		t.Fatalf("first pull: %+v, %v", res, err)
	}
	f.mu.Lock()
	f.orders[0]["status"] = "revoked"
	f.orders[0]["meta"] = map[string]any{"lastUpdated": t0.Add(-time.Minute).Format(time.RFC3339Nano)}
	f.mu.Unlock()
	res, err := p.PullOrders(ctx, t0.Add(-time.Hour))
	if err != nil || len(res.Cancelled) != 0 || res.Unchanged != 1 {
		t.Fatalf("stale cancellation: %+v, %v", res, err)
	}
	if err := w.db.Update(ctx, func(tx *clinical.Tx) error {
		o, err := tx.OrderByPlacer("urn:oid:1.2.3", "PL-sr0")
		if err == nil && o.Status != "new" {
			err = fmt.Errorf("status %q, want new", o.Status)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

func TestAcceptServiceRequest(t *testing.T) {
	ctx := context.Background()
	w := openWorld(t, t.TempDir())
	defer w.st.Close()
	good := `{"resourceType":"ServiceRequest","status":"active","intent":"order",
 "identifier":[{"system":"urn:placer","value":"ORD-1"}],
 "code":{"coding":[{"system":"http://loinc.org","code":"81247-9"}]},
 "contained":[{"resourceType":"Patient","id":"p","identifier":[{"system":"urn:mrn","value":"M1"}]},
              {"resourceType":"Specimen","id":"s","accessionIdentifier":{"value":"S-1"}}],
 "subject":{"reference":"#p"},"specimen":[{"reference":"#s"}]}`
	oid, err := AcceptServiceRequest(ctx, w.db, []byte(good), "service:ehr")
	if err != nil || oid == "" {
		t.Fatalf("%q, %v", oid, err)
	}
	again, err := AcceptServiceRequest(ctx, w.db, []byte(good), "service:ehr")
	if err != nil || again != oid {
		t.Fatalf("posted twice: %q then %q, %v", oid, again, err)
	}
	cases := []struct{ name, body, path string }{
		{"no subject", strings.Replace(good, `"subject":{"reference":"#p"},`, "", 1), "ServiceRequest.subject"},
		{"no identifier", strings.Replace(good, `"identifier":[{"system":"urn:placer","value":"ORD-1"}],`, "", 1), "ServiceRequest.identifier"},
		{"bad status", strings.Replace(good, `"status":"active"`, `"status":"busy"`, 1), "ServiceRequest.status"},
		{"no intent", strings.Replace(good, `"intent":"order",`, "", 1), "ServiceRequest.intent"},
		{"code type", strings.Replace(good, `"code":{"coding":[{"system":"http://loinc.org","code":"81247-9"}]}`, `"code":7`, 1), "ServiceRequest.code"},
		{"missing contained", strings.Replace(good, `"reference":"#p"`, `"reference":"#q"`, 1), "ServiceRequest.subject.reference"},
		{"patient without identifier", strings.Replace(good, `"identifier":[{"system":"urn:mrn","value":"M1"}]`, `"gender":"male"`, 1), "Patient.identifier"},
		{"unknown patient", strings.Replace(good, `"reference":"#p"`, `"reference":"Patient/nobody"`, 1), "ServiceRequest.subject"},
		{"not a ServiceRequest", `{"resourceType":"Patient"}`, "ServiceRequest.resourceType"},
		{"not JSON", `{`, "ServiceRequest"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := AcceptServiceRequest(ctx, w.db, []byte(c.body), "service:ehr")
			var is *fhir.Issue
			if !errors.As(err, &is) || is.Expression != c.path {
				t.Fatalf("error %v, want an issue at %s", err, c.path)
			}
			if oo := fhir.OutcomeOf(err); len(oo.Issue) != 1 || oo.Issue[0].Expression[0] != c.path {
				t.Fatalf("outcome %+v", oo)
			}
		})
	}
}

// A ServiceRequest is sent whole: an element the EHR removed (the
// requester) clears the stored value, and the order, once updated, is
// found unchanged by the next pulls (not rewritten and audited at each).
func TestPullOrderLosesAnElement(t *testing.T) {
	ctx := context.Background()
	f := newFakeEHR(t)
	t0 := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	f.addOrder("sr0", "pat0", "sp0", t0, func(sr map[string]any) {
		sr["requester"] = map[string]any{"display": "Dr Requester"}
		sr["authoredOn"] = "2024-05-01"
	})
	p, w := newPuller(t, f)
	if res, err := p.PullOrders(ctx, time.Time{}); err != nil || len(res.Applied) != 1 {
		t.Fatalf("first pull: %+v %v", res, err)
	}
	f.mu.Lock()
	delete(f.orders[0], "requester")
	f.orders[0]["meta"] = map[string]any{"lastUpdated": t0.Add(time.Hour).Format(time.RFC3339)}
	f.mu.Unlock()
	res, err := p.PullOrders(ctx, time.Time{})
	if err != nil || len(res.Applied) != 1 {
		t.Fatalf("pull after the change: %+v %v", res, err)
	}
	for range 2 {
		if res, err := p.PullOrders(ctx, time.Time{}); err != nil || len(res.Applied) != 0 || res.Unchanged != 1 {
			t.Fatalf("pull of the unchanged order: applied %d unchanged %d %v", len(res.Applied), res.Unchanged, err)
		}
	}
	err = w.db.Update(ctx, func(tx *clinical.Tx) error {
		o, err := tx.OrderByPlacer("urn:oid:1.2.3", "PL-sr0")
		if err == nil && (o.Orderer != "" || o.Ordered != "20240501" || o.SampleID != "SAMPLE-sp0") {
			err = fmt.Errorf("order %+v: want no orderer, the order date and sample kept", o)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
