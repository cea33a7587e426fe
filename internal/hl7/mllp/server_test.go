package mllp

import (
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clinomics/clinomics/internal/tlsconf"
)

// orderHandler checks that each connection's messages arrive in order: the
// control ids are "C-N", N counting from 0 per connection C.
type orderHandler struct {
	mu   sync.Mutex
	last map[uint64]int
	bad  []string
	n    atomic.Int64
}

func (h *orderHandler) HandleMLLP(_ context.Context, peer Peer, msg []byte) []byte {
	h.n.Add(1)
	ctl := field(mshFields(msg), 10)
	_, seqs, _ := strings.Cut(ctl, "-")
	seq, err := strconv.Atoi(seqs)
	h.mu.Lock()
	defer h.mu.Unlock()
	last, seen := h.last[peer.Conn]
	if err != nil || (seen && seq != last+1) || (!seen && seq != 0) {
		h.bad = append(h.bad, fmt.Sprintf("conn %d: %s after %d", peer.Conn, ctl, last))
	}
	h.last[peer.Conn] = seq
	return testACK(msg)
}

// TestServerManyConnections: 64 connections at once, each sending 300
// messages with our Client; every ACK answers its message, and each
// connection's messages are handled in the order sent.
func TestServerManyConnections(t *testing.T) {
	conns, perConn := 64, 300
	if testing.Short() {
		perConn = 30
	}
	log, _ := testLogAt(t, slog.LevelInfo)
	h := &orderHandler{last: map[uint64]int{}}
	srv := &Server{Handler: h, Log: log}
	addr := serve(t, srv)
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := &Client{Addr: addr}
			defer cl.Close()
			for i := range perConn {
				ctl := fmt.Sprintf("%d-%d", c, i)
				ack, err := cl.Send(context.Background(), testMessage(ctl, 1000))
				if err != nil {
					errs <- err
					return
				}
				if got := ackControlID(ack); got != ctl || ackCode(ack) != "AA" {
					errs <- fmt.Errorf("message %s: ACK for %q (%s)", ctl, got, ackCode(ack))
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// An ACK is counted once written: by the time its connection closes.
	waitFor(t, "the connections to close", func() bool { return srv.Stats().Open == 0 })
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.bad) > 0 {
		t.Errorf("out of order: %v", h.bad[:min(10, len(h.bad))])
	}
	st := srv.Stats()
	if want := int64(conns * perConn); st.Messages != want || st.Acks != want || h.n.Load() != want {
		t.Errorf("stats %+v, want %d messages and ACKs", st, want)
	}
	if st.Accepted != int64(conns) {
		t.Errorf("%d connections accepted, want %d (one persistent connection per client)", st.Accepted, conns)
	}
}

// TestServerPipelined: a sender that writes many messages without waiting
// for ACKs gets them all back, in order.
func TestServerPipelined(t *testing.T) {
	log, _ := testLogAt(t, slog.LevelInfo)
	srv := &Server{Handler: &ackHandler{}, Log: log}
	c := dialRaw(t, serve(t, srv))
	var all strings.Builder
	for i := range 200 {
		all.Write(appendFrame(nil, testMessage("P"+strconv.Itoa(i), 500)))
	}
	go c.Write([]byte(all.String()))
	for i := range 200 {
		ack, err := c.ack()
		if err != nil || ackControlID(ack) != "P"+strconv.Itoa(i) {
			t.Fatalf("ACK %d: %q %v", i, ackControlID(ack), err)
		}
	}
}

// TestServerSenderQuirks: junk and NULs between frames, a missing final
// CR, LF between frames, an empty frame: every frame is answered (the
// empty one by the handler's reject).
func TestServerSenderQuirks(t *testing.T) {
	log, _ := testLog(t)
	srv := &Server{Handler: &ackHandler{}, Log: log}
	c := dialRaw(t, serve(t, srv))
	m1, m2, m3 := testMessage("Q1", 0), testMessage("Q2", 0), testMessage("Q3", 0)
	c.send("\x00\x00\x00" + "\x0b" + string(m1) + "\x1c") // NULs before, no CR after
	if ack, err := c.ack(); err != nil || ackControlID(ack) != "Q1" {
		t.Fatalf("first ACK: %q %v", ack, err)
	}
	c.send("\r\n\x00 \x0b\x1c\r" + "\x0b" + string(m2) + "\x1c\r\n") // an LF, a NUL, a space, an empty frame
	if ack, err := c.ack(); err != nil || ackCode(ack) != "AR" {
		t.Fatalf("ACK of the empty frame: %q %v", ack, err)
	}
	if ack, err := c.ack(); err != nil || ackControlID(ack) != "Q2" {
		t.Fatalf("second ACK: %q %v", ack, err)
	}
	c.send("\x0b" + string(m3) + "\x1c")
	if ack, err := c.ack(); err != nil || ackControlID(ack) != "Q3" {
		t.Fatalf("third ACK: %q %v", ack, err)
	}
	c.Close()
	waitFor(t, "the connection to close", func() bool { return srv.Stats().Open == 0 })
	st := srv.Stats()
	// Junk: the 3 NULs; after Q1, whose CR came late but came, "\n\x00 ";
	// after Q2's CR, "\n". Q3 ended the stream without its CR.
	if st.Messages != 4 || st.Acks != 4 || st.Empty != 1 || st.JunkBytes != 3+3+1 || st.NoTrailer != 1 {
		t.Errorf("stats %+v", st)
	}
}

type oversizeHandler struct {
	ackHandler
	head []byte
	size int64
}

func (h *oversizeHandler) HandleMLLPOversize(_ context.Context, _ Peer, head []byte, size, _ int64) []byte {
	h.head, h.size = head, size
	ack := testACK(head)
	return []byte(strings.Replace(string(ack), "MSA|AA|", "MSA|AR|", 1))
}

// TestServerOversize: a message over MaxMessage closes the connection,
// or, with an OversizeHandler, is answered by it and the connection goes
// on.
func TestServerOversize(t *testing.T) {
	big := testMessage("BIG", 5000)
	t.Run("closes", func(t *testing.T) {
		log, buf := testLog(t)
		srv := &Server{Handler: &ackHandler{}, MaxMessage: 4096, Log: log}
		c := dialRaw(t, serve(t, srv))
		c.send(string(appendFrame(nil, big)))
		if !c.closed() {
			t.Fatal("connection not closed")
		}
		waitFor(t, "the connection to close", func() bool { return srv.Stats().Open == 0 })
		if st := srv.Stats(); st.TooLarge != 1 || st.Messages != 0 {
			t.Errorf("stats %+v", st)
		}
		if out := buf.String(); !strings.Contains(out, `"limit":4096`) || !strings.Contains(out, "message too large") {
			t.Errorf("log does not name the limit:\n%s", out)
		}
		waitFor(t, "the connection's log", func() bool { return strings.Contains(buf.String(), "connection closed") })
		if want := fmt.Sprintf(`"bytes":%d,`, len(big)); !strings.Contains(closingLine(buf.String()), want) {
			t.Errorf("connection log does not count the oversized message's bytes (want %s):\n%s", want, buf.String())
		}
	})
	t.Run("OversizeHandler", func(t *testing.T) {
		log, buf := testLog(t)
		h := &oversizeHandler{}
		srv := &Server{Handler: h, MaxMessage: 4096, Log: log}
		c := dialRaw(t, serve(t, srv))
		c.send(string(appendFrame(nil, big)) + string(appendFrame(nil, testMessage("SMALL", 0))))
		if ack, err := c.ack(); err != nil || ackCode(ack) != "AR" || ackControlID(ack) != "BIG" {
			t.Fatalf("negative ACK: %q %v", ack, err)
		}
		if ack, err := c.ack(); err != nil || ackCode(ack) != "AA" || ackControlID(ack) != "SMALL" {
			t.Fatalf("next ACK: %q %v", ack, err)
		}
		if h.size != int64(len(big)) || len(h.head) != 4096 {
			t.Errorf("oversize handler got %d bytes of head, size %d; want 4096, %d", len(h.head), h.size, len(big))
		}
		// The connection's log counts the oversized message with the
		// others: two messages, two ACKs, one of them too large.
		c.Close()
		waitFor(t, "the connection to close", func() bool { return srv.Stats().Open == 0 })
		if st := srv.Stats(); st.Messages != 1 || st.TooLarge != 1 || st.Acks != 2 {
			t.Errorf("stats %+v", st)
		}
		waitFor(t, "the connection's log", func() bool { return strings.Contains(buf.String(), "connection closed") })
		if out := buf.String(); !strings.Contains(out, `"reason":"closed by peer","messages":2,"acks":2,"too_large":1`) {
			t.Errorf("connection log does not count the oversized message as one of its messages:\n%s", out)
		}
		// Its bytes are counted too (they were logged as 0 before).
		if want := fmt.Sprintf(`"too_large":1,"bytes":%d,`, len(big)+len(testMessage("SMALL", 0))); !strings.Contains(closingLine(buf.String()), want) {
			t.Errorf("connection log does not count the bytes read (want %s):\n%s", want, buf.String())
		}
	})
}

// closingLine is the "connection closed" line of a log.
func closingLine(log string) string {
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "connection closed") {
			return l
		}
	}
	return ""
}

