package catalog

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL driver "pgx"
	_ "modernc.org/sqlite"             // pure-Go SQLite driver "sqlite"
)

//go:embed migrations/*.sql
var migrations embed.FS

// sqlStore implements Store over database/sql for both backends; queries
// are written with '?' placeholders and rewritten for PostgreSQL.
type sqlStore struct {
	db *sql.DB
	// rdb serves reads that need no write transaction (the FHIR API, API
	// tokens, reports): on SQLite a pool of read-only connections, which
	// WAL lets read beside the one writer, so a request's lookups do not
	// queue behind another's commit and its disk sync; on PostgreSQL db.
	rdb      *sql.DB
	postgres bool
	stmts    sync.Map // query -> *sql.Stmt, prepared once (clinical.go)
	wal      *walSync // SQLite in WAL mode: syncs the log (walsync.go)
	rstmts   sync.Map // query -> *sql.Stmt on rdb, prepared on first use
}

// readStmt is the read pool's prepared statement for query (in the
// store's dialect), prepared once and kept: the FHIR API and the token
// check run the same few queries for every request.
func (s *sqlStore) readStmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if v, ok := s.rstmts.Load(query); ok {
		return v.(*sql.Stmt), nil
	}
	st, err := s.rdb.PrepareContext(ctx, s.q(query))
	if err != nil {
		return nil, err
	}
	if v, loaded := s.rstmts.LoadOrStore(query, st); loaded {
		st.Close()
		return v.(*sql.Stmt), nil
	}
	return st, nil
}

// Open connects to the catalog named by dsn and applies pending
// migrations. A "postgres://" or "postgresql://" DSN selects PostgreSQL;
// anything else is a SQLite file path (optionally prefixed "sqlite:").
func Open(ctx context.Context, dsn string) (Store, error) {
	s := &sqlStore{}
	var err error
	var dbPath, dsnSQLite string // SQLite
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		s.postgres = true
		s.db, err = sql.Open("pgx", dsn)
		if err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
		s.db.SetMaxOpenConns(8)
		s.rdb = s.db
	} else {
		path := strings.TrimPrefix(dsn, "sqlite:")
		if path == "" {
			return nil, errors.New("catalog: empty SQLite path")
		}
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, err
		}
		dbPath = abs
		q := url.Values{}
		// A 64 MiB page cache (SQLite's default is 2 MiB) keeps the
		// clinical tables' keyed-hash indexes, whose inserts land on
		// random pages, in memory; temp_store in memory keeps the
		// statement and savepoint journals (the inbox's savepoint per
		// message) from spilling to a temporary file.
		for _, p := range []string{"busy_timeout(30000)", "journal_mode(WAL)", "synchronous(NORMAL)", "foreign_keys(1)", "cache_size(-65536)", "temp_store(MEMORY)",
			fmt.Sprintf("wal_autocheckpoint(%d)", walCheckpointBackstop)} {
			q.Add("_pragma", p)
		}
		q.Set("_txlock", "immediate")
		dsnSQLite = "file:" + abs + "?" + q.Encode()
		s.db, err = sql.Open("sqlite", dsnSQLite)
		if err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
		// One connection: SQLite serialises writers anyway, and this
		// rules out "database is locked" between our own goroutines.
		s.db.SetMaxOpenConns(1)
	}
	if err := s.db.PingContext(ctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("catalog: connect: %s", redactDSN(err.Error(), dsn))
	}
	if err := s.migrate(ctx); err != nil {
		s.db.Close()
		return nil, err
	}
	if err := s.prepareClinical(ctx); err != nil {
		s.db.Close()
		return nil, err
	}
	if s.rdb == nil {
		if s.rdb, err = openReaders(dsnSQLite); err != nil {
			s.db.Close()
			return nil, fmt.Errorf("catalog: %w", err)
		}
	}
	if !s.postgres {
		var mode string
		if err := s.db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
			s.db.Close()
			return nil, fmt.Errorf("catalog: %w", err)
		}
		if strings.EqualFold(mode, "wal") { // else every commit syncs itself (InClinicalTxNoWait)
			s.wal = &walSync{db: dbPath}
			if err := s.wal.startCheckpointer(dsnSQLite); err != nil {
				s.db.Close()
				return nil, fmt.Errorf("catalog: %w", err)
			}
		}
	}
	return s, nil
}

