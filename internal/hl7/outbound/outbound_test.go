package outbound

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/clinomics/clinomics/internal/hl7"
	"github.com/clinomics/clinomics/internal/hl7/mllp"
	"github.com/clinomics/clinomics/internal/outbox"
)

const oru = "MSH|^~\\&|CLINOMICS|LAB|EPIC|HOSP|20260310090000||ORU^R01^ORU_R01|OUT1|P|2.5.1\r" +
	"PID|1||MRN100^^^HOSP^MR||Quill^Zora||19700101|F\r" +
	"OBR|1|PO-77^EPIC|F-1^LIS|81247-9^Master HL7 genetic variant reporting panel^LN\r"

// TestSendNegativeACKs: what the outbox records of a destination's
// answer. The ACKs are as receivers write them (v2.5 ERR-2/ERR-3, v2.3
// ERR-1 and MSA-6, HAPI's ERR-8 and MSA-3 text that echo values); the
// error names the code and what the ERR segments tell by code and
// position, never the destination's text, and has no empty parts.
func TestSendNegativeACKs(t *testing.T) {
	const msh = "MSH|^~\\&|EPIC|HOSP|CLINOMICS|LAB|20260310090001||ACK^R01^ACK|A1|P|2.5.1\r"
	cases := []struct {
		name, ack string
		want      string
		refused   bool
	}{
		{"AE without ERR", msh + "MSA|AE|OUT1\r", "the destination answered AE", false},
		{"AE with MSA-3 text only", msh + "MSA|AE|OUT1|Patient Quill not found\r", "the destination answered AE", false},
		{"AE with ERR-3 and ERR-2", msh + "MSA|AE|OUT1\rERR||PID^1^3|204^Unknown key identifier^HL70357|E||||No patient MRN100\r",
			"the destination answered AE (HL7 error 204 Unknown key identifier at PID-3)", false},
		{"CE, two ERR", msh + "MSA|CE|OUT1\rERR||OBX^2^5|102^Data type error^HL70357|E\rERR||OBR^1^4|103|E\r",
			"the destination answered CE (HL7 error 102 Data type error at OBX[2]-5; HL7 error 103 Table value not found at OBR-4)", false},
		{"v2.3 ERR-1", "MSH|^~\\&|EPIC|HOSP|CLINOMICS|LAB|20260310090001||ACK^R01|A1|P|2.3\rMSA|AE|OUT1|Bad MRN100\rERR|PID^1^3^101&Required field missing&HL70357\r",
			"the destination answered AE (HL7 error 101 Required field missing at PID-3)", false},
		{"MSA-6 only", "MSH|^~\\&|EPIC|HOSP|CLINOMICS|LAB|20260310090001||ACK^R01|A1|P|2.3\rMSA|AE|OUT1||||207^Application internal error\r",
			"the destination answered AE (error condition 207)", false},
		{"ERR with only a location", msh + "MSA|AE|OUT1\rERR||PV1^1^19\r", "the destination answered AE (an error at PV1-19)", false},
		{"ERR code with text in it", msh + "MSA|AE|OUT1\rERR|||Quill Zora|E\r", "the destination answered AE", false},
		{"AR without ERR", msh + "MSA|AR|OUT1\r", "refused by the destination: AR", true},
		{"CR with ERR", msh + "MSA|CR|OUT1\rERR||MSH^1^9|200^Unsupported message type^HL70357|E\r",
			"refused by the destination: CR (HL7 error 200 Unsupported message type at MSH-9)", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			addr := destination(t, c.ack)
			s := &Sender{Client: &mllp.Client{Addr: addr}}
			defer s.Client.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := s.Send(ctx, []byte(oru))
			if err == nil {
				t.Fatal("delivered")
			}
			if err.Error() != c.want || errors.Is(err, outbox.ErrRefused) != c.refused {
				t.Errorf("error %q (refused %v), want %q (refused %v)", err, errors.Is(err, outbox.ErrRefused), c.want, c.refused)
			}
			for _, v := range []string{"Quill", "MRN100", "Patient"} {
				if strings.Contains(err.Error(), v) {
					t.Errorf("the error holds the destination's text %q", v)
				}
			}
		})
	}
}

// destination is an MLLP receiver that answers every message with ack.
func destination(t *testing.T, ack string) string {
	t.Helper()
	if _, err := hl7.Parse([]byte(ack)); err != nil {
		t.Fatalf("test ACK: %v", err)
	}
	srv := &mllp.Server{Handler: mllp.HandlerFunc(func(context.Context, mllp.Peer, []byte) []byte { return []byte(ack) })}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return ln.Addr().String()
}
