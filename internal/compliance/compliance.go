// Package compliance evaluates an installation against the HIPAA Security
// Rule's technical safeguards (45 CFR 164.312: access control, audit
// controls, integrity, person or entity authentication, transmission
// security) and the deployment checklist of the reference architecture
// (encryption at rest with customer-managed keys, TLS 1.2+, no listener
// without authentication, audit on and exported, retention and backups).
//
// Each control passes or fails with the reason, and says what its result
// rests on (Basis): a check of the configuration and of what the catalog
// says about the installation (the audit trail, the stored objects' keys
// and last scrub, API tokens), a property built into clinomics that no
// setting turns off, or the site's own attestation. The checks change
// nothing. A pass means the technical control is in place as configured,
// not that the site's policies and procedures are.
package compliance

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/clinomics/clinomics/internal/audit"
	"github.com/clinomics/clinomics/internal/auth"
	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/config"
	"github.com/clinomics/clinomics/internal/tlsconf"
)

// Result is one control's outcome.
type Result struct {
	ID        string `json:"id"`
	Safeguard string `json:"safeguard"` // the HIPAA section or checklist item
	Pass      bool   `json:"pass"`
	Basis     Basis  `json:"basis"`
	Reason    string `json:"reason"`
}

// Basis is what a result rests on.
type Basis string

const (
	// Checked: read from this installation's configuration or catalog.
	Checked Basis = "checked"
	// BuiltIn: a property of the software that no setting turns off;
	// nothing about the installation could make it fail.
	BuiltIn Basis = "built-in"
	// Attested: the site's own statement, not verified by clinomics.
	Attested Basis = "attested"
)

// Route is an API route as the check sees it.
type Route struct {
	Method, Pattern string
	Perm            auth.Permission
}

// Catalog is what the checks read from the catalog.
type Catalog interface {
	audit.Reader
	ListObjects(ctx context.Context, prefix string) ([]catalog.Object, error)
	ListObjectVersions(ctx context.Context, path string) ([]catalog.ObjectVersion, error)
	ListAPITokens(ctx context.Context, owner string) ([]catalog.APIToken, error)
}

// Inputs are what the checks look at.
type Inputs struct {
	Config  *config.Config
	Routes  []Route
	Catalog Catalog
	Now     time.Time
	// ScrubMaxAge: every stored object must have been verified this
	// recently (by `clinomics lake scrub`).
	ScrubMaxAge time.Duration
}

