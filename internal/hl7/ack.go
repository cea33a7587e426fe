package hl7

import (
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// AckCode is MSA-1, table 0008.
type AckCode string

// Original mode codes answer for the application; enhanced mode codes
// answer for the commit to safe storage.
const (
	AA AckCode = "AA" // application accept
	AE AckCode = "AE" // application error
	AR AckCode = "AR" // application reject
	CA AckCode = "CA" // commit accept
	CE AckCode = "CE" // commit error
	CR AckCode = "CR" // commit reject
)

// Severity is ERR-4, table 0516.
type Severity string

const (
	SeverityError   Severity = "E"
	SeverityWarning Severity = "W"
	SeverityInfo    Severity = "I"
	SeverityFatal   Severity = "F"
)

// HL7 error codes, table 0357 (ERR-3).
const (
	CodeAccepted              = 0
	CodeSegmentSequence       = 100
	CodeRequiredFieldMissing  = 101
	CodeDataType              = 102
	CodeTableValueNotFound    = 103
	CodeUnsupportedType       = 200
	CodeUnsupportedEvent      = 201
	CodeUnsupportedProcessing = 202
	CodeUnsupportedVersion    = 203
	CodeUnknownKey            = 204
	CodeDuplicateKey          = 205
	CodeRecordLocked          = 206
	CodeInternal              = 207
)

var codeText = map[int]string{
	CodeAccepted:              "Message accepted",
	CodeSegmentSequence:       "Segment sequence error",
	CodeRequiredFieldMissing:  "Required field missing",
	CodeDataType:              "Data type error",
	CodeTableValueNotFound:    "Table value not found",
	CodeUnsupportedType:       "Unsupported message type",
	CodeUnsupportedEvent:      "Unsupported event code",
	CodeUnsupportedProcessing: "Unsupported processing id",
	CodeUnsupportedVersion:    "Unsupported version id",
	CodeUnknownKey:            "Unknown key identifier",
	CodeDuplicateKey:          "Duplicate key identifier",
	CodeRecordLocked:          "Application record locked",
	CodeInternal:              "Application internal error",
}

// CodeText returns the meaning of an HL7 error code of table 0357 ("Data
// type error" for 102), or "" for a code not in it.
func CodeText(code int) string { return codeText[code] }

// AckError is one ERR segment.
type AckError struct {
	Code     int      // table 0357
	Severity Severity // SeverityError when empty
	Location Location // ERR-2; zero when the error concerns the whole message
	// Message is ERR-8, the user message. It goes back to the sender and
	// into their logs: it must not hold patient data.
	Message string
}

// Mode is how a message asks to be acknowledged (MSH-15, MSH-16).
type Mode struct {
	Enhanced  bool   // MSH-15 or MSH-16 valued
	AcceptAck string // MSH-15: AL, NE, ER, SU ("" counts as AL in enhanced mode)
	AppAck    string // MSH-16
}

// AckMode reads the acknowledgment mode of a message: original mode when
// MSH-15 and MSH-16 are both empty, enhanced mode otherwise.
func AckMode(m *Message) Mode {
	md := Mode{AcceptAck: strings.TrimSpace(m.Get("MSH-15")), AppAck: strings.TrimSpace(m.Get("MSH-16"))}
	md.Enhanced = md.AcceptAck != "" || md.AppAck != ""
	return md
}

// Accept, Error and Reject return the code for the mode: AA/CA, AE/CE,
// AR/CR.
func (md Mode) Accept() AckCode { return md.pick(AA, CA) }
func (md Mode) Error() AckCode  { return md.pick(AE, CE) }
func (md Mode) Reject() AckCode { return md.pick(AR, CR) }

func (md Mode) pick(orig, enh AckCode) AckCode {
	if md.Enhanced {
		return enh
	}
	return orig
}

// CodeFor returns the acknowledgment code for the outcome of receiving a
// message: accept for nil; reject when the message could not be read or
// its MSH asks for what the receiver does not support (200-203), and, in
// original mode, when the receiver failed for reasons of its own (207: the
// sender should try again); error for content errors (100-102), and in
// enhanced mode when the commit failed.
func (md Mode) CodeFor(err error) AckCode {
	switch {
	case err == nil:
		return md.Accept()
	case unreadable(err):
		return md.Reject()
	}
	switch AckErrorFor(err).Code {
	case CodeSegmentSequence, CodeRequiredFieldMissing, CodeDataType, CodeTableValueNotFound, CodeUnknownKey:
		return md.Error()
	case CodeInternal:
		return md.pick(AR, CE)
	}
	return md.Reject()
}

// unreadable reports whether err says the message could not be parsed.
func unreadable(err error) bool {
	for _, s := range []error{ErrNoMSH, ErrEncoding, ErrCharset, ErrTooLarge, ErrSegment, ErrBatch} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// Wanted reports whether the sender asked for an acknowledgment with this
// code. Original mode always wants one. In enhanced mode MSH-15 governs
// commit codes and MSH-16 application codes: AL always, NE never, ER only
// for errors and rejects, SU only for accepts; an empty condition counts
// as AL.
func (md Mode) Wanted(code AckCode) bool {
	if !md.Enhanced {
		return true
	}
	cond := md.AppAck
	if code == CA || code == CE || code == CR {
		cond = md.AcceptAck
	}
	ok := code == AA || code == CA
	switch cond {
	case "NE":
		return false
	case "ER":
		return !ok
	case "SU":
		return ok
	}
	return true
}

// AckErrorFor turns an error into the ERR segment that explains it. A
// *ParseError keeps its location and its text (which holds no message
// content); the code follows its sentinel: ErrRequired 101, ErrDataType
// and the encoding and character set errors 102, segment and structure
// errors 100, ErrUnsupported* 200-203, ErrUnknownKey 204. Any other error, which may come
// from anywhere and say anything, becomes 207 with a fixed text.
func AckErrorFor(err error) AckError {
	if err == nil {
		return AckError{Code: CodeAccepted, Severity: SeverityInfo}
	}
	var pe *ParseError
	if !errors.As(err, &pe) {
		return AckError{Code: CodeInternal, Severity: SeverityError, Message: "The receiver could not process the message; it may be sent again later"}
	}
	ae := AckError{Severity: SeverityError, Location: pe.Location, Message: pe.Error()}
	switch {
	case errors.Is(err, ErrRequired):
		ae.Code = CodeRequiredFieldMissing
	case errors.Is(err, ErrDataType), errors.Is(err, ErrEncoding), errors.Is(err, ErrCharset):
		ae.Code = CodeDataType
	case errors.Is(err, ErrNoMSH), errors.Is(err, ErrSegment), errors.Is(err, ErrNoSegment), errors.Is(err, ErrBatch):
		ae.Code = CodeSegmentSequence
	case errors.Is(err, ErrUnsupportedType):
		ae.Code = CodeUnsupportedType
	case errors.Is(err, ErrUnsupportedEvent):
		ae.Code = CodeUnsupportedEvent
	case errors.Is(err, ErrUnsupportedProcessingID):
		ae.Code = CodeUnsupportedProcessing
	case errors.Is(err, ErrUnsupportedVersion):
		ae.Code = CodeUnsupportedVersion
	case errors.Is(err, ErrUnknownKey):
		ae.Code = CodeUnknownKey
	default: // ErrTooLarge and the rest
		ae.Code = CodeInternal
	}
	if unreadable(err) {
		ae.Severity = SeverityFatal
	}
	return ae
}

// Ack builds the acknowledgment of msg: MSH with sender and receiver
// swapped, MSH-7 now, MSH-9 ACK^trigger^ACK (ACK^trigger before v2.3.1),
// MSH-10 controlID, processing ID, version and character set copied; MSA
// with code and msg's control ID; one ERR per error. ERR follows v2.5
// (ERR-2 location, ERR-3 code, ERR-4 severity, ERR-8 text); for earlier
// versions ERR-1 and MSA-3 are written as well, which those receivers
// read. Text that cannot be written in msg's character set is replaced.
func Ack(msg *Message, code AckCode, errs []AckError, now time.Time, controlID string) *Message {
	h := msg.Header()
	return buildAck(ackHeader{
		d:         msg.d,
		sendApp:   msg.Value("MSH-5").Raw(),
		sendFac:   msg.Value("MSH-6").Raw(),
		recvApp:   msg.Value("MSH-3").Raw(),
		recvFac:   msg.Value("MSH-4").Raw(),
		trigger:   h.Type.Trigger,
		procID:    msg.Value("MSH-11").Raw(),
		version:   msg.Value("MSH-12").Raw(),
		charset:   h.Charset,
		controlID: h.ControlID,
	}, code, errs, now, controlID)
}

// ackHeader is what an acknowledgment copies from the message: raw
// (encoded) fields, so that composite values survive unchanged.
type ackHeader struct {
	d                                  Delimiters
	sendApp, sendFac, recvApp, recvFac string
	trigger, procID, version, charset  string
	controlID                          string
}

func buildAck(h ackHeader, code AckCode, errs []AckError, now time.Time, controlID string) *Message {
	cs, ok := charsetOf(h.charset)
	if !ok {
		cs, h.charset = csDefault, ""
	}
	m := &Message{d: h.d, cs: cs}
	msh := &Segment{m: m, fields: []string{"MSH", string(h.d.Field), h.d.Encoding()}}
	m.segs = []*Segment{msh}
	raw := func(s *Segment, f int, v string) {
		for len(s.fields) <= f {
			s.fields = append(s.fields, "")
		}
		s.fields[f] = v
	}
	set := func(s *Segment, p, v string) {
		if v == "" {
			return
		}
		if s.Set(p, v) != nil {
			s.Set(p, asciiOnly(v))
		}
	}
	raw(msh, 3, h.sendApp)
	raw(msh, 4, h.sendFac)
	raw(msh, 5, h.recvApp)
	raw(msh, 6, h.recvFac)
	set(msh, "7", DTMOf(now, PrecisionSecond).String())
	version := piece(piece(h.version, h.d.Repetition, 1), h.d.Component, 1)
	set(msh, "9.1", "ACK")
	if h.trigger != "" {
		set(msh, "9.2", h.trigger)
		if version == "" || versionAtLeast(version, "2.3.1") {
			set(msh, "9.3", "ACK")
		}
	}
	set(msh, "10", controlID)
	raw(msh, 11, h.procID)
	raw(msh, 12, h.version)
	set(msh, "18", h.charset)
	for len(msh.fields) > 3 && msh.fields[len(msh.fields)-1] == "" {
		msh.fields = msh.fields[:len(msh.fields)-1]
	}

	old := version != "" && !versionAtLeast(version, "2.5")
	msa, _ := m.Append("MSA")
	set(msa, "1", string(code))
	set(msa, "2", h.controlID)
	if old && len(errs) > 0 {
		set(msa, "3", limitText(errs[0].Message, 80))
	}
	for _, e := range errs {
		err, _ := m.Append("ERR")
		loc := e.Location
		if old {
			set(err, "1.1", loc.Segment)
			set(err, "1.2", itoa(loc.Sequence))
			set(err, "1.3", itoa(loc.Field))
			set(err, "1.4.1", strconv.Itoa(e.Code))
			set(err, "1.4.2", codeText[e.Code])
			set(err, "1.4.3", "HL70357")
		}
		set(err, "2.1", loc.Segment)
		set(err, "2.2", itoa(loc.Sequence))
		set(err, "2.3", itoa(loc.Field))
		set(err, "2.4", itoa(loc.Rep))
		set(err, "2.5", itoa(loc.Component))
		set(err, "2.6", itoa(loc.Sub))
		set(err, "3.1", strconv.Itoa(e.Code))
		set(err, "3.2", codeText[e.Code])
		set(err, "3.3", "HL70357")
		sev := e.Severity
		if sev == "" {
			sev = SeverityError
		}
		set(err, "4", string(sev))
		set(err, "8", limitText(e.Message, 250))
	}
	return m
}

// AckUnparsed builds a reject (AR, or CR when the salvaged MSH-15 or
// MSH-16 is valued) for bytes that could not be parsed, explaining err
// (see AckErrorFor). It salvages from the first line what it can: sender
// and receiver (swapped), trigger event, control ID, processing ID,
// version, acknowledgment types; values with unexpected characters are
// dropped. The reply uses |^~\& and no character set; when no version or
// processing ID can be salvaged it says 2.5 and P, as MSH needs some.
func AckUnparsed(raw []byte, err error, now time.Time, controlID string) *Message {
	return AckUnparsedError(raw, AckErrorFor(err), now, controlID)
}

// AckUnparsedError is AckUnparsed with the ERR segment given.
func AckUnparsedError(raw []byte, ae AckError, now time.Time, controlID string) *Message {
	f := salvage(raw).v
	if f[11] == "" {
		f[11] = "P"
	}
	if f[12] == "" {
		f[12] = "2.5"
	}
	h := ackHeader{
		d:         DefaultDelimiters,
		sendApp:   f[5],
		sendFac:   f[6],
		recvApp:   f[3],
		recvFac:   f[4],
		trigger:   f[92],
		procID:    f[11],
		version:   f[12],
		controlID: f[10],
	}
	md := Mode{AcceptAck: f[15], AppAck: f[16]}
	md.Enhanced = md.AcceptAck != "" || md.AppAck != ""
	return buildAck(h, md.Reject(), []AckError{ae}, now, controlID)
}

// Salvaged is what Salvage reads of the header of a message that does not
// parse.
type Salvaged struct {
	SendingApp      string      // MSH-3.1
	SendingFacility string      // MSH-4.1
	Type            MessageType // MSH-9.1, MSH-9.2 and MSH-9.3, as Message.Type reads them
	ControlID       string      // MSH-10
	// Keyed: the MSH could be split into fields and MSH-3, MSH-4 and
	// MSH-10 were read whole (each empty, or copied as written), with a
	// control ID, so that sender and control ID name the message as
	// they would had it parsed: a receiver may deduplicate by them.
	Keyed bool
}

// Salvage reads MSH-3, MSH-4, MSH-9 and MSH-10 from the first line of
// raw when the message as a whole cannot be parsed (an unsupported
// character set, bad encoding characters, a malformed segment further
// on), as AckUnparsed does: only values made of letters, digits and
// . _ - : / and spaces, at most 64 bytes, are copied; escape sequences
// are not decoded. It reads at most the first 4096 bytes.
func Salvage(raw []byte) Salvaged {
	s := salvage(raw)
	if !s.split {
		return Salvaged{}
	}
	out := Salvaged{SendingApp: s.v[3], SendingFacility: s.v[4], Type: MessageType{Code: s.v[91], Trigger: s.v[92], Structure: s.v[93]}, ControlID: s.v[10]}
	out.Keyed = s.split && out.ControlID != "" && !s.dropped[3] && !s.dropped[4] && !s.dropped[10]
	return out
}

// salvaged is what salvage read: values by MSH field number (91 and 92
// hold MSH-9.1, MSH-9.2 and MSH-9.3), whether the line could be split at a valid
// field separator, and the fields present but not copied.
type salvaged struct {
	v       map[int]string
	split   bool
	dropped map[int]bool
}

// salvage reads MSH fields from the start of raw, keeping only values
// made of letters, digits and . _ - : / and spaces, at most 64 bytes.
func salvage(raw []byte) salvaged {
	out := salvaged{v: map[int]string{}, dropped: map[int]bool{}}
	s := string(raw[:min(len(raw), 4096)])
	s = strings.TrimLeft(strings.TrimPrefix(s, bom), " \t\r\n\x0b\x00")
	if !strings.HasPrefix(s, "MSH") || len(s) < 5 {
		return out
	}
	line, whole := s, false
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		line, whole = s[:i], true
	}
	if len(line) < 4 {
		return out
	}
	fs, cs := line[3], byte('^')
	if len(line) > 4 && validDelimiter(line[4]) && line[4] != fs {
		cs = line[4]
	}
	out.split = validDelimiter(fs)
	fields := strings.Split(line, string(fs))
	if !whole && len(fields) > 1 {
		// The line goes on past what was read: its last field may be cut.
		fields = fields[:len(fields)-1]
	}
	for n := 3; n <= 16 && n <= len(fields); n++ {
		v := fields[n-1]
		if n == 9 {
			parts := strings.Split(v, string(cs))
			if plain(parts[0]) {
				out.v[91] = parts[0]
			}
			if len(parts) > 1 && plain(parts[1]) {
				out.v[92] = parts[1]
			}
			if len(parts) > 2 && plain(parts[2]) {
				out.v[93] = parts[2]
			}
			continue
		}
		if n == 3 || n == 4 || n == 5 || n == 6 {
			v, _, _ = strings.Cut(v, string(cs))
		}
		if plain(v) {
			out.v[n] = v
		} else {
			out.dropped[n] = true
		}
	}
	return out
}

// plain reports whether a salvaged value is safe to copy.
func plain(v string) bool {
	if len(v) > 64 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("._-:/ ", c) >= 0) {
			return false
		}
	}
	return true
}

func itoa(n int) string {
	if n <= 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// limitText shortens s to at most n bytes at a character boundary.
func limitText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// asciiOnly replaces what is not printable ASCII with '?'.
func asciiOnly(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c >= 0x7f {
			b[i] = '?'
		}
	}
	return string(b)
}
