package lake

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/keys"
)

var (
	// ErrNotFound: no live object has the path (or no such version).
	ErrNotFound = errors.New("no such object")
	// ErrHeld: the object is under legal hold.
	ErrHeld = errors.New("object is under legal hold")
	// ErrRetained: the object is under immutable retention until a date.
	ErrRetained = errors.New("object is under immutable retention")
	// ErrChecksum: the uploaded data's sha256 is not the one declared.
	ErrChecksum = errors.New("checksum mismatch")
	// ErrArchived: the blob is in an archive tier that serves no data (Azure
	// archive) and must be rehydrated to hot or cool first, which takes hours.
	ErrArchived = errors.New("object is in the archive tier and must be rehydrated (set its tier to hot or cool, which takes hours) before it can be read")
	// ErrNoSpace: the backend's storage is full. Nothing was committed;
	// an upload keeps its stored parts and resumes once there is room.
	ErrNoSpace = errors.New("storage is full")
	// ErrUnreadable: the object's data key cannot be unwrapped (its key was
	// destroyed, or the key provider refuses).
	ErrUnreadable = errors.New("object cannot be decrypted")
)

// Index is the part of the catalog the lake keeps its metadata in.
type Index interface {
	CommitObjectVersion(ctx context.Context, v catalog.ObjectVersion, patient string) error
	GetObject(ctx context.Context, path string) (catalog.Object, error)
	ListObjects(ctx context.Context, prefix string) ([]catalog.Object, error)
	UpdateObject(ctx context.Context, o catalog.Object) error
	GetObjectVersion(ctx context.Context, id string) (catalog.ObjectVersion, error)
	ListObjectVersions(ctx context.Context, path string) ([]catalog.ObjectVersion, error)
	ListVersionsByKey(ctx context.Context, keyName string) ([]catalog.ObjectVersion, error)
	UpdateObjectVersion(ctx context.Context, v catalog.ObjectVersion) error
	PutUpload(ctx context.Context, u catalog.Upload) error
	GetUpload(ctx context.Context, id string) (catalog.Upload, error)
	ListUploads(ctx context.Context) ([]catalog.Upload, error)
	DeleteUpload(ctx context.Context, id string) error
	AppendAudit(ctx context.Context, e catalog.AuditEvent) (catalog.AuditEvent, error)
}

// Lake is the encrypted, versioned object store.
type Lake struct {
	idx  Index
	be   Backend
	keys keys.Provider
	log  *slog.Logger
	// Retention is how long a soft-deleted object can be undeleted before
	// Purge removes its data.
	Retention time.Duration
	// Actor names who acts, for the audit trail ("cli:alice", "server").
	Actor string
	now   func() time.Time
}

// New returns a lake over idx (the catalog), be and kp.
func New(idx Index, be Backend, kp keys.Provider, log *slog.Logger) *Lake {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Lake{idx: idx, be: be, keys: kp, log: log, Retention: 30 * 24 * time.Hour, Actor: "system", now: time.Now}
}

// Backend returns the lake's backend (for reports).
func (l *Lake) Backend() Backend { return l.be }

// Keys returns the lake's key provider.
func (l *Lake) Keys() keys.Provider { return l.keys }

// PutOptions describe a new object version.
type PutOptions struct {
	Patient string // pseudonymous patient id: the object is encrypted under that patient's key
	Kind    string // fastq, bam, vcf, report...; guessed from the path when empty
	RunID   string // the run that produced it
	SHA256  string // when set, the data must hash to this or nothing is committed
}

// CheckPath validates an object path: slash-separated, no empty, "." or
// ".." segments, printable, at most 1024 bytes.
func CheckPath(p string) error {
	if p == "" || len(p) > 1024 || strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") {
		return fmt.Errorf("lake: bad object path %q", p)
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("lake: bad object path %q", p)
		}
	}
	for _, c := range p {
		if c < 0x20 || c == 0x7f || c == '\\' {
			return fmt.Errorf("lake: bad object path %q: control character or backslash", p)
		}
	}
	return nil
}