// Check runs every control. It fails only when the catalog cannot be read.
func Check(ctx context.Context, in Inputs) ([]Result, error) {
	if in.Now.IsZero() {
		in.Now = time.Now()
	}
	if in.ScrubMaxAge == 0 {
		in.ScrubMaxAge = 30 * 24 * time.Hour
	}
	var out []Result
	result := func(basis Basis, id, safeguard string, pass bool, format string, a ...any) {
		out = append(out, Result{ID: id, Safeguard: safeguard, Pass: pass, Basis: basis, Reason: fmt.Sprintf(format, a...)})
	}
	add := func(id, safeguard string, pass bool, format string, a ...any) {
		result(Checked, id, safeguard, pass, format, a...)
	}
	cfg := in.Config

	// 164.312(a)(1) Access control.
	var undeclared, public []string
	for _, r := range in.Routes {
		switch {
		case r.Perm == "":
			undeclared = append(undeclared, r.Method+" "+r.Pattern)
		case r.Perm == auth.PermPublic && r.Pattern != "/healthz":
			public = append(public, r.Method+" "+r.Pattern)
		}
	}
	add("access-control.routes", "164.312(a)(1) access control", len(undeclared)+len(public) == 0,
		"%d API routes, each declaring the permission it needs; unauthenticated: health check only%s", len(in.Routes), listed("; no permission: ", undeclared)+listed("; public: ", public))
	add("access-control.unique-user", "164.312(a)(2)(i) unique user identification", cfg.Auth.OIDC.Issuer != "",
		"%s", ifElse(cfg.Auth.OIDC.Issuer != "", "people sign in through the identity provider "+cfg.Auth.OIDC.Issuer+"; API tokens belong to one person each",
			"no identity provider (auth.oidc.issuer): people can only use personal API tokens made on the server; configure single sign-on"))
	result(BuiltIn, "access-control.emergency", "164.312(a)(2)(ii) emergency access procedure", true,
		"break-the-glass access: clinicians, bioinformaticians and administrators may read patient data with a stated reason, flagged in the audit trail")
	long, err := longTokens(ctx, in)
	if err != nil {
		return nil, err
	}
	add("access-control.session-expiry", "164.312(a)(2)(iii) automatic logoff", long == 0,
		"IdP tokens expire as the IdP issues them; personal API tokens at most %d days%s", int(auth.MaxTokenLifetime.Hours()/24), ifElse(long > 0, fmt.Sprintf("; %d valid tokens outlive that", long), ""))
	lake, err := lakeState(ctx, in)
	if err != nil {
		return nil, err
	}
	add("access-control.encryption", "164.312(a)(2)(iv) encryption and decryption", lake.unwrapped == 0,
		"%d stored object versions, each encrypted (AES-256-GCM) under a data key of its own wrapped by a key of the %s provider%s", lake.live, cfg.Keys.Provider,
		ifElse(lake.unwrapped > 0, fmt.Sprintf("; %d versions have no wrapped data key or key name in the catalog and cannot be decrypted or trusted", lake.unwrapped), ""))

	// 164.312(b) Audit controls.
	res, err := audit.Verify(ctx, in.Catalog, audit.VerifyOptions{})
	if err != nil {
		return nil, err
	}
	switch {
	case !res.OK() && res.FirstBad != nil:
		add("audit.integrity", "164.312(b) audit controls", false, "the audit trail does not verify: record %d %s", res.FirstBad.Seq, res.FirstBad.Problem)
	case !res.OK():
		add("audit.integrity", "164.312(b) audit controls", false, "%d audit checkpoints do not verify", len(res.BadCheckpoints))
	default:
		add("audit.integrity", "164.312(b) audit controls", true, "the hash-chained audit trail verifies (%d records after the last signed checkpoint); a request whose record cannot be written is refused", res.Unsigned)
	}
	exported := cfg.Audit.Syslog.Address != ""
	add("audit.exported", "164.312(b) audit controls; checklist: audit exported", exported, "%s",
		ifElse(exported, "every record is forwarded to the SIEM at "+cfg.Audit.Syslog.Address+" (RFC 5424 over TLS, at least once)",
			"the audit trail is not exported to a SIEM (audit.syslog.address): records after the last checkpoint could be removed unseen"))

	// 164.312(c)(1) Integrity.
	stale, bad, total := lake.stale, lake.bad, lake.total
	add("integrity.stored-data", "164.312(c)(1) integrity", stale+bad == 0,
		"%d stored object versions: sha256 and authenticated encryption checked on every read%s", total,
		ifElse(stale+bad > 0, fmt.Sprintf("; %d failed their last scrub and %d were not verified in the last %d days (run `clinomics lake scrub`)", bad, stale, int(in.ScrubMaxAge.Hours()/24)), "; all verified by a scrub within the last "+fmt.Sprint(int(in.ScrubMaxAge.Hours()/24))+" days"))

	// 164.312(d) Person or entity authentication.
	lock := cfg.Auth.Lockout
	result(BuiltIn, "authentication.mechanisms", "164.312(d) person or entity authentication", true,
		"bearer tokens checked on every request (IdP JWTs: signature, issuer, audience, expiry, asymmetric algorithms only; API tokens: stored hashed); a source failing %d times is refused for %s", lock.MaxFailures, lock.Window)

	// 164.312(e)(1) Transmission security.
	t := cfg.Server.TLS
	switch {
	case t.PlainHTTP:
		add("transmission.api", "164.312(e)(1) transmission security; checklist: TLS 1.2+", false, "server.tls.plain_http is on: the API is served without TLS")
	case t.CertFile == "":
		add("transmission.api", "164.312(e)(1) transmission security; checklist: TLS 1.2+", false,
			"the API uses a self-signed certificate (%s): clients cannot verify it without pinning; configure server.tls.cert_file and key_file", tlsconf.SelfSignedCertPath(cfg.TLSDir()))
	default:
		add("transmission.api", "164.312(e)(1) transmission security; checklist: TLS 1.2+", true, "HTTPS only, TLS 1.2 or 1.3 with ECDHE and AEAD ciphers, HSTS")
	}
	if len(cfg.Auth.CertGrants) > 0 && t.ClientCAFile == "" {
		add("transmission.workers", "164.312(e)(1) transmission security", false, "auth.cert_grants names worker certificates but server.tls.client_ca_file is empty")
	}
	plain := outboundPlain(cfg)
	add("transmission.outbound", "164.312(e)(1) transmission security", len(plain) == 0, "%s",
		ifElse(len(plain) == 0, "connections to the identity provider, storage, key vault and SIEM use TLS", "not encrypted in transit: "+strings.Join(plain, ", ")))

	// Deployment checklist.
	cmk, why := customerKeys(cfg)
	add("checklist.encryption-at-rest", "checklist: encryption at rest with customer-managed keys", cmk, "%s", why)
	listeners := "the HTTP API's routes all require a credential but the health check"
	listenersOK := len(undeclared)+len(public) == 0
	if h := cfg.HL7; h.Listen != "" {
		listeners += "; the MLLP listener " + h.Listen + " takes messages from the network without a credential"
		if h.TLS && cfg.Server.TLS.RequireClientCert {
			listeners += ", but only from senders with a client certificate of server.tls.client_ca_file"
		} else {
			listenersOK = false
			listeners += ": require client certificates (hl7.tls and server.tls.require_client_cert) or restrict it by firewall"
		}
	}
	add("checklist.listeners", "checklist: no listener without authentication", listenersOK, "%s", listeners)
	add("checklist.retention", "checklist: retention configured", cfg.Lake.Retention > 0,
		"deleted objects are kept %s before purge; legal hold and WORM retention are enforced; %d tiering rules", cfg.Lake.Retention, len(cfg.Lake.Tiering))
	if b := cfg.Compliance.Backups; b != "" {
		result(Attested, "checklist.backups", "checklist: backups configured", true, "attested by the site (not verified by clinomics): %s", b)
	} else {
		add("checklist.backups", "checklist: backups configured", false,
			"no backup arrangement is recorded (compliance.backups): back up the catalog, the keyring or Key Vault, and the lake with the site's tools, then describe it there")
	}
	return out, nil
}

