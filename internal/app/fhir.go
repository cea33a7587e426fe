package app

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/clinical"
	"github.com/clinomics/clinomics/internal/fhir/ehr"
	"github.com/clinomics/clinomics/internal/fhir/server"
)

// FHIRStore is the platform's own FHIR store (sealed, in the catalog) and
// what writes to it: ServiceRequests posted to the API, and the Bundles
// of signed reports.
type FHIRStore struct {
	Store *server.SealedStore
	db    *clinical.DB
	now   func() time.Time
}

// NewFHIRStore is the sealed FHIR store over the catalog, its resources
// sealed and its search tokens hashed under the clinical database's keys.
func NewFHIRStore(st catalog.Store, db *clinical.DB) *FHIRStore {
	return &FHIRStore{Store: server.NewSealed(st, db), db: db, now: time.Now}
}

// AcceptServiceRequest implements httpapi.OrderAcceptor: the order and
// its patient go into the clinical database (audited, by actor), then
// the ServiceRequest and its patient into the FHIR store. The second step
// is a transaction of its own: when it fails the order stands, and the
// client's retry (the same placer number finds the same order) puts it.
func (f *FHIRStore) AcceptServiceRequest(ctx context.Context, sr []byte, actor string) (server.Record, error) {
	a, err := ehr.Accept(ctx, f.db, sr, actor)
	if errors.Is(err, clinical.ErrConflict) {
		return server.Record{}, &server.Error{Status: http.StatusConflict, Code: "conflict",
			Public: "the order or its patient's identifiers belong to another patient here; it needs a person to sort out", Cause: err}
	}
	if err != nil {
		return server.Record{}, err
	}
	return ehr.PutAccepted(ctx, f.Store, a, sr, f.now())
}

// PutBundle puts the resources of a signed report's transaction Bundle
// into the store (server.PutBundle): what the report-signing hook calls.
// patientID is the report's pseudonymous patient id, the id a Patient the
// Bundle creates gets.
func (f *FHIRStore) PutBundle(ctx context.Context, bundle []byte, patientID string) error {
	_, err := server.PutBundle(ctx, f.Store, f.now(), bundle, patientID)
	return err
}
