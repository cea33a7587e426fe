package hl7

import (
	"slices"
	"strconv"
	"strings"
)

// MessageType is MSH-9: code^trigger^structure, such as ADT^A01^ADT_A01.
type MessageType struct {
	Code      string // MSH-9.1, table 0076
	Trigger   string // MSH-9.2, table 0003
	Structure string // MSH-9.3, table 0354 (v2.3.1 and later)
}

func (t MessageType) String() string {
	s := t.Code
	if t.Trigger != "" || t.Structure != "" {
		s += "^" + t.Trigger
	}
	if t.Structure != "" {
		s += "^" + t.Structure
	}
	return s
}

// Header holds the MSH fields a receiver routes and acknowledges by. It is
// both what Message.Header reads and what NewMessage writes.
type Header struct {
	Delimiters        Delimiters // MSH-1, MSH-2; DefaultDelimiters when zero
	SendingApp        HD         // MSH-3
	SendingFacility   HD         // MSH-4
	ReceivingApp      HD         // MSH-5
	ReceivingFacility HD         // MSH-6
	Time              DTM        // MSH-7 (Header leaves it zero when MSH-7 is not a valid DTM; see Message.Time)
	Type              MessageType
	ControlID         string // MSH-10
	ProcessingID      string // MSH-11.1: P, D or T
	Version           string // MSH-12.1, such as "2.5.1"
	AcceptAck         string // MSH-15: AL, NE, ER, SU or empty
	AppAck            string // MSH-16
	Charset           string // MSH-18, first repetition; empty means ASCII
}

// Header reads the MSH fields of Header.
func (m *Message) Header() Header {
	h := Header{
		Delimiters:        m.d,
		SendingApp:        hdOf(m.Value("MSH-3")),
		SendingFacility:   hdOf(m.Value("MSH-4")),
		ReceivingApp:      hdOf(m.Value("MSH-5")),
		ReceivingFacility: hdOf(m.Value("MSH-6")),
		Type:              m.Type(),
		ControlID:         m.ControlID(),
		ProcessingID:      m.ProcessingID(),
		Version:           m.Version(),
		AcceptAck:         m.Get("MSH-15"),
		AppAck:            m.Get("MSH-16"),
		Charset:           m.Get("MSH-18"),
	}
	h.Time, _ = m.Time()
	return h
}

// Type returns MSH-9.
func (m *Message) Type() MessageType {
	v := m.Value("MSH-9")
	return MessageType{v.Component(1).String(), v.Component(2).String(), v.Component(3).String()}
}

// ControlID returns MSH-10, the message control ID.
func (m *Message) ControlID() string { return m.Get("MSH-10") }

// ProcessingID returns MSH-11.1 (P production, D debugging, T training).
func (m *Message) ProcessingID() string { return m.Get("MSH-11") }

// Version returns MSH-12.1, the HL7 version, such as "2.5.1".
func (m *Message) Version() string { return m.Get("MSH-12") }

// Time parses MSH-7; an error is a *ParseError wrapping ErrDataType.
func (m *Message) Time() (DTM, error) {
	s := m.First("MSH")
	if s == nil {
		return DTM{}, nil
	}
	return s.dtm(7, s.Field(7))
}

