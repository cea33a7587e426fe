package server_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/clinical"
	"github.com/clinomics/clinomics/internal/fhir/server"
	"github.com/clinomics/clinomics/internal/fhir/server/servertest"
	"github.com/clinomics/clinomics/internal/keys"
	"github.com/clinomics/clinomics/internal/testtools"
)

func init() { keys.DefaultKDF.MemoryKiB = 8 * 1024 } // fast tests; production uses 64 MiB

// openSealed opens the sealed store over a catalog at dsn, with the
// clinical data key wrapped by a local keyring in dir.
func openSealed(t *testing.T, dsn, dir string) (*server.SealedStore, catalog.Store) {
	t.Helper()
	ctx := context.Background()
	st, err := catalog.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	kr, err := keys.OpenLocal(filepath.Join(dir, "keyring"), "test")
	if err != nil {
		t.Fatal(err)
	}
	db, err := clinical.Open(ctx, st, kr)
	if err != nil {
		t.Fatal(err)
	}
	return server.NewSealed(st, db), st
}

func TestSealedStoreConformance(t *testing.T) {
	servertest.Run(t, func(t *testing.T) server.WritableStore {
		dir := t.TempDir()
		s, _ := openSealed(t, filepath.Join(dir, "catalog.db"), dir)
		return s
	})
}

// TestSealedStoreConformancePostgreSQL runs the suite over PostgreSQL;
// scripts/test starts one and sets CLINOMICS_TEST_POSTGRES.
func TestSealedStoreConformancePostgreSQL(t *testing.T) {
	servertest.Run(t, func(t *testing.T) server.WritableStore {
		s, _ := openSealed(t, testtools.PostgresSchema(t, "fs"), t.TempDir())
		return s
	})
}

// TestSealedStoreHoldsNoPHI puts resources holding a marker (an MRN, a
// name, a result) and searches by it; the marker is then in no file of
// the SQLite catalog (database, WAL, shared memory).
func TestSealedStoreHoldsNoPHI(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, _ := openSealed(t, filepath.Join(dir, "catalog.db"), dir)
	const marker = "ZQXMARKER4711"
	err := server.Put(ctx, s, time.Now(),
		[]byte(`{"resourceType":"Patient","id":"p1","identifier":[{"system":"urn:mrn","value":"`+marker+`"}],"name":[{"family":"`+marker+`"}]}`),
		[]byte(`{"resourceType":"Observation","id":"o1","status":"final","code":{"coding":[{"system":"urn:`+marker+`","code":"`+marker+`"}]},"subject":{"reference":"Patient/p1"},"valueString":"`+marker+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Search(ctx, server.Query{Type: "Patient", Tokens: [][]string{{"identifier|sv=urn:mrn|" + marker}}, Limit: 5})
	if err != nil || res.Total != 1 || !bytes.Contains(res.Records[0].Body, []byte(marker)) {
		t.Fatalf("search by the marker: %+v %v", res, err)
	}
	if res, _ := s.Search(ctx, server.Query{Type: "Observation", Tokens: [][]string{{"code|v=" + marker}, {"patient=Patient/p1"}}, Limit: 5}); res.Total != 1 {
		t.Fatalf("observation by code and patient: %d", res.Total)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "catalog.db*"))
	if len(files) < 2 {
		t.Fatalf("catalog files: %v (want the database and its WAL)", files)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(marker)) || bytes.Contains(bytes.ToLower(b), bytes.ToLower([]byte(marker))) {
			t.Errorf("%s holds the marker", filepath.Base(f))
		}
	}
}

// TestSealedStoreTamper: a row whose sealed content is another row's (or
// an older version's) is refused, as is one changed in place.
func TestSealedStoreTamper(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "catalog.db")
	s, _ := openSealed(t, path, dir)
	now := time.Now()
	if err := server.Put(ctx, s, now, []byte(`{"resourceType":"Patient","id":"a"}`), []byte(`{"resourceType":"Patient","id":"b"}`)); err != nil {
		t.Fatal(err)
	}
	if err := server.Put(ctx, s, now, []byte(`{"resourceType":"Patient","id":"b","active":true}`)); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// b's sealed content swapped for a's.
	if _, err := db.Exec(`UPDATE fhir_resources SET sealed = (SELECT sealed FROM fhir_resources WHERE id = 'a') WHERE id = 'b'`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "Patient", "b"); !errors.Is(err, server.ErrTampered) {
		t.Errorf("swapped content: %v", err)
	}
	if _, err := s.Search(ctx, server.Query{Type: "Patient", Limit: 10}); !errors.Is(err, server.ErrTampered) {
		t.Errorf("search over swapped content: %v", err)
	}
	// a's row claiming version 2 with its version 1 content.
	if _, err := db.Exec(`UPDATE fhir_resources SET version = 2 WHERE id = 'a'`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "Patient", "a"); !errors.Is(err, server.ErrTampered) {
		t.Errorf("rolled-back version: %v", err)
	}
}
