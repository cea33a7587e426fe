// Package config is the typed configuration of clinomics. Its defaults live
// in one embedded, commented YAML file (defaults.yaml); a site file overrides
// any subset of keys, and unknown keys are rejected with their line.
package config

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/clinomics/clinomics/internal/clinical"
	"github.com/clinomics/clinomics/internal/lake"
	"github.com/clinomics/clinomics/internal/tlsconf"
)

//go:embed defaults.yaml
var defaultsYAML []byte

// DefaultsYAML returns the embedded default configuration, comments included.
func DefaultsYAML() []byte { return bytes.Clone(defaultsYAML) }

// Config is the whole configuration.
type Config struct {
	DataDir    string     `yaml:"data_dir"`
	Catalog    Catalog    `yaml:"catalog"`
	Executor   Executor   `yaml:"executor"`
	Workflow   Workflow   `yaml:"workflow"`
	Germline   Germline   `yaml:"germline"`
	Server     Server     `yaml:"server"`
	Log        Log        `yaml:"log"`
	Lake       Lake       `yaml:"lake"`
	Keys       Keys       `yaml:"keys"`
	Ingest     Ingest     `yaml:"ingest"`
	Auth       Auth       `yaml:"auth"`
	Audit      Audit      `yaml:"audit"`
	Compliance Compliance `yaml:"compliance"`
	Clinical   Clinical   `yaml:"clinical"`
	HL7        HL7        `yaml:"hl7"`
	Extract    Extract    `yaml:"extract"`
	FHIR       FHIR       `yaml:"fhir"`
}

// Extract configures the watched folders of batch extracts that `serve`
// loads as files arrive.
type Extract struct {
	Watch    []ExtractWatch `yaml:"watch"`
	Interval time.Duration  `yaml:"interval"`
}

// ExtractWatch is one watched folder and the mapping of its files.
type ExtractWatch struct {
	Dir     string `yaml:"dir"`
	Mapping string `yaml:"mapping"`
	Pattern string `yaml:"pattern"`
	Rejects string `yaml:"rejects"`
}

// Clinical configures the clinical database.
type Clinical struct {
	// Authorities lists, under the name each assigning authority is
	// matched as, the other names feeds give it.
	Authorities map[string][]string `yaml:"authorities"`
}

// FHIR configures the connection to the EHR's FHIR API: results out,
// orders in.
type FHIR struct {
	EHR     FHIREHR     `yaml:"ehr"`
	Orders  FHIROrders  `yaml:"orders"`
	Outbox  FHIROutbox  `yaml:"outbox"`
	Results FHIRResults `yaml:"results"`
}

// FHIRResults is how signed reports become FHIR Bundles.
type FHIRResults struct {
	IdentifierSystem string `yaml:"identifier_system"`
	PatientSystem    string `yaml:"patient_system"`
	PDF              string `yaml:"pdf"` // presented_form, document or none
}

// FHIREHR is the EHR and how we authenticate to it (SMART Backend Services).
type FHIREHR struct {
	BaseURL    string        `yaml:"base_url"`
	ClientID   string        `yaml:"client_id"`
	Scopes     []string      `yaml:"scopes"`
	TokenURL   string        `yaml:"token_url"`
	SigningAlg string        `yaml:"signing_alg"`
	Timeout    time.Duration `yaml:"timeout"`
}

// FHIROrders is how orders are pulled from the EHR.
type FHIROrders struct {
	Category     string        `yaml:"category"`
	PollInterval time.Duration `yaml:"poll_interval"`
	PageSize     int           `yaml:"page_size"`
}

// FHIROutbox tunes the delivery of report bundles.
type FHIROutbox struct {
	MaxAttempts int           `yaml:"max_attempts"`
	Backoff     time.Duration `yaml:"backoff"`
	MaxBackoff  time.Duration `yaml:"max_backoff"`
}

// HL7 configures the MLLP listener and the outbound feed.
type HL7 struct {
	Listen      string        `yaml:"listen"`
	TLS         bool          `yaml:"tls"`
	AllowPlain  bool          `yaml:"allow_plain"`
	MaxMessage  int           `yaml:"max_message"`
	ReadTimeout time.Duration `yaml:"read_timeout"`
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	Outbound    HL7Outbound   `yaml:"outbound"`
}

