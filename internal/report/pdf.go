package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/go-pdf/fpdf"
)

// PDF writes r as an A4 PDF with the same content as HTML. A report that
// is not signed carries the DRAFT watermark (diagonal, and as a banner on
// every page). Text is set in the PDF core fonts (Windows-1252): a
// character outside that set is printed as "?".
func PDF(w io.Writer, r Report) error {
	v := newView(r)
	p := &pdfDoc{f: fpdf.New("P", "mm", "A4", "")}
	p.tr = p.f.UnicodeTranslatorFromDescriptor("")
	f := p.f
	f.SetCreationDate(r.Updated)
	f.SetModificationDate(r.Updated)
	f.SetCatalogSort(true)
	f.SetTitle("Genetic test report "+r.ID, true)
	f.SetMargins(15, 15, 15)
	f.SetAutoPageBreak(true, 18)
	f.SetHeaderFunc(func() {
		if v.Watermark == "" {
			return
		}
		f.SetFont("Helvetica", "B", 44)
		f.SetTextColor(230, 180, 180)
		f.TransformBegin()
		f.TransformRotate(35, 105, 160)
		wd := f.GetStringWidth(p.tr(v.Watermark))
		f.Text(105-wd/2, 160, p.tr(v.Watermark))
		f.TransformEnd()
		f.SetFont("Helvetica", "B", 10)
		f.SetFillColor(176, 0, 0)
		f.SetTextColor(255, 255, 255)
		f.CellFormat(0, 7, p.tr(v.Watermark), "", 1, "C", true, 0, "")
		f.SetTextColor(0, 0, 0)
		f.Ln(2)
	})
	f.SetFooterFunc(func() {
		f.SetY(-12)
		f.SetFont("Helvetica", "", 8)
		f.SetTextColor(90, 90, 90)
		f.CellFormat(0, 5, p.tr(fmt.Sprintf("Report %s, version %d, %s — page %d", r.ID, r.Version, r.Status, f.PageNo())), "", 0, "C", false, 0, "")
		f.SetTextColor(0, 0, 0)
	})
	f.AddPage()
	p.body(v)
	if err := f.Error(); err != nil {
		return fmt.Errorf("report %s: PDF: %w", r.ID, err)
	}
	return f.Output(w)
}

type pdfDoc struct {
	f  *fpdf.Fpdf
	tr func(string) string
}

func (p *pdfDoc) heading(s string) {
	p.f.Ln(3)
	p.f.SetFont("Helvetica", "B", 11.5)
	p.f.CellFormat(0, 6, p.tr(s), "B", 1, "L", false, 0, "")
	p.f.Ln(1)
	p.f.SetFont("Helvetica", "", 9.5)
}

// para writes wrapped text.
func (p *pdfDoc) para(s string) {
	p.f.MultiCell(0, 4.8, p.tr(s), "", "L", false)
}

// field writes "label: value" pairs, two per line.
func (p *pdfDoc) fields(kv ...string) {
	for i := 0; i+1 < len(kv); i += 2 {
		p.f.SetFont("Helvetica", "B", 9.5)
		p.f.CellFormat(38, 5, p.tr(kv[i]), "", 0, "L", false, 0, "")
		p.f.SetFont("Helvetica", "", 9.5)
		p.f.MultiCell(0, 5, p.tr(kv[i+1]), "", "L", false)
	}
}

// table writes a header row and rows with the column widths (mm).
func (p *pdfDoc) table(widths []float64, head []string, rows [][]string) {
	p.f.SetFont("Helvetica", "B", 9)
	p.f.SetFillColor(235, 235, 235)
	for i, h := range head {
		p.f.CellFormat(widths[i], 6, p.tr(h), "1", 0, "L", true, 0, "")
	}
	p.f.Ln(-1)
	p.f.SetFont("Helvetica", "", 9)
	for _, row := range rows {
		for i, c := range row {
			p.f.CellFormat(widths[i], 5.5, p.tr(c), "1", 0, "L", false, 0, "")
		}
		p.f.Ln(-1)
	}
}

