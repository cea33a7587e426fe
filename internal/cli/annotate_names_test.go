package cli_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/clinomics/clinomics/internal/annotate/known"
	"github.com/clinomics/clinomics/internal/format/vcf"
)

// TestAnnotateExtraNames: an --extra whose INFO keys are not valid, are
// ours (CSQ, ClinVar's, the population frequencies'), are reserved by
// the VCF specification, or are added twice is a usage error naming the
// flag, its value and why, before anything is read or written; so are a
// BED given a :KEY and a VCF given none.
func TestAnnotateExtraNames(t *testing.T) {
	dir := t.TempDir()
	td := "testdata/annotate/"
	bed, pop := td+"panel.bed", td+"population.vcf"
	for _, c := range []struct {
		name  string
		extra []string
		want  string // after `--extra "VALUE": `, VALUE the last of extra
	}{
		{"gnomAD's field", []string{"POP_AF=" + bed}, "INFO key POP_AF: the POP_* keys are --gnomad's"},
		{"gnomAD's field from a VCF", []string{"POP=" + pop + ":AF"}, "INFO key POP_AF (NAME_KEY): the POP_* keys are --gnomad's"},
		{"ClinVar's field", []string{"CLINVAR_CLNSIG=" + bed}, "INFO key CLINVAR_CLNSIG: the CLINVAR_* keys are --clinvar's"},
		{"CSQ", []string{"CSQ=" + bed}, "INFO key CSQ is the consequences this command writes"},
		{"reserved", []string{"END=" + bed}, "INFO key END is reserved by the VCF specification"},
		{"same twice", []string{"R=" + bed, "R=" + bed}, `INFO key R is added by --extra "R=` + bed + `" too`},
		{"two sources, one key", []string{"A=" + pop + ":AF", "A_AF=" + bed}, `INFO key A_AF is added by --extra "A=` + pop + `:AF" too`},
		{"key twice", []string{"MY=" + pop + ":AF,AF"}, "adds INFO key MY_AF (NAME_KEY) twice"},
		{"space", []string{"my name=" + bed}, `INFO key "my name" is not valid (VCF 4.3`},
		{"digit first", []string{"1kg=" + bed}, `INFO key "1kg" is not valid`},
		{"bad key", []string{"MY=" + pop + ":A-F"}, `INFO key "MY_A-F (NAME_KEY)" is not valid`},
		{"BED with a key", []string{"MY=" + bed + ":SCORE"}, "a BED source takes no :KEY"},
		{"VCF without keys", []string{"MY=" + pop}, "a VCF source needs the INFO keys to take"},
		{"empty key", []string{"MY=" + pop + ":AF,"}, "an empty KEY in AF,"},
		{"no file", []string{"MY="}, "want NAME=FILE.bed or NAME=FILE.vcf:KEY[,KEY]"},
	} {
		args := []string{"--vcf", td + "sample.vcf", "--gff", "g.gff", "--fasta", "r.fa", "--gnomad", pop}
		for _, x := range c.extra {
			args = append(args, "--extra", x)
		}
		o := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_"))
		_, errs, code := annotateCLI(t, append(args, "--out", o)...)
		want := `--extra "` + c.extra[len(c.extra)-1] + `": ` + c.want
		if code != 2 || !strings.Contains(errs, want) || !strings.Contains(errs, "usage: clinomics annotate") {
			t.Errorf("%s: exit %d, want 2 and %q:\n%s", c.name, code, want, errs)
		}
		noOutputs(t, o)
	}
	// Every field of ClinVar and of the population source is refused,
	// whether or not --clinvar and --gnomad are given: the report draft
	// reads them by name.
	for _, f := range slices.Concat((&known.ClinVar{}).Fields(), (&known.Population{}).Fields()) {
		_, errs, code := annotateCLI(t, "--vcf", "x.vcf", "--gff", "g.gff", "--fasta", "r.fa", "--extra", f+"="+bed, "--out", filepath.Join(dir, "o"))
		if code != 2 || !strings.Contains(errs, `--extra "`+f+"="+bed+`": INFO key `+f+": the ") {
			t.Errorf("--extra %s=: exit %d\n%s", f, code, errs)
		}
	}
}

