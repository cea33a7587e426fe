package catalog

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// AuditEvent is one record of the append-only, hash-chained audit trail.
type AuditEvent struct {
	Seq        int64
	Time       time.Time
	Actor      string // pseudonymous principal: "user:<sub>", "service:<client>", "token:<id>", "cli:<login>"
	Action     string
	Resource   string
	Patient    string // pseudonymous id; never a name or MRN
	Source     string // remote IP, "cli", "mllp:<peer>"; "" in records older than migration 0004
	Outcome    string // ok, denied, error, refused
	Detail     string // never patient data
	BreakGlass string // the reason given for break-the-glass access; "" when none
	Prev       string // hash of the record before
	Hash       string
}

// AuditHash is the chained hash of e: sha256 over a JSON array of the
// record's fields and the previous hash. Source and BreakGlass (added by
// migration 0004) are appended to the array only when one of them is set,
// so a record written before they existed hashes exactly as it did then;
// the array's length tells the two forms apart, so no record of one form
// can be passed off as the other.
func AuditHash(e AuditEvent) string {
	f := []any{e.Seq, e.Time.UnixNano(), e.Actor, e.Action, e.Resource, e.Patient, e.Outcome, e.Detail, e.Prev}
	if e.Source != "" || e.BreakGlass != "" {
		f = append(f, e.Source, e.BreakGlass)
	}
	b, _ := json.Marshal(f)
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// AuditCheckpoint is a signed statement that record Seq of the audit trail
// had hash Hash at Time (and so, through the chain, every record before it).
type AuditCheckpoint struct {
	Seq       int64
	Hash      string
	Time      time.Time
	KeyID     string // the AuditKey that signed it
	Signature []byte
}

// AuditKey is a checkpoint-signing key: the public key in the clear and the
// private key's seed wrapped by the key provider under KeyName.
type AuditKey struct {
	ID         string
	PublicKey  []byte
	KeyName    string
	KeyVersion string
	Wrapped    []byte
	Created    time.Time
}

func (s *sqlStore) AppendAudit(ctx context.Context, e AuditEvent) (AuditEvent, error) {
	out, err := s.AppendAuditBatch(ctx, []AuditEvent{e})
	if err != nil {
		return e, err
	}
	return out[0], nil
}

// auditRowsPerInsert bounds one multi-row INSERT (12 parameters a row)
// well under SQLite's and PostgreSQL's parameter limits. Inserts go in
// chunks of a power of two rows, whose statements are prepared at Open:
// the inbox appends a few records with every group it commits, and
// parsing the statement each time cost more than running it.
const auditRowsPerInsert = 128

const qLastAudit = `SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1`

func qInsertAudit(n int) string {
	row := "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	return `INSERT INTO audit_events (` + auditCols + `) VALUES ` + strings.Repeat(row+", ", n-1) + row
}

var auditQueries = func() []string {
	qs := []string{qLastAudit}
	for n := 1; n <= auditRowsPerInsert; n *= 2 {
		qs = append(qs, qInsertAudit(n))
	}
	return qs
}()

// txStmt is the statement q prepared at Open, in tx; nil when q was not.
func (s *sqlStore) txStmt(ctx context.Context, tx *sql.Tx, q string) *sql.Stmt {
	if v, ok := s.stmts.Load(q); ok {
		return tx.StmtContext(ctx, v.(*sql.Stmt))
	}
	return nil
}

const auditCols = `seq, time, actor, action, resource, patient, source, outcome, detail, break_glass, prev, hash`

func (s *sqlStore) AppendAuditBatch(ctx context.Context, es []AuditEvent) ([]AuditEvent, error) {
	if len(es) == 0 {
		return nil, nil
	}
	var out []AuditEvent
	err := s.durableTx(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = s.appendAudit(ctx, tx, es)
		return err
	})
	if err != nil {
		return es, fmt.Errorf("catalog: audit: %w", err)
	}
	return out, nil
}

