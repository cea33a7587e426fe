package catalog

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// The clinical tables hold sealed records: the clinical layer encrypts
// patient data before it gets here and looks rows up by keyed hashes.

// SealingKey is a data key of the clinical layer, wrapped by the key provider.
type SealingKey struct {
	Name       string
	KeyName    string
	KeyVersion string
	Wrapped    []byte
	Created    time.Time
}

// PatientRow is a patient: a pseudonymous id and the sealed demographics.
type PatientRow struct {
	ID         string
	MergedInto string // set when an A40 merge made this patient part of another
	Sealed     []byte
	Created    time.Time
	Updated    time.Time
}

// ClinicalRow is an encounter or a result: found by KeyHash (the keyed hash
// of its business key), belonging to a patient.
type ClinicalRow struct {
	ID        string
	PatientID string
	KeyHash   string
	OrderID   string // results only
	Sealed    []byte
	Updated   time.Time
}

// OrderRow is an order; SampleID links it to the lab's sample.
type OrderRow struct {
	ID        string
	PatientID string
	KeyHash   string
	SampleID  string
	Status    string
	Sealed    []byte
	Updated   time.Time
}

// KeyedRow is a row found by the keyed hash of its business key: an
// encounter or an order, for re-keying.
type KeyedRow struct {
	ID      string
	KeyHash string
	Sealed  []byte
}

// KeyedTables are the tables of KeyedRowsAfter and SetKeyHashes.
var KeyedTables = []string{"encounters", "orders"}

// IdentifierRow points a patient identifier's keyed hash at its patient.
type IdentifierRow struct {
	Hash      string
	PatientID string
}

// HL7Message is a received HL7 v2 message and what became of it.
type HL7Message struct {
	ID        string
	Sender    string // MSH-3^MSH-4
	ControlID string // MSH-10
	Received  time.Time
	Type      string // MSH-9, e.g. ADT^A01
	State     string // processed, error
	Error     string // the public reason (no patient data)
	Ack       []byte // the ACK sent, returned again for a duplicate
	PatientID string
	Sealed    []byte // the message, sealed
}

// HL7Key is what makes a received HL7 message unique: its sender
// (MSH-3^MSH-4) and control id (MSH-10).
type HL7Key struct{ Sender, ControlID string }

// ClinicalTx is the clinical tables inside one transaction. Get methods
// return ErrNotFound when there is no such row.
type ClinicalTx interface {
	GetPatient(ctx context.Context, id string) (PatientRow, error)
	PutPatient(ctx context.Context, p PatientRow) error // insert or replace by id
	PatientByIdentifier(ctx context.Context, hash string) (string, error)
	PutPatientIdentifier(ctx context.Context, hash, patientID string) error // insert or repoint
	PatientIdentifiers(ctx context.Context, patientID string) ([]string, error)
	// PatientsByIdentifiers is PatientByIdentifier for many hashes in a few
	// statements: the patient id of each known hash (unknown ones are
	// absent from the map).
	PatientsByIdentifiers(ctx context.Context, hashes []string) (map[string]string, error)
	// GetPatients is GetPatient for many ids: the rows that exist, by id.
	GetPatients(ctx context.Context, ids []string) (map[string]PatientRow, error)
	// PutPatients is PutPatient for many rows in a few statements; of two
	// rows with the same id the later one wins.
	PutPatients(ctx context.Context, ps []PatientRow) error
	// PutPatientIdentifiers is PutPatientIdentifier for many; of two rows
	// with the same hash the later one wins.
	PutPatientIdentifiers(ctx context.Context, ids []IdentifierRow) error
	GetEncounter(ctx context.Context, keyHash string) (ClinicalRow, error)
	PutEncounter(ctx context.Context, r ClinicalRow) error // insert or replace by id
	// GetEncounters is GetEncounter for many key hashes in a few
	// statements: the rows that exist, by key hash.
	GetEncounters(ctx context.Context, keyHashes []string) (map[string]ClinicalRow, error)
	// PutEncounters is PutEncounter for many rows in a few statements; of
	// two rows with the same id the later one wins.
	PutEncounters(ctx context.Context, rs []ClinicalRow) error
	GetOrder(ctx context.Context, keyHash string) (OrderRow, error)
	PutOrder(ctx context.Context, o OrderRow) error
	// GetOrders and PutOrders are GetEncounters and PutEncounters for
	// orders.
	GetOrders(ctx context.Context, keyHashes []string) (map[string]OrderRow, error)
	PutOrders(ctx context.Context, ors []OrderRow) error
	GetResult(ctx context.Context, keyHash string) (ClinicalRow, error)
	PutResult(ctx context.Context, r ClinicalRow) error
	// GetResults and PutResults are GetEncounters and PutEncounters for
	// results.
	GetResults(ctx context.Context, keyHashes []string) (map[string]ClinicalRow, error)
	PutResults(ctx context.Context, rs []ClinicalRow) error
	// MovePatientRecords repoints encounters, orders and results of from to to.
	MovePatientRecords(ctx context.Context, from, to string) error
	GetHL7Message(ctx context.Context, sender, controlID string) (HL7Message, error)
	PutHL7Message(ctx context.Context, m HL7Message) error // insert or replace by id
	// HL7Messages is GetHL7Message for many keys in one statement (or a
	// few): the stored messages among them, by key (unknown keys are
	// absent from the map).
	HL7Messages(ctx context.Context, keys []HL7Key) (map[HL7Key]HL7Message, error)
	// PutHL7Messages is PutHL7Message for many, in a few statements; of
	// two messages with the same id the later one wins.
	PutHL7Messages(ctx context.Context, ms []HL7Message) error
	// Savepoint marks a point that RollbackTo undoes everything after (so
	// one message of a batch can fail alone); Release forgets it.
	// AppendAudit appends audit records in this transaction, chained like
	// Store.AppendAuditBatch: they commit (or not) with the records they
	// describe.
	AppendAudit(ctx context.Context, es []AuditEvent) ([]AuditEvent, error)
	// Watermark returns an extract source's watermark (zero when none);
	// PutWatermark moves it forward (never back).
	Watermark(ctx context.Context, source string) (time.Time, error)
	PutWatermark(ctx context.Context, source string, t time.Time) error
	// LockScheme makes the transaction wait for, and hold off, a re-key of
	// the clinical tables: shared for a transaction that uses the keys,
	// exclusive for the re-key (PostgreSQL: an advisory transaction lock;
	// SQLite's write transactions run one at a time already).
	LockScheme(ctx context.Context, exclusive bool) error
	// Setting returns a clinical setting ("" when unset); PutSetting sets
	// it.
	Setting(ctx context.Context, name string) (string, error)
	PutSetting(ctx context.Context, name, value string) error
	// PatientsAfter returns up to n patients whose ids sort after id
	// ("": from the first), in id order: a walk over every patient.
	PatientsAfter(ctx context.Context, id string, n int) ([]PatientRow, error)
	// ClearPatientIdentifiers deletes every patient identifier hash (to
	// hash them all again).
	ClearPatientIdentifiers(ctx context.Context) error
	// KeyedRowsAfter returns up to n rows of table (KeyedTables) whose
	// ids sort after id, in id order; SetKeyHashes gives rows of table
	// new key hashes, by id (to key them all again).
	KeyedRowsAfter(ctx context.Context, table, id string, n int) ([]KeyedRow, error)
	SetKeyHashes(ctx context.Context, table string, rows []KeyedRow) error
	Savepoint(ctx context.Context, name string) error
	RollbackTo(ctx context.Context, name string) error
	Release(ctx context.Context, name string) error
}

