package interpret

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/clinomics/clinomics/internal/report"
)

// Evidence strengths, as report.Evidence spells them.
const (
	VeryStrong = "very strong"
	Strong     = "strong"
	Moderate   = "moderate"
	Supporting = "supporting"
	StandAlone = "stand-alone"
)

// Config holds the thresholds of the frequency criteria. A zero field
// takes its default.
type Config struct {
	PM2MaxAF float64 // PM2 below this population AF; default 0.0001
	BS1MinAF float64 // BS1 above this AF (greater than expected for the disorder); default 0.01
	BA1MinAF float64 // BA1 above this AF; default 0.05
}

// DefaultConfig returns the defaults: PM2 below 0.0001, BS1 above 0.01,
// BA1 above 0.05 (the ClinGen SVI BA1 threshold).
func DefaultConfig() Config { return Config{PM2MaxAF: 0.0001, BS1MinAF: 0.01, BA1MinAF: 0.05} }

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.PM2MaxAF == 0 {
		c.PM2MaxAF = d.PM2MaxAF
	}
	if c.BS1MinAF == 0 {
		c.BS1MinAF = d.BS1MinAF
	}
	if c.BA1MinAF == 0 {
		c.BA1MinAF = d.BA1MinAF
	}
	return c
}

// Input is what the criteria are judged on, for one variant in one
// transcript.
type Input struct {
	Gene         string
	Consequences []string // Sequence Ontology terms, e.g. "missense_variant"
	ProteinPos   int      // codon number; 0 when not coding
	// RefAA and AltAA are amino acids in one- or three-letter code, any
	// case ("G" or "Gly"); "*", "X" or "Ter" is a stop.
	RefAA, AltAA string
	HGVSp        string // e.g. "p.(Gly12Asp)", for the evidence text

	// PopulationAF is the highest population allele frequency, negative
	// when unknown. PopulationQueried says a population database was
	// searched: a negative PopulationAF then means the variant is absent
	// from it.
	PopulationAF      float64
	PopulationQueried bool
	PopulationAC      int // allele count; negative when unknown
	PopulationHom     int // homozygotes; negative when unknown

	// ClinVarSameChange is a ClinVar variant giving the same amino-acid
	// change by a different nucleotide change (nil when none).
	ClinVarSameChange *report.ClinVar
	// ClinVarSameCodon are ClinVar variants at the same codon with a
	// different amino-acid change (non-pathogenic ones are ignored).
	ClinVarSameCodon []report.ClinVar

	// InLoFGene says loss of function is a known disease mechanism for
	// the gene.
	InLoFGene bool
	// RepeatKnown says whether InRepeat was looked up; InRepeat says the
	// variant lies in a repeat region.
	RepeatKnown, InRepeat bool
}

// Note is a criterion considered and not applied, with the reason.
type Note struct {
	Criterion string
	Text      string
}

// nullConsequences are the SO terms of a null variant (PVS1).
var nullConsequences = []string{"transcript_ablation", "stop_gained", "frameshift_variant", "splice_donor_variant", "splice_acceptor_variant", "start_lost"}

// spliceConsequences are the SO terms that predict an effect on splicing.
var spliceConsequences = []string{"splice_region_variant", "splice_donor_variant", "splice_acceptor_variant", "splice_donor_5th_base_variant", "splice_donor_region_variant", "splice_polypyrimidine_tract_variant"}

// Suggest returns the ACMG/AMP 2015 criteria (Richards et al., with the
// ClinGen SVI refinements noted) that can be judged from annotations:
// PVS1, PS1, PM2, PM4, PM5, BA1, BS1, BP3 and BP7. Each is a suggestion
// (Confirmed false) with the evidence in its text; criteria considered
// and not applied come back as notes saying why. The other criteria need
// case data, functional studies or segregation, which only a person can
// weigh.
func Suggest(in Input, cfg Config) ([]report.Evidence, []Note) {
	cfg = cfg.withDefaults()
	s := &suggester{in: in}
	s.pvs1()
	s.frequency(cfg)
	s.missense()
	s.inframe()
	s.bp7()
	return s.ev, s.notes
}

type suggester struct {
	in    Input
	ev    []report.Evidence
	notes []Note
}

func (s *suggester) add(criterion, strength, format string, a ...any) {
	s.ev = append(s.ev, report.Evidence{Criterion: criterion, Strength: strength, Text: fmt.Sprintf(format, a...)})
}

