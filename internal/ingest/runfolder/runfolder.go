// Package runfolder finds Illumina sequencer run folders under a directory,
// tells which are finished, and for each finished run pairs the FASTQ files
// of every sample on its sample sheet. It only reads the file system.
//
// A directory directly under the root is a run folder when it holds
// RunInfo.xml, RTAComplete.txt or CopyComplete.txt; names starting with '.'
// are skipped. A run is Ready when:
//
//   - CopyComplete.txt exists, or
//   - RTAComplete.txt exists and the instrument is one that never writes
//     CopyComplete.txt: MiSeq (M…), MiniSeq (MN…), iSeq (FS…), NextSeq
//     500/550 (NB…, NS…) and HiSeq (D…, E…, J…, K…, SN…, ST-…). The
//     instrument comes from <Instrument> in RunInfo.xml, else from the
//     folder name (YYMMDD_INSTRUMENT_RUN_FLOWCELL).
//
// Any other instrument, including NovaSeq 6000 (A…), NovaSeq X (LH…),
// NextSeq 1000/2000 (VH…, VL…) and any instrument that cannot be
// identified, writes CopyComplete.txt after RTAComplete.txt once the copy to
// the output folder is done, so the run waits for it. Run.Waiting says what
// a run that is not Ready waits for; such a run's sample sheet is not read.
//
// For a Ready run, SampleSheet.csv in the run folder is parsed and FASTQ
// files are looked for anywhere under the run folder (BCL Convert writes
// them to Analysis/N/Data/fastq or Data/fastq, bcl2fastq to
// Data/Intensities/BaseCalls/[Project/[Sample_ID/]], MiSeq Reporter to
// Alignment_N/.../Fastq). Only names of the form
//
//	<name>_S<n>_L<lane, 3 digits>_R<1|2>_001.fastq.gz
//	<name>_S<n>_R<1|2>_001.fastq.gz            (lanes merged)
//
// count, where <name> is the Sample_ID, or for v1 sheets the Sample_Name in
// a directory named after the Sample_ID (bcl2fastq's layout when the two
// differ). Index reads (_I1_), Undetermined files and files of samples not
// on the sheet are ignored. Directories of raw data (Thumbnail_Images,
// InterOp, Logs, BaseCalls/L00n, ...) are not entered, nor are directories
// deeper than MaxDepth below the run folder.
//
// A Ready run is in error (Run.Err) when the sheet is missing or invalid, a
// sample of the sheet has no FASTQ (ErrMissingFASTQ; on-instrument analysis
// may still be writing them, so a later scan may succeed), the files of a
// sample are ambiguous or incomplete (ErrFASTQ: one file found twice,
// R1 without R2 on a paired-end sheet, lanes the sheet does not list, both
// per-lane and merged files), or a symbolic link leads outside the root
// (ErrOutsideRoot). Symbolic links are followed only to files and only
// inside the root, and must be relative (see os.Root); links to
// directories inside a run folder are not followed. One run's error does
// not stop the scan of the others.
package runfolder

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/clinomics/clinomics/internal/format/samplesheet"
)

// File names in a run folder.
const (
	CopyComplete = "CopyComplete.txt"
	RTAComplete  = "RTAComplete.txt"
	RunInfo      = "RunInfo.xml"
	SampleSheet  = "SampleSheet.csv"
)

// Limits on what a scan reads.
const (
	MaxRunInfo = 1 << 20   // bytes of RunInfo.xml
	MaxEntries = 1_000_000 // directory entries visited in one run folder
	MaxDepth   = 8         // directory levels below the run folder searched for FASTQ
	maxErrors  = 20        // problems listed in one Run.Err
)

// Errors reported in Run.Err (wrapped; test with errors.Is).
var (
	ErrOutsideRoot   = errors.New("symbolic link leads outside the runs directory")
	ErrNoSampleSheet = errors.New("finished run has no " + SampleSheet)
	ErrMissingFASTQ  = errors.New("no FASTQ for a sample on the sample sheet")
	ErrFASTQ         = errors.New("FASTQ files do not match the sample sheet")
	ErrTooLarge      = errors.New("run folder exceeds a size limit")
)

