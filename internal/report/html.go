package report

import (
	"embed"
	"html/template"
	"io"
)

//go:embed templates/report.html
var templates embed.FS

var funcs = template.FuncMap{
	"name": patientName, "mrn": mrn, "region": region, "pct": pct, "depth": depth, "vaf": vaf,
	"popaf": popAF, "tools": tools, "pass": pass, "evidence": evidence, "clinvar": clinvar,
}

var htmlTmpl = template.Must(template.New("report.html").Funcs(funcs).ParseFS(templates, "templates/report.html"))

// HTML writes r as a self-contained, print-friendly HTML page: inline
// CSS, no scripts, no external resources. Every value is escaped. A
// report that is not signed carries the DRAFT watermark.
func HTML(w io.Writer, r Report) error {
	return htmlTmpl.Execute(w, newView(r))
}
