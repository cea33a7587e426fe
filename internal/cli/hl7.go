package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"text/tabwriter"
	"time"

	"github.com/clinomics/clinomics/internal/app"
	"github.com/clinomics/clinomics/internal/audit"
	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/clinical"
	"github.com/clinomics/clinomics/internal/config"
	"github.com/clinomics/clinomics/internal/hl7"
	"github.com/clinomics/clinomics/internal/hl7/inbox"
	"github.com/clinomics/clinomics/internal/hl7/mllp"
	"github.com/clinomics/clinomics/internal/hl7/outbound"
	"github.com/clinomics/clinomics/internal/lake"
	"github.com/clinomics/clinomics/internal/outbox"
	"github.com/clinomics/clinomics/internal/tlsconf"
)

func init() {
	commands = append(commands, []command{
		{name: "hl7 send", args: "FILE... --to HOST:PORT [--tls [--ca CA.pem]]", summary: "send the HL7 v2 messages of files over MLLP and print each ACK", run: hl7Send},
		{name: "hl7 errors", args: "[--json]", summary: "the error queue: messages answered AE or AR, with their reasons", run: hl7Errors},
		{name: "hl7 reprocess", args: "ID [--file FIXED.hl7]", summary: "apply a message of the error queue again (its stored body, or a corrected copy)", run: hl7Reprocess},
		{name: "hl7 queue", args: "FILE...", summary: "put messages on the outbound feed (hl7.outbound), delivered by the server", run: hl7Queue},
		{name: "hl7 outbox", args: "[--state pending|delivered|dead]", summary: "the outbound feed's queue", run: hl7Outbox},
		{name: "hl7 retry", args: "ID", summary: "send a dead-lettered outbound message again", run: hl7Retry},
	}...)
}

func hl7Send(ctx context.Context, e *env, args []string) error {
	fs, _ := flags(e, "hl7 send")
	to := fs.String("to", "", "the MLLP listener, HOST:PORT")
	useTLS := fs.Bool("tls", false, "MLLP over TLS")
	ca := fs.String("ca", "", "with --tls: the CA of the listener's certificate (default: the system's)")
	timeout := fs.Duration("timeout", 30*time.Second, "wait for each ACK at most this long")
	files, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *to == "" || len(files) == 0 {
		return usagef("give --to HOST:PORT and at least one file")
	}
	c := &mllp.Client{Addr: *to, Timeout: *timeout}
	if *useTLS {
		if c.TLSConfig, err = tlsconf.ClientConfig(tlsconf.ClientOptions{CAFile: *ca}); err != nil {
			return err
		}
	}
	defer c.Close()
	msgs, err := readHL7Files(files)
	if err != nil {
		return err
	}
	sent, bad := 0, 0
	for k, f := range files {
		for i, msg := range msgs[k] {
			raw, err := c.Send(ctx, msg)
			if err != nil {
				return fmt.Errorf("%s message %d: %w (%d sent before it)", f, i+1, err, sent)
			}
			sent++
			code, ctl, why := "?", "", ""
			if ack, err := hl7.Parse(raw); err == nil {
				code, ctl, why = ack.Get("MSA-1"), ack.Get("MSA-2"), ack.Get("ERR-8")
			}
			if code != "AA" && code != "CA" {
				bad++
			}
			fmt.Fprintf(e.stdout, "%s #%d\t%s\t%s\t%s\n", f, i+1, code, ctl, why)
		}
	}
	fmt.Fprintf(e.stderr, "%d messages sent, %d not accepted\n", sent, bad)
	if bad > 0 {
		return &exitError{code: 3, err: fmt.Errorf("%d messages not accepted", bad)}
	}
	return nil
}

// readHL7Files reads the messages of each file before any is sent, so
// that a file without messages (empty, or not HL7) is an error naming it
// and nothing has been sent or queued yet.
func readHL7Files(files []string) ([][][]byte, error) {
	out := make([][][]byte, len(files))
	for i, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		if out[i] = hl7.SplitFile(b); len(out[i]) == 0 {
			return nil, fmt.Errorf("no HL7 messages in %s (each message starts with an MSH segment)", f)
		}
	}
	return out, nil
}

// clinicalCmd opens the catalog, the lake's keys and the clinical database.
func clinicalCmd(ctx context.Context, e *env, name string, args []string, setup func(fs *flag.FlagSet)) (*lakeEnv, *clinical.DB, []string, error) {
	le, pos, err := lakeCmd(ctx, e, name, args, -1, setup)
	if err != nil {
		return nil, nil, nil, err
	}
	db, err := openClinical(ctx, le.cfg, le.store, le.lake, app.NewLogger(le.cfg, e.stderr), false)
	if err != nil {
		le.Close()
		return nil, nil, nil, err
	}
	return le, db, pos, nil
}

