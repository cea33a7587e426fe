package known

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// acmgClass is where a ClinVar term stands on the ACMG/AMP scale; 0 for
// the other terms (risk factor, drug response, ...).
type acmgClass int

const (
	notACMG acmgClass = iota
	classP
	classLP
	classVUS
	classLB
	classB
)

// acmgTerms are the ACMG/AMP terms in ClinVar VCF spelling, by class.
var acmgTerms = map[string]acmgClass{
	"Pathogenic":             classP,
	"Likely_pathogenic":      classLP,
	"Uncertain_significance": classVUS,
	"Likely_benign":          classLB,
	"Benign":                 classB,
}

// significanceTerms maps a submitted classification (lower case, single
// spaces) to ClinVar VCF terms.
var significanceTerms = map[string][]string{
	"pathogenic":                        {"Pathogenic"},
	"likely pathogenic":                 {"Likely_pathogenic"},
	"pathogenic, low penetrance":        {"Pathogenic", "low_penetrance"},
	"likely pathogenic, low penetrance": {"Likely_pathogenic", "low_penetrance"},
	"probable-pathogenic":               {"Likely_pathogenic"},
	"probably pathogenic":               {"Likely_pathogenic"},
	"uncertain significance":            {"Uncertain_significance"},
	"variant of unknown significance":   {"Uncertain_significance"},
	"variant of uncertain significance": {"Uncertain_significance"},
	"unknown significance":              {"Uncertain_significance"},
	"likely benign":                     {"Likely_benign"},
	"probable-non-pathogenic":           {"Likely_benign"},
	"probably not pathogenic":           {"Likely_benign"},
	"benign":                            {"Benign"},
	"non-pathogenic":                    {"Benign"},
	"established risk allele":           {"Established_risk_allele"},
	"likely risk allele":                {"Likely_risk_allele"},
	"uncertain risk allele":             {"Uncertain_risk_allele"},
	"risk factor":                       {"risk_factor"},
	"drug response":                     {"drug_response"},
	"association":                       {"association"},
	"association not found":             {"association_not_found"},
	"protective":                        {"protective"},
	"affects":                           {"Affects"},
	"confers sensitivity":               {"confers_sensitivity"},
	"other":                             {"other"},
	"conflicting data from submitters":  {"conflicting_data_from_submitters"},
	"not provided":                      nil,
	"no classification provided":        nil,
}

