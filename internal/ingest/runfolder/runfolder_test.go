package runfolder

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/clinomics/clinomics/internal/format/samplesheet"
)

// Sample sheets used by the tests.
const (
	// v2, two samples; A in lanes 1 and 2, B in lane 1.
	sheetV2 = "[Header]\nFileFormatVersion,2\n[Reads]\nRead1Cycles,151\nRead2Cycles,151\n[BCLConvert_Data]\n" +
		"Lane,Sample_ID,Index,Index2\n1,A,ACGT,TTTT\n2,A,ACGT,TTTT\n1,B,GGGG,CCCC\n" // A on line 8, B on line 10
	// v1 without lanes, names differ from IDs.
	sheetV1Names = "[Header]\nIEMFileVersion,5\n[Reads]\n151\n151\n[Data]\n" +
		"Sample_ID,Sample_Name,Sample_Project,index,index2\nS1,TumorA,Onc,ACGT,TTTT\nS2,NormalA,Onc,GGGG,CCCC\n"
	// v1 single read, no lanes.
	sheetV1Single = "[Header]\nIEMFileVersion,4\n[Reads]\n75\n[Data]\nSample_ID,index\n1844,TAAGGCGA\n1848,CGTACTAG\n"
	// v2 without lanes.
	sheetV2NoLane = "[Header]\nFileFormatVersion,2\n[Reads]\nRead1Cycles,151\nRead2Cycles,151\n[BCLConvert_Data]\n" +
		"Sample_ID,Index\nA,ACGT\n"
)

func runInfo(instrument string) string {
	return `<?xml version="1.0"?>
<RunInfo Version="6"><Run Id="x" Number="1"><Flowcell>FC</Flowcell><Instrument>` + instrument + `</Instrument><Date>1/1/2025</Date></Run></RunInfo>`
}

