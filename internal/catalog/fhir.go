package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// FHIRRow is the current version of one resource of the platform's FHIR
// store: the resource sealed, the search tokens as keyed hashes, and the
// columns that hold no patient data in the clear.
type FHIRRow struct {
	Type, ID  string
	Version   int   // from 1
	Seq       int64 // insertion order: set by the catalog on insert, kept by updates
	Updated   time.Time
	PatientID string   // pseudonymous; "" when none
	Sealed    []byte   // the resource, sealed by the FHIR layer
	Tokens    []string // keyed hashes of the search tokens
}

// FHIRBound is one condition on Updated: Op is "gt", "ge", "lt" or "le".
type FHIRBound struct {
	Op string
	T  time.Time
}

// FHIRQuery is a search of one type. A row matches when it is of Type,
// its id is one of IDs (when any), it has at least one token of every
// group of Tokens, its Updated satisfies every bound, and its Seq is at
// most MaxSeq (when not 0).
type FHIRQuery struct {
	Type    string
	IDs     []string
	Tokens  [][]string
	Updated []FHIRBound
	MaxSeq  int64
	Offset  int
	Limit   int // 0: count only
}

// FHIRResult is one page of a search.
type FHIRResult struct {
	Rows   []FHIRRow // in Seq order, from Offset, at most Limit; Tokens not filled
	Total  int       // all matches up to MaxSeq
	MaxSeq int64     // the query's MaxSeq, or the highest Seq of the store when it was 0
}

// Limits of FHIR queries (the server's own limits are lower).
const (
	maxFHIRIDs    = 1000
	maxFHIRTokens = 1000
)

// FHIRTx is the FHIR tables inside one transaction. Transactions are
// serialized (SQLite: one writer; PostgreSQL: an advisory lock taken at
// the start), so what a transaction reads stays true until it commits.
type FHIRTx interface {
	// GetFHIR returns the row typ/id, or ErrNotFound.
	GetFHIR(ctx context.Context, typ, id string) (FHIRRow, error)
	SearchFHIR(ctx context.Context, q FHIRQuery) (FHIRResult, error)
	// PutFHIR writes r as version r.Version: version 1 inserts a new row
	// (ErrStale when typ/id exists) with the next Seq; version n replaces
	// version n-1 (ErrStale when the stored version is another), keeping
	// its Seq. Its tokens replace the row's. It returns r with Seq set.
	PutFHIR(ctx context.Context, r FHIRRow) (FHIRRow, error)
}

// FHIR is the catalog's FHIR store side.
type FHIR interface {
	// InFHIRTx runs fn in one serialized transaction, committed durably
	// only if fn returns nil; nothing of it is left behind otherwise.
	InFHIRTx(ctx context.Context, fn func(tx FHIRTx) error) error
	// GetFHIR and SearchFHIR are FHIRTx's outside a write transaction.
	GetFHIR(ctx context.Context, typ, id string) (FHIRRow, error)
	SearchFHIR(ctx context.Context, q FHIRQuery) (FHIRResult, error)
}

var _ FHIR = (*sqlStore)(nil)
var _ FHIRTx = (*fhirTx)(nil)

// querier is what both *sql.DB and *sql.Tx read with.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

type fhirTx struct {
	s  *sqlStore
	tx *sql.Tx
}