// KindOf guesses an object's kind from its name.
func KindOf(p string) string {
	p = strings.TrimSuffix(strings.TrimSuffix(strings.ToLower(p), ".gz"), ".bgz")
	for _, k := range []struct{ suffix, kind string }{
		{".fastq", "fastq"}, {".fq", "fastq"}, {".bam", "bam"}, {".bai", "bam-index"}, {".cram", "cram"},
		{".g.vcf", "gvcf"}, {".vcf", "vcf"}, {".tbi", "vcf-index"}, {".json", "report"}, {".pdf", "report"},
	} {
		if strings.HasSuffix(p, k.suffix) {
			return k.kind
		}
	}
	return "other"
}

func newID(prefix string) string {
	b := make([]byte, 12)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func blobName(versionID string) string { return "objects/" + versionID[1:3] + "/" + versionID }

func keyName(patient string) string {
	if patient == "" {
		return keys.DefaultKey
	}
	return keys.PatientKey(patient)
}

// newUpload prepares the state of a new object version: ids, a fresh data
// key wrapped under the patient's key.
func (l *Lake) newUpload(ctx context.Context, path string, o PutOptions, size int64) (catalog.Upload, []byte, error) {
	if err := CheckPath(path); err != nil {
		return catalog.Upload{}, nil, err
	}
	if o.Patient != "" {
		if err := CheckPatient(o.Patient); err != nil {
			return catalog.Upload{}, nil, err
		}
	}
	if cur, err := l.idx.GetObject(ctx, path); err == nil && cur.Patient != o.Patient {
		return catalog.Upload{}, nil, fmt.Errorf("lake: %s belongs to another patient", path)
	}
	if o.SHA256 != "" {
		if b, err := hex.DecodeString(o.SHA256); err != nil || len(b) != sha256.Size {
			return catalog.Upload{}, nil, fmt.Errorf("lake: declared sha256 %q is not 64 hex digits", o.SHA256)
		}
	}
	dek := make([]byte, 32)
	rand.Read(dek)
	w, err := l.keys.Wrap(ctx, keyName(o.Patient), dek)
	if err != nil {
		return catalog.Upload{}, nil, fmt.Errorf("lake: wrap data key: %w", err)
	}
	kind := o.Kind
	if kind == "" {
		kind = KindOf(path)
	}
	vid := newID("v")
	st, _ := sha256.New().(encoding.BinaryMarshaler).MarshalBinary()
	return catalog.Upload{
		ID: newID("u"), Path: path, VersionID: vid, Blob: blobName(vid), Size: size, SHA256: strings.ToLower(o.SHA256),
		Patient: o.Patient, Kind: kind, RunID: o.RunID, KeyName: w.Key, KeyVersion: w.Version, WrappedKey: w.Blob,
		PartSize: PartSize, HashState: st,
	}, dek, nil
}

// CheckPatient validates a pseudonymous patient id: up to 64 letters,
// digits and '-' (never a name or MRN; the error does not repeat it).
func CheckPatient(p string) error {
	if len(p) > 64 {
		return fmt.Errorf("lake: patient id too long")
	}
	for _, c := range p {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("lake: patient id must be a pseudonymous id of letters, digits and '-'")
		}
	}
	return nil
}

// Put stores r as a new version of path: hashed, encrypted and written in
// parts, committed only when all of it is stored (and, with o.SHA256, only
// if it hashes to that). A failure leaves no new version.
func (l *Lake) Put(ctx context.Context, path string, r io.Reader, o PutOptions) (catalog.ObjectVersion, error) {
	u, dek, err := l.newUpload(ctx, path, o, -1)
	if err != nil {
		return catalog.ObjectVersion{}, err
	}
	w, err := newPartWriter(l.be, u, dek)
	clear(dek)
	if err != nil {
		return catalog.ObjectVersion{}, err
	}
	if _, err := w.stream(ctx, r, -1, nil); err != nil {
		l.be.Abort(context.WithoutCancel(ctx), u.Blob)
		return catalog.ObjectVersion{}, fmt.Errorf("lake: put %s: %w", path, err)
	}
	return l.commit(ctx, w)
}

