package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/clinomics/clinomics/internal/app"
	"github.com/clinomics/clinomics/internal/auth"
	"github.com/clinomics/clinomics/internal/config"
	"github.com/clinomics/clinomics/internal/httpapi"
	"github.com/clinomics/clinomics/internal/outbox"
	"github.com/clinomics/clinomics/internal/pipeline"
	"github.com/clinomics/clinomics/internal/report"
	"github.com/clinomics/clinomics/internal/tlsconf"
)

func serve(ctx context.Context, e *env, args []string) error {
	fs, cfgPath := flags(e, "serve")
	listen := fs.String("listen", "", "address to listen on (default from config server.listen)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	if *listen != "" {
		cfg.Server.Listen = *listen
	}
	if err := tlsconf.CheckListen(cfg.Server.Listen, cfg.Server.TLS.PlainHTTP); err != nil {
		return err
	}
	lock, err := lockServer(cfg)
	if err != nil {
		return err
	}
	defer lock.Close()
	log := app.NewLogger(cfg, e.stderr)
	a, err := app.Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	var cleanup cleanups
	lk, err := app.OpenLake(ctx, cfg, a.Store, "server")
	if err != nil {
		return err
	}
	a.Runner.Lake = lk
	mgr := &pipeline.Manager{Runner: a.Runner}
	if err := mgr.Start(ctx); err != nil {
		return err
	}
	defer mgr.Close()
	if cfg.Ingest.RunsDir != "" {
		w, err := newWatcher(cfg, a.Store, lk, log, "")
		if err != nil {
			return err
		}
		if cfg.Ingest.GermlineReference != "" {
			w.Ingested = startPipelines(mgr, cfg.Ingest.GermlineReference, log)
		}
		wctx, stopWatch := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); w.Watch(wctx, cfg.Ingest.Interval) }()
		defer func() { stopWatch(); <-done }()
		log.Info("watching for sequencer runs", "dir", w.Dir, "interval", cfg.Ingest.Interval.String())
	}
	idp, err := app.NewIdP(cfg, log)
	if err != nil {
		return err
	}
	var verifier auth.IdentityVerifier
	if idp != nil {
		verifier = idp
		if err := idp.Refresh(ctx); err != nil {
			log.Warn("identity provider not reachable at start; its tokens are refused until it is", "issuer", cfg.Auth.OIDC.Issuer, "err", err.Error())
		}
	}
	authn, err := app.NewAuthenticator(cfg, a.Store, verifier)
	if err != nil {
		return err
	}
	alog, err := app.OpenAudit(ctx, cfg, a.Store, lk.Keys(), log)
	if err != nil {
		return err
	}
	defer alog.Close() // after the server's shutdown: the final checkpoint covers every request
	if x, sink, err := app.AuditExporter(cfg, a.Store, log); err != nil {
		return err
	} else if x != nil {
		xctx, stopExport := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			if _, err := x.Run(xctx); err != nil && xctx.Err() == nil {
				log.Error("audit export stopped", "to", cfg.Audit.Syslog.Address, "err", err.Error())
			}
		}()
		defer func() { stopExport(); <-done; sink.Close() }()
		log.Info("exporting the audit trail", "to", cfg.Audit.Syslog.Address)
	}
	defer cleanup.run() // also what startHL7 started before failing
	cdb, err := openClinical(ctx, cfg, a.Store, lk, log, true)
	if err != nil {
		return err
	}
	hl7q, err := startHL7(ctx, cfg, a.Store, cdb, alog, log, &cleanup)
	if err != nil {
		return err
	}
	jwks, ehrq, err := startFHIR(ctx, cfg, a.Store, cdb, alog, log, &cleanup)
	if err != nil {
		return err
	}
	if err := startExtractWatches(ctx, cfg, a.Store, cdb, log, &cleanup); err != nil {
		return err
	}
	api := &httpapi.Server{Store: a.Store, Lake: lk, Manager: mgr, Log: log, DefaultTrim: cfg.Germline.Trim,
		Auth: authn, Audit: alog, Limiter: app.NewLimiter(cfg), Site: cfg.Server.Site}
	fst := app.NewFHIRStore(a.Store, cdb)
	// A signed report's ORU^R01 and FHIR Bundle are queued in the signing
	// transaction; after it commits, the queues and the publisher of our
	// own FHIR API are woken.
	var pub *app.ReportPublisher
	notify := func(r report.Report) {
		for _, q := range []*outbox.Queue{hl7q, ehrq} {
			if q != nil {
				q.Wake()
			}
		}
		if pub != nil {
			pub.Notify(r)
		}
	}
	reports := app.NewReports(a.Store, cdb, alog, log,
		report.Options{Hooks: app.ResultHooks(cfg, hl7q, ehrq), Notify: notify})
	api.Reports = reports
	pub = app.NewReportPublisher(reports, fst, app.BundleOptions(cfg), log)
	pctx, stopPub := context.WithCancel(ctx)
	pubDone := make(chan struct{})
	go func() { defer close(pubDone); pub.Run(pctx) }()
	cleanup.add(func() { stopPub(); <-pubDone })
	// SMART scopes narrow what a scope-limited credential reads (and
	// posts) through the FHIR API; see auth.Principal.SMARTScopes.
	api.FHIR = &httpapi.FHIRAPI{Store: fst.Store, Scopes: (*auth.Principal).SMARTScopes, Orders: fst, SystemAliases: app.SystemAliases(cfg)}
	t := cfg.Server.TLS
	var tc *tls.Config
	if !t.PlainHTTP {
		var info tlsconf.Info
		tc, info, err = tlsconf.ServerConfig(tlsconf.ServerOptions{CertFile: t.CertFile, KeyFile: t.KeyFile, SelfSignedDir: cfg.TLSDir(),
			Hosts: t.Hosts, ClientCAFile: t.ClientCAFile, RequireClientCert: t.RequireClientCert, Log: log})
		if err != nil {
			return err
		}
		for _, w := range info.Warnings {
			log.Warn(w)
		}
	}
	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           tlsconf.SecurityHeaders(withJWKS(api.Handler(), jwks), !t.PlainHTTP),
		TLSConfig:         tc,
		ReadTimeout:       cfg.Server.ReadTimeout,
		ReadHeaderTimeout: 10 * time.Second,
		WriteTimeout:      cfg.Server.WriteTimeout,
		IdleTimeout:       cfg.Server.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
	}
	scheme := "https"
	if t.PlainHTTP {
		scheme = "http"
	}
	log.Info("serving", "url", scheme+"://"+ln.Addr().String(), "executor", a.Exec.Name(), "data_dir", cfg.DataDir)
	errc := make(chan error, 1)
	go func() {
		if t.PlainHTTP {
			errc <- srv.Serve(ln)
		} else {
			errc <- srv.ServeTLS(ln, "", "")
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: unfinished runs resume at the next start")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.Server.ShutdownTimeout)
	defer cancel()
	return srv.Shutdown(sctx)
}

// client talks to a running server.
type client struct {
	base string
	http *http.Client
}

// server is where a client command finds the server and how it trusts
// it: --server, and --config (the same file `serve` reads).
type server struct {
	url    *string
	config *string
}

// clientFlags adds --server to a command whose --config is config.
func clientFlags(fs *flag.FlagSet, config *string) server {
	return server{url: fs.String("server", "", "server URL (default: $CLINOMICS_SERVER, else https://HOST:PORT of server.listen in --config)"), config: config}
}

// URL is the server's URL: --server, else $CLINOMICS_SERVER, else the
// configuration's server.listen (https; http with server.tls.plain_http),
// a wildcard host (0.0.0.0, ::) read as this machine.
func (s server) URL() (string, error) {
	if *s.url != "" {
		return strings.TrimRight(*s.url, "/"), nil
	}
	if v := os.Getenv("CLINOMICS_SERVER"); v != "" {
		return strings.TrimRight(v, "/"), nil
	}
	cfg, err := loadConfig(*s.config)
	if err != nil {
		return "", err
	}
	return listenURL(cfg.Server.Listen, cfg.Server.TLS.PlainHTTP), nil
}

// listenURL is the URL a client on this machine uses for a server
// listening on addr.
func listenURL(addr string, plain bool) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		host, port = "127.0.0.1", "8080" // config validation makes this unreachable
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	scheme := "https"
	if plain {
		scheme = "http"
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

func newClient(ctx context.Context, s server) (*client, error) {
	base, err := s.URL()
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usagef("--server %q: want http(s)://HOST:PORT", base)
	}
	tok, err := credential(ctx, base)
	if err != nil {
		return nil, err
	}
	if tok != "" && u.Scheme == "http" && !tlsconf.IsLoopback(u.Hostname()) {
		return nil, usagef("--server %q: credentials are sent only over https (plain http only to this machine)", base)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if u.Scheme == "https" {
		if tr.TLSClientConfig, err = clientTLS(*s.config); err != nil {
			return nil, err
		}
	}
	return &client{base: base, http: &http.Client{Timeout: 30 * time.Second, Transport: bearer{tok, u.Host, tr}}}, nil
}

// clientTLS trusts $CLINOMICS_CA_FILE when set, else the server's
// self-signed certificate when this machine has it (the CLI on the server,
// in the data directory of the configuration at cfgPath), else the
// system's roots. $CLINOMICS_CLIENT_CERT and _KEY give a client
// certificate for mutual TLS.
func clientTLS(cfgPath string) (*tls.Config, error) {
	o := tlsconf.ClientOptions{CAFile: os.Getenv("CLINOMICS_CA_FILE"),
		CertFile: os.Getenv("CLINOMICS_CLIENT_CERT"), KeyFile: os.Getenv("CLINOMICS_CLIENT_KEY")}
	if o.CAFile == "" {
		cfg, err := loadConfig(cfgPath)
		if err != nil {
			return nil, err
		}
		if pin := tlsconf.SelfSignedCertPath(cfg.TLSDir()); fileExists(pin) {
			o.PinFile = pin
		}
	}
	return tlsconf.ClientConfig(o)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// bearer adds the credential to requests for the server's host only (not
// to wherever a redirect leads).
type bearer struct {
	token string
	host  string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	if b.token != "" && r.URL.Host == b.host {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+b.token)
	}
	return b.next.RoundTrip(r)
}

func (c *client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	b, err := c.send(ctx, method, path, rd, 16<<20)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

// send makes one request and returns the answer's body (at most limit
// bytes); an answer other than 2xx is an error with the server's message.
func (c *client) send(ctx context.Context, method, path string, body io.Reader, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("server %s: %w (is `clinomics serve` running?)", c.base, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		var e struct{ Error string }
		msg := fmt.Sprintf("HTTP %d", resp.StatusCode)
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			msg = fmt.Sprintf("%s (HTTP %d)", e.Error, resp.StatusCode)
		}
		if resp.StatusCode == http.StatusUnauthorized {
			msg += "; sign in with `clinomics login`, or set $CLINOMICS_TOKEN to a personal API token"
		}
		return nil, fmt.Errorf("server: %s", msg)
	}
	return b, nil
}

func runsSubmit(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] != pipeline.GermlinePipeline {
		return usagef("name the pipeline: runs submit germline ...")
	}
	fs, cfgPath := flags(e, "runs submit")
	server := clientFlags(fs, cfgPath)
	params := germlineFlags(fs)
	follow := fs.Bool("follow", false, "follow the run until it ends")
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	p, err := params(pos)
	if err != nil {
		return err
	}
	if err := p.Abs(); err != nil {
		return err
	}
	c, err := newClient(ctx, server)
	if err != nil {
		return err
	}
	req := httpapi.SubmitRequest{Pipeline: pipeline.GermlinePipeline, Sample: p.Sample, FASTQ: p.FASTQ, Reference: p.Reference,
		Targets: p.Targets, Out: p.OutDir, Patient: p.Patient, Caller: p.Caller}
	if p.Trim {
		req.Trim = &p.Trim
	}
	var run httpapi.RunView
	if err := c.do(ctx, "POST", "/api/v1/runs", req, &run); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "submitted run %s\n", run.ID)
	if *follow {
		return followRun(ctx, e, c, run.ID)
	}
	return nil
}