// Run is one run folder.
type Run struct {
	Name       string // folder name
	Dir        string // absolute path of the folder
	Instrument string // instrument ID from RunInfo.xml or the folder name; empty if unknown
	Ready      bool
	Marker     string // CopyComplete or RTAComplete when Ready
	Waiting    string // when not Ready, what the run waits for
	// Sheet and Samples are set only for Ready runs. When Err is set,
	// Samples may be incomplete and the run must not be ingested.
	Sheet   *samplesheet.Sheet
	Samples []SampleFiles
	Err     error
}

// SampleFiles are the FASTQ files of one Sample_ID of the sheet.
type SampleFiles struct {
	// Sample is the first sheet row with this Sample_ID (its Lane is that
	// row's lane; Lanes below lists every lane found).
	Sample samplesheet.Sample
	// Pairs holds absolute paths of R1 and R2, sorted by lane. R2 is empty
	// only when the sheet declares a single read.
	Pairs [][2]string
	// Lanes gives the lane of each pair; 0 for files with lanes merged.
	Lanes []int
}

// Scan lists the run folders directly under root, sorted by name. It fails
// only when root itself cannot be read; problems of one run are in its Err.
func Scan(root string) ([]Run, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("runs directory: %w", err)
	}
	r, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("runs directory: %w", err)
	}
	defer r.Close()
	entries, err := fs.ReadDir(r.FS(), ".")
	if err != nil {
		return nil, fmt.Errorf("runs directory %s: %w", abs, err)
	}
	var runs []Run
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		run := Run{Name: name, Dir: filepath.Join(abs, name)}
		if e.Type()&fs.ModeSymlink != 0 {
			fi, err := stat(r, name)
			if errors.Is(err, fs.ErrNotExist) {
				continue // dangling link
			}
			if err != nil {
				run.Err = err
				runs = append(runs, run)
				continue
			}
			if !fi.IsDir() {
				continue
			}
		} else if !e.IsDir() {
			continue
		}
		if !isRunFolder(r, name) {
			continue
		}
		scanRun(r, abs, &run)
		runs = append(runs, run)
	}
	return runs, nil
}

// stat follows symbolic links inside the root. A link that cannot be
// followed for any reason but a missing target (it leads outside the root,
// is absolute, loops, ...) is reported as ErrOutsideRoot.
func stat(r *os.Root, name string) (fs.FileInfo, error) {
	fi, err := r.Stat(name)
	if err == nil || errors.Is(err, fs.ErrNotExist) {
		return fi, err
	}
	if li, lerr := r.Lstat(name); lerr == nil && li.Mode()&fs.ModeSymlink != 0 {
		return nil, fmt.Errorf("%w: %s", ErrOutsideRoot, name)
	}
	return nil, err
}

// exists reports whether name is a regular file (following links inside
// the root).
func exists(r *os.Root, name string) (bool, error) {
	fi, err := stat(r, name)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return fi.Mode().IsRegular(), nil
}

func isRunFolder(r *os.Root, dir string) bool {
	for _, f := range []string{RunInfo, RTAComplete, CopyComplete} {
		if _, err := r.Lstat(path.Join(dir, f)); err == nil {
			return true
		}
	}
	return false
}

