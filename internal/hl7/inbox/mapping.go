package inbox

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/clinomics/clinomics/internal/clinical"
	"github.com/clinomics/clinomics/internal/hl7"
)

// Supported is what the mapping takes; anything else is rejected (AR/CR
// 200 or 201) before it is stored as processed.
var Supported = hl7.Supported{Types: map[string][]string{
	"ADT": {"A01", "A03", "A04", "A08", "A40"},
	"ORM": {"O01"},
	"OML": {"O21"},
	"ORU": {"R01"},
}}

// at is a mapping problem at a position of the message.
func at(seg string, seq, field int, err error) error {
	return &hl7.ParseError{Location: hl7.Location{Segment: seg, Sequence: seq, Field: field}, Err: err}
}

// Applied is what a message changed.
type Applied struct {
	PatientID string
	Orders    int
	Results   int
}

// Apply maps msg into the clinical database: ADT A01/A04/A08/A03 to the
// patient and the visit, A40 to a merge, ORM^O01 and OML^O21 to orders
// (genetic test orders linked to their specimen, the lab's sample id),
// ORU^R01 to results. asOf is the message time; an older message does not
// overwrite newer data.
//
// A field the mapping reads that does not hold a value of its data type
// (see typedFields) refuses the message with ErrDataType located at that
// field, as does an A40 whose prior patient (MRG-1) is unknown, with
// hl7.ErrUnknownKey; the caller rolls back what Apply wrote before.
func Apply(tx *clinical.Tx, msg *hl7.Message) (Applied, error) {
	var out Applied
	asOf, err := asOfTime(msg)
	if err != nil {
		return out, err
	}
	typ := msg.Type()
	pidSeg := msg.First("PID")
	if pidSeg == nil {
		return out, at("PID", 1, 0, hl7.ErrNoSegment)
	}
	patient, err := readPatient(pidSeg, asOf)
	if err != nil {
		return out, err
	}

	switch typ.Code {
	case "ADT":
		if typ.Trigger == "A40" {
			mrgSeg := msg.First("MRG")
			if mrgSeg == nil {
				return out, at("MRG", 1, 0, hl7.ErrNoSegment)
			}
			mrg, err := hl7.ReadMRG(mrgSeg)
			if err != nil && !errors.Is(err, hl7.ErrDataType) {
				return out, err
			}
			var prior []clinical.Identifier
			for _, cx := range mrg.PriorIdentifiers {
				if cx.ID != "" {
					prior = append(prior, identifierOf(cx))
				}
			}
			if len(prior) == 0 {
				return out, mrgSeg.ErrorAt(1, hl7.ErrRequired)
			}
			// A merge of a patient never seen would do nothing: held, to
			// be reprocessed once the prior patient is known.
			if _, err := tx.FindPatient(prior); errors.Is(err, clinical.ErrNotFound) {
				return out, mrgSeg.ErrorAt(1, errUnknownPrior)
			} else if err != nil {
				return out, err
			}
			out.PatientID, err = tx.MergePatients(patient, prior)
			return out, err
		}
		e, err := visitOf(msg, typ.Trigger, asOf)
		if err != nil {
			return out, err
		}
		if out.PatientID, err = tx.UpsertPatient(patient); err != nil {
			return out, err
		}
		if e != nil {
			if _, err := tx.UpsertEncounter(out.PatientID, *e); err != nil {
				return out, err
			}
		}
		return out, nil

	case "ORM", "OML", "ORU":
		groups := msg.Orders()
		if len(groups) == 0 {
			return out, at("OBR", 1, 0, hl7.ErrNoSegment)
		}
		// Everything is read before anything is written.
		orders := make([]clinical.Order, len(groups))
		results := make([][]clinical.Result, len(groups))
		for i, g := range groups {
			if orders[i], err = orderOf(g, asOf, typ.Code == "ORU"); err != nil {
				return out, err
			}
			for _, s := range g.OBX {
				r, err := resultOf(s, asOf)
				if err != nil {
					return out, err
				}
				results[i] = append(results[i], r)
			}
		}
		if out.PatientID, err = tx.UpsertPatient(patient); err != nil {
			return out, err
		}
		for i, o := range orders {
			oid, err := tx.UpsertOrder(out.PatientID, o)
			if err != nil {
				return out, err
			}
			out.Orders++
			for _, r := range results[i] {
				if _, err := tx.UpsertResult(out.PatientID, oid, r); err != nil {
					return out, err
				}
				out.Results++
			}
		}
		return out, nil
	}
	return out, at("MSH", 1, 9, hl7.ErrUnsupportedType)
}

