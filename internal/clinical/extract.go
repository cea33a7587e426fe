package clinical

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/extract"
)

// ExtractSink loads batch extracts (internal/extract) into the clinical
// database: patients by MRN and assigning authority, encounters by visit
// number, results under their order (by its number, as HL7 results without
// a placer number are). A record older than the stored one does not
// replace it. Encounters and results of an unknown patient create the
// patient from the MRN; a record whose keys are another patient's is
// refused (it goes to the reject file) and the rest of the batch loads.
//
// Each kind is stored a batch at a time: the batch's patients, orders and
// records are looked up and written in a few statements each. As an
// extract.Preparer it hashes and seals a batch on the loader's reading
// goroutine, before the transaction, so that the writer does little but
// the database's own work.
type ExtractSink struct{ DB *DB }

var (
	_ extract.Sink     = ExtractSink{}
	_ extract.Preparer = ExtractSink{}
)

// Watermark implements extract.Sink.
func (s ExtractSink) Watermark(ctx context.Context, source string) (time.Time, error) {
	return s.DB.Watermark(ctx, source)
}

// loadAll runs a batch stored by all, which returns each record's refusal
// (ErrConflict, ErrNoIdentifier, errNoVisitNumber) or nil, then moves the watermark; any
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
	switch {
	case errors.Is(err, ErrConflict):
		return "its identifiers or numbers belong to another patient"
	case errors.Is(err, errNoVisitNumber):
		return "no visit number"
	}
	return "no patient identifier"
}

func mrnOf(mrn, authority string) Identifier {
	return Identifier{Value: mrn, Authority: authority, Type: "MR"}
}

// patientsOf finds the patient of each MRN (ids[i], whose keyed hash is
// hashes[i]), following merges, in a few statements; the MRNs no patient
// holds make new patients, as an HL7 message of an unknown patient does.
// errs[i] is ids[i]'s refusal (ErrNoIdentifier).
func (tx *Tx) patientsOf(ids []Identifier, hashes []string) (pids []string, errs []error, err error) {
	n := len(ids)
	pids, errs = make([]string, n), make([]error, n)
	first := make(map[string]int, n) // the first record of each MRN
	var uniq []string
	for i, id := range ids {
		if id.Value == "" {
			errs[i] = ErrNoIdentifier
			continue
		}
		if _, ok := first[hashes[i]]; !ok {
			first[hashes[i]] = i
			uniq = append(uniq, hashes[i])
		}
	}
	if len(uniq) == 0 {
		return pids, errs, nil
	}
	slices.Sort(uniq) // the index is read in key order
	found, err := tx.tx.PatientsByIdentifiers(tx.ctx, uniq)
	if err != nil {
		return nil, nil, err
	}
	rows, err := tx.patientRows(slices.Collect(maps.Values(found)))
	if err != nil {
		return nil, nil, err
	}
	of := make(map[string]string, len(uniq)) // hash -> patient
	var drafts []PatientDraft
	var fresh []string
	for _, h := range uniq {
		pid, ok := found[h]
		if !ok {
			drafts = append(drafts, PatientDraft{Patient: Patient{Identifiers: []Identifier{ids[first[h]]}}, hashes: []string{h}})
			fresh = append(fresh, h)
			continue
		}
		for range 32 {
			if next := rows[pid].MergedInto; next != "" {
				pid = next
			}
		}
		if rows[pid].MergedInto != "" {
			return nil, nil, fmt.Errorf("clinical: patient %s: merge chain too long", pid)
		}
		of[h] = pid
	}
	if len(drafts) > 0 {
		made, merrs, err := tx.upsertPatients(drafts)
		if err != nil {
			return nil, nil, err
		}
		for k, h := range fresh {
			if merrs[k] != nil {
				return nil, nil, merrs[k] // one identifier, known to no patient: no refusal is possible
			}
			of[h] = made[k]
		}
	}
	for i := range ids {
		if errs[i] == nil {
			pids[i] = of[hashes[i]]
		}
	}
	return pids, errs, nil
}