func (s *suggester) note(criterion, format string, a ...any) {
	s.notes = append(s.notes, Note{Criterion: criterion, Text: fmt.Sprintf(format, a...)})
}

func (s *suggester) has(terms ...string) []string {
	var out []string
	for _, c := range s.in.Consequences {
		if slices.Contains(terms, c) {
			out = append(out, c)
		}
	}
	return out
}

func (s *suggester) gene() string {
	if s.in.Gene == "" {
		return "the gene"
	}
	return s.in.Gene
}

func (s *suggester) pvs1() {
	null := s.has(nullConsequences...)
	if len(null) == 0 {
		return
	}
	what := strings.Join(null, ", ")
	if !s.in.InLoFGene {
		s.note("PVS1", "%s is a null variant, but loss of function is not a known disease mechanism for %s: PVS1 applies only where it is", what, s.gene())
		return
	}
	if len(null) == 1 && null[0] == "start_lost" {
		s.add("PVS1", Moderate, "start_lost in %s, where loss of function is a known disease mechanism; at moderate strength for an initiation codon variant (ClinGen SVI PVS1 decision tree): check for an in-frame alternative start codon and pathogenic variants upstream of it", s.gene())
		return
	}
	s.add("PVS1", VeryStrong, "%s in %s, where loss of function is a known disease mechanism; check nonsense-mediated decay (not in the last exon or the last 50 nt of the penultimate exon) and that the transcript is biologically relevant, and lower the strength per the ClinGen SVI PVS1 decision tree if not", what, s.gene())
}

func fmtAF(af float64) string { return strconv.FormatFloat(af, 'g', 4, 64) }

