package hl7

import (
	"strconv"
	"strings"
)

// The Read functions fill a struct from one segment. When a field does
// not hold a valid value of its type (a DTM, a number) the field is left
// zero, the rest is still filled in, and the first such problem is
// returned as a *ParseError wrapping ErrDataType. A segment with another ID
// gives ErrSegment.

// PID is the patient identification segment.
type PID struct {
	ExternalID    CX     // PID-2, before v2.3.1
	Identifiers   []CX   // PID-3, patient identifier list (MRN, ...)
	AlternateIDs  []CX   // PID-4, before v2.3.1
	Names         []XPN  // PID-5
	MothersMaiden []XPN  // PID-6
	BirthDate     DTM    // PID-7
	Sex           string // PID-8, table 0001: F, M, O, U, A, N
	Account       CX     // PID-18, patient account number
	DeathTime     DTM    // PID-29
	Deceased      string // PID-30: Y or N
}

// PV1 is the patient visit segment.
type PV1 struct {
	Class           string // PV1-2, table 0004: I inpatient, O outpatient, E emergency, ...
	Location        PL     // PV1-3, assigned patient location
	AdmissionType   string // PV1-4
	Attending       []XCN  // PV1-7
	Referring       []XCN  // PV1-8
	HospitalService string // PV1-10
	VisitNumber     CX     // PV1-19
	AdmitTime       DTM    // PV1-44
	DischargeTime   DTM    // PV1-45 (first repetition)
}

// MRG is the merge segment of A40 and similar events: the identifiers the
// surviving patient (PID) absorbs.
type MRG struct {
	PriorIdentifiers  []CX  // MRG-1
	PriorAlternateIDs []CX  // MRG-2
	PriorAccount      CX    // MRG-3
	PriorVisit        CX    // MRG-5
	PriorNames        []XPN // MRG-7
}

// ORC is the common order segment.
type ORC struct {
	Control          string // ORC-1, table 0119: NW new, CA cancel, SC status changed, ...
	Placer           EI     // ORC-2, placer order number
	Filler           EI     // ORC-3, filler order number
	PlacerGroup      EI     // ORC-4
	Status           string // ORC-5, table 0038
	TransactionTime  DTM    // ORC-9
	OrderingProvider []XCN  // ORC-12
}

// OBR is the observation request segment.
type OBR struct {
	SetID            string // OBR-1
	Placer           EI     // OBR-2
	Filler           EI     // OBR-3
	Service          CWE    // OBR-4, universal service identifier
	ObservationTime  DTM    // OBR-7
	Specimen         CWE    // OBR-15.1, specimen source (before v2.7; SPM replaces it)
	OrderingProvider []XCN  // OBR-16
	ResultTime       DTM    // OBR-22, results reported or status changed
	ResultStatus     string // OBR-25, table 0123
}

// OBX is an observation or result.
type OBX struct {
	SetID           string  // OBX-1
	ValueType       string  // OBX-2, table 0125: NM, ST, TX, FT, CWE, CE, NR, SN, ED, ...
	Observation     CWE     // OBX-3, such as a LOINC code
	SubID           string  // OBX-4, groups the OBX of one variant, allele, ...
	Values          []Value // OBX-5, one per repetition, structured by ValueType
	Units           CWE     // OBX-6
	ReferenceRange  string  // OBX-7
	Abnormal        []string
	Status          string // OBX-11, table 0085: F final, P preliminary, C corrected, ...
	ObservationTime DTM    // OBX-14
}

// SPM is the specimen segment (v2.5 and later).
type SPM struct {
	SetID          string // SPM-1
	PlacerID       EI     // SPM-2.1 (subcomponents)
	FillerID       EI     // SPM-2.2 (subcomponents)
	Type           CWE    // SPM-4
	CollectionTime DTM    // SPM-17.1, start of the collection
	ReceivedTime   DTM    // SPM-18
}

// position returns the segment's index in its message and its occurrence
// among segments with its ID (0, 0 when not in a message's list).
func (s *Segment) position() (index, seq int) {
	for i, x := range s.m.segs {
		if x.fields[0] == s.fields[0] {
			seq++
		}
		if x == s {
			return i + 1, seq
		}
	}
	return 0, 0
}

// ErrorAt returns err located at a field of the segment (0 for the
// whole segment): its index in the message and its occurrence among the
// segments with its ID, as ERR-2 names it.
func (s *Segment) ErrorAt(field int, err error) *ParseError { return s.errAt(field, 0, 0, err) }

// errAt returns err located at a field of the segment.
func (s *Segment) errAt(field, rep, comp int, err error) *ParseError {
	idx, seq := s.position()
	return &ParseError{Segment: idx, Location: Location{Segment: s.fields[0], Sequence: max(seq, 1), Field: field, Rep: rep, Component: comp}, Err: err}
}

