package mllp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clinomics/clinomics/internal/tlsconf"
)

// Defaults of a [Server] whose fields are left zero.
const (
	DefaultAddr         = ":2575" // the port IANA assigned to HL7 over MLLP
	DefaultReadTimeout  = 30 * time.Second
	DefaultIdleTimeout  = 15 * time.Minute
	DefaultWriteTimeout = 30 * time.Second
	DefaultMaxConns     = 256
)

// ErrServerClosed is returned by Serve and ListenAndServe after Shutdown or
// Close.
var ErrServerClosed = errors.New("mllp: server closed")

// Handler handles the messages of a [Server].
type Handler interface {
	// HandleMLLP is called with each message received, without its
	// framing; msg is the handler's to keep. Every frame is handed over,
	// an empty one or one that is not HL7 included: the handler answers
	// it with a reject. The messages of one
	// connection are handled one at a time, in the order they arrived;
	// those of different connections concurrently.
	//
	// The returned ACK is written back framed; it must not hold the bytes
	// 0x0B or 0x1C. A nil ACK closes the connection without a reply (the
	// sender will send the message again). Return only once the message is
	// as safe as the ACK says: the server writes it at once.
	//
	// ctx is cancelled when the connection is closed under the handler: by
	// Close, or when the context given to Shutdown expires.
	HandleMLLP(ctx context.Context, peer Peer, msg []byte) (ack []byte)
}

// HandlerFunc adapts a function to [Handler].
type HandlerFunc func(ctx context.Context, peer Peer, msg []byte) (ack []byte)

// HandleMLLP calls f.
func (f HandlerFunc) HandleMLLP(ctx context.Context, peer Peer, msg []byte) []byte {
	return f(ctx, peer, msg)
}

// OversizeHandler is implemented by a Handler that answers a message longer
// than MaxMessage, a negative ACK, say, rather than have its connection
// closed. head is the message's beginning (at most HeadSize bytes, enough
// for its MSH segment); size its whole length; limit the Server's
// MaxMessage. The rest of the message has been read and discarded by
// then. A nil reply closes the connection.
type OversizeHandler interface {
	HandleMLLPOversize(ctx context.Context, peer Peer, head []byte, size, limit int64) (nak []byte)
}

// Peer is the sending end of a connection.
type Peer struct {
	// Addr is the remote address; Local the server's end, which tells
	// listeners apart when feeds arrive on different ports.
	Addr, Local net.Addr
	// Conn numbers the connections of a Server from 1, for logs.
	Conn uint64
	// TLS: the connection is TLS.
	TLS bool
	// Cert is the client certificate the server verified against its
	// client CAs (mutual TLS), or nil; Subject is its subject, as
	// "CN=epic-bridge,O=Hospital", or "".
	Cert    *x509.Certificate
	Subject string
}

// String is the address, and the certificate subject with mutual TLS.
func (p Peer) String() string {
	a := "?"
	if p.Addr != nil {
		a = p.Addr.String()
	}
	if p.Subject != "" {
		return a + " (" + p.Subject + ")"
	}
	return a
}

// Server accepts MLLP connections and hands their messages to a Handler.
// Its fields must not change once it serves.
type Server struct {
	// Addr is the TCP address ListenAndServe listens on; "" means
	// DefaultAddr, all interfaces.
	Addr string
	// TLSConfig, if set, makes the server serve TLS: from
	// tlsconf.ServerConfig, with mutual TLS when it has client CAs.
	TLSConfig *tls.Config
	// Handler handles the messages. Required.
	Handler Handler
	// MaxMessage is the largest message accepted, in bytes; 0 means
	// DefaultMaxMessage.
	MaxMessage int
	// ReadTimeout bounds the reading of one message, from its start block
	// to its end block, and the TLS handshake. IdleTimeout bounds the wait
	// for the next message (bytes outside frames do not extend it).
	// WriteTimeout bounds the writing of an ACK. Zero means the default; a
	// negative value, no limit.
	ReadTimeout, IdleTimeout, WriteTimeout time.Duration
	// MaxConns is the most connections open at once; more are closed as
	// soon as accepted. 0 means DefaultMaxConns.
	MaxConns int
	// Log receives connection events: peer, sizes, counts, timings, never
	// message content. Nil discards.
	Log *slog.Logger

	initOnce  sync.Once
	ctx       context.Context // cancelled by Close, or when Shutdown gives up
	cancel    context.CancelFunc
	mu        sync.Mutex
	closing   bool
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	connDone  chan struct{} // signalled when a connection ends
	nextConn  atomic.Uint64
	stats     stats
}

