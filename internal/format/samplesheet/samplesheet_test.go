package samplesheet

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func parse(s string) (*Sheet, error) { return Parse(strings.NewReader(s)) }

func TestRealSheets(t *testing.T) {
	cases := []struct {
		file     string
		version  int
		samples  int
		first    Sample
		reads    []int
		index    []int
		other    []string
		settings [2]string // one key and its value
	}{
		{"v1_miseq_single_read.csv", 1, 16,
			Sample{ID: "1844", Index: "TAAGGCGA", Index2: "TAGATCGC", Line: 21},
			[]int{75}, nil, nil, [2]string{"PercentTilesToScan", "0.5"}},
		{"v1_iseq_lane_trailing_commas.csv", 1, 7,
			Sample{ID: "087IR10", Name: "087IR10", Project: "DRES_20220228_RNA", Lane: 1, Index: "CCGCGGTT", Index2: "CTAGCGCT", Line: 20},
			[]int{51, 51}, nil, nil, [2]string{}},
		{"v1_multi_lane_names.csv", 1, 9,
			Sample{ID: "Proj1_S1", Name: "TumorA", Project: "Oncology", Lane: 1, Index: "CAAGACAGAT", Index2: "ACTATAGCCT", Line: 23},
			[]int{151, 151}, nil, nil, [2]string{"Adapter", "AGATCGGAAGAGCACACGTCTGAACTCCAGTCA"}},
		{"v1_crlf_bom.csv", 1, 9,
			Sample{ID: "Proj1_S1", Name: "TumorA", Project: "Oncology", Lane: 1, Index: "CAAGACAGAT", Index2: "ACTATAGCCT", Line: 23},
			[]int{151, 151}, nil, nil, [2]string{"AdapterRead2", "AGATCGGAAGAGCGTCGTGTAGGGAAAGAGTGT"}},
		{"v2_cloud_data.csv", 2, 3,
			Sample{ID: "MyFirstSample", Project: "SampleProject", Lane: 1, Index: "AAAAAAAAAA", Index2: "CCCCCCCC", Line: 25},
			[]int{151, 151}, []int{10, 10}, []string{"Cloud_Settings", "Cloud_Data"}, [2]string{"OverrideCycles", "Y151;I10;I8N2;Y151"}},
		{"v2_excel_trailing_commas_cloud.csv", 2, 4,
			Sample{ID: "MySampleID", Lane: 1, Index: "AAAAAAAA", Index2: "CCCCCCCC", Line: 18},
			[]int{151, 151}, []int{8, 8}, []string{"Cloud_Settings", "Cloud_Data"}, [2]string{"SoftwareVersion", "4.2.7"}},
		{"v2_nextseq2000_data_section.csv", 2, 16,
			Sample{ID: "Empty_1", Project: "230724_MT_MH_CUTnTag", Index: "TCCTGAGC", Index2: "TCTACTCT", Line: 18},
			[]int{61, 61}, []int{8, 8}, nil, [2]string{"FastqCompressionFormat", "gzip"}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			sh, err := ParseFile(filepath.Join("testdata", c.file))
			if err != nil {
				t.Fatal(err)
			}
			if sh.Version != c.version || len(sh.Samples) != c.samples {
				t.Errorf("version %d, %d samples; want %d, %d", sh.Version, len(sh.Samples), c.version, c.samples)
			}
			if sh.Samples[0] != c.first {
				t.Errorf("first sample %+v\nwant %+v", sh.Samples[0], c.first)
			}
			if !reflect.DeepEqual(sh.Reads, c.reads) || !reflect.DeepEqual(sh.IndexReads, c.index) {
				t.Errorf("reads %v index %v, want %v %v", sh.Reads, sh.IndexReads, c.reads, c.index)
			}
			var other []string
			for _, s := range sh.Other {
				other = append(other, s.Name)
			}
			if !reflect.DeepEqual(other, c.other) {
				t.Errorf("other sections %q, want %q", other, c.other)
			}
			if k := c.settings[0]; k != "" && sh.Settings[k] != c.settings[1] {
				t.Errorf("setting %s = %q, want %q", k, sh.Settings[k], c.settings[1])
			}
		})
	}
}