// TestServerFramingError: a start block inside a message closes the
// connection without handling the partial message.
func TestServerFramingError(t *testing.T) {
	log, _ := testLog(t)
	h := &ackHandler{}
	srv := &Server{Handler: h, Log: log}
	c := dialRaw(t, serve(t, srv))
	c.send("\x0bMSH|^~\\&|partial\r\x0b" + string(testMessage("X", 0)) + "\x1c\r")
	if !c.closed() {
		t.Fatal("connection not closed")
	}
	waitFor(t, "the connection to close", func() bool { return srv.Stats().Open == 0 })
	if st := srv.Stats(); st.Framing != 1 || h.n.Load() != 0 {
		t.Errorf("stats %+v, %d handled", st, h.n.Load())
	}
}

// TestServerNotMLLP: a peer that sends no frame at all (unframed HL7, an
// HTTP request, a TLS hello) is closed once MaxJunk bytes are skipped.
func TestServerNotMLLP(t *testing.T) {
	log, _ := testLog(t)
	srv := &Server{Handler: &ackHandler{}, Log: log}
	c := dialRaw(t, serve(t, srv))
	go c.Write([]byte(strings.Repeat("GET / HTTP/1.1\r\nHost: x\r\n\r\n", DefaultMaxJunk/20)))
	if !c.closed() {
		t.Fatal("connection not closed")
	}
	waitFor(t, "the connection to close", func() bool { return srv.Stats().Open == 0 })
	if st := srv.Stats(); st.JunkLimit != 1 || st.JunkBytes != DefaultMaxJunk+1 {
		t.Errorf("stats %+v", st)
	}
}

