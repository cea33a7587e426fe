package clinical

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/keys"
)

// TestSealKeepsBytesAndOpensLegacyRecords: Seal stores the bytes as they
// are (no JSON and base64 inside the encryption), and records sealed the
// old way (the JSON string of the bytes, bound to the kind alone) still
// open; neither opens as another record.
func TestSealKeepsBytesAndOpensLegacyRecords(t *testing.T) {
	keys.DefaultKDF.MemoryKiB = 8 * 1024 // fast tests
	ctx := context.Background()
	dir := t.TempDir()
	st, err := catalog.Open(ctx, filepath.Join(dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	kr, err := keys.OpenLocal(filepath.Join(dir, "keyring"), "test")
	if err != nil {
		t.Fatal(err)
	}
	d, err := Open(ctx, st, kr)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte("MSH|^~\\&|EPIC|HOSP|CLINOMICS|LAB|20260301||ADT^A01|C1|P|2.5.1\r")
	sealed, err := d.Seal("hl7", "m1", body)
	if err != nil {
		t.Fatal(err)
	}
	if over := len(sealed) - len(body); over != d.aead.NonceSize()+d.aead.Overhead() {
		t.Errorf("sealed %d bytes for %d: %d over the nonce and tag", len(sealed), len(body), over)
	}
	legacy, err := d.seal("hl7", "m0", body)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		id     string
		sealed []byte
	}{{"m1", sealed}, {"m0", legacy}} {
		got, err := d.Open("hl7", c.id, c.sealed)
		if err != nil || !bytes.Equal(got, body) {
			t.Errorf("%s: %q, %v", c.id, got, err)
		}
		if _, err := d.Open("hl7", "other", c.sealed); err == nil {
			t.Errorf("%s opened as another record", c.id)
		}
		if _, err := d.Open("outbox", c.id, c.sealed); err == nil {
			t.Errorf("%s opened as another kind", c.id)
		}
	}
}