// openClinical opens the clinical database under the configured
// authority names; only `serve` (rekey) keys it again when they changed.
func openClinical(ctx context.Context, cfg *config.Config, st catalog.Store, lk *lake.Lake, log *slog.Logger, rekey bool) (*clinical.DB, error) {
	opts := []clinical.Option{clinical.Authorities(cfg.Clinical.Authorities), clinical.Logger(log)}
	if rekey {
		opts = append(opts, clinical.Rekey())
	}
	return clinical.Open(ctx, st, lk.Keys(), opts...)
}

func hl7Errors(ctx context.Context, e *env, args []string) error {
	var asJSON bool
	le, _, _, err := clinicalCmd(ctx, e, "hl7 errors", args, func(fs *flag.FlagSet) { fs.BoolVar(&asJSON, "json", false, "print JSON") })
	if err != nil {
		return err
	}
	defer le.Close()
	var all []catalog.HL7Message
	for _, st := range []string{inbox.StateError, inbox.StateRejected} {
		ms, err := le.store.ListHL7Messages(ctx, st, 10000)
		if err != nil {
			return err
		}
		all = append(all, ms...)
	}
	if asJSON {
		type row struct {
			ID, Sender, ControlID, Type, State, Error string
			Received                                  time.Time
		}
		out := []row{}
		for _, m := range all {
			out = append(out, row{m.ID, m.Sender, m.ControlID, m.Type, m.State, m.Error, m.Received})
		}
		return printJSON(e.stdout, out)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tRECEIVED\tSENDER\tCONTROL ID\tTYPE\tSTATE\tREASON")
	for _, m := range all {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.ID, m.Received.Format(time.RFC3339), m.Sender, m.ControlID, m.Type, m.State, m.Error)
	}
	return tw.Flush()
}

func hl7Reprocess(ctx context.Context, e *env, args []string) error {
	var fixed string
	le, db, pos, err := clinicalCmd(ctx, e, "hl7 reprocess", args, func(fs *flag.FlagSet) {
		fs.StringVar(&fixed, "file", "", "a corrected copy of the message to apply instead of the stored one")
	})
	if err != nil {
		return err
	}
	defer le.Close()
	if len(pos) != 1 {
		return usagef("give the message's ID (see `clinomics hl7 errors`)")
	}
	var body []byte
	if fixed != "" {
		b, err := os.ReadFile(fixed)
		if err != nil {
			return err
		}
		msgs := hl7.SplitFile(b)
		if len(msgs) != 1 {
			return fmt.Errorf("%s holds %d messages; give one", fixed, len(msgs))
		}
		body = msgs[0]
	}
	in := &inbox.Inbox{DB: db}
	state, why, err := in.Reprocess(ctx, le.store, pos[0], body, cliActor())
	if err != nil {
		return err
	}
	if why != "" {
		return &exitError{code: 3, err: fmt.Errorf("message %s is still not applied: %s", pos[0], why)}
	}
	fmt.Fprintf(e.stdout, "message %s %s\n", pos[0], state)
	return nil
}

// outboundQueue builds the queue of hl7.outbound over the clinical database.
// hl7Destination starts the outbox destination of the HL7 outbound feed.
const hl7Destination = "hl7:"

func outboundQueue(cfg *config.Config, st catalog.Store, db *clinical.DB, log *slog.Logger) (*outbox.Queue, *mllp.Client, error) {
	o := cfg.HL7.Outbound
	if o.Address == "" {
		return nil, nil, errors.New("no outbound feed: set hl7.outbound.address")
	}
	c := &mllp.Client{Addr: o.Address}
	if o.TLS {
		var err error
		if c.TLSConfig, err = tlsconf.ClientConfig(tlsconf.ClientOptions{CAFile: o.CAFile}); err != nil {
			return nil, nil, fmt.Errorf("hl7.outbound: %w", err)
		}
	}
	q := &outbox.Queue{Store: st, Sealer: db, Destination: hl7Destination + o.Address, Sender: &outbound.Sender{Client: c},
		MaxAttempts: o.MaxAttempts, Backoff: o.Backoff, MaxBackoff: o.MaxBackoff, Log: log,
		Alert: func(it catalog.OutboxItem) {
			if err := audit.Append(context.Background(), st, catalog.AuditEvent{Actor: "outbox", Source: "outbox", Action: "hl7.dead-letter",
				Resource: "outbox:" + it.ID, Patient: it.PatientID, Outcome: audit.Error, Detail: it.LastError}); err != nil && log != nil {
				log.Error("audit record of a dead letter not written", "item", it.ID, "err", err.Error())
			}
		}}
	return q, c, nil
}