// openReaders opens the SQLite read pool: the writer's DSN made
// read-only (query_only), with deferred transactions (a read transaction
// takes no write lock), no checkpointing of its own and a 16 MiB page
// cache per connection; four connections.
func openReaders(dsn string) (*sql.DB, error) {
	path, query, _ := strings.Cut(dsn, "?")
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, err
	}
	q.Del("_txlock")
	pragmas := q["_pragma"][:0]
	for _, p := range q["_pragma"] {
		if !strings.HasPrefix(p, "cache_size") && !strings.HasPrefix(p, "wal_autocheckpoint") {
			pragmas = append(pragmas, p)
		}
	}
	q["_pragma"] = append(pragmas, "query_only(1)", "cache_size(-16384)")
	db, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(4)
	return db, nil
}

// redactDSN removes a DSN's password from a driver message.
func redactDSN(msg, dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		if p, ok := u.User.Password(); ok && p != "" {
			msg = strings.ReplaceAll(msg, p, "xxxxx")
		}
	}
	return msg
}

// migrate applies the embedded migrations not yet recorded in
// schema_migrations, each in its own transaction.
func (s *sqlStore) migrate(ctx context.Context) error {
	return s.migrateTo(ctx, 0)
}

// migrateTo applies the migrations up to version upTo (all when 0).
func (s *sqlStore) migrateTo(ctx context.Context, upTo int) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("catalog: migrations table: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	dialect := "sqlite"
	if s.postgres {
		dialect = "postgres"
	}
	plan, err := migrationPlan(names, dialect)
	if err != nil {
		return err
	}
	for _, m := range plan {
		if upTo > 0 && m.version > upTo {
			break
		}
		var body []byte
		if m.name != "" {
			if body, err = migrations.ReadFile(m.name); err != nil {
				return err
			}
		}
		if err := s.apply(ctx, m.version, string(body)); err != nil {
			return fmt.Errorf("catalog: migration %s: %w", filepath.Base(m.name), err)
		}
	}
	return nil
}

// migration is one schema version: the file to run for a dialect, or no
// file ("") when the version is another dialect's only (it is recorded as
// applied all the same, so every database counts versions alike).
type migration struct {
	version int
	name    string
}

// migrationPlan orders the migration files by version and picks, for
// each version, the file of dialect ("sqlite" or "postgres"). A file
// NNNN_what.sql is for both; NNNN_what.sqlite.sql and
// NNNN_what.postgres.sql are each for one (a version may have either or
// both, but not also a file for both): for a change one backend needs in
// its own SQL — a table rebuild, a storage option — and the other does
// not, or does differently.
func migrationPlan(names []string, dialect string) ([]migration, error) {
	type files struct{ both, own, other string }
	byVersion := map[int]*files{}
	for _, name := range names {
		base := filepath.Base(name)
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("catalog: migration %s: name must start with a positive number", base)
		}
		f := byVersion[v]
		if f == nil {
			f = &files{}
			byVersion[v] = f
		}
		slot := &f.both
		switch stem := strings.TrimSuffix(base, ".sql"); {
		case strings.HasSuffix(stem, "."+dialect):
			slot = &f.own
		case strings.HasSuffix(stem, ".sqlite"), strings.HasSuffix(stem, ".postgres"):
			slot = &f.other
		case strings.Contains(stem, "."):
			return nil, fmt.Errorf("catalog: migration %s: unknown dialect (want NNNN_name.sql, .sqlite.sql or .postgres.sql)", base)
		}
		if *slot != "" {
			return nil, fmt.Errorf("catalog: migrations %s and %s have the same version", filepath.Base(*slot), base)
		}
		*slot = name
		if f.both != "" && (f.own != "" || f.other != "") {
			return nil, fmt.Errorf("catalog: migration version %d has a file for both dialects and one for a single dialect", v)
		}
	}
	plan := make([]migration, 0, len(byVersion))
	for v, f := range byVersion {
		plan = append(plan, migration{version: v, name: f.both + f.own})
	}
	sort.Slice(plan, func(i, j int) bool { return plan[i].version < plan[j].version })
	return plan, nil
}

