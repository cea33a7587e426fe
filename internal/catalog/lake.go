package catalog

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"time"
)

// Object is one path in the lake and its retention state; its content is
// the version named by Current.
type Object struct {
	Path        string
	Patient     string    // pseudonymous patient id; "" for none
	Current     string    // id of the current version
	Deleted     time.Time // soft-delete time; zero when live
	Hold        string    // legal-hold reason; "" when not held
	RetainUntil time.Time // WORM retention: no delete before this
	Created     time.Time
	Updated     time.Time
}

// ObjectVersion is one immutable version of an object: an encrypted blob.
type ObjectVersion struct {
	ID          string
	Path        string
	Blob        string // backend blob name
	Size        int64  // plaintext bytes
	StoredSize  int64  // ciphertext bytes
	SHA256      string // of the plaintext, lower-case hex
	ChunkSize   int
	KeyName     string
	KeyVersion  string
	WrappedKey  []byte
	Kind        string // fastq, bam, vcf, report, ...
	RunID       string
	Tier        string
	Created     time.Time
	Purged      time.Time // blob removed after retention
	Verified    time.Time // last scrub
	VerifyError string    // last scrub's finding; "" when good
}

// VerifyShredded is the scrub's finding on a version whose key was
// destroyed: unreadable by design, not a fault.
const VerifyShredded = "crypto-shredded: its key was destroyed"

// Upload is a resumable upload in progress: everything needed to carry on
// after a restart, including the running sha256 state.
type Upload struct {
	ID         string
	Path       string
	VersionID  string
	Blob       string
	Size       int64  // declared plaintext size; -1 when unknown
	SHA256     string // declared by the client; "" when not given
	Patient    string
	Kind       string
	RunID      string
	KeyName    string
	KeyVersion string
	WrappedKey []byte
	PartSize   int64 // plaintext bytes per part
	Parts      int   // parts stored so far
	Offset     int64 // plaintext bytes stored so far
	HashState  []byte
	Created    time.Time
	Updated    time.Time
}

const objCols = `path, patient, current, deleted, hold, retain_until, created, updated`

func scanObject(sc interface{ Scan(...any) error }) (Object, error) {
	var o Object
	var d, r, c, u int64
	err := sc.Scan(&o.Path, &o.Patient, &o.Current, &d, &o.Hold, &r, &c, &u)
	o.Deleted, o.RetainUntil, o.Created, o.Updated = fromNanos(d), fromNanos(r), fromNanos(c), fromNanos(u)
	return o, err
}

const verCols = `id, path, blob, size, stored_size, sha256, chunk_size, key_name, key_version, wrapped_key, kind, run_id, tier, created, purged, verified, verify_error`

func scanVersion(sc interface{ Scan(...any) error }) (ObjectVersion, error) {
	var v ObjectVersion
	var wk string
	var c, p, ve int64
	err := sc.Scan(&v.ID, &v.Path, &v.Blob, &v.Size, &v.StoredSize, &v.SHA256, &v.ChunkSize, &v.KeyName, &v.KeyVersion, &wk, &v.Kind, &v.RunID, &v.Tier, &c, &p, &ve, &v.VerifyError)
	if err != nil {
		return v, err
	}
	v.Created, v.Purged, v.Verified = fromNanos(c), fromNanos(p), fromNanos(ve)
	v.WrappedKey, err = base64.StdEncoding.DecodeString(wk)
	return v, err
}

