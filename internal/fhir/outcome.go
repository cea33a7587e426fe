package fhir

import (
	"errors"
	"fmt"
	"strings"
)

// Errors an Issue wraps; test with errors.Is.
var (
	ErrSyntax       = errors.New("invalid JSON")
	ErrTooLarge     = errors.New("resource too large")
	ErrResourceType = errors.New("wrong or missing resourceType")
	ErrType         = errors.New("wrong JSON type for element")
	ErrRequired     = errors.New("required element missing")
	ErrCardinality  = errors.New("too many repetitions")
	ErrValue        = errors.New("invalid value")
	ErrProfile      = errors.New("profile requirement not met")
)

// IssueType codes (http://hl7.org/fhir/issue-type) used by this package.
const (
	CodeStructure = "structure"
	CodeInvalid   = "invalid"
	CodeRequired  = "required"
	CodeValue     = "value"
	CodeTooLong   = "too-long"
	CodeException = "exception"
)

// Issue is one problem found while parsing or validating a resource. It is
// an error; OperationOutcome converts it for a FHIR client. Its message
// names elements and expected types, never the content of the resource,
// so that it carries no patient data.
type Issue struct {
	Severity   string // "error" unless set
	Code       string // IssueType code: structure, invalid, required, value, ...
	Expression string // FHIRPath-like location, e.g. "Observation.component[2].valueQuantity.value"
	Message    string // what is wrong, e.g. "expected a JSON number"
	Offset     int64  // byte offset in the input for JSON syntax errors, else 0
	Line       int    // 1-based line of Offset, 0 when unknown
	Column     int    // 1-based column (in bytes) of Offset, 0 when unknown
	Err        error  // one of the Err* sentinels
}

func (e *Issue) Error() string {
	var b strings.Builder
	b.WriteString("fhir: ")
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d, column %d: ", e.Line, e.Column)
	}
	if e.Expression != "" {
		b.WriteString(e.Expression)
		b.WriteString(": ")
	}
	if e.Err != nil {
		b.WriteString(e.Err.Error())
		if e.Message != "" {
			b.WriteString(": ")
		}
	}
	b.WriteString(e.Message)
	return b.String()
}

func (e *Issue) Unwrap() error { return e.Err }

// outcomeIssue converts one Issue.
func (e *Issue) outcomeIssue() OperationOutcomeIssue {
	sev := e.Severity
	if sev == "" {
		sev = "error"
	}
	diag := e.Message
	if e.Err != nil {
		diag = e.Err.Error()
		if e.Message != "" {
			diag += ": " + e.Message
		}
	}
	oi := OperationOutcomeIssue{Severity: sev, Code: e.Code, Diagnostics: diag}
	if e.Code == "" {
		oi.Code = CodeInvalid
	}
	if e.Expression != "" {
		oi.Expression = []string{e.Expression}
	}
	if e.Line > 0 {
		oi.Location = []string{fmt.Sprintf("line %d, column %d (byte offset %d)", e.Line, e.Column, e.Offset)}
	}
	return oi
}

// OperationOutcome returns the issue as an OperationOutcome.
func (e *Issue) OperationOutcome() *OperationOutcome {
	return &OperationOutcome{Issue: []OperationOutcomeIssue{e.outcomeIssue()}}
}

// Issues is the list of problems Validate found; it is an error when not
// empty.
type Issues []*Issue

func (l Issues) Error() string {
	switch len(l) {
	case 0:
		return "fhir: no issues"
	case 1:
		return l[0].Error()
	}
	return fmt.Sprintf("%s (and %d more issues)", l[0].Error(), len(l)-1)
}

// Unwrap returns the issues, so errors.Is(err, ErrRequired) finds any.
func (l Issues) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

// OperationOutcome returns all issues in one OperationOutcome.
func (l Issues) OperationOutcome() *OperationOutcome {
	oo := &OperationOutcome{}
	for _, e := range l {
		oo.Issue = append(oo.Issue, e.outcomeIssue())
	}
	return oo
}

// OutcomeOf converts an error into an OperationOutcome for a client: an
// *Issue or Issues with their detail; any other error as a generic
// "exception" whose text does not include the error (it may carry
// internal detail: log it separately).
func OutcomeOf(err error) *OperationOutcome {
	var is Issues
	if errors.As(err, &is) {
		return is.OperationOutcome()
	}
	var i *Issue
	if errors.As(err, &i) {
		return i.OperationOutcome()
	}
	return &OperationOutcome{Issue: []OperationOutcomeIssue{{
		Severity: "error", Code: CodeException, Diagnostics: "internal error",
	}}}
}

// NewOutcome returns an OperationOutcome with one issue.
func NewOutcome(severity, code, diagnostics string, expression ...string) *OperationOutcome {
	return &OperationOutcome{Issue: []OperationOutcomeIssue{{
		Severity: severity, Code: code, Diagnostics: diagnostics, Expression: expression,
	}}}
}
