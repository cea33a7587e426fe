package clinical

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/clinomics/clinomics/internal/catalog"
)

// Identifier is a patient identifier (HL7 CX): an MRN at an assigning
// authority, of a type (MR, PI, SS...).
type Identifier struct {
	Value     string `json:"value"`
	Authority string `json:"authority,omitempty"`
	Type      string `json:"type,omitempty"`
}

// Patient is a patient's demographics. Dates are kept as the source gave
// them (HL7 DTM), with their precision.
type Patient struct {
	ID          string       `json:"-"`
	MergedInto  string       `json:"-"`
	Identifiers []Identifier `json:"identifiers"`
	Family      string       `json:"family,omitempty"`
	Given       string       `json:"given,omitempty"`
	Middle      string       `json:"middle,omitempty"`
	BirthDate   string       `json:"birth_date,omitempty"`
	Sex         string       `json:"sex,omitempty"`
	Deceased    string       `json:"deceased,omitempty"`
	// AsOf is when the source says these demographics were current (the
	// message time); older updates do not replace newer ones.
	AsOf time.Time `json:"as_of"`
	// Clear names the fields (by their JSON names) the source cleared
	// explicitly, as HL7's null "" does; an empty field keeps the stored
	// value (the update rule, at update in records.go). Not stored.
	Clear []string `json:"-"`
}

// Encounter is a visit (HL7 PV1).
type Encounter struct {
	ID          string    `json:"-"`
	PatientID   string    `json:"-"`
	VisitNumber string    `json:"visit_number"`
	VisitIssuer string    `json:"visit_issuer,omitempty"` // assigning authority of the visit number (PV1-19.4)
	Class       string    `json:"class,omitempty"`
	Location    string    `json:"location,omitempty"`
	Admit       string    `json:"admit,omitempty"`
	Discharge   string    `json:"discharge,omitempty"`
	Status      string    `json:"status,omitempty"` // admitted, discharged, registered
	AsOf        time.Time `json:"as_of"`
	Clear       []string  `json:"-"` // fields cleared explicitly, by JSON name (as Patient.Clear); not stored
	// StatusIfNew is the status of a visit this update stores for the
	// first time when it gives none (a batch extract's row without a
	// discharge time: admitted); a stored visit keeps its own. Not stored.
	StatusIfNew string `json:"-"`
}

// Order is a test order (HL7 ORC/OBR, FHIR ServiceRequest). Genetic test
// orders carry the lab's sample id, which links them to sequencing.
type Order struct {
	ID           string    `json:"-"`
	PatientID    string    `json:"-"`
	PlacerNumber string    `json:"placer_number"`
	PlacerIssuer string    `json:"placer_issuer,omitempty"` // issuer of the placer number: its namespace (EI-2, the placer application), else its universal id (EI-3)
	FillerNumber string    `json:"filler_number,omitempty"`
	Status       string    `json:"status"` // the catalog's copy is in the clear: new, in-progress, completed, cancelled
	Code         string    `json:"code,omitempty"`
	CodeSystem   string    `json:"code_system,omitempty"`
	Display      string    `json:"display,omitempty"`
	Genetic      bool      `json:"genetic,omitempty"`
	SampleID     string    `json:"sample_id,omitempty"`
	Specimen     string    `json:"specimen,omitempty"`      // specimen type code (HL7 SPM-4.1, before v2.5 OBR-15.1; table 0487: BLD, SAL ...)
	SpecimenType string    `json:"specimen_type,omitempty"` // the specimen type as text ("Whole blood"): SPM-4.2 (OBR-15.1.2), else its code
	Ordered      string    `json:"ordered,omitempty"`
	Orderer      string    `json:"orderer,omitempty"`
	AsOf         time.Time `json:"as_of"`
	Clear        []string  `json:"-"` // fields cleared explicitly, by JSON name (as Patient.Clear); not stored
}

// The update rule of patients, visits and orders (results replace as a
// whole): when a record not older than the stored one arrives, a field it
// gives replaces the stored value, a field it leaves empty keeps it (a
// message that does not send a field says nothing about it), and a field
// it names in Clear (by JSON name, e.g. "orderer"; HL7's null "") is
// emptied. A record older than the stored one changes nothing. Fields
// that are sent together are replaced together: a patient's name (family,
// given, middle), an order's code (code, code_system, display, and the
// genetic flag made from them) and its specimen (specimen,
// specimen_type). Keys and identifiers are not cleared: patient
// identifiers accumulate, and an order's sample id, which links
// sequencing runs to it, is kept once known.
//
// update is that rule for one field: next's value when it has one, ""
// when the field is in clear, else cur's.
func update(cur, next string, clear []string, name string) string {
	switch {
	case next != "":
		return next
	case slices.Contains(clear, name):
		return ""
	}
	return cur
}

// updates says whether next gives any of a group of fields sent together
// (then all of them replace the stored ones) or clears any of them.
func updates(clear []string, names []string, values ...string) (given, cleared bool) {
	for _, v := range values {
		if v != "" {
			return true, false
		}
	}
	for _, n := range names {
		if slices.Contains(clear, n) {
			return false, true
		}
	}
	return false, false
}

