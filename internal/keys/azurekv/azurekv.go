package azurekv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"

	"github.com/clinomics/clinomics/internal/keys"
)

// Options tune the provider; the zero value is the production default.
type Options struct {
	// Prefix goes in front of every vault key name (lowercase letters,
	// digits and '-', starting with a letter), so that several deployments
	// can share a vault: "site1-" gives "site1-lake". No deployment's prefix
	// may be the start of another's; a deployment without a prefix needs a
	// vault of its own.
	Prefix string
	// KeySize of new keys and versions, in bits: 3072 (default) or 4096.
	// Wrap refuses an existing key smaller than 3072 bits.
	KeySize int
	// HSM creates RSA-HSM keys (Premium vaults, Managed HSM) instead of
	// software-protected RSA keys.
	HSM bool
	// PurgeWait bounds how long Destroy waits for the vault to finish a
	// deletion so that the key can be purged. Default one minute.
	PurgeWait time.Duration
	// Logger receives what Destroy could not do (purge refused, purge
	// protection); default slog.Default().
	Logger *slog.Logger
	// ClientOptions go to the SDK client: transport, retries, cloud.
	ClientOptions azcore.ClientOptions
}

// Provider keeps keys in one Azure Key Vault or Managed HSM.
type Provider struct {
	vault     string // the vault URL, for messages
	client    *azkeys.Client
	prefix    string
	keySize   int32
	hsm       bool
	purgeWait time.Duration
	poll      time.Duration // between purge attempts
	log       *slog.Logger
}

var _ keys.Provider = (*Provider)(nil)

const (
	// DefaultKeySize is the RSA size of new keys.
	DefaultKeySize = 3072
	minKeySize     = 3072

	tagKey       = "clinomics-key"       // our name of the key
	tagDestroyed = "clinomics-destroyed" // on a tombstone: when
)

var wrapAlg = to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP256)

// New returns a provider for the vault at vaultURL
// ("https://NAME.vault.azure.net/"), authenticating with cred: in
// production an azidentity credential (DefaultAzureCredential, managed
// identity, service principal). It does not contact the vault.
func New(vaultURL string, cred azcore.TokenCredential, opts *Options) (*Provider, error) {
	if opts == nil {
		opts = &Options{}
	}
	u, err := url.Parse(vaultURL)
	if err != nil {
		return nil, errors.New("azure key vault: the vault URL does not parse")
	}
	if u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("azure key vault: vault URL %q: want https://NAME.vault.azure.net/", u.Redacted())
	}
	if cred == nil {
		return nil, errors.New("azure key vault: no credential")
	}
	if err := checkPrefix(opts.Prefix); err != nil {
		return nil, fmt.Errorf("azure key vault: %w", err)
	}
	size := opts.KeySize
	if size == 0 {
		size = DefaultKeySize
	}
	if size != 3072 && size != 4096 {
		return nil, fmt.Errorf("azure key vault: key size %d: want 3072 or 4096", size)
	}
	p := &Provider{
		vault:     u.Scheme + "://" + u.Host + "/",
		prefix:    opts.Prefix,
		keySize:   int32(size),
		hsm:       opts.HSM,
		purgeWait: opts.PurgeWait,
		poll:      time.Second,
		log:       opts.Logger,
	}
	if p.purgeWait <= 0 {
		p.purgeWait = time.Minute
	}
	if p.log == nil {
		p.log = slog.Default()
	}
	p.client, err = azkeys.NewClient(p.vault, cred, &azkeys.ClientOptions{ClientOptions: opts.ClientOptions})
	if err != nil {
		return nil, fmt.Errorf("azure key vault %s: %w", p.vault, err)
	}
	return p, nil
}

// Describe names the vault.
func (p *Provider) Describe() string { return "azure key vault " + p.vault }

// VaultKeyName is the name key name has in the vault, for operators.
func (p *Provider) VaultKeyName(name string) (string, error) {
	return encodeName(p.prefix, name)
}