// NewMessage makes a message with an MSH segment from h; empty fields of h
// are left empty. It fails if a value cannot be written (ErrValue) or the
// delimiters are unusable (ErrEncoding).
func NewMessage(h Header) (*Message, error) {
	d := h.Delimiters
	if d == (Delimiters{}) {
		d = DefaultDelimiters
	}
	if _, _, err := parseDelimiters(d.Field, d.Encoding()); err != nil {
		return nil, err
	}
	cs, ok := charsetOf(h.Charset)
	if !ok {
		return nil, because(ErrCharset, "MSH-18: character set not supported (ASCII, 8859/1 and UNICODE UTF-8 are)")
	}
	m := &Message{d: d, cs: cs}
	m.segs = []*Segment{{m: m, fields: []string{"MSH", string(d.Field), d.Encoding()}}}
	set := func(p, v string) error {
		if v == "" {
			return nil
		}
		if err := m.Set(p, v); err != nil {
			return &ParseError{Segment: 1, Location: Location{Segment: "MSH", Sequence: 1, Field: fieldOf(p)}, Err: err}
		}
		return nil
	}
	hds := []struct {
		f  string
		hd HD
	}{{"3", h.SendingApp}, {"4", h.SendingFacility}, {"5", h.ReceivingApp}, {"6", h.ReceivingFacility}}
	for _, x := range hds {
		for i, v := range []string{x.hd.Namespace, x.hd.UniversalID, x.hd.UniversalIDType} {
			if err := set("MSH-"+x.f+"."+strconv.Itoa(i+1), v); err != nil {
				return nil, err
			}
		}
	}
	for _, fv := range [][2]string{
		{"MSH-7", h.Time.String()},
		{"MSH-9.1", h.Type.Code}, {"MSH-9.2", h.Type.Trigger}, {"MSH-9.3", h.Type.Structure},
		{"MSH-10", h.ControlID}, {"MSH-11", h.ProcessingID}, {"MSH-12", h.Version},
		{"MSH-15", h.AcceptAck}, {"MSH-16", h.AppAck}, {"MSH-18", h.Charset},
	} {
		if err := set(fv[0], fv[1]); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// fieldOf returns the field number of a path "SEG-n...".
func fieldOf(p string) int {
	pp, err := parsePath(p)
	if err != nil {
		return 0
	}
	return pp.field
}

// Validate checks the MSH fields every message needs: MSH-9.1 message
// type, MSH-9.2 trigger event (except for ACK), MSH-10 control ID, MSH-11
// processing ID and MSH-12 version. Errors are *ParseError values wrapping
// ErrRequired.
func (m *Message) Validate() error {
	t := m.Type()
	for _, c := range []struct {
		field, comp int
		v           string
	}{
		{9, 1, t.Code}, {9, 2, t.Trigger}, {10, 0, m.ControlID()}, {11, 0, m.ProcessingID()}, {12, 0, m.Version()},
	} {
		if c.field == 9 && c.comp == 2 && t.Code == "ACK" {
			continue
		}
		if strings.TrimSpace(c.v) == "" {
			return &ParseError{Segment: 1, Location: Location{Segment: "MSH", Sequence: 1, Field: c.field, Component: c.comp}, Err: ErrRequired}
		}
	}
	return nil
}

// Supported lists what a receiver accepts, for Check. An empty list
// accepts anything.
type Supported struct {
	Types         map[string][]string // message code to its trigger events; an empty list accepts every event
	ProcessingIDs []string            // MSH-11.1 values
	Versions      []string            // MSH-12.1 values
}

// Check returns a *ParseError naming the MSH field and wrapping
// ErrUnsupportedType, ErrUnsupportedEvent, ErrUnsupportedProcessingID or
// ErrUnsupportedVersion, or nil.
func (s Supported) Check(m *Message) error {
	at := func(field, comp int, err error) error {
		return &ParseError{Segment: 1, Location: Location{Segment: "MSH", Sequence: 1, Field: field, Component: comp}, Err: err}
	}
	t := m.Type()
	if s.Types != nil {
		events, ok := s.Types[t.Code]
		if !ok {
			return at(9, 1, ErrUnsupportedType)
		}
		if len(events) > 0 && !slices.Contains(events, t.Trigger) {
			return at(9, 2, ErrUnsupportedEvent)
		}
	}
	if len(s.ProcessingIDs) > 0 && !slices.Contains(s.ProcessingIDs, m.ProcessingID()) {
		return at(11, 0, ErrUnsupportedProcessingID)
	}
	if len(s.Versions) > 0 && !slices.Contains(s.Versions, m.Version()) {
		return at(12, 0, ErrUnsupportedVersion)
	}
	return nil
}

// versionAtLeast reports whether the HL7 version v ("2.3.1") is at least
// want, comparing numerically part by part. An unreadable v counts as
// recent.
func versionAtLeast(v, want string) bool {
	a, b := strings.Split(v, "."), strings.Split(want, ".")
	for i := range max(len(a), len(b)) {
		x, y := 0, 0
		if i < len(a) {
			n, err := strconv.Atoi(a[i])
			if err != nil {
				return true
			}
			x = n
		}
		if i < len(b) {
			y, _ = strconv.Atoi(b[i])
		}
		if x != y {
			return x > y
		}
	}
	return true
}