func runsList(ctx context.Context, e *env, args []string) error {
	fs, cfgPath := flags(e, "runs list")
	server := clientFlags(fs, cfgPath)
	sample := fs.String("sample", "", "only runs of this sample")
	state := fs.String("state", "", "only runs in this state")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	c, err := newClient(ctx, server)
	if err != nil {
		return err
	}
	q := url.Values{}
	if *sample != "" {
		q.Set("sample", *sample)
	}
	if *state != "" {
		q.Set("state", *state)
	}
	var out struct{ Runs []httpapi.RunView }
	if err := c.do(ctx, "GET", "/api/v1/runs?"+q.Encode(), nil, &out); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, out)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSAMPLE\tPIPELINE\tSTATE\tUPDATED")
	for _, r := range out.Runs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.ID, r.Sample, r.Pipeline, r.State, r.Updated)
	}
	return tw.Flush()
}

func runsShow(ctx context.Context, e *env, args []string) error {
	fs, cfgPath := flags(e, "runs show")
	server := clientFlags(fs, cfgPath)
	follow := fs.Bool("follow", false, "poll until the run ends, printing task changes")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("give one run ID")
	}
	c, err := newClient(ctx, server)
	if err != nil {
		return err
	}
	if *follow {
		return followRun(ctx, e, c, pos[0])
	}
	var run httpapi.RunView
	if err := c.do(ctx, "GET", "/api/v1/runs/"+url.PathEscape(pos[0]), nil, &run); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, run)
	}
	printRun(e.stdout, run)
	return nil
}

