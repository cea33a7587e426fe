package oru

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/outbox"
	"github.com/clinomics/clinomics/internal/report"
)

// Kind is the outbox kind of the queued messages.
const Kind = "hl7"

// ItemID is the outbox id of report r's ORU on destination: one per
// report and destination, so queueing a report twice fails at the
// catalog instead of sending it twice.
func ItemID(r report.Report, destination string) string {
	h := sha256.Sum256([]byte(destination))
	return "oru-" + r.ID + "-" + hex.EncodeToString(h[:4])
}

// NewControlID returns a random MSH-10 (20 hex digits, v2.5.1's limit).
func NewControlID() string {
	b := make([]byte, maxControlID/2)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// payload builds the message bytes, with a new control id when opt has
// none.
func payload(r report.Report, opt Options) ([]byte, error) {
	if opt.ControlID == "" {
		opt.ControlID = NewControlID()
	}
	m, err := ORU(r, opt)
	if err != nil {
		return nil, err
	}
	return m.Bytes(), nil
}

// Enqueue builds the ORU^R01 of the signed report r and stores it durably
// on q, the HL7 outbound feed's queue (hl7.outbound), which delivers it
// over MLLP in order and retries until acknowledged. An empty
// opt.ControlID is made with NewControlID. Nothing is queued when the
// message cannot be built; queueing the same report twice on one queue
// fails (see ItemID).
func Enqueue(ctx context.Context, q *outbox.Queue, r report.Report, opt Options) error {
	b, err := payload(r, opt)
	if err != nil {
		return err
	}
	defer clear(b)
	if _, err := q.Enqueue(ctx, ItemID(r, q.Destination), Kind, r.Patient.ID, b); err != nil {
		return fmt.Errorf("oru: queueing report %s: %w", r.ID, err)
	}
	return nil
}

// OnSigned returns the hook for report.Options.Hooks: run inside the
// transaction that signs a report, it puts the report's ORU^R01 on q's
// destination through that transaction's Enqueuer (sealed with q.Sealer,
// as q.Enqueue does), so the message is queued if and only if the
// signing commits. It never touches the network. Each message gets a new control id; opt's envelope is used
// otherwise, with the PDF rendering when pdf is not nil. q.Run, polling,
// delivers it.
func OnSigned(q *outbox.Queue, opt Options, pdf func(context.Context, report.Report) ([]byte, error)) report.SignedHook {
	return func(ctx context.Context, tx report.Enqueuer, r report.Report) error {
		o := opt
		o.ControlID = ""
		if pdf != nil {
			doc, err := pdf(ctx, r)
			if err != nil {
				return fmt.Errorf("oru: rendering report %s: %w", r.ID, err)
			}
			o.PDF = doc
		}
		b, err := payload(r, o)
		if errors.Is(err, ErrMissing) {
			// The report lacks what the message needs: refuse the signing
			// saying what (HTTP 400), not as an internal error.
			return &report.FieldError{Field: "HL7 ORU^R01", Problem: strings.TrimPrefix(err.Error(), "oru: ")}
		}
		if err != nil {
			return err
		}
		defer clear(b)
		id := ItemID(r, q.Destination)
		sealed, err := q.Sealer.Seal("outbox", id, b)
		if err != nil {
			return fmt.Errorf("oru: sealing report %s's message: %w", r.ID, err)
		}
		_, err = tx.PutOutbox(ctx, catalog.OutboxItem{ID: id, Destination: q.Destination, Kind: Kind, PatientID: r.Patient.ID, Sealed: sealed})
		if err != nil {
			return fmt.Errorf("oru: queueing report %s: %w", r.ID, err)
		}
		return nil
	}
}