// errUnknownPrior: no patient holds an A40's prior identifiers (MRG-1).
var errUnknownPrior = fmt.Errorf("%w: no patient holds the prior patient's identifiers; reprocess the message once that patient is known", hl7.ErrUnknownKey)

// typedFields are the fields the mapping reads whose values have a data
// type to check: a value that is not of its type refuses the message
// (AE/CE, HL7 error 102 at the field) rather than being dropped. Fields
// the mapping does not read (PID-29, ORC-9, OBR-22, SPM-17 ...) are not
// checked. An empty or null ("") value is no error. OBX-5 is checked by
// OBX-2: NM, the numbers of SN (components 2 and 4), and DT, DTM and TS.
// The docs (docs/hl7.md) list the same. PID, PV1 and OBR are checked from
// this list (checkDTM); MSH-7 is checked where the message time is read
// (asOfTime), OBX-5 and OBX-14 where a result is (resultOf, whose errors
// name the OBX by its set id): their entries only complete the list.
var typedFields = map[string][]int{
	"MSH": {7},      // message time: orders updates
	"PID": {7},      // birth date
	"PV1": {44, 45}, // admit and discharge, of an ADT with a visit number (PV1-19)
	"OBR": {7},      // observation (order) time
	"OBX": {5, 14},  // value (by OBX-2), observation time
}

// asOfTime is the message time (MSH-7) in UTC; zero when MSH-7 is empty.
func asOfTime(msg *hl7.Message) (time.Time, error) {
	t, err := msg.Time()
	if err != nil {
		return time.Time{}, err
	}
	if t.IsZero() {
		return time.Time{}, nil
	}
	return t.In(time.UTC), nil
}

// checkDTM returns a data type error at the first of the fields of s
// that is not a DTM.
func checkDTM(s *hl7.Segment, fields ...int) error {
	for _, f := range fields {
		if _, err := s.Field(f).DTM(); err != nil {
			return s.ErrorAt(f, err)
		}
	}
	return nil
}

// readPatient reads the patient of a PID segment, checking PID-3 and the
// typed fields the mapping reads.
func readPatient(s *hl7.Segment, asOf time.Time) (clinical.Patient, error) {
	pid, err := hl7.ReadPID(s)
	if err != nil && !errors.Is(err, hl7.ErrDataType) { // PID-29, not mapped, may be wrong
		return clinical.Patient{}, err
	}
	if err := checkDTM(s, typedFields["PID"]...); err != nil {
		return clinical.Patient{}, err
	}
	p := patientOf(pid, asOf)
	p.Clear = nulls(s, map[int][]string{5: {"family", "given", "middle"}, 7: {"birth_date"}, 8: {"sex"}, 30: {"deceased"}})
	if len(p.Identifiers) == 0 {
		return p, at("PID", 1, 3, hl7.ErrRequired)
	}
	return p, nil
}

// resultOf reads an OBX segment as a result: OBX-3 is required; OBX-5
// (by OBX-2) and OBX-14 must hold values of their types. Errors name the
// OBX by its occurrence in the message (ERR-2's segment sequence) and its
// set id (OBX-1).
func resultOf(s *hl7.Segment, asOf time.Time) (clinical.Result, error) {
	obx, err := hl7.ReadOBX(s)
	if err != nil && !errors.Is(err, hl7.ErrDataType) { // checked below
		return clinical.Result{}, err
	}
	if obx.Observation.Code == "" {
		return clinical.Result{}, obxAt(s, obx.SetID, 3, hl7.ErrRequired)
	}
	if err := checkValues(obx); err != nil {
		return clinical.Result{}, obxAt(s, obx.SetID, 5, err)
	}
	if _, err := s.Field(14).DTM(); err != nil {
		return clinical.Result{}, obxAt(s, obx.SetID, 14, err)
	}
	return clinical.Result{SetID: obx.SetID, Code: obx.Observation.Code, CodeSystem: obx.Observation.System, Display: obx.Observation.Text,
		SubID: obx.SubID, ValueType: obx.ValueType, Value: obx.Text(), Units: obx.Units.Code,
		ReferenceRange: obx.ReferenceRange, Abnormal: strings.Join(obx.Abnormal, "~"), Status: obx.Status,
		Observed: obx.ObservationTime.String(), AsOf: asOf}, nil
}