// commit finishes a fully written upload: checks the checksum, commits the
// blob, checks its size, and records the version.
func (l *Lake) commit(ctx context.Context, w *partWriter) (catalog.ObjectVersion, error) {
	u := w.u
	sum := hex.EncodeToString(w.sha.Sum(nil))
	fail := func(err error) (catalog.ObjectVersion, error) {
		l.be.Abort(context.WithoutCancel(ctx), u.Blob)
		return catalog.ObjectVersion{}, fmt.Errorf("lake: %s: %w", u.Path, err)
	}
	if u.SHA256 != "" && u.SHA256 != sum {
		return fail(fmt.Errorf("%w: declared %s, received data hashes to %s", ErrChecksum, u.SHA256, sum))
	}
	if u.Size >= 0 && u.Size != w.off {
		return fail(fmt.Errorf("declared %d bytes, received %d", u.Size, w.off))
	}
	if err := l.be.Commit(ctx, u.Blob, w.parts); err != nil {
		return fail(err)
	}
	want := storedSize(w.off)
	if got, err := l.be.Size(ctx, u.Blob); err != nil || got != want {
		l.be.Delete(context.WithoutCancel(ctx), u.Blob)
		return catalog.ObjectVersion{}, fmt.Errorf("lake: %s: stored %d bytes, want %d (%v): %w", u.Path, got, want, err, ErrIntegrity)
	}
	v := catalog.ObjectVersion{
		ID: u.VersionID, Path: u.Path, Blob: u.Blob, Size: w.off, StoredSize: want, SHA256: sum, ChunkSize: ChunkSize,
		KeyName: u.KeyName, KeyVersion: u.KeyVersion, WrappedKey: u.WrappedKey, Kind: u.Kind, RunID: u.RunID,
		Tier: string(TierHot), Created: l.now(),
	}
	if err := l.idx.CommitObjectVersion(ctx, v, u.Patient); err != nil {
		// The blob is committed but not recorded: an orphan that scrub
		// reports and Purge removes; never visible as an object.
		return catalog.ObjectVersion{}, fmt.Errorf("lake: record %s: %w", u.Path, err)
	}
	l.log.Info("lake: stored object", "version", v.ID, "kind", v.Kind, "bytes", v.Size, "run", v.RunID)
	return v, nil
}

// partWriter hashes, encrypts and writes the parts of one upload.
type partWriter struct {
	be    Backend
	u     catalog.Upload
	sealF func(dst []byte, first int64, plain []byte, final bool) []byte
	sha   hash.Hash
	parts int
	off   int64
	done  bool
	state []byte // sha256 state after the last stored part
}

func newPartWriter(be Backend, u catalog.Upload, dek []byte) (*partWriter, error) {
	a, err := newAEAD(dek)
	if err != nil {
		return nil, err
	}
	sha := sha256.New()
	if err := sha.(encoding.BinaryUnmarshaler).UnmarshalBinary(u.HashState); err != nil {
		return nil, fmt.Errorf("lake: upload %s: hash state: %w", u.ID, err)
	}
	w := &partWriter{be: be, u: u, sha: sha, parts: u.Parts, off: u.Offset, state: u.HashState}
	w.sealF = func(dst []byte, first int64, plain []byte, final bool) []byte {
		return sealPart(a, dst, u.VersionID, first, plain, final)
	}
	return w, nil
}

type part struct {
	idx    int
	plain  []byte
	sealed []byte
	final  bool
	state  []byte // sha256 state after this part
	err    error
}