// appendAudit chains and inserts es in tx.
func (s *sqlStore) appendAudit(ctx context.Context, tx *sql.Tx, es []AuditEvent) ([]AuditEvent, error) {
	out := slices.Clone(es)
	if len(out) == 0 {
		return out, nil
	}
	err := func() error {
		if s.postgres {
			// One appender at a time across every server sharing the database.
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7260522)`); err != nil {
				return err
			}
		}
		var seq int64
		var prev string
		var row *sql.Row
		if st := s.txStmt(ctx, tx, qLastAudit); st != nil {
			row = st.QueryRowContext(ctx)
		} else {
			row = tx.QueryRowContext(ctx, qLastAudit)
		}
		err := row.Scan(&seq, &prev)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		now := time.Now()
		for i := range out {
			e := &out[i]
			seq++
			e.Seq, e.Prev = seq, prev
			if e.Time.IsZero() {
				e.Time = now
			}
			e.Time = fromNanos(nanos(e.Time))
			e.Hash = AuditHash(*e)
			prev = e.Hash
		}
		for rest := out; len(rest) > 0; {
			n := auditRowsPerInsert
			for n > len(rest) {
				n /= 2
			}
			chunk := rest[:n]
			rest = rest[n:]
			args := make([]any, 0, 12*len(chunk))
			for _, e := range chunk {
				args = append(args, e.Seq, nanos(e.Time), e.Actor, e.Action, e.Resource, e.Patient, e.Source, e.Outcome, e.Detail, e.BreakGlass, e.Prev, e.Hash)
			}
			q := qInsertAudit(n)
			var err error
			if st := s.txStmt(ctx, tx, q); st != nil {
				_, err = st.ExecContext(ctx, args...)
			} else {
				_, err = tx.ExecContext(ctx, s.q(q), args...)
			}
			if err != nil {
				return err
			}
		}
		return nil
	}()
	return out, err
}

// durableTx runs fn in a transaction that is on stable storage, not only
// committed, when durableTx returns nil. The SQLite catalog otherwise runs
// with synchronous=NORMAL (in WAL mode a commit survives a crash of the
// process but not necessarily a power loss or kernel crash); here the
// connection is switched to synchronous=FULL for the transaction, so its
// commit syncs the write-ahead log. On PostgreSQL, synchronous_commit is
// forced on for the transaction whatever the server's default.
func (s *sqlStore) durableTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if s.postgres {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, `SET LOCAL synchronous_commit = on`); err != nil {
			return err
		}
		if err := fn(tx); err != nil {
			return err
		}
		return tx.Commit()
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA synchronous = FULL`); err != nil {
		return err
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA synchronous = NORMAL`)
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

func (s *sqlStore) listAudit(ctx context.Context, where string, args ...any) ([]AuditEvent, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+auditCols+` FROM audit_events WHERE `+where+` ORDER BY seq LIMIT ?`), args...)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	var out []AuditEvent
	for rows.Next() {
		var e AuditEvent
		var t int64
		if err := rows.Scan(&e.Seq, &t, &e.Actor, &e.Action, &e.Resource, &e.Patient, &e.Source, &e.Outcome, &e.Detail, &e.BreakGlass, &e.Prev, &e.Hash); err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
		e.Time = fromNanos(t)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	return out, nil
}

func (s *sqlStore) ListAudit(ctx context.Context, afterSeq int64, limit int) ([]AuditEvent, error) {
	if limit <= 0 {
		limit = 1000
	}
	return s.listAudit(ctx, `seq > ?`, afterSeq, limit)
}

func (s *sqlStore) ListAuditByPatient(ctx context.Context, patient string, afterSeq int64, limit int) ([]AuditEvent, error) {
	if limit <= 0 {
		limit = 1000
	}
	return s.listAudit(ctx, `patient = ? AND seq > ?`, patient, afterSeq, limit)
}

func (s *sqlStore) PutAuditCheckpoint(ctx context.Context, c AuditCheckpoint) error {
	if c.Seq <= 0 || c.Hash == "" || len(c.Signature) == 0 {
		return errors.New("catalog: audit checkpoint needs a seq, a hash and a signature")
	}
	return s.durableTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO audit_checkpoints (seq, hash, time, key_id, signature) VALUES (?, ?, ?, ?, ?) ON CONFLICT (seq) DO NOTHING`),
			c.Seq, c.Hash, nanos(c.Time), c.KeyID, base64.StdEncoding.EncodeToString(c.Signature))
		if err != nil {
			return fmt.Errorf("catalog: audit checkpoint: %w", err)
		}
		return nil
	})
}

