package vcf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/clinomics/clinomics/internal/format"
)

const header = "##fileformat=VCFv4.2\n##contig=<ID=chr20,length=63025520>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n"

func readAll(data string) ([]*Record, *Reader, error) {
	r, err := NewReader(strings.NewReader(data), "in.vcf")
	if err != nil {
		return nil, nil, err
	}
	var out []*Record
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return out, r, nil
		}
		if err != nil {
			return out, r, err
		}
		out = append(out, rec)
	}
}

func TestRecords(t *testing.T) {
	recs, r, err := readAll(header +
		"chr20\t100\trs1\tA\tG,T\t50.5\tPASS\tDP=10;DB\tGT:AD\t1|2:0,5,5\n" +
		"chr20\t200\t.\tAC\tA\t.\tLowQual\t.\tGT\t./.\n" +
		"chr20\t300\t.\tN\t<*>\t.\t.\tEND=400\tGT\t1\r\n")
	if err != nil {
		t.Fatal(err)
	}
	if h := r.Header(); h.Version != "VCFv4.2" || len(h.Samples) != 1 || h.Samples[0] != "S1" || len(h.Contigs) != 1 || h.Contigs[0] != "chr20" {
		t.Errorf("header %+v", h)
	}
	if len(recs) != 3 {
		t.Fatalf("%d records", len(recs))
	}
	a := recs[0]
	if a.Chrom != "chr20" || a.Pos != 100 || a.ID != "rs1" || a.Ref != "A" || len(a.Alt) != 2 || a.Alt[1] != "T" || a.Qual != "50.5" || !a.IsPass() || a.Line != 4 {
		t.Errorf("record %+v", a)
	}
	if v, ok := a.InfoValue("DP"); !ok || v != "10" {
		t.Errorf("DP = %q %v", v, ok)
	}
	if v, ok := a.InfoValue("DB"); !ok || v != "" {
		t.Errorf("flag DB = %q %v", v, ok)
	}
	if _, ok := a.InfoValue("AF"); ok {
		t.Error("absent key found")
	}
	for i, want := range []struct {
		gt     string
		phased bool
	}{{"[1 2]", true}, {"[-1 -1]", false}, {"[1]", false}} {
		gt, phased, ok := recs[i].Genotype(0)
		if !ok || fmt.Sprint(gt) != want.gt || phased != want.phased {
			t.Errorf("record %d genotype %v phased %v ok %v, want %s phased %v", i, gt, phased, ok, want.gt, want.phased)
		}
	}
	if recs[1].IsPass() || !recs[2].IsPass() {
		t.Error("IsPass")
	}
	if _, _, ok := recs[0].Genotype(1); ok {
		t.Error("genotype of a sample that does not exist")
	}
}

func TestErrors(t *testing.T) {
	rec := func(s string) string { return header + s + "\n" }
	cases := []struct{ name, in, want string }{
		{"empty", "", "in.vcf: malformed VCF: the file is empty"},
		{"no fileformat", "#CHROM\tPOS\n", "line 1: malformed VCF: the first line must be ##fileformat"},
		{"no #CHROM", "##fileformat=VCFv4.2\n##x=y\n", "line 2: malformed VCF: no #CHROM header line"},
		{"bad column name", "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFOS\n", `line 2: malformed VCF: column 8 of the #CHROM line is "INFOS"`},
		{"duplicate sample", "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tA\tA\n", `sample name "A"`},
		{"meta without =", "##fileformat=VCFv4.2\n##junk\n", "line 2: malformed VCF: meta line must be ##key=value"},
		{"INFO without ID", "##fileformat=VCFv4.2\n##INFO=<Number=1>\n", "line 2: malformed VCF: ##INFO line has no ID"},
		{"too few columns", rec("chr20\t1\t.\tA\tG\t.\tPASS\t.\tGT"), "line 4: malformed VCF: 9 tab-separated columns, the header declares 10"},
		{"bad POS", rec("chr20\tx\t.\tA\tG\t.\tPASS\t.\tGT\t0/1"), `line 4: malformed VCF: POS: "x"`},
		{"bad REF", rec("chr20\t1\t.\tAXG\tG\t.\tPASS\t.\tGT\t0/1"), `line 4: malformed VCF: REF: "AXG"`},
		{"bad ALT", rec("chr20\t1\t.\tA\tG,J\t.\tPASS\t.\tGT\t0/1"), `ALT: allele "J"`},
		{"bad QUAL", rec("chr20\t1\t.\tA\tG\t-3\tPASS\t.\tGT\t0/1"), `QUAL: "-3"`},
		{"duplicate INFO key", rec("chr20\t1\t.\tA\tG\t.\tPASS\tDP=1;DP=2\tGT\t0/1"), "INFO: key DP appears twice"},
		{"GT not first", rec("chr20\t1\t.\tA\tG\t.\tPASS\t.\tDP:GT\t3:0/1"), "FORMAT: GT must be the first key"},
		{"bad genotype", rec("chr20\t1\t.\tA\tG\t.\tPASS\t.\tGT\t0/x"), `S1: genotype "0/x"`},
		{"too many sample values", rec("chr20\t1\t.\tA\tG\t.\tPASS\t.\tGT\t0/1:5"), "S1: 2 values for 1 FORMAT keys"},
		{"bad contig", rec("chr 20\t1\t.\tA\tG\t.\tPASS\t.\tGT\t0/1"), `CHROM: "chr 20"`},
		{"no final newline", header + "chr20\t1\t.\tA\tG\t.\tPASS\t.\tGT\t0/1", "line 4: malformed VCF: last line has no newline"},
		{"empty line", header + "\n", "line 4: malformed VCF: empty line"},
	}
	for _, c := range cases {
		_, _, err := readAll(c.in)
		if !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "in.vcf") {
			t.Errorf("%s: err %v, want %q", c.name, err, c.want)
		}
	}
}

// TestRealBGZF reads the GIAB truth set through format.OpenFile.
func TestRealBGZF(t *testing.T) {
	f, err := format.OpenFile("../../../testdata/demo/test_nist.b37_chr20_100kbp_at_10mb.vcf.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := NewReader(f, "truth.vcf.gz")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		_, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 221 {
		t.Errorf("%d records, want 221 (SOURCES.md)", n)
	}
}

func FuzzReader(f *testing.F) {
	for _, name := range []string{"testdata/passed_body_samples.vcf", "testdata/simple.vcf"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(header + "chr20\t1\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewReader(bytes.NewReader(data), "fuzz.vcf")
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.vcf") {
				t.Fatalf("error without the file name: %v", err)
			}
			return
		}
		for range len(data) + 1 {
			rec, err := r.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				if !strings.Contains(err.Error(), "fuzz.vcf") {
					t.Fatalf("error without the file name: %v", err)
				}
				return
			}
			if rec.Pos < 0 || rec.Ref == "" {
				t.Fatalf("invalid record accepted: %+v", rec)
			}
			for i := range rec.Samples {
				rec.Genotype(i)
			}
		}
		t.Fatal("reader did not stop")
	})
}
