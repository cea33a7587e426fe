package mllp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// DefaultClientTimeout bounds a Send of a [Client] whose Timeout is zero.
const DefaultClientTimeout = 30 * time.Second

// Client sends messages to an MLLP server over one persistent connection,
// opened on the first Send and opened again after any failure. Sends are
// serialised: each waits for the previous one's ACK, so messages arrive in
// the order they were sent. A Client is safe for concurrent use.
type Client struct {
	// Addr is the server, HOST:PORT.
	Addr string
	// TLSConfig, if set, makes the connection TLS: from
	// tlsconf.ClientConfig, with a client certificate for mutual TLS. The
	// server name is taken from Addr when it sets none.
	TLSConfig *tls.Config
	// Timeout bounds one Send: connecting, writing the message and reading
	// its ACK. 0 means DefaultClientTimeout; negative, no limit but ctx's.
	Timeout time.Duration
	// MaxMessage is the largest ACK accepted; 0 means DefaultMaxMessage.
	MaxMessage int

	mu sync.Mutex
	nc net.Conn
	r  *Reader
	w  *Writer
}

// Send sends msg and returns the server's ACK, unframed; what it says is
// for the caller to read. The message must not hold the bytes 0x0B or 0x1C
// (ErrControlByte). Timeout (and ctx) count from the call, the wait for
// other Sends on the Client included.
//
// Delivery is at least once, as everywhere in MLLP: when the connection
// fails after the message was written and before its ACK was read, the
// message may or may not have been received, and the caller sends it
// again (receivers recognise a repeated message by its control id,
// MSH-10). Send itself sends again once, on a new connection, when a
// connection kept from an earlier Send turns out closed (an end of stream
// or a reset before any byte of the ACK): nearly always a connection the
// server closed while idle, which never read the message, but a server
// that read it and then closed without answering receives it twice.
//
// An ACK that does not answer the message (its MSA-2 is not the message's
// MSH-10) means the exchange is out of step, a server that sent an ACK
// twice, say: Close the Client, which drops whatever else the server sent,
// and send again.
func (c *Client) Send(ctx context.Context, msg []byte) ([]byte, error) {
	if err := checkMessage(msg); err != nil {
		return nil, err
	}
	if d := timeout(c.Timeout, DefaultClientTimeout); d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for attempt := 0; ; attempt++ {
		reused := c.nc != nil
		if !reused {
			if err := c.dial(ctx); err != nil {
				return nil, fmt.Errorf("mllp: send to %s: %w", c.Addr, err)
			}
		}
		ack, err := c.roundTrip(ctx, msg)
		if err == nil {
			return ack, nil
		}
		c.closeConn()
		cerr := ctxErr(ctx, err)
		if reused && attempt == 0 && cerr == nil && stale(err) {
			continue
		}
		if cerr != nil {
			err = fmt.Errorf("%w (%w)", cerr, err)
		}
		return nil, fmt.Errorf("mllp: send to %s: %w", c.Addr, err)
	}
}

// Close closes the connection, if any. The Client stays usable: the next
// Send connects again.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeConn()
}

func (c *Client) closeConn() error {
	if c.nc == nil {
		return nil
	}
	err := c.nc.Close()
	c.nc, c.r, c.w = nil, nil, nil
	return err
}

func (c *Client) dial(ctx context.Context) error {
	var nc net.Conn
	var err error
	if c.TLSConfig != nil {
		d := &tls.Dialer{Config: c.TLSConfig}
		nc, err = d.DialContext(ctx, "tcp", c.Addr)
	} else {
		var d net.Dialer
		nc, err = d.DialContext(ctx, "tcp", c.Addr)
	}
	if err != nil {
		return err
	}
	c.nc = nc
	c.r = NewReader(nc)
	c.r.MaxMessage = c.MaxMessage
	c.w = NewWriter(nc)
	return nil
}

// roundTrip writes msg and reads one frame back, within ctx.
func (c *Client) roundTrip(ctx context.Context, msg []byte) ([]byte, error) {
	dl, _ := ctx.Deadline()
	nc := c.nc // the func below may run after Send has dropped c.nc
	nc.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := c.w.WriteMessage(msg); err != nil {
		return nil, err
	}
	ack, err := c.r.Next()
	if err == io.EOF {
		err = errNoACK
	}
	return ack, err
}

// ctxErr is ctx's error, also when err is the connection's deadline,
// set from ctx's, having fired a moment before ctx's own timer.
func ctxErr(ctx context.Context, err error) error {
	if e := ctx.Err(); e != nil {
		return e
	}
	if dl, ok := ctx.Deadline(); ok && errors.Is(err, os.ErrDeadlineExceeded) && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return nil
}

// errNoACK: the server closed the connection without an ACK.
var errNoACK = fmt.Errorf("connection closed without an ACK: %w", io.EOF)

// stale says whether err shows a connection the server had already closed
// before it could read the message: an end of stream or reset before any
// byte of an ACK.
func stale(err error) bool {
	var fe *FrameError
	if errors.As(err, &fe) {
		return false
	}
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNABORTED)
}
