package audit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/clinomics/clinomics/internal/catalog"
)

// Event is one audit record. Callers set Actor, Action, Outcome and what
// else applies; Time defaults to the time of Record; Seq, Prev and Hash
// are filled in when the record is appended.
type Event = catalog.AuditEvent

// Outcomes of an audited action.
const (
	OK      = "ok"      // done
	Denied  = "denied"  // not authorized, or not authenticated
	Error   = "error"   // attempted and failed
	Refused = "refused" // not allowed now: legal hold, retention, bad request
)

// ErrInvalid is returned (wrapped) by Record for an event it will not write.
var ErrInvalid = errors.New("audit: invalid event")

// Limits on field sizes, in bytes. Free text (Detail, BreakGlass) is cut
// to its limit; an identifier over its limit is refused, never shortened.
const (
	maxID     = 256
	maxPath   = 1024
	maxDetail = 2048
)

// clean checks e before it is queued and returns it with free text made
// safe for every export format: valid UTF-8, control characters replaced
// by spaces, cut to length.
func clean(e Event) (Event, error) {
	switch e.Outcome {
	case OK, Denied, Error, Refused:
	default:
		return e, fmt.Errorf("%w: outcome %q is not ok, denied, error or refused", ErrInvalid, e.Outcome)
	}
	if e.Actor == "" || e.Action == "" {
		return e, fmt.Errorf("%w: actor and action are required", ErrInvalid)
	}
	for _, f := range []struct {
		name, v string
		max     int
	}{
		{"actor", e.Actor, maxID}, {"action", e.Action, maxID}, {"patient", e.Patient, maxID},
		{"source", e.Source, maxID}, {"resource", e.Resource, maxPath},
	} {
		if len(f.v) > f.max {
			return e, fmt.Errorf("%w: %s longer than %d bytes", ErrInvalid, f.name, f.max)
		}
		if !utf8.ValidString(f.v) || strings.ContainsFunc(f.v, IsControl) {
			return e, fmt.Errorf("%w: %s is not printable UTF-8", ErrInvalid, f.name)
		}
	}
	e.Detail = freeText(e.Detail)
	e.BreakGlass = freeText(e.BreakGlass)
	return e, nil
}

// IsControl reports the characters no audit field may hold (C0, DEL, C1).
func IsControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }

func freeText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if IsControl(r) {
			return ' '
		}
		return r
	}, s)
	if len(s) <= maxDetail {
		return s
	}
	cut := maxDetail - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// Appender appends one record durably (the catalog's AppendAudit).
type Appender interface {
	AppendAudit(ctx context.Context, e catalog.AuditEvent) (catalog.AuditEvent, error)
}

// Append checks e as Record does and appends it at once, durably: for
// processes that write a few records (the CLI, pipeline runs, ingest) and
// keep no Log. A read of patient data must not go ahead when it fails.
func Append(ctx context.Context, st Appender, e Event) error {
	e, err := clean(e)
	if err != nil {
		return err
	}
	if _, err := st.AppendAudit(ctx, e); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// ObjectAccess is the record of actor reading or writing (action
// "lake.read", "lake.write") a version of a lake object of patient.
func ObjectAccess(actor, source, action, path, version, patient string) Event {
	return Event{Actor: actor, Source: source, Action: action, Resource: path + "@" + version, Patient: patient, Outcome: OK}
}
