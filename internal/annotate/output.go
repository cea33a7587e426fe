package annotate

import (
	"bufio"
	"bytes"
	"strconv"
	"strings"

	"github.com/clinomics/clinomics/internal/annotate/csq"
	"github.com/clinomics/clinomics/internal/format/vcf"
)

// CSQFields names the '|'-separated parts of one CSQ entry, in order.
var CSQFields = []string{
	"Allele", "Consequence", "SYMBOL", "Gene", "Feature", "BIOTYPE", "STRAND", "EXON", "INTRON",
	"HGVSc", "HGVSp", "HGVSg", "CDS_position", "Protein_position", "Amino_acids",
	"CANONICAL", "MANE", "DISTANCE", "BCSQ_AA",
}

// appendEffect writes the CSQFields of one effect separated by sep,
// escaping each value for an INFO field when escape is set.
func appendEffect(b *bytes.Buffer, alt string, res *csq.Result, e *csq.Effect, sep byte, escape bool) {
	put := func(s string, last bool) {
		switch {
		case s == "" && !escape:
			b.WriteByte('.')
		case escape:
			appendEscaped(b, s)
		default:
			b.WriteString(s)
		}
		if !last {
			b.WriteByte(sep)
		}
	}
	put(alt, false)
	var terms string
	switch len(e.Terms) {
	case 0:
	case 1:
		terms = e.Terms[0]
	default:
		terms = strings.Join(e.Terms, "&")
	}
	put(terms, false)
	var sym, gene, id, bt, strand, canon, mane string
	if t := e.Transcript; t != nil {
		sym, gene, id, bt, strand = t.Gene.Name, t.Gene.ID, t.ID, t.Biotype, "1"
		if t.Strand < 0 {
			strand = "-1"
		}
		if t.Canonical {
			canon = "YES"
		}
		if t.MANE {
			mane = "MANE_Select"
		}
	}
	put(sym, false)
	put(gene, false)
	put(id, false)
	put(bt, false)
	put(strand, false)
	put(e.Exon, false)
	put(e.Intron, false)
	put(e.HGVSc, false)
	put(e.HGVSp, false)
	put(res.HGVSg, false)
	put(e.CDSPos, false)
	put(e.ProteinPos, false)
	put(e.AminoAcids, false)
	put(canon, false)
	put(mane, false)
	dist := ""
	if e.Distance > 0 {
		dist = strconv.FormatInt(e.Distance, 10)
	}
	put(dist, false)
	put(e.AAChange, true)
}

// escapeSet marks the bytes percent-encoded in INFO values.
var escapeSet = func() (t [256]bool) {
	for _, c := range []byte(";=,| \t%") {
		t[c] = true
	}
	return
}()

func appendEscaped(b *bytes.Buffer, s string) {
	from := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !escapeSet[c] {
			continue
		}
		b.WriteString(s[from:i])
		b.WriteByte('%')
		b.WriteByte("0123456789ABCDEF"[c>>4])
		b.WriteByte("0123456789ABCDEF"[c&15])
		from = i + 1
	}
	b.WriteString(s[from:])
}

// escapeInfo percent-encodes what may not appear in an INFO value or
// inside a CSQ entry.
func escapeInfo(s string) string {
	var b bytes.Buffer
	appendEscaped(&b, s)
	return b.String()
}

func (a *Annotator) writeHeader(w *bufio.Writer, h *vcf.Header) {
	w.WriteString("##fileformat=" + h.Version + "\n")
	for _, m := range h.Meta {
		if strings.HasPrefix(m, "INFO=<ID=CSQ,") {
			continue // replaced by ours
		}
		w.WriteString("##" + m + "\n")
	}
	w.WriteString(`##INFO=<ID=CSQ,Number=.,Type=String,Description="Consequence annotations from clinomics annotate. Format: ` + strings.Join(CSQFields, "|") + `">` + "\n")
	for _, s := range a.sources {
		for _, f := range s.Fields() {
			w.WriteString(`##INFO=<ID=` + f + `,Number=A,Type=String,Description="From ` + s.Name() + `">` + "\n")
		}
	}
	w.WriteString("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO")
	if len(h.Samples) > 0 {
		w.WriteString("\tFORMAT\t" + strings.Join(h.Samples, "\t"))
	}
	w.WriteByte('\n')
}

func (a *Annotator) tsvColumns() []string {
	cols := []string{"CHROM", "POS", "REF", "ALT"}
	cols = append(cols, CSQFields[1:]...)
	return append(cols, a.fields...)
}

// writeFixed writes the first seven columns and the INFO of rec,
// without a CSQ it may already have.
func writeFixed(b *bytes.Buffer, rec *vcf.Record) {
	for _, f := range []string{rec.Chrom, strconv.FormatInt(rec.Pos, 10), rec.ID, rec.Ref} {
		b.WriteString(f)
		b.WriteByte('\t')
	}
	if len(rec.Alt) == 0 {
		b.WriteByte('.')
	}
	for i, a := range rec.Alt {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(a)
	}
	b.WriteByte('\t')
	b.WriteString(rec.Qual)
	b.WriteByte('\t')
	b.WriteString(rec.Filter)
	b.WriteByte('\t')
	if rec.Info == "." || rec.Info == "" {
		return
	}
	if !strings.Contains(rec.Info, "CSQ=") {
		b.WriteString(rec.Info)
		return
	}
	first := true
	for _, kv := range strings.Split(rec.Info, ";") {
		if kv == "" || strings.HasPrefix(kv, "CSQ=") {
			continue
		}
		if !first {
			b.WriteByte(';')
		}
		b.WriteString(kv)
		first = false
	}
}

// writeRest ends a record: source fields, "." for an INFO left empty,
// FORMAT and samples.
func writeRest(b *bytes.Buffer, rec *vcf.Record, empty bool, fields []string, extra [][]string) {
	for fi, f := range fields {
		any := false
		for _, v := range extra[fi] {
			any = any || v != ""
		}
		if !any {
			continue
		}
		if !empty {
			b.WriteByte(';')
		}
		empty = false
		b.WriteString(f)
		b.WriteByte('=')
		for i, v := range extra[fi] {
			if i > 0 {
				b.WriteByte(',')
			}
			if v == "" {
				b.WriteByte('.')
			} else {
				appendEscaped(b, v)
			}
		}
	}
	if empty {
		b.WriteByte('.')
	}
	if len(rec.Format) > 0 {
		b.WriteByte('\t')
		b.WriteString(strings.Join(rec.Format, ":"))
		for _, s := range rec.Samples {
			b.WriteByte('\t')
			b.WriteString(s)
		}
	}
	b.WriteByte('\n')
}