// Clinical is the catalog's clinical side.
type Clinical interface {
	// InClinicalTx runs fn in one transaction, committed (durably) only if
	// fn returns nil.
	InClinicalTx(ctx context.Context, fn func(tx ClinicalTx) error) error
	// InClinicalTxNoWait runs fn in one transaction and returns once it is
	// committed; durable returns once it is on stable storage too (see
	// the SQL store's doc). Acknowledge nothing before durable returns nil.
	InClinicalTxNoWait(ctx context.Context, fn func(tx ClinicalTx) error) (durable func() error, err error)
	GetSealingKey(ctx context.Context, name string) (SealingKey, error)
	// PutSealingKey inserts k unless a key of that name exists (then it
	// returns the existing one's ErrExists-free no-op; read it back).
	PutSealingKey(ctx context.Context, k SealingKey) error
	GetHL7MessageByID(ctx context.Context, id string) (HL7Message, error)
	// ListHL7Messages returns messages in state (all when ""), oldest first.
	ListHL7Messages(ctx context.Context, state string, limit int) ([]HL7Message, error)
	ListPatientRecords(ctx context.Context, patientID string) (enc []ClinicalRow, orders []OrderRow, results []ClinicalRow, err error)
	// PatientOfSample returns the patient whose order names sampleID, or
	// ErrNotFound; several patients' orders naming one sample is an error.
	PatientOfSample(ctx context.Context, sampleID string) (string, error)
}

// ErrSeveralPatients: orders of more than one patient name one sample.
var ErrSeveralPatients = errors.New("orders of several patients name the sample")

var b64 = base64.StdEncoding

type clinicalTx struct {
	s     *sqlStore
	tx    *sql.Tx
	stmts map[string]*sql.Stmt // this transaction's copies of s.stmts
}