func (s *Segment) dtm(field int, v Value) (DTM, error) {
	d, err := v.DTM()
	if err != nil {
		return DTM{}, s.errAt(field, 0, 0, err)
	}
	return d, nil
}

// reader collects the first error while a segment is read.
type reader struct {
	s   *Segment
	err error
}

func (r *reader) str(f int) string { return r.s.Field(f).String() }

func (r *reader) dtm(f int, v Value) DTM {
	d, err := r.s.dtm(f, v)
	if err != nil && r.err == nil {
		r.err = err
	}
	return d
}

// reps returns the non-empty repetitions of field f.
func (r *reader) reps(f int) []Value {
	var out []Value
	for _, v := range r.s.Field(f).Reps() {
		if v.raw != "" {
			out = append(out, v)
		}
	}
	return out
}

func (r *reader) cxs(f int) []CX {
	var out []CX
	for _, v := range r.reps(f) {
		out = append(out, v.CX())
	}
	return out
}

func (r *reader) xpns(f int) []XPN {
	var out []XPN
	for _, v := range r.reps(f) {
		out = append(out, v.XPN())
	}
	return out
}

func (r *reader) xcns(f int) []XCN {
	var out []XCN
	for _, v := range r.reps(f) {
		out = append(out, v.XCN())
	}
	return out
}

func newReader(s *Segment, id string) (reader, error) {
	if s == nil {
		return reader{}, &ParseError{Location: Location{Segment: id}, Err: ErrNoSegment}
	}
	if s.fields[0] != id {
		return reader{}, s.errAt(0, 0, 0, because(ErrSegment, "not a "+id+" segment"))
	}
	return reader{s: s}, nil
}

// ReadPID reads a PID segment.
func ReadPID(s *Segment) (PID, error) {
	r, err := newReader(s, "PID")
	if err != nil {
		return PID{}, err
	}
	p := PID{
		ExternalID:    s.Field(2).CX(),
		Identifiers:   r.cxs(3),
		AlternateIDs:  r.cxs(4),
		Names:         r.xpns(5),
		MothersMaiden: r.xpns(6),
		BirthDate:     r.dtm(7, s.Field(7)),
		Sex:           r.str(8),
		Account:       s.Field(18).CX(),
		DeathTime:     r.dtm(29, s.Field(29)),
		Deceased:      r.str(30),
	}
	return p, r.err
}

// ReadPV1 reads a PV1 segment.
func ReadPV1(s *Segment) (PV1, error) {
	r, err := newReader(s, "PV1")
	if err != nil {
		return PV1{}, err
	}
	v := PV1{
		Class:           r.str(2),
		Location:        s.Field(3).PL(),
		AdmissionType:   r.str(4),
		Attending:       r.xcns(7),
		Referring:       r.xcns(8),
		HospitalService: r.str(10),
		VisitNumber:     s.Field(19).CX(),
		AdmitTime:       r.dtm(44, s.Field(44)),
		DischargeTime:   r.dtm(45, s.Field(45)),
	}
	return v, r.err
}

// ReadMRG reads an MRG segment.
func ReadMRG(s *Segment) (MRG, error) {
	r, err := newReader(s, "MRG")
	if err != nil {
		return MRG{}, err
	}
	return MRG{
		PriorIdentifiers:  r.cxs(1),
		PriorAlternateIDs: r.cxs(2),
		PriorAccount:      s.Field(3).CX(),
		PriorVisit:        s.Field(5).CX(),
		PriorNames:        r.xpns(7),
	}, nil
}

// ReadORC reads an ORC segment.
func ReadORC(s *Segment) (ORC, error) {
	r, err := newReader(s, "ORC")
	if err != nil {
		return ORC{}, err
	}
	o := ORC{
		Control:          r.str(1),
		Placer:           s.Field(2).EI(),
		Filler:           s.Field(3).EI(),
		PlacerGroup:      s.Field(4).EI(),
		Status:           r.str(5),
		TransactionTime:  r.dtm(9, s.Field(9)),
		OrderingProvider: r.xcns(12),
	}
	return o, r.err
}

// ReadOBR reads an OBR segment.
func ReadOBR(s *Segment) (OBR, error) {
	r, err := newReader(s, "OBR")
	if err != nil {
		return OBR{}, err
	}
	o := OBR{
		SetID:            r.str(1),
		Placer:           s.Field(2).EI(),
		Filler:           s.Field(3).EI(),
		Service:          s.Field(4).CWE(),
		ObservationTime:  r.dtm(7, s.Field(7)),
		Specimen:         CWE{Code: s.Field(15).Component(1).Sub(1).String(), Text: s.Field(15).Component(1).Sub(2).String(), System: s.Field(15).Component(1).Sub(3).String()},
		OrderingProvider: r.xcns(16),
		ResultTime:       r.dtm(22, s.Field(22)),
		ResultStatus:     r.str(25),
	}
	return o, r.err
}

