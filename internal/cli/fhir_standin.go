package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/clinomics/clinomics/internal/fhir/standin"
	"github.com/clinomics/clinomics/internal/tlsconf"
)

// fhirStandin runs the EHR stand-in: a writable FHIR server with a SMART
// Backend Services token endpoint, for tests (hidden command).
func fhirStandin(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("fhir standin", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	listen := fs.String("listen", "127.0.0.1:8090", "address to listen on (plain HTTP: tests only)")
	dir := fs.String("data", "", "directory of the stand-in's journal (required)")
	lifetime := fs.Duration("token-lifetime", 5*time.Minute, "lifetime of the access tokens given")
	jwks := fs.String("jwks-url", "", "the backend client's JWKS URL (none: FHIR endpoints need no token)")
	clientID := fs.String("client-id", "", "the registered backend client's id")
	jwksCA := fs.String("jwks-ca", "", "PEM file of the CA (or the self-signed certificate) to trust for an https JWKS URL (default: the system's roots)")
	failNext := fs.Int("fail-next", 0, "answer the next N requests with 503 (fault injection)")
	rejectTokens := fs.Int("reject-tokens", 0, "answer the next N authenticated FHIR requests with 401 invalid_token")
	control := fs.Bool("fault-control", false, "accept POST /_faults?fail=N&reject=M to inject faults at run time")
	if err := fs.Parse(args); err != nil {
		return usagef("%v", err)
	}
	if *dir == "" || fs.NArg() > 0 {
		return usagef("usage: clinomics fhir standin --listen ADDR --data DIR [--token-lifetime D] [--jwks-url URL --client-id ID [--jwks-ca CA.pem]]")
	}
	var jwksClient *http.Client
	if *jwksCA != "" {
		tc, err := tlsconf.ClientConfig(tlsconf.ClientOptions{CAFile: *jwksCA})
		if err != nil {
			return fmt.Errorf("--jwks-ca: %w", err)
		}
		jwksClient = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}}
	}
	log := slog.New(slog.NewTextHandler(e.stderr, nil))
	si, err := standin.New(standin.Config{DataDir: *dir, ClientID: *clientID, JWKSURL: *jwks, JWKSClient: jwksClient, TokenLifetime: *lifetime,
		FailNext: *failNext, RejectTokens: *rejectTokens, Log: log})
	if err != nil {
		return err
	}
	defer si.Close()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: si.Handler(*control), ReadTimeout: time.Minute, ReadHeaderTimeout: 10 * time.Second,
		WriteTimeout: time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
	fmt.Fprintf(e.stdout, "fhir stand-in listening on http://%s%s\n", ln.Addr(), standin.Prefix)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
