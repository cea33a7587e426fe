package annotate

import (
	"bytes"
	"context"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/clinomics/clinomics/internal/format/vcf"
)

// clashSource knows every allele at X:12455: its fields are keys the
// input below already has, one of them a single letter.
type clashSource struct{}

func (clashSource) Name() string     { return "clash" }
func (clashSource) Fields() []string { return []string{"ZZ_SIG", "R"} }
func (clashSource) Lookup(chrom string, pos int64, ref, alt string) (map[string]string, error) {
	if pos != 12455 {
		return nil, nil
	}
	return map[string]string{"ZZ_SIG": "ours", "R": "r" + alt}, nil
}

// clashVCF has INFO keys of ours (CSQ, ZZ_SIG, R) declared and set, and
// keys that only contain them (XZZ_SIG, ZZ_SIGX, RR), which are not ours.
const clashVCF = `##fileformat=VCFv4.2
##INFO=<ID=CSQ,Number=.,Type=String,Description="another annotator's">
##INFO=<ID=ZZ_SIG,Number=1,Type=String,Description="theirs">
##INFO=<ID=R,Number=0,Type=Flag,Description="a flag">
##INFO=<ID=OTHER,Number=1,Type=Integer,Description="kept">
#CHROM	POS	ID	REF	ALT	QUAL	FILTER	INFO
X	12455	all	T	G	.	PASS	CSQ=G|old;ZZ_SIG=theirs;OTHER=1;R
X	12455	sig_only	T	G	.	PASS	ZZ_SIG=theirs
X	12455	csq_only	T	G	.	PASS	CSQ=G|old
X	12455	mismatch_csq_only	C	G	.	PASS	CSQ=C|old
X	12456	mismatch_sig_only	T	G	.	PASS	ZZ_SIG=theirs
X	12456	lookalikes	C	G	.	PASS	XZZ_SIG=1;ZZ_SIGX=2;RR=3
X	12456	none	C	G	.	PASS	.
`

// readBack parses an annotated VCF with the project's reader (which
// refuses a key twice in a record, and an empty key) and returns its
// header and each record's INFO by ID.
func readBack(t *testing.T, out []byte) (*vcf.Header, map[string]string) {
	t.Helper()
	r, err := vcf.NewReader(bytes.NewReader(out), "out.vcf")
	if err != nil {
		t.Fatal(err)
	}
	info := map[string]string{}
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the annotated VCF does not read back: %v\n%s", err, out)
		}
		info[rec.ID] = rec.Info
	}
	return r.Header(), info
}

// TestReannotateReplacesOwnKeys: the input's values and ##INFO lines of
// the keys we write (CSQ and every source field) are dropped for ours,
// so that each is written once; other keys, even ones containing ours,
// are kept. Re-annotating the output gives the same output.
func TestReannotateReplacesOwnKeys(t *testing.T) {
	a, _ := setup(t, Options{Threads: 2, Sources: []Source{clashSource{}}})
	var out bytes.Buffer
	if _, err := a.Run(context.Background(), strings.NewReader(clashVCF), "clash.vcf", &out, nil); err != nil {
		t.Fatal(err)
	}
	h, info := readBack(t, out.Bytes())
	for _, k := range []string{"CSQ", "ZZ_SIG", "R", "OTHER"} {
		if n := strings.Count(out.String(), "##INFO=<ID="+k+","); n != 1 {
			t.Errorf("%d ##INFO lines for %s", n, k)
		}
	}
	if h.Info["R"].Type != "String" || h.Info["ZZ_SIG"].Number != "A" {
		t.Errorf("the input's definitions kept: R %+v, ZZ_SIG %+v", h.Info["R"], h.Info["ZZ_SIG"])
	}
	csq := func(s string) string { // our CSQ, whatever its entries
		k, v, _ := strings.Cut(s, "=")
		if k != "CSQ" || !strings.HasPrefix(v, "G|missense_variant|TLR8|") {
			return s
		}
		return "CSQ=ours"
	}
	for id, want := range map[string]string{
		"all":               "OTHER=1;CSQ=ours;ZZ_SIG=ours;R=rG",
		"sig_only":          "CSQ=ours;ZZ_SIG=ours;R=rG",
		"csq_only":          "CSQ=ours;ZZ_SIG=ours;R=rG",
		"mismatch_csq_only": "ZZ_SIG=ours;R=rG", // no consequence: REF disagrees
		"mismatch_sig_only": ".",
		"lookalikes":        "XZZ_SIG=1;ZZ_SIGX=2;RR=3;CSQ=ours",
		"none":              "CSQ=ours",
	} {
		var got []string
		for kv := range strings.SplitSeq(info[id], ";") {
			got = append(got, csq(kv))
		}
		if g := strings.Join(got, ";"); g != want {
			t.Errorf("%s: INFO %s, want %s (%s)", id, g, want, info[id])
		}
	}
	if got := a.Replaces(h); !slices.Equal(got, []string{"CSQ", "ZZ_SIG", "R"}) {
		t.Errorf("Replaces(output header) = %v", got)
	}

	var again bytes.Buffer
	if _, err := a.Run(context.Background(), bytes.NewReader(out.Bytes()), "out.vcf", &again, nil); err != nil {
		t.Fatal(err)
	}
	if again.String() != out.String() {
		t.Errorf("re-annotating the output changed it: %s", firstDiff(again.String(), out.String()))
	}
}

