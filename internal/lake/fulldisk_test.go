package lake

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/keys"
)

// TestFullDisk puts the local backend on a 6 MiB tmpfs: a put larger than
// that fails with ErrNoSpace and leaves nothing behind; an upload stopped
// by the full disk keeps its stored parts and completes once the
// filesystem is grown. It needs root, to mount the tmpfs.
func TestFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("full-disk test: needs root to mount a small tmpfs (scripts/test runs as root)")
	}
	ctx := context.Background()
	dir := t.TempDir()
	mnt := filepath.Join(dir, "lake")
	os.Mkdir(mnt, 0o700)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("full-disk test: cannot mount a tmpfs here: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	cat, err := catalog.Open(ctx, filepath.Join(dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	be, err := NewLocalFS(mnt)
	if err != nil {
		t.Fatal(err)
	}
	kr, err := keys.OpenLocal(filepath.Join(dir, "keyring"), "test passphrase")
	if err != nil {
		t.Fatal(err)
	}
	l := New(cat, be, kr, nil)

	big := data(9<<20, 1)
	_, err = l.Put(ctx, "full/a.fastq", bytes.NewReader(big), PutOptions{})
	if !errors.Is(err, ErrNoSpace) || !strings.Contains(err.Error(), "full") {
		t.Fatalf("put on a full disk: %v, want ErrNoSpace", err)
	}
	if _, _, err := l.Stat(ctx, "full/a.fastq"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a failed put is visible: %v", err)
	}
	if names, err := be.List(ctx, ""); err != nil || len(names) != 0 {
		t.Fatalf("blobs left behind: %v %v", names, err)
	}
	if staged, _ := filepath.Glob(filepath.Join(mnt, "staging", "objects", "*", "*")); len(staged) != 0 {
		t.Fatalf("staged parts left behind: %v", staged)
	}
	// The space of the failed put was given back.
	if _, err := l.Put(ctx, "full/small.fastq", bytes.NewReader(big[:512<<10]), PutOptions{}); err != nil {
		t.Fatalf("put after a failed one: %v", err)
	}

	// A resumable upload: stopped by the full disk, resumed after growing it.
	sum := sha256.Sum256(big)
	u, err := l.BeginUpload(ctx, "full/b.fastq", int64(len(big)), PutOptions{SHA256: hex.EncodeToString(sum[:])})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = l.WriteUpload(ctx, u.ID, 0, bytes.NewReader(big))
	if !errors.Is(err, ErrNoSpace) {
		t.Fatalf("upload on a full disk: %v, want ErrNoSpace", err)
	}
	u, err = l.Upload(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if u.Offset == 0 {
		t.Fatal("no part of the upload was kept")
	}
	if _, _, err := l.Stat(ctx, "full/b.fastq"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("an incomplete upload is visible: %v", err)
	}
	if out, err := exec.Command("mount", "-o", "remount,size=24m", mnt).CombinedOutput(); err != nil {
		t.Fatalf("growing the tmpfs: %v %s", err, out)
	}
	_, v, err := l.WriteUpload(ctx, u.ID, u.Offset, bytes.NewReader(big[u.Offset:]))
	if err != nil || v == nil {
		t.Fatalf("resumed upload: %v", err)
	}
	r, err := l.Open(ctx, "full/b.fastq")
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if _, err := got.ReadFrom(r); err != nil {
		t.Fatal(err)
	}
	r.Close()
	if !bytes.Equal(got.Bytes(), big) {
		t.Fatal("resumed upload differs from the file")
	}
	t.Logf("upload stopped at byte %d of %d by the full disk, then completed", u.Offset, len(big))
}