// TestServerSlowloris: a message trickled in byte by byte is cut off by
// ReadTimeout, however steadily the bytes come.
func TestServerSlowloris(t *testing.T) {
	log, _ := testLog(t)
	h := &ackHandler{}
	srv := &Server{Handler: h, ReadTimeout: 300 * time.Millisecond, Log: log}
	c := dialRaw(t, serve(t, srv))
	start := time.Now()
	go func() {
		c.Write([]byte("\x0b"))
		for _, b := range []byte(testMessage("SLOW", 0)) {
			if _, err := c.Write([]byte{b}); err != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	if !c.closed() {
		t.Fatal("connection not closed")
	}
	if d := time.Since(start); d < 300*time.Millisecond || d > 3*time.Second {
		t.Errorf("closed after %v, want about the read timeout of 300ms", d)
	}
	waitFor(t, "the connection to close", func() bool { return srv.Stats().Open == 0 })
	if st := srv.Stats(); st.ReadTimeouts != 1 || st.Truncated != 1 || h.n.Load() != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestServerIdleTimeout: a connection without messages is closed after
// IdleTimeout, and bytes outside frames do not keep it open.
func TestServerIdleTimeout(t *testing.T) {
	for _, drip := range []bool{false, true} {
		t.Run(fmt.Sprintf("junk=%v", drip), func(t *testing.T) {
			log, _ := testLog(t)
			srv := &Server{Handler: &ackHandler{}, IdleTimeout: 300 * time.Millisecond, ReadTimeout: 5 * time.Second, Log: log}
			c := dialRaw(t, serve(t, srv))
			c.send(string(appendFrame(nil, testMessage("I1", 0))))
			if _, err := c.ack(); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			if drip {
				go func() {
					for i := 0; i < 100; i++ {
						if _, err := c.Write([]byte{0}); err != nil {
							return
						}
						time.Sleep(20 * time.Millisecond)
					}
				}()
			}
			if !c.closed() {
				t.Fatal("connection not closed")
			}
			if d := time.Since(start); d < 250*time.Millisecond || d > 3*time.Second {
				t.Errorf("closed after %v, want about the idle timeout of 300ms", d)
			}
			waitFor(t, "the connection to close", func() bool { return srv.Stats().Open == 0 })
			if st := srv.Stats(); st.IdleTimeouts != 1 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// gateHandler holds every message until released.
type gateHandler struct {
	in      chan string // control ids, as handling starts
	release chan struct{}
	ctxErr  atomic.Value
}

func (h *gateHandler) HandleMLLP(ctx context.Context, _ Peer, msg []byte) []byte {
	h.in <- field(mshFields(msg), 10)
	select {
	case <-h.release:
	case <-ctx.Done():
		h.ctxErr.Store(ctx.Err())
		return nil
	}
	return testACK(msg)
}

// TestServerShutdown: Shutdown closes the listener and idle connections at
// once; messages being handled, and one still being received, finish and
// get their ACKs; then those connections close and Shutdown returns.
func TestServerShutdown(t *testing.T) {
	log, _ := testLog(t)
	h := &gateHandler{in: make(chan string, 16), release: make(chan struct{})}
	srv := &Server{Handler: h, Log: log}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	const busy = 8
	var inFlight []*rawConn
	for i := range busy {
		c := dialRaw(t, addr)
		c.send(string(appendFrame(nil, testMessage("F"+strconv.Itoa(i), 800))))
		inFlight = append(inFlight, c)
	}
	for range busy {
		<-h.in
	}
	idle := dialRaw(t, addr)
	partial := dialRaw(t, addr)
	msg := appendFrame(nil, testMessage("PARTIAL", 800))
	partial.send(string(msg[:100]))
	waitFor(t, "all connections to be open", func() bool { return srv.Stats().Open == busy+2 })
	waitFor(t, "the partial message to be started", func() bool {
		srv.mu.Lock()
		defer srv.mu.Unlock()
		active := 0
		for c := range srv.conns {
			if c.state == stateActive {
				active++
			}
		}
		return active == busy+1
	})

	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(context.Background()) }()
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve: %v", err)
	}
	if !idle.closed() {
		t.Fatal("idle connection not closed")
	}
	if nc, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		nc.Close()
		t.Fatal("still accepting connections")
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with messages in flight", err)
	case <-time.After(100 * time.Millisecond):
	}

	partial.send(string(msg[100:]))
	if got := <-h.in; got != "PARTIAL" {
		t.Fatalf("handled %q", got)
	}
	close(h.release)
	for i, c := range append(inFlight, partial) {
		want := "PARTIAL"
		if i < busy {
			want = "F" + strconv.Itoa(i)
		}
		ack, err := c.ack()
		if err != nil || ackControlID(ack) != want {
			t.Fatalf("connection %d: ACK %q, %v", i, ackControlID(ack), err)
		}
		if !c.closed() {
			t.Fatalf("connection %d not closed after its ACK", i)
		}
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if st := srv.Stats(); st.Acks != busy+1 || st.Open != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestServerShutdownDeadline: when handlers do not finish in time,
// Shutdown closes their connections, cancels their context and returns the
// context's error.
func TestServerShutdownDeadline(t *testing.T) {
	log, _ := testLog(t)
	h := &gateHandler{in: make(chan string, 1), release: make(chan struct{})}
	srv := &Server{Handler: h, Log: log}
	c := dialRaw(t, serve(t, srv))
	c.send(string(appendFrame(nil, testMessage("STUCK", 0))))
	<-h.in
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v", err)
	}
	if !c.closed() {
		t.Fatal("connection not closed")
	}
	waitFor(t, "the handler to see its context cancelled", func() bool { return h.ctxErr.Load() != nil })
}

// TestServerMaxConns: connections beyond MaxConns are closed at once; the
// others are served.
func TestServerMaxConns(t *testing.T) {
	log, _ := testLog(t)
	srv := &Server{Handler: &ackHandler{}, MaxConns: 2, Log: log}
	addr := serve(t, srv)
	a, b := dialRaw(t, addr), dialRaw(t, addr)
	waitFor(t, "two connections", func() bool { return srv.Stats().Open == 2 })
	if !dialRaw(t, addr).closed() {
		t.Fatal("third connection not closed")
	}
	for _, c := range []*rawConn{a, b} {
		c.send(string(appendFrame(nil, testMessage("M", 0))))
		if _, err := c.ack(); err != nil {
			t.Fatal(err)
		}
	}
	if st := srv.Stats(); st.Refused != 1 || st.Accepted != 3 {
		t.Errorf("stats %+v", st)
	}
}

// TestServerHandlerNoACKOrPanic: a nil ACK closes the connection; a panic
// too, and the server goes on serving others.
func TestServerHandlerNoACKOrPanic(t *testing.T) {
	log, buf := testLog(t)
	srv := &Server{Log: log, Handler: HandlerFunc(func(_ context.Context, _ Peer, msg []byte) []byte {
		switch field(mshFields(msg), 10) {
		case "NIL":
			return nil
		case "PANIC":
			panic("handler bug with PID|1||secret")
		case "NILPTR":
			var p *Peer
			return []byte(p.Subject)
		}
		return testACK(msg)
	})}
	addr := serve(t, srv)
	for _, ctl := range []string{"NIL", "PANIC", "NILPTR"} {
		c := dialRaw(t, addr)
		c.send(string(appendFrame(nil, testMessage(ctl, 0))))
		if !c.closed() {
			t.Fatalf("%s: connection not closed", ctl)
		}
	}
	c := dialRaw(t, addr)
	c.send(string(appendFrame(nil, testMessage("OK", 0))))
	if ack, err := c.ack(); err != nil || ackControlID(ack) != "OK" {
		t.Fatalf("%q %v", ack, err)
	}
	if st := srv.Stats(); st.HandlerClosed != 1 || st.HandlerPanics != 2 {
		t.Errorf("stats %+v", st)
	}
	// A runtime error is logged as it is; any other panic value by its
	// type only, as it could hold message content.
	if out := buf.String(); !strings.Contains(out, `"panic":"string"`) || strings.Contains(out, "secret") ||
		!strings.Contains(out, "nil pointer dereference") {
		t.Errorf("panics not logged as they should be:\n%s", out)
	}
}

// TestServerTLS: TLS from tlsconf, then mutual TLS: the verified client's
// subject reaches the handler; a client without a certificate, or with one
// from another CA, is refused in the handshake.
func TestServerTLS(t *testing.T) {
	ca := newPKI(t, "Test Hospital CA")
	srvCert, srvKey := ca.issue(t, "server", pkix.Name{CommonName: "clinomics"}, true)
	cliCert, cliKey := ca.issue(t, "client", pkix.Name{CommonName: "lab-sender", Organization: []string{"Test Hospital"}}, false)
	other := newPKI(t, "Other CA")
	otherCert, otherKey := other.issue(t, "intruder", pkix.Name{CommonName: "intruder"}, false)

	peers := make(chan Peer, 16)
	handler := HandlerFunc(func(_ context.Context, p Peer, msg []byte) []byte {
		peers <- p
		return testACK(msg)
	})
	clientCfg := func(t *testing.T, cert, key string) *tls.Config {
		cfg, err := tlsconf.ClientConfig(tlsconf.ClientOptions{CAFile: ca.caFile(), CertFile: cert, KeyFile: key})
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}

	t.Run("TLS", func(t *testing.T) {
		cfg, _, err := tlsconf.ServerConfig(tlsconf.ServerOptions{CertFile: srvCert, KeyFile: srvKey})
		if err != nil {
			t.Fatal(err)
		}
		log, _ := testLog(t)
		addr := serve(t, &Server{Handler: handler, TLSConfig: cfg, Log: log})
		for _, host := range []string{addr, strings.Replace(addr, "127.0.0.1", "localhost", 1)} {
			cl := &Client{Addr: host, TLSConfig: clientCfg(t, "", "")}
			ack, err := cl.Send(context.Background(), testMessage("T1", 0))
			cl.Close()
			if err != nil || ackControlID(ack) != "T1" {
				t.Fatalf("%s: %q %v", host, ack, err)
			}
			if p := <-peers; !p.TLS || p.Subject != "" || p.Cert != nil {
				t.Errorf("peer %+v", p)
			}
		}
		// A plain client on the TLS port gets no ACK.
		cl := &Client{Addr: addr, Timeout: 2 * time.Second}
		if _, err := cl.Send(context.Background(), testMessage("PLAIN", 0)); err == nil {
			t.Error("a plain MLLP client was answered on the TLS port")
		}
	})

	t.Run("mutual", func(t *testing.T) {
		cfg, info, err := tlsconf.ServerConfig(tlsconf.ServerOptions{CertFile: srvCert, KeyFile: srvKey,
			ClientCAFile: ca.caFile(), RequireClientCert: true})
		if err != nil {
			t.Fatal(err)
		}
		if info.ClientAuth != tls.RequireAndVerifyClientCert {
			t.Fatalf("client auth %v", info.ClientAuth)
		}
		log, _ := testLog(t)
		srv := &Server{Handler: handler, TLSConfig: cfg, Log: log}
		addr := serve(t, srv)
		cl := &Client{Addr: addr, TLSConfig: clientCfg(t, cliCert, cliKey)}
		defer cl.Close()
		for i := range 3 {
			ctl := "M" + strconv.Itoa(i)
			ack, err := cl.Send(context.Background(), testMessage(ctl, 0))
			if err != nil || ackControlID(ack) != ctl {
				t.Fatalf("%q %v", ack, err)
			}
			p := <-peers
			if !p.TLS || p.Subject != "CN=lab-sender,O=Test Hospital" || p.Cert == nil || p.Conn != 1 || p.Local.String() != addr {
				t.Errorf("peer %+v", p)
			}
		}
		for name, cfg := range map[string]*tls.Config{
			"no certificate":      clientCfg(t, "", ""),
			"another CA's client": clientCfg(t, otherCert, otherKey),
		} {
			cl := &Client{Addr: addr, TLSConfig: cfg, Timeout: 5 * time.Second}
			if _, err := cl.Send(context.Background(), testMessage("NO", 0)); err == nil {
				t.Errorf("%s: accepted", name)
			}
		}
		waitFor(t, "the failed handshakes to be counted", func() bool { return srv.Stats().TLSErrors == 2 })
		if len(peers) != 0 {
			t.Errorf("%d messages handled from refused clients", len(peers))
		}
	})
}

// TestServerCorpus: every real message of the shared corpus, and every
// malformed one nHapi's fuzzer found, goes through our Client to our
// Server; each is answered, and the server survives them all.
func TestServerCorpus(t *testing.T) {
	msgs := corpusMessages(t)
	for _, b := range badInputs(t) {
		if checkMessage(b) == nil {
			msgs = append(msgs, corpusMessage{name: "bad input", data: b})
		}
	}
	log, _ := testLogAt(t, slog.LevelInfo)
	h := &ackHandler{}
	srv := &Server{Handler: h, Log: log}
	cl := &Client{Addr: serve(t, srv)}
	defer cl.Close()
	for _, m := range msgs {
		ack, err := cl.Send(context.Background(), m.data)
		if err != nil {
			t.Fatalf("%s: %v", m.name, err)
		}
		if want := field(mshFields(m.data), 10); mshFields(m.data) != nil && ackControlID(ack) != want {
			t.Errorf("%s: ACK for %q, want %q", m.name, ackControlID(ack), want)
		}
	}
	if st := srv.Stats(); st.Messages != int64(len(msgs)) || st.Accepted != 1 {
		t.Errorf("stats %+v for %d messages", st, len(msgs))
	}
}