// checkValues checks each repetition of OBX-5 against OBX-2, for the
// value types whose form can be told: NM, SN (its numbers), DT, DTM, TS.
// The error wraps hl7.ErrDataType and holds no value.
func checkValues(obx hl7.OBX) error {
	for _, v := range obx.Values {
		if v.IsEmpty() || v.IsNull() {
			continue
		}
		var err error
		switch strings.ToUpper(strings.TrimSpace(obx.ValueType)) {
		case "NM":
			_, err = hl7.ParseNM(v.String())
		case "SN": // comparator ^ num1 ^ separator/suffix ^ num2
			for _, c := range []int{2, 4} {
				if n := v.Component(c).String(); n != "" && err == nil {
					_, err = hl7.ParseNM(n)
				}
			}
		case "DT", "DTM", "TS":
			_, err = v.DTM()
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// obxAt locates err at a field of the OBX segment s, naming the OBX by
// its set id (OBX-1) too when that is a plain number.
func obxAt(s *hl7.Segment, setID string, field int, err error) error {
	if setID != "" && len(setID) <= 6 && strings.Trim(setID, "0123456789") == "" {
		err = &setIDNote{err: err, setID: setID}
	}
	return s.ErrorAt(field, err)
}

// setIDNote names the OBX an error is about by its set id.
type setIDNote struct {
	err   error
	setID string
}

func (e *setIDNote) Error() string { return e.err.Error() + " (the OBX with set ID " + e.setID + ")" }
func (e *setIDNote) Unwrap() error { return e.err }

// visitOf is the encounter of an ADT message's PV1, or nil when it names
// no visit.
func visitOf(msg *hl7.Message, trigger string, asOf time.Time) (*clinical.Encounter, error) {
	pv1Seg := msg.First("PV1")
	if pv1Seg == nil {
		return nil, nil
	}
	pv1, err := hl7.ReadPV1(pv1Seg)
	if err != nil && !errors.Is(err, hl7.ErrDataType) { // checked below, for a visit
		return nil, err
	}
	if pv1.VisitNumber.ID == "" {
		return nil, nil
	}
	if err := checkDTM(pv1Seg, typedFields["PV1"]...); err != nil {
		return nil, err
	}
	e := clinical.Encounter{VisitNumber: pv1.VisitNumber.ID, VisitIssuer: pv1.VisitNumber.AssigningAuthority.Namespace,
		Class: pv1.Class, Location: location(pv1.Location), Admit: pv1.AdmitTime.String(), Discharge: pv1.DischargeTime.String(),
		Status: map[string]string{"A01": "admitted", "A03": "discharged", "A04": "registered"}[trigger], AsOf: asOf}
	// An A08 sends no state: the visit keeps the one stored (admitted,
	// discharged...), as any field a message does not send.
	e.Clear = nulls(pv1Seg, map[int][]string{2: {"class"}, 3: {"location"}, 44: {"admit"}, 45: {"discharge"}})
	return &e, nil
}

// admission is what an ADT A01/A03/A04/A08 maps to, read before the
// writer (no database): the patient and the visit, if any. Apply stores
// it as it stores the message; the writer stores a run of them together.
type admission struct {
	patient clinical.Patient
	visit   *clinical.Encounter
	// Drafted before the writer: the keyed hashes, and the records sealed
	// for the case they are new.
	patientDraft clinical.PatientDraft
	visitDraft   clinical.EncounterDraft
}

// admissionOf reads msg as Apply does; nil for a message of another kind
// or one Apply would refuse before storing anything (Apply then says why).
func admissionOf(msg *hl7.Message) *admission {
	typ := msg.Type()
	if typ.Code != "ADT" || typ.Trigger == "A40" {
		return nil
	}
	asOf, err := asOfTime(msg)
	if err != nil {
		return nil
	}
	pidSeg := msg.First("PID")
	if pidSeg == nil {
		return nil
	}
	a := &admission{}
	if a.patient, err = readPatient(pidSeg, asOf); err != nil {
		return nil
	}
	if a.visit, err = visitOf(msg, typ.Trigger, asOf); err != nil {
		return nil
	}
	return a
}

func identifierOf(cx hl7.CX) clinical.Identifier {
	auth := cx.AssigningAuthority.Namespace
	if auth == "" {
		auth = cx.AssigningAuthority.UniversalID
	}
	return clinical.Identifier{Value: cx.ID, Authority: auth, Type: cx.TypeCode}
}

// issuerOf is the name an entity identifier's issuer (EI-2..4: placer and
// filler order numbers) is matched by, as for patient identifiers: the
// namespace, else the universal id.
func issuerOf(ei hl7.EI) string {
	if ei.Namespace != "" {
		return ei.Namespace
	}
	return ei.UniversalID
}

// nulls names the record fields (fields[n], by JSON name) whose segment
// field n holds HL7's null "" (clear the value), for clinical's update
// rule: an empty field keeps the stored value, a null one clears it.
func nulls(s *hl7.Segment, fields map[int][]string) []string {
	var out []string
	for n, names := range fields {
		if s.Field(n).IsNull() {
			out = append(out, names...)
		}
	}
	slices.Sort(out)
	return out
}

func patientOf(pid hl7.PID, asOf time.Time) clinical.Patient {
	p := clinical.Patient{BirthDate: pid.BirthDate.String(), Sex: pid.Sex, Deceased: pid.Deceased, AsOf: asOf}
	for _, cx := range pid.Identifiers {
		if cx.ID != "" {
			p.Identifiers = append(p.Identifiers, identifierOf(cx))
		}
	}
	if len(p.Identifiers) == 0 && pid.ExternalID.ID != "" { // before v2.3.1
		p.Identifiers = append(p.Identifiers, identifierOf(pid.ExternalID))
	}
	for _, n := range pid.Names {
		if n.Type == "" || n.Type == "L" {
			p.Family, p.Given, p.Middle = n.Family, n.Given, n.Middle
			break
		}
	}
	return p
}

// orderOf reads an order group. The placer order number comes from ORC-2,
// else OBR-2; for results (ORU) without one, the filler number stands in.
func orderOf(g hl7.Order, asOf time.Time, result bool) (clinical.Order, error) {
	o := clinical.Order{AsOf: asOf} // no status unless the message gives one: a stored order keeps its own
	if g.ORC != nil {
		orc, err := hl7.ReadORC(g.ORC)
		if err != nil && !errors.Is(err, hl7.ErrDataType) {
			return o, err
		}
		o.PlacerNumber, o.PlacerIssuer = orc.Placer.ID, issuerOf(orc.Placer)
		o.FillerNumber = orc.Filler.ID
		o.Status = orderStatus(orc.Control, orc.Status)
		if len(orc.OrderingProvider) > 0 {
			o.Orderer = orc.OrderingProvider[0].ID
		}
		o.Clear = nulls(g.ORC, map[int][]string{3: {"filler_number"}, 12: {"orderer"}})
	}
	if g.OBR != nil {
		obr, err := hl7.ReadOBR(g.OBR)
		if err != nil && !errors.Is(err, hl7.ErrDataType) { // OBR-22 is not mapped
			return o, err
		}
		if err := checkDTM(g.OBR, typedFields["OBR"]...); err != nil {
			return o, err
		}
		if o.PlacerNumber == "" {
			o.PlacerNumber, o.PlacerIssuer = obr.Placer.ID, issuerOf(obr.Placer)
		}
		if o.FillerNumber == "" {
			o.FillerNumber = obr.Filler.ID
		}
		if o.Orderer == "" && len(obr.OrderingProvider) > 0 { // OBR-16, as ORC-12 (an ORU often has no ORC)
			o.Orderer = obr.OrderingProvider[0].ID
		}
		o.Code, o.CodeSystem, o.Display = obr.Service.Code, obr.Service.System, obr.Service.Text
		o.Ordered = obr.ObservationTime.String()
		o.Specimen, o.SpecimenType = obr.Specimen.Code, specimenType(obr.Specimen)
		// OBR-3 clears the filler number only when ORC-3 does not give it.
		fields := map[int][]string{4: {"code", "code_system", "display"}, 7: {"ordered"}, 15: {"specimen", "specimen_type"}}
		if o.FillerNumber == "" {
			fields[3] = []string{"filler_number"}
		}
		o.Clear = append(o.Clear, nulls(g.OBR, fields)...)
		if result {
			o.Status = resultStatus(obr.ResultStatus)
		}
	}
	if o.PlacerNumber == "" && result {
		o.PlacerNumber, o.PlacerIssuer = o.FillerNumber, clinical.FillerIssuer
	}
	if o.PlacerNumber == "" {
		return o, at("ORC", 1, 2, hl7.ErrRequired)
	}
	for _, s := range g.SPM {
		spm, err := hl7.ReadSPM(s)
		if err != nil && !errors.Is(err, hl7.ErrDataType) {
			return o, err
		}
		if id := spm.PlacerID.ID; id != "" && o.SampleID == "" {
			o.SampleID = id
		} else if id := spm.FillerID.ID; id != "" && o.SampleID == "" {
			o.SampleID = id
		}
		switch t := spm.Type; {
		case t.Code != "" || t.Text != "":
			o.Specimen, o.SpecimenType = t.Code, specimenType(t)
			o.Clear = slices.DeleteFunc(o.Clear, func(f string) bool { return f == "specimen" || f == "specimen_type" })
		case s.Field(4).IsNull():
			o.Specimen, o.SpecimenType = "", ""
			o.Clear = append(o.Clear, "specimen", "specimen_type")
		}
	}
	slices.Sort(o.Clear)
	o.Clear = slices.Compact(o.Clear)
	o.Genetic = isGenetic(o)
	return o, nil
}

// specimenType is a specimen type (SPM-4, OBR-15.1) as text: its text,
// else its code.
func specimenType(c hl7.CWE) string {
	if c.Text != "" {
		return c.Text
	}
	return c.Code
}

// isGenetic tells genetic test orders: LOINC codes of genetic analyses,
// or a service text that names one.
func isGenetic(o clinical.Order) bool {
	text := strings.ToLower(o.Display + " " + o.Code)
	for _, w := range []string{"genetic", "genomic", "sequenc", "exome", "genome", "gene panel", "pharmacogen", "germline", "variant"} {
		if strings.Contains(text, w) {
			return true
		}
	}
	switch o.Code {
	case "51969-4", "81247-9", "55233-1", "69548-6", "94076-7":
		return true
	}
	return false
}

// orderStatus is the state ORC-1 and ORC-5 give an order; "" when they
// give none (a stored order keeps its own).
func orderStatus(control, status string) string {
	switch control {
	case "CA", "OC", "DC":
		return "cancelled"
	}
	switch status {
	case "CM":
		return "completed"
	case "IP", "A", "SC":
		return "in-progress"
	case "CA", "DC":
		return "cancelled"
	}
	if control == "NW" { // a new order; XO, SC and the rest without ORC-5 say nothing of the state
		return "new"
	}
	return ""
}

func resultStatus(s string) string {
	switch s {
	case "F", "C":
		return "completed"
	case "X":
		return "cancelled"
	case "":
		return "completed"
	}
	return "in-progress"
}

func location(l hl7.PL) string {
	return strings.Trim(strings.Join([]string{l.PointOfCare, l.Room, l.Bed}, "^"), "^")
}

// errText is the public reason of a mapping error: positions and codes,
// never values.
func errText(err error) string {
	var pe *hl7.ParseError
	switch {
	case errors.As(err, &pe):
		return pe.Error()
	case errors.Is(err, clinical.ErrConflict):
		return "the message's identifiers or order numbers belong to another patient; held for review"
	case errors.Is(err, clinical.ErrNoIdentifier):
		return "PID-3: no patient identifier"
	}
	return "the message could not be applied; the receiver logged the cause"
}
