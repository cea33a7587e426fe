package azureblob

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/keys"
	"github.com/clinomics/clinomics/internal/lake"
)

func init() { keys.DefaultKDF.MemoryKiB = 8 * 1024 } // fast tests; production uses 64 MiB

// filesHolding lists the files under dir that contain marker.
func filesHolding(t *testing.T, dir string, marker []byte) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.Contains(b, marker) {
			found = append(found, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// TestLakeOverAzurite stores a FASTQ through the lake on Azurite, reads it
// back, and finds no plaintext anywhere in Azurite's storage folder (where
// it does find the blob's ciphertext); then stores the marker unencrypted
// straight through the backend and finds it there, so the search is known
// to see what Azurite stores.
func TestLakeOverAzurite(t *testing.T) {
	cs := azurite(t)
	dir := os.Getenv("CLINOMICS_TEST_AZURITE_DIR")
	if dir == "" {
		t.Skip("CLINOMICS_TEST_AZURITE_DIR not set: skipping the plaintext search of Azurite's storage")
	}
	ctx := context.Background()
	tmp := t.TempDir()
	cat, err := catalog.Open(ctx, filepath.Join(tmp, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	kr, err := keys.OpenLocal(filepath.Join(tmp, "keyring"), "test passphrase")
	if err != nil {
		t.Fatal(err)
	}
	be := newBackend(t, cs, policy.RetryOptions{})
	l := lake.New(cat, be, kr, nil)

	marker := []byte("CLINOMICS-MARKER-" + randHex(8)) // unique per run: the folder outlives it
	var fq bytes.Buffer
	for i := 0; fq.Len() < 2*lake.PartSize+12345; i++ { // three parts
		fmt.Fprintf(&fq, "@read%d %s\n%s\n+\n%s\n", i, marker, strings.Repeat("ACGTTGCA", 19), strings.Repeat("I", 152))
	}
	v, err := l.Put(ctx, "samples/s1/s1_R1.fastq", bytes.NewReader(fq.Bytes()), lake.PutOptions{Patient: "p1"})
	if err != nil {
		t.Fatal(err)
	}
	r, err := l.Open(ctx, "samples/s1/s1_R1.fastq")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, fq.Bytes()) {
		t.Fatalf("read back %d of %d bytes: %v", len(got), fq.Len(), err)
	}
	if n, err := be.Size(ctx, v.Blob); err != nil || n != v.StoredSize {
		t.Fatalf("blob %s: %d bytes, %v; want %d", v.Blob, n, err, v.StoredSize)
	}
	// The blob's ciphertext is in the folder as stored, so the search
	// below looks at the data itself.
	cr, err := be.ReadRange(ctx, v.Blob, lake.PartSize, 64)
	if err != nil {
		t.Fatal(err)
	}
	cipher, err := io.ReadAll(cr)
	cr.Close()
	if err != nil || len(filesHolding(t, dir, cipher)) == 0 {
		t.Fatalf("the blob's ciphertext is not in Azurite's folder (%v): the search cannot see the data", err)
	}
	if found := filesHolding(t, dir, marker); len(found) > 0 {
		t.Fatalf("plaintext marker found in Azurite's storage: %v", found)
	}

	// The control: the same marker stored unencrypted is found.
	put(t, be, "control/plain", fq.Bytes()[:1000])
	var found []string
	for i := 0; i < 50 && len(found) == 0; i++ { // Azurite may write behind
		found = filesHolding(t, dir, marker)
		time.Sleep(100 * time.Millisecond)
	}
	if len(found) == 0 {
		t.Fatal("the search did not find the marker stored in plaintext: it cannot see Azurite's data")
	}
}
