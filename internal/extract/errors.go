package extract

import (
	"errors"
	"strconv"
	"strings"
)

// Sentinel causes of rejected rows (in a *RowError) and failed files (in a
// *FileError).
var (
	ErrFieldCount = errors.New("wrong number of fields")
	ErrQuote      = errors.New("bad quoting")
	ErrTooLarge   = errors.New("too large")
	ErrEncoding   = errors.New("bad encoding")
	ErrRequired   = errors.New("required")
	ErrDate       = errors.New("not a date")
	ErrNumber     = errors.New("not a number")
	ErrUnmapped   = errors.New("value not mapped")
	ErrCode       = errors.New("not a valid code")
	ErrFuture     = errors.New("watermark in the future")
	ErrNoHeader   = errors.New("no header row")
	ErrHeader     = errors.New("header does not match the mapping")
	ErrSink       = errors.New("refused by the database")
)

// RowError says why a row was rejected. Its message names the column and
// what was expected, never the cell's value: reasons go to logs and
// summaries as well as to the reject file.
type RowError struct {
	Line   int    // first line of the row in the file, 1-based
	Column string // the column(s) at fault, e.g. "BIRTH_DATE"; empty for the whole row
	Msg    string // details, e.g. "not a date in layout 2006-01-02"
	Err    error  // one of the Err* sentinels
}

// Reason is the message without the line: what the reject file's reason
// column holds, e.g. "column BIRTH_DATE: not a date in layout 2006-01-02".
func (e *RowError) Reason() string {
	var b strings.Builder
	if e.Column != "" {
		b.WriteString("column ")
		b.WriteString(e.Column)
		b.WriteString(": ")
	}
	if e.Msg != "" {
		b.WriteString(e.Msg)
	} else {
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *RowError) Error() string {
	return "line " + strconv.Itoa(e.Line) + ": " + e.Reason()
}

func (e *RowError) Unwrap() error { return e.Err }

// FileError says why a whole file could not be loaded: it has no header,
// its header lacks a mapped column, or it is in an encoding the mapping
// does not name. A load that fails with a
// FileError will fail again on the same file; any other load error (the
// database, the context, reading the file) may pass on a retry.
type FileError struct {
	Name string // the file's name as given to the Loader
	Line int    // 0 when not tied to a line
	Msg  string
	Err  error
}

func (e *FileError) Error() string {
	var b strings.Builder
	if e.Name != "" {
		b.WriteString(e.Name)
		b.WriteString(": ")
	}
	if e.Line > 0 {
		b.WriteString("line ")
		b.WriteString(strconv.Itoa(e.Line))
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	if e.Msg != "" {
		b.WriteString(": ")
		b.WriteString(e.Msg)
	}
	return b.String()
}

func (e *FileError) Unwrap() error { return e.Err }

// RecordError is what a Sink returns to refuse some records of a batch
// and not the others: Index is the record's position in Batch.Records.
// Several are returned joined with errors.Join.
type RecordError struct {
	Index int
	// Reason goes to the reject file after "refused by the database: ".
	// It must not quote the record's values: say "mrn longer than 64
	// characters", not the MRN.
	Reason string
}

func (e *RecordError) Error() string {
	return "record " + strconv.Itoa(e.Index) + " refused: " + e.Reason
}

// recordErrors returns the RecordErrors err is made of, or nil when err
// holds anything else.
func recordErrors(err error) []*RecordError {
	var out []*RecordError
	var walk func(error) bool
	walk = func(e error) bool {
		if re, ok := e.(*RecordError); ok {
			out = append(out, re)
			return true
		}
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				if !walk(x) {
					return false
				}
			}
			return len(j.Unwrap()) > 0
		}
		return false
	}
	if err == nil || !walk(err) {
		return nil
	}
	return out
}
