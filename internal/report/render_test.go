package report_test

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clinomics/clinomics/internal/report"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// fixture is the draft of testdata/draft.json taken to status st, with
// fixed ids and times (no store: the renderings depend on the report only).
func fixture(t *testing.T, st report.Status) report.Report {
	r := loadDraft(t)
	at := func(m int) time.Time { return time.Date(2026, 3, 10, 9, m, 0, 0, time.UTC) }
	r.ID, r.Version, r.Status, r.Created, r.Updated = "rpt-0001", 1, st, at(0), at(30)
	r.Review = []report.Signature{{Action: "drafted", By: "service:annotator", At: at(0)}}
	if st != report.Draft {
		r.Review = append(r.Review, report.Signature{Action: "reviewed", By: "user:alice", Name: "Dr Alice Reviewer", At: at(10)})
	}
	if st == report.Signed {
		r.Review = append(r.Review, report.Signature{Action: "signed", By: "user:bob", Name: "Dr Bob Director", At: at(20)})
	}
	return r
}

func amended(t *testing.T) report.Report {
	r := fixture(t, report.Signed)
	r.ID, r.Amends, r.Version = "rpt-0002", "rpt-0001", 2
	r.Review = append([]report.Signature{{Action: "amended", By: "user:bob", Name: "Dr Bob Director", At: r.Created, Note: "Transcript corrected to the MANE Select"}}, r.Review[1:]...)
	return r
}

func TestHTMLGolden(t *testing.T) {
	for name, r := range map[string]report.Report{
		"draft":   fixture(t, report.Draft),
		"signed":  fixture(t, report.Signed),
		"amended": amended(t),
	} {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			if err := report.HTML(&b, r); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", name+".html.golden")
			if *update {
				if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to write it)", err)
			}
			if !bytes.Equal(b.Bytes(), want) {
				t.Errorf("%s differs from the rendering; if the change is intended, go test -update", golden)
			}
			checkRendering(t, "html", b.String(), r)
			if strings.Contains(b.String(), "<script") || !strings.Contains(b.String(), "&lt;script&gt;") {
				t.Error("the variant comment's <script> is not escaped")
			}
			for _, ext := range []string{"http:", "https:", "src=", "@import", "url("} {
				if strings.Contains(b.String(), ext) && !strings.Contains(b.String(), "http://loinc.org") {
					t.Errorf("the page refers to an external resource (%s)", ext)
				}
			}
		})
	}
}

// checkRendering checks what every rendering must say.
func checkRendering(t *testing.T, format, text string, r report.Report) {
	t.Helper()
	text = strings.Join(strings.Fields(text), " ")
	must := []string{"Doe, Jane", "MRN0042", "1980-04-01", "female", "Blood", "PL-2026-001", "Hereditary cancer panel",
		"BRCA2", "NM_000059.4", "c.7397T>C", "p.(Val2466Ala)", "heterozygous", "Likely pathogenic",
		"PM2 (supporting)", "PP3 (supporting)", "Conflicting interpretations of pathogenicity",
		"Mean coverage", "Large rearrangements", "bwa 0.7.17", "ClinVar 2026-03-01", "gnomAD 4.1", "GRCh38",
		"consistent with the clinical indication", "99.8%"}
	if format == "html" {
		for i, s := range must {
			must[i] = strings.ReplaceAll(s, ">", "&gt;")
		}
	}
	for _, s := range must {
		if !strings.Contains(text, s) {
			t.Errorf("%s: %q missing", format, s)
		}
	}
	if strings.Contains(text, "UNCONFIRMED-SUGGESTION") {
		t.Errorf("%s: an unconfirmed evidence suggestion is shown as applied", format)
	}
	draft := strings.Contains(text, "DRAFT — NOT FOR CLINICAL USE")
	if draft != (r.Status == report.Draft || r.Status == report.Reviewed) {
		t.Errorf("%s: watermark %v for a %s report", format, draft, r.Status)
	}
	if r.Status == report.Signed {
		for _, s := range []string{"Dr Alice Reviewer", "2026-03-10 09:10 UTC", "Dr Bob Director", "2026-03-10 09:20 UTC"} {
			if !strings.Contains(text, s) {
				t.Errorf("%s: sign-out block lacks %q", format, s)
			}
		}
	}
	amend := strings.Contains(text, "Amended report — replaces report rpt-0001")
	if amend != (r.Amends != "") {
		t.Errorf("%s: amendment notice %v for amends %q", format, amend, r.Amends)
	}
	if r.Amends != "" && !strings.Contains(text, "Transcript corrected to the MANE Select") {
		t.Errorf("%s: the amendment's reason is missing", format)
	}
}

// TestPDF checks that the PDF is one, and (with pdftotext from poppler-utils)
// that it says what the HTML says.
func TestPDF(t *testing.T) {
	pdftotext, err := exec.LookPath("pdftotext")
	if err != nil {
		if os.Getenv("CLINOMICS_TEST_TOOLS") != "" {
			t.Fatal("pdftotext (Debian poppler-utils) is not installed; scripts/install-deps test installs it")
		}
		t.Log("pdftotext not installed (poppler-utils): checking the PDF structure only")
	}
	for name, r := range map[string]report.Report{
		"draft":   fixture(t, report.Draft),
		"signed":  fixture(t, report.Signed),
		"amended": amended(t),
	} {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			if err := report.PDF(&b, r); err != nil {
				t.Fatal(err)
			}
			pdf := b.Bytes()
			if !bytes.HasPrefix(pdf, []byte("%PDF-1.")) || !bytes.Contains(pdf[max(0, len(pdf)-64):], []byte("%%EOF")) {
				t.Fatalf("not a PDF: %q ... %q", pdf[:min(16, len(pdf))], pdf[max(0, len(pdf)-16):])
			}
			if pdftotext == "" {
				return
			}
			path := filepath.Join(t.TempDir(), name+".pdf")
			os.WriteFile(path, pdf, 0o600)
			out, err := exec.Command(pdftotext, "-enc", "UTF-8", path, "-").Output()
			if err != nil {
				t.Fatalf("pdftotext: %v", err)
			}
			checkRendering(t, "pdf", string(out), r)
			if !strings.Contains(string(out), "<script>alert") {
				t.Error("the comment is not printed as text")
			}
		})
	}
}
