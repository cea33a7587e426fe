package extract

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"
)

// memSink is an in-memory Sink that keeps the Sink contract: a batch is
// applied whole or not at all, a record does not replace a later one, the
// watermark only moves forward. It counts what actually changed.
type memSink struct {
	mu         sync.Mutex
	patients   map[string]Patient
	encounters map[string]Encounter
	results    map[string]Result
	watermarks map[string]time.Time

	calls   int // Upsert calls
	commits int // Upsert calls that committed
	changes int // records inserted or changed, watermarks moved

	// failAt, when > 0, makes the failAt-th Upsert call fail (1-based).
	failAt int
	// refuse, when set, refuses records for which it returns a reason.
	refuse func(rec any) string
}

func newMemSink() *memSink {
	return &memSink{
		patients:   map[string]Patient{},
		encounters: map[string]Encounter{},
		results:    map[string]Result{},
		watermarks: map[string]time.Time{},
	}
}

var errInjected = errors.New("injected failure")

func (s *memSink) Watermark(_ context.Context, source string) (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.watermarks[source], nil
}

func (s *memSink) UpsertPatients(ctx context.Context, b *Batch[Patient]) error {
	return upsertMem(s, ctx, b, s.patients, func(p Patient) time.Time { return p.UpdatedAt }, patientField,
		func(p Patient) Patient { p.UpdatedAt, p.Clear = utc(p.UpdatedAt), nil; return p })
}

func (s *memSink) UpsertEncounters(ctx context.Context, b *Batch[Encounter]) error {
	return upsertMem(s, ctx, b, s.encounters, func(e Encounter) time.Time { return e.UpdatedAt }, encounterField,
		func(e Encounter) Encounter {
			e.Admit, e.Discharge, e.UpdatedAt = utc(e.Admit), utc(e.Discharge), utc(e.UpdatedAt)
			e.Clear = nil // records are replaced whole here: an empty field is stored empty
			return e
		})
}

func (s *memSink) UpsertResults(ctx context.Context, b *Batch[Result]) error {
	return upsertMem(s, ctx, b, s.results, func(r Result) time.Time { return r.UpdatedAt }, resultField,
		func(r Result) Result { r.Observed, r.UpdatedAt = utc(r.Observed), utc(r.UpdatedAt); return r })
}

// utc stores instants the way a database does: without their zone.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}

func upsertMem[T any](s *memSink, ctx context.Context, b *Batch[T], into map[string]T, updated func(T) time.Time, field func(T, string) string, norm func(T) T) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.failAt > 0 && s.calls == s.failAt {
		return errInjected
	}
	// Check everything before changing anything: one transaction.
	var refused []error
	seen := map[string]bool{}
	keys := make([]string, len(b.Records))
	for i, r := range b.Records {
		parts := make([]string, len(b.Key))
		for j, k := range b.Key {
			parts[j] = field(r, k)
		}
		keys[i] = strings.Join(parts, "\x00")
		if seen[keys[i]] {
			return fmt.Errorf("batch has key %d twice", i)
		}
		seen[keys[i]] = true
		if s.refuse != nil {
			if why := s.refuse(r); why != "" {
				refused = append(refused, &RecordError{Index: i, Reason: why})
			}
		}
	}
	if len(refused) > 0 {
		return errors.Join(refused...)
	}
	for i, r := range b.Records {
		r = norm(r)
		old, ok := into[keys[i]]
		if ok && updated(old).After(updated(r)) {
			continue
		}
		if ok && reflect.DeepEqual(old, r) {
			continue
		}
		into[keys[i]] = r
		s.changes++
	}
	if !b.Watermark.IsZero() && b.Watermark.After(s.watermarks[b.Source]) {
		s.watermarks[b.Source] = b.Watermark
		s.changes++
	}
	s.commits++
	return nil
}

func patientField(p Patient, name string) string {
	switch name {
	case "mrn":
		return p.MRN
	case "assigning_authority":
		return p.AssigningAuthority
	case "family_name":
		return p.FamilyName
	case "given_name":
		return p.GivenName
	case "sex":
		return p.Sex
	}
	panic("patient key field " + name)
}

func encounterField(e Encounter, name string) string {
	switch name {
	case "visit_number":
		return e.VisitNumber
	case "mrn":
		return e.MRN
	case "assigning_authority":
		return e.AssigningAuthority
	case "class":
		return e.Class
	case "location":
		return e.Location
	}
	panic("encounter key field " + name)
}

func resultField(r Result, name string) string {
	switch name {
	case "order_number":
		return r.OrderNumber
	case "mrn":
		return r.MRN
	case "assigning_authority":
		return r.AssigningAuthority
	case "code":
		return r.Code
	case "code_system":
		return r.CodeSystem
	}
	panic("result key field " + name)
}

// dump lists the stored records, sorted by key, one per line.
func (s *memSink) dump() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var lines []string
	add := func(kind, key string, v any) {
		// Stored records have no Clear (the norm of upsertMem drops it):
		// left out, as before records had one.
		lines = append(lines, strings.Replace(fmt.Sprintf("%s %q %+v", kind, key, v), " Clear:[]}", "}", 1))
	}
	for k, v := range s.patients {
		add("patient", k, v)
	}
	for k, v := range s.encounters {
		add("encounter", k, v)
	}
	for k, v := range s.results {
		add("result", k, v)
	}
	sort.Strings(lines)
	var wms []string
	for k, v := range s.watermarks {
		wms = append(wms, fmt.Sprintf("watermark %s %s", k, v.UTC().Format(time.RFC3339)))
	}
	sort.Strings(wms)
	return strings.Join(append(lines, wms...), "\n")
}

var _ Sink = (*memSink)(nil)