func (s *sqlStore) InClinicalTx(ctx context.Context, fn func(tx ClinicalTx) error) error {
	// Acknowledged messages must survive power loss, as audit records do.
	var inner error
	err := s.durableTx(ctx, func(tx *sql.Tx) error {
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

func (c *clinicalTx) exec(ctx context.Context, q string, args ...any) error {
	st, err := c.stmt(ctx, q)
	if err != nil {
		return err
	}
	if _, err := st.ExecContext(ctx, args...); err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	return nil
}

// queryRow runs a cached statement in the transaction.
func (c *clinicalTx) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	st, err := c.stmt(ctx, q)
	if err != nil {
		return c.tx.QueryRowContext(ctx, c.s.q(q), args...) // reports the same error
	}
	return st.QueryRowContext(ctx, args...)
}

// stmt returns the transaction's copy of a statement prepared once per
// store (the clinical tables' statements run thousands of times a second
// under an HL7 feed, and parsing them each time costs more than running
// them); a statement not prepared at Open is prepared in the transaction.
func (c *clinicalTx) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	if st, ok := c.stmts[q]; ok {
		return st, nil
	}
	var st *sql.Stmt
	if v, ok := c.s.stmts.Load(q); ok {
		st = c.tx.StmtContext(ctx, v.(*sql.Stmt))
	} else {
		var err error
		if st, err = c.tx.PrepareContext(ctx, c.s.q(q)); err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
	}
	if c.stmts == nil {
		c.stmts = make(map[string]*sql.Stmt)
	}
	c.stmts[q] = st // closed with the transaction
	return st, nil
}

// prepareClinical prepares the hot statements of the clinical tables and
// the audit trail (and, on SQLite, the inbox's per-message savepoint).
func (s *sqlStore) prepareClinical(ctx context.Context) error {
	qs := slices.Concat(clinicalQueries, auditQueries)
	if !s.postgres {
		qs = append(qs, `SAVEPOINT sp_m`, `ROLLBACK TO SAVEPOINT sp_m`, `RELEASE SAVEPOINT sp_m`)
	}
	for _, q := range qs {
		if _, ok := s.stmts.Load(q); ok {
			continue // the same text twice
		}
		st, err := s.db.PrepareContext(ctx, s.q(q))
		if err != nil {
			return fmt.Errorf("catalog: preparing %q: %w", q, err)
		}
		s.stmts.Store(q, st)
	}
	return nil
}

const (
	qGetPatient   = `SELECT id, merged_into, sealed, created, updated FROM patients WHERE id = ?`
	qPutPatient   = `INSERT INTO patients (id, merged_into, sealed, created, updated) VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET merged_into = excluded.merged_into, sealed = excluded.sealed, updated = excluded.updated`
	qPatientByID  = `SELECT patient_id FROM patient_ids WHERE hash = ?`
	qPutPatientID = `INSERT INTO patient_ids (hash, patient_id) VALUES (?, ?) ON CONFLICT (hash) DO UPDATE SET patient_id = excluded.patient_id`
	qPutEncounter = `INSERT INTO encounters (id, patient_id, key_hash, sealed, updated) VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET patient_id = excluded.patient_id, sealed = excluded.sealed, updated = excluded.updated`
	qPutResult    = `INSERT INTO results (id, patient_id, order_id, key_hash, sealed, updated) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET patient_id = excluded.patient_id, order_id = excluded.order_id, sealed = excluded.sealed, updated = excluded.updated`
	qGetOrder     = `SELECT id, patient_id, key_hash, sample_id, status, sealed, updated FROM orders WHERE key_hash = ?`
	qPutOrder     = `INSERT INTO orders (id, patient_id, key_hash, sample_id, status, sealed, updated) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET patient_id = excluded.patient_id, sample_id = excluded.sample_id, status = excluded.status, sealed = excluded.sealed, updated = excluded.updated`
	qGetHL7       = `SELECT ` + hl7Cols + ` FROM hl7_messages WHERE sender = ? AND control_id = ?`
	qPutHL7       = `INSERT INTO hl7_messages (` + hl7Cols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)` + qPutHL7Tail
	qPutHL7Tail   = ` ON CONFLICT (id) DO UPDATE SET type = excluded.type, state = excluded.state, error = excluded.error, ack = excluded.ack, patient_id = excluded.patient_id, sealed = excluded.sealed`
)

// rowQuery selects an encounter or result row by its key hash.
func rowQuery(table string) string {
	order := "''"
	if table == "results" {
		order = "order_id"
	}
	return `SELECT id, patient_id, key_hash, ` + order + `, sealed, updated FROM ` + table + ` WHERE key_hash = ?`
}

// Batch statements take up to this many rows (well under SQLite's 32766
// and PostgreSQL's 65535 parameters); a statement of a full chunk is
// prepared at Open, a shorter last one in its transaction.
const (
	lookupChunk  = 500
	patientChunk = 200 // 5 parameters a row
	idChunk      = 500 // 2 parameters a row
)

const (
	qPutPatientsHead = `INSERT INTO patients (id, merged_into, sealed, created, updated) VALUES `
	qPutPatientsTail = ` ON CONFLICT (id) DO UPDATE SET merged_into = excluded.merged_into, sealed = excluded.sealed, updated = excluded.updated`
	qPutIDsHead      = `INSERT INTO patient_ids (hash, patient_id) VALUES `
	qPutIDsTail      = ` ON CONFLICT (hash) DO UPDATE SET patient_id = excluded.patient_id`
)

// inList is "(?, ?, ...)" of n placeholders; rows is n such tuples of width w.
func inList(n int) string  { return "(" + strings.Repeat("?, ", n-1) + "?)" }
func rows(n, w int) string { return strings.Repeat(inList(w)+", ", n-1) + inList(w) }

func qPatientsByIDs(n int) string {
	return `SELECT hash, patient_id FROM patient_ids WHERE hash IN ` + inList(n)
}
func qGetPatients(n int) string {
	return `SELECT id, merged_into, sealed, created, updated FROM patients WHERE id IN ` + inList(n)
}
func qPutPatients(n int) string { return qPutPatientsHead + rows(n, 5) + qPutPatientsTail }

// The inbox looks up and stores a group's messages together: statements
// of a power of two rows up to hl7Chunk, prepared at Open (a lookup
// repeats its last key to fill one; a write is cut into such chunks).
const hl7Chunk = 64

func qHL7ByKeys(n int) string {
	return `SELECT ` + hl7Cols + ` FROM hl7_messages WHERE (sender, control_id) IN (VALUES ` + rows(n, 2) + `)`
}
func qPutHL7s(n int) string {
	return `INSERT INTO hl7_messages (` + hl7Cols + `) VALUES ` + rows(n, 10) + qPutHL7Tail
}
func qPutIDs(n int) string { return qPutIDsHead + rows(n, 2) + qPutIDsTail }

// A group of HL7 messages looks up and writes its visits together, in
// statements of a power of two rows up to hl7Chunk like its messages.
func qGetEncounters(n int) string {
	return `SELECT id, patient_id, key_hash, '', sealed, updated FROM encounters WHERE key_hash IN ` + inList(n)
}
func qPutEncounters(n int) string {
	return `INSERT INTO encounters (id, patient_id, key_hash, sealed, updated) VALUES ` + rows(n, 5) + qPutEncountersTail
}

const qPutEncountersTail = ` ON CONFLICT (id) DO UPDATE SET patient_id = excluded.patient_id, sealed = excluded.sealed, updated = excluded.updated`

// An extract of results looks up and writes its orders and results
// together, in statements like the visits'.
func qGetResults(n int) string {
	return `SELECT id, patient_id, key_hash, order_id, sealed, updated FROM results WHERE key_hash IN ` + inList(n)
}
func qPutResults(n int) string {
	return `INSERT INTO results (id, patient_id, order_id, key_hash, sealed, updated) VALUES ` + rows(n, 6) + qPutResultsTail
}
func qGetOrders(n int) string {
	return `SELECT id, patient_id, key_hash, sample_id, status, sealed, updated FROM orders WHERE key_hash IN ` + inList(n)
}
func qPutOrders(n int) string {
	return `INSERT INTO orders (id, patient_id, key_hash, sample_id, status, sealed, updated) VALUES ` + rows(n, 7) + qPutOrdersTail
}

const (
	qPutResultsTail = ` ON CONFLICT (id) DO UPDATE SET patient_id = excluded.patient_id, order_id = excluded.order_id, sealed = excluded.sealed, updated = excluded.updated`
	qPutOrdersTail  = ` ON CONFLICT (id) DO UPDATE SET patient_id = excluded.patient_id, sample_id = excluded.sample_id, status = excluded.status, sealed = excluded.sealed, updated = excluded.updated`
)

var clinicalQueries = func() []string {
	qs := []string{qGetPatient, qPutPatient, qPatientByID, qPutPatientID, qPutEncounter, qPutResult, qGetOrder, qPutOrder, qSetting,
		qGetHL7, qPutHL7, rowQuery("encounters"), rowQuery("results"),
		qPatientsByIDs(lookupChunk), qGetPatients(lookupChunk), qPutPatients(patientChunk), qPutIDs(idChunk)}
	// An HL7 message's patient has a few identifiers: the short forms
	// run for every message.
	for n := 1; n <= 4; n++ {
		qs = append(qs, qPatientsByIDs(n), qGetPatients(n), qPutPatients(n), qPutIDs(n))
	}
	// A group of HL7 messages looks up and writes its patients together:
	// the short batches take statements of a power of two rows (small).
	for n := 8; n <= hl7Chunk; n *= 2 {
		qs = append(qs, qPatientsByIDs(n), qGetPatients(n), qPutPatients(n), qPutIDs(n))
	}
	for n := 1; n <= hl7Chunk; n *= 2 {
		qs = append(qs, qHL7ByKeys(n), qPutHL7s(n), qGetEncounters(n), qPutEncounters(n),
			qGetOrders(n), qPutOrders(n), qGetResults(n), qPutResults(n))
	}
	return qs
}()

func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	return nil
}

// binary scans a column of bytes stored as base64 text (or, for the
// sealed records SQLite keeps as BLOBs, as they are). Text that is not
// base64 fails the Scan, naming the column, instead of reading as a
// record too short to open.
type binary []byte

func (b *binary) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*b = nil
	case []byte:
		*b = bytes.Clone(v)
	case string:
		d, err := b64.DecodeString(v)
		if err != nil {
			return fmt.Errorf("not base64: %w", err)
		}
		*b = d
	default:
		return fmt.Errorf("not bytes or base64 text but %T", src)
	}
	return nil
}

// sealedValue is how a sealed record of the patients, encounters, orders
// and results tables is written (binary reads it back). On SQLite it is the bytes as they are,
// a BLOB (a column's TEXT affinity leaves a BLOB alone): a quarter
// smaller than base64 text, so fewer pages to write, and no encoding. On
// PostgreSQL, whose sealed columns are TEXT (a bytea column would take a
// rewrite of every table), it is base64 text as before.
func (s *sqlStore) sealedValue(b []byte) any {
	if s.postgres {
		return b64.EncodeToString(b)
	}
	if b == nil {
		return []byte{} // a NULL would not be a record
	}
	return b
}

func (c *clinicalTx) GetPatient(ctx context.Context, id string) (PatientRow, error) {
	var p PatientRow
	var sealed binary
	var cr, up int64
	err := c.queryRow(ctx, qGetPatient, id).Scan(&p.ID, &p.MergedInto, &sealed, &cr, &up)
	p.Sealed, p.Created, p.Updated = sealed, fromNanos(cr), fromNanos(up)
	return p, notFound(err, "patient")
}

func (c *clinicalTx) PutPatient(ctx context.Context, p PatientRow) error {
	return c.exec(ctx, qPutPatient,
		p.ID, p.MergedInto, c.s.sealedValue(p.Sealed), nanos(p.Created), nanos(p.Updated))
}

func (c *clinicalTx) PatientByIdentifier(ctx context.Context, hash string) (string, error) {
	var id string
	err := c.queryRow(ctx, qPatientByID, hash).Scan(&id)
	return id, notFound(err, "patient identifier")
}

func (c *clinicalTx) PutPatientIdentifier(ctx context.Context, hash, patientID string) error {
	return c.exec(ctx, qPutPatientID, hash, patientID)
}

func (c *clinicalTx) PatientIdentifiers(ctx context.Context, patientID string) ([]string, error) {
	var out []string
	err := c.query(ctx, `SELECT hash FROM patient_ids WHERE patient_id = ? ORDER BY hash`, []any{patientID}, func(r *sql.Rows) error {
		var h string
		if err := r.Scan(&h); err != nil {
			return err
		}
		out = append(out, h)
		return nil
	})
	return out, err
}

// small is the statement size for a short batch's n rows: a power of two
// up to hl7Chunk (prepared at Open), filled by repeating a row; a longer
// one takes its own length.
func small(n int) int {
	if n <= 4 || n > hl7Chunk {
		return n
	}
	m := 8
	for m < n {
		m *= 2
	}
	return m
}

// padded is keys filled to small(len(keys)) by repeating the last.
func padded(keys []string) []any {
	out := anys(keys)
	for len(out) < small(len(keys)) {
		out = append(out, keys[len(keys)-1])
	}
	return out
}

// piece is how many of n rows left to write go in the next statement:
// full chunks, then at most hl7Chunk rows in pieces of a power of two
// (prepared at Open).
func piece(n, chunk int) int {
	if n >= chunk || n > hl7Chunk || n <= 4 {
		return min(n, chunk)
	}
	m := hl7Chunk
	for m > n {
		m /= 2
	}
	return m
}

func (c *clinicalTx) PatientsByIdentifiers(ctx context.Context, hashes []string) (map[string]string, error) {
	out := make(map[string]string, len(hashes))
	for chunk := range slices.Chunk(hashes, lookupChunk) {
		args := padded(chunk)
		err := c.query(ctx, qPatientsByIDs(len(args)), args, func(r *sql.Rows) error {
			var h, id string
			if err := r.Scan(&h, &id); err != nil {
				return err
			}
			out[h] = id
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (c *clinicalTx) GetPatients(ctx context.Context, ids []string) (map[string]PatientRow, error) {
	out := make(map[string]PatientRow, len(ids))
	for chunk := range slices.Chunk(ids, lookupChunk) {
		args := padded(chunk)
		err := c.query(ctx, qGetPatients(len(args)), args, func(r *sql.Rows) error {
			p, err := scanPatient(r)
			out[p.ID] = p
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (c *clinicalTx) PutPatients(ctx context.Context, ps []PatientRow) error {
	ps = lastOf(ps, func(p PatientRow) string { return p.ID })
	for len(ps) > 0 {
		chunk := ps[:piece(len(ps), patientChunk)]
		ps = ps[len(chunk):]
		args := make([]any, 0, 5*len(chunk))
		for _, p := range chunk {
			args = append(args, p.ID, p.MergedInto, c.s.sealedValue(p.Sealed), nanos(p.Created), nanos(p.Updated))
		}
		if err := c.exec(ctx, qPutPatients(len(chunk)), args...); err != nil {
			return err
		}
	}
	return nil
}

func (c *clinicalTx) PutPatientIdentifiers(ctx context.Context, ids []IdentifierRow) error {
	ids = lastOf(ids, func(r IdentifierRow) string { return r.Hash })
	for len(ids) > 0 {
		chunk := ids[:piece(len(ids), idChunk)]
		ids = ids[len(chunk):]
		args := make([]any, 0, 2*len(chunk))
		for _, r := range chunk {
			args = append(args, r.Hash, r.PatientID)
		}
		if err := c.exec(ctx, qPutIDs(len(chunk)), args...); err != nil {
			return err
		}
	}
	return nil
}

// lastOf keeps the last of the rows sharing a key, in order: one
// statement may not upsert a row twice (PostgreSQL refuses it).
func lastOf[T any](rs []T, key func(T) string) []T {
	last := make(map[string]int, len(rs))
	for i, r := range rs {
		last[key(r)] = i
	}
	if len(last) == len(rs) {
		return rs
	}
	out := make([]T, 0, len(last))
	for i, r := range rs {
		if last[key(r)] == i {
			out = append(out, r)
		}
	}
	return out
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// query runs a cached statement in the transaction and calls each for
// every row.
func (c *clinicalTx) query(ctx context.Context, q string, args []any, each func(*sql.Rows) error) error {
	st, err := c.stmt(ctx, q)
	if err != nil {
		return err
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := each(rows); err != nil {
			return fmt.Errorf("catalog: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	return nil
}

func (c *clinicalTx) getRow(ctx context.Context, table, keyHash string) (ClinicalRow, error) {
	var r ClinicalRow
	var sealed binary
	var up int64
	err := c.queryRow(ctx, rowQuery(table), keyHash).
		Scan(&r.ID, &r.PatientID, &r.KeyHash, &r.OrderID, &sealed, &up)
	r.Sealed, r.Updated = sealed, fromNanos(up)
	return r, notFound(err, table[:len(table)-1])
}

func (c *clinicalTx) GetEncounter(ctx context.Context, keyHash string) (ClinicalRow, error) {
	return c.getRow(ctx, "encounters", keyHash)
}

func (c *clinicalTx) PutEncounter(ctx context.Context, r ClinicalRow) error {
	return c.exec(ctx, qPutEncounter,
		r.ID, r.PatientID, r.KeyHash, c.s.sealedValue(r.Sealed), nanos(r.Updated))
}

func (c *clinicalTx) GetEncounters(ctx context.Context, keyHashes []string) (map[string]ClinicalRow, error) {
	return c.getRows(ctx, keyHashes, qGetEncounters)
}

// getRows is GetEncounters or GetResults: q(n) selects the rows of n key
// hashes.
func (c *clinicalTx) getRows(ctx context.Context, keyHashes []string, q func(n int) string) (map[string]ClinicalRow, error) {
	out := make(map[string]ClinicalRow, len(keyHashes))
	err := c.byKeys(ctx, keyHashes, q, func(r *sql.Rows) error {
		var e ClinicalRow
		var sealed binary
		var up int64
		if err := r.Scan(&e.ID, &e.PatientID, &e.KeyHash, &e.OrderID, &sealed, &up); err != nil {
			return err
		}
		e.Sealed, e.Updated = sealed, fromNanos(up)
		out[e.KeyHash] = e
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// byKeys runs q(n), a select by n keys, over keys in statements of a
// power of two keys up to hl7Chunk (prepared at Open), the last key
// repeated to fill the last one, and calls each for every row.
func (c *clinicalTx) byKeys(ctx context.Context, keys []string, q func(n int) string, each func(*sql.Rows) error) error {
	for chunk := range slices.Chunk(keys, hl7Chunk) {
		n := 1
		for n < len(chunk) {
			n *= 2
		}
		args := make([]any, n)
		for i := range n {
			args[i] = chunk[min(i, len(chunk)-1)] // the last again, to fill the statement
		}
		if err := c.query(ctx, q(n), args, each); err != nil {
			return err
		}
	}
	return nil
}

// putPieces writes rs with q(n), an upsert of n rows whose arguments
// args appends, in statements of a power of two rows up to hl7Chunk
// (prepared at Open).
func putPieces[T any](ctx context.Context, c *clinicalTx, rs []T, q func(n int) string, args func([]any, T) []any) error {
	for len(rs) > 0 {
		n := hl7Chunk
		for n > len(rs) {
			n /= 2
		}
		var a []any
		for _, r := range rs[:n] {
			a = args(a, r)
		}
		if err := c.exec(ctx, q(n), a...); err != nil {
			return err
		}
		rs = rs[n:]
	}
	return nil
}

func (c *clinicalTx) PutEncounters(ctx context.Context, rs []ClinicalRow) error {
	rs = lastOf(rs, func(r ClinicalRow) string { return r.ID })
	return putPieces(ctx, c, rs, qPutEncounters, func(a []any, r ClinicalRow) []any {
		return append(a, r.ID, r.PatientID, r.KeyHash, c.s.sealedValue(r.Sealed), nanos(r.Updated))
	})
}

func (c *clinicalTx) GetResults(ctx context.Context, keyHashes []string) (map[string]ClinicalRow, error) {
	return c.getRows(ctx, keyHashes, qGetResults)
}

func (c *clinicalTx) PutResults(ctx context.Context, rs []ClinicalRow) error {
	rs = lastOf(rs, func(r ClinicalRow) string { return r.ID })
	return putPieces(ctx, c, rs, qPutResults, func(a []any, r ClinicalRow) []any {
		return append(a, r.ID, r.PatientID, r.OrderID, r.KeyHash, c.s.sealedValue(r.Sealed), nanos(r.Updated))
	})
}

func (c *clinicalTx) GetOrders(ctx context.Context, keyHashes []string) (map[string]OrderRow, error) {
	out := make(map[string]OrderRow, len(keyHashes))
	err := c.byKeys(ctx, keyHashes, qGetOrders, func(r *sql.Rows) error {
		var o OrderRow
		var sealed binary
		var up int64
		if err := r.Scan(&o.ID, &o.PatientID, &o.KeyHash, &o.SampleID, &o.Status, &sealed, &up); err != nil {
			return err
		}
		o.Sealed, o.Updated = sealed, fromNanos(up)
		out[o.KeyHash] = o
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (c *clinicalTx) PutOrders(ctx context.Context, ors []OrderRow) error {
	ors = lastOf(ors, func(o OrderRow) string { return o.ID })
	return putPieces(ctx, c, ors, qPutOrders, func(a []any, o OrderRow) []any {
		return append(a, o.ID, o.PatientID, o.KeyHash, o.SampleID, o.Status, c.s.sealedValue(o.Sealed), nanos(o.Updated))
	})
}

func (c *clinicalTx) GetResult(ctx context.Context, keyHash string) (ClinicalRow, error) {
	return c.getRow(ctx, "results", keyHash)
}

func (c *clinicalTx) PutResult(ctx context.Context, r ClinicalRow) error {
	return c.exec(ctx, qPutResult,
		r.ID, r.PatientID, r.OrderID, r.KeyHash, c.s.sealedValue(r.Sealed), nanos(r.Updated))
}

func (c *clinicalTx) GetOrder(ctx context.Context, keyHash string) (OrderRow, error) {
	var o OrderRow
	var sealed binary
	var up int64
	err := c.queryRow(ctx, qGetOrder, keyHash).
		Scan(&o.ID, &o.PatientID, &o.KeyHash, &o.SampleID, &o.Status, &sealed, &up)
	o.Sealed, o.Updated = sealed, fromNanos(up)
	return o, notFound(err, "order")
}

func (c *clinicalTx) PutOrder(ctx context.Context, o OrderRow) error {
	return c.exec(ctx, qPutOrder,
		o.ID, o.PatientID, o.KeyHash, o.SampleID, o.Status, c.s.sealedValue(o.Sealed), nanos(o.Updated))
}

func (c *clinicalTx) MovePatientRecords(ctx context.Context, from, to string) error {
	for _, t := range []string{"encounters", "orders", "results"} {
		if err := c.exec(ctx, `UPDATE `+t+` SET patient_id = ? WHERE patient_id = ?`, to, from); err != nil {
			return err
		}
	}
	return nil
}

const hl7Cols = `id, sender, control_id, received, type, state, error, ack, patient_id, sealed`

type scanner interface{ Scan(...any) error }

func scanHL7(sc scanner) (HL7Message, error) {
	var m HL7Message
	var rec int64
	var ack, sealed binary
	err := sc.Scan(&m.ID, &m.Sender, &m.ControlID, &rec, &m.Type, &m.State, &m.Error, &ack, &m.PatientID, &sealed)
	m.Received, m.Ack, m.Sealed = fromNanos(rec), ack, sealed
	return m, err
}

func (c *clinicalTx) GetHL7Message(ctx context.Context, sender, controlID string) (HL7Message, error) {
	m, err := scanHL7(c.queryRow(ctx, qGetHL7, sender, controlID))
	return m, notFound(err, "HL7 message")
}

func (c *clinicalTx) PutHL7Message(ctx context.Context, m HL7Message) error {
	return c.exec(ctx, qPutHL7,
		m.ID, m.Sender, m.ControlID, nanos(m.Received), m.Type, m.State, m.Error, b64.EncodeToString(m.Ack), m.PatientID, b64.EncodeToString(m.Sealed))
}

func (c *clinicalTx) HL7Messages(ctx context.Context, keys []HL7Key) (map[HL7Key]HL7Message, error) {
	out := make(map[HL7Key]HL7Message, len(keys))
	for chunk := range slices.Chunk(keys, hl7Chunk) {
		n := 1
		for n < len(chunk) {
			n *= 2
		}
		args := make([]any, 0, 2*n)
		for i := range n {
			k := chunk[min(i, len(chunk)-1)] // the last again, to fill the statement
			args = append(args, k.Sender, k.ControlID)
		}
		err := c.query(ctx, qHL7ByKeys(n), args, func(r *sql.Rows) error {
			m, err := scanHL7(r)
			if err != nil {
				return err
			}
			out[HL7Key{m.Sender, m.ControlID}] = m
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (c *clinicalTx) PutHL7Messages(ctx context.Context, ms []HL7Message) error {
	ms = lastOf(ms, func(m HL7Message) string { return m.ID })
	for len(ms) > 0 {
		n := hl7Chunk
		for n > len(ms) {
			n /= 2
		}
		args := make([]any, 0, 10*n)
		for _, m := range ms[:n] {
			args = append(args, m.ID, m.Sender, m.ControlID, nanos(m.Received), m.Type, m.State, m.Error, b64.EncodeToString(m.Ack), m.PatientID, b64.EncodeToString(m.Sealed))
		}
		if err := c.exec(ctx, qPutHL7s(n), args...); err != nil {
			return err
		}
		ms = ms[n:]
	}
	return nil
}

func (s *sqlStore) GetSealingKey(ctx context.Context, name string) (SealingKey, error) {
	var k SealingKey
	var wrapped binary
	var cr int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT name, key_name, key_version, wrapped, created FROM sealing_keys WHERE name = ?`), name).
		Scan(&k.Name, &k.KeyName, &k.KeyVersion, &wrapped, &cr)
	k.Wrapped, k.Created = wrapped, fromNanos(cr)
	return k, notFound(err, "sealing key")
}