func (s *suggester) counts() string {
	var parts []string
	if s.in.PopulationAC >= 0 {
		parts = append(parts, "AC "+strconv.Itoa(s.in.PopulationAC))
	}
	if s.in.PopulationHom >= 0 {
		parts = append(parts, "homozygotes "+strconv.Itoa(s.in.PopulationHom))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

func (s *suggester) frequency(cfg Config) {
	af := s.in.PopulationAF
	switch {
	case af < 0 && !s.in.PopulationQueried:
		s.note("PM2", "no population frequency data: PM2, BS1 and BA1 not assessed")
		return
	case af < 0:
		s.add("PM2", Supporting, "absent from the population database; at supporting strength (ClinGen SVI 2020); check the site is covered there")
		return
	case af > cfg.BA1MinAF:
		s.add("BA1", StandAlone, "population AF %s > %s%s", fmtAF(af), fmtAF(cfg.BA1MinAF), s.counts())
	case af > cfg.BS1MinAF:
		s.add("BS1", Strong, "population AF %s > %s, greater than expected for the disorder%s; check the threshold suits the disorder's prevalence and penetrance", fmtAF(af), fmtAF(cfg.BS1MinAF), s.counts())
	case af < cfg.PM2MaxAF:
		s.add("PM2", Supporting, "population AF %s < %s%s; at supporting strength (ClinGen SVI 2020)", fmtAF(af), fmtAF(cfg.PM2MaxAF), s.counts())
		if s.in.PopulationHom > 0 {
			s.note("PM2", "%d homozygotes in the population database: PM2 fits a dominant disorder only if that is expected", s.in.PopulationHom)
		}
	}
}

func (s *suggester) missense() {
	if len(s.has("missense_variant")) == 0 {
		return
	}
	change := s.change()
	ps1 := false
	if cv := s.in.ClinVarSameChange; cv != nil {
		switch {
		case !IsPathogenic(cv.Significance):
			s.note("PS1", "ClinVar %s has the same amino-acid change%s but is %s, not pathogenic", cv.ID, change, cv.Significance)
		default:
			strength := Strong
			if !strings.HasPrefix(sigTerm(cv.Significance), "Pathogenic") {
				strength = Moderate // likely pathogenic only
			}
			ps1 = true
			s.add("PS1", strength, "same amino-acid change%s as ClinVar %s (%s, %s) by a different nucleotide change; check neither variant acts through splicing", change, cv.ID, cv.Significance, cv.ReviewStatus)
		}
	}
	var ids []string
	for _, cv := range s.in.ClinVarSameCodon {
		if IsPathogenic(cv.Significance) {
			ids = append(ids, cv.ID+" ("+cv.Significance+")")
		}
	}
	switch {
	case len(ids) == 0:
	case ps1:
		s.note("PM5", "pathogenic missense at codon %d is known (%s), but this amino-acid change is itself known as pathogenic (PS1): PM5 is for a novel change", s.in.ProteinPos, strings.Join(ids, ", "))
	default:
		s.add("PM5", Moderate, "novel missense change%s at codon %d, where a different pathogenic missense change is known: ClinVar %s", change, s.in.ProteinPos, strings.Join(ids, ", "))
	}
}

// change describes the amino-acid change for a text: " p.(Gly12Asp)".
func (s *suggester) change() string {
	switch {
	case s.in.HGVSp != "":
		return " " + s.in.HGVSp
	case s.in.RefAA != "" && s.in.AltAA != "":
		return fmt.Sprintf(" %s%d%s", threeLetter(s.in.RefAA), s.in.ProteinPos, threeLetter(s.in.AltAA))
	}
	return ""
}

func (s *suggester) inframe() {
	if len(s.has("stop_lost")) > 0 {
		s.add("PM4", Moderate, "stop_lost: the protein is lengthened%s", s.change())
		return
	}
	indel := s.has("inframe_insertion", "inframe_deletion")
	if len(indel) == 0 || len(s.has(nullConsequences...)) > 0 {
		return
	}
	what := strings.Join(indel, ", ")
	switch {
	case s.in.RepeatKnown && s.in.InRepeat:
		s.note("PM4", "%s in a repeat region: PM4 is for non-repeat regions", what)
		s.add("BP3", Supporting, "%s in a repeat region; check the region has no known function", what)
	case s.in.RepeatKnown:
		s.add("PM4", Moderate, "%s outside repeat regions: the protein length changes%s", what, s.change())
	default:
		s.add("PM4", Moderate, "%s: the protein length changes%s; repeat regions were not checked: PM4 does not apply in a repeat region", what, s.change())
	}
}

func (s *suggester) bp7() {
	if len(s.has("synonymous_variant")) == 0 {
		return
	}
	if splice := s.has(spliceConsequences...); len(splice) > 0 {
		s.note("BP7", "synonymous but %s: a splicing effect is possible", strings.Join(splice, ", "))
		return
	}
	s.add("BP7", Supporting, "synonymous%s, not in a splice region; no splice predictor was run and nucleotide conservation was not assessed", s.change())
}

// sigTerm is the first term of a ClinVar significance, spaces as '_'.
func sigTerm(sig string) string {
	sig = strings.ReplaceAll(strings.TrimSpace(sig), " ", "_")
	first, _, _ := strings.Cut(sig, ",")
	return strings.TrimSuffix(first, "_")
}

// IsPathogenic reports whether a ClinVar significance is pathogenic or
// likely pathogenic without conflict: "Pathogenic", "Likely_pathogenic",
// "Pathogenic/Likely_pathogenic", with or without other terms after a
// comma ("Pathogenic,_risk_factor"); spaces may stand for '_'.
func IsPathogenic(sig string) bool {
	switch strings.ToLower(sigTerm(sig)) {
	case "pathogenic", "likely_pathogenic", "pathogenic/likely_pathogenic":
		return true
	}
	return false
}

var aminoAcids = map[string]string{
	"A": "Ala", "R": "Arg", "N": "Asn", "D": "Asp", "C": "Cys", "Q": "Gln", "E": "Glu", "G": "Gly", "H": "His", "I": "Ile",
	"L": "Leu", "K": "Lys", "M": "Met", "F": "Phe", "P": "Pro", "S": "Ser", "T": "Thr", "W": "Trp", "Y": "Tyr", "V": "Val",
	"U": "Sec", "O": "Pyl", "*": "Ter", "X": "Ter",
}

// threeLetter writes an amino acid in three-letter code ("g", "GLY" and
// "Gly" are "Gly"; "*", "X", "Ter" and "Stop" are "Ter"); other text is
// returned as given.
func threeLetter(aa string) string {
	aa = strings.TrimSpace(aa)
	if t, ok := aminoAcids[strings.ToUpper(aa)]; ok {
		return t
	}
	if strings.EqualFold(aa, "stop") {
		return "Ter"
	}
	if len(aa) == 3 {
		t := strings.ToUpper(aa[:1]) + strings.ToLower(aa[1:])
		for _, v := range aminoAcids {
			if v == t {
				return t
			}
		}
	}
	return aa
}
