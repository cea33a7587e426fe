package report

import (
	"errors"
	"fmt"
)

// Errors of the workflow. Each is returned wrapped; test with errors.Is.
var (
	// ErrNotFound: no report has the id.
	ErrNotFound = errors.New("report: not found")
	// ErrState: the action is not allowed from the report's status (see
	// the diagram on Status).
	ErrState = errors.New("report: not allowed in this status")
	// ErrImmutable: the report is signed; its content never changes (a
	// correction is an amendment).
	ErrImmutable = errors.New("report: a signed report cannot change; amend it instead")
	// ErrStale: the report changed since the caller read it (another
	// person acted first); read it again and retry.
	ErrStale = errors.New("report: changed since it was read")
	// ErrFourEyes: the person who reviewed a report may not also sign it
	// out (unless Options.SingleSignOut).
	ErrFourEyes = errors.New("report: the reviewer cannot also sign the report out")
	// ErrTampered: the stored report does not match its recorded content
	// hash, or its sealed content does not open.
	ErrTampered = errors.New("report: stored report was altered outside the workflow")
)

// StateError is ErrState with its reason, which names statuses and report
// ids only (it is shown to the caller).
type StateError struct{ Reason string }

func (e *StateError) Error() string        { return e.Reason + ": " + ErrState.Error() }
func (e *StateError) Is(target error) bool { return target == ErrState }

func stateErr(format string, a ...any) error {
	return &StateError{Reason: fmt.Sprintf(format, a...)}
}

// FieldError is a problem with one field of a draft. Field is the JSON
// path (e.g. "Variants[1].Gene"); Problem never repeats the value (it may
// be patient data).
type FieldError struct {
	Field   string
	Problem string
}

func (e *FieldError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Problem) }

func fieldErr(field, format string, a ...any) *FieldError {
	return &FieldError{Field: field, Problem: fmt.Sprintf(format, a...)}
}
