package report

import (
	"fmt"
	"strings"
	"time"
)

// DraftWatermark marks every rendering of a report that is not signed.
const DraftWatermark = "DRAFT — NOT FOR CLINICAL USE"

// view is what the renderings show of a report: computed once, so the
// HTML and the PDF say the same thing.
type view struct {
	R          Report
	Watermark  string // "" for a signed report
	Amendment  *amendment
	Superseded bool
	Variants   []variantView
	Reviewed   *signOff
	Signed     *signOff
}

type amendment struct {
	Replaces string
	Version  int
	Reason   string
}

type signOff struct {
	Name, By, At string
}

// variantView is a variant with only the evidence a person confirmed:
// an unconfirmed suggestion is not an applied criterion.
type variantView struct {
	Variant
	Confirmed []Evidence
}

func newView(r Report) view {
	v := view{R: r, Superseded: r.Status == Superseded}
	if r.Status != Signed && r.Status != Superseded {
		v.Watermark = DraftWatermark
	}
	if r.Amends != "" {
		v.Amendment = &amendment{Replaces: r.Amends, Version: r.Version}
		for _, s := range r.Review {
			if s.Action == string(ActAmend) {
				v.Amendment.Reason = s.Note
			}
		}
	}
	for _, x := range r.Variants {
		vv := variantView{Variant: x}
		for _, e := range x.Evidence {
			if e.Confirmed {
				vv.Confirmed = append(vv.Confirmed, e)
			}
		}
		v.Variants = append(v.Variants, vv)
	}
	if s, ok := lastReview(r.Review); ok {
		v.Reviewed = newSignOff(s)
	}
	if r.Status == Signed || r.Status == Superseded {
		for i := len(r.Review) - 1; i >= 0; i-- {
			if r.Review[i].Action == string(ActSign) {
				v.Signed = newSignOff(r.Review[i])
				break
			}
		}
	}
	return v
}

func newSignOff(s Signature) *signOff {
	name := s.Name
	if name == "" {
		name = s.By
	}
	return &signOff{Name: name, By: s.By, At: fmtTime(s.At)}
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// Helpers shared by both renderings.

func patientName(p Patient) string {
	switch {
	case p.Family != "" && p.Given != "":
		return p.Family + ", " + p.Given
	default:
		return p.Family + p.Given
	}
}

func mrn(p Patient) string {
	if p.Authority != "" && p.MRN != "" {
		return p.MRN + " (" + p.Authority + ")"
	}
	return p.MRN
}

func region(g Region) string { return fmt.Sprintf("%s:%d-%d", g.Chrom, g.Start+1, g.End) }

func pct(f float64) string { return fmt.Sprintf("%.1f%%", 100*f) }

func depth(f float64) string { return fmt.Sprintf("%.1f×", f) }

func vaf(v Variant) string {
	if v.AlleleFreq < 0 {
		return ""
	}
	s := fmt.Sprintf("%.2f", v.AlleleFreq)
	if v.Depth > 0 {
		s += fmt.Sprintf(" (%d/%d)", v.AltDepth, v.Depth)
	}
	return s
}

func popAF(f float64) string {
	if f < 0 {
		return "unknown"
	}
	return fmt.Sprintf("%.6g", f)
}

func tools(ts []Tool) string {
	var s []string
	for _, t := range ts {
		s = append(s, strings.TrimSpace(t.Name+" "+t.Version))
	}
	return strings.Join(s, ", ")
}

func pass(ok bool) string {
	if ok {
		return "pass"
	}
	return "FAIL"
}

func evidence(e Evidence) string {
	s := e.Criterion
	if e.Strength != "" {
		s += " (" + e.Strength + ")"
	}
	if e.Text != "" {
		s += ": " + e.Text
	}
	return s
}

func clinvar(c *ClinVar) string {
	if c == nil {
		return "no record"
	}
	s := strings.ReplaceAll(c.Significance, "_", " ")
	if c.ReviewStatus != "" {
		s += "; " + strings.ReplaceAll(c.ReviewStatus, "_", " ")
	}
	if c.ID != "" {
		s += "; variation " + c.ID
	}
	if len(c.Conditions) > 0 {
		s += "; " + strings.Join(c.Conditions, ", ")
	}
	return s
}
