// Package outbound sends HL7 v2 messages (ORU^R01 results) to the EHR over
// MLLP through the outbox: a message is acknowledged as delivered only by
// AA or CA; AR and CR are refusals (dead-lettered at once); AE, CE, a
// lost connection or a timeout are retried.
package outbound

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/clinomics/clinomics/internal/hl7"
	"github.com/clinomics/clinomics/internal/hl7/mllp"
	"github.com/clinomics/clinomics/internal/outbox"
)

// Sender delivers over one MLLP connection.
type Sender struct {
	Client *mllp.Client
}

var _ outbox.Sender = (*Sender)(nil)

// Send implements outbox.Sender.
func (s *Sender) Send(ctx context.Context, payload []byte) error {
	msg, err := hl7.Parse(payload)
	if err != nil {
		return fmt.Errorf("%w: the queued message does not parse: %w", outbox.ErrRefused, err)
	}
	raw, err := s.Client.Send(ctx, payload)
	if err != nil {
		return err // connection trouble: retried
	}
	ack, err := hl7.Parse(raw)
	if err != nil {
		return fmt.Errorf("the destination's ACK does not parse: %w", err)
	}
	// An ACK for another message (a receiver that answers stale ACKs on a
	// reused connection) proves nothing: start a new connection and resend.
	if ack.Get("MSA-2") != msg.ControlID() {
		s.Client.Close()
		return fmt.Errorf("the destination acknowledged another message (MSA-2 is not this MSH-10)")
	}
	code := ack.Get("MSA-1")
	switch hl7.AckCode(code) {
	case hl7.AA, hl7.CA:
		return nil
	case hl7.AR, hl7.CR:
		return fmt.Errorf("%w: %s", outbox.ErrRefused, Describe(ack))
	}
	return fmt.Errorf("the destination answered %s", Describe(ack))
}

// Describe says what a negative ACK tells: its code (MSA-1) and, for each
// ERR, the HL7 error code (ERR-3, or ERR-1.4 before v2.5), its meaning
// in table 0357 and the location (ERR-2, or ERR-1); or, without ERR, the
// error condition of MSA-6. Text the destination wrote (MSA-3, ERR-8) is
// left out: it may echo the message, and this goes to the outbox's
// records and logs. Codes and locations are kept only when they are plain
// (letters, digits, a few marks), so nothing else of the ACK comes
// through: "AE (HL7 error 204 Unknown key identifier at PID-3)", or "AE"
// when it says no more.
func Describe(ack *hl7.Message) string {
	code := ack.Get("MSA-1")
	if !plain(code, 2) {
		code = "an unknown code"
	}
	var parts []string
	for _, e := range ack.All("ERR") {
		c, loc := e.Value("3.1").String(), location(e.Value("2"))
		// Before v2.5: ERR-1, segment^sequence^field^code&text.
		if c == "" {
			c = e.Value("1.4.1").String()
		}
		if loc == "" {
			loc = location(e.Value("1"))
		}
		if !plain(c, 10) {
			c = ""
		}
		var b strings.Builder
		if c != "" {
			b.WriteString("HL7 error " + c)
			if n, err := strconv.Atoi(c); err == nil && hl7.CodeText(n) != "" {
				b.WriteString(" " + hl7.CodeText(n))
			}
		}
		if loc != "" {
			if b.Len() == 0 {
				b.WriteString("an error")
			}
			b.WriteString(" at " + loc)
		}
		if b.Len() > 0 && !slices.Contains(parts, b.String()) {
			parts = append(parts, b.String())
		}
	}
	if len(parts) == 0 {
		if c := ack.Get("MSA-6"); plain(c, 10) && c != "" {
			parts = append(parts, "error condition "+c)
		}
	}
	if len(parts) == 0 {
		return code
	}
	return code + " (" + strings.Join(parts, "; ") + ")"
}

// location is an ERR-2 (or v2.4 ERR-1) location in path form, PID-3 or
// OBX[2]-5; "" when it has no plain segment ID.
func location(v hl7.Value) string {
	seg := v.Component(1).String()
	if len(seg) != 3 || !plain(seg, 3) {
		return ""
	}
	num := func(i int) int {
		n, err := strconv.Atoi(v.Component(i).String())
		if err != nil || n < 0 || n > 99999 {
			return 0
		}
		return n
	}
	return hl7.Location{Segment: seg, Sequence: num(2), Field: num(3)}.String()
}

// plain reports whether s is at most n letters, digits, '.', '-' or '_'.
func plain(s string, n int) bool {
	if len(s) > n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
