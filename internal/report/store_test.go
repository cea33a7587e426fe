package report_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/clinical"
	"github.com/clinomics/clinomics/internal/keys"
	"github.com/clinomics/clinomics/internal/report"
)

func init() { keys.DefaultKDF.MemoryKiB = 8 * 1024 } // fast tests

var ctx = context.Background()

// harness is a Store over a real SQLite catalog and the clinical sealing key.
type harness struct {
	*report.Store
	cat  catalog.Store
	path string
}

func newHarness(t *testing.T, opts report.Options) *harness {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "catalog.db")
	cat, err := catalog.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	kr, err := keys.OpenLocal(filepath.Join(dir, "keyring"), "test")
	if err != nil {
		t.Fatal(err)
	}
	db, err := clinical.Open(ctx, cat, kr)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{report.NewStore(cat, db, opts), cat, path}
}

var (
	alice = report.Actor{Audit: "user:alice", Name: "Dr Alice Reviewer", Source: "127.0.0.1"}
	bob   = report.Actor{Audit: "user:bob", Name: "Dr Bob Director", Source: "127.0.0.1"}
	carol = report.Actor{Audit: "user:carol", Name: "Dr Carol Director", Source: "127.0.0.1"}
)

func by(a report.Actor) report.Op { return report.Op{By: a} }

