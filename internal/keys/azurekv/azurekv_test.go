package azurekv

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"

	"github.com/clinomics/clinomics/internal/keys"
	"github.com/clinomics/clinomics/internal/keys/azurekv/kvtest"
	"github.com/clinomics/clinomics/internal/keys/keystest"
)

// syncBuffer collects log output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newTest starts a fake vault and a provider on it through the real SDK.
func newTest(t *testing.T, opts Options) (*Provider, *kvtest.Server, *syncBuffer) {
	t.Helper()
	kv := kvtest.New(t)
	logs := &syncBuffer{}
	opts.ClientOptions = kv.ClientOptions()
	opts.Logger = slog.New(slog.NewTextHandler(logs, nil))
	p, err := New(kv.URL, kv.Credential(), &opts)
	if err != nil {
		t.Fatal(err)
	}
	p.poll = time.Millisecond
	return p, kv, logs
}

func dek() []byte {
	b := make([]byte, 32)
	rand.Read(b)
	return b
}

func TestConformance(t *testing.T) {
	p, kv, _ := newTest(t, Options{})
	keystest.Run(t, p, "t-")

	// What the suite left in the vault: live keys, and the destroyed key's
	// tombstone; the destroyed key itself purged.
	want := []string{"t--a", "t--b", "t--d-0destroyed", "t--r"}
	if got := kv.Names(); !slices.Equal(got, want) {
		t.Errorf("vault keys = %v, want %v", got, want)
	}
	if in, ok := kv.Key("t--d"); ok {
		t.Errorf("destroyed key still in the vault: %+v", in)
	}
}

func TestChallengeAndToken(t *testing.T) {
	p, kv, _ := newTest(t, Options{})
	ctx := context.Background()
	if _, err := p.Wrap(ctx, "lake", dek()); err != nil {
		t.Fatal(err)
	}
	asked := kv.Credential().Asked()
	if len(asked) == 0 {
		t.Fatal("the SDK asked for no token")
	}
	for _, o := range asked {
		if o.TenantID != kvtest.Tenant || !slices.Equal(o.Scopes, []string{"https://vault.azure.net/.default"}) {
			t.Errorf("token asked for tenant %q scopes %v", o.TenantID, o.Scopes)
		}
	}
	// A first Wrap: the challenged GET, then with the token GET key (404),
	// GET deleted key (404), GET tombstone (404), create, wrapkey. Later
	// ones: GET key, wrapkey.
	if n := kv.Requests(); n != 6 {
		t.Errorf("first wrap: %d requests, want 6", n)
	}
	if _, err := p.Wrap(ctx, "lake", dek()); err != nil {
		t.Fatal(err)
	}
	if n := kv.Requests(); n != 8 {
		t.Errorf("second wrap: %d requests, want 2", n-6)
	}
}

func TestKeyShape(t *testing.T) {
	p, kv, _ := newTest(t, Options{})
	ctx := context.Background()
	d := dek()
	upper, err := p.Wrap(ctx, "patient-P1", d)
	if err != nil {
		t.Fatal(err)
	}
	lower, err := p.Wrap(ctx, "patient-p1", d)
	if err != nil {
		t.Fatal(err)
	}
	in, ok := kv.Key("patient---p1")
	if !ok {
		t.Fatalf("no vault key patient---p1; vault has %v", kv.Names())
	}
	if in.Kty != "RSA" || in.Bits != 3072 || !slices.Equal(in.Ops, []string{"wrapKey", "unwrapKey"}) || in.Tags[tagKey] != "patient-P1" {
		t.Errorf("vault key = %+v", in)
	}
	if len(upper.Blob) != 384 || len(upper.Version) != 32 {
		t.Errorf("wrapped = version %q, %d bytes", upper.Version, len(upper.Blob))
	}
	// Names differing only in case are different keys in a vault that
	// ignores case.
	if in, ok := kv.Key("patient--p1"); !ok || in.Tags[tagKey] != "patient-p1" {
		t.Errorf("vault key patient--p1 = %+v, %v", in, ok)
	}
	upper.Key = "patient-p1"
	if _, err := p.Unwrap(ctx, upper); err == nil {
		t.Error("patient-P1's data key unwrapped under patient-p1")
	}
	if got, err := p.Unwrap(ctx, lower); err != nil || !bytes.Equal(got, d) {
		t.Errorf("unwrap = %x, %v", got, err)
	}

	hsm, kv2, _ := newTest(t, Options{KeySize: 4096, HSM: true, Prefix: "site1-"})
	if _, err := hsm.Wrap(ctx, "lake", d); err != nil {
		t.Fatal(err)
	}
	if in, ok := kv2.Key("site1-lake"); !ok || in.Kty != "RSA-HSM" || in.Bits != 4096 {
		t.Errorf("HSM key = %+v, %v", in, ok)
	}
	if got, _ := hsm.VaultKeyName("patient-P1"); got != "site1-patient---p1" {
		t.Errorf("VaultKeyName = %q", got)
	}
}

