package annotate

import (
	"bufio"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/clinomics/clinomics/internal/annotate/csq"
	"github.com/clinomics/clinomics/internal/annotate/genemodel"
	"github.com/clinomics/clinomics/internal/format/vcf"
)

// CSQFields names the '|'-separated parts of one CSQ entry, in order:
// what Run writes unless Options.Fields chooses others.
var CSQFields = []string{
	"Allele", "Consequence", "SYMBOL", "Gene", "Feature", "BIOTYPE", "STRAND", "EXON", "INTRON",
	"HGVSc", "HGVSp", "HGVSg", "CDS_position", "Protein_position", "Amino_acids",
	"CANONICAL", "MANE", "DISTANCE", "BCSQ_AA",
}

// BCSQFields are the CSQFields that say what bcftools csq's BCSQ says
// (consequence, gene, transcript, biotype, strand, amino-acid change,
// DNA change), and the allele: for output like bcftools', and for
// `clinomics bench annotate` to compare like with like.
var BCSQFields = []string{"Allele", "Consequence", "SYMBOL", "Feature", "BIOTYPE", "STRAND", "BCSQ_AA", "HGVSg"}

// The index of each field in CSQFields.
const (
	fAllele = iota
	fConsequence
	fSymbol
	fGene
	fFeature
	fBiotype
	fStrand
	fExon
	fIntron
	fHGVSc
	fHGVSp
	fHGVSg
	fCDSPosition
	fProteinPosition
	fAminoAcids
	fCanonical
	fMANE
	fDistance
	fBCSQAA
)

// ErrFields: Options.Fields names a field that is not in CSQFields, or
// one twice.
var ErrFields = errors.New("bad CSQ field list")

// ParseFields reads a comma-separated list of CSQFields (spaces around
// names are ignored), for Options.Fields.
func ParseFields(list string) ([]string, error) {
	var names []string
	for f := range strings.SplitSeq(list, ",") {
		names = append(names, strings.TrimSpace(f))
	}
	if _, err := fieldIndexes(names); err != nil {
		return nil, err
	}
	return names, nil
}

// fieldIndexes maps names to their indexes in CSQFields.
func fieldIndexes(names []string) ([]int, error) {
	if len(names) == 0 {
		return nil, fmt.Errorf("%w: no field (the fields are %s)", ErrFields, strings.Join(CSQFields, ","))
	}
	idx := make([]int, 0, len(names))
	seen := map[string]bool{}
	for _, n := range names {
		i := slices.Index(CSQFields, n)
		switch {
		case n == "":
			return nil, fmt.Errorf("%w: an empty name (the fields are %s)", ErrFields, strings.Join(CSQFields, ","))
		case i < 0:
			return nil, fmt.Errorf("%w: no field %q (the fields are %s)", ErrFields, n, strings.Join(CSQFields, ","))
		case seen[n]:
			return nil, fmt.Errorf("%w: %s is named twice", ErrFields, n)
		}
		seen[n] = true
		idx = append(idx, i)
	}
	if !seen["Consequence"] {
		return nil, fmt.Errorf("%w: Consequence is missing (an entry without it says nothing, and may be empty)", ErrFields)
	}
	return idx, nil
}

// txOut holds the parts of an effect's output fixed by its transcript:
// SYMBOL to STRAND, and CANONICAL and MANE, each with the separators
// around it, for the VCF (escaped) and the TSV.
type txOut struct {
	vcfMid, vcfTail []byte
	tsvMid, tsvTail []byte
	escapeID        bool // the transcript ID has bytes to escape
	// With a choice of fields (layout): each run of fields fixed by the
	// transcript, written whole, for the VCF and the TSV.
	vcfRuns, tsvRuns [][]byte
}