func scanRun(r *os.Root, abs string, run *Run) {
	if !readiness(r, run) || run.Err != nil {
		return
	}
	f, err := r.Open(path.Join(run.Name, SampleSheet))
	if errors.Is(err, fs.ErrNotExist) {
		run.Err = fmt.Errorf("%w (in %s)", ErrNoSampleSheet, run.Dir)
		return
	}
	if err != nil {
		if _, serr := stat(r, path.Join(run.Name, SampleSheet)); errors.Is(serr, ErrOutsideRoot) {
			err = serr
		}
		run.Err = err
		return
	}
	sheet, err := samplesheet.Parse(f)
	f.Close()
	if err != nil {
		var pe *samplesheet.ParseError
		if errors.As(err, &pe) {
			pe.File = filepath.Join(run.Dir, SampleSheet)
		}
		run.Err = err
		return
	}
	run.Sheet = sheet
	files, problems := findFASTQ(r, run.Name)
	samples, more := match(sheet, files, filepath.Join(abs, run.Name))
	run.Samples = samples
	problems = append(problems, more...)
	run.Err = joinCapped(problems)
}

// readiness sets Ready, Marker, Waiting and Instrument, and reports Ready.
func readiness(r *os.Root, run *Run) bool {
	copied, err := exists(r, path.Join(run.Name, CopyComplete))
	if err != nil {
		run.Err = err
		return false
	}
	run.Instrument = instrument(r, run.Name)
	if copied {
		run.Ready, run.Marker = true, CopyComplete
		return true
	}
	rta, err := exists(r, path.Join(run.Name, RTAComplete))
	if err != nil {
		run.Err = err
		return false
	}
	switch {
	case !rta:
		run.Waiting = "sequencing: no " + RTAComplete + " or " + CopyComplete + " yet"
	case run.Instrument == "":
		run.Waiting = "copy: " + RTAComplete + " is there, but the instrument is unknown, so waiting for " + CopyComplete
	case !writesCopyComplete(run.Instrument):
		run.Ready, run.Marker = true, RTAComplete
	default:
		run.Waiting = "copy: " + RTAComplete + " is there; instrument " + run.Instrument + " writes " + CopyComplete + " when the copy is done"
	}
	return run.Ready
}

// noCopyComplete matches instrument IDs of Illumina instruments that do not
// write CopyComplete.txt, so RTAComplete.txt marks the end of the run.
var noCopyComplete = regexp.MustCompile(`^(M\d|MN\d|FS\d|NB\d|NS\d|D\d|E\d|J\d|K\d|SN\d|ST-)`)

func writesCopyComplete(instrument string) bool { return !noCopyComplete.MatchString(instrument) }

// instrument reads the instrument ID from RunInfo.xml, falling back on the
// second field of a standard folder name.
func instrument(r *os.Root, dir string) string {
	if f, err := r.Open(path.Join(dir, RunInfo)); err == nil {
		b, err := io.ReadAll(io.LimitReader(f, MaxRunInfo+1))
		f.Close()
		var ri struct {
			Run struct {
				Instrument string `xml:"Instrument"`
			} `xml:"Run"`
		}
		if err == nil && len(b) <= MaxRunInfo && xml.Unmarshal(b, &ri) == nil {
			if id := strings.TrimSpace(ri.Run.Instrument); validInstrument(id) {
				return id
			}
		}
	}
	parts := strings.Split(dir, "_")
	if len(parts) >= 4 && (len(parts[0]) == 6 || len(parts[0]) == 8) && allDigits(parts[0]) && validInstrument(parts[1]) {
		return parts[1]
	}
	return ""
}