func (s *sqlStore) CommitObjectVersion(ctx context.Context, v ObjectVersion, patient string) error {
	if v.ID == "" || v.Path == "" || v.Blob == "" {
		return errors.New("catalog: object version needs an ID, a path and a blob")
	}
	if v.Created.IsZero() {
		v.Created = time.Now()
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	defer tx.Rollback()
	o, err := scanObject(tx.QueryRowContext(ctx, s.q(`SELECT `+objCols+` FROM lake_objects WHERE path = ?`), v.Path))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		_, err = tx.ExecContext(ctx, s.q(`INSERT INTO lake_objects (`+objCols+`) VALUES (?, ?, ?, 0, '', 0, ?, ?)`),
			v.Path, patient, v.ID, nanos(v.Created), nanos(v.Created))
	case err != nil:
	case o.Patient != patient:
		return fmt.Errorf("catalog: object %s belongs to another patient", v.Path)
	default:
		_, err = tx.ExecContext(ctx, s.q(`UPDATE lake_objects SET current = ?, deleted = 0, updated = ? WHERE path = ?`), v.ID, nanos(v.Created), v.Path)
	}
	if err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO lake_versions (`+verCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		v.ID, v.Path, v.Blob, v.Size, v.StoredSize, v.SHA256, v.ChunkSize, v.KeyName, v.KeyVersion, base64.StdEncoding.EncodeToString(v.WrappedKey),
		v.Kind, v.RunID, v.Tier, nanos(v.Created), nanos(v.Purged), nanos(v.Verified), v.VerifyError); err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	return nil
}

func (s *sqlStore) GetObject(ctx context.Context, path string) (Object, error) {
	o, err := scanObject(s.db.QueryRowContext(ctx, s.q(`SELECT `+objCols+` FROM lake_objects WHERE path = ?`), path))
	if errors.Is(err, sql.ErrNoRows) {
		return Object{}, fmt.Errorf("object %s: %w", path, ErrNotFound)
	}
	if err != nil {
		return Object{}, fmt.Errorf("catalog: %w", err)
	}
	return o, nil
}

func (s *sqlStore) ListObjects(ctx context.Context, prefix string) ([]Object, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+objCols+` FROM lake_objects WHERE substr(path, 1, ?) = ? ORDER BY path`), len(prefix), prefix)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	var out []Object
	for rows.Next() {
		o, err := scanObject(rows)
		if err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

func (s *sqlStore) UpdateObject(ctx context.Context, o Object) error {
	res, err := s.exec(ctx, `UPDATE lake_objects SET deleted = ?, hold = ?, retain_until = ?, updated = ? WHERE path = ?`,
		nanos(o.Deleted), o.Hold, nanos(o.RetainUntil), time.Now().UnixNano(), o.Path)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("object %s: %w", o.Path, ErrNotFound)
	}
	return nil
}

func (s *sqlStore) GetObjectVersion(ctx context.Context, id string) (ObjectVersion, error) {
	v, err := scanVersion(s.db.QueryRowContext(ctx, s.q(`SELECT `+verCols+` FROM lake_versions WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return ObjectVersion{}, fmt.Errorf("object version %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return ObjectVersion{}, fmt.Errorf("catalog: %w", err)
	}
	return v, nil
}

func (s *sqlStore) listVersions(ctx context.Context, where string, arg any) ([]ObjectVersion, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+verCols+` FROM lake_versions WHERE `+where+` ORDER BY path, created, id`), arg)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	var out []ObjectVersion
	for rows.Next() {
		v, err := scanVersion(rows)
		if err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func (s *sqlStore) ListObjectVersions(ctx context.Context, path string) ([]ObjectVersion, error) {
	return s.listVersions(ctx, `path = ?`, path)
}

func (s *sqlStore) ListVersionsByKey(ctx context.Context, keyName string) ([]ObjectVersion, error) {
	return s.listVersions(ctx, `key_name = ?`, keyName)
}

func (s *sqlStore) ListVersionsByRun(ctx context.Context, runID string) ([]ObjectVersion, error) {
	return s.listVersions(ctx, `run_id = ?`, runID)
}

func (s *sqlStore) UpdateObjectVersion(ctx context.Context, v ObjectVersion) error {
	res, err := s.exec(ctx, `UPDATE lake_versions SET key_version = ?, wrapped_key = ?, tier = ?, purged = ?, verified = ?, verify_error = ? WHERE id = ?`,
		v.KeyVersion, base64.StdEncoding.EncodeToString(v.WrappedKey), v.Tier, nanos(v.Purged), nanos(v.Verified), v.VerifyError, v.ID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("object version %s: %w", v.ID, ErrNotFound)
	}
	return nil
}

const upCols = `id, path, version_id, blob, size, sha256, patient, kind, run_id, key_name, key_version, wrapped_key, part_size, parts, upload_off, hash_state, created, updated`

func (s *sqlStore) PutUpload(ctx context.Context, u Upload) error {
	if u.ID == "" {
		return errors.New("catalog: upload ID is empty")
	}
	now := time.Now()
	if u.Created.IsZero() {
		u.Created = now
	}
	u.Updated = now
	_, err := s.exec(ctx, `INSERT INTO lake_uploads (`+upCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET parts = excluded.parts, upload_off = excluded.upload_off, hash_state = excluded.hash_state, updated = excluded.updated`,
		u.ID, u.Path, u.VersionID, u.Blob, u.Size, u.SHA256, u.Patient, u.Kind, u.RunID, u.KeyName, u.KeyVersion,
		base64.StdEncoding.EncodeToString(u.WrappedKey), u.PartSize, u.Parts, u.Offset, base64.StdEncoding.EncodeToString(u.HashState),
		nanos(u.Created), nanos(u.Updated))
	return err
}

func scanUpload(sc interface{ Scan(...any) error }) (Upload, error) {
	var u Upload
	var wk, hs string
	var c, up int64
	err := sc.Scan(&u.ID, &u.Path, &u.VersionID, &u.Blob, &u.Size, &u.SHA256, &u.Patient, &u.Kind, &u.RunID, &u.KeyName, &u.KeyVersion,
		&wk, &u.PartSize, &u.Parts, &u.Offset, &hs, &c, &up)
	if err != nil {
		return u, err
	}
	u.Created, u.Updated = fromNanos(c), fromNanos(up)
	if u.WrappedKey, err = base64.StdEncoding.DecodeString(wk); err != nil {
		return u, err
	}
	u.HashState, err = base64.StdEncoding.DecodeString(hs)
	return u, err
}

func (s *sqlStore) GetUpload(ctx context.Context, id string) (Upload, error) {
	u, err := scanUpload(s.db.QueryRowContext(ctx, s.q(`SELECT `+upCols+` FROM lake_uploads WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return Upload{}, fmt.Errorf("upload %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Upload{}, fmt.Errorf("catalog: %w", err)
	}
	return u, nil
}

func (s *sqlStore) ListUploads(ctx context.Context) ([]Upload, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+upCols+` FROM lake_uploads ORDER BY created, id`)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	var out []Upload
	for rows.Next() {
		u, err := scanUpload(rows)
		if err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

func (s *sqlStore) DeleteUpload(ctx context.Context, id string) error {
	_, err := s.exec(ctx, `DELETE FROM lake_uploads WHERE id = ?`, id)
	return err
}