// newTxOut makes the fixed parts of t's output; lo, when not nil, is the
// choice of fields.
func newTxOut(t *genemodel.Transcript, lo *layout) txOut {
	var o txOut
	o.escapeID = needsEscape(fixedValue(t, fFeature))
	if lo != nil {
		o.vcfRuns = lo.vcf.runs(t, false)
		o.tsvRuns = lo.tsv.runs(t, true)
	}
	for _, f := range []int{fSymbol, fGene, fFeature, fBiotype, fStrand} {
		v := fixedValue(t, f)
		o.vcfMid = append(appendEscaped(o.vcfMid, v), '|')
		o.tsvMid = append(append(o.tsvMid, orDot(v)...), '\t')
	}
	for _, f := range []int{fCanonical, fMANE} {
		v := fixedValue(t, f)
		o.vcfTail = append(appendEscaped(o.vcfTail, v), '|')
		o.tsvTail = append(append(o.tsvTail, orDot(v)...), '\t')
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

// layout is how a choice of CSQ fields (Options.Fields) is written:
// the steps of the CSQ entry and of the TSV row (which leaves Allele out:
// its ALT column gives it).
type layout struct{ vcf, tsv steps }

// steps are the fields of one output in order, a run of fields fixed by
// the transcript (SYMBOL, Gene, Feature, BIOTYPE, STRAND, CANONICAL,
// MANE) making one step, written from bytes made once per transcript
// (txOut.vcfRuns, tsvRuns).
type steps struct {
	list  []step
	fixed [][]int // the fields of each run, by step.run
}

// step is one field (field ≥ 0) or the run-th run of fixed fields
// (field -1).
type step struct{ field, run int }

func fixedField(f int) bool {
	switch f {
	case fSymbol, fGene, fFeature, fBiotype, fStrand, fCanonical, fMANE:
		return true
	}
	return false
}

func newLayout(sel []int) *layout {
	plan := func(fields []int) steps {
		var ss steps
		for _, f := range fields {
			n := len(ss.list)
			switch {
			case !fixedField(f):
				ss.list = append(ss.list, step{field: f})
			case n > 0 && ss.list[n-1].field < 0:
				ss.fixed[ss.list[n-1].run] = append(ss.fixed[ss.list[n-1].run], f)
			default:
				ss.list = append(ss.list, step{field: -1, run: len(ss.fixed)})
				ss.fixed = append(ss.fixed, []int{f})
			}
		}
		return ss
	}
	var tsv []int
	for _, f := range sel {
		if f != fAllele {
			tsv = append(tsv, f)
		}
	}
	return &layout{vcf: plan(sel), tsv: plan(tsv)}
}

// runs makes the bytes of each run of fixed fields for transcript t (nil
// for no transcript): for the VCF, escaped and '|'-separated; for the
// TSV (tsv), tab-separated, "." for an empty value.
func (ss steps) runs(t *genemodel.Transcript, tsv bool) [][]byte {
	sep := byte('|')
	if tsv {
		sep = '\t'
	}
	var out [][]byte
	for _, fixed := range ss.fixed {
		var b []byte
		for i, f := range fixed {
			if i > 0 {
				b = append(b, sep)
			}
			v := fixedValue(t, f)
			switch {
			case tsv:
				b = append(b, orDot(v)...)
			default:
				b = appendEscaped(b, v)
			}
		}
		out = append(out, b)
	}
	return out
}

// fixedValue is the value of a field fixed by the transcript t ("" for
// no transcript).
func fixedValue(t *genemodel.Transcript, f int) string {
	if t == nil {
		return ""
	}
	switch f {
	case fSymbol:
		return t.Gene.Name
	case fGene:
		return t.Gene.ID
	case fFeature:
		return t.ID
	case fBiotype:
		return t.Biotype
	case fStrand:
		if t.Strand < 0 {
			return "-1"
		}
		return "1"
	case fCanonical:
		if t.Canonical {
			return "YES"
		}
	case fMANE:
		if t.MANE {
			return "MANE_Select"
		}
	}
	return ""
}

// appendEffectFields appends the chosen fields of one effect, by ss: for
// the CSQ INFO field ('|'-separated, escaped; alt and hgvsg come escaped
// already) or, tsv, for the TSV (each field after a tab, "." for an empty
// value). It is the general form of appendEffectVCF and appendEffectTSV,
// which write all of CSQFields.
func appendEffectFields(b []byte, ss steps, tsv bool, alt, hgvsg string, e *csq.Effect, to *txOut) []byte {
	for i := range ss.list {
		st := ss.list[i]
		switch {
		case tsv:
			b = append(b, '\t')
		case i > 0:
			b = append(b, '|')
		}
		if st.field < 0 {
			if tsv {
				b = append(b, to.tsvRuns[st.run]...)
			} else {
				b = append(b, to.vcfRuns[st.run]...)
			}
			continue
		}
		start := len(b)
		escape := false // which values may hold a byte to escape: see appendEffectVCF
		switch st.field {
		case fAllele:
			b = append(b, alt...)
		case fConsequence:
			b = appendTerms(b, e)
		case fExon:
			b = append(b, e.Exon...)
		case fIntron:
			b = append(b, e.Intron...)
		case fHGVSc:
			b = append(b, e.HGVSc...)
			escape = to.escapeID
		case fHGVSp:
			b = append(b, e.HGVSp...)
			escape = strings.IndexByte(e.HGVSp, '=') >= 0
		case fHGVSg:
			b = append(b, hgvsg...)
		case fCDSPosition:
			b = append(b, e.CDSPos...)
		case fProteinPosition:
			b = append(b, e.ProteinPos...)
		case fAminoAcids:
			b = append(b, e.AminoAcids...)
		case fDistance:
			if e.Distance > 0 {
				b = csq.AppendInt(b, e.Distance)
			}
		case fBCSQAA:
			b = append(b, e.AAChange...)
		}
		switch {
		case tsv && len(b) == start:
			b = append(b, '.')
		case escape && !tsv:
			v := string(b[start:])
			b = appendEscaped(b[:start], v)
		}
	}
	return b
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

// Replaces returns the INFO keys the annotated VCF writes (CSQ, then the
// sources' fields) that h, the input's header, declares: Run drops the
// input's values of them, and their ##INFO lines, for its own. A key the
// input has without declaring it is replaced too, unlisted.
func (a *Annotator) Replaces(h *vcf.Header) []string {
	var keys []string
	for _, k := range append([]string{"CSQ"}, a.fields...) {
		if _, ok := h.Info[k]; ok {
			keys = append(keys, k)
		}
	}
	return keys
}

// infoID returns the ID of an ##INFO line (m without the "##"; the
// reader checks that ID comes first), "" for another line.
func infoID(m string) string {
	id, ok := strings.CutPrefix(m, "INFO=<ID=")
	if !ok {
		return ""
	}
	if i := strings.IndexAny(id, ",>"); i >= 0 {
		return id[:i]
	}
	return id
}

func (a *Annotator) writeHeader(w *bufio.Writer, h *vcf.Header) {
	w.WriteString("##fileformat=" + h.Version + "\n")
	for _, m := range h.Meta {
		if id := infoID(m); id != "" && (id == "CSQ" || slices.Contains(a.fields, id)) {
			continue // replaced by ours
		}
		w.WriteString("##" + m + "\n")
	}
	w.WriteString(`##INFO=<ID=CSQ,Number=.,Type=String,Description="Consequence annotations from clinomics annotate. Format: ` + strings.Join(a.csqFields, "|") + `">` + "\n")
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
	for _, f := range a.csqFields {
		if f != CSQFields[fAllele] { // the ALT column
			cols = append(cols, f)
		}
	}
	return append(cols, a.fields...)
}

// splitLine returns the text of line, parsed into rec, before its INFO
// column (the first seven columns, each with its tab) and after it (the
// FORMAT and sample columns, each with the tab before it), to be copied
// whole where appendFixed and appendRest would write the same. head is
// "" when it differs (a POS with a sign or leading zeros), and whole is
// false then. A FORMAT "." (no keys) comes whole with its samples, which
// can only be "." (appendRest writes them so too).
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
	return line[:n], line[end:], true // "", or FORMAT (maybe ".") and the samples
}

// appendFixed appends the first seven columns and the INFO of rec
// without the keys the run writes itself: CSQ (a value or a flag) and the
// sources' fields, so that each is written once, ours (re-annotating an
// annotated VCF). head, when not empty, is the text of the seven columns
// (see splitLine). wrote says whether any INFO entry was appended.
func appendFixed(b []byte, rec *vcf.Record, head string, fields []string) (_ []byte, wrote bool) {
	if head != "" {
		b = append(b, head...)
	} else {
		b = appendColumns(b, rec)
	}
	if rec.Info == "." || rec.Info == "" {
		return b, false
	}
	if !hasOwnKey(rec.Info, fields) {
		return append(b, rec.Info...), true
	}
	for kv := range strings.SplitSeq(rec.Info, ";") {
		if k, _, _ := strings.Cut(kv, "="); kv == "" || k == "CSQ" || slices.Contains(fields, k) {
			continue
		}
		if wrote {
			b = append(b, ';')
		}
		b = append(b, kv...)
		wrote = true
	}
	return b, wrote
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
func appendRest(b []byte, rec *vcf.Record, tail string, whole, empty bool, fields []string, extra [][]string, samples int) []byte {
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
	} else if samples > 0 { // FORMAT "." (no keys): each sample "."
		b = append(b, "\t."...)
		for range samples {
			b = append(b, "\t."...)
		}
	}
	return append(b, '\n')
}

// hasOwnKey says whether info, an input's INFO, has CSQ or one of fields
// as a key. It is called for every record: one pass over info, most
// keys passed over on their first byte.
func hasOwnKey(info string, fields []string) bool {
	if info == "." || info == "" {
		return false
	}
	first := uint64(1) << ('C' & 63) // the first bytes of our keys, by c&63
	for _, f := range fields {
		if f != "" {
			first |= 1 << (f[0] & 63)
		}
	}
	for info != "" {
		kv := info
		if i := strings.IndexByte(info, ';'); i >= 0 {
			kv, info = info[:i], info[i+1:]
		} else {
			info = ""
		}
		if kv == "" || first&(1<<(kv[0]&63)) == 0 {
			continue
		}
		k, _, _ := strings.Cut(kv, "=")
		if k == "CSQ" || slices.Contains(fields, k) {
			return true
		}
	}
	return false
}