func loadDraft(t *testing.T) report.Report {
	t.Helper()
	f, err := os.Open("testdata/draft.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := report.ParseDraft(f)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// must returns f's report, failing t on an error: must(t)(h.Get(ctx, id)).
func must(t *testing.T) func(report.Report, error) report.Report {
	return func(r report.Report, err error) report.Report {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
}

// reach makes a report in status st (an original, or for superseded the
// original that a signed amendment replaced).
func (h *harness) reach(t *testing.T, st report.Status) report.Report {
	t.Helper()
	r := must(t)(h.CreateDraft(ctx, loadDraft(t), by(alice)))
	if st == report.Draft {
		return r
	}
	r = must(t)(h.Review(ctx, r.ID, by(alice)))
	if st == report.Reviewed {
		return r
	}
	r = must(t)(h.Sign(ctx, r.ID, by(bob)))
	if st == report.Signed {
		return r
	}
	a := must(t)(h.Amend(ctx, r.ID, report.Op{By: bob, Note: "typo in the conclusion"}))
	must(t)(h.Review(ctx, a.ID, by(alice)))
	must(t)(h.Sign(ctx, a.ID, by(bob)))
	return must(t)(h.Get(ctx, r.ID))
}

// TestTransitions tries every action from every status.
func TestTransitions(t *testing.T) {
	h := newHarness(t, report.Options{})
	allowed := map[report.Status]map[report.Action]report.Status{
		report.Draft:    {report.ActUpdate: report.Draft, report.ActReview: report.Reviewed},
		report.Reviewed: {report.ActReopen: report.Draft, report.ActSign: report.Signed},
		report.Signed:   {report.ActAmend: report.Signed},
	}
	for _, st := range report.Statuses {
		for _, act := range report.Actions {
			t.Run(string(st)+"/"+string(act), func(t *testing.T) {
				r := h.reach(t, st)
				var got report.Report
				var err error
				switch act {
				case report.ActUpdate:
					r.Conclusion = "edited"
					got, err = h.Update(ctx, r, by(carol))
				case report.ActReview:
					got, err = h.Review(ctx, r.ID, by(carol))
				case report.ActReopen:
					got, err = h.Reopen(ctx, r.ID, by(carol))
				case report.ActSign:
					got, err = h.Sign(ctx, r.ID, by(carol))
				case report.ActAmend:
					got, err = h.Amend(ctx, r.ID, report.Op{By: carol, Note: "reason"})
				}
				to, ok := allowed[st][act]
				if !ok {
					want := report.ErrState
					if act == report.ActUpdate && (st == report.Signed || st == report.Superseded) {
						want = report.ErrImmutable
					}
					if !errors.Is(err, want) {
						t.Fatalf("error %v, want %v", err, want)
					}
					if now := must(t)(h.Get(ctx, r.ID)); now.Status != st || !now.Updated.Equal(r.Updated) {
						t.Errorf("refused step changed the report: %s %v", now.Status, now.Updated)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if act == report.ActAmend {
					if got.Status != report.Draft || got.Amends != r.ID || got.Version != r.Version+1 {
						t.Errorf("amendment %s amends %q version %d", got.Status, got.Amends, got.Version)
					}
					got = must(t)(h.Get(ctx, r.ID))
				}
				if got.Status != to {
					t.Errorf("status %s, want %s", got.Status, to)
				}
				if act != report.ActUpdate && act != report.ActAmend {
					last := got.Review[len(got.Review)-1]
					if last.Action != string(act) || last.By != carol.Audit || last.Name != carol.Name || last.At.IsZero() {
						t.Errorf("last signature %+v", last)
					}
				}
			})
		}
	}
}

func TestFourEyes(t *testing.T) {
	h := newHarness(t, report.Options{})
	r := h.reach(t, report.Reviewed) // reviewed by alice
	if _, err := h.Sign(ctx, r.ID, by(alice)); !errors.Is(err, report.ErrFourEyes) {
		t.Fatalf("reviewer signing: %v, want ErrFourEyes", err)
	}
	// Another API token of the same person is the same person.
	tok := report.Actor{Audit: "token:0123456789abcdef", Person: alice.Audit, Name: "alice's token"}
	if _, err := h.Sign(ctx, r.ID, by(tok)); !errors.Is(err, report.ErrFourEyes) {
		t.Fatalf("reviewer's token signing: %v, want ErrFourEyes", err)
	}
	// After a reopen and a review by someone else, the first reviewer may sign.
	must(t)(h.Reopen(ctx, r.ID, by(bob)))
	must(t)(h.Review(ctx, r.ID, by(bob)))
	if s := must(t)(h.Sign(ctx, r.ID, by(alice))); s.Status != report.Signed {
		t.Errorf("status %s", s.Status)
	}

	single := newHarness(t, report.Options{SingleSignOut: true})
	r = single.reach(t, report.Reviewed)
	if s := must(t)(single.Sign(ctx, r.ID, by(alice))); s.Status != report.Signed {
		t.Errorf("single sign-out: status %s", s.Status)
	}
}

func TestSignedReportIsImmutable(t *testing.T) {
	h := newHarness(t, report.Options{})
	r := h.reach(t, report.Signed)
	r.Conclusion = "changed after signing"
	if _, err := h.Update(ctx, r, by(bob)); !errors.Is(err, report.ErrImmutable) {
		t.Fatalf("update of a signed report: %v", err)
	}
	if got := must(t)(h.Get(ctx, r.ID)); got.Conclusion == "changed after signing" {
		t.Fatal("signed content changed")
	}
	// The catalog refuses it too.
	err := h.cat.InReportTx(ctx, func(tx catalog.ReportTx) error {
		row, err := tx.GetReport(ctx, r.ID)
		if err != nil {
			return err
		}
		prev := row.Updated
		row.Sealed = append([]byte{}, row.Sealed...)
		row.Sealed[len(row.Sealed)-1] ^= 1
		row.Updated = prev.Add(time.Second)
		_, err = tx.UpdateReport(ctx, row, prev)
		return err
	})
	if !errors.Is(err, catalog.ErrImmutable) {
		t.Fatalf("catalog update of signed content: %v, want ErrImmutable", err)
	}

	// A direct UPDATE in the database, even one that keeps the hash
	// column consistent (here: the report's own draft content, sealed
	// under the right key), is detected.
	db, err := sql.Open("sqlite", h.path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	d := h.reach(t, report.Draft)
	var draftSealed, draftHash string
	if err := db.QueryRow(`SELECT sealed, content_hash FROM reports WHERE id = ?`, d.ID).Scan(&draftSealed, &draftHash); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE reports SET sealed = ?, content_hash = ? WHERE id = ?`, draftSealed, draftHash, r.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Get(ctx, r.ID); !errors.Is(err, report.ErrTampered) {
		t.Errorf("Get after a direct UPDATE: %v, want ErrTampered", err)
	}
	if _, err := h.Amend(ctx, r.ID, report.Op{By: bob, Note: "x"}); !errors.Is(err, report.ErrTampered) {
		t.Errorf("Amend after a direct UPDATE: %v, want ErrTampered", err)
	}
}

func TestAmendmentChain(t *testing.T) {
	h := newHarness(t, report.Options{})
	orig := h.reach(t, report.Signed)
	if _, err := h.Amend(ctx, orig.ID, by(bob)); err == nil || !strings.Contains(err.Error(), "reason") {
		t.Fatalf("amend without a reason: %v", err)
	}
	a := must(t)(h.Amend(ctx, orig.ID, report.Op{By: bob, Note: "wrong transcript"}))
	if a.Amends != orig.ID || a.Version != 2 || a.Status != report.Draft || a.ID == orig.ID {
		t.Fatalf("amendment %+v", a.Summary())
	}
	if _, err := h.Amend(ctx, orig.ID, report.Op{By: carol, Note: "again"}); !errors.Is(err, report.ErrState) {
		t.Errorf("second amendment: %v", err)
	}
	a.Variants[0].Transcript = "NM_000059.3"
	a = must(t)(h.Update(ctx, a, by(alice)))
	must(t)(h.Review(ctx, a.ID, by(alice)))
	if g := must(t)(h.Get(ctx, orig.ID)); g.Status != report.Signed {
		t.Errorf("original before the amendment is signed: %s", g.Status)
	}
	a = must(t)(h.Sign(ctx, a.ID, by(bob)))
	g := must(t)(h.Get(ctx, orig.ID))
	if g.Status != report.Superseded {
		t.Errorf("original after the amendment is signed: %s", g.Status)
	}
	if g.Variants[0].Transcript != orig.Variants[0].Transcript || len(g.Review) != len(orig.Review) || g.Conclusion != orig.Conclusion {
		t.Error("the original's content changed")
	}
	if _, err := h.Amend(ctx, orig.ID, report.Op{By: bob, Note: "x"}); !errors.Is(err, report.ErrState) {
		t.Errorf("amending a superseded report: %v", err)
	}
	a3 := must(t)(h.Amend(ctx, a.ID, report.Op{By: bob, Note: "correct the correction"}))
	if a3.Version != 3 || a3.Amends != a.ID {
		t.Errorf("amendment of the amendment: %+v", a3.Summary())
	}
	list, err := h.List(ctx, report.Filter{PatientID: orig.Patient.ID})
	if err != nil || len(list) != 3 {
		t.Fatalf("list: %v %v", list, err)
	}
	if sup, _ := h.List(ctx, report.Filter{Status: report.Superseded}); len(sup) != 1 || sup[0].ID != orig.ID {
		t.Errorf("superseded: %v", sup)
	}
	if _, err := h.List(ctx, report.Filter{Status: "final"}); err == nil {
		t.Error("unknown status filter accepted")
	}
}

func TestAuditAndSealing(t *testing.T) {
	h := newHarness(t, report.Options{})
	r := h.reach(t, report.Signed)
	evs, err := h.cat.ListAudit(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range evs {
		actions = append(actions, e.Action+" "+e.Actor)
		if e.Resource != "report/"+r.ID || e.Patient != r.Patient.ID || e.Outcome != "ok" {
			t.Errorf("record %+v", e)
		}
		for _, phi := range []string{"Doe", "Jane", "MRN0042", "1980", "BRCA2"} {
			if strings.Contains(e.Detail+e.Resource+e.Actor, phi) {
				t.Errorf("audit record holds %q: %+v", phi, e)
			}
		}
	}
	if got, want := strings.Join(actions, ", "), "report.draft user:alice, report.review user:alice, report.sign user:bob"; got != want {
		t.Errorf("audit actions %q, want %q", got, want)
	}
	if !strings.Contains(evs[2].Detail, "content sha256:") {
		t.Errorf("sign record detail %q", evs[2].Detail)
	}
	h.cat.Close()
	for _, p := range []string{h.path, h.path + "-wal"} {
		b, _ := os.ReadFile(p)
		for _, phi := range []string{`"Doe"`, "MRN0042", "Hereditary cancer panel", "NM_000059"} {
			if bytes.Contains(b, []byte(phi)) {
				t.Errorf("%s holds %q in the clear", filepath.Base(p), phi)
			}
		}
	}
}

func TestOptimisticConcurrency(t *testing.T) {
	h := newHarness(t, report.Options{})
	r := h.reach(t, report.Draft)
	a, b := r, r
	a.Conclusion, b.Conclusion = "first", "second"
	must(t)(h.Update(ctx, a, by(alice)))
	if _, err := h.Update(ctx, b, by(bob)); !errors.Is(err, report.ErrStale) {
		t.Fatalf("second update from the same read: %v, want ErrStale", err)
	}
	if _, err := h.Review(ctx, r.ID, report.Op{By: bob, IfUpdated: r.Updated}); !errors.Is(err, report.ErrStale) {
		t.Fatalf("review of an old read: %v, want ErrStale", err)
	}
	if _, err := h.Update(ctx, report.Report{ID: r.ID, Patient: r.Patient, Test: r.Test}, by(bob)); err == nil {
		t.Error("update without Updated accepted")
	}
	// Two reviewers at once: one wins.
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = h.Review(ctx, r.ID, by(report.Actor{Audit: "user:r" + string(rune('0'+i))}))
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, report.ErrState) && !errors.Is(err, report.ErrStale):
			t.Errorf("concurrent review: %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d concurrent reviews succeeded, want 1", ok)
	}
}

func TestSignedHooks(t *testing.T) {
	var notified []string
	fail := false
	hook := func(ctx context.Context, q report.Enqueuer, r report.Report) error {
		if fail {
			return errors.New("cannot build the message")
		}
		_, err := q.PutOutbox(ctx, catalog.OutboxItem{ID: "fhir-" + r.ID, Destination: "ehr", Kind: "fhir", PatientID: r.Patient.ID, Sealed: []byte("sealed")})
		return err
	}
	h := newHarness(t, report.Options{Hooks: []report.SignedHook{hook}, Notify: func(r report.Report) { notified = append(notified, r.ID) }})
	start := time.Now()
	r := h.reach(t, report.Signed)
	if o, err := h.cat.GetOutbox(ctx, "fhir-"+r.ID); err != nil || o.State != catalog.OutboxPending {
		t.Fatalf("queued delivery: %+v %v", o, err)
	}
	if len(notified) != 1 || notified[0] != r.ID {
		t.Errorf("notified %v", notified)
	}
	fail = true
	r2 := h.reach(t, report.Reviewed)
	if _, err := h.Sign(ctx, r2.ID, by(bob)); err == nil {
		t.Fatal("signing with a failing hook succeeded")
	}
	if g := must(t)(h.Get(ctx, r2.ID)); g.Status != report.Reviewed {
		t.Errorf("after a failed hook the report is %s, want reviewed", g.Status)
	}
	if _, err := h.cat.GetOutbox(ctx, "fhir-"+r2.ID); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("outbox item of a failed signing: %v", err)
	}
	got, err := h.SignedSince(ctx, start)
	if err != nil || len(got) != 1 || got[0].ID != r.ID {
		t.Errorf("signed since: %v %v", got, err)
	}
	if got, _ := h.SignedSince(ctx, time.Now()); len(got) != 0 {
		t.Errorf("signed since now: %d", len(got))
	}
}

// TestAmendmentCarriesTheReportItAmends: the hooks of an amendment's
// signing, and SignedSince, get the amended report as it was signed (the
// FHIR bundle retires its observations); it is not stored.
func TestAmendmentCarriesTheReportItAmends(t *testing.T) {
	var hooked []report.Report
	hook := func(ctx context.Context, q report.Enqueuer, r report.Report) error {
		hooked = append(hooked, r)
		return nil
	}
	h := newHarness(t, report.Options{Hooks: []report.SignedHook{hook}})
	start := time.Now()
	orig := h.reach(t, report.Superseded)
	if len(hooked) != 2 || hooked[0].Amended != nil {
		t.Fatalf("%d signings hooked; the original's Amended %v", len(hooked), hooked[0].Amended)
	}
	a := hooked[1]
	if a.Amends != orig.ID || a.Amended == nil || a.Amended.ID != orig.ID || a.Amended.Status != report.Signed || a.Amended.Conclusion != orig.Conclusion {
		t.Fatalf("the amendment's hook got Amended %+v", a.Amended)
	}
	since, err := h.SignedSince(ctx, start)
	if err != nil || len(since) != 2 || since[1].ID != a.ID || since[1].Amended == nil || since[1].Amended.ID != orig.ID || since[1].Amended.Status != report.Signed {
		t.Fatalf("signed since: %d reports, %v", len(since), err)
	}
	if stored := must(t)(h.Get(ctx, a.ID)); stored.Amended != nil {
		t.Errorf("Amended was stored with the amendment")
	}
}

func TestParseDraftErrors(t *testing.T) {
	base, _ := os.ReadFile("testdata/draft.json")
	cases := []struct {
		name, body, field string
	}{
		{"empty", ``, "body"},
		{"syntax", `{"Patient": {"ID": }`, "body"},
		{"not an object", `[1]`, "body"},
		{"patient id type", `{"Patient": {"ID": 5}}`, "Patient.ID"},
		{"variant pos type", `{"Patient": {"ID": "p"}, "Test": {"Name": "t"}, "Variants": [{"Pos": "x"}]}`, "Variants.Pos"},
		{"unknown field", `{"PatientName": "Doe"}`, "body"},
		{"two objects", `{} {}`, "body"},
		{"no patient", `{"Test": {"Name": "t"}}`, "Patient.ID"},
		{"patient id not an id", `{"Patient": {"ID": "Jane Doe"}, "Test": {"Name": "t"}}`, "Patient.ID"},
		{"no test", `{"Patient": {"ID": "p"}}`, "Test.Name"},
		{"bad date", `{"Patient": {"ID": "p", "BirthDate": "01/04/1980"}, "Test": {"Name": "t"}}`, "Patient.BirthDate"},
		{"bad class", strings.Replace(string(base), `"Likely pathogenic"`, `"Probably bad"`, 1), "Variants[0].Classification"},
		{"bad strength", strings.Replace(string(base), `"strong"`, `"huge"`, 1), "Variants[0].Evidence[2].Strength"},
		{"bad region", strings.Replace(string(base), `"End": 32400268`, `"End": 1`, 1), "Regions[0].End"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := report.ParseDraft(strings.NewReader(c.body))
			var fe *report.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v, want a FieldError", err)
			}
			if fe.Field != c.field {
				t.Errorf("field %q (%v), want %q", fe.Field, err, c.field)
			}
			if strings.Contains(err.Error(), "Doe") || strings.Contains(err.Error(), "01/04") {
				t.Errorf("error repeats a value: %v", err)
			}
		})
	}
	if _, err := report.ParseDraft(bytes.NewReader(base)); err != nil {
		t.Fatalf("the fixture: %v", err)
	}
}