func TestRealSheetDetails(t *testing.T) {
	sh, err := ParseFile("testdata/v2_excel_trailing_commas_cloud.csv")
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range sh.Samples {
		if s.ID != "MySampleID" || s.Lane != i+1 {
			t.Errorf("sample %d: %+v", i, s)
		}
	}
	if sh.Header["RunName"] != "MyRunName" || sh.Header["FileFormatVersion"] != "2" {
		t.Errorf("header %v", sh.Header)
	}
	cloud := sh.Other[1]
	want := []Row{{Line: 29, Fields: []string{"Sample_ID", "LibraryName", "LibraryPrepKitName"}}, {Line: 30, Fields: []string{"MySampleID", "MySampleID", "NebRNA"}}}
	if cloud.Name != "Cloud_Data" || cloud.Line != 28 || !reflect.DeepEqual(cloud.Rows, want) {
		t.Errorf("Cloud_Data kept as %+v", cloud)
	}
	if got := sh.Other[0].Rows[2].Fields[1]; got != "urn:ilmn:ica:pipeline:bf93b5cf-cb27-4dfa-846e-acd6eb081aca#BclConvert_v4_2_7" {
		t.Errorf("'#' inside a field lost: %q", got)
	}
}

// TestFixtureErrors checks each malformed fixture fails with its sentinel
// at the right place.
func TestFixtureErrors(t *testing.T) {
	cases := []struct {
		file    string
		want    error
		line    int
		section string
		column  string
	}{
		{"dup_sample_same_lane_novaseqx_demo.csv", ErrDuplicateSample, 23, "BCLConvert_Data", "Sample_ID"},
		{"dup_settings_section.csv", ErrSection, 26, "BCLConvert_Settings", ""},
		{"bad_sample_id_space.csv", ErrBadSampleID, 24, "Data", "Sample_ID"},
		{"bad_index_lowercase.csv", ErrBadIndex, 27, "Data", "index"},
		{"utf16_excel_unicode_text.csv", ErrEncoding, 1, "", ""},
		{"unknown_version_3.csv", ErrVersion, 2, "Header", ""},
		{"truncated_no_data_section.csv", ErrNoData, 0, "", ""},
		{"index_collision_same_lane.csv", ErrDuplicateIndex, 21, "Data", "index"},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			path := filepath.Join("testdata", c.file)
			_, err := ParseFile(path)
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("err %v (%T), want *ParseError", err, err)
			}
			if !errors.Is(err, c.want) {
				t.Errorf("err %v, want %v", err, c.want)
			}
			if pe.Line != c.line || pe.Section != c.section || pe.Column != c.column {
				t.Errorf("at line %d [%s] column %q, want line %d [%s] column %q (%v)", pe.Line, pe.Section, pe.Column, c.line, c.section, c.column, err)
			}
			if !strings.HasPrefix(err.Error(), path+": ") {
				t.Errorf("message %q does not start with the file name", err)
			}
		})
	}
}

const v1Head = "[Header]\nIEMFileVersion,5\n\n[Reads]\n151\n151\n\n[Settings]\n\n[Data]\n"                     // data header row is line 11
const v2Head = "[Header]\nFileFormatVersion,2\n[Reads]\nRead1Cycles,151\nRead2Cycles,151\n[BCLConvert_Data]\n" // line 7