// updatePatient is the demographics stored when p, not older than cur,
// arrives for a patient stored as cur (the update rule); the
// identifiers are cur's.
func updatePatient(cur, p Patient) Patient {
	next := p
	next.ID, next.MergedInto, next.Clear = "", "", nil
	next.Identifiers = slices.Clone(cur.Identifiers)
	switch given, cleared := updates(p.Clear, []string{"family", "given", "middle"}, p.Family, p.Given, p.Middle); {
	case cleared:
		next.Family, next.Given, next.Middle = "", "", ""
	case !given:
		next.Family, next.Given, next.Middle = cur.Family, cur.Given, cur.Middle
	}
	next.BirthDate = update(cur.BirthDate, p.BirthDate, p.Clear, "birth_date")
	next.Sex = update(cur.Sex, p.Sex, p.Clear, "sex")
	next.Deceased = update(cur.Deceased, p.Deceased, p.Clear, "deceased")
	return next
}

// updateEncounter is the visit stored when e, not older than cur (zero
// for a new visit), arrives (the update rule).
func updateEncounter(cur, e Encounter) Encounter {
	next := e
	next.ID, next.PatientID, next.Clear, next.StatusIfNew = "", "", nil, ""
	if cur.VisitNumber != "" { // the key stays as first stored (the issuer may be another name of it)
		next.VisitNumber, next.VisitIssuer = cur.VisitNumber, cur.VisitIssuer
	}
	next.Class = update(cur.Class, e.Class, e.Clear, "class")
	next.Location = update(cur.Location, e.Location, e.Clear, "location")
	next.Admit = update(cur.Admit, e.Admit, e.Clear, "admit")
	next.Discharge = update(cur.Discharge, e.Discharge, e.Clear, "discharge")
	next.Status = update(cur.Status, e.Status, e.Clear, "status")
	if next.Status == "" && cur.VisitNumber == "" {
		next.Status = e.StatusIfNew
	}
	return next
}

// updateOrder is the order stored when o, not older than cur (zero for a
// new order), arrives (the update rule).
func updateOrder(cur, o Order) Order {
	next := o
	next.ID, next.PatientID, next.Clear = "", "", nil
	if cur.PlacerNumber != "" { // the key stays as first stored (the issuer may be another name of it)
		next.PlacerNumber, next.PlacerIssuer = cur.PlacerNumber, cur.PlacerIssuer
	}
	next.FillerNumber = update(cur.FillerNumber, o.FillerNumber, o.Clear, "filler_number")
	next.Status = update(cur.Status, o.Status, o.Clear, "status")
	if next.Status == "" { // a new order whose message gave no state
		next.Status = "new"
	}
	switch given, cleared := updates(o.Clear, []string{"code", "code_system", "display"}, o.Code, o.CodeSystem, o.Display); {
	case cleared:
		next.Code, next.CodeSystem, next.Display, next.Genetic = "", "", "", false
	case !given:
		next.Code, next.CodeSystem, next.Display, next.Genetic = cur.Code, cur.CodeSystem, cur.Display, cur.Genetic || o.Genetic
	}
	next.SampleID = update(cur.SampleID, o.SampleID, nil, "")
	switch given, cleared := updates(o.Clear, []string{"specimen", "specimen_type"}, o.Specimen, o.SpecimenType); {
	case cleared:
		next.Specimen, next.SpecimenType = "", ""
	case !given:
		next.Specimen, next.SpecimenType = cur.Specimen, cur.SpecimenType
	}
	next.Ordered = update(cur.Ordered, o.Ordered, o.Clear, "ordered")
	next.Orderer = update(cur.Orderer, o.Orderer, o.Clear, "orderer")
	return next
}

// Result is one observation (HL7 OBX) of an order.
type Result struct {
	ID         string `json:"-"`
	PatientID  string `json:"-"`
	OrderID    string `json:"-"`
	SetID      string `json:"set_id"`
	Code       string `json:"code"`
	CodeSystem string `json:"code_system,omitempty"`
	Display    string `json:"display,omitempty"`
	SubID      string `json:"sub_id,omitempty"`
	ValueType  string `json:"value_type,omitempty"`
	Value      string `json:"value,omitempty"`
	Units      string `json:"units,omitempty"`
	// ReferenceRange as the lab wrote it (OBX-7), e.g. "3.5-5.1".
	ReferenceRange string `json:"reference_range,omitempty"`
	// Abnormal is the interpretation flags (OBX-8, HL7 table 0078: H, L,
	// A, ...), repetitions joined by "~", as the lab wrote them.
	Abnormal string    `json:"abnormal,omitempty"`
	Status   string    `json:"status,omitempty"`
	Observed string    `json:"observed,omitempty"`
	AsOf     time.Time `json:"as_of"`
}

// FillerIssuer stands as an order's placer issuer when only its filler
// (accession) number is known: results by HL7 without a placer number and
// extract rows keyed by the lab's order number find the same order.
const FillerIssuer = "filler"

// ErrNoIdentifier: a patient record without any identifier.
var ErrNoIdentifier = errors.New("patient has no identifier")

// ErrConflict: the record's identifiers or business key belong to another
// patient. Only a merge (A40) moves identifiers or records between
// patients; anything else is refused for a person to sort out.
var ErrConflict = errors.New("identifiers belong to another patient")

