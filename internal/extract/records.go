package extract

import (
	"fmt"
	"strconv"
	"time"
)

// Entity is the kind of record a mapping produces.
type Entity string

// The record kinds a mapping can target.
const (
	EntityPatient   Entity = "patient"
	EntityEncounter Entity = "encounter"
	EntityResult    Entity = "result"
)

// Patient is a person as a registration extract describes them. Coded
// values use the HL7 v2 tables, so an extract and an ADT feed land alike.
type Patient struct {
	MRN                string    // medical record number as the source writes it
	AssigningAuthority string    // who issued the MRN (HL7 CX-4), e.g. the EHR's facility code
	FamilyName         string    // surname
	GivenName          string    // first (and middle, when a mapping concatenates them) names
	BirthDate          Date      // with the precision the source gives
	Sex                string    // HL7 table 0001: F, M, O, U, A, N; empty when not given
	UpdatedAt          time.Time // when the source last changed the row; zero when not mapped
	// Clear names the fields the row left empty under empty: clear, by
	// the clinical record's JSON names: "family" (family_name) and
	// "given" (given_name), which clear the whole name (family, given and
	// middle) when the row gives no part of it, "birth_date" and "sex".
	// Nil when nothing is cleared. The slice is shared by records: do
	// not modify it.
	Clear []string
}

// Encounter is a visit (HL7 PV1).
type Encounter struct {
	VisitNumber        string    // the source's encounter identifier (PV1-19 / CSN)
	MRN                string    // the patient's medical record number
	AssigningAuthority string    // who issued the MRN
	Class              string    // HL7 table 0004: E, I, O, P, R, B, C, N, U; empty when not given
	Location           string    // department or unit, as the source names it
	Admit              time.Time // zero when not given
	Discharge          time.Time // zero while the patient is still in
	UpdatedAt          time.Time
	// Clear names the fields the row left empty under empty: clear, by
	// the clinical record's JSON names: "class", "location", "admit",
	// "discharge". Nil when nothing is cleared; shared by records (do not
	// modify it).
	Clear []string
}

// Result is one observation of an order (HL7 OBR/OBX). It has no Clear:
// a result replaces the stored one whole, so an empty value is stored
// empty whatever the mapping's empty rule.
type Result struct {
	OrderNumber        string // the filler or accession number of the order
	MRN                string
	AssigningAuthority string
	Code               string // test code, e.g. a LOINC code or the lab's component id
	CodeSystem         string // e.g. "LN" or "http://loinc.org"; empty when not mapped
	Display            string // the test's name
	Value              string // as written (a decimal keeps its trailing zeros)
	ValueType          string // HL7 table 0125, e.g. NM or ST; NM when the value column is typed int or decimal, else ST, unless mapped
	Units              string
	ReferenceRange     string
	AbnormalFlag       string    // HL7 table 0078 as written (H, L, A, ...); not checked
	Status             string    // HL7 table 0085: C, D, F, I, N, O, P, R, S, U, W, X; empty when not given
	Observed           time.Time // when the specimen was taken or the observation made; zero when not given
	UpdatedAt          time.Time
}

// Precision says how much of a Date is known.
type Precision uint8

// Date precisions, from nothing known to the day.
const (
	PrecisionNone Precision = iota
	PrecisionYear
	PrecisionMonth
	PrecisionDay
)

func (p Precision) String() string {
	switch p {
	case PrecisionNone:
		return "none"
	case PrecisionYear:
		return "year"
	case PrecisionMonth:
		return "month"
	case PrecisionDay:
		return "day"
	}
	return "Precision(" + strconv.Itoa(int(p)) + ")"
}

// Date is a calendar date that may be partial, as birth dates in source
// systems sometimes are ("1948", "1948-07"). Fields below the precision
// are zero; the zero Date is "not given".
type Date struct {
	Year      int
	Month     time.Month // 0 below PrecisionMonth
	Day       int        // 0 below PrecisionDay
	Precision Precision
}