// TestErrors checks the sentinel and position of each malformation.
func TestErrors(t *testing.T) {
	cases := []struct {
		name    string
		in      string
		want    error
		line    int
		section string
		column  string
	}{
		// Sample_ID
		{"space in Sample_ID", v1Head + "Sample_ID,index\nA 1,ACGT\n", ErrBadSampleID, 12, "Data", "Sample_ID"},
		{"slash in Sample_ID", v1Head + "Sample_ID,index\nok,ACGT\n../x,CCCC\n", ErrBadSampleID, 13, "Data", "Sample_ID"},
		{"dot in Sample_ID", v2Head + "Lane,Sample_ID,Index\n1,a.b,ACGT\n", ErrBadSampleID, 8, "BCLConvert_Data", "Sample_ID"},
		{"non-ASCII Sample_ID", v2Head + "Sample_ID\nSämple\n", ErrBadSampleID, 8, "BCLConvert_Data", "Sample_ID"},
		{"empty Sample_ID", v1Head + "Sample_ID,index\n,ACGT\n", ErrBadSampleID, 12, "Data", "Sample_ID"},
		{"reserved Sample_ID", v1Head + "Sample_ID,index\nundetermined,ACGT\n", ErrBadSampleID, 12, "Data", "Sample_ID"},
		{"Sample_ID too long", v1Head + "Sample_ID\n" + strings.Repeat("a", MaxIDLength+1) + "\n", ErrBadSampleID, 12, "Data", "Sample_ID"},
		{"column name as written", v1Head + "SAMPLE_ID\na+b\n", ErrBadSampleID, 12, "Data", "SAMPLE_ID"},
		// duplicates and conflicts
		{"same Sample_ID twice, no lanes", v1Head + "Sample_ID,index\nA,ACGT\nB,CCCC\nA,GGGG\n", ErrDuplicateSample, 14, "Data", "Sample_ID"},
		{"same Sample_ID twice in lane 2", v1Head + "Lane,Sample_ID,index\n1,A,ACGT\n2,A,ACGT\n2,A,GGGG\n", ErrDuplicateSample, 14, "Data", "Sample_ID"},
		{"row without lane overlaps lane 3", v1Head + "Lane,Sample_ID,index\n3,A,ACGT\n,A,ACGT\n", ErrDuplicateSample, 13, "Data", "Sample_ID"},
		{"Sample_ID in two projects", v1Head + "Lane,Sample_ID,Sample_Project,index\n1,A,P1,ACGT\n2,A,P2,ACGT\n", ErrSampleConflict, 13, "Data", "Sample_Project"},
		{"Sample_ID with two names", v1Head + "Lane,Sample_ID,Sample_Name,index\n1,A,x,ACGT\n2,A,y,ACGT\n", ErrSampleConflict, 13, "Data", "Sample_Name"},
		{"shared index pair in a lane", v2Head + "Lane,Sample_ID,Index,Index2\n1,A,ACGT,TTTT\n2,B,ACGT,TTTT\n1,C,ACGT,TTTT\n", ErrDuplicateIndex, 10, "BCLConvert_Data", "Index"},
		{"two samples without index", v1Head + "Sample_ID\nA\nB\n", ErrDuplicateIndex, 13, "Data", "Sample_ID"},
		// indexes and lanes
		{"index with U", v1Head + "Sample_ID,index,index2\nA,ACGU,ACGT\n", ErrBadIndex, 12, "Data", "index"},
		{"index2 with dash", v1Head + "Sample_ID,index,index2\nA,ACGT,AC-T\n", ErrBadIndex, 12, "Data", "index2"},
		{"index2 without index", v2Head + "Sample_ID,Index,Index2\nA,,ACGT\n", ErrBadIndex, 8, "BCLConvert_Data", "Index2"},
		{"lane zero", v1Head + "Lane,Sample_ID\n0,A\n", ErrBadLane, 12, "Data", "Lane"},
		{"lane too high", v1Head + "Lane,Sample_ID\n100,A\n", ErrBadLane, 12, "Data", "Lane"},
		{"lane list", v1Head + "Lane,Sample_ID\n1+2,A\n", ErrBadLane, 12, "Data", "Lane"},
		// data section shape
		{"no Sample_ID column", v1Head + "SampleID,index\nA,ACGT\n", ErrDataHeader, 11, "Data", ""},
		{"index column twice", v2Head + "Sample_ID,Index,index\nA,ACGT,ACGT\n", ErrDataHeader, 7, "BCLConvert_Data", "index"},
		{"row longer than header", v1Head + "Sample_ID,index\nA,ACGT,,x\n", ErrSyntax, 12, "Data", ""},
		{"header row only", v1Head + "Sample_ID,index\n,,\n", ErrNoSamples, 11, "Data", ""},
		{"empty data section", v1Head, ErrNoSamples, 10, "Data", ""},
		{"no data section", "[Header]\nIEMFileVersion,5\n[Reads]\n151\n", ErrNoData, 0, "", ""},
		{"only a [Cloud_Data] section", "[Header]\nFileFormatVersion,2\n[Cloud_Data]\nSample_ID\nA\n", ErrNoData, 0, "", ""},
		// sections
		{"two data sections", "[Header]\nFileFormatVersion,2\n[Data]\nSample_ID\nA\n[BCLConvert_Data]\nSample_ID\nA\n", ErrSection, 6, "BCLConvert_Data", ""},
		{"two settings sections", "[Settings]\nA,1\n[BCLConvert_Settings]\nB,2\n[Data]\nSample_ID\nA\n", ErrSection, 3, "BCLConvert_Settings", ""},
		{"[Data] twice", v1Head + "Sample_ID\nA\n[data]\nSample_ID\nB\n", ErrSection, 13, "data", ""},
		{"unclosed section header", "[Header\nIEMFileVersion,5\n", ErrSection, 1, "", ""},
		{"text after section header", "[Header],x\n", ErrSection, 1, "", ""},
		{"empty section name", "[Header]\n[ ]\n", ErrSection, 2, "Header", ""},
		{"text before first section", "FCID,Lane,SampleID,SampleRef,Index\nC0,1,A,hg19,ACGT\n", ErrSyntax, 1, "", ""},
		// versions
		{"FileFormatVersion 1", "[Header]\nFileFormatVersion,1\n[Data]\nSample_ID\nA\n", ErrVersion, 2, "Header", ""},
		{"IEMFileVersion 9", "[Header]\nDate,x\nIEMFileVersion,9\n[Data]\nSample_ID\nA\n", ErrVersion, 3, "Header", ""},
		{"both version keys", "[Header]\nFileFormatVersion,2\nIEMFileVersion,5\n[Data]\nSample_ID\nA\n", ErrVersion, 3, "Header", ""},
		{"[BCLConvert_Data] in a v1 sheet", "[Header]\nIEMFileVersion,5\n[BCLConvert_Data]\nSample_ID\nA\n", ErrVersion, 3, "BCLConvert_Data", ""},
		// key/value sections
		{"value without key", "[Header]\n,5\n", ErrSyntax, 2, "Header", ""},
		{"key repeated with new value", "[Header]\nRunName,a\nRunName,b\n", ErrSyntax, 3, "Header", ""},
		{"version repeated in another case", "[Header]\nFileFormatVersion,2\nfileformatversion,3\n", ErrSyntax, 3, "Header", ""},
		// reads
		{"v1 read length not a number", "[Header]\nIEMFileVersion,4\n[Reads]\n151\nx\n", ErrReads, 5, "Reads", ""},
		{"v1 read length zero", "[Reads]\n0\n", ErrReads, 2, "Reads", ""},
		{"v1 reads as key/value", "[Reads]\nRead1Cycles,151\n", ErrReads, 2, "Reads", ""},
		{"v2 cycles not a number", "[Header]\nFileFormatVersion,2\n[Reads]\nRead1Cycles,15l\n", ErrReads, 4, "Reads", ""},
		{"v2 read 2 without read 1", "[Header]\nFileFormatVersion,2\n[Reads]\nRead2Cycles,151\n", ErrReads, 3, "Reads", ""},
		// encoding and CSV
		{"UTF-16 big endian", "\xfe\xff\x00[", ErrEncoding, 1, "", ""},
		{"NUL byte", "[Header]\nRun\x00Name,a\n", ErrEncoding, 2, "", ""},
		{"line too long", "[Header]\nRunName," + strings.Repeat("x", MaxLine) + "\n", ErrTooLarge, 2, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := parse(c.in)
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("err %v (%T), want *ParseError", err, err)
			}
			if !errors.Is(err, c.want) {
				t.Errorf("err %v, want %v", err, c.want)
			}
			if pe.Line != c.line || pe.Section != c.section || pe.Column != c.column {
				t.Errorf("at line %d [%s] column %q, want line %d [%s] column %q (%v)", pe.Line, pe.Section, pe.Column, c.line, c.section, c.column, err)
			}
		})
	}
}