func (p *pdfDoc) body(v view) {
	r, f := v.R, p.f
	f.SetFont("Helvetica", "B", 16)
	f.CellFormat(0, 9, p.tr("Genetic test report"), "", 1, "L", false, 0, "")
	f.SetFont("Helvetica", "", 9.5)
	p.para(fmt.Sprintf("Report %s · version %d · status %s", r.ID, r.Version, r.Status))
	notice := func(s string) {
		f.Ln(2)
		f.SetDrawColor(176, 0, 0)
		f.SetTextColor(176, 0, 0)
		f.SetLineWidth(0.8)
		f.SetFont("Helvetica", "B", 11)
		f.MultiCell(0, 6, p.tr(s), "1", "L", false)
		f.SetLineWidth(0.2)
		f.SetDrawColor(0, 0, 0)
		f.SetTextColor(0, 0, 0)
		f.SetFont("Helvetica", "", 9.5)
	}
	if a := v.Amendment; a != nil {
		notice("Amended report — replaces report " + a.Replaces + "\nReason for amendment: " + a.Reason)
	}
	if v.Superseded {
		notice("Superseded — an amended report replaces this one.")
	}

	p.heading("Patient")
	p.fields("Name", patientName(r.Patient), "MRN", mrn(r.Patient), "Date of birth", r.Patient.BirthDate, "Sex", r.Patient.Sex)

	p.heading("Specimen and order")
	order := r.Order.Placer
	if r.Order.Filler != "" {
		order += " / " + r.Order.Filler
	}
	ordered := r.Order.Display
	if r.Order.Code != "" {
		ordered += " (" + r.Order.Code + ")"
	}
	p.fields("Specimen", strings.TrimSpace(r.Specimen.Type+" "+r.Specimen.SampleID),
		"Collected / received", r.Specimen.Collected+" / "+r.Specimen.Received,
		"Order", order, "Ordered", r.Order.OrderedDate+" by "+r.Order.OrderedBy,
		"Test ordered", ordered, "Reason for testing", r.Order.Reason)

	p.heading("Test performed")
	p.para(strings.Join(nonEmpty(r.Test.Name, r.Test.Assay, r.Test.Panel, r.Test.Assembly), " · "))
	if len(r.Regions) > 0 {
		var rows [][]string
		for _, g := range r.Regions {
			rows = append(rows, []string{g.Gene, region(g), depth(g.MeanDepth), pct(g.Covered20x)})
		}
		p.table([]float64{35, 70, 35, 40}, []string{"Gene", "Region", "Mean depth", "Bases >= 20×"}, rows)
	}

	p.heading("Results")
	if len(v.Variants) == 0 {
		p.para("No reportable variants were found.")
	}
	for _, x := range v.Variants {
		f.SetFont("Helvetica", "B", 9.5)
		p.para(strings.Join(nonEmpty(x.Gene, x.Transcript, x.HGVSc, x.HGVSp, x.Zygosity, x.Classification), "   "))
		f.SetFont("Helvetica", "", 9)
		if x.HGVSg != "" {
			p.para("Genomic: " + x.HGVSg)
		}
		line := "Allele fraction: " + vaf(x.Variant) + " · population AF: " + popAF(x.PopulationAF)
		if x.Condition != "" {
			line += " · condition: " + x.Condition
		}
		p.para(line)
		var ev []string
		for _, e := range x.Confirmed {
			ev = append(ev, evidence(e))
		}
		if len(ev) == 0 {
			ev = []string{"none"}
		}
		p.para("Evidence applied: " + strings.Join(ev, "; "))
		p.para("ClinVar: " + clinvar(x.ClinVar))
		if x.Comment != "" {
			p.para("Comment: " + x.Comment)
		}
		f.Ln(2)
	}

	p.heading("Conclusion")
	p.para(r.Conclusion)

	if len(r.QC) > 0 {
		p.heading("Quality control")
		var rows [][]string
		for _, q := range r.QC {
			rows = append(rows, []string{q.Name, q.Value, pass(q.Pass)})
		}
		p.table([]float64{80, 60, 40}, []string{"Metric", "Value", "Result"}, rows)
	}
	if len(r.Limitations) > 0 {
		p.heading("Limitations")
		for _, l := range r.Limitations {
			p.para(l)
			f.Ln(1)
		}
	}

	p.heading("Methods")
	p.fields("Pipeline", strings.TrimSpace(r.Methods.Pipeline+" "+r.Methods.Version), "Reference", r.Methods.Reference,
		"Tools", tools(r.Methods.Tools), "Databases", tools(r.Methods.Databases))

	p.heading("Sign-out")
	rev, sig := "not reviewed", "not signed"
	if v.Reviewed != nil {
		rev = v.Reviewed.Name + ", " + v.Reviewed.At
	}
	if v.Signed != nil {
		sig = v.Signed.Name + ", " + v.Signed.At
	}
	p.fields("Reviewed by", rev, "Signed out by", sig)
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}
