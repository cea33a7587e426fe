package clinical

import (
	"crypto/rand"
	"fmt"
)

// SealRaw encrypts b as it is, bound to kind and id (the FHIR store's
// JSON resources; Seal's records under a kind of their own).
func (d *DB) SealRaw(kind, id string, b []byte) ([]byte, error) {
	nonce := make([]byte, d.aead.NonceSize(), d.aead.NonceSize()+len(b)+d.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return d.aead.Seal(nonce, nonce, b, []byte(kind+"/"+id)), nil
}

// OpenRaw decrypts what SealRaw made for kind and id.
func (d *DB) OpenRaw(kind, id string, b []byte) ([]byte, error) {
	n := d.aead.NonceSize()
	if len(b) < n+d.aead.Overhead() {
		return nil, fmt.Errorf("clinical: %s %s: sealed record too short", kind, id)
	}
	plain, err := d.aead.Open(nil, b[:n], b[n:], []byte(kind+"/"+id))
	if err != nil {
		return nil, fmt.Errorf("clinical: %s %s: sealed record does not open (tampered, or another key)", kind, id)
	}
	return plain, nil
}
