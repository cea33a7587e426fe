// Package catalog records what the platform knows about its work: samples,
// pipeline runs, the tasks of each run, the files they produced (path, size,
// sha256), the tool versions each run used, and the call cache that lets a
// resumed run skip work that is already done.
//
// Store is the one interface; Open returns the embedded SQLite backend for a
// file path or "sqlite:" DSN and the PostgreSQL backend for a "postgres://"
// DSN. Both run the same versioned migrations and pass the same conformance
// suite in package catalogtest.
package catalog

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned (wrapped) when a looked-up record does not exist.
var ErrNotFound = errors.New("catalog: not found")

// RunState is the lifecycle state of a pipeline run.
type RunState string

const (
	RunQueued    RunState = "queued"
	RunRunning   RunState = "running"
	RunSucceeded RunState = "succeeded"
	RunFailed    RunState = "failed"
	RunCancelled RunState = "cancelled"
)

// Terminal reports whether no further transition is expected without a resume.
func (s RunState) Terminal() bool {
	return s == RunSucceeded || s == RunFailed || s == RunCancelled
}

// TaskState is the lifecycle state of one task of a run; see package workflow
// for the state machine.
type TaskState string

const (
	TaskPending   TaskState = "pending"
	TaskRunning   TaskState = "running"
	TaskSucceeded TaskState = "succeeded"
	TaskCached    TaskState = "cached" // skipped: the call cache held its outputs
	TaskFailed    TaskState = "failed"
	TaskCancelled TaskState = "cancelled"
)

// Sample is a sequenced specimen known to the platform. ID is the lab's
// sample identifier (not patient identity).
type Sample struct {
	ID      string
	Created time.Time
}

// Run is one execution of a pipeline for a sample.
type Run struct {
	ID       string
	SampleID string
	Pipeline string // e.g. "germline"
	State    RunState
	Params   string // JSON of the run's parameters, as submitted
	OutDir   string
	Error    string // public failure reason when State is failed
	Created  time.Time
	Updated  time.Time
}

// RunFilter narrows ListRuns; zero fields match everything.
type RunFilter struct {
	SampleID string
	State    RunState
	Limit    int // 0 means no limit
}

// Task is one task of a run, keyed by (RunID, TaskID).
type Task struct {
	RunID      string
	TaskID     string // unique within the run, e.g. "align/chunk-01"
	Name       string // the step, e.g. "align"
	State      TaskState
	Attempts   int
	CacheKey   string
	ExitCode   int
	Error      string
	CPUSeconds float64
	Started    time.Time
	Finished   time.Time
}

// File is a file the platform wrote or read, keyed by Path. ModTime and
// Size let a reader trust SHA256 without re-hashing an unchanged file.
type File struct {
	Path    string
	Size    int64
	ModTime time.Time
	SHA256  string // lower-case hex
	RunID   string // empty for inputs not produced by a run
	TaskID  string
}

// ToolVersion is the version of one tool a run used.
type ToolVersion struct {
	Tool    string
	Version string
}

// CacheEntry maps a task's content-hash key to the outputs it produced.
type CacheEntry struct {
	Key     string
	RunID   string
	TaskID  string
	Outputs []File
	Created time.Time
}

// States of a sequencer run folder in the catalog.
const (
	SeqRunIngesting = "ingesting" // FASTQ being stored; resumed by the next scan
	SeqRunIngested  = "ingested"
	SeqRunError     = "error" // Error says why; retried by the next scan
)

// SequencerRun is a sequencer run folder picked up by the ingest watcher.
type SequencerRun struct {
	Name       string // folder name, e.g. 240131_M00123_0042_000000000-ABCDE
	Instrument string
	State      string // SeqRunIngesting, SeqRunIngested or SeqRunError
	Error      string
	Samples    int
	Created    time.Time
	Updated    time.Time
}

// SampleFASTQ links a sample to the FASTQ objects of one lane of a run
// (lake paths; R2 empty for single reads; Lane 0 when lanes are merged).
type SampleFASTQ struct {
	SampleID string
	RunName  string
	Lane     int
	R1, R2   string
}

// APIToken is a personal API token; only the sha256 of its secret is kept.
type APIToken struct {
	ID      string
	Name    string
	Owner   string // the actor who made it ("user:<sub>", "cli:<os user>")
	Hash    string // hex sha256 of the secret
	Grants  string // "role@scope ..." copied from the owner at creation
	Perms   string // optional narrowing: "perm ..."
	Created time.Time
	Expires time.Time
	Revoked time.Time // zero while valid
}