// Wrap implements keys.Provider.
func (p *Provider) Wrap(ctx context.Context, name string, dek []byte) (keys.Wrapped, error) {
	vn, err := p.vaultName(name)
	if err != nil {
		return keys.Wrapped{}, err
	}
	got, err := p.client.GetKey(ctx, vn, "", nil)
	kb := got.KeyBundle
	switch {
	case status(err) == http.StatusNotFound:
		if _, err := p.whyMissing(ctx, name, vn); !errors.Is(err, keys.ErrNotFound) {
			return keys.Wrapped{}, err
		}
		if kb, err = p.create(ctx, name, vn); err != nil {
			return keys.Wrapped{}, err
		}
	case err != nil:
		return keys.Wrapped{}, p.fail("get", name, err)
	}
	version, err := p.usable(name, kb)
	if err != nil {
		return keys.Wrapped{}, err
	}
	res, err := p.client.WrapKey(ctx, vn, version, azkeys.KeyOperationParameters{Algorithm: wrapAlg, Value: dek}, nil)
	if status(err) == http.StatusNotFound {
		_, err = p.whyMissing(ctx, name, vn) // deleted since we read it
		return keys.Wrapped{}, err
	}
	if err != nil {
		return keys.Wrapped{}, p.fail("wrap", name, err)
	}
	if res.KID == nil || !strings.EqualFold(res.KID.Version(), version) || len(res.Result) == 0 {
		return keys.Wrapped{}, fmt.Errorf("%s: key %s: wrap: the vault answered for another key version", p.Describe(), name)
	}
	return keys.Wrapped{Key: name, Version: version, Blob: res.Result}, nil
}

// Unwrap implements keys.Provider.
func (p *Provider) Unwrap(ctx context.Context, w keys.Wrapped) ([]byte, error) {
	vn, err := p.vaultName(w.Key)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", err, keys.ErrNotFound)
	}
	if w.Version == "" || strings.ContainsAny(w.Version, "/?#%") {
		return nil, fmt.Errorf("%s: key %s version %q: %w", p.Describe(), w.Key, w.Version, keys.ErrNotFound)
	}
	if len(w.Blob) == 0 {
		return nil, fmt.Errorf("%s: key %s version %s: empty blob: %w", p.Describe(), w.Key, w.Version, keys.ErrUnwrap)
	}
	res, err := p.client.UnwrapKey(ctx, vn, w.Version, azkeys.KeyOperationParameters{Algorithm: wrapAlg, Value: w.Blob}, nil)
	switch {
	case err == nil:
	case status(err) == http.StatusNotFound:
		if _, err := p.whyMissing(ctx, w.Key, vn); !errors.Is(err, keys.ErrNotFound) {
			return nil, err
		}
		return nil, fmt.Errorf("%s: key %s version %s: %w", p.Describe(), w.Key, w.Version, keys.ErrNotFound)
	case status(err) == http.StatusBadRequest:
		// Key Vault's answer to a blob that does not decrypt under this
		// version (OAEP padding check failed).
		ve := p.vaultError("unwrap", w.Key+" version "+w.Version, err)
		ve.Err = keys.ErrUnwrap
		return nil, ve
	default:
		return nil, p.fail("unwrap", w.Key+" version "+w.Version, err)
	}
	if res.KID == nil || !strings.EqualFold(res.KID.Version(), w.Version) || len(res.Result) == 0 {
		return nil, fmt.Errorf("%s: key %s version %s: unwrap: the vault answered for another key version", p.Describe(), w.Key, w.Version)
	}
	return res.Result, nil
}

// Rotate implements keys.Provider: a new version, made by creating the
// key again with the provider's type and size. (The vault's own rotate
// operation would need the keys/rotate permission and follow the key's
// rotation policy instead.)
func (p *Provider) Rotate(ctx context.Context, name string) (string, error) {
	vn, err := p.vaultName(name)
	if err != nil {
		return "", err
	}
	if _, err := p.client.GetKey(ctx, vn, "", nil); status(err) == http.StatusNotFound {
		_, err = p.whyMissing(ctx, name, vn)
		return "", err
	} else if err != nil {
		return "", p.fail("get", name, err)
	}
	kb, err := p.create(ctx, name, vn)
	if err != nil {
		return "", err
	}
	return p.usable(name, kb)
}

// Destroy implements keys.Provider: tombstone, delete, purge. Destroying a
// destroyed key finishes what an interrupted Destroy left (tombstone,
// purge) and succeeds.
func (p *Provider) Destroy(ctx context.Context, name string) error {
	vn, err := p.vaultName(name)
	if err != nil {
		return err
	}
	_, err = p.client.GetKey(ctx, vn, "", nil)
	live := err == nil
	var deleted *azkeys.DeletedKey
	if status(err) == http.StatusNotFound {
		deleted, err = p.whyMissing(ctx, name, vn)
		if !errors.Is(err, keys.ErrDestroyed) {
			return err // ErrNotFound or a vault error
		}
	} else if err != nil {
		return p.fail("get", name, err)
	}
	if err := p.tombstone(ctx, name, vn); err != nil {
		return err
	}
	if live {
		res, err := p.client.DeleteKey(ctx, vn, nil)
		if err != nil && status(err) != http.StatusNotFound {
			return p.fail("delete", name, err)
		}
		if err == nil {
			deleted = &res.DeletedKey
		}
	}
	if deleted != nil {
		p.purge(ctx, name, vn, deleted)
	}
	return nil
}

