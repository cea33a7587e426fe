package evaluate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clinomics/clinomics/internal/format/bed"
)

const demo = "../../testdata/demo/"

func TestTruthAgainstItself(t *testing.T) {
	ivs, err := bed.ReadFile(demo + "test_nist.b37_chr20_100kbp_at_10mb.bed")
	if err != nil {
		t.Fatal(err)
	}
	truth := demo + "test_nist.b37_chr20_100kbp_at_10mb.vcf.gz"
	res, err := Compare(Options{Truth: truth, Calls: truth, Regions: ivs})
	if err != nil {
		t.Fatal(err)
	}
	// SOURCES.md: 49 truth variants inside the confident BED.
	if s, i := res.ByClass[SNV], res.ByClass[Indel]; s.TP != 45 || i.TP != 4 || s.FP+s.FN+i.FP+i.FN != 0 {
		t.Errorf("SNV %+v indel %+v, want 45 and 4 TP and nothing else", *s, *i)
	}
}

func writeVCF(t *testing.T, name string, records ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	body := "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS\n" + strings.Join(records, "\n") + "\n"
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNormalisation(t *testing.T) {
	//                        1234567890123
	ref := map[string][]byte{"c": []byte("TGACACACATTTG")}
	truth := writeVCF(t, "truth.vcf",
		"c\t2\t.\tGAC\tG\t.\tPASS\t.\tGT\t0/1",  // deletion of AC, left-aligned
		"c\t10\t.\tT\tC,G\t.\tPASS\t.\tGT\t1/2", // multiallelic SNVs
		"c\t12\t.\tT\tA\t.\tPASS\t.\tGT\t0/0",   // not carried: not a variant
	)
	calls := writeVCF(t, "calls.vcf",
		"c\t6\t.\tCAC\tC\t.\tPASS\t.\tGT\t0/1", // the same deletion, right-shifted
		"c\t10\t.\tT\tC\t.\tPASS\t.\tGT\t0/1",
		"c\t10\t.\tT\tG\t.\tPASS\t.\tGT\t0/1",
		"c\t13\t.\tG\tA\t.\tLowQual\t.\tGT\t0/1", // filtered: ignored
		"c\t11\t.\tT\tA\t.\tPASS\t.\tGT\t1/1",    // a false positive
	)
	res, err := Compare(Options{Truth: truth, Calls: calls, Reference: ref})
	if err != nil {
		t.Fatal(err)
	}
	if s, i := res.ByClass[SNV], res.ByClass[Indel]; s.TP != 2 || s.FP != 1 || s.FN != 0 || i.TP != 1 || i.FP != 0 || i.FN != 0 {
		t.Errorf("with the reference: SNV %+v indel %+v", *s, *i)
	}
	if len(res.FP) != 1 || res.FP[0].Pos != 11 {
		t.Errorf("FP %+v", res.FP)
	}
	// Without the reference the shifted deletion cannot be matched.
	res, err = Compare(Options{Truth: truth, Calls: calls})
	if err != nil {
		t.Fatal(err)
	}
	if i := res.ByClass[Indel]; i.TP != 0 || i.FP != 1 || i.FN != 1 {
		t.Errorf("trim only: indel %+v", *i)
	}
	// Regions restrict both sets.
	res, _ = Compare(Options{Truth: truth, Calls: calls, Reference: ref, Regions: []bed.Interval{{Chrom: "c", Start: 9, End: 10}}})
	if s, i := res.ByClass[SNV], res.ByClass[Indel]; s.TP != 2 || s.FP != 0 || i.TP+i.FP+i.FN != 0 {
		t.Errorf("in region c:10: SNV %+v indel %+v", *s, *i)
	}
}

func TestErrors(t *testing.T) {
	ref := map[string][]byte{"c": []byte("ACGT")}
	bad := writeVCF(t, "wrong_ref.vcf", "c\t2\t.\tA\tT\t.\tPASS\t.\tGT\t0/1")
	if _, err := Compare(Options{Truth: bad, Calls: bad, Reference: ref}); err == nil || !strings.Contains(err.Error(), "wrong_ref.vcf:3") || !strings.Contains(err.Error(), "does not match the reference") {
		t.Errorf("REF mismatch: %v", err)
	}
	if _, err := Compare(Options{Truth: filepath.Join(t.TempDir(), "missing.vcf"), Calls: bad}); err == nil || !strings.Contains(err.Error(), "missing.vcf") {
		t.Errorf("missing file: %v", err)
	}
}