// mrnHashes are the keyed hashes of the records' MRNs.
func (d *DB) mrnHashes(n int, mrn func(i int) Identifier) ([]Identifier, []string) {
	ids, hs := make([]Identifier, n), make([]string, n)
	parallel(n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			ids[i] = mrn(i)
			hs[i] = d.idHash(ids[i])
		}
	})
	return ids, hs
}

// PreparePatients implements extract.Preparer: the records mapped, their
// MRNs hashed and their demographics sealed for the case they are new
// patients, outside the transaction (drafts, as DB.DraftPatient makes).
func (s ExtractSink) PreparePatients(rs []extract.Patient) any {
	ds := make([]PatientDraft, len(rs))
	for i, r := range rs {
		p := patientOf(r)
		ds[i] = PatientDraft{Patient: p, hashes: s.DB.idHashes(p)}
	}
	// The random ids are handed out in the order of the MRNs' keyed
	// hashes, as Tx.UpsertPatients does: the new patients' rows, their
	// identifiers and the index of identifiers by patient are then all
	// written in key order.
	ids := keyOrderedIDs("p", len(rs), func(i int) string { return ds[i].hashes[0] })
	for i := range ds {
		d := &ds[i]
		d.id = ids[i]
		var err error
		if d.sealed, err = s.DB.seal("patient", d.id, s.DB.auth.mergePatient(Patient{}, d.Patient)); err != nil {
			return nil // the transaction does it
		}
	}
	return ds
}

func patientOf(r extract.Patient) Patient {
	return Patient{Identifiers: []Identifier{mrnOf(r.MRN, r.AssigningAuthority)},
		Family: r.FamilyName, Given: r.GivenName, BirthDate: hl7Date(r.BirthDate), Sex: r.Sex, AsOf: r.UpdatedAt, Clear: r.Clear}
}

// UpsertPatients implements extract.Sink: the batch's identifiers are
// looked up, its demographics sealed and written in a few statements
// (Tx.UpsertPatients, or Tx.UpsertPatientDrafts when PreparePatients
// made them ready).
func (s ExtractSink) UpsertPatients(ctx context.Context, b *extract.Batch[extract.Patient]) error {
	if ds, ok := b.Prepared.([]PatientDraft); ok && len(ds) == len(b.Records) {
		return loadAll(ctx, s, b.Source, b.Watermark, func(tx *Tx) ([]error, error) {
			_, errs, err := tx.UpsertPatientDrafts(ds)
			return errs, err
		})
	}
	ps := make([]Patient, len(b.Records))
	for i, r := range b.Records {
		ps[i] = patientOf(r)
	}
	return loadAll(ctx, s, b.Source, b.Watermark, func(tx *Tx) ([]error, error) {
		_, errs, err := tx.UpsertPatients(ps)
		return errs, err
	})
}

// preparedEncounters is what PrepareEncounters makes of a batch.
type preparedEncounters struct {
	mrns   []Identifier
	hashes []string // of mrns
	drafts []EncounterDraft
}

// PrepareEncounters implements extract.Preparer: the MRNs and visit
// numbers hashed, the visits sealed for the case they are new.
func (s ExtractSink) PrepareEncounters(rs []extract.Encounter) any {
	p := preparedEncounters{drafts: make([]EncounterDraft, len(rs))}
	p.mrns, p.hashes = s.DB.mrnHashes(len(rs), func(i int) Identifier { return mrnOf(rs[i].MRN, rs[i].AssigningAuthority) })
	for i, r := range rs {
		e := encounterOf(r)
		p.drafts[i] = EncounterDraft{Encounter: e, key: s.DB.encounterKey(e)}
	}
	// The random ids are handed out in the order of the visit numbers'
	// keyed hashes: the new visits are then written in key order in the
	// table's two unique indexes (by id and by key), and each multi-row
	// insert touches a few neighbouring pages of each, not one page a row.
	ids := keyOrderedIDs("e", len(rs), func(i int) string { return p.drafts[i].key })
	for i := range p.drafts {
		d := &p.drafts[i]
		d.id = ids[i]
		var err error
		if d.sealed, err = s.DB.seal("encounter", d.id, updateEncounter(Encounter{}, d.Encounter)); err != nil { // as DraftEncounter
			return nil
		}
	}
	return p
}

