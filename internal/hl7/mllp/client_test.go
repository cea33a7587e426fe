package mllp

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"
)

// TestClientReconnects: a connection the server closed while idle is
// replaced transparently (the message is sent once), and a server that
// went away and came back on the same address is reached again.
func TestClientReconnects(t *testing.T) {
	log, _ := testLog(t)
	h := &ackHandler{}
	srv := &Server{Handler: h, IdleTimeout: 100 * time.Millisecond, Log: log}
	addr := serve(t, srv)
	cl := &Client{Addr: addr}
	defer cl.Close()
	for i := range 3 {
		ack, err := cl.Send(context.Background(), testMessage("R"+strconv.Itoa(i), 0))
		if err != nil || ackControlID(ack) != "R"+strconv.Itoa(i) {
			t.Fatalf("send %d: %q %v", i, ack, err)
		}
		waitFor(t, "the idle connection to be closed", func() bool { return srv.Stats().Open == 0 })
	}
	if st := srv.Stats(); st.Accepted != 3 || st.Messages != 3 || h.n.Load() != 3 {
		t.Errorf("stats %+v: want each message handled once, on its own connection", st)
	}

	// The server goes away: Send fails. It comes back: Send succeeds.
	srv.Close()
	if _, err := cl.Send(context.Background(), testMessage("DOWN", 0)); err == nil {
		t.Fatal("sent to a closed server")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s again: %v", addr, err)
	}
	log2, _ := testLog(t)
	srv2 := &Server{Handler: &ackHandler{}, Log: log2}
	go srv2.Serve(ln)
	defer srv2.Close()
	if ack, err := cl.Send(context.Background(), testMessage("UP", 0)); err != nil || ackControlID(ack) != "UP" {
		t.Fatalf("after the restart: %q %v", ack, err)
	}
}

// TestClientCancel: a Send waiting for an ACK ends with its context, or
// with Timeout, and the connection it leaves is not reused (a late ACK
// must not answer the next message).
func TestClientCancel(t *testing.T) {
	log, _ := testLog(t)
	h := &gateHandler{in: make(chan string, 4), release: make(chan struct{})}
	srv := &Server{Handler: h, Log: log}
	addr := serve(t, srv)
	defer close(h.release)

	cl := &Client{Addr: addr}
	defer cl.Close()
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-h.in; cancel() }()
	start := time.Now()
	if _, err := cl.Send(ctx, testMessage("C1", 0)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Send: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("cancelled Send took %v", d)
	}

	cl2 := &Client{Addr: addr, Timeout: 200 * time.Millisecond}
	defer cl2.Close()
	if _, err := cl2.Send(context.Background(), testMessage("C2", 0)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send past Timeout: %v", err)
	}
	<-h.in
	if cl.nc != nil || cl2.nc != nil {
		t.Error("a connection with an ACK outstanding was kept")
	}
}

// TestClientConcurrent: concurrent Sends on one Client are serialised on
// its one connection, each getting its own ACK.
func TestClientConcurrent(t *testing.T) {
	log, _ := testLogAt(t, 0)
	srv := &Server{Handler: &ackHandler{}, Log: log}
	cl := &Client{Addr: serve(t, srv)}
	defer cl.Close()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				ctl := strconv.Itoa(g) + "-" + strconv.Itoa(i)
				ack, err := cl.Send(context.Background(), testMessage(ctl, 0))
				if err != nil || ackControlID(ack) != ctl {
					t.Errorf("%s: %q %v", ctl, ackControlID(ack), err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if st := srv.Stats(); st.Accepted != 1 || st.Messages != 400 {
		t.Errorf("stats %+v", st)
	}
}

// TestClientRefusesControlBytes: a message that cannot be framed is not
// sent.
func TestClientRefusesControlBytes(t *testing.T) {
	cl := &Client{Addr: "127.0.0.1:1"}
	if _, err := cl.Send(context.Background(), []byte("MSH|\x1c|")); !errors.Is(err, ErrControlByte) {
		t.Fatal(err)
	}
}

// TestClientNoACK: a server that closes without answering is an error
// (after one retry on a fresh connection when the connection was reused).
func TestClientNoACK(t *testing.T) {
	log, _ := testLog(t)
	var n int
	var mu sync.Mutex
	srv := &Server{Log: log, Handler: HandlerFunc(func(_ context.Context, _ Peer, msg []byte) []byte {
		mu.Lock()
		defer mu.Unlock()
		n++
		if field(mshFields(msg), 10) == "DROP" {
			return nil
		}
		return testACK(msg)
	})}
	cl := &Client{Addr: serve(t, srv)}
	defer cl.Close()
	if _, err := cl.Send(context.Background(), testMessage("DROP", 0)); !errors.Is(err, errNoACK) {
		t.Fatalf("fresh connection: %v", err)
	}
	if _, err := cl.Send(context.Background(), testMessage("KEEP", 0)); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Send(context.Background(), testMessage("DROP", 0)); !errors.Is(err, errNoACK) {
		t.Fatalf("reused connection: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if n != 4 {
		t.Errorf("handled %d times, want 4 (1, 1, and 2 for the retry on a reused connection)", n)
	}
}