func TestHasOwnKey(t *testing.T) {
	fields := []string{"R", "POP_AF"}
	for _, c := range []struct {
		info string
		want bool
	}{
		{"R", true},
		{"R=1", true},
		{"A=1;R", true},
		{"A=R;R=2", true},
		{"RR=1;XR=2;A=R;r=1", false},
		{"CSQ=A|B", true},
		{"A=1;CSQ", true},
		{"XCSQ=1;CSQX=2;A=CSQ", false},
		{"POP_AF_MAX=0.1", false},
		{"POP_AF_MAX=0.1;POP_AF=0.1", true},
		{"p=1;0=1;POP=2", false},
		{".", false},
		{"", false},
	} {
		if got := hasOwnKey(c.info, fields); got != c.want {
			t.Errorf("hasOwnKey(%q) = %v", c.info, got)
		}
	}
}

// TestAppendFixed: the input's INFO without our keys (CSQ, as a value
// or a flag, and the sources' fields), and whether anything is left.
func TestAppendFixed(t *testing.T) {
	rec := &vcf.Record{Chrom: "X", Pos: 5, ID: "id", Ref: "A", Alt: []string{"C"}, Qual: ".", Filter: "PASS"}
	for _, c := range []struct{ info, want string }{
		{"A=1;P=2;B=3;CSQ=x", "A=1;B=3"},
		{"P=2;CSQ=x", ""},
		{";CSQ=x", ""},
		{"P=2;Q", ""},
		{"CSQ;D=1", "D=1"},
		{"", ""},
		{".", ""},
		{"PP=1;Q=a=b", "PP=1"},
		{"A=1;;B=2", "A=1;;B=2"}, // none of ours: copied as it is
	} {
		rec.Info = c.info
		got, wrote := appendFixed(nil, rec, "", []string{"P", "Q"})
		if want := "X\t5\tid\tA\tC\t.\tPASS\t" + c.want; string(got) != want || wrote != (c.want != "") {
			t.Errorf("appendFixed(%q) = %q, %v", c.info, got, wrote)
		}
	}
}

func TestInfoID(t *testing.T) {
	for m, want := range map[string]string{
		`INFO=<ID=CSQ,Number=.,Type=String,Description="x">`: "CSQ",
		`INFO=<ID=R>`: "R",
		`INFO=<ID=CSQX,Number=1,Type=String,Description="x">`:  "CSQX",
		`FORMAT=<ID=CSQ,Number=1,Type=String,Description="x">`: "",
		`source=ID=CSQ`: "",
	} {
		if got := infoID(m); got != want {
			t.Errorf("infoID(%s) = %q, want %q", m, got, want)
		}
	}
}