// ParseSignificance turns a submitted classification into ClinVar VCF
// terms: "likely Pathogenic" is ["Likely_pathogenic"]; a qualifier after
// " - " is dropped ("likely pathogenic - adrenal pheochromocytoma");
// several terms may be joined by ',', ';' or '/'. "not provided" gives no
// terms; anything else outside ClinVar's vocabulary is an error wrapping
// ErrUnknownClassification.
func ParseSignificance(s string) ([]string, error) {
	key := strings.ToLower(strings.Join(strings.Fields(s), " "))
	if key == "" {
		return nil, nil
	}
	if t, ok := significanceTerms[key]; ok {
		return slices.Clone(t), nil
	}
	if before, _, ok := strings.Cut(key, " - "); ok {
		return ParseSignificance(before)
	}
	parts := strings.FieldsFunc(key, func(r rune) bool { return r == ',' || r == ';' || r == '/' })
	if len(parts) > 1 {
		var out []string
		for _, p := range parts {
			t, err := ParseSignificance(p)
			if err != nil {
				return nil, err
			}
			for _, x := range t {
				if !slices.Contains(out, x) {
					out = append(out, x)
				}
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownClassification, s)
}

// reviewTier ranks a submission's review status: 4 practice guideline, 3
// expert panel, 1 criteria provided, 0 no assertion criteria; -1 for
// submissions ClinVar leaves out of the aggregate (flagged, or no
// classification).
func reviewTier(status string) int {
	s := strings.ToLower(strings.Join(strings.Fields(status), " "))
	switch {
	case s == "practice guideline":
		return 4
	case s == "reviewed by expert panel":
		return 3
	case strings.HasPrefix(s, "criteria provided"):
		return 1
	case s == "flagged submission", strings.HasPrefix(s, "no assertion provided"),
		strings.HasPrefix(s, "no classification"), strings.HasPrefix(s, "no interpretation"):
		return -1
	}
	return 0
}

// Aggregate is ClinVar's summary of the submissions about one variant,
// in ClinVar VCF spelling.
type Aggregate struct {
	Significance string // CLNSIG, e.g. "Pathogenic/Likely_pathogenic,_risk_factor"
	ReviewStatus string // CLNREVSTAT, e.g. "criteria_provided,_single_submitter"
	SubDetails   string // ACMG terms counted, e.g. "Uncertain_significance(5)|Likely_benign(2)"
}

// AggregateSubmissions combines submissions the way ClinVar does for its
// variant-level record (as in the ClinVar VCF of the 2019-2023 releases):
//
//   - Only current submissions with a classification count; flagged ones
//     do not.
//   - The ACMG/AMP terms (Pathogenic ... Benign) come from the submissions
//     of the highest review tier holding one: practice guideline, expert
//     panel, criteria provided, no assertion criteria, in that order.
//     A criteria-provided submission thus outweighs any number without
//     criteria.
//   - Agreeing terms are combined ("Pathogenic/Likely_pathogenic",
//     "Benign/Likely_benign"); terms on different sides (pathogenic,
//     uncertain, benign) are "Conflicting_interpretations_of_pathogenicity"
//     (among expert panels, the latest evaluation wins instead).
//   - Other terms (risk_factor, drug_response, Affects, low_penetrance,
//     risk alleles, ...) from any counted submission are appended, sorted,
//     each after ",_".
//   - The review status follows the tier: practice_guideline,
//     reviewed_by_expert_panel, criteria_provided with
//     _conflicting_interpretations, _multiple_submitters,_no_conflicts (two
//     or more distinct submitters) or _single_submitter, and
//     no_assertion_criteria_provided.
//
// With no counted submission the result is "not_provided" and
// "no_assertion_provided".
func AggregateSubmissions(subs []Submission) Aggregate {
	type counted struct {
		sub  *Submission
		tier int
		acmg []acmgClass
	}
	var all []counted
	for i := range subs {
		s := &subs[i]
		t := reviewTier(s.ReviewStatus)
		if t < 0 || len(s.Terms) == 0 || s.Status != "" && s.Status != "current" {
			continue
		}
		c := counted{sub: s, tier: t}
		for _, term := range s.Terms {
			if k := acmgTerms[term]; k != notACMG {
				c.acmg = append(c.acmg, k)
			}
		}
		all = append(all, c)
	}
	if len(all) == 0 {
		return Aggregate{Significance: "not_provided", ReviewStatus: "no_assertion_provided"}
	}
	pool := slices.Clone(all)
	if withACMG := slices.DeleteFunc(slices.Clone(all), func(c counted) bool { return len(c.acmg) == 0 }); len(withACMG) > 0 {
		pool = withACMG
	}
	top := -1
	for _, c := range pool {
		top = max(top, c.tier)
	}
	pool = slices.DeleteFunc(pool, func(c counted) bool { return c.tier != top })

	count := map[acmgClass]int{}
	for _, c := range pool {
		for _, k := range c.acmg {
			count[k]++
		}
	}
	base, conflict := combineACMG(count)
	if conflict && top >= 3 { // the latest expert evaluation stands
		latest := slices.MaxFunc(pool, func(a, b counted) int { return cmp.Compare(a.sub.Evaluated, b.sub.Evaluated) })
		one := map[acmgClass]int{}
		for _, k := range latest.acmg {
			one[k]++
		}
		base, conflict = combineACMG(one)
	}

	var other []string
	for _, c := range all {
		for _, term := range c.sub.Terms {
			if acmgTerms[term] == notACMG && !slices.Contains(other, term) {
				other = append(other, term)
			}
		}
	}
	slices.SortFunc(other, func(a, b string) int {
		return cmp.Or(strings.Compare(strings.ToLower(a), strings.ToLower(b)), strings.Compare(a, b))
	})
	sig := other
	if base != "" {
		sig = append([]string{base}, other...)
	}

	agg := Aggregate{Significance: strings.Join(sig, ",_")}
	switch top {
	case 4:
		agg.ReviewStatus = "practice_guideline"
	case 3:
		agg.ReviewStatus = "reviewed_by_expert_panel"
	case 1:
		submitters := map[string]bool{}
		for _, c := range pool {
			submitters[c.sub.Submitter] = true
		}
		switch {
		case conflict:
			agg.ReviewStatus = "criteria_provided,_conflicting_interpretations"
		case len(submitters) > 1:
			agg.ReviewStatus = "criteria_provided,_multiple_submitters,_no_conflicts"
		default:
			agg.ReviewStatus = "criteria_provided,_single_submitter"
		}
	default:
		agg.ReviewStatus = "no_assertion_criteria_provided"
	}
	agg.SubDetails = subDetails(count)
	return agg
}

// combineACMG names what the counted ACMG terms say together, and whether
// they conflict.
func combineACMG(count map[acmgClass]int) (string, bool) {
	p, lp, vus, lb, b := count[classP] > 0, count[classLP] > 0, count[classVUS] > 0, count[classLB] > 0, count[classB] > 0
	sides := 0
	for _, s := range []bool{p || lp, vus, lb || b} {
		if s {
			sides++
		}
	}
	switch {
	case sides > 1:
		return "Conflicting_interpretations_of_pathogenicity", true
	case p && lp:
		return "Pathogenic/Likely_pathogenic", false
	case p:
		return "Pathogenic", false
	case lp:
		return "Likely_pathogenic", false
	case vus:
		return "Uncertain_significance", false
	case b && lb:
		return "Benign/Likely_benign", false
	case b:
		return "Benign", false
	case lb:
		return "Likely_benign", false
	}
	return "", false
}

// subDetails lists the ACMG terms with their counts, most frequent first.
func subDetails(count map[acmgClass]int) string {
	names := map[acmgClass]string{}
	for n, k := range acmgTerms {
		names[k] = n
	}
	var ks []acmgClass
	for k, n := range count {
		if n > 0 {
			ks = append(ks, k)
		}
	}
	slices.SortFunc(ks, func(a, b acmgClass) int { return cmp.Or(cmp.Compare(count[b], count[a]), cmp.Compare(a, b)) })
	parts := make([]string, len(ks))
	for i, k := range ks {
		parts[i] = names[k] + "(" + strconv.Itoa(count[k]) + ")"
	}
	return strings.Join(parts, "|")
}