func TestVariants(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want []Sample
	}{
		{"CRLF and BOM", "\ufeff[Header]\r\nIEMFileVersion,4\r\n[Data]\r\nSample_ID,index\r\nA,ACGT\r\n",
			[]Sample{{ID: "A", Index: "ACGT", Line: 5}}},
		{"no final newline, no header section", "[Data]\nSample_ID,index\nA,ACGT",
			[]Sample{{ID: "A", Index: "ACGT", Line: 3}}},
		{"comments and blank rows", "# made by hand\n[Data]\n,,,\nSample_ID,index\n# a comment\n\nA,ACGT\n,,\n",
			[]Sample{{ID: "A", Index: "ACGT", Line: 7}}},
		{"quoted fields and spaces", "[Data]\n Sample_ID , Sample_Project ,index\n\"A\",\"Big, project\", ACGT \n",
			[]Sample{{ID: "A", Project: "Big, project", Index: "ACGT", Line: 3}}},
		{"stray quote in a description", "[Data]\nSample_ID,Description\nA,12\" plate\n",
			[]Sample{{ID: "A", Line: 3}}},
		{"section and column names in any case", "[HEADER]\nFileFormatVersion,2\n[bclconvert_data]\nLANE,SAMPLE_ID,INDEX,INDEX2\n2,A,ACGT,TTTT\n",
			[]Sample{{ID: "A", Lane: 2, Index: "ACGT", Index2: "TTTT", Line: 5}}},
		{"same sample in two lanes, same index", "[Data]\nLane,Sample_ID,index\n1,A,ACGT\n2,A,ACGT\n",
			[]Sample{{ID: "A", Lane: 1, Index: "ACGT", Line: 3}, {ID: "A", Lane: 2, Index: "ACGT", Line: 4}}},
		{"same index in two lanes", "[Data]\nLane,Sample_ID,index\n1,A,ACGT\n2,B,ACGT\n",
			[]Sample{{ID: "A", Lane: 1, Index: "ACGT", Line: 3}, {ID: "B", Lane: 2, Index: "ACGT", Line: 4}}},
		{"one sample without index", "[Data]\nSample_ID,Lane\nA,\n",
			[]Sample{{ID: "A", Line: 3}}},
		{"N in index, dash and underscore in ID", "[Data]\nSample_ID,index\nA-1_b,ACGTN\n",
			[]Sample{{ID: "A-1_b", Index: "ACGTN", Line: 3}}},
		{"extra empty fields after the last column", "[Data]\nSample_ID,index\nA,ACGT,,,,\n",
			[]Sample{{ID: "A", Index: "ACGT", Line: 3}}},
		{"unknown sections before and after data", "[Header]\nFileFormatVersion,2\n[Sequencing_Settings]\nLibraryPrepKits,x\n[BCLConvert_Data]\nSample_ID\nA\n[DragenGermline_Data]\nSample_ID,ReferenceGenomeDir\nA,hg38\n",
			[]Sample{{ID: "A", Line: 7}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sh, err := parse(c.in)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(sh.Samples, c.want) {
				t.Errorf("samples %+v\nwant    %+v", sh.Samples, c.want)
			}
		})
	}
}