// FindPatient returns the id of the patient holding any of ids (following
// merges), or ErrNotFound.
func (t *Tx) FindPatient(ids []Identifier) (string, error) {
	for _, id := range ids {
		if id.Value == "" {
			continue
		}
		pid, err := t.tx.PatientByIdentifier(t.ctx, t.d.idHash(id))
		if errors.Is(err, catalog.ErrNotFound) {
			continue
		}
		if err != nil {
			return "", err
		}
		return t.survivor(pid)
	}
	return "", ErrNotFound
}

// survivor follows merges to the patient that holds the records now.
func (t *Tx) survivor(pid string) (string, error) {
	for range 32 {
		row, err := t.tx.GetPatient(t.ctx, pid)
		if err != nil {
			return "", err
		}
		if row.MergedInto == "" {
			return pid, nil
		}
		pid = row.MergedInto
	}
	return "", fmt.Errorf("clinical: patient %s: merge chain too long", pid)
}

// Patient reads a patient's demographics.
func (t *Tx) Patient(id string) (Patient, error) {
	row, err := t.tx.GetPatient(t.ctx, id)
	if errors.Is(err, catalog.ErrNotFound) {
		return Patient{}, ErrNotFound
	}
	if err != nil {
		return Patient{}, err
	}
	var p Patient
	if err := t.d.open("patient", id, row.Sealed, &p); err != nil {
		return Patient{}, err
	}
	p.ID, p.MergedInto = row.ID, row.MergedInto
	return p, nil
}

// UpsertPatient finds the patient by any of p's identifiers (creating
// one when none is known), adds p's identifiers, and updates the
// demographics unless the stored ones are newer: a field p leaves empty
// keeps its stored value, one p.Clear names is emptied (see update). It returns the patient id.
// Storing demographics equal to the stored ones writes nothing.
func (t *Tx) UpsertPatient(p Patient) (string, error) {
	ids, errs, err := t.UpsertPatients([]Patient{p})
	if err != nil {
		return "", err
	}
	return ids[0], errs[0]
}

// UpsertPatients is UpsertPatient for each of ps, in order, with the
// lookups, reads and writes of the whole batch in a few statements and
// the sealing spread over the CPUs. errs[i] is ps[i]'s refusal
// (ErrNoIdentifier, ErrConflict), which leaves the others to be stored;
// err is a failure of the whole (the transaction must not commit). Two
// records naming one identifier, or two identifiers of one stored
// patient, are stored one after the other, in order.
func (t *Tx) UpsertPatients(ps []Patient) (ids []string, errs []error, err error) {
	ds := make([]PatientDraft, len(ps))
	parallel(len(ps), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			ds[i] = PatientDraft{Patient: ps[i], hashes: t.d.idHashes(ps[i])}
		}
	})
	return t.upsertPatients(ds)
}

// PatientDraft is a patient record made ready outside the transaction
// that stores it (DB.DraftPatient), so that the transaction's serial part
// does less: the keyed hashes of its identifiers, and its demographics
// sealed under a fresh id, used when it turns out to be a new patient.
type PatientDraft struct {
	Patient Patient
	hashes  []string // of Patient.Identifiers; "" for an empty value
	id      string   // "" when not sealed ahead
	sealed  []byte
}

// Keys are the keys the draft's patient is found by, one per identifier
// ("" for an empty value): equal for identifiers that are one.
func (d PatientDraft) Keys() []string { return d.hashes }

// DraftPatient makes p ready for Tx.UpsertPatientDrafts.
func (d *DB) DraftPatient(p Patient) (PatientDraft, error) {
	dr := PatientDraft{Patient: p, hashes: d.idHashes(p), id: newID("p")}
	var err error
	dr.sealed, err = d.seal("patient", dr.id, d.auth.mergePatient(Patient{}, p))
	return dr, err
}

func (d *DB) idHashes(p Patient) []string {
	hs := make([]string, len(p.Identifiers))
	for k, id := range p.Identifiers {
		if id.Value != "" {
			hs[k] = d.idHash(id)
		}
	}
	return hs
}

// UpsertPatientDrafts is UpsertPatients for records drafted before the
// transaction (DB.DraftPatient): a new patient takes its draft's id and
// sealed demographics.
func (t *Tx) UpsertPatientDrafts(ds []PatientDraft) (ids []string, errs []error, err error) {
	return t.upsertPatients(ds)
}