func TestUnwrapRefusesBadInput(t *testing.T) {
	p, _, _ := newTest(t, Options{})
	ctx := context.Background()
	w, err := p.Wrap(ctx, "lake", dek())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		change func(*keys.Wrapped)
		want   error
	}{
		{"flipped bit", func(w *keys.Wrapped) { w.Blob[10] ^= 0x80 }, keys.ErrUnwrap},
		{"truncated", func(w *keys.Wrapped) { w.Blob = w.Blob[:100] }, keys.ErrUnwrap},
		{"empty", func(w *keys.Wrapped) { w.Blob = nil }, keys.ErrUnwrap},
		{"random", func(w *keys.Wrapped) { w.Blob = make([]byte, 384); rand.Read(w.Blob) }, keys.ErrUnwrap},
		{"unknown version", func(w *keys.Wrapped) { w.Version = hex.EncodeToString(make([]byte, 16)) }, keys.ErrNotFound},
		{"no version", func(w *keys.Wrapped) { w.Version = "" }, keys.ErrNotFound},
		{"path in version", func(w *keys.Wrapped) { w.Version = "../x" }, keys.ErrNotFound},
		{"invalid name", func(w *keys.Wrapped) { w.Key = "la ke" }, keys.ErrNotFound},
	} {
		bad := w
		bad.Blob = bytes.Clone(w.Blob)
		c.change(&bad)
		got, err := p.Unwrap(ctx, bad)
		if !errors.Is(err, c.want) || got != nil {
			t.Errorf("%s: unwrap = %x, %v; want %v", c.name, got, err, c.want)
		}
	}
	var ve *VaultError
	w.Blob = bytes.Clone(w.Blob)
	w.Blob[0] ^= 1
	if _, err := p.Unwrap(ctx, w); !errors.As(err, &ve) || ve.Status != http.StatusBadRequest || !strings.Contains(err.Error(), "OAEP") {
		t.Errorf("tampered: %v; want the vault's answer", err)
	}
}

func TestDestroy(t *testing.T) {
	ctx := context.Background()
	t.Run("Purged", func(t *testing.T) {
		p, kv, logs := newTest(t, Options{})
		kv.SetDeleteLag(3) // the vault takes a moment to finish deleting
		w, err := p.Wrap(ctx, "patient-X", dek())
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Destroy(ctx, "patient-X"); err != nil {
			t.Fatal(err)
		}
		if in, ok := kv.Key("patient---x"); ok {
			t.Fatalf("key left in the vault: %+v", in)
		}
		ts, ok := kv.Key("patient---x-0destroyed")
		if !ok || ts.Enabled || ts.Kty != "EC" || ts.Tags[tagKey] != "patient-X" || ts.Tags[tagDestroyed] == "" || slices.Contains(ts.Ops, "unwrapKey") {
			t.Fatalf("tombstone = %+v, %v", ts, ok)
		}
		checkDestroyed(t, p, w)
		if !strings.Contains(logs.String(), "purged") {
			t.Errorf("log: %s", logs)
		}
		// Destroying again succeeds and changes nothing.
		if err := p.Destroy(ctx, "patient-X"); err != nil {
			t.Fatal(err)
		}
		checkDestroyed(t, p, w)
	})

	t.Run("PurgeProtection", func(t *testing.T) {
		p, kv, logs := newTest(t, Options{})
		kv.SetPurgeProtection(true)
		w, err := p.Wrap(ctx, "patient-Y", dek())
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Destroy(ctx, "patient-Y"); err != nil {
			t.Fatal(err)
		}
		if in, ok := kv.Key("patient---y"); !ok || !in.Deleted {
			t.Fatalf("key = %+v, %v; want soft-deleted", in, ok)
		}
		checkDestroyed(t, p, w)
		if !strings.Contains(logs.String(), "purge protection") || !strings.Contains(logs.String(), "scheduled_purge") {
			t.Errorf("log: %s", logs)
		}
	})

	t.Run("PurgeForbidden", func(t *testing.T) {
		p, kv, logs := newTest(t, Options{})
		kv.Inject(kvtest.Fault{Op: "purge", Status: http.StatusForbidden, Code: "Forbidden",
			Message: "The user, group or application 'appid=00000000-0000-0000-0000-000000000001;oid=00000000-0000-0000-0000-000000000002' does not have keys purge permission on key vault 'kvtest'."})
		w, err := p.Wrap(ctx, "lake", dek())
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Destroy(ctx, "lake"); err != nil {
			t.Fatal(err)
		}
		checkDestroyed(t, p, w)
		if l := logs.String(); !strings.Contains(l, "level=WARN") || !strings.Contains(l, "purge permission") {
			t.Errorf("log: %s", l)
		}
		// Once the permission is granted, destroying again purges.
		kv.ClearFaults()
		if err := p.Destroy(ctx, "lake"); err != nil {
			t.Fatal(err)
		}
		if in, ok := kv.Key("lake"); ok {
			t.Errorf("key left after the second destroy: %+v", in)
		}
	})

	t.Run("DeletedByHand", func(t *testing.T) {
		// Someone deleted the key in the portal: no tombstone, but the
		// vault still holds it soft-deleted.
		p, kv, _ := newTest(t, Options{})
		w, err := p.Wrap(ctx, "lake", dek())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.client.DeleteKey(ctx, "lake", nil); err != nil {
			t.Fatal(err)
		}
		checkDestroyed(t, p, w)
		if err := p.Destroy(ctx, "lake"); err != nil {
			t.Fatal(err)
		}
		if _, ok := kv.Key("lake-0destroyed"); !ok {
			t.Error("destroy of a deleted key left no tombstone")
		}
		checkDestroyed(t, p, w)
	})
}

