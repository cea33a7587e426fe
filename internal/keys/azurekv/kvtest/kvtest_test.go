package kvtest_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"

	"github.com/clinomics/clinomics/internal/keys/azurekv/kvtest"
)

// TestSDK drives every operation the server implements with the SDK
// client, checking that the SDK parses what the server answers.
func TestSDK(t *testing.T) {
	kv := kvtest.New(t)
	c, err := azkeys.NewClient(kv.URL, kv.Credential(), &azkeys.ClientOptions{ClientOptions: kv.ClientOptions()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	code := func(err error) int {
		var re *azcore.ResponseError
		if errors.As(err, &re) {
			return re.StatusCode
		}
		return 0
	}

	created, err := c.CreateKey(ctx, "Key-1", azkeys.CreateKeyParameters{
		Kty: to.Ptr(azkeys.KeyTypeRSA), KeySize: to.Ptr[int32](2048),
		Tags: map[string]*string{"t": to.Ptr("v")},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	v1 := created.Key.KID.Version()
	if created.Key.KID.Name() != "Key-1" || len(v1) != 32 || len(created.Key.N) != 256 || *created.Tags["t"] != "v" || *created.Attributes.RecoveryLevel != "Recoverable+Purgeable" || created.Attributes.Created.IsZero() {
		t.Fatalf("created = %+v", created.KeyBundle)
	}
	rotated, err := c.RotateKey(ctx, "key-1", nil) // names ignore case
	if err != nil {
		t.Fatal(err)
	}
	v2 := rotated.Key.KID.Version()
	latest, err := c.GetKey(ctx, "key-1", "", nil)
	if err != nil || latest.Key.KID.Version() != v2 || v2 == v1 {
		t.Fatalf("latest = %v, %v; versions %s, %s", latest.Key.KID, err, v1, v2)
	}
	if old, err := c.GetKey(ctx, "key-1", v1, nil); err != nil || !bytes.Equal(old.Key.N, created.Key.N) {
		t.Fatalf("get version 1: %v", err)
	}

	alg := to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP256)
	secret := []byte("0123456789abcdef0123456789abcdef")
	wrapped, err := c.WrapKey(ctx, "key-1", v1, azkeys.KeyOperationParameters{Algorithm: alg, Value: secret}, nil)
	if err != nil || wrapped.KID.Version() != v1 || len(wrapped.Result) != 256 {
		t.Fatalf("wrap = %+v, %v", wrapped, err)
	}
	un, err := c.UnwrapKey(ctx, "key-1", v1, azkeys.KeyOperationParameters{Algorithm: alg, Value: wrapped.Result}, nil)
	if err != nil || !bytes.Equal(un.Result, secret) {
		t.Fatalf("unwrap = %x, %v", un.Result, err)
	}
	if _, err := c.UnwrapKey(ctx, "key-1", v2, azkeys.KeyOperationParameters{Algorithm: alg, Value: wrapped.Result}, nil); code(err) != http.StatusBadRequest {
		t.Fatalf("unwrap under another version: %v", err)
	}

	del, err := c.DeleteKey(ctx, "key-1", nil)
	if err != nil || del.RecoveryID == nil || del.ScheduledPurgeDate == nil || del.DeletedDate == nil {
		t.Fatalf("delete = %+v, %v", del, err)
	}
	if _, err := c.GetKey(ctx, "key-1", "", nil); code(err) != http.StatusNotFound {
		t.Fatalf("get deleted key: %v", err)
	}
	if _, err := c.CreateKey(ctx, "key-1", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSA)}, nil); code(err) != http.StatusConflict {
		t.Fatalf("reuse of a deleted name: %v", err)
	}
	if d, err := c.GetDeletedKey(ctx, "key-1", nil); err != nil || d.Key.KID.Version() != v2 {
		t.Fatalf("get deleted = %v", err)
	}
	if _, err := c.PurgeDeletedKey(ctx, "key-1", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetDeletedKey(ctx, "key-1", nil); code(err) != http.StatusNotFound {
		t.Fatalf("get purged: %v", err)
	}

	// Anything else is refused loudly.
	var re *azcore.ResponseError
	if _, err := c.BackupKey(ctx, "key-1", nil); !errors.As(err, &re) || re.StatusCode != http.StatusNotImplemented || re.ErrorCode != "NotImplemented" {
		t.Fatalf("backup: %v", err)
	}
}

// TestAuth: without the vault's token, nothing is served.
func TestAuth(t *testing.T) {
	kv := kvtest.New(t)
	req, _ := http.NewRequest("GET", kv.URL+"keys/lake?api-version="+kvtest.APIVersion, nil)
	res, err := kv.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized || res.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("no token: %s %q", res.Status, res.Header.Get("WWW-Authenticate"))
	}
	req.Header.Set("Authorization", "Bearer "+kv.Token)
	req.URL.RawQuery = "api-version=7.0"
	if res, err = kv.HTTPClient().Do(req); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("old api-version: %s", res.Status)
	}
}