func hl7Queue(ctx context.Context, e *env, args []string) error {
	le, db, files, err := clinicalCmd(ctx, e, "hl7 queue", args, nil)
	if err != nil {
		return err
	}
	defer le.Close()
	if len(files) == 0 {
		return usagef("give at least one file")
	}
	q, c, err := outboundQueue(le.cfg, le.store, db, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	msgs, err := readHL7Files(files)
	if err != nil {
		return err
	}
	n := 0
	for k, f := range files {
		for i, msg := range msgs[k] {
			if _, err := hl7.Parse(msg); err != nil {
				return fmt.Errorf("%s message %d: %w (nothing after it was queued)", f, i+1, err)
			}
			it, err := q.Enqueue(ctx, "x"+clinical.NewMessageID(), "hl7", "", msg)
			if err != nil {
				return err
			}
			n++
			fmt.Fprintf(e.stdout, "%s #%d\tqueued as %s (position %d)\n", f, i+1, it.ID, it.Seq)
		}
	}
	fmt.Fprintf(e.stderr, "%d messages queued for %s; `clinomics serve` delivers them\n", n, le.cfg.HL7.Outbound.Address)
	return nil
}

func hl7Outbox(ctx context.Context, e *env, args []string) error {
	return outboxList(ctx, e, "hl7 outbox", hl7Destination, args)
}

func hl7Retry(ctx context.Context, e *env, args []string) error {
	return outboxRetry(ctx, e, "hl7 retry", hl7Destination, "hl7.retry", "outbound message", args)
}

// hl7Listener builds the MLLP listener of hl7.* over in.
func hl7Listener(cfg *config.Config, in *inbox.Inbox, log *slog.Logger) (*mllp.Server, error) {
	h := cfg.HL7
	srv := &mllp.Server{Addr: h.Listen, Handler: in, MaxMessage: h.MaxMessage, ReadTimeout: h.ReadTimeout, IdleTimeout: h.IdleTimeout, Log: log}
	if h.TLS {
		t := cfg.Server.TLS
		tc, _, err := tlsconf.ServerConfig(tlsconf.ServerOptions{CertFile: t.CertFile, KeyFile: t.KeyFile, SelfSignedDir: cfg.TLSDir(),
			Hosts: t.Hosts, ClientCAFile: t.ClientCAFile, RequireClientCert: t.RequireClientCert, Log: log})
		if err != nil {
			return nil, fmt.Errorf("hl7.tls: %w", err)
		}
		srv.TLSConfig = tc
	}
	return srv, nil
}

// cleanups run in reverse order of registration.
type cleanups []func()

func (c *cleanups) add(f func()) { *c = append(*c, f) }

func (c *cleanups) run() {
	for i := len(*c) - 1; i >= 0; i-- {
		(*c)[i]()
	}
	*c = nil
}

// startHL7 starts the MLLP listener (hl7.listen) over the inbox and the
// outbound feed (hl7.outbound), registering how to stop them.
func startHL7(ctx context.Context, cfg *config.Config, st catalog.Store, db *clinical.DB, alog *audit.Log, log *slog.Logger, c *cleanups) (*outbox.Queue, error) {
	h := cfg.HL7
	if h.Listen == "" && h.Outbound.Address == "" {
		return nil, nil
	}
	if h.Listen != "" {
		in := &inbox.Inbox{DB: db, Audit: alog, Log: log, Limits: hl7.Limits{MaxSize: h.MaxMessage}}
		in.Start()
		c.add(in.Close)
		srv, err := hl7Listener(cfg, in, log)
		if err != nil {
			return nil, err
		}
		ln, err := net.Listen("tcp", h.Listen)
		if err != nil {
			return nil, fmt.Errorf("hl7.listen: %w", err)
		}
		go srv.Serve(ln)
		c.add(func() {
			sctx, cancel := context.WithTimeout(context.Background(), cfg.Server.ShutdownTimeout)
			defer cancel()
			srv.Shutdown(sctx)
		})
		log.Info("MLLP listener", "addr", ln.Addr().String(), "tls", h.TLS)
	}
	var q *outbox.Queue
	if h.Outbound.Address != "" {
		var client *mllp.Client
		var err error
		q, client, err = outboundQueue(cfg, st, db, log)
		if err != nil {
			return nil, err
		}
		qctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); q.Run(qctx) }()
		c.add(func() { stop(); <-done; client.Close() })
		log.Info("HL7 outbound feed", "to", h.Outbound.Address)
	}
	return q, nil
}