// IsZero reports whether the date is not given.
func (d Date) IsZero() bool { return d.Precision == PrecisionNone }

// String formats the date as ISO 8601 / FHIR does to its precision:
// "1948", "1948-07", "1948-07-14", or "" when not given.
func (d Date) String() string {
	if d.Precision == PrecisionNone {
		return ""
	}
	if d.Year < 0 || d.Year > 9999 {
		switch d.Precision {
		case PrecisionYear:
			return fmt.Sprintf("%04d", d.Year)
		case PrecisionMonth:
			return fmt.Sprintf("%04d-%02d", d.Year, int(d.Month))
		}
		return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day)
	}
	var b [10]byte
	y := d.Year
	b[0], b[1], b[2], b[3] = byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10)
	b[4], b[5], b[6] = '-', byte('0'+int(d.Month)/10), byte('0'+int(d.Month)%10)
	b[7], b[8], b[9] = '-', byte('0'+d.Day/10), byte('0'+d.Day%10)
	return string(b[:d.width()])
}

// width is the length of the date's text for years 0 to 9999.
func (d Date) width() int {
	switch d.Precision {
	case PrecisionYear:
		return 4
	case PrecisionMonth:
		return 7
	}
	return 10
}

// dateOf truncates t (read in its own location) to precision p.
func dateOf(t time.Time, p Precision) Date {
	d := Date{Year: t.Year(), Precision: p}
	if p >= PrecisionMonth {
		d.Month = t.Month()
	}
	if p >= PrecisionDay {
		d.Day = t.Day()
	}
	return d
}

// fieldKind is the Go type a record field holds.
type fieldKind uint8

const (
	kindText fieldKind = iota // string
	kindDate                  // Date
	kindTime                  // time.Time
)

// fieldDef describes one field of an entity for mappings.
type fieldDef struct {
	name  string
	kind  fieldKind
	codes *codeSet // non-nil: the value, when given, must be one of these
	// clears is the clinical record's field (its JSON name, as the
	// update rule of internal/clinical knows it) that an empty value
	// clears under empty: clear; "" for a field never cleared.
	clears string
}

// codeSet is an HL7 table the loader checks coded fields against.
type codeSet struct {
	table string // e.g. "HL7 table 0001"
	list  string // the codes, for messages
	codes map[string]bool
}

func newCodeSet(table string, codes ...string) *codeSet {
	c := &codeSet{table: table, codes: make(map[string]bool, len(codes))}
	for i, code := range codes {
		if i > 0 {
			c.list += ", "
		}
		c.list += code
		c.codes[code] = true
	}
	return c
}

var (
	sexCodes    = newCodeSet("HL7 table 0001 (administrative sex)", "F", "M", "O", "U", "A", "N")
	classCodes  = newCodeSet("HL7 table 0004 (patient class)", "E", "I", "O", "P", "R", "B", "C", "N", "U")
	statusCodes = newCodeSet("HL7 table 0085 (result status)", "C", "D", "F", "I", "N", "O", "P", "R", "S", "U", "W", "X")
)

// entityDef is what the loader knows about an entity: its fields, in the
// order of the values array a row is mapped into, the default key and the
// fields every mapping of it must provide.
type entityDef struct {
	fields     []fieldDef
	defaultKey []string
	mustMap    []string // besides the key fields
}

// Field indexes into the values of a mapped row, per entity.
const (
	pMRN = iota
	pAuthority
	pFamily
	pGiven
	pBirth
	pSex
	pUpdated
)

const (
	eVisit = iota
	eMRN
	eAuthority
	eClass
	eLocation
	eAdmit
	eDischarge
	eUpdated
)

const (
	rOrder = iota
	rMRN
	rAuthority
	rCode
	rSystem
	rDisplay
	rValue
	rValueType
	rUnits
	rRange
	rFlag
	rStatus
	rObserved
	rUpdated
)