// checkDestroyed: every operation on w's key says ErrDestroyed, and no
// operation brings the key back.
func checkDestroyed(t *testing.T, p *Provider, w keys.Wrapped) {
	t.Helper()
	ctx := context.Background()
	if got, err := p.Unwrap(ctx, w); !errors.Is(err, keys.ErrDestroyed) || got != nil {
		t.Errorf("unwrap = %x, %v; want ErrDestroyed", got, err)
	}
	if _, err := p.Wrap(ctx, w.Key, dek()); !errors.Is(err, keys.ErrDestroyed) {
		t.Errorf("wrap: %v; want ErrDestroyed", err)
	}
	if _, err := p.Rotate(ctx, w.Key); !errors.Is(err, keys.ErrDestroyed) {
		t.Errorf("rotate: %v; want ErrDestroyed", err)
	}
	vn, _ := p.VaultKeyName(w.Key)
	if _, err := p.client.GetKey(ctx, vn, "", nil); status(err) != http.StatusNotFound {
		t.Errorf("key is back in the vault: %v", err)
	}
}

func TestVaultErrors(t *testing.T) {
	ctx := context.Background()
	p, kv, _ := newTest(t, Options{})
	w, err := p.Wrap(ctx, "patient-Z", dek())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		fault kvtest.Fault
		tries int // requests the SDK makes: 1 + retries
	}{
		{"forbidden", kvtest.Fault{Status: 403, Code: "Forbidden", Message: "Caller is not authorized to perform action on resource.\r\nCaller: appid=00000000-0000-0000-0000-000000000001;oid=00000000-0000-0000-0000-000000000002\r\nAction: 'Microsoft.KeyVault/vaults/keys/unwrap/action'"}, 1},
		{"server error", kvtest.Fault{Status: 500, Code: "InternalServerError", Message: "An unexpected error occurred."}, 3},
		{"throttled", kvtest.Fault{Status: 429, Code: "Throttled", Message: "Request was not processed because too many requests were received.", RetryAfter: "30"}, 1},
		{"unavailable", kvtest.Fault{Status: 503, Code: "ServiceUnavailable", Message: "The service is unavailable."}, 3},
		{"proxy echoing the token", kvtest.Fault{Status: 502, Code: "BadGateway", EchoAuthorization: true}, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			kv.Inject(c.fault)
			defer kv.ClearFaults()
			before, start := kv.Requests(), time.Now()
			got, err := p.Unwrap(ctx, w)
			if err == nil || got != nil {
				t.Fatalf("unwrap = %x, %v", got, err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v", d)
			}
			if n := kv.Requests() - before; n != c.tries {
				t.Errorf("%d requests, want %d", n, c.tries)
			}
			var ve *VaultError
			if !errors.As(err, &ve) || ve.Status != c.fault.Status || ve.Code != c.fault.Code {
				t.Fatalf("error %#v; want a VaultError with %d %s", err, c.fault.Status, c.fault.Code)
			}
			msg := err.Error()
			for _, want := range []string{kv.URL, "patient-Z", "unwrap", c.fault.Code} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not name %q", msg, want)
				}
			}
			if strings.Contains(msg, kv.Token) || strings.Contains(msg, strings.Split(kv.Token, ".")[1]) {
				t.Errorf("error shows the token: %q", msg)
			}
			if strings.ContainsAny(msg, "\r\n") {
				t.Errorf("error is not one line: %q", msg)
			}
			if errors.Is(err, keys.ErrUnwrap) || errors.Is(err, keys.ErrNotFound) || errors.Is(err, keys.ErrDestroyed) {
				t.Errorf("a vault failure reads as a key error: %v", err)
			}
		})
	}
	// An error before any answer (here a canceled context) names the
	// vault and key and keeps its cause.
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := p.Unwrap(canceled, w); !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), kv.URL) || !strings.Contains(err.Error(), "patient-Z") {
		t.Errorf("canceled unwrap: %v", err)
	}
	// Every operation reports the vault and key, on every path.
	kv.Inject(kvtest.Fault{Status: 403, Code: "Forbidden", Message: "denied"})
	for op, f := range map[string]func() error{
		"wrap":    func() error { _, err := p.Wrap(ctx, "patient-Z", dek()); return err },
		"rotate":  func() error { _, err := p.Rotate(ctx, "patient-Z"); return err },
		"destroy": func() error { return p.Destroy(ctx, "patient-Z") },
	} {
		var ve *VaultError
		if err := f(); !errors.As(err, &ve) || ve.Status != 403 || !strings.Contains(err.Error(), kv.URL) || !strings.Contains(err.Error(), "patient-Z") {
			t.Errorf("%s: %v", op, err)
		}
	}
	kv.ClearFaults()
}

