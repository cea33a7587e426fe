package interpret

import (
	"fmt"
	"strings"

	"github.com/clinomics/clinomics/internal/report"
)

// The five ACMG/AMP classes, as report.Variant.Classification spells
// them.
const (
	Pathogenic            = "Pathogenic"
	LikelyPathogenic      = "Likely pathogenic"
	UncertainSignificance = "Uncertain significance"
	LikelyBenign          = "Likely benign"
	Benign                = "Benign"
)

// tally counts criteria by direction and strength.
type tally struct {
	pvs, ps, pm, pp int // pathogenic: very strong, strong, moderate, supporting
	ba, bs, bp      int // benign: stand-alone, strong, supporting
}

func count(ev []report.Evidence) tally {
	var t tally
	for _, e := range ev {
		benign := strings.HasPrefix(strings.ToUpper(e.Criterion), "B")
		switch strength := strings.ToLower(e.Strength); {
		case benign && strength == StandAlone:
			t.ba++
		case benign && (strength == Strong || strength == VeryStrong):
			t.bs++
		case benign:
			t.bp++
		case strength == VeryStrong || strength == StandAlone:
			t.pvs++
		case strength == Strong:
			t.ps++
		case strength == Moderate:
			t.pm++
		default:
			t.pp++
		}
	}
	return t
}

// Classify suggests a class from criteria by the combining rules of
// ACMG/AMP 2015 (Richards et al., Table 5), each criterion counted at the
// strength it was given (PM2 at supporting counts as a supporting
// criterion). One addition follows ClinGen SVI (2020): very strong plus
// one supporting is Likely pathogenic, so PVS1 with PM2_Supporting stays
// Likely pathogenic. When both the pathogenic and the benign rules are
// met, the criteria conflict and the class is Uncertain significance;
// when neither is, too. rule says which rule decided.
//
// The class is a suggestion for a qualified person to confirm, like the
// criteria it is made from.
func Classify(ev []report.Evidence) (class, rule string) {
	t := count(ev)
	path, pathRule := pathogenicRule(t)
	ben, benRule := benignRule(t)
	switch {
	case path != "" && ben != "":
		return UncertainSignificance, fmt.Sprintf("conflicting: %s (%s) and %s (%s)", path, pathRule, ben, benRule)
	case path != "":
		return path, pathRule
	case ben != "":
		return ben, benRule
	}
	return UncertainSignificance, "neither the pathogenic nor the benign rules are met"
}

func pathogenicRule(t tally) (string, string) {
	strong := t.ps
	if t.pvs > 1 { // a second very strong counts as strong
		strong += t.pvs - 1
	}
	vs := min(t.pvs, 1)
	switch {
	case vs == 1 && strong >= 1:
		return Pathogenic, "Pathogenic (i)(a): 1 very strong and ≥1 strong"
	case vs == 1 && t.pm >= 2:
		return Pathogenic, "Pathogenic (i)(b): 1 very strong and ≥2 moderate"
	case vs == 1 && t.pm == 1 && t.pp >= 1:
		return Pathogenic, "Pathogenic (i)(c): 1 very strong, 1 moderate and 1 supporting"
	case vs == 1 && t.pp >= 2:
		return Pathogenic, "Pathogenic (i)(d): 1 very strong and ≥2 supporting"
	case strong >= 2:
		return Pathogenic, "Pathogenic (ii): ≥2 strong"
	case strong == 1 && t.pm >= 3:
		return Pathogenic, "Pathogenic (iii)(a): 1 strong and ≥3 moderate"
	case strong == 1 && t.pm == 2 && t.pp >= 2:
		return Pathogenic, "Pathogenic (iii)(b): 1 strong, 2 moderate and ≥2 supporting"
	case strong == 1 && t.pm == 1 && t.pp >= 4:
		return Pathogenic, "Pathogenic (iii)(c): 1 strong, 1 moderate and ≥4 supporting"
	case vs == 1 && t.pm == 1:
		return LikelyPathogenic, "Likely pathogenic (i): 1 very strong and 1 moderate"
	case vs == 1 && t.pp == 1:
		return LikelyPathogenic, "Likely pathogenic: 1 very strong and 1 supporting (ClinGen SVI 2020, e.g. PVS1 with PM2_Supporting)"
	case strong == 1 && (t.pm == 1 || t.pm == 2):
		return LikelyPathogenic, "Likely pathogenic (ii): 1 strong and 1-2 moderate"
	case strong == 1 && t.pp >= 2:
		return LikelyPathogenic, "Likely pathogenic (iii): 1 strong and ≥2 supporting"
	case t.pm >= 3:
		return LikelyPathogenic, "Likely pathogenic (iv): ≥3 moderate"
	case t.pm == 2 && t.pp >= 2:
		return LikelyPathogenic, "Likely pathogenic (v): 2 moderate and ≥2 supporting"
	case t.pm == 1 && t.pp >= 4:
		return LikelyPathogenic, "Likely pathogenic (vi): 1 moderate and ≥4 supporting"
	}
	return "", ""
}

func benignRule(t tally) (string, string) {
	switch {
	case t.ba >= 1:
		return Benign, "Benign (i): 1 stand-alone (BA1)"
	case t.bs >= 2:
		return Benign, "Benign (ii): ≥2 strong"
	case t.bs == 1 && t.bp >= 1:
		return LikelyBenign, "Likely benign (i): 1 strong and 1 supporting"
	case t.bp >= 2:
		return LikelyBenign, "Likely benign (ii): ≥2 supporting"
	}
	return "", ""
}