var entities = map[Entity]*entityDef{
	EntityPatient: {
		fields: []fieldDef{
			pMRN:       {name: "mrn"},
			pAuthority: {name: "assigning_authority"},
			pFamily:    {name: "family_name", clears: "family"},
			pGiven:     {name: "given_name", clears: "given"},
			pBirth:     {name: "birth_date", kind: kindDate, clears: "birth_date"},
			pSex:       {name: "sex", codes: sexCodes, clears: "sex"},
			pUpdated:   {name: "updated_at", kind: kindTime},
		},
		defaultKey: []string{"assigning_authority", "mrn"},
		mustMap:    []string{"mrn"},
	},
	EntityEncounter: {
		fields: []fieldDef{
			eVisit:     {name: "visit_number"},
			eMRN:       {name: "mrn"},
			eAuthority: {name: "assigning_authority"},
			eClass:     {name: "class", codes: classCodes, clears: "class"},
			eLocation:  {name: "location", clears: "location"},
			eAdmit:     {name: "admit", kind: kindTime, clears: "admit"},
			eDischarge: {name: "discharge", kind: kindTime, clears: "discharge"},
			eUpdated:   {name: "updated_at", kind: kindTime},
		},
		defaultKey: []string{"visit_number"},
		mustMap:    []string{"visit_number", "mrn"},
	},
	EntityResult: {
		fields: []fieldDef{
			rOrder:     {name: "order_number"},
			rMRN:       {name: "mrn"},
			rAuthority: {name: "assigning_authority"},
			rCode:      {name: "code"},
			rSystem:    {name: "code_system"},
			rDisplay:   {name: "display"},
			rValue:     {name: "value"},
			rValueType: {name: "value_type"},
			rUnits:     {name: "units"},
			rRange:     {name: "reference_range"},
			rFlag:      {name: "abnormal_flag"},
			rStatus:    {name: "status", codes: statusCodes},
			rObserved:  {name: "observed", kind: kindTime},
			rUpdated:   {name: "updated_at", kind: kindTime},
		},
		defaultKey: []string{"order_number", "code"},
		mustMap:    []string{"order_number", "code", "mrn"},
	},
}

// fieldIndex returns the index of the named field in e, or -1.
func (e *entityDef) fieldIndex(name string) int {
	for i, f := range e.fields {
		if f.name == name {
			return i
		}
	}
	return -1
}

// value is one mapped field of a row.
type value struct {
	s   string
	d   Date
	t   time.Time
	set bool // false: the field was not mapped or was empty
}

func buildPatient(v []value, clear []string) Patient {
	return Patient{
		MRN:                v[pMRN].s,
		AssigningAuthority: v[pAuthority].s,
		FamilyName:         v[pFamily].s,
		GivenName:          v[pGiven].s,
		BirthDate:          v[pBirth].d,
		Sex:                v[pSex].s,
		UpdatedAt:          v[pUpdated].t,
		Clear:              clear,
	}
}

func buildEncounter(v []value, clear []string) Encounter {
	return Encounter{
		VisitNumber:        v[eVisit].s,
		MRN:                v[eMRN].s,
		AssigningAuthority: v[eAuthority].s,
		Class:              v[eClass].s,
		Location:           v[eLocation].s,
		Admit:              v[eAdmit].t,
		Discharge:          v[eDischarge].t,
		UpdatedAt:          v[eUpdated].t,
		Clear:              clear,
	}
}

func buildResult(v []value, _ []string) Result {
	return Result{
		OrderNumber:        v[rOrder].s,
		MRN:                v[rMRN].s,
		AssigningAuthority: v[rAuthority].s,
		Code:               v[rCode].s,
		CodeSystem:         v[rSystem].s,
		Display:            v[rDisplay].s,
		Value:              v[rValue].s,
		ValueType:          v[rValueType].s,
		Units:              v[rUnits].s,
		ReferenceRange:     v[rRange].s,
		AbnormalFlag:       v[rFlag].s,
		Status:             v[rStatus].s,
		Observed:           v[rObserved].t,
		UpdatedAt:          v[rUpdated].t,
	}
}