func validInstrument(id string) bool {
	if id == "" || len(id) > 32 {
		return false
	}
	for _, c := range id {
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func allDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// fastqName matches BCL Convert and bcl2fastq FASTQ names; the name part
// is greedy, so "A_S1_S2_L001_R1_001.fastq.gz" belongs to sample "A_S1".
var fastqName = regexp.MustCompile(`^(.+)_S(\d+)(?:_L(\d{3}))?_R([12])_001\.fastq\.(gz|ora)$`)

// fastq is one FASTQ file found in a run folder.
type fastq struct {
	rel    string // slash path relative to the root
	name   string // sample name part of the file name
	dir    string // name of the directory holding the file
	lane   int    // 0 when lanes are merged
	read   int    // 1 or 2
	ora    bool   // DRAGEN ORA compressed: recognised, not accepted
	sample string // Sample_ID it belongs to, once matched
}

// skipDirs are run folder directories that hold raw data or logs, never
// FASTQ.
var skipDirs = map[string]bool{
	"Thumbnail_Images": true, "Images": true, "InterOp": true, "Logs": true,
	"Recipe": true, "Config": true, "PeriodicSaveRates": true,
}

var laneDir = regexp.MustCompile(`^L\d{3}$`)

// findFASTQ walks a run folder for FASTQ files.
func findFASTQ(r *os.Root, run string) ([]fastq, []error) {
	var files []fastq
	var problems []error
	n := 0
	base := strings.Count(run, "/")
	err := fs.WalkDir(r.FS(), run, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == run {
				return err
			}
			problems = append(problems, fmt.Errorf("reading %s: %w", p, err))
			return nil
		}
		if n++; n > MaxEntries {
			return fmt.Errorf("%w: more than %d files and directories", ErrTooLarge, MaxEntries)
		}
		if d.IsDir() {
			if p == run {
				return nil
			}
			parent := path.Base(path.Dir(p))
			if skipDirs[d.Name()] || laneDir.MatchString(d.Name()) && (parent == "BaseCalls" || parent == "Intensities") ||
				strings.Count(p, "/")-base > MaxDepth {
				return fs.SkipDir
			}
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			fi, err := stat(r, p)
			switch {
			case errors.Is(err, ErrOutsideRoot):
				problems = append(problems, err)
				return nil
			case err != nil:
				if fastqName.MatchString(d.Name()) {
					problems = append(problems, fmt.Errorf("%w: %s: %w", ErrFASTQ, p, err))
				}
				return nil
			case !fi.Mode().IsRegular():
				return nil // links to directories are not followed
			}
		} else if !d.Type().IsRegular() {
			return nil
		}
		m := fastqName.FindStringSubmatch(d.Name())
		if m == nil || m[1] == "Undetermined" {
			return nil
		}
		f := fastq{rel: p, name: m[1], dir: path.Base(path.Dir(p)), ora: m[5] == "ora"}
		f.read, _ = strconv.Atoi(m[4])
		if m[3] != "" {
			f.lane, _ = strconv.Atoi(m[3])
			if f.lane == 0 {
				return nil // not a lane BCL Convert or bcl2fastq writes
			}
		}
		files = append(files, f)
		return nil
	})
	if err != nil {
		problems = append(problems, err)
	}
	return files, problems
}

// match assigns files to the Sample_IDs of the sheet and pairs them.
func match(sheet *samplesheet.Sheet, files []fastq, runDir string) ([]SampleFiles, []error) {
	type group struct {
		rows  []samplesheet.Sample
		files []*fastq
		ora   int
	}
	groups := map[string]*group{}
	var order []string
	for _, s := range sheet.Samples {
		g := groups[s.ID]
		if g == nil {
			g = &group{}
			groups[s.ID] = g
			order = append(order, s.ID)
		}
		g.rows = append(g.rows, s)
	}
	var problems []error
	for i := range files {
		f := &files[i]
		var ids []string
		if _, ok := groups[f.name]; ok {
			ids = append(ids, f.name)
		}
		if g, ok := groups[f.dir]; ok && sheet.Version == 1 && f.dir != f.name && g.rows[0].Name == f.name {
			ids = append(ids, f.dir)
		}
		switch len(ids) {
		case 0:
			continue
		case 2:
			problems = append(problems, fmt.Errorf("%w: a file in %s could belong to the samples on sheet lines %d and %d",
				ErrFASTQ, dirInRun(f.rel), groups[ids[0]].rows[0].Line, groups[ids[1]].rows[0].Line))
			continue
		}
		g := groups[ids[0]]
		if f.ora {
			g.ora++
			continue
		}
		f.sample = ids[0]
		g.files = append(g.files, f)
	}

	var out []SampleFiles
	for _, id := range order {
		g := groups[id]
		line := g.rows[0].Line
		if len(g.files) == 0 {
			hint := ""
			if g.ora > 0 {
				hint = "; found only ORA-compressed .fastq.ora files, which are not supported"
			}
			problems = append(problems, fmt.Errorf("%w: sample on sheet line %d%s", ErrMissingFASTQ, line, hint))
			continue
		}
		sf, errs := pair(g.rows, g.files, len(sheet.Reads) == 1, runDir)
		problems = append(problems, errs...)
		if len(errs) == 0 {
			out = append(out, sf)
		}
	}
	return out, problems
}

