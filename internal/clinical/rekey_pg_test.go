package clinical_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/clinical"
	"github.com/clinomics/clinomics/internal/keys"
	"github.com/clinomics/clinomics/internal/testtools"
)

// On PostgreSQL, whose transactions run side by side, a re-key waits for
// the transactions using the old keys (and they for it): a patient
// written by a transaction in flight is re-keyed with the rest, never
// left under keys nothing finds; the process still holding the old
// names is refused afterwards.
func TestRekeyWaitsForTransactionsPostgreSQL(t *testing.T) {
	dsn := testtools.PostgresSchema(t, "rekey")
	ctx := context.Background()
	open := func() catalog.Store {
		st, err := catalog.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	kr, err := keys.OpenLocal(filepath.Join(t.TempDir(), "keyring"), "test")
	if err != nil {
		t.Fatal(err)
	}
	db1, err := clinical.Open(ctx, open(), kr)
	if err != nil {
		t.Fatal(err)
	}
	inTx, release, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- db1.Update(ctx, func(tx *clinical.Tx) error {
			close(inTx)
			<-release
			_, err := tx.UpsertPatient(clinical.Patient{Identifiers: []clinical.Identifier{id("urn:oid:1.2.3", "", "9")}, AsOf: t0})
			return err
		})
	}()
	<-inTx
	type opened struct {
		db  *clinical.DB
		err error
	}
	rekeyed := make(chan opened, 1)
	go func() {
		db, err := clinical.Open(ctx, open(), kr, clinical.Authorities(map[string][]string{"HOSP": {"urn:oid:1.2.3"}}), clinical.Rekey())
		rekeyed <- opened{db, err}
	}()
	waited := true
	select {
	case <-rekeyed:
		waited = false
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	if err := <-done; err != nil && waited {
		t.Fatalf("the transaction in flight: %v", err)
	}
	if !waited {
		t.Fatal("the re-key did not wait for the transaction in flight")
	}
	o := <-rekeyed
	if o.err != nil {
		t.Fatal(o.err)
	}
	if _, err := o.db.FindPatient(ctx, []clinical.Identifier{id("HOSP", "", "9")}); err != nil {
		t.Fatalf("the patient written during the re-key is not found under the new names: %v", err)
	}
	err = db1.Update(ctx, func(tx *clinical.Tx) error { return nil })
	if !errors.Is(err, clinical.ErrOtherScheme) {
		t.Fatalf("the process with the old names: %v", err)
	}
}