// encounterOf is the visit of an extract row. Its status follows its
// discharge time: discharged when the row gives one, admitted when the
// row clears it (empty: clear); a row that leaves it empty under
// empty: keep leaves a stored visit's status alone, as its discharge
// time, and a new visit is admitted.
func encounterOf(r extract.Encounter) Encounter {
	e := Encounter{VisitNumber: r.VisitNumber, VisitIssuer: r.AssigningAuthority, Class: r.Class,
		Location: r.Location, Admit: hl7Time(r.Admit), Discharge: hl7Time(r.Discharge), AsOf: r.UpdatedAt, Clear: r.Clear,
		StatusIfNew: "admitted"}
	switch {
	case !r.Discharge.IsZero():
		e.Status = "discharged"
	case slices.Contains(r.Clear, "discharge"):
		e.Status = "admitted"
	}
	return e
}

// UpsertEncounters implements extract.Sink: the batch's patients are
// found (or made) with one lookup, its visits looked up and written in a
// few statements (Tx.UpsertEncounters).
func (s ExtractSink) UpsertEncounters(ctx context.Context, b *extract.Batch[extract.Encounter]) error {
	p, ok := b.Prepared.(preparedEncounters)
	if !ok || len(p.drafts) != len(b.Records) {
		rs := b.Records
		p.mrns, p.hashes = s.DB.mrnHashes(len(rs), func(i int) Identifier { return mrnOf(rs[i].MRN, rs[i].AssigningAuthority) })
		p.drafts = make([]EncounterDraft, len(rs))
		for i, r := range rs {
			p.drafts[i] = EncounterDraft{Encounter: encounterOf(r)}
		}
	}
	return loadAll(ctx, s, b.Source, b.Watermark, func(tx *Tx) ([]error, error) {
		pids, errs, err := tx.patientsOf(p.mrns, p.hashes)
		if err != nil {
			return nil, err
		}
		var which []int
		var ps []string
		var ds []EncounterDraft
		for i := range pids {
			if errs[i] == nil {
				which, ps, ds = append(which, i), append(ps, pids[i]), append(ds, p.drafts[i])
			}
		}
		_, eerrs, err := tx.UpsertEncounters(ps, ds)
		if err != nil {
			return nil, err
		}
		for k, i := range which {
			errs[i] = eerrs[k]
		}
		return errs, nil
	})
}

// preparedResults is what PrepareResults makes of a batch.
type preparedResults struct {
	mrns      []Identifier
	hashes    []string // of mrns
	orderKeys []string // keyed hashes of the order numbers
	drafts    []ResultDraft
}

// PrepareResults implements extract.Preparer: the MRNs and order numbers
// hashed, the results sealed for the case they are new.
func (s ExtractSink) PrepareResults(rs []extract.Result) any {
	p := s.DB.resultKeys(rs)
	for i, r := range rs {
		var err error
		if p.drafts[i], err = s.DB.DraftResult(resultOf(r)); err != nil {
			return nil
		}
	}
	return p
}

func (d *DB) resultKeys(rs []extract.Result) preparedResults {
	p := preparedResults{orderKeys: make([]string, len(rs)), drafts: make([]ResultDraft, len(rs))}
	p.mrns, p.hashes = d.mrnHashes(len(rs), func(i int) Identifier { return mrnOf(rs[i].MRN, rs[i].AssigningAuthority) })
	for i, r := range rs {
		p.orderKeys[i] = d.orderKey(FillerIssuer, r.OrderNumber)
	}
	return p
}

func resultOf(r extract.Result) Result {
	return Result{Code: r.Code, CodeSystem: r.CodeSystem, Display: r.Display, ValueType: r.ValueType,
		Value: r.Value, Units: r.Units, ReferenceRange: r.ReferenceRange, Abnormal: r.AbnormalFlag, Status: r.Status,
		Observed: hl7Time(r.Observed), AsOf: r.UpdatedAt}
}