func runsCancel(ctx context.Context, e *env, args []string) error {
	fs, cfgPath := flags(e, "runs cancel")
	server := clientFlags(fs, cfgPath)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("give one run ID")
	}
	c, err := newClient(ctx, server)
	if err != nil {
		return err
	}
	var out map[string]string
	if err := c.do(ctx, "POST", "/api/v1/runs/"+url.PathEscape(pos[0])+"/cancel", struct{}{}, &out); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "run %s: %s\n", pos[0], out["state"])
	return nil
}

// followRun polls the run, printing each task state change, until it ends.
func followRun(ctx context.Context, e *env, c *client, id string) error {
	seen := map[string]string{}
	for {
		var run httpapi.RunView
		if err := c.do(ctx, "GET", "/api/v1/runs/"+url.PathEscape(id), nil, &run); err != nil {
			return err
		}
		done := 0
		for _, t := range run.Tasks {
			if t.State == "succeeded" || t.State == "cached" {
				done++
			}
		}
		for _, t := range run.Tasks {
			if seen[t.ID] != t.State {
				seen[t.ID] = t.State
				fmt.Fprintf(e.stdout, "%s  %-14s %-18s %s\n", time.Now().Format("15:04:05"), t.ID, t.Step, t.State)
			}
		}
		switch run.State {
		case "succeeded":
			fmt.Fprintf(e.stdout, "run %s succeeded (%d tasks)\n", run.ID, done)
			return nil
		case "failed", "cancelled":
			return &exitError{code: 1, err: fmt.Errorf("run %s %s: %s", run.ID, run.State, run.Error)}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

func printRun(w io.Writer, r httpapi.RunView) {
	fmt.Fprintf(w, "run       %s\nsample    %s\npipeline  %s\nstate     %s\nout       %s\ncreated   %s\nupdated   %s\n",
		r.ID, r.Sample, r.Pipeline, r.State, r.Out, r.Created, r.Updated)
	if r.Error != "" {
		fmt.Fprintf(w, "error     %s\n", r.Error)
	}
	if len(r.Tools) > 0 {
		fmt.Fprintf(w, "tools    ")
		for _, k := range slices.Sorted(maps.Keys(r.Tools)) {
			fmt.Fprintf(w, " %s=%v", k, r.Tools[k])
		}
		fmt.Fprintln(w)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\nTASK\tSTEP\tSTATE\tATTEMPTS\tCPU s")
	for _, t := range r.Tasks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%.2f\n", t.ID, t.Step, t.State, t.Attempts, t.CPUSeconds)
	}
	tw.Flush()
	if len(r.Files) > 0 {
		fmt.Fprintln(w, "\nFILES")
		for _, f := range r.Files {
			fmt.Fprintf(w, "  %s  %d bytes  sha256:%s\n", f.Path, f.Size, f.SHA256)
		}
	}
	if len(r.Objects) > 0 {
		fmt.Fprintln(w, "\nLAKE OBJECTS")
		for _, o := range r.Objects {
			fmt.Fprintf(w, "  lake:%s  version %s  %d bytes  sha256:%s\n", o.Path, o.Version, o.Size, o.SHA256)
		}
	}
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// lockServer makes this the only `clinomics serve` of the data directory
// and of a SQLite catalog: a second one, which would key the clinical
// database again under its own authority names and take over the
// sequencer folder and the queues under the running one, is refused
// before it touches anything. The lock is the kernel's (flock on
// serve.lock in the data directory, or beside a SQLite catalog kept
// elsewhere), gone when the process ends, however it ends. Servers on
// several machines sharing a PostgreSQL catalog are not refused: there a
// re-key waits for their transactions and they are refused afterwards
// (clinical.ErrOtherScheme) until restarted with the same names.
func lockServer(cfg *config.Config) (*os.File, error) {
	dir := cfg.DataDir
	if dsn := cfg.Catalog.DSN; dsn != "" && !isPostgres(dsn) {
		path, _, _ := strings.Cut(strings.TrimPrefix(dsn, "file:"), "?")
		dir = filepath.Dir(path)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "serve.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		pid, _ := io.ReadAll(io.LimitReader(f, 32))
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("another `clinomics serve` (pid %s) runs with %s: stop it first", strings.TrimSpace(string(pid)), dir)
		}
		return nil, fmt.Errorf("locking %s: %w", filepath.Join(dir, "serve.lock"), err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}
