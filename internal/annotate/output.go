package annotate

import (
	"bufio"
	"strings"

	"github.com/clinomics/clinomics/internal/annotate/csq"
	"github.com/clinomics/clinomics/internal/annotate/genemodel"
	"github.com/clinomics/clinomics/internal/format/vcf"
)

// CSQFields names the '|'-separated parts of one CSQ entry, in order.
var CSQFields = []string{
	"Allele", "Consequence", "SYMBOL", "Gene", "Feature", "BIOTYPE", "STRAND", "EXON", "INTRON",
	"HGVSc", "HGVSp", "HGVSg", "CDS_position", "Protein_position", "Amino_acids",
	"CANONICAL", "MANE", "DISTANCE", "BCSQ_AA",
}

// txOut holds the parts of an effect's output fixed by its transcript:
// SYMBOL to STRAND, and CANONICAL and MANE, each with the separators
// around it, for the VCF (escaped) and the TSV.
type txOut struct {
	vcfMid, vcfTail []byte
	tsvMid, tsvTail []byte
	escapeID        bool // the transcript ID has bytes to escape
}

func newTxOut(t *genemodel.Transcript) txOut {
	var sym, gene, id, bt, strand, canon, mane string
	if t != nil {
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
	var o txOut
	o.escapeID = len(appendEscaped(nil, id)) != len(id)
	for _, f := range []string{sym, gene, id, bt, strand} {
		o.vcfMid = append(appendEscaped(o.vcfMid, f), '|')
		o.tsvMid = append(append(o.tsvMid, orDot(f)...), '\t')
	}
	for _, f := range []string{canon, mane} {
		o.vcfTail = append(appendEscaped(o.vcfTail, f), '|')
		o.tsvTail = append(append(o.tsvTail, orDot(f)...), '\t')
	}
	return o
}

// appendTerms appends the terms of e joined by '&'.
func appendTerms(b []byte, e *csq.Effect) []byte {
	if len(e.Terms) == 1 { // most effects
		return append(b, e.Terms[0]...)
	}
	for i, t := range e.Terms {
		if i > 0 {
			b = append(b, '&')
		}
		b = append(b, t...)
	}
	return b
}

// appendEffectVCF appends the CSQFields of one effect for the CSQ INFO
// field: '|'-separated, escaped; alt and hgvsg come escaped already,
// with their separators (alt followed by '|', hgvsg between two).
func appendEffectVCF(b, alt, hgvsg []byte, e *csq.Effect, to *txOut) []byte {
	b = append(b, alt...)
	b = appendTerms(b, e)
	b = append(b, '|')
	b = append(b, to.vcfMid...)
	// EXON, INTRON, CDS_position, Protein_position, Amino_acids and
	// BCSQ_AA are numbers, amino-acid letters and "/->*" (package csq
	// writes them): nothing to escape. HGVSc is the transcript ID and
	// such characters, HGVSp may hold '=' (p.(=)).
	b = append(add(b, e.Exon), '|')
	b = append(add(b, e.Intron), '|')
	if to.escapeID {
		b = appendEscaped(b, e.HGVSc)
	} else {
		b = add(b, e.HGVSc)
	}
	b = append(b, '|')
	if e.HGVSp != "" && strings.IndexByte(e.HGVSp, '=') >= 0 {
		b = appendEscaped(b, e.HGVSp)
	} else {
		b = add(b, e.HGVSp)
	}
	b = append(b, hgvsg...)
	b = append(add(b, e.CDSPos), '|')
	b = append(add(b, e.ProteinPos), '|')
	b = append(add(b, e.AminoAcids), '|')
	b = append(b, to.vcfTail...)
	if e.Distance > 0 {
		b = csq.AppendInt(b, e.Distance)
	}
	b = append(b, '|')
	return add(b, e.AAChange)
}

// appendEffectTSV appends the CSQFields of one effect for the TSV:
// tab-separated, "." for an empty value.
func appendEffectTSV(b []byte, alt, hgvsg string, e *csq.Effect, to *txOut) []byte {
	b = append(addDot(b, alt), '\t')
	if len(e.Terms) == 0 {
		b = append(b, '.')
	}
	b = appendTerms(b, e)
	b = append(b, '\t')
	b = append(b, to.tsvMid...)
	b = append(addDot(b, e.Exon), '\t')
	b = append(addDot(b, e.Intron), '\t')
	b = append(addDot(b, e.HGVSc), '\t')
	b = append(addDot(b, e.HGVSp), '\t')
	b = append(addDot(b, hgvsg), '\t')
	b = append(addDot(b, e.CDSPos), '\t')
	b = append(addDot(b, e.ProteinPos), '\t')
	b = append(addDot(b, e.AminoAcids), '\t')
	b = append(b, to.tsvTail...)
	if e.Distance > 0 {
		b = csq.AppendInt(b, e.Distance)
	} else {
		b = append(b, '.')
	}
	b = append(b, '\t')
	return addDot(b, e.AAChange)
}

// add appends s (saving the call that appending nothing costs).
func add(b []byte, s string) []byte {
	if len(s) == 0 {
		return b
	}
	return append(b, s...)
}

// addDot appends s, or "." for an empty s.
func addDot(b []byte, s string) []byte {
	if len(s) == 0 {
		return append(b, '.')
	}
	return append(b, s...)
}

// escapeSet marks the bytes percent-encoded in INFO values.
var escapeSet = func() (t [256]bool) {
	for _, c := range []byte(";=,| \t%") {
		t[c] = true
	}
	return
}()

// needsEscape says whether s has a byte appendEscaped encodes.
func needsEscape(s string) bool {
	for i := 0; i < len(s); i++ {
		if escapeSet[s[i]] {
			return true
		}
	}
	return false
}

// appendEscaped appends s percent-encoded where escapeSet says.
func appendEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if escapeSet[s[i]] {
			return appendEscapedFrom(b, s, i)
		}
	}
	return append(b, s...)
}