func (t *Tx) upsertPatients(ds []PatientDraft) (ids []string, errs []error, err error) {
	ds = slices.Clone(ds)
	n := len(ds)
	ids, errs = make([]string, n), make([]error, n)
	ps := make([]Patient, n)
	hashes := make([][]string, n)
	for i := range ds {
		ps[i], hashes[i] = ds[i].Patient, ds[i].hashes
		if len(hashes[i]) != len(ps[i].Identifiers) { // not made by DraftPatient
			hashes[i], ds[i].id = t.d.idHashes(ps[i]), ""
		}
	}
	var all []string
	owner := make(map[string]int, n)
	for i := range ps {
		if !slices.ContainsFunc(ps[i].Identifiers, func(id Identifier) bool { return id.Value != "" }) {
			errs[i] = ErrNoIdentifier
			continue
		}
		for _, h := range hashes[i] {
			if h == "" {
				continue
			}
			if j, ok := owner[h]; ok && j != i {
				// Two records of the batch name one identifier: the
				// second depends on the first's write.
				return t.upsertPatientsInTurn(ps, ids, errs)
			}
			owner[h] = i
			all = append(all, h)
		}
	}
	if len(all) == 0 {
		return ids, errs, nil
	}
	slices.Sort(all) // the keyed-hash index is read in key order
	found, err := t.tx.PatientsByIdentifiers(t.ctx, all)
	if err != nil {
		return nil, nil, err
	}
	rows, err := t.patientRows(slices.Collect(maps.Values(found)))
	if err != nil {
		return nil, nil, err
	}
	survivor := func(pid string) (string, error) {
		for range 32 {
			r := rows[pid]
			if r.MergedInto == "" {
				return pid, nil
			}
			pid = r.MergedInto
		}
		return "", fmt.Errorf("clinical: patient %s: merge chain too long", pid)
	}

	// Which patient each record is, in the serial part: the lookups are done.
	type work struct {
		cur     catalog.PatientRow // zero for a new patient
		write   bool
		sealed  []byte
		sealErr error
	}
	ws := make([]work, n)
	var fresh []int // records of new patients
	known := make(map[string]int, n)
	for i, p := range ps {
		if errs[i] != nil {
			continue
		}
		pid := ""
		for k, id := range p.Identifiers {
			raw, ok := found[hashes[i][k]]
			if hashes[i][k] == "" || !ok {
				continue
			}
			sid, err := survivor(raw)
			if err != nil {
				return nil, nil, err
			}
			if pid == "" {
				pid = sid
			} else if sid != pid {
				errs[i] = fmt.Errorf("%w (an identifier of type %q)", ErrConflict, id.Type)
				break
			}
		}
		if errs[i] != nil {
			continue
		}
		if pid != "" {
			if j, ok := known[pid]; ok && j != i {
				// Two records of the batch are one stored patient (by
				// different identifiers): the second merges into the
				// first's result.
				return t.upsertPatientsInTurn(ps, ids, errs)
			}
			known[pid] = i
			ws[i].cur = rows[pid]
		} else {
			fresh = append(fresh, i)
		}
		ids[i] = pid
	}
	// New patients get random ids, handed out in the order of their
	// identifiers' keyed hashes: the batch's writes to the patients and
	// identifier tables then run in key order in both (and their index
	// pages are each read once), and the ids are as random as before.
	// Drafted records come with their ids (and demographics sealed for
	// them).
	if slices.ContainsFunc(fresh, func(i int) bool { return ds[i].id == "" }) {
		newIDs := keyOrderedIDs("p", len(fresh), func(k int) string {
			h := hashes[fresh[k]]
			return h[slices.IndexFunc(h, func(h string) bool { return h != "" })]
		})
		for k, i := range fresh {
			ids[i], ds[i].sealed = newIDs[k], nil
		}
	} else {
		for _, i := range fresh {
			ids[i] = ds[i].id
		}
	}

	// Open the stored demographics, merge, and seal what changed: no
	// database in this part.
	now := t.d.now().UTC()
	parallel(n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			if errs[i] != nil {
				continue
			}
			w, p := &ws[i], ps[i]
			if w.cur.ID == "" && ds[i].sealed != nil {
				w.write, w.sealed = true, ds[i].sealed // a new patient, sealed ahead
				continue
			}
			var cur Patient // none stored for a new patient
			if w.cur.ID != "" {
				if err := t.d.open("patient", ids[i], w.cur.Sealed, &cur); err != nil {
					w.sealErr = err
					continue
				}
			}
			next := t.d.auth.mergePatient(cur, p)
			if w.cur.ID != "" && samePatient(cur, next) {
				continue // nothing new: no write
			}
			w.write = true
			w.sealed, w.sealErr = t.d.seal("patient", ids[i], next)
		}
	})

	prows := make([]catalog.PatientRow, 0, n)
	idrows := make([]catalog.IdentifierRow, 0, n)
	for i := range ps {
		if errs[i] != nil {
			ids[i] = ""
			continue
		}
		w := &ws[i]
		if w.sealErr != nil {
			return nil, nil, w.sealErr
		}
		if w.write {
			created := now
			if w.cur.ID != "" {
				created = w.cur.Created
			}
			prows = append(prows, catalog.PatientRow{ID: ids[i], Sealed: w.sealed, Created: created, Updated: now})
		}
		// Point the record's identifiers at the patient where they are
		// not yet (the identifiers the patient had already are).
		for _, h := range hashes[i] {
			if h != "" && found[h] != ids[i] {
				idrows = append(idrows, catalog.IdentifierRow{Hash: h, PatientID: ids[i]})
			}
		}
	}
	// In key order, each insert lands next to the one before in the
	// tables' indexes, on pages just read.
	prows = sortedBy(prows, func(r *catalog.PatientRow) string { return r.ID })
	idrows = sortedBy(idrows, func(r *catalog.IdentifierRow) string { return r.Hash })
	if err := t.tx.PutPatients(t.ctx, prows); err != nil {
		return nil, nil, err
	}
	if err := t.tx.PutPatientIdentifiers(t.ctx, idrows); err != nil {
		return nil, nil, err
	}
	return ids, errs, nil
}

// sortedBy returns rs sorted by key: an order of indexes sorted, then the
// rows copied once in it (rows are large to swap).
func sortedBy[T any](rs []T, key func(*T) string) []T {
	if slices.IsSortedFunc(rs, func(a, b T) int { return strings.Compare(key(&a), key(&b)) }) {
		return rs
	}
	order := make([]int32, len(rs))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int { return strings.Compare(key(&rs[a]), key(&rs[b])) })
	out := make([]T, len(rs))
	for k, i := range order {
		out[k] = rs[i]
	}
	return out
}

