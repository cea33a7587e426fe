package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/clinomics/clinomics/internal/audit"
	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/clinical"
	"github.com/clinomics/clinomics/internal/config"
	"github.com/clinomics/clinomics/internal/fhir/ehr"
	"github.com/clinomics/clinomics/internal/fhir/smart"
	"github.com/clinomics/clinomics/internal/outbox"
)

// fhirParts is the EHR connection built from fhir.*.
type fhirParts struct {
	keys   *smart.Keys
	client *ehr.Client
}

// smartKeys is the platform's SMART signing keys, sealed by db.
func smartKeys(cfg *config.Config, st catalog.Store, db *clinical.DB) *smart.Keys {
	return &smart.Keys{Store: st, Sealer: db, Alg: cfg.FHIR.EHR.SigningAlg}
}

// newFHIR builds the EHR client of fhir.ehr.
func newFHIR(cfg *config.Config, st catalog.Store, db *clinical.DB, log *slog.Logger) (*fhirParts, error) {
	e := cfg.FHIR.EHR
	if e.BaseURL == "" {
		return nil, errors.New("no EHR: set fhir.ehr.base_url (and client_id)")
	}
	keys := smartKeys(cfg, st, db)
	httpc := &http.Client{Timeout: e.Timeout}
	tokens := &smart.TokenSource{Keys: keys, ClientID: e.ClientID, Scopes: e.Scopes, FHIRBase: e.BaseURL, TokenURL: e.TokenURL,
		HTTP: httpc, Log: log}
	return &fhirParts{keys: keys, client: &ehr.Client{Base: e.BaseURL, Tokens: tokens, HTTP: httpc, Timeout: e.Timeout, Log: log}}, nil
}

// fhirQueue is the outbox of report bundles for the EHR.
func fhirQueue(cfg *config.Config, st catalog.Store, db *clinical.DB, c *ehr.Client, log *slog.Logger) *outbox.Queue {
	o := cfg.FHIR.Outbox
	record := func(e catalog.AuditEvent) {
		if err := audit.Append(context.Background(), st, e); err != nil && log != nil {
			log.Error("audit record of an EHR delivery not written", "action", e.Action, "err", err.Error())
		}
	}
	sender := &ehr.Sender{Client: c, Delivered: func(ctx context.Context, res *ehr.TransactionResult) {
		record(catalog.AuditEvent{Actor: "outbox", Source: "outbox", Action: "fhir.deliver", Resource: ehr.Destination(c.Base),
			Outcome: audit.OK, Detail: "created or matched: " + strings.Join(res.Locations, " ")})
	}}
	return &outbox.Queue{Store: st, Sealer: db, Destination: ehr.Destination(c.Base), Sender: sender,
		MaxAttempts: o.MaxAttempts, Backoff: o.Backoff, MaxBackoff: o.MaxBackoff, Log: log,
		Alert: func(it catalog.OutboxItem) {
			record(catalog.AuditEvent{Actor: "outbox", Source: "outbox", Action: "fhir.dead-letter",
				Resource: "outbox:" + it.ID, Patient: it.PatientID, Outcome: audit.Error, Detail: it.LastError})
		}}
}

// fhirPuller pulls orders from the EHR into db.
func fhirPuller(cfg *config.Config, st catalog.Store, db *clinical.DB, c *ehr.Client, alog ehr.AuditLog, log *slog.Logger) *ehr.Puller {
	o := cfg.FHIR.Orders
	return &ehr.Puller{Client: c, DB: db, Store: st, Category: o.Category, PageSize: o.PageSize, Audit: alog, Log: log}
}