// Stats are a Server's counters since it started, for metrics.
type Stats struct {
	Accepted int64 // connections accepted
	Refused  int64 // connections closed at once: MaxConns reached
	Open     int64 // connections open now

	Messages int64 // messages handed to the Handler
	Bytes    int64 // their size, in total
	Acks     int64 // ACKs written (negative ones for oversized messages included: Acks <= Messages + TooLarge)
	Empty    int64 // empty frames (handed to the Handler too)

	TooLarge     int64 // messages over MaxMessage
	Framing      int64 // start block inside a message: connection closed
	Truncated    int64 // connection closed, failed or timed out inside a message
	JunkBytes    int64 // bytes skipped outside frames
	JunkLimit    int64 // connections closed for too many bytes outside frames
	NoTrailer    int64 // frames ended by 0x1C without the CR
	ReadTimeouts int64 // messages not complete within ReadTimeout (slow or stalled senders)
	IdleTimeouts int64 // connections closed after IdleTimeout without a message
	WriteErrors  int64 // ACKs that could not be written (timeout, reset, bad ACK)
	TLSErrors    int64 // failed TLS handshakes

	HandlerClosed int64 // connections the Handler closed with a nil ACK
	HandlerPanics int64 // handler panics: logged, connection closed
}

type stats struct {
	accepted, refused, open                                       atomic.Int64
	messages, bytes, acks, empty                                  atomic.Int64
	tooLarge, framing, truncated, junkBytes, junkLimit, noTrailer atomic.Int64
	readTimeouts, idleTimeouts, writeErrors, tlsErrors            atomic.Int64
	handlerClosed, handlerPanics                                  atomic.Int64
}

// Stats returns the server's counters.
func (s *Server) Stats() Stats {
	st := &s.stats
	return Stats{
		Accepted: st.accepted.Load(), Refused: st.refused.Load(), Open: st.open.Load(),
		Messages: st.messages.Load(), Bytes: st.bytes.Load(), Acks: st.acks.Load(), Empty: st.empty.Load(),
		TooLarge: st.tooLarge.Load(), Framing: st.framing.Load(), Truncated: st.truncated.Load(),
		JunkBytes: st.junkBytes.Load(), JunkLimit: st.junkLimit.Load(), NoTrailer: st.noTrailer.Load(),
		ReadTimeouts: st.readTimeouts.Load(), IdleTimeouts: st.idleTimeouts.Load(),
		WriteErrors: st.writeErrors.Load(), TLSErrors: st.tlsErrors.Load(),
		HandlerClosed: st.handlerClosed.Load(), HandlerPanics: st.handlerPanics.Load(),
	}
}

func (s *Server) init() {
	s.initOnce.Do(func() {
		s.ctx, s.cancel = context.WithCancel(context.Background())
		s.listeners = make(map[net.Listener]struct{})
		s.conns = make(map[*conn]struct{})
		s.connDone = make(chan struct{}, 1)
	})
}

func (s *Server) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.New(slog.DiscardHandler)
}

func timeout(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}

// deadline is now+d, or no deadline for d == 0.
func deadline(d time.Duration) time.Time {
	if d == 0 {
		return time.Time{}
	}
	return time.Now().Add(d)
}

// ListenAndServe listens on Addr and serves. It returns ErrServerClosed
// after Shutdown or Close.
func (s *Server) ListenAndServe() error {
	addr := s.Addr
	if addr == "" {
		addr = DefaultAddr
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("mllp: %w", err)
	}
	return s.Serve(ln)
}

