package mllp

import (
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/clinomics/clinomics/internal/tlsconf"

	"github.com/clinomics/clinomics/internal/testtools"
)

// BenchmarkThroughput is the transport's ceiling: our Client sending a
// 1 KB ADT^A01 and waiting for each ACK, over 1 and over 16 connections on
// loopback, plain and TLS, to our Server with a handler that returns a
// fixed ACK at once.
// It reports messages per second and the 50th and 99th percentile time
// from writing a message to reading its ACK. Client and server share this
// machine's cores.
//
// For comparison in the same run, the same client against the npm server
// simple-hl7 (the peer; it parses each message and builds its ACK), when
// Node.js and scripts/node's packages are installed:
//
//	go test -run '^$' -bench Throughput -benchtime 20000x ./internal/hl7/mllp
func BenchmarkThroughput(b *testing.B) {
	msg := testMessage("BENCH", 1024)
	ack := testACK(msg)
	handler := HandlerFunc(func(context.Context, Peer, []byte) []byte { return ack })
	for _, conns := range []int{1, 16} {
		b.Run(fmt.Sprintf("server=clinomics/conns=%d", conns), func(b *testing.B) {
			runThroughput(b, serve(b, &Server{Handler: handler}), nil, conns, msg)
		})
	}
	ca := newPKI(b, "Bench CA")
	cert, key := ca.issue(b, "server", pkix.Name{CommonName: "clinomics"}, true)
	srvTLS, _, err := tlsconf.ServerConfig(tlsconf.ServerOptions{CertFile: cert, KeyFile: key})
	if err != nil {
		b.Fatal(err)
	}
	cliTLS, err := tlsconf.ClientConfig(tlsconf.ClientOptions{CAFile: ca.caFile()})
	if err != nil {
		b.Fatal(err)
	}
	for _, conns := range []int{1, 16} {
		b.Run(fmt.Sprintf("server=clinomics-TLS/conns=%d", conns), func(b *testing.B) {
			runThroughput(b, serve(b, &Server{Handler: handler, TLSConfig: srvTLS}), cliTLS, conns, msg)
		})
	}
	if !testtools.Installed(npmPeers...) {
		b.Log("the simple-hl7 comparison needs node and scripts/node's packages (npm ci)")
		return
	}
	for _, conns := range []int{1, 16} {
		b.Run(fmt.Sprintf("server=simple-hl7/conns=%d", conns), func(b *testing.B) {
			l := startNPMListener(b, testtools.Node(b, npmPeers...), "simple-hl7", "--quiet")
			runThroughput(b, l.addr, nil, conns, msg)
		})
	}
}

// runThroughput sends b.N messages over conns connections, one Client
// each, and reports msgs/s and the latency percentiles.
func runThroughput(b *testing.B, addr string, cfg *tls.Config, conns int, msg []byte) {
	clients := make([]*Client, conns)
	for i := range clients {
		clients[i] = &Client{Addr: addr, TLSConfig: cfg}
		defer clients[i].Close()
		if _, err := clients[i].Send(context.Background(), msg); err != nil { // connect outside the timing
			b.Fatal(err)
		}
	}
	lat := make([][]time.Duration, conns)
	b.SetBytes(int64(len(msg)))
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for i := range conns {
		n := b.N / conns
		if i < b.N%conns {
			n++
		}
		lat[i] = make([]time.Duration, 0, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range n {
				t0 := time.Now()
				if _, err := clients[i].Send(context.Background(), msg); err != nil {
					b.Error(err)
					return
				}
				lat[i] = append(lat[i], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	all := slices.Concat(lat...)
	slices.Sort(all)
	if len(all) == 0 {
		return
	}
	pct := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))].Microseconds()) }
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
}