func (s *sqlStore) apply(ctx context.Context, version int, body string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if s.postgres {
		// Serialise concurrent migrators (several servers starting at once).
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7260521)`); err != nil {
			return err
		}
	}
	var n int
	if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`), version).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	for _, stmt := range strings.Split(body, ";") {
		if strings.TrimSpace(stripComments(stmt)) == "" {
			continue
		}
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO schema_migrations (version, applied) VALUES (?, ?)`), version, time.Now().UnixNano()); err != nil {
		return err
	}
	return tx.Commit()
}

func stripComments(stmt string) string {
	var b strings.Builder
	for _, l := range strings.Split(stmt, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "--") {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// q rewrites '?' placeholders to $1, $2, ... for PostgreSQL.
func (s *sqlStore) q(query string) string {
	if !s.postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, c := range query {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

func (s *sqlStore) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	res, err := s.db.ExecContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	return res, nil
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func (s *sqlStore) Close() error {
	if s.wal != nil {
		s.wal.stopCheckpointer()
	}
	s.stmts.Range(func(_, v any) bool { v.(*sql.Stmt).Close(); return true })
	s.rstmts.Range(func(_, v any) bool { v.(*sql.Stmt).Close(); return true })
	if s.rdb != nil && s.rdb != s.db {
		s.rdb.Close()
	}
	err := s.db.Close()
	if s.wal != nil {
		s.wal.close()
	}
	return err
}

func (s *sqlStore) PutSample(ctx context.Context, sm Sample) error {
	if sm.ID == "" {
		return errors.New("catalog: sample ID is empty")
	}
	if sm.Created.IsZero() {
		sm.Created = time.Now()
	}
	_, err := s.exec(ctx, `INSERT INTO samples (id, created) VALUES (?, ?) ON CONFLICT (id) DO NOTHING`, sm.ID, nanos(sm.Created))
	return err
}

func (s *sqlStore) GetSample(ctx context.Context, id string) (Sample, error) {
	var c int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT created FROM samples WHERE id = ?`), id).Scan(&c)
	if errors.Is(err, sql.ErrNoRows) {
		return Sample{}, fmt.Errorf("sample %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return Sample{}, fmt.Errorf("catalog: %w", err)
	}
	return Sample{ID: id, Created: fromNanos(c)}, nil
}

