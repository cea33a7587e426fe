package clinical

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/clinomics/clinomics/internal/extract"
)

// ExtractSink loads batch extracts (internal/extract) into the clinical
// database: patients by MRN and assigning authority, encounters by visit
// number, results under their order (by its number, as HL7 results without
// a placer number are). A record older than the stored one does not
// replace it. Encounters and results of an unknown patient create the
// patient from the MRN; a record whose keys are another patient's is
// refused (it goes to the reject file) and the rest of the batch loads.
type ExtractSink struct{ DB *DB }

var _ extract.Sink = ExtractSink{}

// Watermark implements extract.Sink.
func (s ExtractSink) Watermark(ctx context.Context, source string) (time.Time, error) {
	return s.DB.Watermark(ctx, source)
}

// load runs one batch: every record, then the watermark; any refused
// record rolls the batch back and is reported, for the loader to retry
// without it.
func load[T any](ctx context.Context, s ExtractSink, b *extract.Batch[T], one func(tx *Tx, r T) error) error {
	return loadAll(ctx, s, b.Source, b.Watermark, func(tx *Tx) ([]error, error) {
		errs := make([]error, len(b.Records))
		for i, r := range b.Records {
			err := one(tx, r)
			switch {
			case errors.Is(err, ErrConflict) || errors.Is(err, ErrNoIdentifier):
				errs[i] = err
			case err != nil:
				return nil, err
			}
		}
		return errs, nil
	})
}

// loadAll runs a batch stored by all, which returns each record's refusal
// (ErrConflict, ErrNoIdentifier) or nil, then moves the watermark; any
// refused record rolls the batch back and is reported, for the loader to
// retry without it.
func loadAll(ctx context.Context, s ExtractSink, source string, watermark time.Time, all func(tx *Tx) ([]error, error)) error {
	var refused []error
	err := s.DB.Update(ctx, func(tx *Tx) error {
		refused = refused[:0]
		errs, err := all(tx)
		if err != nil {
			return err
		}
		for i, err := range errs {
			if err != nil {
				refused = append(refused, &extract.RecordError{Index: i, Reason: publicReason(err)})
			}
		}
		if len(refused) > 0 {
			return errRefused
		}
		if !watermark.IsZero() {
			return tx.tx.PutWatermark(ctx, source, watermark)
		}
		return nil
	})
	if errors.Is(err, errRefused) {
		return errors.Join(refused...)
	}
	return err
}

var errRefused = errors.New("records refused")

func publicReason(err error) string {
	if errors.Is(err, ErrConflict) {
		return "its identifiers or numbers belong to another patient"
	}
	return "no patient identifier"
}

func mrnOf(mrn, authority string) Identifier {
	return Identifier{Value: mrn, Authority: authority, Type: "MR"}
}

// patientFor finds the patient of an MRN, making one when it is unknown.
func (tx *Tx) patientFor(id Identifier) (string, error) {
	pid, err := tx.FindPatient([]Identifier{id})
	if errors.Is(err, ErrNotFound) {
		return tx.UpsertPatient(Patient{Identifiers: []Identifier{id}})
	}
	return pid, err
}

// UpsertPatients implements extract.Sink: the batch's identifiers are
// looked up, its demographics sealed and written in a few statements
// (Tx.UpsertPatients).
func (s ExtractSink) UpsertPatients(ctx context.Context, b *extract.Batch[extract.Patient]) error {
	ps := make([]Patient, len(b.Records))
	for i, r := range b.Records {
		ps[i] = Patient{Identifiers: []Identifier{mrnOf(r.MRN, r.AssigningAuthority)},
			Family: r.FamilyName, Given: r.GivenName, BirthDate: hl7Date(r.BirthDate), Sex: r.Sex, AsOf: r.UpdatedAt}
	}
	return loadAll(ctx, s, b.Source, b.Watermark, func(tx *Tx) ([]error, error) {
		_, errs, err := tx.UpsertPatients(ps)
		return errs, err
	})
}

// UpsertEncounters implements extract.Sink.
func (s ExtractSink) UpsertEncounters(ctx context.Context, b *extract.Batch[extract.Encounter]) error {
	return load(ctx, s, b, func(tx *Tx, r extract.Encounter) error {
		pid, err := tx.patientFor(mrnOf(r.MRN, r.AssigningAuthority))
		if err != nil {
			return err
		}
		status := "admitted"
		if !r.Discharge.IsZero() {
			status = "discharged"
		}
		_, err = tx.UpsertEncounter(pid, Encounter{VisitNumber: r.VisitNumber, VisitIssuer: r.AssigningAuthority, Class: r.Class,
			Location: r.Location, Admit: hl7Time(r.Admit), Discharge: hl7Time(r.Discharge), Status: status, AsOf: r.UpdatedAt})
		return err
	})
}

// UpsertResults implements extract.Sink.
func (s ExtractSink) UpsertResults(ctx context.Context, b *extract.Batch[extract.Result]) error {
	return load(ctx, s, b, func(tx *Tx, r extract.Result) error {
		pid, err := tx.patientFor(mrnOf(r.MRN, r.AssigningAuthority))
		if err != nil {
			return err
		}
		o, err := tx.OrderByPlacer(FillerIssuer, r.OrderNumber)
		oid := o.ID
		switch {
		case errors.Is(err, ErrNotFound):
			if oid, err = tx.UpsertOrder(pid, Order{PlacerNumber: r.OrderNumber, PlacerIssuer: FillerIssuer, FillerNumber: r.OrderNumber,
				Status: "completed", AsOf: r.UpdatedAt}); err != nil {
				return err
			}
		case err != nil:
			return err
		case o.PatientID != pid:
			return fmt.Errorf("%w: the order is another patient's", ErrConflict)
		}
		_, err = tx.UpsertResult(pid, oid, Result{Code: r.Code, CodeSystem: r.CodeSystem, Display: r.Display, ValueType: r.ValueType,
			Value: r.Value, Units: r.Units, Status: r.Status, Observed: hl7Time(r.Observed), AsOf: r.UpdatedAt})
		return err
	})
}

// hl7Date writes a date with its precision as HL7 does (YYYY[MM[DD]]).
func hl7Date(d extract.Date) string {
	switch d.Precision {
	case extract.PrecisionYear:
		return fmt.Sprintf("%04d", d.Year)
	case extract.PrecisionMonth:
		return fmt.Sprintf("%04d%02d", d.Year, int(d.Month))
	case extract.PrecisionDay:
		return fmt.Sprintf("%04d%02d%02d", d.Year, int(d.Month), d.Day)
	}
	return ""
}

func hl7Time(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("20060102150405+0000")
}
