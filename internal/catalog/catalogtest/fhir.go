package catalogtest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/clinomics/clinomics/internal/catalog"
)

// fhirResources checks the FHIR tables: insert and versioned replace
// (a writer with a stale version loses), Seq kept by updates, tokens
// replaced, search by id, token groups, time bounds, snapshot and page,
// all-or-nothing transactions, and persistence.
func fhirResources(t *testing.T, s catalog.Store, reopen func() catalog.Store) {
	t0 := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	tick := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }
	if _, err := s.GetFHIR(ctx, "Patient", "p1"); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("missing resource: %v", err)
	}
	if res, err := s.SearchFHIR(ctx, catalog.FHIRQuery{Type: "Patient", Limit: 10}); err != nil || res.Total != 0 || res.MaxSeq != 0 {
		t.Fatalf("empty search: %+v %v", res, err)
	}
	put := func(rows ...catalog.FHIRRow) error {
		return s.InFHIRTx(ctx, func(tx catalog.FHIRTx) error {
			for _, r := range rows {
				if _, err := tx.PutFHIR(ctx, r); err != nil {
					return err
				}
			}
			return nil
		})
	}
	must(t, put(
		catalog.FHIRRow{Type: "Patient", ID: "p1", Version: 1, Updated: tick(0), PatientID: "p1", Sealed: []byte("s-p1"), Tokens: []string{"h-mrn1"}},
		catalog.FHIRRow{Type: "Observation", ID: "o1", Version: 1, Updated: tick(1), PatientID: "p1", Sealed: []byte("s-o1"), Tokens: []string{"h-final", "h-code", "h-pat1"}},
		catalog.FHIRRow{Type: "Observation", ID: "o2", Version: 1, Updated: tick(2), PatientID: "p1", Sealed: []byte("s-o2"), Tokens: []string{"h-prelim", "h-code", "h-pat1"}},
	))
	must(t, put(catalog.FHIRRow{Type: "Observation", ID: "o3", Version: 1, Updated: tick(3), PatientID: "p2", Sealed: []byte("s-o3"), Tokens: []string{"h-final", "h-pat2", "h-pat2"}}))
	got, err := s.GetFHIR(ctx, "Observation", "o2")
	if err != nil || got.Version != 1 || got.Seq != 3 || got.PatientID != "p1" || string(got.Sealed) != "s-o2" || !got.Updated.Equal(tick(2)) {
		t.Fatalf("get: %+v %v", got, err)
	}
	// Versions: 1 only for a new resource, then each one more than the stored one.
	if err := put(catalog.FHIRRow{Type: "Observation", ID: "o2", Version: 1, Sealed: []byte("x")}); !errors.Is(err, catalog.ErrStale) {
		t.Errorf("second version 1: %v", err)
	}
	if err := put(catalog.FHIRRow{Type: "Observation", ID: "o2", Version: 3, Sealed: []byte("x")}); !errors.Is(err, catalog.ErrStale) {
		t.Errorf("version 3 over 1: %v", err)
	}
	if err := put(catalog.FHIRRow{Type: "Observation", ID: "o9", Version: 2, Sealed: []byte("x")}); !errors.Is(err, catalog.ErrStale) {
		t.Errorf("version 2 of a new resource: %v", err)
	}
	must(t, put(catalog.FHIRRow{Type: "Observation", ID: "o2", Version: 2, Updated: tick(10), PatientID: "p1", Sealed: []byte("s-o2-v2"), Tokens: []string{"h-final", "h-pat1"}}))
	got, _ = s.GetFHIR(ctx, "Observation", "o2")
	if got.Version != 2 || got.Seq != 3 || string(got.Sealed) != "s-o2-v2" {
		t.Errorf("updated: %+v", got)
	}
	// All or nothing.
	boom := errors.New("boom")
	err = s.InFHIRTx(ctx, func(tx catalog.FHIRTx) error {
		if _, err := tx.PutFHIR(ctx, catalog.FHIRRow{Type: "Patient", ID: "p9", Version: 1, Sealed: []byte("x"), Tokens: []string{"h-mrn1"}}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InFHIRTx: %v", err)
	}
	if _, err := s.GetFHIR(ctx, "Patient", "p9"); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("rolled-back resource: %v", err)
	}
	ids := func(res catalog.FHIRResult) string {
		var out []string
		for _, r := range res.Rows {
			out = append(out, r.ID)
		}
		return fmt.Sprint(out)
	}
	for _, c := range []struct {
		name  string
		q     catalog.FHIRQuery
		total int
		ids   string
	}{
		{"type", catalog.FHIRQuery{Type: "Observation", Limit: 10}, 3, "[o1 o2 o3]"},
		{"count only", catalog.FHIRQuery{Type: "Observation"}, 3, "[]"},
		{"token", catalog.FHIRQuery{Type: "Observation", Tokens: [][]string{{"h-final"}}, Limit: 10}, 3, "[o1 o2 o3]"},
		{"old token gone", catalog.FHIRQuery{Type: "Observation", Tokens: [][]string{{"h-prelim"}}, Limit: 10}, 0, "[]"},
		{"and of groups", catalog.FHIRQuery{Type: "Observation", Tokens: [][]string{{"h-final"}, {"h-pat1"}}, Limit: 10}, 2, "[o1 o2]"},
		{"or in a group", catalog.FHIRQuery{Type: "Observation", Tokens: [][]string{{"h-pat2", "h-code"}}, Limit: 10}, 2, "[o1 o3]"},
		{"empty group", catalog.FHIRQuery{Type: "Observation", Tokens: [][]string{{}}, Limit: 10}, 0, "[]"},
		{"ids", catalog.FHIRQuery{Type: "Observation", IDs: []string{"o3", "o1", "p1"}, Limit: 10}, 2, "[o1 o3]"},
		{"other type's token", catalog.FHIRQuery{Type: "Patient", Tokens: [][]string{{"h-final"}}, Limit: 10}, 0, "[]"},
		{"ge", catalog.FHIRQuery{Type: "Observation", Updated: []catalog.FHIRBound{{Op: "ge", T: tick(3)}}, Limit: 10}, 2, "[o2 o3]"},
		{"gt lt", catalog.FHIRQuery{Type: "Observation", Updated: []catalog.FHIRBound{{Op: "gt", T: tick(1)}, {Op: "lt", T: tick(10)}}, Limit: 10}, 1, "[o3]"},
		{"le", catalog.FHIRQuery{Type: "Observation", Updated: []catalog.FHIRBound{{Op: "le", T: tick(1)}}, Limit: 10}, 1, "[o1]"},
		{"snapshot", catalog.FHIRQuery{Type: "Observation", MaxSeq: 3, Limit: 10}, 2, "[o1 o2]"},
		{"page", catalog.FHIRQuery{Type: "Observation", Offset: 1, Limit: 1}, 3, "[o2]"},
		{"past the end", catalog.FHIRQuery{Type: "Observation", Offset: 5, Limit: 1}, 3, "[]"},
	} {
		res, err := s.SearchFHIR(ctx, c.q)
		if err != nil || res.Total != c.total || ids(res) != c.ids && !(c.ids == "[]" && len(res.Rows) == 0) {
			t.Errorf("%s: total %d %s %v, want %d %s", c.name, res.Total, ids(res), err, c.total, c.ids)
		}
		if want := c.q.MaxSeq; err == nil && (want == 0 && res.MaxSeq != 4 || want != 0 && res.MaxSeq != want) {
			t.Errorf("%s: snapshot %d", c.name, res.MaxSeq)
		}
	}
	if _, err := s.SearchFHIR(ctx, catalog.FHIRQuery{Type: "Observation", Updated: []catalog.FHIRBound{{Op: "eq", T: tick(1)}}}); err == nil {
		t.Error("an unknown bound was accepted")
	}
	// Reads in a transaction see the committed state.
	must(t, s.InFHIRTx(ctx, func(tx catalog.FHIRTx) error {
		if r, err := tx.GetFHIR(ctx, "Patient", "p1"); err != nil || r.Version != 1 {
			t.Errorf("get in a transaction: %+v %v", r, err)
		}
		res, err := tx.SearchFHIR(ctx, catalog.FHIRQuery{Type: "Patient", Tokens: [][]string{{"h-mrn1"}}, Limit: 5})
		if err != nil || res.Total != 1 || len(res.Rows) != 1 || res.Rows[0].ID != "p1" {
			t.Errorf("search in a transaction: %+v %v", res, err)
		}
		return nil
	}))
	// A new resource after an update gets the next Seq: updates do not use any.
	must(t, put(catalog.FHIRRow{Type: "Patient", ID: "p2", Version: 1, Updated: tick(20), PatientID: "p2", Sealed: []byte("s-p2")}))
	if r, _ := s.GetFHIR(ctx, "Patient", "p2"); r.Seq != 5 {
		t.Errorf("seq after an update: %d, want 5", r.Seq)
	}
	if reopen != nil {
		s2 := reopen()
		defer s2.Close()
		if r, err := s2.GetFHIR(ctx, "Observation", "o2"); err != nil || r.Version != 2 || string(r.Sealed) != "s-o2-v2" {
			t.Errorf("after reopen: %+v %v", r, err)
		}
		if res, err := s2.SearchFHIR(ctx, catalog.FHIRQuery{Type: "Observation", Tokens: [][]string{{"h-pat1"}}, Limit: 10}); err != nil || res.Total != 2 {
			t.Errorf("search after reopen: %+v %v", res, err)
		}
	}
}
