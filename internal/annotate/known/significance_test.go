package known

import (
	"errors"
	"slices"
	"testing"
)

func TestParseSignificance(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		err  bool
	}{
		{"Pathogenic", []string{"Pathogenic"}, false},
		{"likely Pathogenic", []string{"Likely_pathogenic"}, false},
		{"likely pathogenic - adrenal pheochromocytoma", []string{"Likely_pathogenic"}, false},
		{"Pathogenic, low penetrance", []string{"Pathogenic", "low_penetrance"}, false},
		{"Pathogenic/Likely pathogenic", []string{"Pathogenic", "Likely_pathogenic"}, false},
		{"Pathogenic, risk factor", []string{"Pathogenic", "risk_factor"}, false},
		{"Uncertain risk allele", []string{"Uncertain_risk_allele"}, false},
		{"Affects", []string{"Affects"}, false},
		{"not provided", nil, false},
		{"", nil, false},
		{"probably fine", nil, true},
		{"Pathogenic, probably fine", nil, true},
	}
	for _, tc := range tests {
		got, err := ParseSignificance(tc.in)
		if tc.err != errors.Is(err, ErrUnknownClassification) || !slices.Equal(got, tc.want) {
			t.Errorf("ParseSignificance(%q) = %q, %v", tc.in, got, err)
		}
	}
}

func TestAggregateSubmissions(t *testing.T) {
	sub := func(submitter, status string, terms ...string) Submission {
		return Submission{Submitter: submitter, Status: "current", ReviewStatus: status, Terms: terms}
	}
	const (
		crit = "criteria provided, single submitter"
		none = "no assertion criteria provided"
		ep   = "reviewed by expert panel"
	)
	tests := []struct {
		name               string
		subs               []Submission
		sig, rev, subdetai string
	}{
		{"single", []Submission{sub("A", crit, "Pathogenic")}, "Pathogenic", "criteria_provided,_single_submitter", "Pathogenic(1)"},
		{"same submitter twice", []Submission{sub("A", crit, "Uncertain_significance"), sub("A", crit, "Uncertain_significance")}, "Uncertain_significance", "criteria_provided,_single_submitter", "Uncertain_significance(2)"},
		{"two agree", []Submission{sub("A", crit, "Pathogenic"), sub("B", crit, "Likely_pathogenic")}, "Pathogenic/Likely_pathogenic", "criteria_provided,_multiple_submitters,_no_conflicts", "Pathogenic(1)|Likely_pathogenic(1)"},
		{"benign side", []Submission{sub("A", crit, "Benign"), sub("B", crit, "Likely_benign")}, "Benign/Likely_benign", "criteria_provided,_multiple_submitters,_no_conflicts", "Likely_benign(1)|Benign(1)"},
		{"conflict", []Submission{sub("A", crit, "Uncertain_significance"), sub("B", crit, "Likely_benign"), sub("C", crit, "Uncertain_significance")}, "Conflicting_interpretations_of_pathogenicity", "criteria_provided,_conflicting_interpretations", "Uncertain_significance(2)|Likely_benign(1)"},
		{"criteria outweigh none", []Submission{sub("OMIM", none, "Pathogenic"), sub("B", crit, "Likely_pathogenic")}, "Likely_pathogenic", "criteria_provided,_single_submitter", "Likely_pathogenic(1)"},
		{"no criteria", []Submission{sub("OMIM", none, "Likely_pathogenic"), sub("OMIM", none, "risk_factor")}, "Likely_pathogenic,_risk_factor", "no_assertion_criteria_provided", "Likely_pathogenic(1)"},
		{"other terms sorted", []Submission{sub("A", none, "risk_factor"), sub("B", none, "Affects")}, "Affects,_risk_factor", "no_assertion_criteria_provided", ""},
		{"expert panel wins", []Submission{sub("A", crit, "Benign"), sub("EP", ep, "Pathogenic"), sub("P", ep, "drug_response")}, "Pathogenic,_drug_response", "reviewed_by_expert_panel", "Pathogenic(1)"},
		{"drug response only", []Submission{sub("PharmGKB", ep, "drug_response")}, "drug_response", "reviewed_by_expert_panel", ""},
		{"low penetrance", []Submission{sub("A", crit, "Likely_pathogenic", "low_penetrance")}, "Likely_pathogenic,_low_penetrance", "criteria_provided,_single_submitter", "Likely_pathogenic(1)"},
		{"flagged left out", []Submission{sub("A", "flagged submission", "Benign"), sub("B", crit, "Pathogenic")}, "Pathogenic", "criteria_provided,_single_submitter", "Pathogenic(1)"},
		{"nothing", []Submission{sub("A", crit)}, "not_provided", "no_assertion_provided", ""},
	}
	for _, tc := range tests {
		got := AggregateSubmissions(tc.subs)
		if got.Significance != tc.sig || got.ReviewStatus != tc.rev || got.SubDetails != tc.subdetai {
			t.Errorf("%s: got %+v, want %q %q %q", tc.name, got, tc.sig, tc.rev, tc.subdetai)
		}
	}
}