// pair sorts one sample's files into R1/R2 pairs per lane and checks them
// against the lanes of its sheet rows.
func pair(rows []samplesheet.Sample, files []*fastq, singleRead bool, runDir string) (SampleFiles, []error) {
	line := rows[0].Line
	var problems []error
	bad := func(format string, a ...any) {
		problems = append(problems, fmt.Errorf("%w: sample on sheet line %d: "+format, append([]any{ErrFASTQ, line}, a...)...))
	}
	byLane := map[int]*[2]*fastq{}
	merged, split := false, false
	for _, f := range files {
		p := byLane[f.lane]
		if p == nil {
			p = &[2]*fastq{}
			byLane[f.lane] = p
		}
		if old := p[f.read-1]; old != nil {
			bad("R%d of %s found twice, in %s and %s", f.read, laneName(f.lane), dirInRun(old.rel), dirInRun(f.rel))
			continue
		}
		p[f.read-1] = f
		if f.lane == 0 {
			merged = true
		} else {
			split = true
		}
	}
	if merged && split {
		bad("both per-lane and lane-merged files")
	}
	sheetLanes := map[int]bool{}
	for _, r := range rows {
		sheetLanes[r.Lane] = true
	}
	if split && !sheetLanes[0] {
		for lane := range sheetLanes {
			if byLane[lane] == nil {
				bad("no FASTQ for lane %d", lane)
			}
		}
	}
	lanes := make([]int, 0, len(byLane))
	for lane := range byLane {
		lanes = append(lanes, lane)
	}
	sort.Ints(lanes)
	sf := SampleFiles{Sample: rows[0]}
	for _, lane := range lanes {
		if lane != 0 && !sheetLanes[0] && !sheetLanes[lane] {
			bad("FASTQ for lane %d, which the sheet does not list for it", lane)
			continue
		}
		p := byLane[lane]
		switch {
		case p[0] == nil:
			bad("R2 without R1 in %s", laneName(lane))
			continue
		case p[1] == nil && !singleRead:
			bad("R1 without R2 in %s (the sheet does not declare a single read)", laneName(lane))
			continue
		}
		pr := [2]string{filepath.Join(runDir, rel(p[0].rel))}
		if p[1] != nil {
			pr[1] = filepath.Join(runDir, rel(p[1].rel))
		}
		sf.Pairs = append(sf.Pairs, pr)
		sf.Lanes = append(sf.Lanes, lane)
	}
	return sf, problems
}

// rel strips the run folder name from a root-relative slash path.
func rel(p string) string {
	_, after, _ := strings.Cut(p, "/")
	return filepath.FromSlash(after)
}

// dirInRun is the directory of a root-relative slash path, relative to its
// run folder.
func dirInRun(p string) string {
	_, after, _ := strings.Cut(path.Dir(p), "/")
	if after == "" {
		return "."
	}
	return after
}

func laneName(lane int) string {
	if lane == 0 {
		return "the lane-merged files"
	}
	return fmt.Sprintf("lane %d", lane)
}

// joinCapped joins up to maxErrors problems.
func joinCapped(errs []error) error {
	if len(errs) > maxErrors {
		n := len(errs) - maxErrors
		errs = append(errs[:maxErrors:maxErrors], fmt.Errorf("(%d more problems not shown)", n))
	}
	return errors.Join(errs...)
}