// Serve accepts connections on ln, each served in its own goroutine, until
// Shutdown or Close (then it returns ErrServerClosed) or a permanent error
// of ln. It closes ln.
func (s *Server) Serve(ln net.Listener) error {
	if s.Handler == nil {
		return errors.New("mllp: Server.Handler is nil")
	}
	s.init()
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
		ln.Close()
	}()
	log := s.log()
	log.Info("mllp: listening", "addr", ln.Addr().String(), "tls", s.TLSConfig != nil, "mutual_tls", s.TLSConfig != nil && s.TLSConfig.ClientAuth >= tls.VerifyClientCertIfGiven)
	maxConns := s.MaxConns
	if maxConns <= 0 {
		maxConns = DefaultMaxConns
	}
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.isClosing() {
				return ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			// Out of file descriptors and the like: wait and retry.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			log.Warn("mllp: accept failed; retrying", "err", err, "retry_in", backoff.String())
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		s.stats.accepted.Add(1)
		if s.stats.open.Load() >= int64(maxConns) {
			s.stats.refused.Add(1)
			log.Warn("mllp: connection refused: too many open", "peer", nc.RemoteAddr().String(), "max_conns", maxConns)
			nc.Close()
			continue
		}
		if s.TLSConfig != nil {
			nc = tls.Server(nc, s.TLSConfig)
		}
		c := &conn{srv: s, nc: nc, id: s.nextConn.Add(1), state: stateNew}
		if !s.track(c) {
			nc.Close()
			return ErrServerClosed
		}
		go c.serve()
	}
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

func (s *Server) track(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.conns[c] = struct{}{}
	s.stats.open.Add(1)
	return true
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.stats.open.Add(-1)
	select {
	case s.connDone <- struct{}{}:
	default:
	}
}

// Shutdown stops the server gracefully: it closes the listeners and every
// connection waiting for a message, lets each connection that has started
// receiving a message finish it, have it handled and its ACK written, then
// closes that connection too. It returns when all connections are closed,
// or when ctx ends: then it closes the rest, cancels their handlers'
// context and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.init()
	s.mu.Lock()
	s.closing = true
	for ln := range s.listeners {
		ln.Close()
	}
	var idle []net.Conn
	n := len(s.conns)
	for c := range s.conns {
		if c.state != stateActive {
			idle = append(idle, c.nc)
		}
	}
	s.mu.Unlock()
	s.log().Info("mllp: shutting down", "open_conns", n, "receiving_or_handling", n-len(idle))
	for _, nc := range idle {
		nc.Close()
	}
	for {
		s.mu.Lock()
		left := len(s.conns)
		s.mu.Unlock()
		if left == 0 {
			return nil
		}
		select {
		case <-s.connDone:
		case <-ctx.Done():
			s.log().Warn("mllp: shutdown deadline: closing connections with messages in flight", "open_conns", left)
			s.Close()
			return ctx.Err()
		}
	}
}

// Close closes the listeners and every connection at once; messages being
// received or handled get no ACK, and handlers' context is cancelled.
func (s *Server) Close() error {
	s.init()
	s.mu.Lock()
	s.closing = true
	for ln := range s.listeners {
		ln.Close()
	}
	var all []net.Conn
	for c := range s.conns {
		all = append(all, c.nc)
	}
	s.mu.Unlock()
	s.cancel()
	for _, nc := range all {
		nc.Close()
	}
	return nil
}

type connState int

const (
	stateNew    connState = iota // TLS handshake
	stateIdle                    // waiting for a message's start block
	stateActive                  // receiving a message, handling it, writing its ACK
)

type conn struct {
	srv   *Server
	nc    net.Conn
	id    uint64
	state connState // guarded by srv.mu
	peer  Peer
}

// setState moves the connection to idle or active; false when the server
// is shutting down and the connection must not go idle.
func (c *conn) setState(st connState) bool {
	c.srv.mu.Lock()
	defer c.srv.mu.Unlock()
	if st == stateIdle && c.srv.closing {
		return false
	}
	c.state = st
	return true
}

