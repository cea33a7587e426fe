package server

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// Error is a FHIR error: Status and Public (with its issue Code) go to the
// client as an OperationOutcome, Cause only to the log.
type Error struct {
	Status int
	Code   string // the issue type: invalid, not-found, not-supported, ...
	Public string
	Cause  error
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %v", e.Status, e.Public, e.Cause) }
func (e *Error) Unwrap() error { return e.Cause }

func errorf(status int, code, format string, a ...any) *Error {
	return &Error{Status: status, Code: code, Public: fmt.Sprintf(format, a...)}
}

// Outcome is an OperationOutcome with one issue.
func Outcome(severity, code, diagnostics string) map[string]any {
	return map[string]any{
		"resourceType": "OperationOutcome",
		"issue": []any{map[string]any{
			"severity":    severity,
			"code":        code,
			"diagnostics": diagnostics,
		}},
	}
}

// WriteError answers with the OperationOutcome of err (an *Error, or a 500
// with a generic message).
func WriteError(w http.ResponseWriter, err error) {
	e, ok := err.(*Error)
	if !ok {
		e = &Error{Status: http.StatusInternalServerError, Code: "exception", Public: "internal error", Cause: err}
	}
	code := e.Code
	if code == "" {
		code = defaultCode(e.Status)
	}
	writeResource(w, e.Status, Outcome("error", code, e.Public), false)
}

func defaultCode(status int) string {
	switch status {
	case http.StatusNotFound:
		return "not-found"
	case http.StatusUnauthorized, http.StatusForbidden:
		return "forbidden"
	case http.StatusMethodNotAllowed:
		return "not-supported"
	case http.StatusPreconditionFailed, http.StatusConflict:
		return "conflict"
	case http.StatusUnprocessableEntity:
		return "processing"
	case http.StatusServiceUnavailable, http.StatusTooManyRequests:
		return "transient"
	case http.StatusBadRequest:
		return "invalid"
	}
	return "exception"
}

// ContentType is the FHIR JSON media type the server answers with.
const ContentType = "application/fhir+json; charset=utf-8"

// writeResource writes v as FHIR JSON.
func writeResource(w http.ResponseWriter, status int, v any, pretty bool) {
	var b []byte
	var err error
	if pretty {
		b, err = json.MarshalIndent(v, "", "  ")
	} else {
		b, err = json.Marshal(v)
	}
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(Outcome("error", "exception", "internal error"))
	}
	h := w.Header()
	h.Set("Content-Type", ContentType)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