func TestWrapRefusesSmallKey(t *testing.T) {
	p, _, _ := newTest(t, Options{})
	ctx := context.Background()
	_, err := p.client.CreateKey(ctx, "lake", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSA), KeySize: to.Ptr[int32](2048)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Wrap(ctx, "lake", dek()); err == nil || !strings.Contains(err.Error(), "RSA 2048") {
		t.Fatalf("wrap with an RSA 2048 key: %v", err)
	}
	if _, err := p.Rotate(ctx, "lake"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Wrap(ctx, "lake", dek()); err != nil {
		t.Fatalf("wrap after rotation: %v", err)
	}
}

func TestNew(t *testing.T) {
	cred := kvtest.New(t).Credential()
	for _, c := range []struct {
		url  string
		opts Options
		err  string
	}{
		{"http://x.vault.azure.net/", Options{}, "https"},
		{"https://user:hunter2@x.vault.azure.net/", Options{}, "https://NAME"},
		{"https://x.vault.azure.net/keys/lake", Options{}, "https://NAME"},
		{"https://x.vault.azure.net/?sig=1", Options{}, "https://NAME"},
		{"https://x.vault.azure.net/", Options{KeySize: 2048}, "key size"},
		{"https://x.vault.azure.net/", Options{Prefix: "Site"}, "prefix"},
	} {
		_, err := New(c.url, cred, &c.opts)
		if err == nil || !strings.Contains(err.Error(), c.err) || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("New(%q, %+v) = %v; want error with %q", c.url, c.opts, err, c.err)
		}
	}
	p, err := New("https://x.vault.azure.net", cred, nil)
	if err != nil || p.Describe() != "azure key vault https://x.vault.azure.net/" {
		t.Errorf("New = %v, %v", p, err)
	}
}

// TestRealVault runs the conformance suite against the vault named by
// CLINOMICS_TEST_AZURE_KEY_VAULT_URL, with DefaultAzureCredential. It
// leaves nothing behind where the vault allows purging.
func TestRealVault(t *testing.T) {
	url := os.Getenv("CLINOMICS_TEST_AZURE_KEY_VAULT_URL")
	if url == "" {
		t.Skip("set CLINOMICS_TEST_AZURE_KEY_VAULT_URL to run against a real vault")
	}
	cred, err := azidentity.NewDefaultAzureCredential(nil)
	if err != nil {
		t.Fatal(err)
	}
	prefix := "t" + hex.EncodeToString(dek()[:4]) + "-"
	p, err := New(url, cred, &Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		for _, n := range []string{"t-a", "t-b", "t-r", "t-d"} {
			p.Destroy(ctx, n)
			vn, _ := p.VaultKeyName(n)
			if res, err := p.client.DeleteKey(ctx, tombstoneName(vn), nil); err == nil {
				p.purge(ctx, n, tombstoneName(vn), &res.DeletedKey)
			}
		}
	})
	keystest.Run(t, p, "t-")
}