func (c *conn) serve() {
	s := c.srv
	log := s.log()
	started := time.Now()
	c.peer = Peer{Addr: c.nc.RemoteAddr(), Local: c.nc.LocalAddr(), Conn: c.id}
	readTimeout := timeout(s.ReadTimeout, DefaultReadTimeout)
	idleTimeout := timeout(s.IdleTimeout, DefaultIdleTimeout)
	writeTimeout := timeout(s.WriteTimeout, DefaultWriteTimeout)
	ctx, cancel := context.WithCancel(s.ctx)

	var counts Counts // of the Reader, as last added to the server's stats
	// messages counts every message received whole, those over
	// MaxMessage (tooLarge) included, so that acks <= messages.
	var messages, acks, tooLarge int64
	// read counts the message bytes read: of the messages received
	// whole, of those over MaxMessage (read to their end and dropped),
	// and of a message cut short.
	var read int64
	reason := "closed by peer"
	defer func() {
		cancel()
		c.nc.Close()
		s.untrack(c)
		log.Info("mllp: connection closed", "peer", c.peer.String(), "conn", c.id, "reason", reason,
			"messages", messages, "acks", acks, "too_large", tooLarge, "bytes", read, "junk_bytes", counts.Junk,
			"duration", time.Since(started).Round(time.Millisecond).String())
	}()

	if tc, ok := c.nc.(*tls.Conn); ok {
		c.nc.SetDeadline(deadline(readTimeout))
		if err := tc.HandshakeContext(ctx); err != nil {
			if s.isClosing() {
				reason = "server shutting down"
				return
			}
			s.stats.tlsErrors.Add(1)
			reason = "TLS handshake failed"
			log.Warn("mllp: TLS handshake failed", "peer", c.peer.String(), "conn", c.id, "err", err)
			return
		}
		cs := tc.ConnectionState()
		c.peer.TLS = true
		if cert := tlsconf.VerifiedClient(&cs); cert != nil {
			c.peer.Cert, c.peer.Subject = cert, cert.Subject.String()
		}
		c.nc.SetDeadline(time.Time{})
	}
	log.Debug("mllp: connection", "peer", c.peer.String(), "conn", c.id, "tls", c.peer.TLS)

	r := NewReader(c.nc)
	r.MaxMessage = s.MaxMessage
	r.FrameStarted = func() {
		c.setState(stateActive)
		c.nc.SetReadDeadline(deadline(readTimeout))
	}
	w := NewWriter(c.nc)
	for {
		if !c.setState(stateIdle) {
			reason = "server shutting down"
			return
		}
		c.nc.SetReadDeadline(deadline(idleTimeout))
		msg, err := r.Next()
		t0 := time.Now()
		if now := r.Counts(); now != counts {
			s.stats.junkBytes.Add(now.Junk - counts.Junk)
			s.stats.noTrailer.Add(now.NoTrailer - counts.NoTrailer)
			counts = now
		}
		var ack []byte
		switch {
		case err == nil:
			if len(msg) == 0 {
				s.stats.empty.Add(1)
			}
			messages++
			read += int64(len(msg))
			s.stats.messages.Add(1)
			s.stats.bytes.Add(int64(len(msg)))
			var panicked bool
			ack, panicked = c.handle(ctx, func() []byte { return s.Handler.HandleMLLP(ctx, c.peer, msg) })
			if panicked {
				reason = "handler panic"
				return
			}
			if ack == nil {
				s.stats.handlerClosed.Add(1)
				reason = "handler returned no ACK"
				return
			}
			log.Debug("mllp: message", "peer", c.peer.String(), "conn", c.id, "bytes", len(msg),
				"ack_bytes", len(ack), "handled_in", time.Since(t0).String())
		default:
			if fe := (*FrameError)(nil); errors.As(err, &fe) {
				if fe.Err != ErrJunk {
					read += fe.Size // junk is counted apart
				}
				if fe.Err == ErrTooLarge && fe.Cause == nil {
					messages++ // read to its end, and answered when the Handler can
					tooLarge++
				}
			}
			var ok bool
			ack, ok = c.readFailed(ctx, msg, err, &reason)
			if !ok {
				return
			}
		}
		c.nc.SetWriteDeadline(deadline(writeTimeout))
		if err := w.WriteMessage(ack); err != nil {
			s.stats.writeErrors.Add(1)
			reason = "ACK not written"
			log.Warn("mllp: ACK not written", "peer", c.peer.String(), "conn", c.id, "err", err,
				"ack_bytes", len(ack), "after", time.Since(t0).Round(time.Millisecond).String())
			return
		}
		acks++
		s.stats.acks.Add(1)
	}
}

