package lake

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/keys"
)

func init() { keys.DefaultKDF.MemoryKiB = 8 * 1024 }

type fixture struct {
	*Lake
	dir string
	cat catalog.Store
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	dir := t.TempDir()
	cat, err := catalog.Open(context.Background(), filepath.Join(dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	be, err := NewLocalFS(filepath.Join(dir, "lake"))
	if err != nil {
		t.Fatal(err)
	}
	kr, err := keys.OpenLocal(filepath.Join(dir, "keyring"), "test passphrase")
	if err != nil {
		t.Fatal(err)
	}
	return fixture{New(cat, be, kr, nil), dir, cat}
}

func data(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func readAll(t *testing.T, r *Reader, err error) []byte {
	t.Helper()
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

func TestPutOpenSizes(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, n := range []int{0, 1, ChunkSize - 1, ChunkSize, ChunkSize + 1, PartSize, PartSize + 1, 2*PartSize + 5} {
		want := data(n, uint64(n))
		path := "t/size-" + strings.Repeat("x", n%7) + hex.EncodeToString([]byte{byte(n), byte(n >> 8), byte(n >> 16)})
		v, err := f.Put(ctx, path, bytes.NewReader(want), PutOptions{Patient: "p1"})
		if err != nil {
			t.Fatalf("put %d: %v", n, err)
		}
		sum := sha256.Sum256(want)
		if v.Size != int64(n) || v.SHA256 != hex.EncodeToString(sum[:]) || v.StoredSize != storedSize(int64(n)) || v.KeyName != "patient-p1" {
			t.Fatalf("version = %+v", v)
		}
		r, err := f.Open(ctx, path)
		if got := readAll(t, r, err); !bytes.Equal(got, want) {
			t.Fatalf("size %d: read back %d bytes, differ", n, len(got))
		}
		// Range reads anywhere, including across chunk and part edges.
		for i := 0; i < 20 && n > 0; i++ {
			off := rand.IntN(n)
			ln := rand.IntN(n - off + 1)
			r, err := f.ReadRange(ctx, path, int64(off), int64(ln))
			if got := readAll(t, r, err); !bytes.Equal(got, want[off:off+ln]) {
				t.Fatalf("size %d range %d+%d differs", n, off, ln)
			}
		}
	}
	if _, err := f.ReadRange(ctx, "t/size-\x01\x00\x00", 0, 5); err == nil {
		t.Fatal("range past the end of a 1-byte object accepted")
	}
}

func TestNoPlaintextInBackend(t *testing.T) {
	f := newFixture(t)
	marker := []byte("PATIENT-MARKER-7f3a9c")
	body := bytes.Repeat(append(marker, '\n'), 50000)
	if _, err := f.Put(context.Background(), "p/marker.fastq", bytes.NewReader(body), PutOptions{Patient: "p9"}); err != nil {
		t.Fatal(err)
	}
	filepath.WalkDir(f.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := os.ReadFile(p)
		if bytes.Contains(b, marker) {
			t.Errorf("%s holds the plaintext marker", p)
		}
		return nil
	})
}

func TestVersionsAndIntegrity(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	v1, err := f.Put(ctx, "s/a.vcf", strings.NewReader("one"), PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	big := data(3*ChunkSize, 3)
	v2, err := f.Put(ctx, "s/a.vcf", bytes.NewReader(big), PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if vs, _ := f.Versions(ctx, "s/a.vcf"); len(vs) != 2 {
		t.Fatalf("%d versions", len(vs))
	}
	r, err := f.OpenVersion(ctx, v1.ID)
	if got := readAll(t, r, err); string(got) != "one" {
		t.Fatalf("old version = %q", got)
	}
	// Corrupt one byte of the second chunk of the current version.
	blob := filepath.Join(f.dir, "lake", "hot", v2.Blob)
	raw, _ := os.ReadFile(blob)
	raw[sealedChunk+100] ^= 0x40
	os.WriteFile(blob, raw, 0o600)
	r, err = f.Open(ctx, "s/a.vcf")
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(r)
	if !errors.Is(err, ErrIntegrity) || !strings.Contains(err.Error(), "s/a.vcf") || !strings.Contains(err.Error(), "chunk 1") {
		t.Fatalf("corrupted read: %v", err)
	}
	// A range in the first chunk still reads; one over the bad chunk fails.
	r, err = f.ReadRange(ctx, "s/a.vcf", 10, 100)
	if got := readAll(t, r, err); !bytes.Equal(got, big[10:110]) {
		t.Fatal("good range differs")
	}
	// Truncation is caught before any read.
	os.WriteFile(blob, raw[:len(raw)-1], 0o600)
	if _, err := f.Open(ctx, "s/a.vcf"); !errors.Is(err, ErrIntegrity) {
		t.Fatalf("truncated: %v", err)
	}
	os.WriteFile(blob, raw, 0o600)
	rep, err := f.Scrub(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Versions != 2 || len(rep.Bad) != 1 || !strings.Contains(rep.Bad[0], v2.ID) {
		t.Fatalf("scrub = %+v", rep)
	}
	got, _ := f.cat.GetObjectVersion(ctx, v2.ID)
	if got.VerifyError == "" || got.Verified.IsZero() {
		t.Fatalf("scrub result not recorded: %+v", got)
	}
	// An orphan blob (committed, never recorded) is reported.
	f.be.WritePart(ctx, "objects/zz/vzzzz", 0, storedPart, []byte("x"))
	f.be.Commit(ctx, "objects/zz/vzzzz", 1)
	if rep, _ := f.Scrub(ctx); len(rep.Orphans) != 1 {
		t.Fatalf("orphans = %v", rep.Orphans)
	}
}

type failAfter struct {
	r io.Reader
	n int
}

func (f *failAfter) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("connection reset")
	}
	p = p[:min(len(p), f.n)]
	n, err := f.r.Read(p)
	f.n -= n
	return n, err
}

func TestPutFailureLeavesNothing(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_, err := f.Put(ctx, "x/y.bam", &failAfter{bytes.NewReader(data(3*PartSize, 1)), PartSize + 10}, PutOptions{})
	if err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("err = %v", err)
	}
	if _, _, err := f.Stat(ctx, "x/y.bam"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("failed put visible: %v", err)
	}
	left, _ := filepath.Glob(filepath.Join(f.dir, "lake", "staging", "objects", "*", "*"))
	if len(left) != 0 {
		t.Fatalf("staging left behind: %v", left)
	}
	sum := sha256.Sum256([]byte("other"))
	if _, err := f.Put(ctx, "x/z", strings.NewReader("data"), PutOptions{SHA256: hex.EncodeToString(sum[:])}); !errors.Is(err, ErrChecksum) {
		t.Fatalf("checksum: %v", err)
	}
	if _, _, err := f.Stat(ctx, "x/z"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("mismatched put visible: %v", err)
	}
	for _, p := range []string{"", "/abs", "a//b", "a/../b", "a/", "a\x00b"} {
		if _, err := f.Put(ctx, p, strings.NewReader("x"), PutOptions{}); err == nil {
			t.Errorf("path %q accepted", p)
		}
	}
}

func TestResumableUpload(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	body := data(3*PartSize+777, 9)
	sum := sha256.Sum256(body)
	u, err := f.BeginUpload(ctx, "runs/r1/S1_R1.fastq.gz", int64(len(body)), PutOptions{Patient: "p2", SHA256: hex.EncodeToString(sum[:])})
	if err != nil {
		t.Fatal(err)
	}
	// The connection breaks in the middle of the second part.
	u, v, err := f.WriteUpload(ctx, u.ID, 0, bytes.NewReader(body[:PartSize+1000]))
	if err != nil || v != nil {
		t.Fatalf("first request: %v, %v", v, err)
	}
	if u.Offset != PartSize {
		t.Fatalf("offset after a cut = %d, want %d", u.Offset, PartSize)
	}
	if _, _, err := f.Stat(ctx, "runs/r1/S1_R1.fastq.gz"); !errors.Is(err, ErrNotFound) {
		t.Fatal("partial upload visible")
	}
	// A client that lost track is told where to resume.
	if _, _, err := f.WriteUpload(ctx, u.ID, 0, bytes.NewReader(body)); !errors.Is(err, ErrOffset) {
		t.Fatalf("wrong offset: %v", err)
	}
	// Reopen everything, as after a server restart.
	f2 := New(f.cat, f.be, f.keys, nil)
	st, err := f2.Upload(ctx, u.ID)
	if err != nil || st.Offset != PartSize {
		t.Fatalf("status = %+v, %v", st, err)
	}
	_, v, err = f2.WriteUpload(ctx, u.ID, st.Offset, bytes.NewReader(body[st.Offset:]))
	if err != nil || v == nil {
		t.Fatalf("finish: %v, %v", v, err)
	}
	r, err := f2.Open(ctx, "runs/r1/S1_R1.fastq.gz")
	if got := readAll(t, r, err); !bytes.Equal(got, body) {
		t.Fatal("uploaded object differs")
	}
	if _, err := f2.Upload(ctx, u.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("finished upload still listed: %v", err)
	}
	// Declared checksum that the data does not match: nothing committed.
	u2, _ := f.BeginUpload(ctx, "x/bad", 5, PutOptions{SHA256: hex.EncodeToString(sum[:])})
	if _, _, err := f.WriteUpload(ctx, u2.ID, 0, strings.NewReader("hello")); !errors.Is(err, ErrChecksum) {
		t.Fatalf("bad checksum: %v", err)
	}
	if _, _, err := f.Stat(ctx, "x/bad"); !errors.Is(err, ErrNotFound) {
		t.Fatal("mismatched upload visible")
	}
	u3, _ := f.BeginUpload(ctx, "x/long", 3, PutOptions{})
	if _, _, err := f.WriteUpload(ctx, u3.ID, 0, strings.NewReader("toolong")); err == nil {
		t.Fatal("more data than declared accepted")
	}
	u4, _ := f.BeginUpload(ctx, "x/empty", 0, PutOptions{})
	if _, v, err := f.WriteUpload(ctx, u4.ID, 0, strings.NewReader("")); err != nil || v == nil || v.Size != 0 {
		t.Fatalf("empty upload: %v, %v", v, err)
	}
}

func TestRetentionAndHolds(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.now = func() time.Time { return now }
	f.Put(ctx, "a", strings.NewReader("a"), PutOptions{})
	f.Put(ctx, "b", strings.NewReader("b"), PutOptions{})
	if err := f.Hold(ctx, "a", "case 2026-17"); err != nil {
		t.Fatal(err)
	}
	if err := f.Delete(ctx, "a"); !errors.Is(err, ErrHeld) || !strings.Contains(err.Error(), "case 2026-17") {
		t.Fatalf("delete held: %v", err)
	}
	f.Release(ctx, "a")
	if err := f.Retain(ctx, "a", now.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := f.Retain(ctx, "a", now.Add(time.Hour)); !errors.Is(err, ErrRetained) {
		t.Fatalf("shortened retention: %v", err)
	}
	if err := f.Delete(ctx, "a"); !errors.Is(err, ErrRetained) {
		t.Fatalf("delete retained: %v", err)
	}
	now = now.Add(25 * time.Hour)
	if err := f.Delete(ctx, "a"); err != nil {
		t.Fatalf("delete after retention: %v", err)
	}
	if _, err := f.Open(ctx, "a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted object readable: %v", err)
	}
	if l, _ := f.List(ctx, "", false); len(l) != 1 {
		t.Fatalf("list = %v", l)
	}
	if err := f.Undelete(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	r, err := f.Open(ctx, "a")
	if got := readAll(t, r, err); string(got) != "a" {
		t.Fatalf("undeleted = %q", got)
	}
	f.Delete(ctx, "b")
	if n, _ := f.Purge(ctx); n != 0 {
		t.Fatalf("purged %d inside the window", n)
	}
	now = now.Add(f.Retention + time.Hour)
	if n, err := f.Purge(ctx); n != 1 || err != nil {
		t.Fatalf("purge = %d, %v", n, err)
	}
	if err := f.Undelete(ctx, "b"); err == nil {
		t.Fatal("undeleted a purged object")
	}
	evs, _ := f.cat.ListAudit(ctx, 0, 0)
	var actions []string
	for _, e := range evs {
		actions = append(actions, e.Action+":"+e.Outcome)
	}
	if !strings.Contains(strings.Join(actions, " "), "lake.delete:refused") {
		t.Fatalf("audit = %v", actions)
	}
}

func TestTiering(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	now := time.Now()
	f.now = func() time.Time { return now }
	f.Put(ctx, "s/r1.fastq.gz", strings.NewReader("reads"), PutOptions{})
	f.Put(ctx, "s/calls.vcf.gz", strings.NewReader("calls"), PutOptions{})
	rules := []TierRule{{Kind: "fastq", After: 30 * 24 * time.Hour, Tier: TierArchive}}
	if n, _ := f.ApplyTiering(ctx, rules); n != 0 {
		t.Fatalf("moved %d too early", n)
	}
	now = now.Add(31 * 24 * time.Hour)
	if n, err := f.ApplyTiering(ctx, rules); n != 1 || err != nil {
		t.Fatalf("tiering = %d, %v", n, err)
	}
	_, v, _ := f.Stat(ctx, "s/r1.fastq.gz")
	if v.Tier != "archive" {
		t.Fatalf("tier = %s", v.Tier)
	}
	if _, err := os.Stat(filepath.Join(f.dir, "lake", "archive", v.Blob)); err != nil {
		t.Fatal(err)
	}
	r, err := f.Open(ctx, "s/r1.fastq.gz")
	if got := readAll(t, r, err); string(got) != "reads" {
		t.Fatalf("archived read = %q", got)
	}
}

func TestRotateAndShred(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	v, _ := f.Put(ctx, "p/a", strings.NewReader("alpha"), PutOptions{Patient: "p7"})
	f.Put(ctx, "p/b", strings.NewReader("beta"), PutOptions{Patient: "p8"})
	blob, _ := os.ReadFile(filepath.Join(f.dir, "lake", "hot", v.Blob))
	ver, n, err := f.RotateKey(ctx, "patient-p7")
	if err != nil || n != 1 {
		t.Fatalf("rotate = %s, %d, %v", ver, n, err)
	}
	got, _ := f.cat.GetObjectVersion(ctx, v.ID)
	if got.KeyVersion != ver || bytes.Equal(got.WrappedKey, v.WrappedKey) {
		t.Fatalf("not re-wrapped: %+v", got)
	}
	if after, _ := os.ReadFile(filepath.Join(f.dir, "lake", "hot", v.Blob)); !bytes.Equal(after, blob) {
		t.Fatal("rotation re-encrypted the data")
	}
	r, err := f.Open(ctx, "p/a")
	if b := readAll(t, r, err); string(b) != "alpha" {
		t.Fatalf("after rotation = %q", b)
	}
	f.Hold(ctx, "p/a", "litigation")
	if _, err := f.Shred(ctx, "p7", "erasure request"); !errors.Is(err, ErrHeld) {
		t.Fatalf("shred under hold: %v", err)
	}
	f.Release(ctx, "p/a")
	if n, err := f.Shred(ctx, "p7", "erasure request"); err != nil || n != 1 {
		t.Fatalf("shred = %d, %v", n, err)
	}
	if _, err := f.Open(ctx, "p/a"); !errors.Is(err, ErrUnreadable) || !errors.Is(err, keys.ErrDestroyed) {
		t.Fatalf("shredded read: %v", err)
	}
	r, err = f.Open(ctx, "p/b")
	if b := readAll(t, r, err); string(b) != "beta" {
		t.Fatal("another patient's data was affected")
	}
	evs, _ := f.cat.ListAudit(ctx, 0, 0)
	last := evs[len(evs)-1]
	if last.Action != "key.shred" || last.Patient != "p7" || last.Outcome != "ok" {
		t.Fatalf("audit = %+v", last)
	}
	if rep, _ := f.Scrub(ctx); len(rep.Bad) != 0 || rep.Skipped != 1 {
		t.Fatalf("scrub after shred = %+v", rep)
	}
}

func TestWrongKeyring(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.Put(ctx, "a", strings.NewReader("secret"), PutOptions{})
	other, err := keys.OpenLocal(filepath.Join(t.TempDir(), "keyring"), "another")
	if err != nil {
		t.Fatal(err)
	}
	l2 := New(f.cat, f.be, other, nil)
	if _, err := l2.Open(ctx, "a"); !errors.Is(err, ErrUnreadable) {
		t.Fatalf("other keyring: %v", err)
	}
}