// write creates root/rel (and its directories) holding content.
func write(t *testing.T, root, rel, content string) string {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// makeRun creates a run folder with the given files; a value of "" gives
// an empty file.
func makeRun(t *testing.T, root, name string, files map[string]string) string {
	t.Helper()
	for rel, content := range files {
		write(t, root, name+"/"+rel, content)
	}
	return filepath.Join(root, name)
}

func scanOne(t *testing.T, root string) Run {
	t.Helper()
	runs, err := Scan(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 {
		t.Fatalf("%d runs, want 1: %+v", len(runs), runs)
	}
	return runs[0]
}

const (
	novaseq = "191025_A00426_0072_AHFJYGDRXX"
	novaX   = "20240105_LH00123_0012_B22ABCDLT3"
	miseq   = "250101_M01234_0001_000000000-ABCDE"
)

func TestReadiness(t *testing.T) {
	bcl := "Analysis/1/Data/fastq/"
	fastqV2 := map[string]string{
		bcl + "A_S1_L001_R1_001.fastq.gz": "", bcl + "A_S1_L001_R2_001.fastq.gz": "",
		bcl + "A_S1_L002_R1_001.fastq.gz": "", bcl + "A_S1_L002_R2_001.fastq.gz": "",
		bcl + "B_S2_L001_R1_001.fastq.gz": "", bcl + "B_S2_L001_R2_001.fastq.gz": "",
	}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range fastqV2 {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	cases := []struct {
		name       string
		folder     string
		files      map[string]string
		ready      bool
		marker     string
		instrument string
		waiting    string // substring
	}{
		{"NovaSeq with CopyComplete", novaseq, with(map[string]string{RunInfo: runInfo("A00426"), RTAComplete: "", CopyComplete: "", SampleSheet: sheetV2}),
			true, CopyComplete, "A00426", ""},
		{"NovaSeq with RTAComplete only waits", novaseq, map[string]string{RunInfo: runInfo("A00426"), RTAComplete: "", SampleSheet: "not a sheet"},
			false, "", "A00426", "writes CopyComplete.txt"},
		{"NovaSeq X with RTAComplete only waits", novaX, map[string]string{RunInfo: runInfo("LH00123"), RTAComplete: ""},
			false, "", "LH00123", "instrument LH00123"},
		{"NextSeq 2000 without RunInfo, from the folder name", "230724_VH00711_85_AACYYTYM5", map[string]string{RTAComplete: ""},
			false, "", "VH00711", "writes CopyComplete.txt"},
		{"MiSeq ready on RTAComplete", miseq, with(map[string]string{RunInfo: runInfo("M01234"), RTAComplete: "", SampleSheet: sheetV2}),
			true, RTAComplete, "M01234", ""},
		{"NextSeq 500 ready on RTAComplete", "191025_NS500653_0418_AHK3MMBGXC", with(map[string]string{RTAComplete: "", SampleSheet: sheetV2}),
			true, RTAComplete, "NS500653", ""},
		{"RunInfo wins over the folder name", novaseq, with(map[string]string{RunInfo: runInfo("M70123"), RTAComplete: "", SampleSheet: sheetV2}),
			true, RTAComplete, "M70123", ""},
		{"unknown instrument waits", "my_run", map[string]string{RunInfo: "<RunInfo/>", RTAComplete: ""},
			false, "", "", "instrument is unknown"},
		{"oversized RunInfo is ignored", "my_run", map[string]string{RunInfo: runInfo("M01234") + strings.Repeat(" ", MaxRunInfo), RTAComplete: ""},
			false, "", "", "instrument is unknown"},
		{"still sequencing", novaseq, map[string]string{RunInfo: runInfo("A00426"), SampleSheet: "not a sheet"},
			false, "", "A00426", "sequencing"},
		{"marker that is a directory does not count", novaseq, map[string]string{RunInfo: runInfo("A00426"), CopyComplete + "/x": ""},
			false, "", "A00426", "sequencing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			dir := makeRun(t, root, c.folder, c.files)
			run := scanOne(t, root)
			if run.Name != c.folder || run.Dir != dir {
				t.Errorf("name %q dir %q", run.Name, run.Dir)
			}
			if run.Ready != c.ready || run.Marker != c.marker || run.Instrument != c.instrument {
				t.Errorf("ready %v marker %q instrument %q, want %v %q %q", run.Ready, run.Marker, run.Instrument, c.ready, c.marker, c.instrument)
			}
			if c.waiting == "" && run.Waiting != "" || !strings.Contains(run.Waiting, c.waiting) {
				t.Errorf("waiting %q, want %q", run.Waiting, c.waiting)
			}
			if run.Err != nil {
				t.Errorf("err %v", run.Err)
			}
			if !c.ready && (run.Sheet != nil || run.Samples != nil) {
				t.Error("the sample sheet of a run that is not ready was read")
			}
			if c.ready && len(run.Samples) != 2 {
				t.Errorf("%d samples, want 2", len(run.Samples))
			}
		})
	}
}

func TestWhichFoldersAreRuns(t *testing.T) {
	root := t.TempDir()
	makeRun(t, root, "b_run", map[string]string{RunInfo: runInfo("A00426")})
	makeRun(t, root, "a_run", map[string]string{RTAComplete: ""})
	makeRun(t, root, "c_run", map[string]string{CopyComplete: ""})
	makeRun(t, root, "not_a_run", map[string]string{"notes.txt": ""})
	makeRun(t, root, ".hidden_run", map[string]string{RunInfo: runInfo("A00426")})
	write(t, root, "RunInfo.xml", runInfo("A00426"))
	symlink(t, "nowhere", filepath.Join(root, "dangling"))
	runs, err := Scan(root)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range runs {
		names = append(names, r.Name)
	}
	if want := []string{"a_run", "b_run", "c_run"}; !reflect.DeepEqual(names, want) {
		t.Errorf("runs %q, want %q", names, want)
	}
	if _, err := Scan(filepath.Join(root, "missing")); err == nil {
		t.Error("scan of a missing directory succeeded")
	}
}

func TestLayouts(t *testing.T) {
	cases := []struct {
		name   string
		sheet  string
		files  []string
		want   map[string][][2]string // Sample_ID -> pairs, relative to the run folder
		lanes  map[string][]int
		noises []string // files that must be ignored
	}{
		{"BCL Convert on NovaSeq X", sheetV2,
			[]string{
				"Analysis/1/Data/fastq/A_S1_L002_R1_001.fastq.gz", "Analysis/1/Data/fastq/A_S1_L002_R2_001.fastq.gz",
				"Analysis/1/Data/fastq/A_S1_L001_R1_001.fastq.gz", "Analysis/1/Data/fastq/A_S1_L001_R2_001.fastq.gz",
				"Analysis/1/Data/fastq/B_S2_L001_R1_001.fastq.gz", "Analysis/1/Data/fastq/B_S2_L001_R2_001.fastq.gz",
			},
			map[string][][2]string{
				"A": {{"Analysis/1/Data/fastq/A_S1_L001_R1_001.fastq.gz", "Analysis/1/Data/fastq/A_S1_L001_R2_001.fastq.gz"},
					{"Analysis/1/Data/fastq/A_S1_L002_R1_001.fastq.gz", "Analysis/1/Data/fastq/A_S1_L002_R2_001.fastq.gz"}},
				"B": {{"Analysis/1/Data/fastq/B_S2_L001_R1_001.fastq.gz", "Analysis/1/Data/fastq/B_S2_L001_R2_001.fastq.gz"}},
			},
			map[string][]int{"A": {1, 2}, "B": {1}},
			[]string{
				"Analysis/1/Data/fastq/Undetermined_S0_L001_R1_001.fastq.gz",
				"Analysis/1/Data/fastq/A_S1_L001_I1_001.fastq.gz",
				"Analysis/1/Data/fastq/C_S3_L001_R1_001.fastq.gz",
				"Analysis/1/Data/fastq/A_S1_L001_R1_001.fastq.gz.md5",
				"Thumbnail_Images/A_S1_L001_R1_001.fastq.gz",
				"Data/Intensities/BaseCalls/L001/A_S1_L001_R1_001.fastq.gz",
			}},
		{"bcl2fastq with Sample_Name and project folders", sheetV1Names,
			[]string{
				"Data/Intensities/BaseCalls/Onc/S1/TumorA_S1_L001_R1_001.fastq.gz", "Data/Intensities/BaseCalls/Onc/S1/TumorA_S1_L001_R2_001.fastq.gz",
				"Data/Intensities/BaseCalls/Onc/S1/TumorA_S1_L002_R1_001.fastq.gz", "Data/Intensities/BaseCalls/Onc/S1/TumorA_S1_L002_R2_001.fastq.gz",
				"Data/Intensities/BaseCalls/Onc/S2/NormalA_S2_L001_R1_001.fastq.gz", "Data/Intensities/BaseCalls/Onc/S2/NormalA_S2_L001_R2_001.fastq.gz",
			},
			map[string][][2]string{
				"S1": {{"Data/Intensities/BaseCalls/Onc/S1/TumorA_S1_L001_R1_001.fastq.gz", "Data/Intensities/BaseCalls/Onc/S1/TumorA_S1_L001_R2_001.fastq.gz"},
					{"Data/Intensities/BaseCalls/Onc/S1/TumorA_S1_L002_R1_001.fastq.gz", "Data/Intensities/BaseCalls/Onc/S1/TumorA_S1_L002_R2_001.fastq.gz"}},
				"S2": {{"Data/Intensities/BaseCalls/Onc/S2/NormalA_S2_L001_R1_001.fastq.gz", "Data/Intensities/BaseCalls/Onc/S2/NormalA_S2_L001_R2_001.fastq.gz"}},
			},
			map[string][]int{"S1": {1, 2}, "S2": {1}},
			// A Sample_Name outside its Sample_ID folder is not trusted.
			[]string{"Data/Intensities/BaseCalls/Onc/TumorA_S1_L003_R1_001.fastq.gz"}},
		{"BCL Convert on a v1 sheet names files by Sample_ID", sheetV1Names,
			[]string{
				"Data/fastq/S1_S1_L001_R1_001.fastq.gz", "Data/fastq/S1_S1_L001_R2_001.fastq.gz",
				"Data/fastq/S2_S2_L001_R1_001.fastq.gz", "Data/fastq/S2_S2_L001_R2_001.fastq.gz",
			},
			map[string][][2]string{
				"S1": {{"Data/fastq/S1_S1_L001_R1_001.fastq.gz", "Data/fastq/S1_S1_L001_R2_001.fastq.gz"}},
				"S2": {{"Data/fastq/S2_S2_L001_R1_001.fastq.gz", "Data/fastq/S2_S2_L001_R2_001.fastq.gz"}},
			},
			map[string][]int{"S1": {1}, "S2": {1}}, nil},
		{"MiSeq Reporter, single read, lanes merged", sheetV1Single,
			[]string{"Alignment_1/20140612_101010/Fastq/1844_S1_R1_001.fastq.gz", "Alignment_1/20140612_101010/Fastq/1848_S2_R1_001.fastq.gz"},
			map[string][][2]string{
				"1844": {{"Alignment_1/20140612_101010/Fastq/1844_S1_R1_001.fastq.gz", ""}},
				"1848": {{"Alignment_1/20140612_101010/Fastq/1848_S2_R1_001.fastq.gz", ""}},
			},
			map[string][]int{"1844": {0}, "1848": {0}}, nil},
		{"no lane splitting with lanes on the sheet", sheetV2,
			[]string{
				"Data/fastq/A_S1_R1_001.fastq.gz", "Data/fastq/A_S1_R2_001.fastq.gz",
				"Data/fastq/B_S2_R1_001.fastq.gz", "Data/fastq/B_S2_R2_001.fastq.gz",
			},
			map[string][][2]string{
				"A": {{"Data/fastq/A_S1_R1_001.fastq.gz", "Data/fastq/A_S1_R2_001.fastq.gz"}},
				"B": {{"Data/fastq/B_S2_R1_001.fastq.gz", "Data/fastq/B_S2_R2_001.fastq.gz"}},
			},
			map[string][]int{"A": {0}, "B": {0}}, nil},
		{"sheet without lanes takes every lane", sheetV2NoLane,
			[]string{
				"Data/fastq/A_S1_L004_R1_001.fastq.gz", "Data/fastq/A_S1_L004_R2_001.fastq.gz",
				"Data/fastq/A_S1_L003_R1_001.fastq.gz", "Data/fastq/A_S1_L003_R2_001.fastq.gz",
			},
			map[string][][2]string{
				"A": {{"Data/fastq/A_S1_L003_R1_001.fastq.gz", "Data/fastq/A_S1_L003_R2_001.fastq.gz"},
					{"Data/fastq/A_S1_L004_R1_001.fastq.gz", "Data/fastq/A_S1_L004_R2_001.fastq.gz"}},
			},
			map[string][]int{"A": {3, 4}}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			files := map[string]string{CopyComplete: "", SampleSheet: c.sheet}
			for _, f := range append(c.files, c.noises...) {
				files[f] = ""
			}
			dir := makeRun(t, root, novaseq, files)
			run := scanOne(t, root)
			if run.Err != nil || !run.Ready {
				t.Fatalf("ready %v, err %v", run.Ready, run.Err)
			}
			got := map[string][][2]string{}
			lanes := map[string][]int{}
			for _, s := range run.Samples {
				for _, p := range s.Pairs {
					for i := range p {
						if p[i] != "" {
							r, err := filepath.Rel(dir, p[i])
							if err != nil || !filepath.IsAbs(p[i]) {
								t.Fatalf("path %q is not absolute under %s", p[i], dir)
							}
							p[i] = filepath.ToSlash(r)
						}
					}
					got[s.Sample.ID] = append(got[s.Sample.ID], p)
				}
				lanes[s.Sample.ID] = s.Lanes
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("pairs\n%v\nwant\n%v", got, c.want)
			}
			if !reflect.DeepEqual(lanes, c.lanes) {
				t.Errorf("lanes %v, want %v", lanes, c.lanes)
			}
			if run.Sheet == nil || run.Samples[0].Sample != run.Sheet.Samples[0] {
				t.Errorf("first sample %+v is not the first sheet row", run.Samples[0].Sample)
			}
		})
	}
}

// TestRunErrors: a ready run whose files do not match its sheet reports
// the problem in Err, and the other runs of the scan are unaffected.
func TestRunErrors(t *testing.T) {
	fq := "Analysis/1/Data/fastq/"
	good := []string{
		fq + "A_S1_L001_R1_001.fastq.gz", fq + "A_S1_L001_R2_001.fastq.gz",
		fq + "A_S1_L002_R1_001.fastq.gz", fq + "A_S1_L002_R2_001.fastq.gz",
		fq + "B_S2_L001_R1_001.fastq.gz", fq + "B_S2_L001_R2_001.fastq.gz",
	}
	without := func(drop ...string) []string {
		var out []string
	next:
		for _, f := range good {
			for _, d := range drop {
				if strings.HasSuffix(f, d) {
					continue next
				}
			}
			out = append(out, f)
		}
		return out
	}
	cases := []struct {
		name    string
		sheet   string
		files   []string
		want    error
		msg     string // substring of the error
		samples int    // samples still resolved
	}{
		{"sample without FASTQ", sheetV2, without("B_S2_L001_R1_001.fastq.gz", "B_S2_L001_R2_001.fastq.gz"),
			ErrMissingFASTQ, "sample on sheet line 10", 1},
		{"lane missing", sheetV2, without("A_S1_L002_R1_001.fastq.gz", "A_S1_L002_R2_001.fastq.gz"),
			ErrFASTQ, "sample on sheet line 8: no FASTQ for lane 2", 1},
		{"R2 missing on a paired-end sheet", sheetV2, without("B_S2_L001_R2_001.fastq.gz"),
			ErrFASTQ, "R1 without R2 in lane 1", 1},
		{"R1 missing", sheetV2, without("B_S2_L001_R1_001.fastq.gz"),
			ErrFASTQ, "R2 without R1 in lane 1", 1},
		{"a file found twice", sheetV2, append(good, "Analysis/2/Data/fastq/B_S2_L001_R1_001.fastq.gz"),
			ErrFASTQ, "R1 of lane 1 found twice, in " + strings.TrimSuffix(fq, "/") + " and Analysis/2/Data/fastq", 1},
		{"lane not on the sheet", sheetV2, append(good, fq+"B_S2_L003_R1_001.fastq.gz", fq+"B_S2_L003_R2_001.fastq.gz"),
			ErrFASTQ, "FASTQ for lane 3, which the sheet does not list", 1},
		{"merged and per-lane files", sheetV2, append(good, "Data/fastq/A_S1_R1_001.fastq.gz", "Data/fastq/A_S1_R2_001.fastq.gz"),
			ErrFASTQ, "both per-lane and lane-merged files", 1},
		{"only ORA files", sheetV2, append(without("B_S2_L001_R1_001.fastq.gz", "B_S2_L001_R2_001.fastq.gz"), fq+"B_S2_L001_R1_001.fastq.ora", fq+"B_S2_L001_R2_001.fastq.ora"),
			ErrMissingFASTQ, "ORA-compressed", 1},
		{"file name fits two samples", "[Header]\nIEMFileVersion,5\n[Reads]\n75\n[Data]\nSample_ID,Sample_Name,index\nX,Y,ACGT\nY,Y,GGGG\n",
			[]string{"Data/Intensities/BaseCalls/X/Y_S1_R1_001.fastq.gz", "Data/Intensities/BaseCalls/Y_S2_R1_001.fastq.gz"},
			ErrFASTQ, "could belong to the samples on sheet lines 8 and 7", 1},
		{"FASTQ only in a skipped folder", sheetV2NoLane, []string{"Thumbnail_Images/A_S1_L001_R1_001.fastq.gz", "Thumbnail_Images/A_S1_L001_R2_001.fastq.gz"},
			ErrMissingFASTQ, "sample on sheet line 8", 0},
		{"FASTQ too deep", sheetV2NoLane, []string{"a/b/c/d/e/f/g/h/i/A_S1_L001_R1_001.fastq.gz", "a/b/c/d/e/f/g/h/i/A_S1_L001_R2_001.fastq.gz"},
			ErrMissingFASTQ, "sample on sheet line 8", 0},
		{"no sample sheet", "", good, ErrNoSampleSheet, novaseq, 0},
		{"invalid sample sheet", "[Data]\nSample_ID,index\nA B,ACGT\n", good, samplesheet.ErrBadSampleID,
			filepath.Join(novaseq, SampleSheet) + ": line 3, [Data], column Sample_ID", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			files := map[string]string{CopyComplete: ""}
			if c.sheet != "" {
				files[SampleSheet] = c.sheet
			}
			for _, f := range c.files {
				files[f] = ""
			}
			makeRun(t, root, novaseq, files)
			makeRun(t, root, miseq, map[string]string{RTAComplete: "", SampleSheet: sheetV1Single,
				"Data/Intensities/BaseCalls/1844_S1_L001_R1_001.fastq.gz": "", "Data/Intensities/BaseCalls/1848_S2_L001_R1_001.fastq.gz": ""})
			runs, err := Scan(root)
			if err != nil {
				t.Fatal(err)
			}
			if len(runs) != 2 || runs[0].Name != novaseq || runs[1].Name != miseq {
				t.Fatalf("runs %+v", runs)
			}
			if runs[1].Err != nil || len(runs[1].Samples) != 2 {
				t.Errorf("the other run was affected: %v, %d samples", runs[1].Err, len(runs[1].Samples))
			}
			run := runs[0]
			if !run.Ready || !errors.Is(run.Err, c.want) || !strings.Contains(run.Err.Error(), c.msg) {
				t.Errorf("ready %v, err %v\nwant %v containing %q", run.Ready, run.Err, c.want, c.msg)
			}
			if len(run.Samples) != c.samples {
				t.Errorf("%d samples resolved, want %d", len(run.Samples), c.samples)
			}
		})
	}
}