// stream reads r in parts and stores them, pipelined: one goroutine reads,
// one hashes, one encrypts, and this one writes, each on a different part,
// with a fixed number of buffers (constant memory). limit is the number of
// bytes the object still lacks (-1: unknown, EOF ends the object). A part
// cut short by EOF before limit is reached is not stored: the caller
// resumes at w.off. onPart, when set, is called after each stored part
// (to persist progress). It returns the bytes stored.
func (w *partWriter) stream(ctx context.Context, r io.Reader, limit int64, onPart func() error) (int64, error) {
	const nbuf = 4
	free := make(chan *part, nbuf)
	for i := 0; i < nbuf; i++ {
		free <- &part{plain: make([]byte, PartSize), sealed: make([]byte, 0, storedPart)}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	read, hashed, sealed := make(chan *part, nbuf), make(chan *part, nbuf), make(chan *part, nbuf)

	br := bufio.NewReaderSize(r, 64<<10)
	go func() { // read
		defer close(read)
		idx, remaining := w.parts, limit
		for {
			var p *part
			select {
			case p = <-free:
			case <-ctx.Done():
				return
			}
			want := PartSize
			if remaining >= 0 && remaining < int64(want) {
				want = int(remaining)
			}
			n, err := io.ReadFull(br, p.plain[:cap(p.plain)][:want])
			p.idx, p.plain, p.err, p.final = idx, p.plain[:n], nil, false
			switch {
			case err == nil && remaining < 0:
				// Final when nothing follows, so an object never ends
				// with an empty chunk after a full one.
				if _, perr := br.Peek(1); errors.Is(perr, io.EOF) {
					p.final = true
				} else if perr != nil {
					p.err = perr
				}
			case err == nil:
				remaining -= int64(n)
				p.final = remaining == 0
			case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
				if remaining >= 0 { // cut short: the caller resumes at the last whole part
					p.err = io.ErrUnexpectedEOF
				} else {
					p.final = true
				}
			default:
				p.err = err
			}
			read <- p
			if p.err != nil || p.final {
				return
			}
			idx++
		}
	}()
	go func() { // hash
		defer close(hashed)
		for p := range read {
			if p.err == nil {
				w.sha.Write(p.plain)
				p.state, _ = w.sha.(encoding.BinaryMarshaler).MarshalBinary()
			}
			hashed <- p
		}
	}()
	go func() { // seal
		defer close(sealed)
		for p := range hashed {
			if p.err == nil {
				p.sealed = w.sealF(p.sealed[:0], int64(p.idx)*chunksPerPart, p.plain, p.final)
			}
			sealed <- p
		}
	}()
	var stored int64
	var err error
	for p := range sealed {
		if err != nil {
			continue // drain
		}
		if p.err != nil {
			if !errors.Is(p.err, io.ErrUnexpectedEOF) {
				err = p.err
			}
			cancel()
			continue
		}
		if e := w.be.WritePart(ctx, w.u.Blob, p.idx, storedPart, p.sealed); e != nil {
			err = e
			cancel()
			continue
		}
		w.parts, w.off, stored = p.idx+1, w.off+int64(len(p.plain)), stored+int64(len(p.plain))
		w.done, w.state = p.final, p.state
		if onPart != nil {
			if e := onPart(); e != nil {
				err = e
				cancel()
				continue
			}
		}
		free <- p
	}
	if err == nil && ctx.Err() != nil && !w.done && limit < 0 {
		err = ctx.Err()
	}
	return stored, err
}

// Stat returns the live object at path and its current version.
func (l *Lake) Stat(ctx context.Context, path string) (catalog.Object, catalog.ObjectVersion, error) {
	o, err := l.idx.GetObject(ctx, path)
	if errors.Is(err, catalog.ErrNotFound) || err == nil && !o.Deleted.IsZero() {
		return o, catalog.ObjectVersion{}, fmt.Errorf("lake: %s: %w", path, ErrNotFound)
	}
	if err != nil {
		return o, catalog.ObjectVersion{}, err
	}
	v, err := l.idx.GetObjectVersion(ctx, o.Current)
	return o, v, err
}

// dataKey unwraps a version's data key.
func (l *Lake) dataKey(ctx context.Context, v catalog.ObjectVersion) ([]byte, error) {
	dek, err := l.keys.Unwrap(ctx, keys.Wrapped{Key: v.KeyName, Version: v.KeyVersion, Blob: v.WrappedKey})
	if err != nil {
		return nil, fmt.Errorf("lake: %s (version %s): %w: %w", v.Path, v.ID, ErrUnreadable, err)
	}
	return dek, nil
}
