package cli

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/clinomics/clinomics/internal/app"
	"github.com/clinomics/clinomics/internal/audit"
	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/config"
	"github.com/clinomics/clinomics/internal/keys"
	"github.com/clinomics/clinomics/internal/tlsconf"
)

func init() {
	commands = append(commands, []command{
		{name: "audit verify", args: "[--pubkey KEYS.pem]", summary: "check the audit trail's hash chain and signed checkpoints; exit 3 naming the first bad record", run: auditVerify},
		{name: "audit report", args: "--patient ID [--json]", summary: "accounting of disclosures: every audit record about one patient", run: auditReport},
		{name: "audit export", args: "--jsonl FILE|- | --syslog HOST:PORT --ca CA.pem [--cert C --key K] [--follow]", summary: "send the audit trail to a SIEM, resuming where the last export stopped", run: auditExport},
		{name: "audit pubkey", args: "", summary: "print the audit checkpoint-signing public keys (PEM), for auditors", run: auditPubkey},
		{name: "audit checkpoint", args: "", summary: "verify the audit trail and sign a checkpoint of it now", run: auditCheckpoint},
		{name: "bench audit", args: "[--duration 3s] [--dsn DSN]", summary: "durable audit records per second with 1 and 16 writers", run: benchAudit},
	}...)
}

// auditCmd parses flags and opens the configured catalog. Commands that
// only read refuse to create a SQLite catalog that is not there.
func auditCmd(ctx context.Context, e *env, name string, args []string, mustExist bool, setup func(fs *flag.FlagSet)) (*config.Config, catalog.Store, error) {
	fs, cfgPath := flags(e, name)
	if setup != nil {
		setup(fs)
	}
	pos, err := parse(fs, args)
	if err != nil {
		return nil, nil, err
	}
	if len(pos) != 0 {
		return nil, nil, usagef("unexpected argument %q", pos[0])
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return nil, nil, err
	}
	dsn := cfg.CatalogDSN()
	if mustExist && !isPostgres(dsn) {
		if _, err := os.Stat(strings.TrimPrefix(dsn, "sqlite:")); err != nil {
			return nil, nil, fmt.Errorf("no catalog: %w", err)
		}
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, nil, fmt.Errorf("data directory: %w", err)
	}
	store, err := catalog.Open(ctx, dsn)
	if err != nil {
		return nil, nil, err
	}
	return cfg, store, nil
}

func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

func auditVerify(ctx context.Context, e *env, args []string) error {
	var pubFile string
	_, store, err := auditCmd(ctx, e, "audit verify", args, true, func(fs *flag.FlagSet) {
		fs.StringVar(&pubFile, "pubkey", "", "PEM file of the trusted checkpoint keys (from `audit pubkey`; default: the keys recorded in the catalog)")
	})
	if err != nil {
		return err
	}
	defer store.Close()
	var opts audit.VerifyOptions
	if pubFile != "" {
		b, err := os.ReadFile(pubFile)
		if err != nil {
			return err
		}
		if opts.Keys, err = audit.ParsePublicKeys(b); err != nil {
			return fmt.Errorf("%s: %w", pubFile, err)
		}
	}
	start := time.Now()
	res, err := audit.Verify(ctx, store, opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "audit trail: %d records (last seq %d) checked in %s\n", res.Records, res.LastSeq, time.Since(start).Round(time.Millisecond))
	if res.Checkpoints > 0 {
		c := res.LastCheckpoint
		fmt.Fprintf(e.stdout, "checkpoints: %d verified against %s; newest at seq %d, signed %s by key %s\n",
			res.Checkpoints, res.Keys, c.Seq, c.Time.Format(time.RFC3339), c.KeyID)
	} else {
		fmt.Fprintf(e.stdout, "checkpoints: none verified (against %s)\n", res.Keys)
	}
	if res.Unsigned > 0 {
		fmt.Fprintf(e.stdout, "not yet signed: the last %d records (records removed from the end there would not be noticed unless exported)\n", res.Unsigned)
	}
	for _, f := range res.BadCheckpoints {
		fmt.Fprintln(e.stdout, "BAD CHECKPOINT", f)
	}
	if res.FirstBad != nil {
		fmt.Fprintln(e.stdout, "FIRST BAD RECORD", res.FirstBad)
		return &exitError{code: 3, err: fmt.Errorf("audit trail tampered with: first bad record is seq %d (%s)", res.FirstBad.Seq, res.FirstBad.Problem)}
	}
	if !res.OK() {
		return &exitError{code: 3, err: fmt.Errorf("%d checkpoints do not verify", len(res.BadCheckpoints))}
	}
	fmt.Fprintln(e.stdout, "ok")
	return nil
}

