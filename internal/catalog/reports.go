package catalog

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Errors of the report tables.
var (
	// ErrStale: the record changed since the caller read it (another
	// writer acted first), or a concurrent writer made the same change.
	ErrStale = errors.New("catalog: changed since it was read")
	// ErrImmutable: the record is signed and its content cannot change.
	ErrImmutable = errors.New("catalog: a signed report cannot change")
	// ErrTampered: a stored record does not match its recorded content
	// hash (it was changed outside the catalog).
	ErrTampered = errors.New("catalog: stored report does not match its content hash")
)

// Report statuses as the catalog stores them (package report defines
// the workflow; the catalog only knows which ones are signed).
const (
	ReportSigned     = "signed"
	ReportSuperseded = "superseded"
)

// ReportRow is a clinical report: the workflow state in the clear, the
// content sealed.
type ReportRow struct {
	ID          string
	Status      string
	Amends      string // id of the signed report this one amends; "" for an original
	Version     int
	PatientID   string // pseudonymous
	OrderID     string // internal order id
	Sealed      []byte
	ContentHash string // hex sha256 of Sealed; set by the catalog
	Created     time.Time
	Updated     time.Time // changes with every write; the optimistic-concurrency token
	Signed      time.Time // zero until signed
}

// ReportFilter narrows ListReports; zero fields match everything.
type ReportFilter struct {
	PatientID   string
	Status      string
	Amends      string    // the amendment of this report
	SignedAfter time.Time // only reports signed after this time (signed or since superseded)
	Limit       int       // 0: 1000
}

// ReportTx is the report tables inside one durable transaction. Get
// methods return ErrNotFound when there is no such report and ErrTampered
// when a stored report does not match its content hash.
type ReportTx interface {
	GetReport(ctx context.Context, id string) (ReportRow, error)
	ListReports(ctx context.Context, f ReportFilter) ([]ReportRow, error)
	// InsertReport adds a new report; an existing id, or a second
	// amendment of the same report, is ErrStale.
	InsertReport(ctx context.Context, r ReportRow) (ReportRow, error)
	// UpdateReport replaces the report r.ID if its Updated is still prev
	// (else ErrStale). A signed report's content never changes: the only
	// change it takes is its status from signed to superseded (with a new
	// Updated); anything else is ErrImmutable. When r.Status becomes
	// signed, the content hash is recorded in report_signoffs.
	UpdateReport(ctx context.Context, r ReportRow, prev time.Time) (ReportRow, error)
	// AppendAudit appends audit records in this transaction (as
	// ClinicalTx.AppendAudit): they commit with the change they describe.
	AppendAudit(ctx context.Context, es []AuditEvent) ([]AuditEvent, error)
	// PutOutbox appends a pending item to its destination's queue in this
	// transaction (as Store.PutOutbox): it is queued if and only if the
	// transaction commits.
	PutOutbox(ctx context.Context, o OutboxItem) (OutboxItem, error)
}

// Reports is the catalog's report side.
type Reports interface {
	// InReportTx runs fn in one transaction, committed durably only if fn
	// returns nil.
	InReportTx(ctx context.Context, fn func(tx ReportTx) error) error
	// GetReport and ListReports are ReportTx's, each in a transaction of its own.
	GetReport(ctx context.Context, id string) (ReportRow, error)
	ListReports(ctx context.Context, f ReportFilter) ([]ReportRow, error)
}

var _ Reports = (*sqlStore)(nil)
var _ ReportTx = (*clinicalTx)(nil)

// IsSignedReport reports whether a report in status has been signed out
// (and so never changes).
func IsSignedReport(status string) bool { return status == ReportSigned || status == ReportSuperseded }

