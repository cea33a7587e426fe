package azurekv

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"testing"

	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/keys"
	"github.com/clinomics/clinomics/internal/lake"
)

// TestLakeOnKeyVault runs the lake's key life cycle with its keys in the
// (hand-written) vault: per-patient keys, rotation by re-wrapping, and
// crypto-shredding one patient while another stays readable.
func TestLakeOnKeyVault(t *testing.T) {
	ctx := context.Background()
	p, kv, _ := newTest(t, Options{})
	dir := t.TempDir()
	cat, err := catalog.Open(ctx, filepath.Join(dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	be, err := lake.NewLocalFS(filepath.Join(dir, "lake"))
	if err != nil {
		t.Fatal(err)
	}
	l := lake.New(cat, be, p, nil)
	a, b := bytes.Repeat([]byte("@read-of-patient-a\nACGT\n+\nIIII\n"), 5000), []byte("@read-of-patient-b\nACGT\n+\nIIII\n")
	if _, err := l.Put(ctx, "s/a.fastq", bytes.NewReader(a), lake.PutOptions{Patient: "A1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Put(ctx, "s/b.fastq", bytes.NewReader(b), lake.PutOptions{Patient: "B2"}); err != nil {
		t.Fatal(err)
	}
	vn, err := p.VaultKeyName(keys.PatientKey("A1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := kv.Key(vn); !ok {
		t.Fatal("no key for patient A1 in the vault")
	}
	if _, n, err := l.RotateKey(ctx, keys.PatientKey("A1")); err != nil || n != 1 {
		t.Fatalf("rotate: %d re-wrapped, %v", n, err)
	}
	if got := readAll(t, l, "s/a.fastq"); !bytes.Equal(got, a) {
		t.Fatal("object differs after rotation")
	}
	if n, err := l.Shred(ctx, "A1", "test"); err != nil || n != 1 {
		t.Fatalf("shred: %d, %v", n, err)
	}
	if _, err := l.Open(ctx, "s/a.fastq"); !errors.Is(err, lake.ErrUnreadable) || !errors.Is(err, keys.ErrDestroyed) {
		t.Fatalf("shredded patient's object: %v; want ErrUnreadable and ErrDestroyed", err)
	}
	if _, err := l.Put(ctx, "s/a2.fastq", bytes.NewReader(a), lake.PutOptions{Patient: "A1"}); !errors.Is(err, keys.ErrDestroyed) {
		t.Fatalf("new object for a shredded patient: %v; want ErrDestroyed", err)
	}
	if got := readAll(t, l, "s/b.fastq"); !bytes.Equal(got, b) {
		t.Fatal("the other patient's object is no longer readable")
	}
	rep, err := l.Scrub(ctx)
	if err != nil || len(rep.Bad) != 0 || rep.Skipped != 1 || rep.Versions != 1 {
		t.Fatalf("scrub: %+v, %v", rep, err)
	}
}

func readAll(t *testing.T, l *lake.Lake, path string) []byte {
	t.Helper()
	r, err := l.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
