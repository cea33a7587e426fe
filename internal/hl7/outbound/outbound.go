// Package outbound sends HL7 v2 messages (ORU^R01 results) to the EHR over
// MLLP through the outbox: a message is acknowledged as delivered only by
// AA or CA; AR and CR are refusals (dead-lettered at once); AE, CE, a
// lost connection or a timeout are retried.
package outbound

import (
	"context"
	"fmt"

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
		return fmt.Errorf("%w: %s (HL7 error %s)", outbox.ErrRefused, code, ack.Get("ERR-3.1"))
	}
	// The destination's error text may echo the message: keep only codes.
	return fmt.Errorf("the destination answered %s (HL7 error %s)", code, ack.Get("ERR-3.1"))
}
