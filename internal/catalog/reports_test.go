package catalog_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/testtools"
)

// TestSignedReportTamperDetected changes a signed report's content with a
// direct UPDATE, as someone with database access but not the API could:
// the catalog no longer returns it.
func TestSignedReportTamperDetected(t *testing.T) {
	t.Run("SQLite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "c.db")
		tamper(t, path, "sqlite", path, "?")
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		sdsn := testtools.PostgresSchema(t, "rt")
		tamper(t, sdsn, "pgx", sdsn, "$")
	})
}

func tamper(t *testing.T, dsn, driver, raw, ph string) {
	ctx := context.Background()
	s, err := catalog.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	err = s.InReportTx(ctx, func(tx catalog.ReportTx) error {
		for _, id := range []string{"rpt-a", "rpt-b"} {
			if _, err := tx.InsertReport(ctx, catalog.ReportRow{ID: id, Status: "reviewed", Version: 1, PatientID: "p1", Sealed: []byte("content of " + id), Created: t0, Updated: t0}); err != nil {
				return err
			}
		}
		r, err := tx.GetReport(ctx, "rpt-a")
		if err != nil {
			return err
		}
		r.Status, r.Updated, r.Signed = catalog.ReportSigned, t0.Add(time.Second), t0.Add(time.Second)
		_, err = tx.UpdateReport(ctx, r, t0)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open(driver, raw)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q := func(s string) string {
		if ph == "$" {
			for i := 1; strings.Contains(s, "?"); i++ {
				s = strings.Replace(s, "?", fmt.Sprintf("$%d", i), 1)
			}
		}
		return s
	}
	// Copy another report's content and hash over the signed one's: the
	// row is self-consistent, but not what was signed.
	var sealed, hash string
	if err := db.QueryRow(q(`SELECT sealed, content_hash FROM reports WHERE id = ?`), "rpt-b").Scan(&sealed, &hash); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(q(`UPDATE reports SET sealed = ?, content_hash = ? WHERE id = ?`), sealed, hash, "rpt-a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetReport(ctx, "rpt-a"); !errors.Is(err, catalog.ErrTampered) {
		t.Errorf("get of the altered signed report: %v, want ErrTampered", err)
	}
	if _, err := s.ListReports(ctx, catalog.ReportFilter{PatientID: "p1"}); !errors.Is(err, catalog.ErrTampered) {
		t.Errorf("list: %v, want ErrTampered", err)
	}
	if _, err := s.GetReport(ctx, "rpt-b"); err != nil {
		t.Errorf("the untouched report: %v", err)
	}
}
