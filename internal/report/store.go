package report

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/clinomics/clinomics/internal/audit"
	"github.com/clinomics/clinomics/internal/catalog"
)

// Catalog is the part of the catalog reports are kept in (catalog.Reports).
type Catalog interface {
	// InReportTx runs fn in one durable transaction, committed only if fn returns nil.
	InReportTx(ctx context.Context, fn func(tx catalog.ReportTx) error) error
	// GetReport returns catalog.ErrNotFound or catalog.ErrTampered.
	GetReport(ctx context.Context, id string) (catalog.ReportRow, error)
	ListReports(ctx context.Context, f catalog.ReportFilter) ([]catalog.ReportRow, error)
}

// Sealer seals and opens a record bound to its kind and id (clinical.DB:
// AES-256-GCM under the clinical data key).
type Sealer interface {
	Seal(kind, id string, b []byte) ([]byte, error)
	// Open fails when b was not sealed for kind/id under the key.
	Open(kind, id string, b []byte) ([]byte, error)
}

// AuditNotifier is told of the audit records the Store appended in its
// own transactions (audit.Log.Appended), so signed checkpoints cover them.
type AuditNotifier interface {
	Appended(es []catalog.AuditEvent)
}

// Options tune a Store.
type Options struct {
	// SingleSignOut lets the person who reviewed a report also sign it
	// out. Off by default: sign-out then needs two people (four eyes).
	// Only a laboratory whose director works alone should turn it on.
	SingleSignOut bool
	// Hooks run inside the transaction that signs a report (see SignedHook).
	Hooks []SignedHook
	// Notify, when set, is called after a signing transaction commits:
	// a nudge for the senders (wake up, the outbox has work). It must not
	// block, and nothing may depend on it being called.
	Notify func(Report)
	// Complete, when set, fills in a new draft from the clinical database
	// before it is stored: the patient's demographics and identifiers from
	// Patient.ID, the order from Order.ID or the specimen's sample id. The
	// annotator's draft names the patient by pseudonymous id only.
	Complete func(ctx context.Context, r *Report) error
	Audit    AuditNotifier // may be nil
	Log      *slog.Logger  // may be nil
	Now      func() time.Time
}

// Store keeps clinical reports in the catalog: the content sealed (it is
// patient data), the workflow state in the clear. It enforces the
// workflow (see Status); who may take which step (reports:write,
// reports:review, reports:sign) is the caller's to check. Each step
// appends a Signature to the report and writes its audit record in the
// same transaction. Concurrency is optimistic: every write is conditional
// on the report's Updated being what the writer read, so of two people
// acting on the same state only the first succeeds (the other gets
// ErrStale or ErrState).
type Store struct {
	cat  Catalog
	seal Sealer
	opts Options
}

// NewStore returns the Store over cat, sealing with s.
func NewStore(cat Catalog, s Sealer, opts Options) *Store {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	return &Store{cat: cat, seal: s, opts: opts}
}

// Actor is who takes a step.
type Actor struct {
	Audit  string // as in the audit trail: "user:<sub>", "token:<id>", "cli:<login>"
	Person string // the person behind it (a token's owner), compared for four eyes; "" means Audit
	Name   string // display name, printed in the sign-out block
	Source string // remote address, or "cli"
}

func (a Actor) person() string {
	if a.Person != "" {
		return a.Person
	}
	return a.Audit
}

// Op is a workflow step's parameters.
type Op struct {
	By Actor
	// Note is free text kept in the Signature: a review comment, or the
	// reason for an amendment (required there). It is patient-adjacent
	// free text: it is sealed with the report and never audited.
	Note string
	// IfUpdated, when not zero, is the report's Updated as the actor read
	// it: the step fails with ErrStale if the report changed since.
	IfUpdated time.Time
}

// Summary is a report as listed: its clear columns only, no patient data.
type Summary struct {
	ID        string    `json:"id"`
	Status    Status    `json:"status"`
	Amends    string    `json:"amends,omitempty"`
	Version   int       `json:"version"`
	PatientID string    `json:"patient_id"`
	OrderID   string    `json:"order_id,omitempty"`
	Created   time.Time `json:"created"`
	Updated   time.Time `json:"updated"`
	Signed    time.Time `json:"signed,omitzero"`
}

// Filter narrows List; zero fields match everything.
type Filter struct {
	PatientID string
	Status    Status
	Limit     int // 0: 1000
}

const sealKind = "report"

func newID() string {
	b := make([]byte, 10)
	rand.Read(b)
	return "rpt-" + hex.EncodeToString(b)
}

// catalogErr translates the catalog's errors into the package's.
func catalogErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, catalog.ErrNotFound):
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	case errors.Is(err, catalog.ErrStale):
		return fmt.Errorf("%w: %w", ErrStale, err)
	case errors.Is(err, catalog.ErrImmutable):
		return fmt.Errorf("%w: %w", ErrImmutable, err)
	case errors.Is(err, catalog.ErrTampered):
		return fmt.Errorf("%w: %w", ErrTampered, err)
	}
	return err
}