// Store is the catalog. All methods are safe for concurrent use.
type Store interface {
	Clinical
	Reports
	FHIR

	// PutSample creates the sample or leaves an existing one unchanged.
	PutSample(ctx context.Context, s Sample) error
	// GetSample returns ErrNotFound when the sample does not exist.
	GetSample(ctx context.Context, id string) (Sample, error)

	// CreateRun inserts a new run; an existing ID is an error.
	CreateRun(ctx context.Context, r Run) error
	// UpdateRun sets state and error message and bumps Updated; ErrNotFound if absent.
	UpdateRun(ctx context.Context, id string, state RunState, errMsg string) error
	// GetRun returns ErrNotFound when the run does not exist.
	GetRun(ctx context.Context, id string) (Run, error)
	// ListRuns returns runs newest first.
	ListRuns(ctx context.Context, f RunFilter) ([]Run, error)

	// PutTask inserts or replaces the task (RunID, TaskID).
	PutTask(ctx context.Context, t Task) error
	// ListTasks returns a run's tasks ordered by TaskID.
	ListTasks(ctx context.Context, runID string) ([]Task, error)

	// PutFile inserts or replaces the record for f.Path.
	PutFile(ctx context.Context, f File) error
	// GetFile returns ErrNotFound when no record exists for path.
	GetFile(ctx context.Context, path string) (File, error)
	// ListFiles returns the files a run produced, ordered by path.
	ListFiles(ctx context.Context, runID string) ([]File, error)

	// PutToolVersions records (replacing) the tool versions a run used.
	PutToolVersions(ctx context.Context, runID string, tv []ToolVersion) error
	// ToolVersions returns a run's tool versions ordered by tool.
	ToolVersions(ctx context.Context, runID string) ([]ToolVersion, error)

	// PutCache inserts or replaces the entry for e.Key.
	PutCache(ctx context.Context, e CacheEntry) error
	// GetCache returns ErrNotFound when no entry exists for key.
	GetCache(ctx context.Context, key string) (CacheEntry, error)

	// CommitObjectVersion records a new version of v.Path and makes it
	// current, creating the object for patient if it is new (and
	// undeleting it if it was soft-deleted). An object's patient never changes.
	CommitObjectVersion(ctx context.Context, v ObjectVersion, patient string) error
	// GetObject returns ErrNotFound when no object has path.
	GetObject(ctx context.Context, path string) (Object, error)
	// ListObjects returns the objects whose path starts with prefix, deleted ones too, by path.
	ListObjects(ctx context.Context, prefix string) ([]Object, error)
	// UpdateObject sets Deleted, Hold and RetainUntil; ErrNotFound if absent.
	UpdateObject(ctx context.Context, o Object) error
	// GetObjectVersion returns ErrNotFound when no version has id.
	GetObjectVersion(ctx context.Context, id string) (ObjectVersion, error)
	// ListObjectVersions returns a path's versions, oldest first.
	ListObjectVersions(ctx context.Context, path string) ([]ObjectVersion, error)
	// ListVersionsByKey returns the versions whose data key is wrapped by keyName.
	ListVersionsByKey(ctx context.Context, keyName string) ([]ObjectVersion, error)
	// ListVersionsByRun returns the versions a run wrote.
	ListVersionsByRun(ctx context.Context, runID string) ([]ObjectVersion, error)
	// UpdateObjectVersion sets KeyVersion, WrappedKey, Tier, Purged,
	// Verified and VerifyError; ErrNotFound if absent.
	UpdateObjectVersion(ctx context.Context, v ObjectVersion) error

	// PutUpload inserts an upload, or updates its progress (Parts, Offset, HashState).
	PutUpload(ctx context.Context, u Upload) error
	// GetUpload returns ErrNotFound when no upload has id.
	GetUpload(ctx context.Context, id string) (Upload, error)
	// ListUploads returns the uploads in progress, oldest first.
	ListUploads(ctx context.Context) ([]Upload, error)
	// DeleteUpload forgets an upload; no error if absent.
	DeleteUpload(ctx context.Context, id string) error

	// PutSequencerRun inserts or replaces the record of a run folder (by Name).
	PutSequencerRun(ctx context.Context, r SequencerRun) error
	// GetSequencerRun returns ErrNotFound when no run folder has name.
	GetSequencerRun(ctx context.Context, name string) (SequencerRun, error)
	// ListSequencerRuns returns the run folders seen, by name.
	ListSequencerRuns(ctx context.Context) ([]SequencerRun, error)
	// PutSampleFASTQ inserts or replaces the FASTQ of (SampleID, RunName,
	// Lane); the sample and the run folder must exist.
	PutSampleFASTQ(ctx context.Context, f SampleFASTQ) error
	// ListSampleFASTQs returns a sample's FASTQ, by run and lane.
	ListSampleFASTQs(ctx context.Context, sampleID string) ([]SampleFASTQ, error)

	// PutAPIToken inserts a new token; an existing ID is an error.
	PutAPIToken(ctx context.Context, t APIToken) error
	// GetAPIToken returns ErrNotFound when no token has id.
	GetAPIToken(ctx context.Context, id string) (APIToken, error)
	// ListAPITokens returns the tokens of owner (all when owner is ""), newest first.
	ListAPITokens(ctx context.Context, owner string) ([]APIToken, error)
	// RevokeAPIToken marks the token revoked at at (a revoked token stays
	// revoked); ErrNotFound if absent.
	RevokeAPIToken(ctx context.Context, id string, at time.Time) error

	// PutOutbox appends a pending item to its destination's queue, durably,
	// and returns it with its Seq.
	PutOutbox(ctx context.Context, o OutboxItem) (OutboxItem, error)
	// NextOutbox returns the oldest pending item of destination, or ErrNotFound.
	NextOutbox(ctx context.Context, destination string) (OutboxItem, error)
	// UpdateOutbox records an attempt's outcome (state, attempts, next attempt, error).
	UpdateOutbox(ctx context.Context, o OutboxItem) error
	// GetOutbox returns one item, or ErrNotFound.
	GetOutbox(ctx context.Context, id string) (OutboxItem, error)
	// ListOutbox returns items of destination and state ("" for any), in queue order.
	ListOutbox(ctx context.Context, destination, state string, limit int) ([]OutboxItem, error)

	// AppendAudit appends e to the audit trail, filling Seq, Prev and Hash
	// (chained to the record before) atomically, and returns it. It is
	// AppendAuditBatch of one record.
	AppendAudit(ctx context.Context, e AuditEvent) (AuditEvent, error)
	// AppendAuditBatch appends es in order in one transaction, filling
	// each one's Seq, Prev and Hash (and Time when zero), and returns them.
	// All are appended or none. When it returns nil the records are on
	// stable storage (SQLite: synchronous=FULL for this transaction;
	// PostgreSQL: synchronous_commit on), not only committed.
	AppendAuditBatch(ctx context.Context, es []AuditEvent) ([]AuditEvent, error)
	// ListAudit returns up to limit (0: 1000) records after seq afterSeq, in order.
	ListAudit(ctx context.Context, afterSeq int64, limit int) ([]AuditEvent, error)
	// ListAuditByPatient is ListAudit of the records about one patient.
	ListAuditByPatient(ctx context.Context, patient string, afterSeq int64, limit int) ([]AuditEvent, error)
	// PutAuditCheckpoint stores c durably; a checkpoint already stored at
	// c.Seq is left unchanged.
	PutAuditCheckpoint(ctx context.Context, c AuditCheckpoint) error
	// ListAuditCheckpoints returns every checkpoint, by seq.
	ListAuditCheckpoints(ctx context.Context) ([]AuditCheckpoint, error)
	// PutAuditKey stores a checkpoint-signing key; an existing ID is left unchanged.
	PutAuditKey(ctx context.Context, k AuditKey) error
	// ListAuditKeys returns the signing keys, oldest first.
	ListAuditKeys(ctx context.Context) ([]AuditKey, error)
	// GetAuditCursor returns the last seq exported to the destination
	// name; 0 when nothing was.
	GetAuditCursor(ctx context.Context, name string) (int64, error)
	// PutAuditCursor records that destination name has every record up to seq.
	PutAuditCursor(ctx context.Context, name string, seq int64) error
	// ListAuditCursors returns every destination's cursor.
	ListAuditCursors(ctx context.Context) (map[string]int64, error)

	Close() error
}