func TestHeaderAndOther(t *testing.T) {
	sh, err := parse("[Header]\nFileFormatVersion,2\nRunName,r1\nRunName,r1\nRunDescription\n[Reads]\nRead1Cycles,151\nIndex1Cycles,0\n[BCLConvert_Settings]\nOverrideCycles,Y151;N8\n[BCLConvert_Data]\nSample_ID\nA\n[DragenGermline_Data]\nSample_ID,ReferenceGenomeDir\nA,hg38\n")
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"FileFormatVersion": "2", "RunName": "r1", "RunDescription": ""}; !reflect.DeepEqual(sh.Header, want) {
		t.Errorf("header %v", sh.Header)
	}
	if !reflect.DeepEqual(sh.Reads, []int{151}) || !reflect.DeepEqual(sh.IndexReads, []int{0}) {
		t.Errorf("reads %v, index reads %v", sh.Reads, sh.IndexReads)
	}
	if sh.Settings["OverrideCycles"] != "Y151;N8" {
		t.Errorf("settings %v", sh.Settings)
	}
	want := []Section{{Name: "DragenGermline_Data", Line: 14, Rows: []Row{{15, []string{"Sample_ID", "ReferenceGenomeDir"}}, {16, []string{"A", "hg38"}}}}}
	if !reflect.DeepEqual(sh.Other, want) {
		t.Errorf("other %+v", sh.Other)
	}
}

func TestLimits(t *testing.T) {
	// Distinct indexes, so that only the sample count is at fault.
	var b strings.Builder
	b.WriteString("[Data]\nLane,Sample_ID,index\n")
	for i := range MaxSamples + 1 {
		b.WriteString("1,s" + strconv.Itoa(i) + "," + indexOf(i) + "\n")
	}
	_, err := parse(b.String())
	var pe *ParseError
	if !errors.Is(err, ErrTooLarge) || !errors.As(err, &pe) || pe.Line != MaxSamples+3 {
		t.Errorf("too many samples: %v", err)
	}

	big := "[Header]\n" + strings.Repeat("K,"+strings.Repeat("v", 1000)+"\n", MaxSize/1000+1)
	_, err = parse(big)
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("huge sheet: %v", err)
	}
}