func (s *sqlStore) InFHIRTx(ctx context.Context, fn func(tx FHIRTx) error) error {
	var inner error
	err := s.durableTx(ctx, func(tx *sql.Tx) error {
		if s.postgres {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7260524)`); err != nil {
				return err
			}
		}
		inner = fn(&fhirTx{s, tx})
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

func (s *sqlStore) GetFHIR(ctx context.Context, typ, id string) (FHIRRow, error) {
	st, err := s.readStmt(ctx, qGetFHIR)
	if err != nil {
		return FHIRRow{}, fmt.Errorf("catalog: %w", err)
	}
	return fhirRow(scanFHIR(st.QueryRowContext(ctx, typ, id)))
}

// SearchFHIR reads the page and the count in one read-only transaction:
// a snapshot (repeatable read on PostgreSQL; a WAL read transaction on
// SQLite, from the read pool).
func (s *sqlStore) SearchFHIR(ctx context.Context, q FHIRQuery) (FHIRResult, error) {
	opts := &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
	if !s.postgres {
		opts = nil // deferred: BEGIN takes no lock; the first read fixes the snapshot
	}
	tx, err := s.rdb.BeginTx(ctx, opts)
	if err != nil {
		return FHIRResult{}, fmt.Errorf("catalog: %w", err)
	}
	defer tx.Rollback()
	return s.searchFHIR(ctx, tx, q)
}

func (t *fhirTx) GetFHIR(ctx context.Context, typ, id string) (FHIRRow, error) {
	return t.s.getFHIR(ctx, t.tx, typ, id)
}

func (t *fhirTx) SearchFHIR(ctx context.Context, q FHIRQuery) (FHIRResult, error) {
	return t.s.searchFHIR(ctx, t.tx, q)
}

const fhirCols = `type, id, version, seq, updated, patient_id, sealed`

func scanFHIR(sc scanner) (FHIRRow, error) {
	var r FHIRRow
	var up int64
	var sealed binary
	if err := sc.Scan(&r.Type, &r.ID, &r.Version, &r.Seq, &up, &r.PatientID, &sealed); err != nil {
		return r, err
	}
	r.Updated, r.Sealed = fromNanos(up), sealed
	return r, nil
}

const qGetFHIR = `SELECT ` + fhirCols + ` FROM fhir_resources WHERE type = ? AND id = ?`

func (s *sqlStore) getFHIR(ctx context.Context, db querier, typ, id string) (FHIRRow, error) {
	return fhirRow(scanFHIR(db.QueryRowContext(ctx, s.q(qGetFHIR), typ, id)))
}

// fhirRow is the result of reading one resource.
func fhirRow(r FHIRRow, err error) (FHIRRow, error) {
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("fhir resource: %w", ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("catalog: %w", err)
	}
	return r, nil
}

var fhirOps = map[string]string{"gt": ">", "ge": ">=", "lt": "<", "le": "<="}

// fhirWhere is the condition of q (MaxSeq given) and its arguments.
func fhirWhere(q FHIRQuery, maxSeq int64) (string, []any, error) {
	var b strings.Builder
	args := []any{q.Type, maxSeq}
	b.WriteString(`r.type = ? AND ` + fhirSeq(q) + ` <= ?`)
	if len(q.IDs) > maxFHIRIDs {
		return "", nil, fmt.Errorf("catalog: a FHIR query of more than %d ids", maxFHIRIDs)
	}
	if len(q.IDs) > 0 {
		b.WriteString(` AND r.id IN (` + placeholders(len(q.IDs)) + `)`)
		for _, id := range q.IDs {
			args = append(args, id)
		}
	}
	for _, bd := range q.Updated {
		op, ok := fhirOps[bd.Op]
		if !ok {
			return "", nil, fmt.Errorf("catalog: FHIR bound %q", bd.Op)
		}
		b.WriteString(` AND r.updated ` + op + ` ?`)
		args = append(args, bd.T.UnixNano())
	}
	n := 0
	for _, g := range q.Tokens {
		if n += len(g); n > maxFHIRTokens {
			return "", nil, fmt.Errorf("catalog: a FHIR query of more than %d tokens", maxFHIRTokens)
		}
		if len(g) == 0 {
			b.WriteString(` AND 1 = 0`) // a group no token can satisfy
			continue
		}
		b.WriteString(` AND EXISTS (SELECT 1 FROM fhir_tokens t WHERE t.type = r.type AND t.id = r.id AND t.token IN (` + placeholders(len(g)) + `))`)
		for _, tok := range g {
			args = append(args, tok)
		}
	}
	return b.String(), args, nil
}

// fhirSeq is the seq column as q's condition and order name it: with ids,
// the unary + keeps SQLite's planner on the primary key instead of the
// (type, seq) index, which would read every resource of the type.
func fhirSeq(q FHIRQuery) string {
	if len(q.IDs) > 0 {
		return "+r.seq"
	}
	return "r.seq"
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

func (s *sqlStore) searchFHIR(ctx context.Context, db querier, q FHIRQuery) (FHIRResult, error) {
	res := FHIRResult{MaxSeq: q.MaxSeq}
	if res.MaxSeq <= 0 {
		if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM fhir_resources`).Scan(&res.MaxSeq); err != nil {
			return res, fmt.Errorf("catalog: %w", err)
		}
	}
	where, args, err := fhirWhere(q, res.MaxSeq)
	if err != nil {
		return res, err
	}
	if err := db.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM fhir_resources r WHERE `+where), args...).Scan(&res.Total); err != nil {
		return res, fmt.Errorf("catalog: %w", err)
	}
	if q.Limit <= 0 || q.Offset >= res.Total {
		return res, nil
	}
	rows, err := db.QueryContext(ctx, s.q(`SELECT `+fhirCols+` FROM fhir_resources r WHERE `+where+` ORDER BY `+fhirSeq(q)+` LIMIT ? OFFSET ?`),
		append(args, q.Limit, max(q.Offset, 0))...)
	if err != nil {
		return res, fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanFHIR(rows)
		if err != nil {
			return res, fmt.Errorf("catalog: %w", err)
		}
		res.Rows = append(res.Rows, r)
	}
	if err := rows.Err(); err != nil {
		return res, fmt.Errorf("catalog: %w", err)
	}
	return res, nil
}

func (t *fhirTx) PutFHIR(ctx context.Context, r FHIRRow) (FHIRRow, error) {
	if r.Type == "" || r.ID == "" || r.Version < 1 {
		return r, errors.New("catalog: a FHIR resource needs a type, an id and a version from 1")
	}
	q := t.s.q
	var cur int
	err := t.tx.QueryRowContext(ctx, q(`SELECT version, seq FROM fhir_resources WHERE type = ? AND id = ?`), r.Type, r.ID).Scan(&cur, &r.Seq)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		cur = 0
	case err != nil:
		return r, fmt.Errorf("catalog: %w", err)
	}
	if r.Version != cur+1 {
		return r, fmt.Errorf("fhir resource %s version %d (stored %d): %w", r.Type, r.Version, cur, ErrStale)
	}
	if cur == 0 {
		if err := t.tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) + 1 FROM fhir_resources`).Scan(&r.Seq); err != nil {
			return r, fmt.Errorf("catalog: %w", err)
		}
		_, err = t.tx.ExecContext(ctx, q(`INSERT INTO fhir_resources (`+fhirCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`),
			r.Type, r.ID, r.Version, r.Seq, nanos(r.Updated), r.PatientID, b64.EncodeToString(r.Sealed))
	} else {
		_, err = t.tx.ExecContext(ctx, q(`UPDATE fhir_resources SET version = ?, updated = ?, patient_id = ?, sealed = ? WHERE type = ? AND id = ? AND version = ?`),
			r.Version, nanos(r.Updated), r.PatientID, b64.EncodeToString(r.Sealed), r.Type, r.ID, cur)
		if err == nil {
			_, err = t.tx.ExecContext(ctx, q(`DELETE FROM fhir_tokens WHERE type = ? AND id = ?`), r.Type, r.ID)
		}
	}
	if err != nil {
		return r, fmt.Errorf("catalog: %w", err)
	}
	seen := map[string]bool{}
	for _, tok := range r.Tokens {
		if seen[tok] {
			continue
		}
		seen[tok] = true
		if _, err := t.tx.ExecContext(ctx, q(`INSERT INTO fhir_tokens (type, id, token) VALUES (?, ?, ?)`), r.Type, r.ID, tok); err != nil {
			return r, fmt.Errorf("catalog: %w", err)
		}
	}
	return r, nil
}
