package extract

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// DefaultBatchSize is the number of rows per Sink call when the Loader
// names none: large enough that a transaction's fixed cost is small next
// to its rows, small enough that a batch is a few megabytes and that
// another writer of the clinical database (the HL7 inbox, whose ACKs wait
// for its commits) waits about a tenth of a second for one. Larger
// batches cost less CPU a row on a large database (its indexes are keyed
// by random ids and keyed hashes, so each commit writes pages all over:
// at 200,000 patients, 20,000 rows a batch took a quarter less CPU a row),
// at the price of that wait.
const DefaultBatchSize = 5000

// MaxBatchBytes bounds the raw size of the rows of one batch: a batch is
// sent when it holds BatchSize rows or this many bytes, so three batches
// in flight stay small whatever the rows' length.
const MaxBatchBytes = 16 << 20

// MaxFutureSkew is how far past the loader's clock a row's watermark may
// be. A row beyond it is rejected: one mistyped year (2205 for 2025)
// would otherwise move the watermark so far ahead that every later
// extract is skipped.
const MaxFutureSkew = 24 * time.Hour

// Sink stores what a load produces: the catalog, or anything else that
// keeps records by key. Each Upsert call is one batch and must be one
// transaction.
type Sink interface {
	// Watermark returns the watermark stored for source, or the zero time
	// when none is.
	Watermark(ctx context.Context, source string) (time.Time, error)

	// UpsertPatients stores b.Records and, when b.Watermark is not zero,
	// b.Watermark as the watermark of b.Source, in one transaction: all of
	// it or nothing. A record replaces the stored record with the same
	// b.Key fields unless the stored one's UpdatedAt is later; storing a
	// record equal to the stored one changes nothing. A Sink that instead
	// keeps a stored value where the record's field is empty (the
	// clinical database does, as HL7 does) empties the fields the
	// record's Clear names (the mapping's empty: clear). The watermark
	// only moves forward: a b.Watermark before the stored one leaves it.
	// No two records of a batch share a key; Records may be empty when
	// only the watermark is to be stored. The Sink must not keep b after
	// returning.
	//
	// To refuse some records and not the batch (a value the database
	// cannot hold), commit nothing and return a *RecordError for each,
	// joined with errors.Join when there are several: the loader rejects
	// those rows and calls again with the rest. Any other error fails the
	// load, leaving earlier batches committed.
	UpsertPatients(ctx context.Context, b *Batch[Patient]) error
	// UpsertEncounters is UpsertPatients for encounters.
	UpsertEncounters(ctx context.Context, b *Batch[Encounter]) error
	// UpsertResults is UpsertPatients for results.
	UpsertResults(ctx context.Context, b *Batch[Result]) error
}

// Batch is what one Sink call stores.
type Batch[T any] struct {
	Source    string    // the mapping's name
	Key       []string  // field names that identify a record, e.g. assigning_authority, mrn
	Records   []T       // in file order, no two with the same key
	Watermark time.Time // when not zero, store it as Source's watermark in the same transaction
	// Prepared is what the Sink's Preparer made of Records before the
	// call (nil when the Sink is none, or when the batch is sent again
	// without records the Sink refused): the Sink may use it instead of
	// doing that work in its transaction.
	Prepared any
}

// Preparer is a Sink that does part of a batch's work outside its
// transaction: what depends on the records alone (keyed hashes,
// encryption), not on what is stored. The loader calls the method of the
// batch's entity on the goroutine that reads the file, once a batch is
// full, while the batch before it commits: with one core storing and
// another reading and preparing, a load goes at the speed of the slower.
// It passes the result in Batch.Prepared to the Upsert call of the same
// records. A Prepare method reads nothing and writes nothing of the
// store, must not keep records, and returns nil when it cannot help.
type Preparer interface {
	PreparePatients(records []Patient) any
	PrepareEncounters(records []Encounter) any
	PrepareResults(records []Result) any
}

// Loader loads extract files into a Sink.
type Loader struct {
	Mapping *Mapping
	Sink    Sink
	// BatchSize is the number of rows per Sink call; DefaultBatchSize
	// when zero.
	BatchSize int
	// FullReload loads rows at or before the stored watermark too. Use it
	// after changing a mapping to take rows it rejected before: the
	// upserts make loading a row again harmless. The watermark still only
	// moves forward.
	FullReload bool
	// Log receives one line per load: counts, names and times, never row
	// contents. Nil discards.
	Log *slog.Logger
	// Now is the clock for the watermark's future check; time.Now when nil.
	Now func() time.Time
}