// row seals r into its catalog row.
func (s *Store) row(r Report) (catalog.ReportRow, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return catalog.ReportRow{}, err
	}
	sealed, err := s.seal.Seal(sealKind, r.ID, b)
	clear(b)
	if err != nil {
		return catalog.ReportRow{}, fmt.Errorf("report %s: sealing: %w", r.ID, err)
	}
	return catalog.ReportRow{ID: r.ID, Status: string(r.Status), Amends: r.Amends, Version: r.Version,
		PatientID: r.Patient.ID, OrderID: r.Order.ID, Sealed: sealed, Created: r.Created, Updated: r.Updated}, nil
}

// open unseals a row. The clear columns are authoritative for the state
// that may change after signing (Status, Updated).
func (s *Store) open(row catalog.ReportRow) (Report, error) {
	b, err := s.seal.Open(sealKind, row.ID, row.Sealed)
	if err != nil {
		return Report{}, fmt.Errorf("report %s: %w", row.ID, ErrTampered)
	}
	defer clear(b)
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return Report{}, fmt.Errorf("report %s: sealed content: %w", row.ID, err)
	}
	if r.ID != row.ID || r.Patient.ID != row.PatientID || r.Amends != row.Amends || r.Version != row.Version {
		return Report{}, fmt.Errorf("report %s: clear columns disagree with the content: %w", row.ID, ErrTampered)
	}
	r.Status, r.Created, r.Updated = Status(row.Status), row.Created, row.Updated
	return r, nil
}

// Get returns the report, or ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (Report, error) {
	row, err := s.cat.GetReport(ctx, id)
	if err != nil {
		return Report{}, catalogErr(err)
	}
	return s.open(row)
}

// List returns the summaries of the reports that f matches, oldest
// first. It opens nothing sealed.
func (s *Store) List(ctx context.Context, f Filter) ([]Summary, error) {
	if f.Status != "" {
		if _, ok := next[f.Status]; !ok {
			return nil, fieldErr("status", "must be one of draft, reviewed, signed, superseded")
		}
	}
	rows, err := s.cat.ListReports(ctx, catalog.ReportFilter{PatientID: f.PatientID, Status: string(f.Status), Limit: f.Limit})
	if err != nil {
		return nil, catalogErr(err)
	}
	out := make([]Summary, 0, len(rows))
	for _, r := range rows {
		out = append(out, summary(r))
	}
	return out, nil
}

func summary(r catalog.ReportRow) Summary {
	return Summary{ID: r.ID, Status: Status(r.Status), Amends: r.Amends, Version: r.Version, PatientID: r.PatientID,
		OrderID: r.OrderID, Created: r.Created, Updated: r.Updated, Signed: r.Signed}
}

// Summary returns the summary of r.
func (r Report) Summary() Summary {
	return Summary{ID: r.ID, Status: r.Status, Amends: r.Amends, Version: r.Version, PatientID: r.Patient.ID,
		OrderID: r.Order.ID, Created: r.Created, Updated: r.Updated}
}

// now is the time of a write to a report last written at prev: strictly
// later, so Updated is a version.
func (s *Store) now(prev time.Time) time.Time {
	t := s.opts.Now().UTC()
	if !t.After(prev) {
		t = prev.Add(time.Microsecond)
	}
	return t
}

// event is the audit record of a step: ids, versions and states only;
// never the content, the note or a name.
func event(by Actor, action, id, patient, detail string) (catalog.AuditEvent, error) {
	return audit.Check(catalog.AuditEvent{Actor: by.Audit, Source: by.Source, Action: action,
		Resource: "report/" + id, Patient: patient, Outcome: audit.OK, Detail: detail})
}

// auditAction is the audit action of a workflow step.
func auditAction(act Action) string {
	if act == ActDraft {
		return "report.draft"
	}
	return "report." + verb(act)
}

// write runs fn in a report transaction, appends the audit records it
// returns in the same transaction, and tells the audit log after the commit.
func (s *Store) write(ctx context.Context, fn func(tx catalog.ReportTx) ([]catalog.AuditEvent, error)) error {
	var appended []catalog.AuditEvent
	err := s.cat.InReportTx(ctx, func(tx catalog.ReportTx) error {
		es, err := fn(tx)
		if err != nil {
			return err
		}
		appended, err = tx.AppendAudit(ctx, es)
		return err
	})
	if err != nil {
		return catalogErr(err)
	}
	if s.opts.Audit != nil {
		s.opts.Audit.Appended(appended)
	}
	return nil
}

func checkActor(by Actor) error {
	if by.Audit == "" {
		return errors.New("report: the step has no actor")
	}
	return nil
}
