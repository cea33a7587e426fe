package qc

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

func TestSamtoolsStats(t *testing.T) {
	f, err := os.Open("testdata/na12878_demo.samtools-stats.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rep Report
	if err := ParseSamtoolsStats(f, "stats.txt", &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Reads != 51678 || rep.MappedReads != 51553 || rep.DuplicateReads != 221 {
		t.Errorf("counts %+v", rep)
	}
	if r := rep.MappingRate; r < 0.9975 || r > 0.9976 {
		t.Errorf("mapping rate %v, want 51553/51678", r)
	}
	for name, in := range map[string]string{
		"not stats":     "hello\n",
		"bad count":     "SN\traw total sequences:\tmany\nSN\treads mapped:\t1\nSN\treads duplicated:\t0\n",
		"negative":      "SN\traw total sequences:\t-5\n",
		"missing lines": "SN\traw total sequences:\t10\n",
	} {
		if err := ParseSamtoolsStats(strings.NewReader(in), "s.txt", &Report{}); err == nil || !strings.Contains(err.Error(), "s.txt") {
			t.Errorf("%s: err %v", name, err)
		}
	}
}

func TestDepth(t *testing.T) {
	in := "chr1\t1\t10\nchr1\t2\t30\nchr1\t3\t20\nchr1\t4\t0\n"
	var rep Report
	if err := ReadDepth(strings.NewReader(in), "d", true, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.MeanCoverage != 15 || rep.SpaceBases != 4 || rep.PctTarget20x == nil || *rep.PctTarget20x != 50 {
		t.Errorf("%+v", rep)
	}
	rep = Report{}
	if err := ReadDepth(strings.NewReader(in), "d", false, &rep); err != nil || rep.PctTarget20x != nil {
		t.Errorf("without targets: %+v %v", rep, err)
	}
	if err := ReadDepth(strings.NewReader("chr1\t1\n"), "depth.txt", false, &Report{}); err == nil || !strings.Contains(err.Error(), "depth.txt:1") {
		t.Errorf("two columns: %v", err)
	}
	if err := ReadDepth(strings.NewReader("chr1\t1\tx\n"), "depth.txt", false, &Report{}); err == nil || !strings.Contains(err.Error(), "depth.txt:1") {
		t.Errorf("not a number: %v", err)
	}
}

func TestVCF(t *testing.T) {
	vcf := "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tNA12878\n" +
		"c\t1\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\n" + // transition, het
		"c\t2\t.\tC\tT\t.\tPASS\t.\tGT\t1/1\n" + // transition, hom
		"c\t3\t.\tA\tC\t.\tPASS\t.\tGT\t0/1\n" + // transversion, het
		"c\t4\t.\tAT\tA\t.\tPASS\t.\tGT\t0/1\n" + // indel, het
		"c\t5\t.\tA\tT\t.\tLowQual\t.\tGT\t1/1\n" // filtered
	var rep Report
	if err := ReadVCF(strings.NewReader(vcf), "v", &rep); err != nil {
		t.Fatal(err)
	}
	if rep.SNVs != 3 || rep.Indels != 1 || rep.Transitions != 2 || rep.Transversions != 1 || *rep.TiTv != 2 || rep.Het != 3 || rep.HomAlt != 1 || *rep.HetHomRatio != 3 || rep.GenotypedSample != "NA12878" {
		t.Errorf("%+v", rep)
	}
	var b bytes.Buffer
	if err := rep.WriteTable(&b); err != nil || !strings.Contains(b.String(), "Ti/Tv") {
		t.Errorf("table: %q %v", b.String(), err)
	}
}
