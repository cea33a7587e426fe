package mllp_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"time"

	"github.com/clinomics/clinomics/internal/hl7/mllp"
)

// A server whose handler answers every message, and a client sending one.
// A real handler stores the message durably before it returns its ACK.
func Example() {
	srv := &mllp.Server{
		Handler: mllp.HandlerFunc(func(ctx context.Context, peer mllp.Peer, msg []byte) []byte {
			return []byte("MSH|^~\\&|CLINOMICS|LAB|||20240501120000||ACK|A1|P|2.5.1\rMSA|AA|1\r")
		}),
		ReadTimeout: 30 * time.Second,
		IdleTimeout: 15 * time.Minute,
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())

	cl := &mllp.Client{Addr: ln.Addr().String(), Timeout: 10 * time.Second}
	defer cl.Close()
	ack, err := cl.Send(context.Background(), []byte("MSH|^~\\&|EPIC|HOSP|CLINOMICS|LAB|20240501120000||ADT^A01|1|P|2.5.1\rPID|1\r"))
	if err != nil {
		panic(err)
	}
	_, msa, _ := bytes.Cut(ack, []byte("\r"))
	fmt.Printf("%q\n", msa)
	// Output: "MSA|AA|1\r"
}
