package mllp

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinomics/clinomics/internal/tlsconf"

	"github.com/clinomics/clinomics/internal/testtools"
)

// npmPeers are the npm MLLP client and servers the tests run against.
var npmPeers = []string{"node-hl7-client", "node-hl7-server", "simple-hl7"}

// nodePeers returns the node binary, with npmPeers installed, or skips
// the test (see testtools).
func nodePeers(t *testing.T) string {
	t.Helper()
	return testtools.Node(t, npmPeers...)
}

// messageFiles writes each message to its own file, for hl7-send.mjs.
func messageFiles(t *testing.T, msgs []corpusMessage) []string {
	dir := t.TempDir()
	var files []string
	for i, m := range msgs {
		f := filepath.Join(dir, fmt.Sprintf("%03d.hl7", i))
		if err := os.WriteFile(f, m.data, 0o600); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return files
}

// recordHandler answers with testACK and keeps every message, with the
// peer it came from.
type recordHandler struct {
	mu    sync.Mutex
	msgs  [][]byte
	peers []Peer
}

func (h *recordHandler) HandleMLLP(_ context.Context, p Peer, msg []byte) []byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.msgs = append(h.msgs, msg)
	h.peers = append(h.peers, p)
	return testACK(msg)
}

// sentLine is a line of hl7-send.mjs's output.
type sentLine struct {
	File      string `json:"file"`
	ControlID string `json:"control_id"`
	ACK       string `json:"ack"`
}

// TestNPMClientToServer: the npm client node-hl7-client sends the real
// messages of the shared corpus to our Server, over plain TCP, TLS and
// mutual TLS, and receives our ACKs: each answers its message, in order,
// on one connection.
func TestNPMClientToServer(t *testing.T) {
	node := nodePeers(t)
	msgs := corpusMessages(t)
	files := messageFiles(t, msgs)

	ca := newPKI(t, "Test CA")
	srvCert, srvKey := ca.issue(t, "server", pkix.Name{CommonName: "clinomics"}, true)
	cliCert, cliKey := ca.issue(t, "client", pkix.Name{CommonName: "node-sender", Organization: []string{"Test Lab"}}, false)

	for _, mode := range []string{"plain", "TLS", "mutual TLS"} {
		t.Run(mode, func(t *testing.T) {
			var cfg *tls.Config
			var args []string
			switch mode {
			case "TLS":
				c, _, err := tlsconf.ServerConfig(tlsconf.ServerOptions{CertFile: srvCert, KeyFile: srvKey})
				if err != nil {
					t.Fatal(err)
				}
				cfg, args = c, []string{"--ca", ca.caFile()}
			case "mutual TLS":
				c, _, err := tlsconf.ServerConfig(tlsconf.ServerOptions{CertFile: srvCert, KeyFile: srvKey,
					ClientCAFile: ca.caFile(), RequireClientCert: true})
				if err != nil {
					t.Fatal(err)
				}
				cfg, args = c, []string{"--ca", ca.caFile(), "--cert", cliCert, "--key", cliKey}
			}
			log, _ := testLogAt(t, 0)
			h := &recordHandler{}
			srv := &Server{Handler: h, TLSConfig: cfg, Log: log}
			addr := serve(t, srv)
			_, port, _ := strings.Cut(addr, ":")

			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, node, append(append([]string{filepath.Join(testtools.NodeDir(), "hl7-send.mjs"),
				"--host", "127.0.0.1", "--port", port}, args...), files...)...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			start := time.Now()
			if err := cmd.Run(); err != nil {
				t.Fatalf("hl7-send.mjs: %v\n%s", err, stderr.String())
			}
			elapsed := time.Since(start)

			var lines []sentLine
			sc := bufio.NewScanner(&stdout)
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				var l sentLine
				if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
					t.Fatalf("hl7-send.mjs output %q: %v", sc.Text(), err)
				}
				lines = append(lines, l)
			}
			if len(lines) != len(msgs) {
				t.Fatalf("%d ACKs printed for %d messages\n%s", len(lines), len(msgs), stderr.String())
			}
			h.mu.Lock()
			defer h.mu.Unlock()
			if len(h.msgs) != len(msgs) {
				t.Fatalf("server received %d messages, sent %d", len(h.msgs), len(msgs))
			}
			changed := 0
			for i, m := range msgs {
				want := field(mshFields(m.data), 10)
				l := lines[i]
				if l.File != files[i] || l.ControlID != want {
					t.Errorf("%s: line %d is for %s, control id %q; want %q", m.name, i, l.File, l.ControlID, want)
				}
				if got := ackControlID([]byte(l.ACK)); got != want || ackCode([]byte(l.ACK)) != "AA" {
					t.Errorf("%s: the client got an ACK for %q (%s), want AA for %q", m.name, got, ackCode([]byte(l.ACK)), want)
				}
				if got := field(mshFields(h.msgs[i]), 10); got != want {
					t.Errorf("%s: message %d received is %q, want %q (out of order?)", m.name, i, got, want)
				}
				// node-hl7-client sends the message as its Message class
				// writes it back; count those that differ from the file.
				if !bytes.Equal(bytes.TrimRight(h.msgs[i], "\r"), bytes.TrimRight(m.data, "\r")) {
					changed++
				}
			}
			for _, p := range h.peers {
				if p.Conn != h.peers[0].Conn {
					t.Errorf("messages came on connections %d and %d, want one", h.peers[0].Conn, p.Conn)
					break
				}
			}
			if p := h.peers[0]; mode == "mutual TLS" && p.Subject != "CN=node-sender,O=Test Lab" || mode != "plain" && !p.TLS {
				t.Errorf("peer %+v", p)
			}
			t.Logf("%d real messages from node-hl7-client to our server over %s in %v, each ACKed in order on one connection; %d rewritten by the client's Message class",
				len(msgs), mode, elapsed.Round(time.Millisecond), changed)
		})
	}
}