// Summary is what one load did. After a load that returned no error,
// Read = Loaded + Superseded + Skipped + Rejected; after a failed load,
// Loaded counts what was committed, and the rows of the batch that failed
// are in none of the other counts.
type Summary struct {
	Source     string // the mapping's name
	File       string // the name given to Load
	Read       int64  // data rows read; the header and blank lines are not counted
	Loaded     int64  // rows committed to the Sink
	Superseded int64  // rows replaced by a later row with the same key in the same batch
	Skipped    int64  // rows at or before the stored watermark
	Rejected   int64  // rows written to the reject file
	Batches    int    // Sink calls that committed

	WatermarkBefore time.Time // stored when the load began; zero when none
	WatermarkAfter  time.Time // stored when the load ended
	RejectFile      string    // path of the reject file LoadFile wrote; "" when it wrote none
	Duration        time.Duration
}

// RowsPerSecond is Read over Duration.
func (s Summary) RowsPerSecond() float64 {
	if s.Duration <= 0 {
		return 0
	}
	return float64(s.Read) / s.Duration.Seconds()
}

// String is a one-line account for people, e.g.
// "clarity_patients PATIENTS_20250101.txt: 1000 read, 990 loaded, 0 superseded, 5 skipped, 5 rejected in 0.05s (20000 rows/s); rejects in PATIENTS_20250101.txt.20250102T030405Z.rejects.csv".
func (s Summary) String() string {
	out := fmt.Sprintf("%s %s: %d read, %d loaded, %d superseded, %d skipped, %d rejected in %.2fs (%.0f rows/s)",
		s.Source, s.File, s.Read, s.Loaded, s.Superseded, s.Skipped, s.Rejected, s.Duration.Seconds(), s.RowsPerSecond())
	if s.RejectFile != "" {
		out += "; rejects in " + s.RejectFile
	}
	return out
}

// RejectFileMode is the mode of reject files: they hold rows of patient
// data as read.
const RejectFileMode = 0o600

// RejectTimeLayout is how a reject file's name gives the load's start, in
// UTC: PATIENTS.txt.20250102T030405Z.rejects.csv.
const RejectTimeLayout = "20060102T150405Z"

// RejectPath is the reject file of a load of input that starts at start:
// in dir (the input's own folder when dir is empty), named after the
// input and the start in UTC, so that each load has its own and none
// replaces an earlier one.
func RejectPath(dir, input string, start time.Time) string {
	if dir == "" {
		dir = filepath.Dir(input)
	}
	return filepath.Join(dir, filepath.Base(input)+"."+start.UTC().Format(RejectTimeLayout)+".rejects.csv")
}

// LoadFile loads the extract at path. Rejected rows are written to
// rejectPath (RejectPath("", path, now) when empty); see Load for its
// layout. The reject file is created, with mode 0600, only when a row is
// rejected, and never replaces a file: when rejectPath exists, the rows
// go to the first free name with .1, .2, ... before its extension. A load
// that rejects nothing, or fails before reading a row, leaves no reject
// file. Summary.RejectFile names the file written.
//
// Before reading the file, LoadFile checks that a file can be created in
// rejectPath's folder, so that a load never stores rows whose rejected
// neighbours it cannot keep (the watermark would then skip them).
func (l *Loader) LoadFile(ctx context.Context, path, rejectPath string) (Summary, error) {
	if rejectPath == "" {
		now := time.Now
		if l.Now != nil {
			now = l.Now
		}
		rejectPath = RejectPath("", path, now())
	}
	f, err := os.Open(path)
	if err != nil {
		return Summary{Source: l.Mapping.Name, File: path}, fmt.Errorf("extract: %w", err)
	}
	defer f.Close()
	return l.LoadReader(ctx, path, f, rejectPath)
}