// mergePatient is what is stored when p arrives for a patient stored as
// cur (zero for a new one): cur's demographics updated by p's (update)
// unless cur's are newer, and the identifiers of both.
func (a authorities) mergePatient(cur, p Patient) Patient {
	next := cur
	if cur.AsOf.IsZero() || !p.AsOf.Before(cur.AsOf) {
		next = updatePatient(cur, p)
	}
	for _, id := range p.Identifiers {
		if id.Value != "" {
			next.Identifiers = a.addIdentifier(next.Identifiers, id)
		}
	}
	return next
}

// upsertPatientsInTurn stores the records one after the other (a batch
// where one record's lookup depends on another's write).
func (t *Tx) upsertPatientsInTurn(ps []Patient, ids []string, errs []error) ([]string, []error, error) {
	for i, p := range ps {
		if errs[i] != nil {
			continue
		}
		id, err := t.UpsertPatient(p)
		switch {
		case errors.Is(err, ErrConflict) || errors.Is(err, ErrNoIdentifier):
			errs[i] = err
		case err != nil:
			return nil, nil, err
		}
		ids[i] = id
	}
	return ids, errs, nil
}

// patientRows reads the rows of pids and of the patients they were merged
// into, by id. A patient id without a row is an error (an identifier
// pointing at nothing).
func (t *Tx) patientRows(pids []string) (map[string]catalog.PatientRow, error) {
	rows := make(map[string]catalog.PatientRow, len(pids))
	for round := 0; len(pids) > 0; round++ {
		if round > 32 {
			return nil, errors.New("clinical: merge chain too long")
		}
		slices.Sort(pids)
		pids = slices.Compact(pids)
		got, err := t.tx.GetPatients(t.ctx, pids)
		if err != nil {
			return nil, err
		}
		var next []string
		for _, id := range pids {
			r, ok := got[id]
			if !ok {
				return nil, fmt.Errorf("patient %s: %w", id, catalog.ErrNotFound)
			}
			rows[id] = r
			if _, seen := rows[r.MergedInto]; r.MergedInto != "" && !seen {
				next = append(next, r.MergedInto)
			}
		}
		pids = next
	}
	return rows, nil
}

func samePatient(a, b Patient) bool {
	return slices.Equal(a.Identifiers, b.Identifiers) && a.Family == b.Family && a.Given == b.Given && a.Middle == b.Middle &&
		a.BirthDate == b.BirthDate && a.Sex == b.Sex && a.Deceased == b.Deceased && a.AsOf.Equal(b.AsOf)
}

// MergePatients makes the patient known by prior part of the one known by
// survivor (HL7 A40): prior's identifiers, encounters, orders and results
// move to the survivor, and prior is marked merged. The survivor is made
// when unknown. Merging an already merged patient again changes nothing.
func (t *Tx) MergePatients(survivor Patient, prior []Identifier) (string, error) {
	sid, err := t.UpsertPatient(survivor)
	if err != nil {
		return "", err
	}
	var pids []string
	for _, id := range prior {
		if id.Value == "" {
			continue
		}
		pid, err := t.tx.PatientByIdentifier(t.ctx, t.d.idHash(id))
		if errors.Is(err, catalog.ErrNotFound) {
			continue
		}
		if err != nil {
			return "", err
		}
		if pid != sid && !slices.Contains(pids, pid) {
			pids = append(pids, pid)
		}
	}
	for _, pid := range pids {
		old, err := t.Patient(pid)
		if err != nil {
			return "", err
		}
		if old.MergedInto != "" {
			continue
		}
		if err := t.tx.MovePatientRecords(t.ctx, pid, sid); err != nil {
			return "", err
		}
		hashes, err := t.tx.PatientIdentifiers(t.ctx, pid)
		if err != nil {
			return "", err
		}
		for _, h := range hashes {
			if err := t.tx.PutPatientIdentifier(t.ctx, h, sid); err != nil {
				return "", err
			}
		}
		row, err := t.tx.GetPatient(t.ctx, pid)
		if err != nil {
			return "", err
		}
		row.MergedInto, row.Updated = sid, t.d.now().UTC()
		if err := t.tx.PutPatient(t.ctx, row); err != nil {
			return "", err
		}
		// The survivor learns the prior identifiers.
		sp, err := t.Patient(sid)
		if err != nil {
			return "", err
		}
		for _, id := range old.Identifiers {
			sp.Identifiers = t.d.auth.addIdentifier(sp.Identifiers, id)
		}
		sealed, err := t.d.seal("patient", sid, sp)
		if err != nil {
			return "", err
		}
		srow, err := t.tx.GetPatient(t.ctx, sid)
		if err != nil {
			return "", err
		}
		srow.Sealed = sealed
		if err := t.tx.PutPatient(t.ctx, srow); err != nil {
			return "", err
		}
	}
	return sid, nil
}