func fhirOrdersPull(ctx context.Context, e *env, args []string) error {
	var since string
	le, db, _, err := clinicalCmd(ctx, e, "fhir orders pull", args, func(fs *flag.FlagSet) {
		fs.StringVar(&since, "since", "", "pull orders updated at or after this RFC 3339 time (default: since the last pull)")
	})
	if err != nil {
		return err
	}
	defer le.Close()
	var t time.Time
	if since != "" {
		if t, err = time.Parse(time.RFC3339, since); err != nil {
			return usagef("--since %q: want an RFC 3339 time such as 2024-05-01T00:00:00Z", since)
		}
	}
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	f, err := newFHIR(le.cfg, le.store, db, log)
	if err != nil {
		return err
	}
	res, err := fhirPuller(le.cfg, le.store, db, f.client, nil, log).PullOrders(ctx, t)
	for _, o := range res.Applied {
		fmt.Fprintf(e.stdout, "%s\torder %s\tpatient %s\n", o.Ref, o.OrderID, o.PatientID)
	}
	for _, o := range res.Cancelled {
		fmt.Fprintf(e.stdout, "%s\tcancelled order %s\tpatient %s\n", o.Ref, o.OrderID, o.PatientID)
	}
	for _, ref := range res.Skipped {
		fmt.Fprintf(e.stdout, "%s\tskipped: cancelled at the EHR, never pulled\n", ref)
	}
	for _, r := range res.Rejected {
		fmt.Fprintf(e.stdout, "%s\trejected: %v\n", r.Ref, r.Err)
	}
	fmt.Fprintf(e.stderr, "%d pages: %d orders applied, %d cancelled, %d skipped, %d unchanged, %d rejected; watermark %s\n",
		res.Pages, len(res.Applied), len(res.Cancelled), len(res.Skipped), res.Unchanged, len(res.Rejected), res.Watermark.Format(time.RFC3339Nano))
	if err != nil {
		return err
	}
	if len(res.Rejected) > 0 {
		return &exitError{code: 3, err: fmt.Errorf("%d orders rejected", len(res.Rejected))}
	}
	return nil
}

func fhirOutbox(ctx context.Context, e *env, args []string) error {
	return outboxList(ctx, e, "fhir outbox", ehr.DestinationPrefix, args)
}

func fhirRetry(ctx context.Context, e *env, args []string) error {
	return outboxRetry(ctx, e, "fhir retry", ehr.DestinationPrefix, "fhir.retry", "EHR bundle", args)
}

func fhirJWKS(ctx context.Context, e *env, args []string) error {
	var rotate bool
	le, db, _, err := clinicalCmd(ctx, e, "fhir jwks", args, func(fs *flag.FlagSet) {
		fs.BoolVar(&rotate, "rotate", false, "make a new signing key first (the old one stays published for a week)")
	})
	if err != nil {
		return err
	}
	defer le.Close()
	k := smartKeys(le.cfg, le.store, db)
	if rotate {
		kid, err := k.Rotate(ctx)
		if err != nil {
			return err
		}
		if err := audit.Append(ctx, le.store, catalog.AuditEvent{Actor: cliActor(), Source: "cli", Action: "fhir.key.rotate",
			Resource: "smart-key:" + kid, Outcome: audit.OK}); err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "new signing key %s; the EHR picks it up from the JWKS URL (or register the set below)\n", kid)
	}
	set, err := k.JWKS(ctx)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(set, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.stdout, "%s\n", b)
	return err
}

// startFHIR starts the delivery of report bundles and the order poller of
// fhir.*, registering how to stop them, and returns the JWKS handler to
// serve at /.well-known/jwks.json and the queue of report bundles (both
// nil when no EHR is configured).
func startFHIR(ctx context.Context, cfg *config.Config, st catalog.Store, db *clinical.DB, alog *audit.Log, log *slog.Logger, c *cleanups) (http.Handler, *outbox.Queue, error) {
	if cfg.FHIR.EHR.BaseURL == "" {
		return nil, nil, nil
	}
	f, err := newFHIR(cfg, st, db, log)
	if err != nil {
		return nil, nil, err
	}
	if _, err := f.keys.KeyID(ctx); err != nil { // made now, not at the EHR's first fetch
		return nil, nil, err
	}
	q := fhirQueue(cfg, st, db, f.client, log)
	qctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); q.Run(qctx) }()
	c.add(func() { stop(); <-done })
	if every := cfg.FHIR.Orders.PollInterval; every > 0 {
		var al ehr.AuditLog
		if alog != nil {
			al = alog
		}
		p := fhirPuller(cfg, st, db, f.client, al, log)
		pctx, stopPull := context.WithCancel(ctx)
		pdone := make(chan struct{})
		go func() { defer close(pdone); p.Run(pctx, every) }()
		c.add(func() { stopPull(); <-pdone })
	}
	log.Info("EHR connection", "base", cfg.FHIR.EHR.BaseURL, "poll", cfg.FHIR.Orders.PollInterval.String())
	return smart.JWKSHandler(f.keys, log), q, nil
}

// withJWKS serves jwks at /.well-known/jwks.json in front of next.
func withJWKS(next, jwks http.Handler) http.Handler {
	if jwks == nil {
		return next
	}
	mux := http.NewServeMux()
	mux.Handle("GET /.well-known/jwks.json", jwks)
	mux.Handle("/", next)
	return mux
}