func (s *sqlStore) CreateRun(ctx context.Context, r Run) error {
	if r.ID == "" || r.SampleID == "" {
		return errors.New("catalog: run needs an ID and a sample ID")
	}
	now := time.Now()
	if r.Created.IsZero() {
		r.Created = now
	}
	if r.Updated.IsZero() {
		r.Updated = r.Created
	}
	if r.State == "" {
		r.State = RunQueued
	}
	_, err := s.exec(ctx, `INSERT INTO runs (id, sample_id, pipeline, state, params, out_dir, error, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.SampleID, r.Pipeline, string(r.State), r.Params, r.OutDir, r.Error, nanos(r.Created), nanos(r.Updated))
	return err
}

func (s *sqlStore) UpdateRun(ctx context.Context, id string, state RunState, errMsg string) error {
	res, err := s.exec(ctx, `UPDATE runs SET state = ?, error = ?, updated = ? WHERE id = ?`, string(state), errMsg, time.Now().UnixNano(), id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("run %q: %w", id, ErrNotFound)
	}
	return nil
}

const runCols = `id, sample_id, pipeline, state, params, out_dir, error, created, updated`

func scanRun(sc interface{ Scan(...any) error }) (Run, error) {
	var r Run
	var state string
	var c, u int64
	err := sc.Scan(&r.ID, &r.SampleID, &r.Pipeline, &state, &r.Params, &r.OutDir, &r.Error, &c, &u)
	r.State, r.Created, r.Updated = RunState(state), fromNanos(c), fromNanos(u)
	return r, err
}

func (s *sqlStore) GetRun(ctx context.Context, id string) (Run, error) {
	r, err := scanRun(s.db.QueryRowContext(ctx, s.q(`SELECT `+runCols+` FROM runs WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return Run{}, fmt.Errorf("run %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return Run{}, fmt.Errorf("catalog: %w", err)
	}
	return r, nil
}

func (s *sqlStore) ListRuns(ctx context.Context, f RunFilter) ([]Run, error) {
	query := `SELECT ` + runCols + ` FROM runs WHERE 1 = 1`
	var args []any
	if f.SampleID != "" {
		query += ` AND sample_id = ?`
		args = append(args, f.SampleID)
	}
	if f.State != "" {
		query += ` AND state = ?`
		args = append(args, string(f.State))
	}
	query += ` ORDER BY created DESC, id DESC`
	if f.Limit > 0 {
		query += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func (s *sqlStore) PutTask(ctx context.Context, t Task) error {
	_, err := s.exec(ctx, `INSERT INTO tasks (run_id, task_id, name, state, attempts, cache_key, exit_code, error, cpu_seconds, started, finished)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (run_id, task_id) DO UPDATE SET name = excluded.name, state = excluded.state, attempts = excluded.attempts,
 cache_key = excluded.cache_key, exit_code = excluded.exit_code, error = excluded.error, cpu_seconds = excluded.cpu_seconds,
 started = excluded.started, finished = excluded.finished`,
		t.RunID, t.TaskID, t.Name, string(t.State), t.Attempts, t.CacheKey, t.ExitCode, t.Error, t.CPUSeconds, nanos(t.Started), nanos(t.Finished))
	return err
}

func (s *sqlStore) ListTasks(ctx context.Context, runID string) ([]Task, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT run_id, task_id, name, state, attempts, cache_key, exit_code, error, cpu_seconds, started, finished FROM tasks WHERE run_id = ? ORDER BY task_id`), runID)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	var out []Task
	for rows.Next() {
		var t Task
		var state string
		var st, fin int64
		if err := rows.Scan(&t.RunID, &t.TaskID, &t.Name, &state, &t.Attempts, &t.CacheKey, &t.ExitCode, &t.Error, &t.CPUSeconds, &st, &fin); err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
		t.State, t.Started, t.Finished = TaskState(state), fromNanos(st), fromNanos(fin)
		out = append(out, t)
	}
	return out, rows.Err()
}

func (s *sqlStore) PutFile(ctx context.Context, f File) error {
	if f.Path == "" {
		return errors.New("catalog: file path is empty")
	}
	_, err := s.exec(ctx, `INSERT INTO files (path, size, mod_time, sha256, run_id, task_id) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (path) DO UPDATE SET size = excluded.size, mod_time = excluded.mod_time, sha256 = excluded.sha256, run_id = excluded.run_id, task_id = excluded.task_id`,
		f.Path, f.Size, nanos(f.ModTime), f.SHA256, f.RunID, f.TaskID)
	return err
}

func scanFile(sc interface{ Scan(...any) error }) (File, error) {
	var f File
	var mt int64
	err := sc.Scan(&f.Path, &f.Size, &mt, &f.SHA256, &f.RunID, &f.TaskID)
	f.ModTime = fromNanos(mt)
	return f, err
}

func (s *sqlStore) GetFile(ctx context.Context, path string) (File, error) {
	f, err := scanFile(s.db.QueryRowContext(ctx, s.q(`SELECT path, size, mod_time, sha256, run_id, task_id FROM files WHERE path = ?`), path))
	if errors.Is(err, sql.ErrNoRows) {
		return File{}, fmt.Errorf("file record: %w", ErrNotFound)
	}
	if err != nil {
		return File{}, fmt.Errorf("catalog: %w", err)
	}
	return f, nil
}

func (s *sqlStore) ListFiles(ctx context.Context, runID string) ([]File, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT path, size, mod_time, sha256, run_id, task_id FROM files WHERE run_id = ? ORDER BY path`), runID)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	var out []File
	for rows.Next() {
		f, err := scanFile(rows)
		if err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

func (s *sqlStore) PutToolVersions(ctx context.Context, runID string, tv []ToolVersion) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM tool_versions WHERE run_id = ?`), runID); err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	for _, t := range tv {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO tool_versions (run_id, tool, version) VALUES (?, ?, ?)`), runID, t.Tool, t.Version); err != nil {
			return fmt.Errorf("catalog: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	return nil
}

func (s *sqlStore) ToolVersions(ctx context.Context, runID string) ([]ToolVersion, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT tool, version FROM tool_versions WHERE run_id = ? ORDER BY tool`), runID)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	var out []ToolVersion
	for rows.Next() {
		var t ToolVersion
		if err := rows.Scan(&t.Tool, &t.Version); err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

func (s *sqlStore) PutCache(ctx context.Context, e CacheEntry) error {
	if e.Key == "" {
		return errors.New("catalog: cache key is empty")
	}
	if e.Created.IsZero() {
		e.Created = time.Now()
	}
	outs, err := json.Marshal(e.Outputs)
	if err != nil {
		return err
	}
	_, err = s.exec(ctx, `INSERT INTO call_cache (key, run_id, task_id, outputs, created) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (key) DO UPDATE SET run_id = excluded.run_id, task_id = excluded.task_id, outputs = excluded.outputs, created = excluded.created`,
		e.Key, e.RunID, e.TaskID, string(outs), nanos(e.Created))
	return err
}

func (s *sqlStore) GetCache(ctx context.Context, key string) (CacheEntry, error) {
	e := CacheEntry{Key: key}
	var outs string
	var c int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT run_id, task_id, outputs, created FROM call_cache WHERE key = ?`), key).Scan(&e.RunID, &e.TaskID, &outs, &c)
	if errors.Is(err, sql.ErrNoRows) {
		return CacheEntry{}, fmt.Errorf("cache entry: %w", ErrNotFound)
	}
	if err != nil {
		return CacheEntry{}, fmt.Errorf("catalog: %w", err)
	}
	e.Created = fromNanos(c)
	if err := json.Unmarshal([]byte(outs), &e.Outputs); err != nil {
		return CacheEntry{}, fmt.Errorf("catalog: cache entry outputs: %w", err)
	}
	return e, nil
}