func (s *sqlStore) PutSealingKey(ctx context.Context, k SealingKey) error {
	if k.Name == "" || len(k.Wrapped) == 0 {
		return errors.New("catalog: sealing key needs a name and the wrapped key")
	}
	_, err := s.exec(ctx, `INSERT INTO sealing_keys (name, key_name, key_version, wrapped, created) VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING`,
		k.Name, k.KeyName, k.KeyVersion, b64.EncodeToString(k.Wrapped), nanos(k.Created))
	return err
}

func (s *sqlStore) GetHL7MessageByID(ctx context.Context, id string) (HL7Message, error) {
	m, err := scanHL7(s.db.QueryRowContext(ctx, s.q(`SELECT `+hl7Cols+` FROM hl7_messages WHERE id = ?`), id))
	return m, notFound(err, "HL7 message")
}

func (s *sqlStore) ListHL7Messages(ctx context.Context, state string, limit int) ([]HL7Message, error) {
	if limit <= 0 {
		limit = 1000
	}
	q, args := `SELECT `+hl7Cols+` FROM hl7_messages ORDER BY received, id LIMIT ?`, []any{limit}
	if state != "" {
		q, args = `SELECT `+hl7Cols+` FROM hl7_messages WHERE state = ? ORDER BY received, id LIMIT ?`, []any{state, limit}
	}
	rows, err := s.db.QueryContext(ctx, s.q(q), args...)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	var out []HL7Message
	for rows.Next() {
		m, err := scanHL7(rows)
		if err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

func (s *sqlStore) ListPatientRecords(ctx context.Context, patientID string) ([]ClinicalRow, []OrderRow, []ClinicalRow, error) {
	var enc, res []ClinicalRow
	var ord []OrderRow
	err := s.InClinicalTx(ctx, func(tx ClinicalTx) error {
		c := tx.(*clinicalTx)
		read := func(table string, into *[]ClinicalRow) error {
			order := "''"
			if table == "results" {
				order = "order_id"
			}
			rows, err := c.tx.QueryContext(ctx, s.q(`SELECT id, patient_id, key_hash, `+order+`, sealed, updated FROM `+table+` WHERE patient_id = ? ORDER BY id`), patientID)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var r ClinicalRow
				var sealed binary
				var up int64
				if err := rows.Scan(&r.ID, &r.PatientID, &r.KeyHash, &r.OrderID, &sealed, &up); err != nil {
					return err
				}
				r.Sealed, r.Updated = sealed, fromNanos(up)
				*into = append(*into, r)
			}
			return rows.Err()
		}
		if err := read("encounters", &enc); err != nil {
			return err
		}
		if err := read("results", &res); err != nil {
			return err
		}
		rows, err := c.tx.QueryContext(ctx, s.q(`SELECT id, patient_id, key_hash, sample_id, status, sealed, updated FROM orders WHERE patient_id = ? ORDER BY id`), patientID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var o OrderRow
			var sealed binary
			var up int64
			if err := rows.Scan(&o.ID, &o.PatientID, &o.KeyHash, &o.SampleID, &o.Status, &sealed, &up); err != nil {
				return err
			}
			o.Sealed, o.Updated = sealed, fromNanos(up)
			ord = append(ord, o)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("catalog: %w", err)
	}
	return enc, ord, res, nil
}

func savepointName(name string) (string, error) {
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return "", fmt.Errorf("catalog: bad savepoint name %q", name)
		}
	}
	return "sp_" + name, nil
}

func (c *clinicalTx) Savepoint(ctx context.Context, name string) error {
	n, err := savepointName(name)
	if err != nil {
		return err
	}
	return c.exec(ctx, `SAVEPOINT `+n)
}

func (c *clinicalTx) RollbackTo(ctx context.Context, name string) error {
	n, err := savepointName(name)
	if err != nil {
		return err
	}
	return c.exec(ctx, `ROLLBACK TO SAVEPOINT `+n)
}

func (c *clinicalTx) Release(ctx context.Context, name string) error {
	n, err := savepointName(name)
	if err != nil {
		return err
	}
	return c.exec(ctx, `RELEASE SAVEPOINT `+n)
}

func (s *sqlStore) PatientOfSample(ctx context.Context, sampleID string) (string, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT DISTINCT patient_id FROM orders WHERE sample_id = ? AND sample_id != ''`), sampleID)
	if err != nil {
		return "", fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return "", fmt.Errorf("catalog: %w", err)
		}
		ids = append(ids, id)
	}
	switch {
	case rows.Err() != nil:
		return "", fmt.Errorf("catalog: %w", rows.Err())
	case len(ids) == 0:
		return "", fmt.Errorf("sample: %w", ErrNotFound)
	case len(ids) > 1:
		return "", fmt.Errorf("catalog: orders of %d patients name the same sample: %w", len(ids), ErrSeveralPatients)
	}
	return ids[0], nil
}

func (c *clinicalTx) AppendAudit(ctx context.Context, es []AuditEvent) ([]AuditEvent, error) {
	out, err := c.s.appendAudit(ctx, c.tx, es)
	if err != nil {
		return es, fmt.Errorf("catalog: audit: %w", err)
	}
	return out, nil
}

func (c *clinicalTx) Watermark(ctx context.Context, source string) (time.Time, error) {
	var n int64
	err := c.tx.QueryRowContext(ctx, c.s.q(`SELECT watermark FROM extract_watermarks WHERE source = ?`), source).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("catalog: %w", err)
	}
	return fromNanos(n), nil
}

// schemeLock is the PostgreSQL advisory lock of the clinical key scheme
// (LockScheme).
const schemeLock int64 = 0x636c696e69636b73 // "clinicks"

func (c *clinicalTx) LockScheme(ctx context.Context, exclusive bool) error {
	if !c.s.postgres {
		return nil
	}
	q := `SELECT pg_advisory_xact_lock_shared($1)`
	if exclusive {
		q = `SELECT pg_advisory_xact_lock($1)`
	}
	if _, err := c.tx.ExecContext(ctx, q, schemeLock); err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	return nil
}

// qSetting is prepared at Open: the clinical layer reads its scheme
// setting in every transaction.
const qSetting = `SELECT value FROM clinical_settings WHERE name = ?`

func (c *clinicalTx) Setting(ctx context.Context, name string) (string, error) {
	var v string
	err := c.queryRow(ctx, qSetting, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("catalog: %w", err)
	}
	return v, nil
}

func (c *clinicalTx) PutSetting(ctx context.Context, name, value string) error {
	return c.exec(ctx, `INSERT INTO clinical_settings (name, value) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, value)
}

