package hl7

import (
	"errors"
	"strconv"
	"strings"
)

// Sentinel causes, wrapped in a *ParseError.
var (
	ErrNoMSH      = errors.New("no MSH segment where a message must start")
	ErrEncoding   = errors.New("bad encoding characters")
	ErrCharset    = errors.New("character set error")
	ErrTooLarge   = errors.New("exceeds a size limit")
	ErrSegment    = errors.New("malformed segment")
	ErrBatch      = errors.New("malformed batch")
	ErrRequired   = errors.New("required field missing")
	ErrDataType   = errors.New("data type error")
	ErrNoSegment  = errors.New("required segment missing")
	ErrPath       = errors.New("bad path")
	ErrValue      = errors.New("value cannot be written")
	ErrNotAllowed = errors.New("field cannot be set")
	ErrUnknownKey = errors.New("unknown key identifier") // the record a field names is not known to the receiver

	// Returned (wrapped in a *ParseError naming the MSH field) by
	// Supported.Check, for the receiver to reject with codes 200-203.
	ErrUnsupportedType         = errors.New("unsupported message type")
	ErrUnsupportedEvent        = errors.New("unsupported event code")
	ErrUnsupportedProcessingID = errors.New("unsupported processing id")
	ErrUnsupportedVersion      = errors.New("unsupported version id")
)

// Location names an element of a message, as ERR-2 does.
type Location struct {
	Segment   string // segment ID, e.g. "PID"; empty when unknown
	Sequence  int    // occurrence of the segment in the message, 1 for the first
	Field     int    // 0 when the location is the whole segment
	Rep       int    // 0 when not tied to a repetition
	Component int
	Sub       int
}

// String gives the location in path form: "PID-5", "OBX[3]-5(2).1".
func (l Location) String() string {
	var b strings.Builder
	seg := l.Segment
	if seg == "" {
		seg = "segment"
	}
	b.WriteString(seg)
	if l.Sequence > 1 {
		b.WriteByte('[')
		b.WriteString(strconv.Itoa(l.Sequence))
		b.WriteByte(']')
	}
	if l.Field > 0 {
		b.WriteByte('-')
		b.WriteString(strconv.Itoa(l.Field))
		if l.Rep > 0 {
			b.WriteByte('(')
			b.WriteString(strconv.Itoa(l.Rep))
			b.WriteByte(')')
		}
		if l.Component > 0 {
			b.WriteByte('.')
			b.WriteString(strconv.Itoa(l.Component))
			if l.Sub > 0 {
				b.WriteByte('.')
				b.WriteString(strconv.Itoa(l.Sub))
			}
		}
	}
	return b.String()
}

// ParseError says where a message is wrong. Positions are 1-based; a zero
// means "not tied to one". Its text never contains values from the message.
type ParseError struct {
	Message int // index of the message in a batch file; 0 from Parse
	Line    int // line of the input (CR, LF and CRLF end a line); 0 when the error did not come from reading input
	Offset  int // byte offset in the input where the problem was found; meaningful when Line > 0
	Segment int // index of the segment in its message, counting from 1 for MSH
	Location
	Err error
}

func (e *ParseError) Error() string {
	var b strings.Builder
	b.WriteString("hl7: ")
	sep := ""
	if e.Message > 0 {
		b.WriteString("message ")
		b.WriteString(strconv.Itoa(e.Message))
		sep = ", "
	}
	if e.Line > 0 {
		b.WriteString(sep)
		b.WriteString("line ")
		b.WriteString(strconv.Itoa(e.Line))
		b.WriteString(", byte ")
		b.WriteString(strconv.Itoa(e.Offset))
		sep = ", "
	}
	if e.Segment > 0 {
		b.WriteString(sep)
		b.WriteString("segment ")
		b.WriteString(strconv.Itoa(e.Segment))
		sep = ", "
	}
	if sep != "" {
		b.WriteString(": ")
	}
	if e.Location.Segment != "" {
		b.WriteString(e.Location.String())
		b.WriteString(": ")
	}
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *ParseError) Unwrap() error { return e.Err }

// reason wraps a sentinel with a fixed explanation. Explanations are
// written in this package and never contain message content.
type reason struct {
	sentinel error
	text     string
}

func (r *reason) Error() string { return r.sentinel.Error() + ": " + r.text }
func (r *reason) Unwrap() error { return r.sentinel }

func because(sentinel error, text string) error { return &reason{sentinel, text} }