// place decides where a record found by its business key goes: a new id
// when none is stored, ErrConflict when the stored one is another
// patient's, and no write (write false) when the stored one is newer than
// asOf. old is the stored record, opened; getErr is the lookup's error.
func place[T any](t *Tx, kind, idPrefix, pid string, curID, curPID string, sealed []byte, getErr error, asOf time.Time, stamp func(T) time.Time) (id string, old T, write bool, err error) {
	switch {
	case errors.Is(getErr, catalog.ErrNotFound):
		return newID(idPrefix), old, true, nil
	case getErr != nil:
		return "", old, false, getErr
	case curPID != pid:
		return "", old, false, fmt.Errorf("%w: the %s's number is another patient's", ErrConflict, kind)
	}
	if err := t.d.open(kind, curID, sealed, &old); err != nil {
		return "", old, false, err
	}
	if s := stamp(old); !s.IsZero() && asOf.Before(s) {
		return curID, old, false, nil // an older message: the newer state stands
	}
	return curID, old, true, nil
}

// UpsertEncounter records a visit of patient pid by its visit number,
// updating the stored one unless it is newer (a field e leaves empty keeps
// its stored value, one e.Clear names is emptied; see update).
func (t *Tx) UpsertEncounter(pid string, e Encounter) (string, error) {
	if e.VisitNumber == "" {
		return "", errNoVisitNumber
	}
	key := t.d.encounterKey(e)
	cur, err := t.tx.GetEncounter(t.ctx, key)
	id, old, write, err := place(t, "encounter", "e", pid, cur.ID, cur.PatientID, cur.Sealed, err, e.AsOf, func(x Encounter) time.Time { return x.AsOf })
	if err != nil || !write {
		return id, err
	}
	e = updateEncounter(old, e)
	sealed, err := t.d.seal("encounter", id, e)
	if err != nil {
		return "", err
	}
	return id, t.tx.PutEncounter(t.ctx, catalog.ClinicalRow{ID: id, PatientID: pid, KeyHash: key, Sealed: sealed, Updated: t.d.now().UTC()})
}

// UpsertEncounters is UpsertEncounter for the visit of each of ds (made
// by DB.DraftEncounter), a visit of patient pids[i], in order, with the
// lookup and the write of the whole batch in a few statements; a new visit
// takes its draft's id and sealed record. errs[i] is ds[i]'s refusal
// (ErrConflict: the visit number is another patient's; no visit number),
// which leaves the others to be stored; err is a failure of the whole
// (the transaction must not commit). Two of ds with one visit number are
// stored in turn. A visit equal to the stored one is not written again.
func (t *Tx) UpsertEncounters(pids []string, ds []EncounterDraft) (ids []string, errs []error, err error) {
	n := len(ds)
	ids, errs = make([]string, n), make([]error, n)
	keys := make([]string, n)
	es := make([]Encounter, n)
	var all []string
	owner := make(map[string]int, n)
	ds = slices.Clone(ds)
	for i, d := range ds {
		es[i] = d.Encounter
	}
	for i, d := range ds {
		e := d.Encounter
		if e.VisitNumber == "" {
			errs[i] = errNoVisitNumber
			continue
		}
		if keys[i] = d.key; d.key == "" { // not made by DraftEncounter
			keys[i], ds[i].sealed = t.d.encounterKey(e), nil
		}
		if _, ok := owner[keys[i]]; ok {
			for i, e := range es { // the second depends on the first's write
				if ids[i], errs[i] = t.UpsertEncounter(pids[i], e); errs[i] != nil && !errors.Is(errs[i], ErrConflict) && !errors.Is(errs[i], errNoVisitNumber) {
					return nil, nil, errs[i]
				}
			}
			return ids, errs, nil
		}
		owner[keys[i]] = i
		all = append(all, keys[i])
	}
	if len(all) == 0 {
		return ids, errs, nil
	}
	found, err := t.tx.GetEncounters(t.ctx, all)
	if err != nil {
		return nil, nil, err
	}
	curs := make([]catalog.ClinicalRow, n)
	for i := range ds {
		if errs[i] == nil {
			curs[i] = found[keys[i]]
		}
	}
	ps, err := placeBatch(t, "encounter", "e", pids, es, curs, errs,
		func(i int) (string, []byte) { return ds[i].id, ds[i].sealed },
		func(x Encounter) time.Time { return x.AsOf }, updateEncounter, sameEncounter)
	if err != nil {
		return nil, nil, err
	}
	now := t.d.now().UTC()
	rows := written(ps, ids, errs, func(i int, p placed) catalog.ClinicalRow {
		return catalog.ClinicalRow{ID: p.id, PatientID: pids[i], KeyHash: keys[i], Sealed: p.sealed, Updated: now}
	})
	if err := t.tx.PutEncounters(t.ctx, rows); err != nil {
		return nil, nil, err
	}
	return ids, errs, nil
}

// written records the id placeBatch gave each record not refused (ids[i])
// and returns the rows (made by row) of those to write, in id order.
func written(ps []placed, ids []string, errs []error, row func(i int, p placed) catalog.ClinicalRow) []catalog.ClinicalRow {
	var rows []catalog.ClinicalRow
	for i, p := range ps {
		if errs[i] != nil {
			continue
		}
		ids[i] = p.id
		if p.write {
			rows = append(rows, row(i, p))
		}
	}
	return sortedBy(rows, func(r *catalog.ClinicalRow) string { return r.ID })
}

// placed is what placeBatch decided for one record.
type placed struct {
	id     string // the stored record's, or the new one's
	write  bool
	sealed []byte // when write
}