func (s *sqlStore) ListAuditCheckpoints(ctx context.Context) ([]AuditCheckpoint, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT seq, hash, time, key_id, signature FROM audit_checkpoints ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	var out []AuditCheckpoint
	for rows.Next() {
		var c AuditCheckpoint
		var t int64
		var sig string
		if err := rows.Scan(&c.Seq, &c.Hash, &t, &c.KeyID, &sig); err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
		c.Time = fromNanos(t)
		if c.Signature, err = base64.StdEncoding.DecodeString(sig); err != nil {
			return nil, fmt.Errorf("catalog: audit checkpoint %d: signature: %w", c.Seq, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	return out, nil
}

func (s *sqlStore) PutAuditKey(ctx context.Context, k AuditKey) error {
	if k.ID == "" || len(k.PublicKey) == 0 || len(k.Wrapped) == 0 {
		return errors.New("catalog: audit key needs an ID, a public key and the wrapped private key")
	}
	if k.Created.IsZero() {
		k.Created = time.Now()
	}
	b64 := base64.StdEncoding.EncodeToString
	_, err := s.exec(ctx, `INSERT INTO audit_keys (id, public_key, key_name, key_version, wrapped, created) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
		k.ID, b64(k.PublicKey), k.KeyName, k.KeyVersion, b64(k.Wrapped), nanos(k.Created))
	return err
}

func (s *sqlStore) ListAuditKeys(ctx context.Context) ([]AuditKey, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, public_key, key_name, key_version, wrapped, created FROM audit_keys ORDER BY created, id`)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	var out []AuditKey
	for rows.Next() {
		var k AuditKey
		var pub, wrapped string
		var c int64
		if err := rows.Scan(&k.ID, &pub, &k.KeyName, &k.KeyVersion, &wrapped, &c); err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
		k.Created = fromNanos(c)
		if k.PublicKey, err = base64.StdEncoding.DecodeString(pub); err != nil {
			return nil, fmt.Errorf("catalog: audit key %s: %w", k.ID, err)
		}
		if k.Wrapped, err = base64.StdEncoding.DecodeString(wrapped); err != nil {
			return nil, fmt.Errorf("catalog: audit key %s: %w", k.ID, err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	return out, nil
}

func (s *sqlStore) GetAuditCursor(ctx context.Context, name string) (int64, error) {
	var seq int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT seq FROM audit_cursors WHERE name = ?`), name).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("catalog: %w", err)
	}
	return seq, nil
}

func (s *sqlStore) PutAuditCursor(ctx context.Context, name string, seq int64) error {
	if name == "" {
		return errors.New("catalog: audit cursor name is empty")
	}
	_, err := s.exec(ctx, `INSERT INTO audit_cursors (name, seq, updated) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET seq = excluded.seq, updated = excluded.updated`,
		name, seq, time.Now().UnixNano())
	return err
}

func (s *sqlStore) ListAuditCursors(ctx context.Context) (map[string]int64, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, seq FROM audit_cursors`)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var name string
		var seq int64
		if err := rows.Scan(&name, &seq); err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
		out[name] = seq
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	return out, nil
}