// npmListener is a running hl7-listen.mjs.
type npmListener struct {
	addr  string
	cmd   *exec.Cmd
	lines chan map[string]string
	errb  *syncBuffer
}

// startNPMListener starts hl7-listen.mjs with the given package and
// arguments and waits until it listens.
func startNPMListener(t testing.TB, node, impl string, args ...string) *npmListener {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, node, append([]string{filepath.Join(testtools.NodeDir(), "hl7-listen.mjs"), "--impl", impl, "--port", "0"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	l := &npmListener{cmd: cmd, lines: make(chan map[string]string, 1024), errb: &syncBuffer{}}
	cmd.Stderr = l.errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		if s := l.errb.String(); s != "" {
			t.Logf("hl7-listen.mjs stderr:\n%s", s)
		}
	})
	listening := make(chan int, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) != nil {
				continue
			}
			if p, ok := m["listening"].(float64); ok {
				listening <- int(p)
				continue
			}
			s := map[string]string{}
			for k, v := range m {
				s[k], _ = v.(string)
			}
			l.lines <- s
		}
		close(l.lines)
	}()
	select {
	case p := <-listening:
		l.addr = "127.0.0.1:" + strconv.Itoa(p)
	case <-time.After(30 * time.Second):
		t.Fatalf("hl7-listen.mjs did not start listening\n%s", l.errb.String())
	}
	return l
}

// received waits for the listener's line about the next message.
func (l *npmListener) received(t *testing.T) map[string]string {
	t.Helper()
	select {
	case m, ok := <-l.lines:
		if !ok {
			t.Fatalf("hl7-listen.mjs exited\n%s", l.errb.String())
		}
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("hl7-listen.mjs did not report the message")
	}
	return nil
}

// TestClientToNPMServer: our Client delivers the real messages of the
// shared corpus to npm MLLP servers and reads their ACKs: simple-hl7 over
// one persistent connection; node-hl7-server over plain TCP, TLS and
// mutual TLS, one message per connection (it mishandles a second message
// on a connection: see hl7-listen.mjs).
func TestClientToNPMServer(t *testing.T) {
	node := nodePeers(t)
	msgs := corpusMessages(t)
	ca := newPKI(t, "Test CA")
	srvCert, srvKey := ca.issue(t, "server", pkix.Name{CommonName: "npm-server"}, true)
	cliCert, cliKey := ca.issue(t, "client", pkix.Name{CommonName: "clinomics"}, false)

	cases := []struct {
		name, impl string
		args       []string
		tls        *tlsconf.ClientOptions
		persistent bool
	}{
		{name: "simple-hl7", impl: "simple-hl7", persistent: true},
		{name: "node-hl7-server", impl: "node-hl7-server"},
		{name: "node-hl7-server TLS", impl: "node-hl7-server", args: []string{"--cert", srvCert, "--key", srvKey},
			tls: &tlsconf.ClientOptions{CAFile: ca.caFile()}},
		{name: "node-hl7-server mutual TLS", impl: "node-hl7-server", args: []string{"--cert", srvCert, "--key", srvKey, "--ca", ca.caFile()},
			tls: &tlsconf.ClientOptions{CAFile: ca.caFile(), CertFile: cliCert, KeyFile: cliKey}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := startNPMListener(t, node, tc.impl, tc.args...)
			cl := &Client{Addr: l.addr, Timeout: 10 * time.Second}
			if tc.tls != nil {
				cfg, err := tlsconf.ClientConfig(*tc.tls)
				if err != nil {
					t.Fatal(err)
				}
				cl.TLSConfig = cfg
			}
			defer cl.Close()
			start := time.Now()
			var answered []string // messages the npm server could not read: its AE, or an ACK without MSA-2
			for _, m := range msgs {
				want := field(mshFields(m.data), 10)
				ack, err := cl.Send(context.Background(), m.data)
				if err != nil {
					t.Fatalf("%s: %v\n%s", m.name, err, l.errb.String())
				}
				// What the server received, read with our own MSH reading,
				// must be this message: one ACK per message, in order.
				got := l.received(t)
				if rid := field(mshFields([]byte(got["message"])), 10); rid != want {
					t.Fatalf("%s: the server reports a message with control id %q, want %q", m.name, rid, want)
				}
				if code, id := ackCode(ack), ackControlID(ack); code != "AA" || id != want {
					answered = append(answered, fmt.Sprintf("%s (%s, MSA-2 %q)", m.name, code, id))
				}
				if !tc.persistent {
					cl.Close()
				}
			}
			if len(answered) > len(msgs)/10 {
				t.Errorf("%d of %d messages not acknowledged with AA for their control id: %v", len(answered), len(msgs), answered)
			}
			t.Logf("%d real messages delivered to %s in %v, each answered by one ACK, in order; AA for its MSH-10 but for %d the server's own HL7 parser could not read: %v",
				len(msgs), tc.name, time.Since(start).Round(time.Millisecond), len(answered), answered)
		})
	}
}