// placeBatch is place for each record of a batch (recs[i], of patient
// pids[i]), curs[i] being the stored record with its key (zero when there
// is none), with the opening and sealing spread over the CPUs. A stored
// record of another patient sets errs[i] to ErrConflict; one newer than
// the record is not written again; otherwise what is stored is
// update(stored, record), unless that equals the stored one. A new record
// is update(zero, record), or its draft's id and sealed bytes when
// draft(i) has them (a fresh id otherwise). Records with errs[i] already
// set are left out.
func placeBatch[T any](t *Tx, kind, idPrefix string, pids []string, recs []T, curs []catalog.ClinicalRow, errs []error,
	draft func(i int) (id string, sealed []byte), stamp func(T) time.Time, update func(cur, rec T) T, same func(a, b T) bool) ([]placed, error) {
	out := make([]placed, len(recs))
	for i := range recs {
		if errs[i] == nil && curs[i].ID != "" && curs[i].PatientID != pids[i] {
			errs[i] = fmt.Errorf("%w: the %s's number is another patient's", ErrConflict, kind)
		}
	}
	failed := make([]error, len(recs))
	parallel(len(recs), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			if errs[i] != nil {
				continue
			}
			p, cur := &out[i], curs[i]
			var old T
			if cur.ID == "" {
				p.write = true
				if id, sealed := draft(i); sealed != nil {
					p.id, p.sealed = id, sealed // sealed ahead
					continue
				}
				p.id = newID(idPrefix)
			} else {
				p.id = cur.ID
				if err := t.d.open(kind, cur.ID, cur.Sealed, &old); err != nil {
					failed[i] = err
					continue
				}
				if s := stamp(old); !s.IsZero() && stamp(recs[i]).Before(s) {
					continue // an older record: the newer state stands
				}
			}
			rec := update(old, recs[i])
			if cur.ID != "" {
				if same(old, rec) {
					continue // nothing new: no write
				}
				p.write = true
			}
			p.sealed, failed[i] = t.d.seal(kind, p.id, rec)
		}
	})
	for _, err := range failed {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// sameEncounter: a and b are the same visit, as sealed.
func sameEncounter(a, b Encounter) bool {
	asOf := a.AsOf.Equal(b.AsOf)
	a.ID, a.PatientID, a.AsOf, a.Clear = "", "", time.Time{}, nil
	b.ID, b.PatientID, b.AsOf, b.Clear = "", "", time.Time{}, nil
	return asOf && reflect.DeepEqual(a, b)
}

// replaceResult is the update rule of results: an observation (OBX) is
// sent whole, so a newer one replaces the stored one as a whole (a
// corrected OBX without a reference range has none).
func replaceResult(_, r Result) Result { return r }

// sameResult: a and b are the same observation, as sealed.
func sameResult(a, b Result) bool {
	asOf := a.AsOf.Equal(b.AsOf)
	a.ID, a.PatientID, a.OrderID, a.AsOf = "", "", "", time.Time{}
	b.ID, b.PatientID, b.OrderID, b.AsOf = "", "", "", time.Time{}
	return asOf && a == b
}

var errNoVisitNumber = errors.New("encounter has no visit number")

// EncounterDraft is a visit made ready outside the transaction that
// stores it (DB.DraftEncounter): the keyed hash of its visit number, and
// the visit sealed under a fresh id, used when it turns out to be new.
type EncounterDraft struct {
	Encounter Encounter
	key       string
	id        string
	sealed    []byte
}

// Key is the key the draft's visit is found by: equal for one visit
// number under two names of its issuer.
func (d EncounterDraft) Key() string { return d.key }

// DraftEncounter makes e ready for Tx.UpsertEncounters.
func (d *DB) DraftEncounter(e Encounter) (EncounterDraft, error) {
	dr := EncounterDraft{Encounter: e, key: d.encounterKey(e), id: newID("e")}
	var err error
	dr.sealed, err = d.seal("encounter", dr.id, updateEncounter(Encounter{}, e))
	return dr, err
}

// UpsertOrder records an order of patient pid by its placer number,
// updating the stored one unless it is newer (a field o leaves empty keeps
// its stored value, one o.Clear names is emptied; see update). It is
// UpsertOrderChanged without the changed answer.
func (t *Tx) UpsertOrder(pid string, o Order) (string, error) {
	id, _, err := t.UpsertOrderChanged(pid, o)
	return id, err
}

// UpsertOrderChanged is UpsertOrder saying whether the stored order
// changed. changed is false, and nothing is written, when the stored
// order is newer than o or when what the update rule would store equals
// it, as of the same time (an o with another AsOf is a change); a new
// order is a change. ErrConflict when the placer number is another
// patient's.
func (t *Tx) UpsertOrderChanged(pid string, o Order) (id string, changed bool, err error) {
	if o.PlacerNumber == "" {
		return "", false, errors.New("order has no placer order number")
	}
	key := t.d.orderKey(o.PlacerIssuer, o.PlacerNumber)
	cur, err := t.tx.GetOrder(t.ctx, key)
	id, old, write, err := place(t, "order", "o", pid, cur.ID, cur.PatientID, cur.Sealed, err, o.AsOf, func(x Order) time.Time { return x.AsOf })
	if err != nil || !write {
		return id, false, err
	}
	o = updateOrder(old, o)
	if cur.ID != "" && sameOrder(old, o) {
		return id, false, nil // nothing new: no write
	}
	sealed, err := t.d.seal("order", id, o)
	if err != nil {
		return "", false, err
	}
	err = t.tx.PutOrder(t.ctx, catalog.OrderRow{ID: id, PatientID: pid, KeyHash: key, SampleID: o.SampleID, Status: o.Status, Sealed: sealed, Updated: t.d.now().UTC()})
	return id, err == nil, err
}

// sameOrder: a and b are the same order, as sealed.
func sameOrder(a, b Order) bool {
	asOf := a.AsOf.Equal(b.AsOf)
	a.ID, a.PatientID, a.AsOf, a.Clear = "", "", time.Time{}, nil
	b.ID, b.PatientID, b.AsOf, b.Clear = "", "", time.Time{}, nil
	return asOf && reflect.DeepEqual(a, b)
}

// OrderByPlacer returns the order with that placer number (and issuer), or ErrNotFound.
func (t *Tx) OrderByPlacer(issuer, placer string) (Order, error) {
	row, err := t.tx.GetOrder(t.ctx, t.d.orderKey(issuer, placer))
	if errors.Is(err, catalog.ErrNotFound) {
		return Order{}, ErrNotFound
	}
	if err != nil {
		return Order{}, err
	}
	var o Order
	if err := t.d.open("order", row.ID, row.Sealed, &o); err != nil {
		return Order{}, err
	}
	o.ID, o.PatientID = row.ID, row.PatientID
	return o, nil
}

// UpsertResult records an observation of order oid by (order, set id,
// code, sub id).
func (t *Tx) UpsertResult(pid, oid string, r Result) (string, error) {
	key := t.d.hash("result", oid, r.SetID, r.CodeSystem, r.Code, r.SubID)
	cur, err := t.tx.GetResult(t.ctx, key)
	id, _, write, err := place(t, "result", "r", pid, cur.ID, cur.PatientID, cur.Sealed, err, r.AsOf, func(x Result) time.Time { return x.AsOf })
	if err != nil || !write {
		return id, err
	}
	sealed, err := t.d.seal("result", id, r)
	if err != nil {
		return "", err
	}
	return id, t.tx.PutResult(t.ctx, catalog.ClinicalRow{ID: id, PatientID: pid, OrderID: oid, KeyHash: key, Sealed: sealed, Updated: t.d.now().UTC()})
}

// ResultDraft is an observation made ready outside the transaction that
// stores it (DB.DraftResult): sealed under a fresh id, used when it turns
// out to be new. Its key depends on its order's id, which the
// transaction finds.
type ResultDraft struct {
	Result Result
	id     string
	sealed []byte
}

// DraftResult makes r ready for Tx.UpsertResults.
func (d *DB) DraftResult(r Result) (ResultDraft, error) {
	dr := ResultDraft{Result: r, id: newID("r")}
	var err error
	dr.sealed, err = d.seal("result", dr.id, r)
	return dr, err
}

// UpsertResults is UpsertResult for each of ds (drafts, or results
// wrapped in a ResultDraft as they are), an observation of order oids[i]
// of patient pids[i], in order, with the lookup and the write of the
// whole batch in a few statements. errs[i] is ds[i]'s refusal
// (ErrConflict: its key is another patient's), which leaves the others
// to be stored; err is a failure of the whole. Two of ds with one key are
// stored in turn. An observation equal to the stored one is not written
// again.
func (t *Tx) UpsertResults(pids, oids []string, ds []ResultDraft) (ids []string, errs []error, err error) {
	n := len(ds)
	ids, errs = make([]string, n), make([]error, n)
	keys := make([]string, n)
	parallel(n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			r := ds[i].Result
			keys[i] = t.d.hash("result", oids[i], r.SetID, r.CodeSystem, r.Code, r.SubID)
		}
	})
	owner := make(map[string]bool, n)
	for _, k := range keys {
		if owner[k] { // the second depends on the first's write
			for i, d := range ds {
				if ids[i], errs[i] = t.UpsertResult(pids[i], oids[i], d.Result); errs[i] != nil && !errors.Is(errs[i], ErrConflict) {
					return nil, nil, errs[i]
				}
			}
			return ids, errs, nil
		}
		owner[k] = true
	}
	if n == 0 {
		return ids, errs, nil
	}
	found, err := t.tx.GetResults(t.ctx, keys)
	if err != nil {
		return nil, nil, err
	}
	curs := make([]catalog.ClinicalRow, n)
	rs := make([]Result, n)
	for i := range ds {
		curs[i], rs[i] = found[keys[i]], ds[i].Result
	}
	ps, err := placeBatch(t, "result", "r", pids, rs, curs, errs,
		func(i int) (string, []byte) { return ds[i].id, ds[i].sealed },
		func(x Result) time.Time { return x.AsOf }, replaceResult, sameResult)
	if err != nil {
		return nil, nil, err
	}
	now := t.d.now().UTC()
	rows := written(ps, ids, errs, func(i int, p placed) catalog.ClinicalRow {
		return catalog.ClinicalRow{ID: p.id, PatientID: pids[i], OrderID: oids[i], KeyHash: keys[i], Sealed: p.sealed, Updated: now}
	})
	if err := t.tx.PutResults(t.ctx, rows); err != nil {
		return nil, nil, err
	}
	return ids, errs, nil
}