// indexOf spells i in base 4 as a 10-base index.
func indexOf(i int) string {
	b := make([]byte, 10)
	for k := range b {
		b[k] = "ACGT"[i%4]
		i /= 4
	}
	return string(b)
}

func TestErrorMessage(t *testing.T) {
	_, err := parse(v1Head + "Sample_ID,index\nPatient Smith,ACGT\n")
	got := err.Error()
	want := "line 12, [Data], column Sample_ID: invalid Sample_ID: a space at position 8; use only letters, digits, '_' and '-'"
	if got != want {
		t.Errorf("message\n%q\nwant\n%q", got, want)
	}
	if strings.Contains(got, "Smith") {
		t.Error("message copies the Sample_ID")
	}
	_, err = parse(v1Head + "Sample_ID,index\nJane_Doe,ACGT\nJane_Doe,ACGA\n")
	if err == nil || strings.Contains(err.Error(), "Jane") || !strings.Contains(err.Error(), "line 12") {
		t.Errorf("duplicate message %v", err)
	}
}

func TestParseFile(t *testing.T) {
	_, err := ParseFile(filepath.Join(t.TempDir(), "missing.csv"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	path := filepath.Join(t.TempDir(), "SampleSheet.csv")
	os.WriteFile(path, []byte("[Data]\nSample_ID\nA B\n"), 0o644)
	_, err = ParseFile(path)
	var pe *ParseError
	if !errors.As(err, &pe) || pe.File != path || !strings.HasPrefix(err.Error(), path+": line 3, [Data], column Sample_ID: ") {
		t.Errorf("err %v", err)
	}
}

type failReader struct{ n int }

func (f *failReader) Read(p []byte) (int, error) {
	if f.n == 0 {
		return 0, errors.New("disk on fire")
	}
	f.n = 0
	return copy(p, "[Data]\nSample_ID\n"), nil
}

func TestReadError(t *testing.T) {
	_, err := Parse(&failReader{n: 1})
	var pe *ParseError
	if err == nil || errors.As(err, &pe) || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("err %v, want the read error, not a ParseError", err)
	}
}

// FuzzParse: no input makes Parse panic; a sheet it accepts keeps the
// promises of the package doc, and every error it returns is a *ParseError
// wrapping one of the sentinels.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob("testdata/*.csv")
	if err != nil || len(files) == 0 {
		f.Fatal("no fixtures", err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	f.Add([]byte(v2Head + "Lane,Sample_ID,Index,Index2\n1,A,ACGT,TTTT\n"))
	f.Add([]byte("[Data]\nSample_ID\n\"A\nB\",x\n"))
	sentinels := []error{ErrSyntax, ErrTooLarge, ErrEncoding, ErrSection, ErrVersion, ErrReads, ErrNoData, ErrDataHeader,
		ErrNoSamples, ErrBadSampleID, ErrDuplicateSample, ErrSampleConflict, ErrBadIndex, ErrDuplicateIndex, ErrBadLane}
	f.Fuzz(func(t *testing.T, data []byte) {
		sh, err := Parse(bytes.NewReader(data))
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Line < 0 {
				t.Fatalf("err %v (%T), want *ParseError", err, err)
			}
			for _, s := range sentinels {
				if errors.Is(err, s) {
					return
				}
			}
			t.Fatalf("err %v wraps no sentinel", err)
		}
		if sh.Version != 1 && sh.Version != 2 {
			t.Fatalf("version %d", sh.Version)
		}
		if len(sh.Samples) == 0 || len(sh.Samples) > MaxSamples {
			t.Fatalf("%d samples", len(sh.Samples))
		}
		seen := map[[2]any]bool{}
		for _, s := range sh.Samples {
			if checkID(s.ID) != nil || checkIndex(s.Index) != nil || checkIndex(s.Index2) != nil || s.Lane < 0 || s.Lane > MaxLane {
				t.Fatalf("accepted bad sample %+v", s)
			}
			if seen[[2]any{s.ID, s.Lane}] || seen[[2]any{s.ID, 0}] || (s.Lane == 0 && seen[[2]any{s.ID, -1}]) {
				t.Fatalf("accepted duplicate %+v", s)
			}
			seen[[2]any{s.ID, s.Lane}] = true
			seen[[2]any{s.ID, -1}] = true
		}
	})
}