func TestSymlinks(t *testing.T) {
	fq := "Analysis/1/Data/fastq/"
	files := func() map[string]string {
		return map[string]string{CopyComplete: "", SampleSheet: sheetV2NoLane, fq + "A_S1_L001_R2_001.fastq.gz": ""}
	}

	t.Run("FASTQ linked inside the root is accepted", func(t *testing.T) {
		root := t.TempDir()
		dir := makeRun(t, root, novaseq, files())
		write(t, root, "staging/A_R1.fastq.gz", "")
		link := filepath.Join(dir, fq, "A_S1_L001_R1_001.fastq.gz")
		symlink(t, "../../../../../staging/A_R1.fastq.gz", link)
		run := scanOne(t, root)
		if run.Err != nil || len(run.Samples) != 1 || run.Samples[0].Pairs[0][0] != link {
			t.Errorf("err %v, samples %+v", run.Err, run.Samples)
		}
	})
	t.Run("FASTQ linked outside the root", func(t *testing.T) {
		outside := t.TempDir()
		root := t.TempDir()
		dir := makeRun(t, root, novaseq, files())
		target := write(t, outside, "A_R1.fastq.gz", "")
		rel, _ := filepath.Rel(filepath.Join(dir, fq), target)
		symlink(t, rel, filepath.Join(dir, fq, "A_S1_L001_R1_001.fastq.gz"))
		run := scanOne(t, root)
		if !errors.Is(run.Err, ErrOutsideRoot) {
			t.Errorf("err %v, want ErrOutsideRoot", run.Err)
		}
	})
	t.Run("absolute link, even inside the root", func(t *testing.T) {
		root := t.TempDir()
		dir := makeRun(t, root, novaseq, files())
		target := write(t, root, "staging/A_R1.fastq.gz", "")
		symlink(t, target, filepath.Join(dir, fq, "A_S1_L001_R1_001.fastq.gz"))
		run := scanOne(t, root)
		if !errors.Is(run.Err, ErrOutsideRoot) {
			t.Errorf("err %v, want ErrOutsideRoot", run.Err)
		}
	})
	t.Run("dangling FASTQ link", func(t *testing.T) {
		root := t.TempDir()
		dir := makeRun(t, root, novaseq, files())
		symlink(t, "gone.fastq.gz", filepath.Join(dir, fq, "A_S1_L001_R1_001.fastq.gz"))
		run := scanOne(t, root)
		if !errors.Is(run.Err, ErrFASTQ) {
			t.Errorf("err %v, want ErrFASTQ", run.Err)
		}
	})
	t.Run("directory linked outside the root", func(t *testing.T) {
		outside := t.TempDir()
		write(t, outside, "A_S1_L001_R1_001.fastq.gz", "")
		root := t.TempDir()
		dir := makeRun(t, root, novaseq, files())
		symlink(t, outside, filepath.Join(dir, "Analysis/2"))
		run := scanOne(t, root)
		if !errors.Is(run.Err, ErrOutsideRoot) {
			t.Errorf("err %v, want ErrOutsideRoot", run.Err)
		}
	})
	t.Run("sample sheet linked outside the root", func(t *testing.T) {
		outside := t.TempDir()
		target := write(t, outside, "SampleSheet.csv", sheetV2NoLane)
		root := t.TempDir()
		m := files()
		delete(m, SampleSheet)
		dir := makeRun(t, root, novaseq, m)
		symlink(t, target, filepath.Join(dir, SampleSheet))
		run := scanOne(t, root)
		if !errors.Is(run.Err, ErrOutsideRoot) || run.Sheet != nil {
			t.Errorf("err %v, want ErrOutsideRoot", run.Err)
		}
	})
	t.Run("marker linked outside the root", func(t *testing.T) {
		outside := t.TempDir()
		target := write(t, outside, CopyComplete, "")
		root := t.TempDir()
		m := files()
		delete(m, CopyComplete)
		m[RunInfo] = runInfo("A00426")
		dir := makeRun(t, root, novaseq, m)
		symlink(t, target, filepath.Join(dir, CopyComplete))
		run := scanOne(t, root)
		if !errors.Is(run.Err, ErrOutsideRoot) || run.Ready {
			t.Errorf("ready %v, err %v, want ErrOutsideRoot", run.Ready, run.Err)
		}
	})
	t.Run("run folder linked outside the root", func(t *testing.T) {
		outside := t.TempDir()
		makeRun(t, outside, novaseq, files())
		root := t.TempDir()
		symlink(t, filepath.Join(outside, novaseq), filepath.Join(root, novaseq))
		run := scanOne(t, root)
		if !errors.Is(run.Err, ErrOutsideRoot) || run.Ready || run.Sheet != nil {
			t.Errorf("ready %v, err %v, want ErrOutsideRoot", run.Ready, run.Err)
		}
	})
	t.Run("run folder linked inside the root", func(t *testing.T) {
		root := t.TempDir()
		m := files()
		m[fq+"A_S1_L001_R1_001.fastq.gz"] = ""
		makeRun(t, root, ".incoming/"+novaseq, m)
		symlink(t, ".incoming/"+novaseq, filepath.Join(root, novaseq))
		run := scanOne(t, root)
		want := filepath.Join(root, novaseq, fq, "A_S1_L001_R1_001.fastq.gz")
		if run.Err != nil || len(run.Samples) != 1 || run.Samples[0].Pairs[0][0] != want {
			t.Errorf("err %v, samples %+v", run.Err, run.Samples)
		}
	})
}

func TestErrorCap(t *testing.T) {
	var b strings.Builder
	b.WriteString("[Data]\nLane,Sample_ID,index\n")
	for i := range maxErrors + 5 {
		b.WriteString("1,S" + string(rune('a'+i)) + "," + strings.Repeat("ACGT"[i%4:i%4+1], 4) + string("ACGT"[i/4%4]) + string("ACGT"[i/16%4]) + "\n")
	}
	root := t.TempDir()
	makeRun(t, root, novaseq, map[string]string{CopyComplete: "", SampleSheet: b.String()})
	run := scanOne(t, root)
	if run.Err == nil || !strings.Contains(run.Err.Error(), "(5 more problems not shown)") {
		t.Errorf("err %v", run.Err)
	}
}