// UpsertResults implements extract.Sink: the batch's patients are found
// (or made) with one lookup, its orders with another (an order not yet
// known is made by its first result, for that result's patient; a result
// whose order is another patient's is refused), and its results looked
// up and written in a few statements (Tx.UpsertResults).
func (s ExtractSink) UpsertResults(ctx context.Context, b *extract.Batch[extract.Result]) error {
	p, ok := b.Prepared.(preparedResults)
	if !ok || len(p.drafts) != len(b.Records) {
		p = s.DB.resultKeys(b.Records)
		for i, r := range b.Records {
			p.drafts[i] = ResultDraft{Result: resultOf(r)}
		}
	}
	return loadAll(ctx, s, b.Source, b.Watermark, func(tx *Tx) ([]error, error) {
		pids, errs, err := tx.patientsOf(p.mrns, p.hashes)
		if err != nil {
			return nil, err
		}
		oids, err := tx.extractOrders(b.Records, pids, p.orderKeys, errs)
		if err != nil {
			return nil, err
		}
		var which []int
		var ps, ors []string
		var ds []ResultDraft
		for i := range pids {
			if errs[i] == nil {
				which, ps, ors, ds = append(which, i), append(ps, pids[i]), append(ors, oids[i]), append(ds, p.drafts[i])
			}
		}
		_, rerrs, err := tx.UpsertResults(ps, ors, ds)
		if err != nil {
			return nil, err
		}
		for k, i := range which {
			errs[i] = rerrs[k]
		}
		return errs, nil
	})
}

// extractOrders finds the order of each result by its number (keys[i],
// the keyed hash), in one lookup, and makes the orders not yet known, as
// the first result of each in the batch finds them one at a time: for
// that result's patient, completed. A result whose order is another
// patient's is refused in errs. Records already refused are left out.
func (tx *Tx) extractOrders(rs []extract.Result, pids, keys []string, errs []error) ([]string, error) {
	var want []string
	seen := make(map[string]bool, len(rs))
	for i, k := range keys {
		if errs[i] == nil && !seen[k] {
			seen[k] = true
			want = append(want, k)
		}
	}
	slices.Sort(want)
	found, err := tx.tx.GetOrders(tx.ctx, want)
	if err != nil {
		return nil, err
	}
	type owned struct{ id, pid string }
	orders := make(map[string]owned, len(want))
	for k, o := range found {
		orders[k] = owned{o.ID, o.PatientID}
	}
	now := tx.d.now().UTC()
	var made []catalog.OrderRow // new orders, each made by its first result (rs[first[k]])
	var first []int
	oids := make([]string, len(rs))
	for i := range rs {
		if errs[i] != nil {
			continue
		}
		o, ok := orders[keys[i]]
		if !ok {
			o = owned{newID("o"), pids[i]}
			made = append(made, catalog.OrderRow{ID: o.id, PatientID: o.pid, KeyHash: keys[i], Status: "completed", Updated: now})
			first = append(first, i)
			orders[keys[i]] = o
		}
		if o.pid != pids[i] {
			errs[i] = fmt.Errorf("%w: the order is another patient's", ErrConflict)
			continue
		}
		oids[i] = o.id
	}
	failed := make([]error, len(made))
	parallel(len(made), func(lo, hi int) {
		for k := lo; k < hi; k++ {
			r := rs[first[k]]
			made[k].Sealed, failed[k] = tx.d.seal("order", made[k].ID, Order{PlacerNumber: r.OrderNumber, PlacerIssuer: FillerIssuer,
				FillerNumber: r.OrderNumber, Status: "completed", AsOf: r.UpdatedAt})
		}
	})
	if err := errors.Join(failed...); err != nil {
		return nil, err
	}
	made = sortedBy(made, func(r *catalog.OrderRow) string { return r.ID })
	if err := tx.tx.PutOrders(tx.ctx, made); err != nil {
		return nil, err
	}
	return oids, nil
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