// TestAnnotateExtraNamesAccepted: valid keys of every shape are
// accepted, a BED's and a VCF's under one NAME among them, and written
// as declared.
func TestAnnotateExtraNamesAccepted(t *testing.T) {
	if _, err := os.Stat(csqCase + ".gff"); err != nil {
		t.Skip("shared data not found: ", err)
	}
	dir := t.TempDir()
	td := "testdata/annotate/"
	o := filepath.Join(dir, "o")
	out, errs, code := annotateCLI(t, "--vcf", td+"sample.vcf", "--gff", csqCase+".gff", "--fasta", csqCase+".fa",
		"--extra", "MY="+td+"panel.bed", "--extra", "MY="+td+"population.vcf:AF,AN", "--extra", "_lab.v2="+td+"panel.bed", "--out", o)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	got, err := os.ReadFile(o + ".vcf")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"##INFO=<ID=MY,", "##INFO=<ID=MY_AF,", "##INFO=<ID=MY_AN,", "##INFO=<ID=_lab.v2,", "\tMY=TLR8;MY_AF=0.02;MY_AN=1000;_lab.v2=TLR8\t"} {
		if !bytes.Contains(got, []byte(want)) {
			t.Errorf("annotated VCF lacks %q:\n%s", want, got)
		}
	}
}

// TestAnnotateOwnOutputAgain: annotating an annotated VCF again, with
// the same sources, replaces the input's CSQ and source fields, values
// and ##INFO lines, with this run's: each key once, the output the same,
// and the report draft reads it.
func TestAnnotateOwnOutputAgain(t *testing.T) {
	if _, err := os.Stat(csqCase + ".gff"); err != nil {
		t.Skip("shared data not found: ", err)
	}
	dir := t.TempDir()
	td := "testdata/annotate/"
	args := []string{"--gff", csqCase + ".gff", "--fasta", csqCase + ".fa", "--clinvar", td + "clinvar.vcf", "--gnomad", td + "population.vcf",
		"--extra", "LAB=" + td + "panel.bed"}
	first := filepath.Join(dir, "first")
	if out, errs, code := annotateCLI(t, append(slices.Clone(args), "--vcf", td+"sample.vcf", "--out", first)...); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	again := filepath.Join(dir, "again")
	draft := filepath.Join(dir, "draft.json")
	out, errs, code := annotateCLI(t, append(slices.Clone(args), "--vcf", first+".vcf", "--out", again, "--report-draft", draft, "--patient", "pat-1")...)
	if code != 0 {
		t.Fatalf("re-annotating: exit %d\n%s%s", code, out, errs)
	}
	if !strings.Contains(errs, first+".vcf already has INFO CSQ, CLINVAR_") || !strings.Contains(errs, ": replaced by this run's\n") {
		t.Errorf("no notice of the keys replaced:\n%s", errs)
	}
	a, err := os.ReadFile(first + ".vcf")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(again + ".vcf")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Errorf("re-annotating changed the VCF:\n%s\nthen:\n%s", a, b)
	}
	for _, k := range []string{"CSQ", "POP_AF", "POP_AF_MAX", "POP_AC", "POP_AN", "POP_NHOMALT", "CLINVAR_ID", "CLINVAR_CLNSIG", "LAB"} {
		if n := bytes.Count(b, []byte("##INFO=<ID="+k+",")); n != 1 {
			t.Errorf("%d ##INFO lines for %s", n, k)
		}
	}
	r, err := vcf.NewReader(bytes.NewReader(b), "again.vcf")
	if err != nil {
		t.Fatal(err)
	}
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err) // a key twice, among others
		}
		if rec.Pos == 12456 {
			if v, _ := rec.InfoValue("POP_AF"); v != "0.02" || strings.Count(rec.Info, "POP_AF=") != 1 {
				t.Errorf("X:12456 INFO %s", rec.Info)
			}
		}
	}
	if rep := readDraft(t, draft); len(rep.Variants) == 0 {
		t.Errorf("draft of the re-annotated VCF has no variant: %+v", rep)
	}
}