// handle runs the handler, turning a panic into a logged error.
func (c *conn) handle(ctx context.Context, f func() []byte) (ack []byte, panicked bool) {
	defer func() {
		if p := recover(); p != nil {
			c.srv.stats.handlerPanics.Add(1)
			// The panic value of the runtime (an index out of range, a nil
			// pointer) is logged; any other could hold message content, so
			// only its type is. The stack holds code positions only.
			what := fmt.Sprintf("%T", p)
			if re, ok := p.(runtime.Error); ok {
				what = re.Error()
			}
			c.srv.log().Error("mllp: handler panic; connection closed", "peer", c.peer.String(), "conn", c.id,
				"panic", what, "stack", string(debug.Stack()))
			ack, panicked = nil, true
		}
	}()
	return f(), false
}

// readFailed counts and logs an error of Reader.Next. For an oversized
// message (head is its beginning) read to its end, with an
// OversizeHandler, it returns the reply to write and true; otherwise
// false: the connection is to be closed, for the reason it sets.
func (c *conn) readFailed(ctx context.Context, head []byte, err error, reason *string) ([]byte, bool) {
	s := c.srv
	log := s.log()
	peer := c.peer.String()
	var fe *FrameError
	if !errors.As(err, &fe) {
		// Between frames: the end of the stream, the idle deadline, or a
		// broken or closed connection.
		switch {
		case err == io.EOF:
		case errors.Is(err, os.ErrDeadlineExceeded):
			s.stats.idleTimeouts.Add(1)
			*reason = "idle timeout"
		case s.isClosing() && errors.Is(err, net.ErrClosed):
			*reason = "server shutting down"
		default:
			*reason = "read failed: " + err.Error()
		}
		return nil, false
	}
	attrs := []any{"peer", peer, "conn", c.id, "frame", fe.Frame, "offset", fe.Offset}
	switch fe.Err {
	case ErrTooLarge:
		s.stats.tooLarge.Add(1)
		log.Warn("mllp: message too large", append(attrs, "bytes", fe.Size, "limit", fe.Limit, "err", err)...)
		oh, ok := s.Handler.(OversizeHandler)
		if !ok || fe.Cause != nil {
			*reason = "message too large"
			return nil, false
		}
		nak, panicked := c.handle(ctx, func() []byte { return oh.HandleMLLPOversize(ctx, c.peer, head, fe.Size, fe.Limit) })
		switch {
		case panicked:
			*reason = "handler panic"
		case nak == nil:
			s.stats.handlerClosed.Add(1)
			*reason = "handler returned no ACK for a message too large"
		default:
			return nak, true
		}
		return nil, false
	case ErrFraming:
		s.stats.framing.Add(1)
		*reason = "framing error"
		log.Warn("mllp: start block inside a message; connection closed", append(attrs, "bytes", fe.Size)...)
	case ErrJunk:
		s.stats.junkLimit.Add(1)
		*reason = "not MLLP"
		log.Warn("mllp: too many bytes outside frames; connection closed (a TLS client on a plain port, or unframed HL7?)",
			append(attrs, "limit", fe.Limit)...)
	case ErrTruncated:
		s.stats.truncated.Add(1)
		*reason = "connection ended inside a message"
		if errors.Is(err, os.ErrDeadlineExceeded) {
			s.stats.readTimeouts.Add(1)
			*reason = "read timeout inside a message"
			log.Warn("mllp: message not received within the read timeout; connection closed", append(attrs, "bytes", fe.Size)...)
		} else {
			log.Warn("mllp: connection ended inside a message", append(attrs, "bytes", fe.Size, "err", err)...)
		}
	}
	return nil, false
}
