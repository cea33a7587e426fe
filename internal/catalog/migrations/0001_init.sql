-- Initial schema. Written in the SQL common to SQLite and PostgreSQL.
-- Times are Unix nanoseconds (UTC) so both backends compare them the same way.
CREATE TABLE samples (
	id      TEXT PRIMARY KEY,
	created BIGINT NOT NULL
);

CREATE TABLE runs (
	id        TEXT PRIMARY KEY,
	sample_id TEXT NOT NULL REFERENCES samples(id),
	pipeline  TEXT NOT NULL,
	state     TEXT NOT NULL,
	params    TEXT NOT NULL,
	out_dir   TEXT NOT NULL,
	error     TEXT NOT NULL,
	created   BIGINT NOT NULL,
	updated   BIGINT NOT NULL
);
CREATE INDEX runs_sample ON runs(sample_id);
CREATE INDEX runs_state ON runs(state);

CREATE TABLE tasks (
	run_id      TEXT NOT NULL REFERENCES runs(id),
	task_id     TEXT NOT NULL,
	name        TEXT NOT NULL,
	state       TEXT NOT NULL,
	attempts    INTEGER NOT NULL,
	cache_key   TEXT NOT NULL,
	exit_code   INTEGER NOT NULL,
	error       TEXT NOT NULL,
	cpu_seconds DOUBLE PRECISION NOT NULL,
	started     BIGINT NOT NULL,
	finished    BIGINT NOT NULL,
	PRIMARY KEY (run_id, task_id)
);

CREATE TABLE files (
	path     TEXT PRIMARY KEY,
	size     BIGINT NOT NULL,
	mod_time BIGINT NOT NULL,
	sha256   TEXT NOT NULL,
	run_id   TEXT NOT NULL,
	task_id  TEXT NOT NULL
);
CREATE INDEX files_run ON files(run_id);

CREATE TABLE tool_versions (
	run_id  TEXT NOT NULL REFERENCES runs(id),
	tool    TEXT NOT NULL,
	version TEXT NOT NULL,
	PRIMARY KEY (run_id, tool)
);

CREATE TABLE call_cache (
	key     TEXT PRIMARY KEY,
	run_id  TEXT NOT NULL,
	task_id TEXT NOT NULL,
	outputs TEXT NOT NULL,
	created BIGINT NOT NULL
);