// vaultName maps name into the vault.
func (p *Provider) vaultName(name string) (string, error) {
	vn, err := encodeName(p.prefix, name)
	if err != nil {
		return "", fmt.Errorf("%s: %w", p.Describe(), err)
	}
	return vn, nil
}

// create makes a new key, or a new version of an existing one.
func (p *Provider) create(ctx context.Context, name, vn string) (azkeys.KeyBundle, error) {
	kty := azkeys.KeyTypeRSA
	if p.hsm {
		kty = azkeys.KeyTypeRSAHSM
	}
	res, err := p.client.CreateKey(ctx, vn, azkeys.CreateKeyParameters{
		Kty:     &kty,
		KeySize: to.Ptr(p.keySize),
		KeyOps:  []*azkeys.KeyOperation{to.Ptr(azkeys.KeyOperationWrapKey), to.Ptr(azkeys.KeyOperationUnwrapKey)},
		Tags:    map[string]*string{tagKey: to.Ptr(name)},
	}, nil)
	if status(err) == http.StatusConflict {
		// The name is held by a soft-deleted key.
		if _, why := p.whyMissing(ctx, name, vn); !errors.Is(why, keys.ErrNotFound) {
			return azkeys.KeyBundle{}, why
		}
	}
	if err != nil {
		return azkeys.KeyBundle{}, p.fail("create", name, err)
	}
	return res.KeyBundle, nil
}

// usable checks that kb is an enabled RSA key big enough to wrap with,
// and returns its version.
func (p *Provider) usable(name string, kb azkeys.KeyBundle) (string, error) {
	k := kb.Key
	if k == nil || k.KID == nil || k.KID.Version() == "" || k.Kty == nil {
		return "", fmt.Errorf("%s: key %s: the vault returned no key version", p.Describe(), name)
	}
	if *k.Kty != azkeys.KeyTypeRSA && *k.Kty != azkeys.KeyTypeRSAHSM {
		return "", fmt.Errorf("%s: key %s is a %s key; wrapping needs RSA", p.Describe(), name, *k.Kty)
	}
	if bits := new(big.Int).SetBytes(k.N).BitLen(); bits < minKeySize {
		return "", fmt.Errorf("%s: key %s is RSA %d; wrapping needs %d bits or more: rotate it", p.Describe(), name, bits, minKeySize)
	}
	if a := kb.Attributes; a != nil && a.Enabled != nil && !*a.Enabled {
		return "", fmt.Errorf("%s: key %s is disabled in the vault", p.Describe(), name)
	}
	return k.KID.Version(), nil
}

// whyMissing is called when key vn is not in the vault. It returns an error
// wrapping keys.ErrDestroyed if the key is soft-deleted (with the deleted
// key) or has a tombstone, keys.ErrNotFound if it has neither, or a vault
// error.
func (p *Provider) whyMissing(ctx context.Context, name, vn string) (*azkeys.DeletedKey, error) {
	d, err := p.client.GetDeletedKey(ctx, vn, nil)
	if err == nil {
		return &d.DeletedKey, fmt.Errorf("%s: key %s: %w (deleted in the vault)", p.Describe(), name, keys.ErrDestroyed)
	}
	if status(err) != http.StatusNotFound {
		return nil, p.fail("get deleted", name, err)
	}
	_, err = p.client.GetKey(ctx, tombstoneName(vn), "", nil)
	if err == nil {
		return nil, fmt.Errorf("%s: key %s: %w", p.Describe(), name, keys.ErrDestroyed)
	}
	if status(err) != http.StatusNotFound {
		return nil, p.fail("get tombstone", name, err)
	}
	return nil, fmt.Errorf("%s: key %s: %w", p.Describe(), name, keys.ErrNotFound)
}