func listed(prefix string, xs []string) string {
	if len(xs) == 0 {
		return ""
	}
	return prefix + strings.Join(xs, ", ")
}

func ifElse(c bool, a, b string) string {
	if c {
		return a
	}
	return b
}

// longTokens counts valid API tokens expiring beyond the maximum lifetime.
func longTokens(ctx context.Context, in Inputs) (int, error) {
	ts, err := in.Catalog.ListAPITokens(ctx, "")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, t := range ts {
		if t.Revoked.IsZero() && t.Expires.Sub(in.Now) > auth.MaxTokenLifetime {
			n++
		}
	}
	return n, nil
}

// lakeCounts describes the stored object versions: how many have no
// wrapped data key, failed their last scrub, or were not verified within
// ScrubMaxAge (ignoring versions younger than that).
// live counts every version not purged or shredded; total leaves out the
// archived versions not due for a scrub.
type lakeCounts struct{ live, unwrapped, total, bad, stale int }

func lakeState(ctx context.Context, in Inputs) (lakeCounts, error) {
	var c lakeCounts
	objs, err := in.Catalog.ListObjects(ctx, "")
	if err != nil {
		return c, err
	}
	for _, o := range objs {
		vs, err := in.Catalog.ListObjectVersions(ctx, o.Path)
		if err != nil {
			return c, err
		}
		for _, v := range vs {
			old := in.Now.Sub(v.Created) > in.ScrubMaxAge && in.Now.Sub(v.Verified) > in.ScrubMaxAge
			if !v.Purged.IsZero() || v.VerifyError == catalog.VerifyShredded {
				continue // gone, or shredded by design
			}
			c.live++
			if len(v.WrappedKey) == 0 || v.KeyName == "" {
				c.unwrapped++
			}
			if v.Tier == "archive" && old {
				continue // unreadable until rehydrated: not counted for the scrub
			}
			c.total++
			switch {
			case v.VerifyError != "":
				c.bad++
			case old:
				c.stale++
			}
		}
	}
	return c, nil
}

// outboundPlain lists configured outbound connections without TLS.
func outboundPlain(cfg *config.Config) []string {
	var out []string
	if u, err := url.Parse(cfg.Auth.OIDC.Issuer); err == nil && u.Scheme == "http" {
		out = append(out, "identity provider "+cfg.Auth.OIDC.Issuer)
	}
	if h := cfg.HL7; h.Listen != "" && !h.TLS {
		out = append(out, "HL7 listener "+h.Listen)
	}
	if o := cfg.HL7.Outbound; o.Address != "" && !o.TLS {
		out = append(out, "HL7 results to "+o.Address)
	}
	if cfg.Lake.Backend == "azure" {
		az := cfg.Lake.Azure
		if strings.HasPrefix(az.AccountURL, "http://") {
			out = append(out, "storage "+az.AccountURL)
		}
		if cs := os.Getenv(az.ConnectionStringEnv); strings.Contains(strings.ToLower(cs), "defaultendpointsprotocol=http;") ||
			strings.Contains(strings.ToLower(cs), "blobendpoint=http://") {
			out = append(out, "storage (the connection string in $"+az.ConnectionStringEnv+")")
		}
	}
	return out
}

// customerKeys says whether the lake's keys are the customer's own.
func customerKeys(cfg *config.Config) (bool, string) {
	switch cfg.Keys.Provider {
	case "azure-key-vault":
		return true, "data keys are wrapped by the site's keys in Azure Key Vault " + cfg.Keys.Azure.VaultURL + " (they never leave the vault)"
	case "local":
		f := cfg.Keys.Local.PassphraseFile
		if f != "" {
			if st, err := os.Stat(f); err != nil || st.Mode().Perm()&0o077 != 0 {
				return false, "keys.local.passphrase_file is missing or readable by others"
			}
		}
		return true, "data keys are wrapped by the site's local keyring, sealed with its passphrase (Argon2id); consider Key Vault or an HSM for separation of duties"
	}
	return false, "unknown key provider"
}
