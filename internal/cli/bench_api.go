package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/clinomics/clinomics/internal/audit"
	"github.com/clinomics/clinomics/internal/auth"
	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/httpapi"
	"github.com/clinomics/clinomics/internal/keys"
)

func init() {
	commands = append(commands, command{name: "bench api", args: "[--requests N] [--clients C]",
		summary: "latency an API request gains from authentication plus a durable audit record, p50 and p99", run: benchAPI})
}

// benchAPI serves the same route twice on loopback, over a scratch SQLite
// catalog in a temporary directory: once guarded (an API token checked
// against the catalog, the permission decided, the access recorded durably
// in the audit trail before the handler runs), once as the bare handler;
// and times requests to each, alternating, from C clients.
func benchAPI(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("clinomics bench api", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	n := fs.Int("requests", 5000, "requests per configuration and client")
	clients := fs.Int("clients", 1, "concurrent clients")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *n < 1 || *clients < 1 {
		return usagef("--requests and --clients must be at least 1")
	}
	sc, err := openScratch(ctx, "clinomics-bench-api-")
	if err != nil {
		return err
	}
	defer sc.Close()
	store, log, alog := sc.store, sc.log, sc.alog
	owner := &auth.Principal{Kind: auth.KindLocal, ID: "bench"}
	tok, _, err := auth.CreateToken(ctx, store, auth.NewToken{Name: "bench", Owner: owner,
		Grants: []auth.Grant{{Role: auth.RoleBioinformatician, Scope: auth.AllScopes}}, Expires: time.Hour}, time.Now())
	if err != nil {
		return err
	}
	api := &httpapi.Server{Store: store, Log: log, Site: "main", Auth: &auth.Authenticator{Tokens: store}, Audit: alog}
	// The bare handler of the same route, for the baseline.
	var route httpapi.Route
	for _, r := range api.Routes() {
		if r.Method == "GET" && r.Pattern == "/api/v1/runs" {
			route = r
		}
	}
	bare := http.NewServeMux()
	bare.HandleFunc("GET /api/v1/runs", func(w http.ResponseWriter, r *http.Request) { route.Handle(w, r) })

	serve := func(h http.Handler) (string, func(), error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", nil, err
		}
		srv := &http.Server{Handler: h}
		go srv.Serve(ln)
		return "http://" + ln.Addr().String() + "/api/v1/runs?limit=1", func() { srv.Close() }, nil
	}
	guardedURL, stop1, err := serve(api.Handler())
	if err != nil {
		return err
	}
	defer stop1()
	bareURL, stop2, err := serve(bare)
	if err != nil {
		return err
	}
	defer stop2()

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *clients}}
	get := func(url string) (time.Duration, error) {
		req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		t0 := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("%s: HTTP %d", url, resp.StatusCode)
		}
		return time.Since(t0), nil
	}
	// Warm up both, then alternate so drift affects both alike.
	for range 200 {
		if _, err := get(guardedURL); err != nil {
			return err
		}
		if _, err := get(bareURL); err != nil {
			return err
		}
	}
	var mu sync.Mutex
	var guarded, plain []time.Duration
	var wg sync.WaitGroup
	errc := make(chan error, *clients)
	start := time.Now()
	for range *clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g, b := make([]time.Duration, 0, *n), make([]time.Duration, 0, *n)
			for range *n {
				d, err := get(guardedURL)
				if err != nil {
					errc <- err
					return
				}
				g = append(g, d)
				if d, err = get(bareURL); err != nil {
					errc <- err
					return
				}
				b = append(b, d)
			}
			mu.Lock()
			guarded, plain = append(guarded, g...), append(plain, b...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return err
	}
	el := time.Since(start)
	pct := func(ds []time.Duration, p float64) time.Duration {
		slices.Sort(ds)
		return ds[min(len(ds)-1, int(float64(len(ds))*p))]
	}
	us := func(d time.Duration) string { return fmt.Sprintf("%.0f µs", float64(d.Microseconds())) }
	fmt.Fprintf(e.stdout, "machine: %s, %d cores; %d clients x %d requests per configuration, alternating, plain HTTP on loopback, SQLite catalog in %s\n",
		cpuModel(), runtime.NumCPU(), *clients, *n, os.TempDir())
	fmt.Fprintf(e.stdout, "%-42s p50 %8s   p99 %8s\n", "bare handler (no authentication, no audit)", us(pct(plain, .5)), us(pct(plain, .99)))
	fmt.Fprintf(e.stdout, "%-42s p50 %8s   p99 %8s\n", "API token + permission + durable audit", us(pct(guarded, .5)), us(pct(guarded, .99)))
	fmt.Fprintf(e.stdout, "added: p50 %s, p99 %s; %d audit records written in %s\n",
		us(pct(guarded, .5)-pct(plain, .5)), us(pct(guarded, .99)-pct(plain, .99)), len(guarded), el.Round(time.Millisecond))
	return nil
}

// scratch is a throwaway platform for a benchmark: a SQLite catalog, a
// keyring (with a cheap KDF) and the durable audit, in a temporary
// directory removed by Close.
type scratch struct {
	dir   string
	store catalog.Store
	kp    keys.Provider
	log   *slog.Logger
	alog  *audit.Log
}

func openScratch(ctx context.Context, pattern string) (*scratch, error) {
	dir, err := os.MkdirTemp("", pattern)
	if err != nil {
		return nil, err
	}
	sc := &scratch{dir: dir, log: slog.New(slog.DiscardHandler)}
	if sc.store, err = catalog.Open(ctx, filepath.Join(dir, "catalog.db")); err != nil {
		sc.Close()
		return nil, err
	}
	keys.DefaultKDF.MemoryKiB = 8 * 1024 // the keyring is scratch too
	if sc.kp, err = keys.OpenLocal(filepath.Join(dir, "keyring"), "bench"); err != nil {
		sc.Close()
		return nil, err
	}
	if sc.alog, err = audit.Open(ctx, sc.store, sc.kp, audit.Options{Log: sc.log}); err != nil {
		sc.Close()
		return nil, err
	}
	return sc, nil
}

func (sc *scratch) Close() {
	if sc.alog != nil {
		sc.alog.Close()
	}
	if sc.store != nil {
		sc.store.Close()
	}
	os.RemoveAll(sc.dir)
}