func (s *sqlStore) InReportTx(ctx context.Context, fn func(tx ReportTx) error) error {
	var inner error
	err := s.durableTx(ctx, func(tx *sql.Tx) error {
		if s.postgres {
			// One report transaction at a time, as SQLite's one writer
			// gives: signing times then commit in order, and a watermark
			// over them (the FHIR API's publisher) never passes a report
			// committed later with an earlier time.
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7260525)`); err != nil {
				return err
			}
		}
		inner = fn(&clinicalTx{s: s, tx: tx})
		return inner
	})
	if inner != nil {
		return inner
	}
	if err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	return nil
}

func (s *sqlStore) GetReport(ctx context.Context, id string) (ReportRow, error) {
	r, err := scanReport(s.rdb.QueryRowContext(ctx, s.q(qGetReport), id))
	return r, reportErr(err)
}

func (s *sqlStore) ListReports(ctx context.Context, f ReportFilter) ([]ReportRow, error) {
	q, args := listReports(f)
	rows, err := s.rdb.QueryContext(ctx, s.q(q), args...)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	return readReports(rows)
}

const reportCols = `r.id, r.status, r.amends, r.version, r.patient_id, r.order_id, r.sealed, r.content_hash, r.created, r.updated, r.signed, COALESCE(so.content_hash, '')`

const qGetReport = `SELECT ` + reportCols + ` FROM reports r LEFT JOIN report_signoffs so ON so.report_id = r.id WHERE r.id = ?`

// scanReport reads a row and checks it against its content hash and, for
// a signed report, against the hash recorded when it was signed.
func scanReport(sc scanner) (ReportRow, error) {
	var r ReportRow
	var sealed binary
	var signoff string
	var cr, up, sg int64
	err := sc.Scan(&r.ID, &r.Status, &r.Amends, &r.Version, &r.PatientID, &r.OrderID, &sealed, &r.ContentHash, &cr, &up, &sg, &signoff)
	if err != nil {
		return r, err
	}
	r.Sealed, r.Created, r.Updated, r.Signed = sealed, fromNanos(cr), fromNanos(up), fromNanos(sg)
	if contentHash(r.Sealed) != r.ContentHash || (IsSignedReport(r.Status) && signoff != r.ContentHash) {
		return r, fmt.Errorf("report %s: %w", r.ID, ErrTampered)
	}
	return r, nil
}

func reportErr(err error) error {
	if errors.Is(err, ErrTampered) {
		return err
	}
	return notFound(err, "report")
}

func listReports(f ReportFilter) (string, []any) {
	if f.Limit <= 0 {
		f.Limit = 1000
	}
	after, order := int64(-1), "r.created, r.id"
	if !f.SignedAfter.IsZero() {
		// By signing time, so that a limited page is the earliest signed:
		// a catch-up that moves a watermark must not skip any.
		after, order = nanos(f.SignedAfter), "r.signed, r.id"
	}
	return `SELECT ` + reportCols + ` FROM reports r LEFT JOIN report_signoffs so ON so.report_id = r.id
 WHERE (? = '' OR r.patient_id = ?) AND (? = '' OR r.status = ?) AND (? = '' OR r.amends = ?) AND r.signed > ?
 ORDER BY ` + order + ` LIMIT ?`,
		[]any{f.PatientID, f.PatientID, f.Status, f.Status, f.Amends, f.Amends, after, f.Limit}
}

func readReports(rows *sql.Rows) ([]ReportRow, error) {
	defer rows.Close()
	var out []ReportRow
	for rows.Next() {
		r, err := scanReport(rows)
		if err != nil {
			return nil, reportErr(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	return out, nil
}

func contentHash(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func (c *clinicalTx) GetReport(ctx context.Context, id string) (ReportRow, error) {
	r, err := scanReport(c.tx.QueryRowContext(ctx, c.s.q(qGetReport), id))
	return r, reportErr(err)
}

func (c *clinicalTx) ListReports(ctx context.Context, f ReportFilter) ([]ReportRow, error) {
	q, args := listReports(f)
	rows, err := c.tx.QueryContext(ctx, c.s.q(q), args...)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	return readReports(rows)
}

func (c *clinicalTx) InsertReport(ctx context.Context, r ReportRow) (ReportRow, error) {
	if r.ID == "" || r.Status == "" {
		return r, errors.New("catalog: a report needs an id and a status")
	}
	if IsSignedReport(r.Status) {
		return r, errors.New("catalog: a report is created unsigned")
	}
	r.ContentHash = contentHash(r.Sealed)
	// A savepoint keeps the transaction usable (PostgreSQL) when the
	// insert hits a unique index.
	if err := c.exec(ctx, `SAVEPOINT sp_report`); err != nil {
		return r, err
	}
	_, err := c.tx.ExecContext(ctx, c.s.q(`INSERT INTO reports (id, status, amends, version, patient_id, order_id, sealed, content_hash, created, updated, signed)
 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)`),
		r.ID, r.Status, r.Amends, r.Version, r.PatientID, r.OrderID, b64.EncodeToString(r.Sealed), r.ContentHash, nanos(r.Created), nanos(r.Updated))
	if err != nil {
		if rerr := c.exec(ctx, `ROLLBACK TO SAVEPOINT sp_report`); rerr != nil {
			return r, rerr
		}
		if isUniqueViolation(err) {
			return r, fmt.Errorf("report %s (amends %q): %w", r.ID, r.Amends, ErrStale)
		}
		return r, fmt.Errorf("catalog: %w", err)
	}
	return r, c.exec(ctx, `RELEASE SAVEPOINT sp_report`)
}

// isUniqueViolation recognises a unique-index violation of either backend.
func isUniqueViolation(err error) bool {
	m := err.Error()
	return strings.Contains(m, "UNIQUE constraint failed") || strings.Contains(m, "SQLSTATE 23505")
}

func (c *clinicalTx) UpdateReport(ctx context.Context, r ReportRow, prev time.Time) (ReportRow, error) {
	old, err := c.GetReport(ctx, r.ID)
	if err != nil {
		return r, err
	}
	if !old.Updated.Equal(prev) {
		return r, fmt.Errorf("report %s: %w", r.ID, ErrStale)
	}
	if !r.Updated.After(old.Updated) {
		return r, fmt.Errorf("catalog: report %s: the new updated time must be later than the stored one", r.ID)
	}
	r.ContentHash = contentHash(r.Sealed)
	if IsSignedReport(old.Status) {
		same := old.Amends == r.Amends && old.Version == r.Version && old.PatientID == r.PatientID && old.OrderID == r.OrderID &&
			old.ContentHash == r.ContentHash && old.Signed.Equal(r.Signed)
		if old.Status != ReportSigned || r.Status != ReportSuperseded || !same {
			return r, fmt.Errorf("report %s: %w", r.ID, ErrImmutable)
		}
		return r, c.updateReportRow(ctx, `UPDATE reports SET status = ?, updated = ? WHERE id = ? AND updated = ? AND status = ?`,
			r.ID, r.Status, nanos(r.Updated), r.ID, nanos(prev), ReportSigned)
	}
	if r.Status == ReportSuperseded {
		return r, fmt.Errorf("catalog: report %s: only a signed report is superseded", r.ID)
	}
	if r.Status == ReportSigned && r.Signed.IsZero() {
		return r, fmt.Errorf("catalog: report %s: a signed report needs its signing time", r.ID)
	}
	if r.Status != ReportSigned {
		r.Signed = time.Time{}
	}
	err = c.updateReportRow(ctx, `UPDATE reports SET status = ?, amends = ?, version = ?, patient_id = ?, order_id = ?, sealed = ?, content_hash = ?, updated = ?, signed = ?
 WHERE id = ? AND updated = ? AND status <> ? AND status <> ?`,
		r.ID, r.Status, r.Amends, r.Version, r.PatientID, r.OrderID, b64.EncodeToString(r.Sealed), r.ContentHash, nanos(r.Updated), nanos(r.Signed),
		r.ID, nanos(prev), ReportSigned, ReportSuperseded)
	if err != nil {
		return r, err
	}
	if r.Status == ReportSigned {
		if err := c.exec(ctx, `INSERT INTO report_signoffs (report_id, content_hash, signed) VALUES (?, ?, ?)`, r.ID, r.ContentHash, nanos(r.Signed)); err != nil {
			return r, err
		}
	}
	r.Created = old.Created
	return r, nil
}

// updateReportRow runs a conditional UPDATE of report id: no row changed
// means another writer changed it first.
func (c *clinicalTx) updateReportRow(ctx context.Context, q, id string, args ...any) error {
	res, err := c.tx.ExecContext(ctx, c.s.q(q), args...)
	if err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("catalog: %w", err)
	} else if n != 1 {
		return fmt.Errorf("report %s: %w", id, ErrStale)
	}
	return nil
}

// PutOutbox is Store.PutOutbox inside the transaction.
func (c *clinicalTx) PutOutbox(ctx context.Context, o OutboxItem) (OutboxItem, error) {
	if o.ID == "" || o.Destination == "" {
		return o, errors.New("catalog: outbox item needs an id and a destination")
	}
	now := time.Now()
	o.State, o.Created, o.Updated = OutboxPending, now, now
	if c.s.postgres {
		if _, err := c.tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7260523)`); err != nil {
			return o, fmt.Errorf("catalog: outbox: %w", err)
		}
	}
	var last int64
	if err := c.tx.QueryRowContext(ctx, c.s.q(`SELECT COALESCE(MAX(seq), 0) FROM outbox WHERE destination = ?`), o.Destination).Scan(&last); err != nil {
		return o, fmt.Errorf("catalog: outbox: %w", err)
	}
	o.Seq = last + 1
	_, err := c.tx.ExecContext(ctx, c.s.q(`INSERT INTO outbox (`+outboxCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		o.ID, o.Destination, o.Seq, o.Kind, o.State, o.Attempts, nanos(o.NextAttempt), o.LastError, o.PatientID, b64.EncodeToString(o.Sealed), nanos(o.Created), nanos(o.Updated))
	if err != nil {
		return o, fmt.Errorf("catalog: outbox: %w", err)
	}
	return o, nil
}
