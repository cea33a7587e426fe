package ehr

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/outbox"
)

// DestinationPrefix starts the outbox destination of every EHR's FHIR
// queue: "fhir:" + the EHR's base URL.
const DestinationPrefix = "fhir:"

// Destination is the outbox destination of bundles for the EHR at base.
func Destination(base string) string { return DestinationPrefix + base }

// Sender delivers queued transaction bundles (outbox.Sender): a refusal
// (4xx) wraps outbox.ErrRefused, so it is dead-lettered at once with the
// EHR's OperationOutcome text; anything retryable is retried.
type Sender struct {
	Client *Client
	// Delivered, when set, is told what the EHR created for each bundle
	// delivered (for the audit trail).
	Delivered func(ctx context.Context, res *TransactionResult)
}

var _ outbox.Sender = (*Sender)(nil)

// Send implements outbox.Sender.
func (s *Sender) Send(ctx context.Context, payload []byte) error {
	res, err := s.Client.SendTransaction(ctx, payload)
	var de *DeliveryError
	if errors.As(err, &de) && !de.Retryable {
		return fmt.Errorf("%w: %w", outbox.ErrRefused, err)
	}
	if err != nil {
		return err
	}
	if s.Delivered != nil {
		s.Delivered(ctx, res)
	}
	return nil
}

// Enqueue checks that bundle is a transaction Bundle and puts it on q for
// delivery; it returns once the bundle is durably queued. patientID is
// the pseudonymous id of the patient the bundle is about ("" if none).
func Enqueue(ctx context.Context, q *outbox.Queue, patientID string, bundle []byte) (catalog.OutboxItem, error) {
	if err := CheckTransaction(bundle); err != nil {
		return catalog.OutboxItem{}, err
	}
	b := make([]byte, 10)
	if _, err := rand.Read(b); err != nil {
		return catalog.OutboxItem{}, err
	}
	return q.Enqueue(ctx, "f"+hex.EncodeToString(b), BundleKind, patientID, bundle)
}