// ReadOBX reads an OBX segment.
func ReadOBX(s *Segment) (OBX, error) {
	r, err := newReader(s, "OBX")
	if err != nil {
		return OBX{}, err
	}
	o := OBX{
		SetID:           r.str(1),
		ValueType:       r.str(2),
		Observation:     s.Field(3).CWE(),
		SubID:           r.str(4),
		Values:          s.Field(5).Reps(),
		Units:           s.Field(6).CWE(),
		ReferenceRange:  r.str(7),
		Status:          r.str(11),
		ObservationTime: r.dtm(14, s.Field(14)),
	}
	for _, v := range r.reps(8) {
		o.Abnormal = append(o.Abnormal, v.String())
	}
	return o, r.err
}

// ReadSPM reads an SPM segment.
func ReadSPM(s *Segment) (SPM, error) {
	r, err := newReader(s, "SPM")
	if err != nil {
		return SPM{}, err
	}
	id := s.Field(2)
	subEI := func(c Value) EI {
		return EI{c.Sub(1).String(), c.Sub(2).String(), c.Sub(3).String(), c.Sub(4).String()}
	}
	o := SPM{
		SetID:          r.str(1),
		PlacerID:       subEI(id.Component(1)),
		FillerID:       subEI(id.Component(2)),
		Type:           s.Field(4).CWE(),
		CollectionTime: r.dtm(17, s.Field(17)),
		ReceivedTime:   r.dtm(18, s.Field(18)),
	}
	return o, r.err
}

// PID reads the first PID segment; ErrNoSegment if there is none.
func (m *Message) PID() (PID, error) { return ReadPID(m.First("PID")) }

// PV1 reads the first PV1 segment; ErrNoSegment if there is none.
func (m *Message) PV1() (PV1, error) { return ReadPV1(m.First("PV1")) }

// MRG reads the first MRG segment; ErrNoSegment if there is none.
func (m *Message) MRG() (MRG, error) { return ReadMRG(m.First("MRG")) }

// Text returns the text of the observation: its repetitions decoded and
// joined by line breaks (for ST, TX and FT values).
func (o OBX) Text() string {
	parts := make([]string, len(o.Values))
	for i, v := range o.Values {
		parts[i] = v.Text()
	}
	return strings.Join(parts, "\n")
}

// Number parses the first value as an NM: an optional sign, digits and an
// optional decimal point. Errors wrap ErrDataType.
func (o OBX) Number() (float64, error) {
	if len(o.Values) == 0 {
		return 0, because(ErrDataType, "no value")
	}
	return ParseNM(o.Values[0].String())
}

// ParseNM parses an NM: an optional sign, digits and an optional decimal
// point, with leading and trailing spaces allowed. Errors wrap
// ErrDataType and do not quote the text.
func ParseNM(s string) (float64, error) {
	s = strings.TrimSpace(s)
	body := strings.TrimLeft(s, "+-")
	if len(s)-len(body) > 1 || body == "" || body == "." || strings.Count(body, ".") > 1 || strings.Trim(body, "0123456789.") != "" {
		return 0, because(ErrDataType, "not a number (NM)")
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, because(ErrDataType, "number out of range (NM)")
	}
	return f, nil
}

// Order is one order or result group: an ORC and/or OBR with the OBX,
// SPM and NTE segments that follow them.
type Order struct {
	ORC   *Segment // nil when the group has none
	OBR   *Segment // nil when the group has none
	OBX   []*Segment
	SPM   []*Segment
	Notes []*Segment // NTE
}

// Orders groups the message's ORC, OBR, OBX, SPM and NTE segments as ORM,
// OML and ORU messages nest them: an ORC starts a group, an OBR joins the
// ORC before it or starts a group of its own, and OBX, SPM and NTE
// segments belong to the group before them. Segments before the first
// group (a patient's NTE, say) are not in any.
func (m *Message) Orders() []Order {
	var out []Order
	cur := func() *Order {
		if len(out) == 0 {
			return nil
		}
		return &out[len(out)-1]
	}
	for _, s := range m.segs {
		switch s.fields[0] {
		case "ORC":
			out = append(out, Order{ORC: s})
		case "OBR":
			if c := cur(); c != nil && c.OBR == nil && c.ORC != nil && len(c.OBX) == 0 && len(c.SPM) == 0 {
				c.OBR = s
			} else {
				out = append(out, Order{OBR: s})
			}
		case "OBX":
			if c := cur(); c != nil {
				c.OBX = append(c.OBX, s)
			}
		case "SPM":
			if c := cur(); c != nil {
				c.SPM = append(c.SPM, s)
			}
		case "NTE":
			if c := cur(); c != nil {
				c.Notes = append(c.Notes, s)
			}
		}
	}
	return out
}