func appendEscapedFrom(b []byte, s string, i int) []byte {
	b = append(b, s[:i]...)
	for ; i < len(s); i++ {
		c := s[i]
		if !escapeSet[c] {
			b = append(b, c)
			continue
		}
		b = append(b, '%', "0123456789ABCDEF"[c>>4], "0123456789ABCDEF"[c&15])
	}
	return b
}

// escapeInfo percent-encodes what may not appear in an INFO value or
// inside a CSQ entry.
func escapeInfo(s string) string { return string(appendEscaped(nil, s)) }

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
			w.WriteString(`##INFO=<ID=` + f + `,Number=A,Type=` + FieldType(s, f) + `,Description="From ` + s.Name() + `">` + "\n")
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

// splitLine returns the text of line, parsed into rec, before its INFO
// column (the first seven columns, each with its tab) and after it (the
// FORMAT and sample columns, each with the tab before it), to be copied
// whole where appendFixed and appendRest would write the same. head is
// "" when it differs (a POS with a sign or leading zeros), and whole is
// false then too, and when tail differs (FORMAT ".", which appendRest
// leaves out).
func splitLine(rec *vcf.Record, line string) (head, tail string, whole bool) {
	n := len(rec.Chrom) + 1 // CHROM and its tab
	pos := line[n:]
	i := strings.IndexByte(pos, '\t')
	if i <= 0 || (pos[0] < '1' || pos[0] > '9') && pos[:i] != "0" {
		return "", "", false
	}
	n += i + 1 + len(rec.ID) + 1 + len(rec.Ref) + 1 + len(rec.Qual) + 1 + len(rec.Filter) + 1
	if len(rec.Alt) == 0 {
		n += 2 // "."
	}
	for _, a := range rec.Alt {
		n += len(a) + 1 // the alleles, with the commas between them and the tab
	}
	end := n + len(rec.Info)
	if end > len(line) || line[n-1] != '\t' || line[n:end] != rec.Info {
		return "", "", false // cannot happen for a line ParseLine took
	}
	if len(rec.Format) == 0 {
		return line[:n], "", end == len(line)
	}
	return line[:n], line[end:], true
}

// appendFixed appends the first seven columns and the INFO of rec,
// without a CSQ it may already have; head, when not empty, is the
// text of the seven columns (see splitLine).
func appendFixed(b []byte, rec *vcf.Record, head string) []byte {
	if head != "" {
		b = append(b, head...)
	} else {
		b = appendColumns(b, rec)
	}
	if rec.Info == "." || rec.Info == "" {
		return b
	}
	if !strings.Contains(rec.Info, "CSQ=") {
		return append(b, rec.Info...)
	}
	first := true
	for kv := range strings.SplitSeq(rec.Info, ";") {
		if kv == "" || strings.HasPrefix(kv, "CSQ=") {
			continue
		}
		if !first {
			b = append(b, ';')
		}
		b = append(b, kv...)
		first = false
	}
	return b
}

// appendColumns appends the first seven columns of rec, each with its
// tab.
func appendColumns(b []byte, rec *vcf.Record) []byte {
	b = append(b, rec.Chrom...)
	b = append(b, '\t')
	b = csq.AppendInt(b, rec.Pos)
	b = append(b, '\t')
	b = append(b, rec.ID...)
	b = append(b, '\t')
	b = append(b, rec.Ref...)
	b = append(b, '\t')
	if len(rec.Alt) == 0 {
		b = append(b, '.')
	}
	for i, a := range rec.Alt {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, a...)
	}
	b = append(b, '\t')
	b = append(b, rec.Qual...)
	b = append(b, '\t')
	b = append(b, rec.Filter...)
	return append(b, '\t')
}

// appendRest ends a record: source fields, "." for an INFO left empty,
// FORMAT and samples; whole, tail is the text of these last (see
// splitLine).
func appendRest(b []byte, rec *vcf.Record, tail string, whole, empty bool, fields []string, extra [][]string) []byte {
	for fi, f := range fields {
		any := false
		for _, v := range extra[fi] {
			any = any || v != ""
		}
		if !any {
			continue
		}
		if !empty {
			b = append(b, ';')
		}
		empty = false
		b = append(b, f...)
		b = append(b, '=')
		for i, v := range extra[fi] {
			if i > 0 {
				b = append(b, ',')
			}
			if v == "" {
				b = append(b, '.')
			} else {
				b = appendEscaped(b, v)
			}
		}
	}
	if empty {
		b = append(b, '.')
	}
	if whole {
		b = append(b, tail...)
	} else if len(rec.Format) > 0 {
		b = append(b, '\t')
		for i, f := range rec.Format {
			if i > 0 {
				b = append(b, ':')
			}
			b = append(b, f...)
		}
		for _, s := range rec.Samples {
			b = append(b, '\t')
			b = append(b, s...)
		}
	}
	return append(b, '\n')
}