// tombstone records that key name is destroyed, unless already recorded:
// a disabled EC key that can neither wrap nor unwrap.
func (p *Provider) tombstone(ctx context.Context, name, vn string) error {
	tn := tombstoneName(vn)
	_, err := p.client.GetKey(ctx, tn, "", nil)
	if err == nil {
		return nil
	}
	if status(err) != http.StatusNotFound {
		return p.fail("get tombstone", name, err)
	}
	kty, crv := azkeys.KeyTypeEC, azkeys.CurveNameP256
	if p.hsm {
		kty = azkeys.KeyTypeECHSM
	}
	_, err = p.client.CreateKey(ctx, tn, azkeys.CreateKeyParameters{
		Kty:           &kty,
		Curve:         &crv,
		KeyOps:        []*azkeys.KeyOperation{to.Ptr(azkeys.KeyOperationVerify)},
		KeyAttributes: &azkeys.KeyAttributes{Enabled: to.Ptr(false)},
		Tags: map[string]*string{
			tagKey:       to.Ptr(name),
			tagDestroyed: to.Ptr(time.Now().UTC().Format(time.RFC3339)),
		},
	}, nil)
	if err != nil {
		return p.fail("create tombstone", name, err)
	}
	return nil
}

// purge removes the deleted key d for good where the vault allows it, and
// logs what it could not do; the key is unusable either way.
func (p *Provider) purge(ctx context.Context, name, vn string, d *azkeys.DeletedKey) {
	var level string
	var until time.Time
	if d.Attributes != nil && d.Attributes.RecoveryLevel != nil {
		level = *d.Attributes.RecoveryLevel
	}
	if d.ScheduledPurgeDate != nil {
		until = *d.ScheduledPurgeDate
	}
	log := p.log.With("vault", p.vault, "key", name)
	switch {
	case !strings.Contains(level, "Recoverable"):
		return // no soft delete: deleting destroyed it
	case !strings.Contains(level, "Purgeable"):
		log.Info("key deleted; purge protection keeps it recoverable until the vault purges it",
			"recovery_level", level, "scheduled_purge", until)
		return
	}
	deadline := time.Now().Add(p.purgeWait)
	for {
		_, err := p.client.PurgeDeletedKey(ctx, vn, nil)
		switch st := status(err); {
		case err == nil:
			log.Info("key deleted and purged")
			return
		case (st == http.StatusConflict || st == http.StatusNotFound) && time.Now().Before(deadline):
			// The deletion is still in progress.
			select {
			case <-time.After(p.poll):
				continue
			case <-ctx.Done():
			}
		}
		log.Warn("key deleted but not purged: it stays recoverable until the vault purges it",
			"scheduled_purge", until, "err", p.fail("purge", name, err))
		return
	}
}

// VaultError is a refusal or failure reported by Key Vault.
type VaultError struct {
	Vault   string // vault URL
	Key     string // our key name (and version)
	Op      string // "wrap", "unwrap", "create version", ...
	Status  int    // HTTP status
	Code    string // Key Vault's error code: "Forbidden", "Throttled", ...
	Message string // Key Vault's message, shortened, tokens cut out
	Err     error  // the keys sentinel it stands for, if any
}

func (e *VaultError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "azure key vault %s: key %s: %s: ", e.Vault, e.Key, e.Op)
	if e.Err != nil {
		fmt.Fprintf(&b, "%v: ", e.Err)
	}
	fmt.Fprintf(&b, "HTTP %d", e.Status)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	return b.String()
}

func (e *VaultError) Unwrap() error { return e.Err }

// fail describes err from operation op on key: a *VaultError when the vault
// answered, otherwise err (transport, credential, context) wrapped with
// the vault and key.
func (p *Provider) fail(op, key string, err error) error {
	if status(err) != 0 {
		return p.vaultError(op, key, err)
	}
	return fmt.Errorf("%s: key %s: %s: %w", p.Describe(), key, op, err)
}

func (p *Provider) vaultError(op, key string, err error) *VaultError {
	e := &VaultError{Vault: p.vault, Key: key, Op: op}
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return e
	}
	e.Status, e.Code = re.StatusCode, re.ErrorCode
	if re.RawResponse != nil {
		if body, err := runtime.Payload(re.RawResponse); err == nil {
			var kv struct {
				Error struct {
					Code    string `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
			}
			if json.Unmarshal(body, &kv) == nil {
				e.Message = cleanMessage(kv.Error.Message)
				if e.Code == "" {
					e.Code = cleanMessage(kv.Error.Code)
				}
			}
		}
	}
	return e
}

// status is the HTTP status of a vault answer in err, 0 if err is nil or
// not an answer.
func status(err error) int {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

// tokenLike matches bearer tokens and JWTs, which a vault never puts in an
// error message but a proxy in between might.
var tokenLike = regexp.MustCompile(`(?i)bearer\s+[A-Za-z0-9._~+/=-]+|eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_.-]*`)

// cleanMessage keeps a vault message on one line, short, without tokens.
func cleanMessage(s string) string {
	s = tokenLike.ReplaceAllString(s, "[redacted]")
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 400 {
		s = s[:400] + "…"
	}
	return s
}
