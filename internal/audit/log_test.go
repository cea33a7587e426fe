package audit_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clinomics/clinomics/internal/audit"
	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/keys"
)

var ctx = context.Background()

// openCatalog opens a fresh SQLite catalog; the path is for tampering.
func openCatalog(t *testing.T) (catalog.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "catalog.db")
	s, err := catalog.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func newSigner(t *testing.T) *audit.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return audit.NewSigner(priv)
}

// countingStore counts the transactions the Log commits.
type countingStore struct {
	catalog.Store
	batches atomic.Int64
}

func (c *countingStore) AppendAuditBatch(ctx context.Context, es []catalog.AuditEvent) ([]catalog.AuditEvent, error) {
	c.batches.Add(1)
	return c.Store.AppendAuditBatch(ctx, es)
}

func TestRecordGroupCommit(t *testing.T) {
	s, _ := openCatalog(t)
	cs := &countingStore{Store: s}
	signer := newSigner(t)
	l := audit.New(cs, signer, audit.Options{CheckpointEvery: 500})
	const writers, each = 16, 200
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				err := l.Record(ctx, audit.Event{Actor: fmt.Sprint("user:u", w), Action: "object.read", Resource: fmt.Sprint("r/", i),
					Patient: fmt.Sprint("P", i%7), Source: "10.0.0.1", Outcome: audit.OK})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	must(t, l.Close())
	res, err := audit.Verify(ctx, s, audit.VerifyOptions{Keys: []ed25519.PublicKey{signer.PublicKey()}})
	must(t, err)
	if !res.OK() || res.Records != writers*each || res.Unsigned != 0 || res.Checkpoints < writers*each/500 {
		t.Fatalf("after %d records: %+v", writers*each, res)
	}
	if n := cs.batches.Load(); n >= writers*each {
		t.Errorf("%d transactions for %d records: no group commit", n, writers*each)
	}
	if err := l.Record(ctx, audit.Event{Actor: "a", Action: "b", Outcome: audit.OK}); !errors.Is(err, audit.ErrClosed) {
		t.Errorf("Record after Close: %v, want ErrClosed", err)
	}
}

func TestRecordFailsClosed(t *testing.T) {
	s, _ := openCatalog(t)
	l := audit.New(s, nil, audit.Options{})
	defer l.Close()
	ok := audit.Event{Actor: "user:u1", Action: "object.read", Outcome: audit.OK}
	must(t, l.Record(ctx, ok))
	for _, bad := range []audit.Event{
		{Actor: "user:u1", Action: "object.read"},                   // no outcome
		{Actor: "user:u1", Action: "object.read", Outcome: "maybe"}, // unknown outcome
		{Action: "object.read", Outcome: audit.OK},                  // nobody
		{Actor: "user:u1\nforged line", Action: "x", Outcome: audit.OK},
		{Actor: "user:u1", Action: "x", Resource: strings.Repeat("r", 2000), Outcome: audit.OK},
		{Actor: "user:\xff", Action: "x", Outcome: audit.OK},
	} {
		if err := l.Record(ctx, bad); !errors.Is(err, audit.ErrInvalid) {
			t.Errorf("Record(%+v) = %v, want ErrInvalid", bad, err)
		}
	}
	// The database goes away: Record must fail, not pretend.
	must(t, s.Close())
	if err := l.Record(ctx, ok); err == nil {
		t.Fatal("Record succeeded with the catalog closed")
	}
}

func TestRecordCleansFreeText(t *testing.T) {
	s, _ := openCatalog(t)
	l := audit.New(s, nil, audit.Options{})
	must(t, l.Record(ctx, audit.Event{Actor: "user:u1", Action: "x", Outcome: audit.Error,
		Detail: "line1\nline2\x00\xff" + strings.Repeat("é", 2000), BreakGlass: "code\tblue"}))
	must(t, l.Close())
	evs, err := s.ListAudit(ctx, 0, 0)
	must(t, err)
	e := evs[0]
	if !strings.HasPrefix(e.Detail, "line1 line2 \uFFFDé") || len(e.Detail) > 2048 || !strings.HasSuffix(e.Detail, "é…") || e.BreakGlass != "code blue" {
		t.Errorf("detail %q (%d bytes), break-glass %q", e.Detail[:20], len(e.Detail), e.BreakGlass)
	}
}

func TestCheckpointAfterInterval(t *testing.T) {
	s, _ := openCatalog(t)
	l := audit.New(s, newSigner(t), audit.Options{CheckpointEvery: 1 << 30, CheckpointInterval: 50 * time.Millisecond})
	defer l.Close()
	for range 3 {
		must(t, l.Record(ctx, audit.Event{Actor: "user:u1", Action: "x", Outcome: audit.OK}))
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		cps, err := s.ListAuditCheckpoints(ctx)
		must(t, err)
		if len(cps) > 0 {
			if cps[len(cps)-1].Seq != 3 {
				t.Fatalf("checkpoints %+v, want one at seq 3", cps)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no checkpoint 10s after the records, with a 50ms interval")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestLoadSigner(t *testing.T) {
	s, path := openCatalog(t)
	kr, err := keys.OpenLocal(filepath.Join(t.TempDir(), "keyring"), "test passphrase")
	must(t, err)
	a, err := audit.LoadSigner(ctx, s, kr)
	must(t, err)
	b, err := audit.LoadSigner(ctx, s, kr)
	must(t, err)
	if a.KeyID() != b.KeyID() || !a.PublicKey().Equal(b.PublicKey()) {
		t.Fatalf("second load made another key: %s, %s", a.KeyID(), b.KeyID())
	}
	ks, err := s.ListAuditKeys(ctx)
	must(t, err)
	if len(ks) != 1 || ks[0].KeyName != audit.SigningKeyName || len(ks[0].Wrapped) == 0 || string(ks[0].Wrapped) == string(a.PublicKey()) {
		t.Fatalf("stored keys: %+v", ks)
	}
	pubs, err := audit.ParsePublicKeys(audit.PublicKeyPEM(a.PublicKey()))
	must(t, err)
	if len(pubs) != 1 || !pubs[0].Equal(a.PublicKey()) {
		t.Fatal("PEM round trip lost the key")
	}

	// Another keyring cannot unwrap the key.
	other, err := keys.OpenLocal(filepath.Join(t.TempDir(), "keyring"), "other")
	must(t, err)
	if _, err := audit.LoadSigner(ctx, s, other); err == nil {
		t.Error("a foreign keyring unwrapped the signing key")
	}
	// A public key swapped in the catalog is caught.
	db, err := sql.Open("sqlite", path)
	must(t, err)
	defer db.Close()
	_, evil, _ := ed25519.GenerateKey(rand.Reader)
	if _, err := db.Exec(`UPDATE audit_keys SET public_key = ?`, encodeB64(evil.Public().(ed25519.PublicKey))); err != nil {
		t.Fatal(err)
	}
	if _, err := audit.LoadSigner(ctx, s, kr); err == nil || !strings.Contains(err.Error(), "does not belong") {
		t.Errorf("swapped public key: %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
