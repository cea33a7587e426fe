package catalog_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/catalog/catalogtest"
	"github.com/clinomics/clinomics/internal/testtools"
)

func TestSQLite(t *testing.T) {
	catalogtest.Run(t, func(t *testing.T) (catalog.Store, func() catalog.Store) {
		path := filepath.Join(t.TempDir(), "catalog.db")
		open := func() catalog.Store {
			s, err := catalog.Open(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}
		return open(), open
	})
}

// TestPostgreSQL runs the suite against a real server; scripts/test starts
// one and sets CLINOMICS_TEST_POSTGRES to its DSN. Each case gets its own
// schema, so cases start empty.
func TestPostgreSQL(t *testing.T) {
	catalogtest.Run(t, func(t *testing.T) (catalog.Store, func() catalog.Store) {
		sdsn := testtools.PostgresSchema(t, "ct")
		open := func() catalog.Store {
			s, err := catalog.Open(context.Background(), sdsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}
		return open(), open
	})
}

func TestMigrationsRecordedOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	for range 3 {
		s, err := catalog.Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n, v int
	if err := db.QueryRow(`SELECT COUNT(*), MAX(version) FROM schema_migrations`).Scan(&n, &v); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("migrations/*.sql")
	versions := map[string]bool{} // a version may have a file for each dialect
	for _, f := range files {
		versions[strings.SplitN(filepath.Base(f), "_", 2)[0]] = true
	}
	if n != len(versions) || v != len(versions) {
		t.Errorf("schema_migrations has %d rows, max version %d; want %d, %[3]d", n, v, len(versions))
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := catalog.Open(context.Background(), filepath.Join(t.TempDir(), "no", "such", "dir", "c.db")); err == nil {
		t.Error("SQLite in a missing directory: no error")
	}
	_, err := catalog.Open(context.Background(), "postgres://u:s3cret@127.0.0.1:1/db?sslmode=disable&connect_timeout=2")
	if err == nil {
		t.Fatal("unreachable PostgreSQL: no error")
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error leaks the password: %v", err)
	}
}