func auditReport(ctx context.Context, e *env, args []string) error {
	var patient string
	var asJSON bool
	_, store, err := auditCmd(ctx, e, "audit report", args, true, func(fs *flag.FlagSet) {
		fs.StringVar(&patient, "patient", "", "pseudonymous patient id (required)")
		fs.BoolVar(&asJSON, "json", false, "JSON instead of a table")
	})
	if err != nil {
		return err
	}
	defer store.Close()
	if patient == "" {
		return usagef("--patient is required")
	}
	evs, err := audit.Report(ctx, store, patient)
	if err != nil {
		return err
	}
	// Reading who accessed a patient's data is itself an access: recorded
	// first, and nothing is shown if it cannot be (fail closed).
	if err := audit.Append(ctx, store, catalog.AuditEvent{Actor: cliActor(), Action: "audit.report", Resource: "audit", Patient: patient,
		Source: "cli", Outcome: audit.OK, Detail: fmt.Sprintf("%d records", len(evs))}); err != nil {
		return fmt.Errorf("audit record of this report: %w", err)
	}
	person, err := tokenOwners(ctx, store, evs)
	if err != nil {
		return err
	}
	if asJSON {
		type row struct {
			Seq        int64     `json:"seq"`
			Time       time.Time `json:"time"`
			Actor      string    `json:"actor"`
			Person     string    `json:"person,omitempty"` // a personal API token's owner`
			Action     string    `json:"action"`
			Resource   string    `json:"resource"`
			Source     string    `json:"source"`
			Outcome    string    `json:"outcome"`
			BreakGlass string    `json:"break_glass,omitempty"`
			Detail     string    `json:"detail,omitempty"`
		}
		rows := []row{}
		for _, v := range evs {
			rows = append(rows, row{v.Seq, v.Time, v.Actor, person[v.Actor], v.Action, v.Resource, v.Source, v.Outcome, v.BreakGlass, v.Detail})
		}
		return printJSON(e.stdout, map[string]any{"patient": patient, "records": rows})
	}
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tACTOR\tACTION\tRESOURCE\tSOURCE\tOUTCOME\tBREAK-GLASS REASON")
	for _, v := range evs {
		actor := v.Actor
		if p := person[v.Actor]; p != "" {
			actor += " (" + p + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", v.Time.Format(time.RFC3339), actor, v.Action, dash(v.Resource), dash(v.Source), v.Outcome, dash(v.BreakGlass))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "%d records about patient %s\n", len(evs), patient)
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func auditExport(ctx context.Context, e *env, args []string) error {
	var jsonl, addr, caFile, certFile, keyFile, cursor string
	var follow bool
	var batch int
	cfg, store, err := auditCmd(ctx, e, "audit export", args, true, func(fs *flag.FlagSet) {
		fs.StringVar(&jsonl, "jsonl", "", "append JSON lines to FILE (- for standard output)")
		fs.StringVar(&addr, "syslog", "", "RFC 5424 syslog over TLS (RFC 5425) to HOST:PORT")
		fs.StringVar(&caFile, "ca", "", "PEM CA certificates the syslog server's certificate must chain to (required with --syslog)")
		fs.StringVar(&certFile, "cert", "", "client certificate (PEM) for syslog servers that require mutual TLS")
		fs.StringVar(&keyFile, "key", "", "the client certificate's private key (PEM)")
		fs.StringVar(&cursor, "cursor", "", "name under which the export's position is kept (default: from the destination; none for standard output)")
		fs.BoolVar(&follow, "follow", false, "keep exporting new records until interrupted, retrying through receiver outages")
		fs.IntVar(&batch, "batch", 500, "records per send")
	})
	if err != nil {
		return err
	}
	defer store.Close()
	var sink audit.Sink
	switch {
	case (jsonl == "") == (addr == ""):
		return usagef("give exactly one of --jsonl and --syslog")
	case jsonl == "-":
		sink = audit.NewJSONLines(e.stdout)
	case jsonl != "":
		f, err := os.OpenFile(jsonl, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		sink = audit.NewJSONLines(f)
		if cursor == "" {
			abs, _ := filepath.Abs(jsonl)
			cursor = "jsonl:" + abs
		}
	default:
		if caFile == "" {
			return usagef("--syslog needs --ca: the server's certificate is always verified")
		}
		tc, err := tlsconf.ClientConfig(tlsconf.ClientOptions{CAFile: caFile, CertFile: certFile, KeyFile: keyFile})
		if err != nil {
			return err
		}
		s, err := audit.NewSyslog(addr, tc)
		if err != nil {
			return err
		}
		defer s.Close()
		sink = s
		if cursor == "" {
			cursor = "syslog:" + addr
		}
	}
	x := &audit.Exporter{Store: store, Sink: sink, Cursor: cursor, Batch: batch, Follow: follow, Log: app.NewLogger(cfg, e.stderr)}
	n, err := x.Run(ctx)
	where := "; no position kept"
	if cursor != "" {
		if c, cerr := store.GetAuditCursor(context.WithoutCancel(ctx), cursor); cerr == nil {
			where = fmt.Sprintf("; %s has every record up to seq %d", cursor, c)
		}
	}
	fmt.Fprintf(e.stderr, "exported %d records%s\n", n, where)
	if follow && errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// auditKeys opens the catalog and the configured key provider.
func auditKeys(ctx context.Context, e *env, name string, args []string) (catalog.Store, keys.Provider, error) {
	cfg, store, err := auditCmd(ctx, e, name, args, false, nil)
	if err != nil {
		return nil, nil, err
	}
	kp, err := app.NewKeys(ctx, cfg)
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	return store, kp, nil
}

func auditPubkey(ctx context.Context, e *env, args []string) error {
	store, kp, err := auditKeys(ctx, e, "audit pubkey", args)
	if err != nil {
		return err
	}
	defer store.Close()
	if _, err := audit.LoadSigner(ctx, store, kp); err != nil { // makes the key the first time
		return err
	}
	ks, err := audit.PublicKeys(ctx, store, kp)
	if err != nil {
		return err
	}
	for _, k := range ks {
		fmt.Fprintf(e.stdout, "# clinomics audit checkpoint key %s, created %s, wrapped by %s v%s (%s)\n",
			k.ID, k.Created.Format(time.RFC3339), k.KeyName, k.KeyVersion, kp.Describe())
		e.stdout.Write(audit.PublicKeyPEM(ed25519.PublicKey(k.PublicKey)))
	}
	return nil
}

func auditCheckpoint(ctx context.Context, e *env, args []string) error {
	store, kp, err := auditKeys(ctx, e, "audit checkpoint", args)
	if err != nil {
		return err
	}
	defer store.Close()
	signer, err := audit.LoadSigner(ctx, store, kp)
	if err != nil {
		return err
	}
	// Never sign over a trail that does not verify: the checkpoint would
	// vouch for the tampering.
	ks, err := audit.PublicKeys(ctx, store, kp)
	if err != nil {
		return err
	}
	var trusted []ed25519.PublicKey
	for _, k := range ks {
		trusted = append(trusted, k.PublicKey)
	}
	res, err := audit.Verify(ctx, store, audit.VerifyOptions{Keys: trusted})
	if err != nil {
		return err
	}
	if !res.OK() {
		return &exitError{code: 3, err: errors.New("the audit trail does not verify (see `clinomics audit verify`); not signing it")}
	}
	if res.Records == 0 {
		fmt.Fprintln(e.stdout, "the audit trail is empty; nothing to sign")
		return nil
	}
	c := signer.Sign(res.LastSeq, res.LastHash, time.Now())
	if err := store.PutAuditCheckpoint(ctx, c); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "checkpoint: seq %d, hash %s, signed by key %s\n", c.Seq, c.Hash, c.KeyID)
	return nil
}

// benchAudit measures durable audit throughput: records per second through
// audit.Log (group commit) with 1 and with 16 concurrent writers, against
// the same 16 writers each committing its own transaction per record
// (Store.AppendAudit). It never writes into an existing trail: on SQLite
// it uses a new database beside the configured catalog (the same disk);
// on PostgreSQL a temporary schema of the configured database.
func benchAudit(ctx context.Context, e *env, args []string) error {
	fs, cfgPath := flags(e, "bench audit")
	dur := fs.Duration("duration", 3*time.Second, "how long each measurement runs")
	dsnFlag := fs.String("dsn", "", "catalog to measure (default: the configured one's backend and disk)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	dsn := *dsnFlag
	if dsn == "" {
		dsn = cfg.CatalogDSN()
	}
	scratch, err := os.MkdirTemp("", "clinomics-bench-audit-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	var open func(name string) (catalog.Store, error)
	var where string
	if isPostgres(dsn) {
		admin, err := sql.Open("pgx", dsn)
		if err != nil {
			return err
		}
		defer admin.Close()
		var schemas []string
		defer func() {
			for _, s := range schemas {
				admin.ExecContext(context.WithoutCancel(ctx), "DROP SCHEMA "+s+" CASCADE")
			}
		}()
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		open = func(name string) (catalog.Store, error) {
			schema := fmt.Sprintf("clinomics_bench_%d_%s", os.Getpid(), name)
			if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
				return nil, fmt.Errorf("bench audit: a temporary schema: %w", err)
			}
			schemas = append(schemas, schema)
			return catalog.Open(ctx, dsn+sep+"search_path="+schema)
		}
		where = "PostgreSQL (temporary schemas in the configured database; synchronous_commit on)"
	} else {
		dir := filepath.Dir(strings.TrimPrefix(dsn, "sqlite:"))
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return err
		}
		tmp, err := os.MkdirTemp(dir, ".bench-audit-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		open = func(name string) (catalog.Store, error) { return catalog.Open(ctx, filepath.Join(tmp, name+".db")) }
		where = "SQLite in " + dir + " (WAL; audit commits with synchronous=FULL)"
	}
	kr, err := keys.OpenLocal(filepath.Join(scratch, "keyring"), "bench")
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "machine: %s, %d cores\ncatalog: %s\n", cpuModel(), runtime.NumCPU(), where)
	fmt.Fprintf(e.stdout, "each run: %s of writers recording one event after another; checkpoint signed every 1000 records\n", *dur)

	type result struct {
		n        int64
		wall     time.Duration
		lat      []time.Duration
		batches  int64
		verified bool
	}
	measure := func(name string, writers int, grouped bool) (result, error) {
		store, err := open(name)
		if err != nil {
			return result{}, err
		}
		defer store.Close()
		cs := &countingStore{Store: store}
		var l *audit.Log
		if grouped {
			if l, err = audit.Open(ctx, cs, kr, audit.Options{}); err != nil {
				return result{}, err
			}
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		var firstErr error
		var res result
		start := time.Now()
		stop := start.Add(*dur)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var lat []time.Duration
				for i := 0; time.Now().Before(stop); i++ {
					ev := audit.Event{Actor: fmt.Sprintf("user:bench-%02d", w), Action: "GET /api/v1/objects/{path}",
						Resource: fmt.Sprintf("results/S%d/S%d.vcf.gz", i, i), Patient: fmt.Sprintf("P%06d", i%5000), Source: "10.20.30.40", Outcome: audit.OK}
					t0 := time.Now()
					var err error
					if grouped {
						err = l.Record(ctx, ev)
					} else {
						_, err = cs.AppendAudit(ctx, ev)
					}
					if err != nil {
						mu.Lock()
						firstErr = firstOf(firstErr, err)
						mu.Unlock()
						return
					}
					lat = append(lat, time.Since(t0))
				}
				mu.Lock()
				res.lat = append(res.lat, lat...)
				mu.Unlock()
			}()
		}
		wg.Wait()
		res.wall = time.Since(start)
		if l != nil {
			l.Close()
		}
		if firstErr != nil {
			return res, firstErr
		}
		res.n, res.batches = int64(len(res.lat)), cs.batches.Load()
		v, err := audit.Verify(ctx, store, audit.VerifyOptions{})
		if err != nil {
			return res, err
		}
		res.verified = v.OK() && v.Records == res.n
		return res, nil
	}
	report := func(label string, r result) float64 {
		slices.Sort(r.lat)
		pct := func(p float64) time.Duration {
			if len(r.lat) == 0 {
				return 0
			}
			return r.lat[min(len(r.lat)-1, int(p*float64(len(r.lat))))]
		}
		rate := float64(r.n) / r.wall.Seconds()
		ok := "trail verifies"
		if !r.verified {
			ok = "TRAIL DOES NOT VERIFY"
		}
		fmt.Fprintf(e.stdout, "%-44s %8.0f records/s  (%d records, %d transactions, %.1f per transaction; latency p50 %s p99 %s; %s)\n",
			label, rate, r.n, r.batches, float64(r.n)/float64(max(r.batches, 1)), pct(0.50).Round(time.Microsecond), pct(0.99).Round(time.Microsecond), ok)
		return rate
	}
	var rates []float64
	for _, c := range []struct {
		label   string
		name    string
		writers int
		grouped bool
	}{
		{"audit.Log, 1 writer:", "log1", 1, true},
		{"audit.Log, 16 writers:", "log16", 16, true},
		{"a transaction per record, 16 writers:", "peer16", 16, false},
	} {
		r, err := measure(c.name, c.writers, c.grouped)
		if err != nil {
			return fmt.Errorf("%s %w", c.label, err)
		}
		rates = append(rates, report(c.label, r))
	}
	fmt.Fprintf(e.stdout, "group commit / a transaction per record, 16 writers: %.1fx\n", rates[1]/rates[2])
	return nil
}

func firstOf(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// countingStore counts the audit transactions of a benchmark run.
type countingStore struct {
	catalog.Store
	batches atomic.Int64
}

func (c *countingStore) AppendAuditBatch(ctx context.Context, es []catalog.AuditEvent) ([]catalog.AuditEvent, error) {
	c.batches.Add(1)
	return c.Store.AppendAuditBatch(ctx, es)
}

func (c *countingStore) AppendAudit(ctx context.Context, ev catalog.AuditEvent) (catalog.AuditEvent, error) {
	c.batches.Add(1)
	return c.Store.AppendAudit(ctx, ev)
}

// tokenOwners maps each personal API token among the events' actors
// (token:<id>) to its owner, the person it acted for (revoked tokens
// too; a token the catalog does not know is left out).
func tokenOwners(ctx context.Context, st catalog.Store, evs []catalog.AuditEvent) (map[string]string, error) {
	out := map[string]string{}
	for _, v := range evs {
		id, ok := strings.CutPrefix(v.Actor, "token:")
		if _, seen := out[v.Actor]; !ok || seen {
			continue
		}
		t, err := st.GetAPIToken(ctx, id)
		switch {
		case errors.Is(err, catalog.ErrNotFound):
			out[v.Actor] = ""
		case err != nil:
			return nil, fmt.Errorf("the owner of %s: %w", v.Actor, err)
		default:
			out[v.Actor] = t.Owner
		}
	}
	return out, nil
}