// LoadReader is LoadFile for an extract read from r (one stored in the
// lake), named name in the summary and errors; rejectPath must be given.
func (l *Loader) LoadReader(ctx context.Context, name string, r io.Reader, rejectPath string) (Summary, error) {
	if err := checkWritableDir(filepath.Dir(rejectPath)); err != nil {
		return Summary{Source: l.Mapping.Name, File: name}, err
	}
	rf := &lazyRejectFile{path: rejectPath}
	sum, err := l.Load(ctx, name, r, rf)
	if rf.f != nil {
		sum.RejectFile = rf.f.Name()
		if serr := rf.f.Sync(); serr != nil && err == nil {
			err = fmt.Errorf("reject file %s: %w", rf.f.Name(), serr)
		}
		if cerr := rf.f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("reject file %s: %w", rf.f.Name(), cerr)
		}
	}
	return sum, err
}

// checkWritableDir checks that files can be created in dir.
func checkWritableDir(dir string) error {
	f, err := os.CreateTemp(dir, ".clinomics-rejects-check-*")
	if err != nil {
		return fmt.Errorf("reject folder %s: cannot create files in it (%w); choose another folder for the rejects", dir, errors.Unwrap(err))
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// lazyRejectFile creates its file at the first write.
type lazyRejectFile struct {
	path string
	f    *os.File
}

func (w *lazyRejectFile) Write(b []byte) (int, error) {
	if w.f == nil {
		f, err := CreateRejectFile(w.path)
		if err != nil {
			return 0, err
		}
		w.f = f
	}
	return w.f.Write(b)
}

// CreateRejectFile creates a new reject file with mode 0600 at path or,
// when path exists, at the first free name with .1, .2, ... before its
// extension. It never opens an existing file: earlier rejects are kept.
func CreateRejectFile(path string) (*os.File, error) {
	ext := filepath.Ext(path)
	if strings.HasSuffix(path, ".rejects.csv") {
		ext = ".rejects.csv"
	}
	stem := strings.TrimSuffix(path, ext)
	try := path
	for n := 1; ; n++ {
		f, err := os.OpenFile(try, os.O_WRONLY|os.O_CREATE|os.O_EXCL, RejectFileMode)
		if errors.Is(err, fs.ErrExist) && n < 1000 {
			try = stem + "." + strconv.Itoa(n) + ext
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reject file: %w", err)
		}
		// The umask may have narrowed the mode further; never wider.
		return f, nil
	}
}

// Load reads one extract from r and stores its rows through the Sink in
// batches, each committed before the next is sent; mapping the next batch
// overlaps committing the last. name identifies the extract in the
// summary, logs and errors: a file name, not patient data.
//
// Rows at or before the stored watermark are skipped (unless FullReload).
// The watermark is stored with the last batch, in its transaction, as the
// latest watermark of the rows committed: a load that fails part way
// leaves its committed batches committed and the watermark where it was,
// and loading the file again finishes the job, the committed rows being
// upserted to the same values.
//
// A row that cannot be read or mapped is written to rejects and the load
// goes on. rejects receives nothing when no row is rejected; else CSV with
// the header line,reason,row and a record per rejected row: the row's
// first line in the file, why it was rejected (naming the column, never
// its value), and the row as read (decoded to UTF-8, without its final
// line break). The reject file holds patient data: keep it as protected
// as the extract. A nil rejects counts rejected rows without writing them.
//
// Load returns a *FileError when the file itself cannot be loaded (no
// header, a mapped column missing from it, a byte order mark of another
// encoding); other errors come from the Sink, the context or r.
func (l *Loader) Load(ctx context.Context, name string, r io.Reader, rejects io.Writer) (sum Summary, err error) {
	start := time.Now()
	sum = Summary{Source: l.Mapping.Name, File: name}
	defer func() {
		sum.Duration = time.Since(start)
		if l.Log != nil {
			if err != nil {
				l.Log.Warn("extract load failed", "source", sum.Source, "file", name, "read", sum.Read, "loaded", sum.Loaded, "rejected", sum.Rejected, "err", loggable(err))
			} else {
				l.Log.Info("extract loaded", "source", sum.Source, "file", name, "read", sum.Read, "loaded", sum.Loaded,
					"superseded", sum.Superseded, "skipped", sum.Skipped, "rejected", sum.Rejected, "batches", sum.Batches,
					"duration", sum.Duration, "rows_per_s", int64(sum.RowsPerSecond()))
			}
		}
	}()
	p, errs := compile(l.Mapping)
	if len(errs) > 0 {
		return sum, joinErrs(errs)
	}
	w0, err := l.Sink.Watermark(ctx, p.m.Name)
	if err != nil {
		return sum, fmt.Errorf("extract %s: reading the watermark: %w", p.m.Name, err)
	}
	sum.WatermarkBefore, sum.WatermarkAfter = w0, w0
	var rw *rejectWriter
	if rejects != nil {
		rw = &rejectWriter{w: csv.NewWriter(rejects), enc: p.enc}
	}
	pr, _ := l.Sink.(Preparer)
	switch p.m.Entity {
	case EntityPatient:
		err = run(ctx, l, p, name, r, rw, &sum, buildPatient, l.Sink.UpsertPatients, preparer(pr, Preparer.PreparePatients))
	case EntityEncounter:
		err = run(ctx, l, p, name, r, rw, &sum, buildEncounter, l.Sink.UpsertEncounters, preparer(pr, Preparer.PrepareEncounters))
	case EntityResult:
		err = run(ctx, l, p, name, r, rw, &sum, buildResult, l.Sink.UpsertResults, preparer(pr, Preparer.PrepareResults))
	}
	if rw != nil {
		if ferr := rw.flush(); ferr != nil && err == nil {
			err = fmt.Errorf("reject file: %w", ferr)
		}
	}
	var fe *FileError
	if errors.As(err, &fe) && fe.Name == "" {
		fe.Name = name
	}
	return sum, err
}

// preparer is pr's method for one entity, or nil when the Sink is no
// Preparer.
func preparer[T any](pr Preparer, method func(Preparer, []T) any) func([]T) any {
	if pr == nil {
		return nil
	}
	return func(recs []T) any { return method(pr, recs) }
}

// loggable is what the log says of a failed load: the errors this
// package makes say nothing of the data; a Sink's or reader's error may
// quote it (a database names the duplicate key's value), so only its type
// is logged. The caller gets the whole error.
// PublicError is an error of the sink whose text holds no patient data
// and may be logged (Public), such as a database refusing this process.
type PublicError interface {
	error
	Public() string
}

func loggable(err error) string {
	var fe *FileError
	var me *MappingError
	var pe PublicError
	switch {
	case errors.As(err, &fe), errors.As(err, &me), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err.Error()
	case errors.As(err, &pe):
		return pe.Public()
	}
	inner := err
	for {
		u := errors.Unwrap(inner)
		if u == nil {
			break
		}
		inner = u
	}
	return fmt.Sprintf("%T (details withheld from the log)", inner)
}

// rejectWriter writes the reject file; the mapper and the committer share it.
type rejectWriter struct {
	mu     sync.Mutex
	w      *csv.Writer
	enc    Encoding
	header bool
	err    error
}

func (rw *rejectWriter) write(line int, reason string, raw []byte) {
	if rw == nil {
		return
	}
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if rw.err != nil {
		return
	}
	if !rw.header {
		rw.header = true
		rw.err = rw.w.Write([]string{"line", "reason", "row"})
	}
	if rw.err == nil {
		rw.err = rw.w.Write([]string{strconv.Itoa(line), reason, printable(raw, rw.enc)})
	}
}

func (rw *rejectWriter) flush() error {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	rw.w.Flush()
	if rw.err != nil {
		return rw.err
	}
	return rw.w.Error()
}

// row is a record decoded to UTF-8: field i is s[ends[i-1]:ends[i]].
type row struct {
	s     string
	ends  []int
	dirty bool // some field holds invalid UTF-8 or a NUL byte
}

func (rw *row) field(i int) string {
	start := 0
	if i > 0 {
		start = rw.ends[i-1]
	}
	return rw.s[start:rw.ends[i]]
}

// decodeRow turns the reader's current record into a row.
func decodeRow(rd *reader, enc Encoding, out *row, scratch []byte) []byte {
	b := rd.buf
	if enc == UTF8 || isASCII(b) {
		out.s = string(b)
		out.ends = append(out.ends[:0], rd.ends...)
		out.dirty = (enc == UTF8 && !utf8.Valid(b)) || containsNUL(b)
		return scratch
	}
	scratch = scratch[:0]
	out.ends = out.ends[:0]
	for i := range rd.fields() {
		scratch = decode1252(scratch, rd.field(i))
		out.ends = append(out.ends, len(scratch))
	}
	out.s = string(scratch)
	out.dirty = containsNUL(b)
	return scratch
}

// pending is a batch being filled or committed.
type pending[T any] struct {
	recs       []T
	lines      []int
	raw        []byte
	rawAt      [][2]int
	wm         []time.Time // each record's watermark value
	upd        []time.Time // each record's updated_at
	index      map[[MaxKeyFields]string]int
	superseded int
	last       bool
	prepared   any // the Sink's Prepare of recs, or nil
}

func newPending[T any](n int) *pending[T] {
	return &pending[T]{
		recs: make([]T, 0, n), lines: make([]int, 0, n), rawAt: make([][2]int, 0, n),
		wm: make([]time.Time, 0, n), upd: make([]time.Time, 0, n), index: make(map[[MaxKeyFields]string]int, n),
	}
}

// reset empties a committed batch for reuse.
func (pb *pending[T]) reset() {
	clear(pb.recs) // drop the strings of the last batch for the GC
	pb.recs, pb.lines, pb.raw, pb.rawAt, pb.wm, pb.upd = pb.recs[:0], pb.lines[:0], pb.raw[:0], pb.rawAt[:0], pb.wm[:0], pb.upd[:0]
	clear(pb.index)
	pb.superseded, pb.last, pb.prepared = 0, false, nil
}

// run is Load for one entity.
func run[T any](ctx context.Context, l *Loader, p *plan, name string, r io.Reader, rw *rejectWriter, sum *Summary,
	build func(v []value, clear []string) T, upsert func(context.Context, *Batch[T]) error, prepare func([]T) any) error {

	batchSize := l.BatchSize
	if batchSize <= 0 {
		batchSize = DefaultBatchSize
	}
	now := time.Now
	if l.Now != nil {
		now = l.Now
	}
	horizon := now().Add(MaxFutureSkew)
	threshold := sum.WatermarkBefore
	if l.FullReload {
		threshold = time.Time{}
	}
	keyNames := make([]string, len(p.key))
	for i, k := range p.key {
		keyNames[i] = p.ent.fields[k].name
	}

	// The committer: one goroutine calls the Sink, batch after batch.
	c := &committer[T]{p: p, upsert: upsert, keyNames: keyNames, w0: sum.WatermarkBefore, rw: rw}
	// Three batches go round: one being mapped, one waiting, one being
	// committed. The Sink keeps none after its call returns.
	batches := make(chan *pending[T], 1)
	free := make(chan *pending[T], 2)
	failed := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for pb := range batches {
			if c.err != nil {
				continue
			}
			if err := c.commit(ctx, pb); err != nil {
				c.err = err
				close(failed)
				continue
			}
			pb.reset()
			select {
			case free <- pb:
			default:
			}
		}
	}()
	newBatch := func() *pending[T] {
		select {
		case pb := <-free:
			return pb
		default:
			return newPending[T](batchSize)
		}
	}
	var mapErr error
	var read, skipped, rejected int64
	finish := sync.OnceFunc(func() {
		close(batches)
		<-done
	})
	defer func() {
		finish()
		sum.Read = read
		sum.Skipped = skipped
		sum.Rejected = rejected + c.rejected
		sum.Loaded = c.loaded
		sum.Superseded = c.superseded
		sum.Batches = c.batches
		if !c.wmAfter.IsZero() {
			sum.WatermarkAfter = c.wmAfter
		}
	}()
	send := func(pb *pending[T]) error {
		if prepare != nil && len(pb.recs) > 0 {
			pb.prepared = prepare(pb.recs) // while the batch before commits
		}
		select {
		case batches <- pb:
			return nil
		case <-failed:
			return errCommitFailed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	result := func(err error) error {
		if err == errCommitFailed {
			return c.err // set before failed was closed
		}
		return err
	}

	f := p.m.Format
	rd := newReader(r, p.delim, p.quote)
	if err := checkBOM(rd, p.enc); err != nil {
		return err
	}
	expect, err := bindColumns(rd, p)
	if err != nil {
		return err
	}

	reject := func(re *RowError) {
		rejected++
		rw.write(re.Line, re.Reason(), rd.rawRecord())
	}
	vals := make([]value, len(p.ent.fields))
	var rowv row
	var scratch []byte
	pb := newBatch()
	for n := 0; ; n++ {
		if n&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		line, err := rd.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			var re *RowError
			if errors.As(err, &re) {
				read++
				reject(re)
				continue
			}
			return fmt.Errorf("extract %s: reading: %w", name, err)
		}
		read++
		if expect == 0 {
			expect = rd.fields()
			if e := checkColumnNumbers(p, expect); e != nil {
				return e
			}
		}
		if rd.fields() != expect {
			what := "the header has"
			if !f.Header {
				what = "expected"
			}
			reject(&RowError{Line: line, Err: ErrFieldCount, Msg: fmt.Sprintf("row has %d fields, %s %d", rd.fields(), what, expect)})
			continue
		}
		scratch = decodeRow(rd, p.enc, &rowv, scratch)

		// The watermark first: a row already loaded is skipped unread.
		var wm time.Time
		if p.wm != nil {
			v, re := p.fieldValue(p.wm, &rowv)
			if re != nil {
				re.Line = line
				reject(re)
				continue
			}
			wm = v.t
			if !wm.After(threshold) {
				skipped++
				continue
			}
			if wm.After(horizon) {
				reject(&RowError{Line: line, Column: p.wm.label, Err: ErrFuture, Msg: fmt.Sprintf("watermark more than %v after the loader's clock", MaxFutureSkew)})
				continue
			}
			vals[p.wm.idx] = v
		}
		var bad *RowError
		for _, fp := range p.fields {
			if fp == p.wm {
				continue
			}
			v, re := p.fieldValue(fp, &rowv)
			if re != nil {
				bad = re
				break
			}
			vals[fp.idx] = v
		}
		if bad == nil && p.m.Entity == EntityResult {
			bad = p.checkResultValue(vals)
		}
		if bad != nil {
			bad.Line = line
			reject(bad)
			continue
		}

		// Key; a later row with the same key in the batch replaces an
		// earlier one unless it is older.
		var key [MaxKeyFields]string
		for i, k := range p.key {
			key[i] = vals[k].s
		}
		var upd time.Time
		if p.updated >= 0 {
			upd = vals[p.updated].t
		}
		rec := build(vals, p.clearOf(vals))
		raw := rd.rawRecord()
		at := [2]int{len(pb.raw), len(pb.raw) + len(raw)}
		pb.raw = append(pb.raw, raw...)
		if i, dup := pb.index[key]; dup {
			pb.superseded++
			if !upd.Before(pb.upd[i]) {
				pb.recs[i], pb.lines[i], pb.rawAt[i], pb.wm[i], pb.upd[i] = rec, line, at, wm, upd
			}
		} else {
			pb.index[key] = len(pb.recs)
			pb.recs = append(pb.recs, rec)
			pb.lines = append(pb.lines, line)
			pb.rawAt = append(pb.rawAt, at)
			pb.wm = append(pb.wm, wm)
			pb.upd = append(pb.upd, upd)
		}
		if len(pb.recs)+pb.superseded >= batchSize || len(pb.raw) >= MaxBatchBytes {
			if err := send(pb); err != nil {
				mapErr = err
				break
			}
			pb = newBatch()
		}
	}
	if mapErr != nil {
		return result(mapErr)
	}
	pb.last = true
	if err := send(pb); err != nil {
		return result(err)
	}
	finish()
	return c.err
}

var errCommitFailed = errors.New("commit failed")

// committer sends batches to the Sink.
type committer[T any] struct {
	p        *plan
	upsert   func(context.Context, *Batch[T]) error
	keyNames []string
	w0       time.Time
	rw       *rejectWriter

	maxWM      time.Time // latest watermark of the committed rows
	wmAfter    time.Time // watermark stored by this load
	loaded     int64
	superseded int64
	rejected   int64
	batches    int
	err        error
}

func (c *committer[T]) commit(ctx context.Context, pb *pending[T]) error {
	for {
		b := &Batch[T]{Source: c.p.m.Name, Key: c.keyNames, Records: pb.recs, Prepared: pb.prepared}
		batchWM := c.maxWM
		for _, t := range pb.wm {
			if t.After(batchWM) {
				batchWM = t
			}
		}
		if pb.last && c.p.wm != nil && batchWM.After(c.w0) {
			b.Watermark = batchWM
		}
		if len(b.Records) == 0 && b.Watermark.IsZero() {
			return nil
		}
		err := c.upsert(ctx, b)
		if err == nil {
			c.loaded += int64(len(pb.recs))
			c.superseded += int64(pb.superseded)
			c.batches++
			c.maxWM = batchWM
			if !b.Watermark.IsZero() {
				c.wmAfter = b.Watermark
			}
			return nil
		}
		refused := recordErrors(err)
		if refused == nil || len(refused) > len(pb.recs) {
			return fmt.Errorf("extract %s: storing a batch of %d records: %w", c.p.m.Name, len(pb.recs), err)
		}
		drop := map[int]string{}
		for _, re := range refused {
			if re.Index < 0 || re.Index >= len(pb.recs) {
				return fmt.Errorf("extract %s: the sink refused record %d of a batch of %d: %w", c.p.m.Name, re.Index, len(pb.recs), err)
			}
			drop[re.Index] = re.Reason
		}
		idx := make([]int, 0, len(drop))
		for i := range drop {
			idx = append(idx, i)
		}
		sort.Ints(idx)
		for _, i := range idx {
			at := pb.rawAt[i]
			reason := "refused by the database"
			if drop[i] != "" {
				reason += ": " + drop[i]
			}
			c.rw.write(pb.lines[i], reason, pb.raw[at[0]:at[1]])
			c.rejected++
		}
		pb.keep(func(i int) bool { _, gone := drop[i]; return !gone })
		pb.prepared = nil // it was for the records before
	}
}

// keep keeps the records for which ok is true, in order.
func (pb *pending[T]) keep(ok func(int) bool) {
	j := 0
	for i := range pb.recs {
		if !ok(i) {
			continue
		}
		pb.recs[j], pb.lines[j], pb.rawAt[j], pb.wm[j], pb.upd[j] = pb.recs[i], pb.lines[i], pb.rawAt[i], pb.wm[i], pb.upd[i]
		j++
	}
	pb.recs, pb.lines, pb.rawAt, pb.wm, pb.upd = pb.recs[:j], pb.lines[:j], pb.rawAt[:j], pb.wm[:j], pb.upd[:j]
}

// checkBOM handles a byte order mark at the start of the file.
func checkBOM(rd *reader, enc Encoding) error {
	b, _ := rd.br.Peek(3)
	switch {
	case len(b) >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF:
		if enc != UTF8 {
			return &FileError{Line: 1, Err: ErrEncoding, Msg: fmt.Sprintf("the file starts with a UTF-8 byte order mark but format.encoding is %s", enc)}
		}
		rd.br.Discard(3)
	case len(b) >= 2 && (b[0] == 0xFF && b[1] == 0xFE || b[0] == 0xFE && b[1] == 0xFF):
		return &FileError{Line: 1, Err: ErrEncoding, Msg: "the file is UTF-16 (it starts with a UTF-16 byte order mark): export it as UTF-8 or Windows-1252"}
	}
	return nil
}

// bindColumns reads the header, when the format has one, and sets each
// field's column positions. It returns the number of fields every row
// must have, or 0 when the first row decides.
func bindColumns(rd *reader, p *plan) (int, error) {
	f := p.m.Format
	if !f.Header {
		for _, fp := range p.fields {
			fp.colIdx = fp.colIdx[:0]
			for _, c := range fp.cols {
				n, _ := strconv.Atoi(c)
				fp.colIdx = append(fp.colIdx, n-1)
			}
		}
		return f.Columns, nil
	}
	line, err := rd.next()
	switch {
	case err == io.EOF:
		return 0, &FileError{Err: ErrNoHeader, Msg: "the file is empty"}
	case err != nil:
		var re *RowError
		if errors.As(err, &re) {
			return 0, &FileError{Line: re.Line, Err: ErrHeader, Msg: "header row: " + re.Reason()}
		}
		return 0, fmt.Errorf("reading the header: %w", err)
	}
	names := make([]string, rd.fields())
	for i := range names {
		b := rd.field(i)
		if p.enc == UTF8 {
			if !utf8.Valid(b) {
				return 0, &FileError{Line: line, Err: ErrEncoding, Msg: fmt.Sprintf("header field %d is not valid UTF-8", i+1)}
			}
			names[i] = strings.TrimSpace(string(b))
		} else {
			names[i] = strings.TrimSpace(string(decode1252(nil, b)))
		}
	}
	pos := map[string]int{}
	for i, n := range names {
		if _, dup := pos[n]; dup {
			pos[n] = -1
		} else {
			pos[n] = i
		}
	}
	var problems []string
	for _, c := range p.columns {
		i, ok := pos[c]
		switch {
		case !ok:
			msg := "no column " + c
			for _, n := range names {
				if strings.EqualFold(n, c) {
					msg += " (the header has " + n + ")"
					break
				}
			}
			problems = append(problems, msg)
		case i < 0:
			problems = append(problems, "column "+c+" appears twice")
		}
	}
	if len(problems) > 0 {
		return 0, &FileError{Line: line, Err: ErrHeader, Msg: strings.Join(problems, "; ")}
	}
	for _, fp := range p.fields {
		fp.colIdx = fp.colIdx[:0]
		for _, c := range fp.cols {
			fp.colIdx = append(fp.colIdx, pos[c])
		}
	}
	return len(names), nil
}

// checkColumnNumbers checks, in a file without a header, that the
// mapping's column numbers exist in rows of n fields.
func checkColumnNumbers(p *plan, n int) error {
	for _, fp := range p.fields {
		for i, c := range fp.colIdx {
			if c >= n {
				return &FileError{Err: ErrHeader, Msg: fmt.Sprintf("column %s does not exist: rows have %d fields", fp.cols[i], n)}
			}
		}
	}
	return nil
}

// fieldValue maps one field of a row. Errors have no line yet.
func (p *plan) fieldValue(fp *fieldPlan, r *row) (value, *RowError) {
	var text string
	switch fp.src {
	case srcConst:
		return fp.constant, nil
	case srcColumn:
		text = r.field(fp.colIdx[0])
		if r.dirty {
			if msg := badText(text, p.enc); msg != "" {
				return value{}, &RowError{Column: fp.label, Err: ErrEncoding, Msg: msg}
			}
		}
	case srcConcat:
		var b strings.Builder
		for i, c := range fp.colIdx {
			part := r.field(c)
			if r.dirty {
				if msg := badText(part, p.enc); msg != "" {
					return value{}, &RowError{Column: fp.cols[i], Err: ErrEncoding, Msg: msg}
				}
			}
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			if b.Len() > 0 {
				b.WriteString(fp.sep)
			}
			b.WriteString(part)
		}
		text = b.String()
	}
	for i := range fp.transforms {
		t := &fp.transforms[i]
		var ok bool
		text, ok = t.apply(text)
		if !ok {
			return value{}, &RowError{Column: fp.label, Err: ErrUnmapped, Msg: t.missMsg()}
		}
	}
	if text == "" || (fp.typ != TypeString && strings.TrimSpace(text) == "") {
		if fp.deflt.set {
			return fp.deflt, nil
		}
		if fp.required {
			return value{}, &RowError{Column: fp.label, Err: ErrRequired, Msg: "required but empty"}
		}
		return value{}, nil
	}
	v, re := p.typed(fp, text)
	if re != nil {
		re.Column = fp.label
	}
	return v, re
}

// badText says what is wrong with a field's text, or "".
func badText(s string, enc Encoding) string {
	if strings.IndexByte(s, 0) >= 0 {
		return "contains a NUL byte"
	}
	if enc == UTF8 && !utf8.ValidString(s) {
		return "not valid UTF-8 (is format.encoding right?)"
	}
	return ""
}

// checkResultValue sets or checks a result's value type.
func (p *plan) checkResultValue(v []value) *RowError {
	if p.autoValueType {
		v[rValueType] = value{}
		if v[rValue].set {
			v[rValueType] = value{s: "ST", set: true}
			if p.numericValue {
				v[rValueType].s = "NM"
			}
		}
		return nil
	}
	if !v[rValue].set {
		return nil
	}
	if v[rValueType].s == "NM" && !isDecimal(strings.TrimSpace(v[rValue].s)) {
		return &RowError{Column: p.byField[rValue].label, Err: ErrNumber, Msg: "value type NM but not a decimal number"}
	}
	return nil
}