func (c *clinicalTx) PatientsAfter(ctx context.Context, id string, n int) ([]PatientRow, error) {
	var out []PatientRow
	err := c.query(ctx, `SELECT id, merged_into, sealed, created, updated FROM patients WHERE id > ? ORDER BY id LIMIT ?`, []any{id, n}, func(r *sql.Rows) error {
		p, err := scanPatient(r)
		out = append(out, p)
		return err
	})
	return out, err
}

// scanPatient reads a row of id, merged_into, sealed, created, updated.
func scanPatient(r *sql.Rows) (PatientRow, error) {
	var p PatientRow
	var sealed binary
	var cr, up int64
	err := r.Scan(&p.ID, &p.MergedInto, &sealed, &cr, &up)
	p.Sealed, p.Created, p.Updated = sealed, fromNanos(cr), fromNanos(up)
	return p, err
}

func keyedTable(table string) error {
	if !slices.Contains(KeyedTables, table) {
		return fmt.Errorf("catalog: %q is not a keyed table", table)
	}
	return nil
}

func (c *clinicalTx) KeyedRowsAfter(ctx context.Context, table, id string, n int) ([]KeyedRow, error) {
	if err := keyedTable(table); err != nil {
		return nil, err
	}
	var out []KeyedRow
	err := c.query(ctx, `SELECT id, key_hash, sealed FROM `+table+` WHERE id > ? ORDER BY id LIMIT ?`, []any{id, n}, func(r *sql.Rows) error {
		var k KeyedRow
		var sealed binary
		err := r.Scan(&k.ID, &k.KeyHash, &sealed)
		k.Sealed = sealed
		out = append(out, k)
		return err
	})
	return out, err
}

func (c *clinicalTx) SetKeyHashes(ctx context.Context, table string, rows []KeyedRow) error {
	if err := keyedTable(table); err != nil {
		return err
	}
	for _, r := range rows {
		if err := c.exec(ctx, `UPDATE `+table+` SET key_hash = ? WHERE id = ?`, r.KeyHash, r.ID); err != nil {
			return err
		}
	}
	return nil
}

func (c *clinicalTx) ClearPatientIdentifiers(ctx context.Context) error {
	return c.exec(ctx, `DELETE FROM patient_ids`)
}

func (c *clinicalTx) PutWatermark(ctx context.Context, source string, t time.Time) error {
	return c.exec(ctx, `INSERT INTO extract_watermarks (source, watermark) VALUES (?, ?)
		ON CONFLICT (source) DO UPDATE SET watermark = excluded.watermark WHERE excluded.watermark > extract_watermarks.watermark`, source, nanos(t))
}