// HL7Outbound is where results go as ORU^R01.
type HL7Outbound struct {
	Address     string        `yaml:"address"`
	TLS         bool          `yaml:"tls"`
	CAFile      string        `yaml:"ca_file"`
	MaxAttempts int           `yaml:"max_attempts"`
	Backoff     time.Duration `yaml:"backoff"`
	MaxBackoff  time.Duration `yaml:"max_backoff"`

	SendingApplication   string `yaml:"sending_application"`
	SendingFacility      string `yaml:"sending_facility"`
	ReceivingApplication string `yaml:"receiving_application"`
	ReceivingFacility    string `yaml:"receiving_facility"`
	SendPDF              bool   `yaml:"send_pdf"`
}

// Compliance records what the compliance check cannot see for itself.
type Compliance struct {
	Backups string `yaml:"backups"` // the site's backup arrangement, in words
}

// Audit configures the audit trail's checkpoints and its export to a SIEM.
type Audit struct {
	CheckpointEvery    int           `yaml:"checkpoint_every"`
	CheckpointInterval time.Duration `yaml:"checkpoint_interval"`
	Syslog             AuditSyslog   `yaml:"syslog"`
}

// AuditSyslog is an RFC 5424 receiver over TLS (RFC 5425).
type AuditSyslog struct {
	Address  string `yaml:"address"` // host:port; empty: no export
	CAFile   string `yaml:"ca_file"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Ingest configures the sequencer run-folder watcher.
type Ingest struct {
	RunsDir           string        `yaml:"runs_dir"`
	Interval          time.Duration `yaml:"interval"`
	LakePrefix        string        `yaml:"lake_prefix"`
	GermlineReference string        `yaml:"germline_reference"`
}

// Lake chooses where objects are stored and how long they are kept.
type Lake struct {
	Backend   string        `yaml:"backend"`
	Local     LakeLocal     `yaml:"local"`
	Azure     LakeAzure     `yaml:"azure"`
	Retention time.Duration `yaml:"retention"`
	Tiering   []TierRule    `yaml:"tiering"`
}

// LakeLocal places the local backend.
type LakeLocal struct {
	Dir string `yaml:"dir"`
}

// LakeAzure configures Azure Blob Storage.
type LakeAzure struct {
	ConnectionStringEnv string `yaml:"connection_string_env"`
	AccountURL          string `yaml:"account_url"`
	Container           string `yaml:"container"`
}

// TierRule moves objects of a kind to a tier after an age.
type TierRule struct {
	Kind  string        `yaml:"kind"`
	After time.Duration `yaml:"after"`
	Tier  string        `yaml:"tier"`
}

// Keys chooses the key provider.
type Keys struct {
	Provider string    `yaml:"provider"`
	Local    KeysLocal `yaml:"local"`
	Azure    KeysAzure `yaml:"azure_key_vault"`
}

// KeysLocal configures the local keyring.
type KeysLocal struct {
	Path           string `yaml:"path"`
	PassphraseEnv  string `yaml:"passphrase_env"`
	PassphraseFile string `yaml:"passphrase_file"`
}

// KeysAzure configures Azure Key Vault.
type KeysAzure struct {
	VaultURL string `yaml:"vault_url"`
	Prefix   string `yaml:"prefix"`
	KeySize  int    `yaml:"key_size"`
	HSM      bool   `yaml:"hsm"`
}

// LakeDir is the local lake directory.
func (c *Config) LakeDir() string {
	if c.Lake.Local.Dir != "" {
		return c.Lake.Local.Dir
	}
	return filepath.Join(c.DataDir, "lake")
}

// KeyringPath is the local keyring file.
func (c *Config) KeyringPath() string {
	if c.Keys.Local.Path != "" {
		return c.Keys.Local.Path
	}
	return filepath.Join(c.DataDir, "keys", "keyring")
}

// Catalog says where the catalog database is.
type Catalog struct {
	DSN string `yaml:"dsn"`
}

// Executor chooses and tunes the backend that runs tasks.
type Executor struct {
	Kind  string      `yaml:"kind"`
	Local LocalExec   `yaml:"local"`
	Slurm SlurmConfig `yaml:"slurm"`
}

// LocalExec bounds the local process pool.
type LocalExec struct {
	Threads  int `yaml:"threads"`
	MemoryMB int `yaml:"memory_mb"`
}

// SlurmConfig tunes the Slurm backend.
type SlurmConfig struct {
	Partition    string        `yaml:"partition"`
	Account      string        `yaml:"account"`
	PollInterval time.Duration `yaml:"poll_interval"`
}

// Workflow tunes the engine.
type Workflow struct {
	Retries      int           `yaml:"retries"`
	RetryBackoff time.Duration `yaml:"retry_backoff"`
	MaxBackoff   time.Duration `yaml:"max_backoff"`
}

// Germline tunes the germline pipeline.
type Germline struct {
	Caller       string `yaml:"caller"`
	Trim         bool   `yaml:"trim"`
	ReadChunks   int    `yaml:"read_chunks"`
	Regions      int    `yaml:"regions"`
	GVCFMinDepth int    `yaml:"gvcf_min_depth"`
	MinMapQ      int    `yaml:"min_mapq"`
	MinBaseQ     int    `yaml:"min_baseq"`
}

// Server tunes the HTTP API server.
type Server struct {
	Listen          string        `yaml:"listen"`
	ReadTimeout     time.Duration `yaml:"read_timeout"`
	WriteTimeout    time.Duration `yaml:"write_timeout"`
	IdleTimeout     time.Duration `yaml:"idle_timeout"`
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	Site            string        `yaml:"site"`
	TLS             TLS           `yaml:"tls"`
}

// TLS configures the server's transport security.
type TLS struct {
	CertFile          string   `yaml:"cert_file"`
	KeyFile           string   `yaml:"key_file"`
	ClientCAFile      string   `yaml:"client_ca_file"`
	RequireClientCert bool     `yaml:"require_client_cert"`
	PlainHTTP         bool     `yaml:"plain_http"`
	Hosts             []string `yaml:"hosts"`
}

// TLSDir holds the self-signed certificate made when none is configured.
func (c *Config) TLSDir() string { return filepath.Join(c.DataDir, "tls") }

// Auth configures who may sign in and what they may do.
type Auth struct {
	OIDC       OIDC                `yaml:"oidc"`
	RoleMap    map[string][]string `yaml:"role_map"`
	CertGrants map[string][]string `yaml:"cert_grants"`
	Lockout    Lockout             `yaml:"lockout"`
}

// OIDC names the identity provider whose tokens are accepted.
type OIDC struct {
	Issuer       string        `yaml:"issuer"`
	Audience     []string      `yaml:"audience"`
	ClientID     string        `yaml:"client_id"` // public client for `clinomics login`
	Scopes       []string      `yaml:"scopes"`    // asked for by `clinomics login`
	Resource     string        `yaml:"resource"`  // RFC 8707 resource indicator sent by `clinomics login`
	SubjectClaim string        `yaml:"subject_claim"`
	RolesClaim   string        `yaml:"roles_claim"`
	GroupsClaim  string        `yaml:"groups_claim"`
	KeysMaxAge   time.Duration `yaml:"keys_max_age"`
}

// Lockout refuses a source after repeated failed authentications.
type Lockout struct {
	MaxFailures int           `yaml:"max_failures"`
	Window      time.Duration `yaml:"window"`
}

// Log tunes operational logging.
type Log struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

// Default returns the embedded defaults, with "~" expanded.
func Default() (*Config, error) {
	var c Config
	if err := decode(defaultsYAML, "defaults.yaml", &c); err != nil {
		return nil, fmt.Errorf("embedded defaults: %w", err)
	}
	c.expand()
	return &c, nil
}

// Load returns the defaults overridden by the file at path (if path is not
// empty) and by the environment ($CLINOMICS_DATA_DIR,
// $CLINOMICS_CATALOG_DSN). The result is validated.
func Load(path string) (*Config, error) {
	var c Config
	if err := decode(defaultsYAML, "defaults.yaml", &c); err != nil {
		return nil, fmt.Errorf("embedded defaults: %w", err)
	}
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		if err := decode(b, path, &c); err != nil {
			return nil, err
		}
	}
	if v := os.Getenv("CLINOMICS_DATA_DIR"); v != "" {
		c.DataDir = v
	}
	if v := os.Getenv("CLINOMICS_CATALOG_DSN"); v != "" {
		c.Catalog.DSN = v
	}
	c.expand()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

func decode(b []byte, name string, c *Config) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		return fmt.Errorf("config %s: %s", name, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	return nil
}

func (c *Config) expand() {
	if c.DataDir == "~" || strings.HasPrefix(c.DataDir, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			c.DataDir = filepath.Join(home, strings.TrimPrefix(c.DataDir, "~"))
		}
	}
}

// CatalogDSN is the catalog DSN, defaulting to SQLite inside DataDir.
func (c *Config) CatalogDSN() string {
	if c.Catalog.DSN != "" {
		return c.Catalog.DSN
	}
	return filepath.Join(c.DataDir, "catalog.db")
}

// Validate checks every value and returns all problems at once, each naming
// its key.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, a...)))
	}
	if c.DataDir == "" {
		bad("data_dir", "must not be empty")
	}
	if d := c.Catalog.DSN; d != "" && strings.Contains(d, "://") {
		u, err := url.Parse(d)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			bad("catalog.dsn", "must be a file path or a postgres:// URL")
		}
	}
	switch c.Executor.Kind {
	case "local", "slurm":
	default:
		bad("executor.kind", "%q is not one of local, slurm", c.Executor.Kind)
	}
	if c.Executor.Local.Threads < 0 {
		bad("executor.local.threads", "must be >= 0")
	}
	if c.Executor.Local.MemoryMB < 0 {
		bad("executor.local.memory_mb", "must be >= 0")
	}
	if c.Executor.Slurm.PollInterval <= 0 {
		bad("executor.slurm.poll_interval", "must be positive")
	}
	if c.Workflow.Retries < 0 {
		bad("workflow.retries", "must be >= 0")
	}
	if c.Workflow.RetryBackoff <= 0 || c.Workflow.MaxBackoff < c.Workflow.RetryBackoff {
		bad("workflow.retry_backoff", "must be positive and not above workflow.max_backoff")
	}
	switch c.Germline.Caller {
	case "bcftools", "freebayes":
	default:
		bad("germline.caller", "%q is not one of bcftools, freebayes", c.Germline.Caller)
	}
	if c.Germline.ReadChunks < 0 || c.Germline.Regions < 0 {
		bad("germline", "read_chunks and regions must be >= 0")
	}
	if c.Germline.GVCFMinDepth < 1 {
		bad("germline.gvcf_min_depth", "must be >= 1")
	}
	if _, _, err := net.SplitHostPort(c.Server.Listen); err != nil {
		bad("server.listen", "%q is not HOST:PORT", c.Server.Listen)
	}
	for key, d := range map[string]time.Duration{
		"server.read_timeout": c.Server.ReadTimeout, "server.write_timeout": c.Server.WriteTimeout,
		"server.idle_timeout": c.Server.IdleTimeout, "server.shutdown_timeout": c.Server.ShutdownTimeout,
	} {
		if d <= 0 {
			bad(key, "must be positive")
		}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "%q is not one of debug, info, warn, error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format", "%q is not one of text, json", c.Log.Format)
	}
	switch c.Lake.Backend {
	case "local":
	case "azure":
		if c.Lake.Azure.Container == "" {
			bad("lake.azure.container", "must not be empty")
		}
		if c.Lake.Azure.AccountURL == "" && c.Lake.Azure.ConnectionStringEnv == "" {
			bad("lake.azure", "set account_url or connection_string_env")
		}
	default:
		bad("lake.backend", "%q is not one of local, azure", c.Lake.Backend)
	}
	if c.Lake.Retention < 0 {
		bad("lake.retention", "must be >= 0")
	}
	for i, r := range c.Lake.Tiering {
		if r.Kind == "" || r.After < 0 || (r.Tier != "hot" && r.Tier != "cool" && r.Tier != "archive") {
			bad(fmt.Sprintf("lake.tiering[%d]", i), "needs a kind, an age >= 0 and a tier of hot, cool or archive")
		}
	}
	if c.Server.Site == "" || strings.ContainsAny(c.Server.Site, " @,:") {
		bad("server.site", "a short name without spaces, '@', ',' or ':'")
	}
	if c.Auth.OIDC.Issuer != "" {
		if u, err := url.Parse(c.Auth.OIDC.Issuer); err != nil || u.Scheme != "https" && !(u.Scheme == "http" && tlsconf.IsLoopback(u.Hostname())) {
			bad("auth.oidc.issuer", "must be an https:// URL (http only on loopback, for tests)")
		}
		if len(c.Auth.OIDC.Audience) == 0 {
			bad("auth.oidc.audience", "name the audience our API's tokens are issued for (e.g. api://clinomics)")
		}
	}
	if c.Auth.Lockout.MaxFailures < 1 || c.Auth.Lockout.Window <= 0 {
		bad("auth.lockout", "max_failures >= 1 and a positive window")
	}
	if c.Audit.CheckpointEvery < 1 || c.Audit.CheckpointInterval <= 0 {
		bad("audit", "checkpoint_every >= 1 and a positive checkpoint_interval")
	}
	if c.Audit.Syslog.Address != "" && c.Audit.Syslog.CAFile == "" {
		bad("audit.syslog.ca_file", "the SIEM's certificate is always verified: give the CA that signed it")
	}
	if len(c.Extract.Watch) > 0 && c.Extract.Interval <= 0 {
		bad("extract.interval", "must be positive")
	}
	dirs := map[string]bool{}
	for i, w := range c.Extract.Watch {
		key := fmt.Sprintf("extract.watch[%d]", i)
		switch {
		case w.Dir == "" || w.Mapping == "":
			bad(key, "needs dir and mapping")
		case dirs[filepath.Clean(w.Dir)]:
			bad(key+".dir", "another entry watches this folder: one watch per folder (the watermark assumes files in time order)")
		}
		if w.Pattern != "" {
			if _, err := filepath.Match(w.Pattern, ""); err != nil {
				bad(key+".pattern", "%v", err)
			}
		}
		dirs[filepath.Clean(w.Dir)] = true
	}
	if err := clinical.CheckAuthorities(c.Clinical.Authorities); err != nil {
		bad("clinical.authorities", "%v", strings.TrimPrefix(err.Error(), "clinical: "))
	}
	if h := c.HL7; h.Listen != "" {
		host, _, err := net.SplitHostPort(h.Listen)
		switch {
		case err != nil:
			bad("hl7.listen", "want HOST:PORT")
		case !h.TLS && !h.AllowPlain && !tlsconf.IsLoopback(host):
			bad("hl7.tls", "MLLP off this machine must use TLS (hl7.tls: true, with server.tls's certificate), or set hl7.allow_plain on a network the site protects otherwise")
		}
		if h.MaxMessage < 1024 {
			bad("hl7.max_message", "at least 1024 bytes")
		}
	}
	if a := c.HL7.Outbound.Address; a != "" {
		if err := checkHostPort(a); err != nil {
			bad("hl7.outbound.address", "%v", err)
		}
	}
	if a := c.Audit.Syslog.Address; a != "" {
		if err := checkHostPort(a); err != nil {
			bad("audit.syslog.address", "%v", err)
		}
	}
	if o := c.HL7.Outbound; o.Address != "" && (o.MaxAttempts < 1 || o.Backoff <= 0 || o.MaxBackoff < o.Backoff) {
		bad("hl7.outbound", "max_attempts >= 1 and 0 < backoff <= max_backoff")
	}
	c.validateFHIR(bad)
	switch c.FHIR.Results.PDF {
	case "presented_form", "document", "none":
	default:
		bad("fhir.results.pdf", "must be presented_form, document or none")
	}
	if c.Ingest.Interval <= 0 {
		bad("ingest.interval", "must be positive")
	}
	if err := lake.CheckPath(c.Ingest.LakePrefix); err != nil {
		bad("ingest.lake_prefix", "must be a lake folder such as runs: %v", err)
	}
	if err := tlsconf.CheckListen(c.Server.Listen, c.Server.TLS.PlainHTTP); err != nil {
		bad("server.tls.plain_http", "%v", err)
	}
	if c.Ingest.GermlineReference != "" && c.Ingest.RunsDir == "" {
		bad("ingest.germline_reference", "needs ingest.runs_dir")
	}
	switch c.Keys.Provider {
	case "local":
		if c.Keys.Local.PassphraseEnv == "" && c.Keys.Local.PassphraseFile == "" {
			bad("keys.local", "set passphrase_env or passphrase_file")
		}
	case "azure-key-vault":
		if !strings.HasPrefix(c.Keys.Azure.VaultURL, "https://") {
			bad("keys.azure_key_vault.vault_url", "must be an https:// URL")
		}
		if k := c.Keys.Azure.KeySize; k != 3072 && k != 4096 {
			bad("keys.azure_key_vault.key_size", "must be 3072 or 4096")
		}
	default:
		bad("keys.provider", "%q is not one of local, azure-key-vault", c.Keys.Provider)
	}
	return errors.Join(errs...)
}

// checkHostPort checks an address to connect to: HOST:PORT with a host
// and a port from 1 to 65535 ([::1]:2575 for IPv6). The error does not
// repeat the value.
func checkHostPort(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("want HOST:PORT (e.g. ehr.example.org:2575)")
	}
	if host == "" {
		return errors.New("want HOST:PORT: the host is missing")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return errors.New("want HOST:PORT: the port must be a number from 1 to 65535")
	}
	return nil
}

// validateFHIR checks the fhir section.
func (c *Config) validateFHIR(bad func(key, format string, a ...any)) {
	e := c.FHIR.EHR
	webURL := func(key, v string) {
		u, err := url.Parse(v)
		if err != nil || u.Host == "" || u.Scheme != "https" && !(u.Scheme == "http" && tlsconf.IsLoopback(u.Hostname())) {
			bad(key, "must be an https:// URL (http only on loopback, for tests)")
		}
	}
	if e.BaseURL != "" {
		webURL("fhir.ehr.base_url", e.BaseURL)
		if e.ClientID == "" {
			bad("fhir.ehr.client_id", "give the client id the EHR registered for clinomics")
		}
		if len(e.Scopes) == 0 {
			bad("fhir.ehr.scopes", "name the system/ scopes to ask for")
		}
	}
	if e.TokenURL != "" {
		webURL("fhir.ehr.token_url", e.TokenURL)
	}
	if e.SigningAlg != "RS384" && e.SigningAlg != "ES384" {
		bad("fhir.ehr.signing_alg", "%q is not one of RS384, ES384", e.SigningAlg)
	}
	if e.Timeout <= 0 {
		bad("fhir.ehr.timeout", "must be positive")
	}
	if o := c.FHIR.Orders; o.PollInterval < 0 || o.PageSize < 1 || o.PageSize > 1000 {
		bad("fhir.orders", "poll_interval >= 0 and 1 <= page_size <= 1000")
	}
	if o := c.FHIR.Outbox; o.MaxAttempts < 1 || o.Backoff <= 0 || o.MaxBackoff < o.Backoff {
		bad("fhir.outbox", "max_attempts >= 1 and 0 < backoff <= max_backoff")
	}
}

// Redacted returns a copy with secrets replaced, safe to print.
func (c *Config) Redacted() *Config {
	r := *c
	r.Catalog.DSN = redactDSN(c.Catalog.DSN)
	return &r
}

func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		if strings.Contains(dsn, "password=") {
			return "REDACTED"
		}
		return dsn
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "REDACTED")
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "REDACTED")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// YAML renders the configuration (callers redact first).
func (c *Config) YAML() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
