package catalogtest

import (
	"errors"
	"testing"
	"time"

	"github.com/clinomics/clinomics/internal/catalog"
)

// reports checks the report tables: insert, conditional update (stale
// writers lose), signed rows immutable but for superseding, the signoff
// record, filters, the one-amendment rule, and the outbox in the same
// transaction.
func reports(t *testing.T, s catalog.Store, _ func() catalog.Store) {
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	tick := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }
	if _, err := s.GetReport(ctx, "rpt-x"); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("missing report: %v", err)
	}
	tx := func(fn func(tx catalog.ReportTx) error) error { return s.InReportTx(ctx, fn) }
	must(t, tx(func(tx catalog.ReportTx) error {
		for _, r := range []catalog.ReportRow{
			{ID: "rpt-1", Status: "draft", Version: 1, PatientID: "p1", OrderID: "o1", Sealed: []byte("one"), Created: tick(0), Updated: tick(0)},
			{ID: "rpt-2", Status: "draft", Version: 1, PatientID: "p2", Sealed: []byte("two"), Created: tick(1), Updated: tick(1)},
		} {
			got, err := tx.InsertReport(ctx, r)
			if err != nil {
				return err
			}
			if got.ContentHash == "" {
				t.Error("no content hash")
			}
		}
		return nil
	}))
	if err := tx(func(tx catalog.ReportTx) error {
		_, err := tx.InsertReport(ctx, catalog.ReportRow{ID: "rpt-1", Status: "draft", Sealed: []byte("dup"), Created: tick(2), Updated: tick(2)})
		return err
	}); err == nil {
		t.Error("a second report with the same id was stored")
	}
	r, err := s.GetReport(ctx, "rpt-1")
	if err != nil || r.PatientID != "p1" || r.OrderID != "o1" || string(r.Sealed) != "one" || !r.Updated.Equal(tick(0)) || !r.Signed.IsZero() {
		t.Fatalf("get: %+v %v", r, err)
	}
	// A writer with an old Updated loses.
	update := func(r catalog.ReportRow, prev time.Time) error {
		return tx(func(tx catalog.ReportTx) error { _, err := tx.UpdateReport(ctx, r, prev); return err })
	}
	r.Sealed, r.Status, r.Updated = []byte("one, reviewed"), "reviewed", tick(5)
	must(t, update(r, tick(0)))
	r.Sealed, r.Updated = []byte("late"), tick(6)
	if err := update(r, tick(0)); !errors.Is(err, catalog.ErrStale) {
		t.Fatalf("stale update: %v", err)
	}
	// Sign, with a hook-style outbox item in the same transaction.
	r.Sealed, r.Status, r.Updated, r.Signed = []byte("one, signed"), catalog.ReportSigned, tick(7), tick(7)
	must(t, tx(func(tx catalog.ReportTx) error {
		if _, err := tx.UpdateReport(ctx, r, tick(5)); err != nil {
			return err
		}
		_, err := tx.PutOutbox(ctx, catalog.OutboxItem{ID: "ob-1", Destination: "ehr", Kind: "fhir", PatientID: "p1", Sealed: []byte("x")})
		return err
	}))
	if o, err := s.GetOutbox(ctx, "ob-1"); err != nil || o.Seq != 1 || o.State != catalog.OutboxPending {
		t.Errorf("outbox item queued with the signing: %+v %v", o, err)
	}
	// An outbox item of a rolled-back transaction is not queued.
	boom := errors.New("boom")
	if err := tx(func(tx catalog.ReportTx) error {
		tx.PutOutbox(ctx, catalog.OutboxItem{ID: "ob-2", Destination: "ehr", Sealed: []byte("x")})
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("InReportTx returned %v", err)
	}
	if _, err := s.GetOutbox(ctx, "ob-2"); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("rolled-back outbox item: %v", err)
	}
	// A signed report's content never changes; superseding is its one change.
	signed, err := s.GetReport(ctx, "rpt-1")
	must(t, err)
	if !signed.Signed.Equal(tick(7)) {
		t.Errorf("signed at %v", signed.Signed)
	}
	bad := signed
	bad.Sealed, bad.Updated = []byte("rewritten"), tick(8)
	if err := update(bad, signed.Updated); !errors.Is(err, catalog.ErrImmutable) {
		t.Errorf("content update of a signed report: %v", err)
	}
	bad = signed
	bad.Status, bad.Updated = "draft", tick(8)
	if err := update(bad, signed.Updated); !errors.Is(err, catalog.ErrImmutable) {
		t.Errorf("un-signing: %v", err)
	}
	sup := signed
	sup.Status, sup.Updated = catalog.ReportSuperseded, tick(9)
	must(t, update(sup, signed.Updated))
	got, err := s.GetReport(ctx, "rpt-1")
	if err != nil || got.Status != catalog.ReportSuperseded || string(got.Sealed) != "one, signed" || got.ContentHash != signed.ContentHash {
		t.Errorf("superseded: %+v %v", got, err)
	}
	back := got
	back.Status, back.Updated = catalog.ReportSigned, tick(10)
	if err := update(back, got.Updated); !errors.Is(err, catalog.ErrImmutable) {
		t.Errorf("un-superseding: %v", err)
	}
	// One amendment per report.
	must(t, tx(func(tx catalog.ReportTx) error {
		_, err := tx.InsertReport(ctx, catalog.ReportRow{ID: "rpt-3", Status: "draft", Amends: "rpt-1", Version: 2, PatientID: "p1", Sealed: []byte("three"), Created: tick(11), Updated: tick(11)})
		return err
	}))
	err = tx(func(tx catalog.ReportTx) error {
		_, err := tx.InsertReport(ctx, catalog.ReportRow{ID: "rpt-4", Status: "draft", Amends: "rpt-1", Version: 2, PatientID: "p1", Sealed: []byte("four"), Created: tick(12), Updated: tick(12)})
		if !errors.Is(err, catalog.ErrStale) {
			t.Errorf("second amendment: %v, want ErrStale", err)
		}
		// The transaction is still usable after the refused insert.
		_, err = tx.GetReport(ctx, "rpt-3")
		return err
	})
	must(t, err)
	// Filters.
	for _, c := range []struct {
		f    catalog.ReportFilter
		want []string
	}{
		{catalog.ReportFilter{}, []string{"rpt-1", "rpt-2", "rpt-3"}},
		{catalog.ReportFilter{PatientID: "p1"}, []string{"rpt-1", "rpt-3"}},
		{catalog.ReportFilter{Status: "draft"}, []string{"rpt-2", "rpt-3"}},
		{catalog.ReportFilter{Amends: "rpt-1"}, []string{"rpt-3"}},
		{catalog.ReportFilter{SignedAfter: tick(6)}, []string{"rpt-1"}},
		{catalog.ReportFilter{SignedAfter: tick(7)}, nil},
		{catalog.ReportFilter{Limit: 1}, []string{"rpt-1"}},
	} {
		rows, err := s.ListReports(ctx, c.f)
		must(t, err)
		var ids []string
		for _, r := range rows {
			ids = append(ids, r.ID)
		}
		if len(ids) != len(c.want) || (len(ids) > 0 && ids[0] != c.want[0]) || (len(ids) > 1 && ids[len(ids)-1] != c.want[len(c.want)-1]) {
			t.Errorf("list %+v: %v, want %v", c.f, ids, c.want)
		}
	}
}
