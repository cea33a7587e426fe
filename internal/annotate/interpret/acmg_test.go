package interpret

import (
	"slices"
	"strings"
	"testing"

	"github.com/clinomics/clinomics/internal/report"
)

func criteria(ev []report.Evidence) []string {
	var out []string
	for _, e := range ev {
		out = append(out, e.Criterion+":"+e.Strength)
	}
	return out
}

func TestSuggest(t *testing.T) {
	path := &report.ClinVar{ID: "12345", Significance: "Pathogenic", ReviewStatus: "reviewed_by_expert_panel"}
	lp := &report.ClinVar{ID: "222", Significance: "Likely_pathogenic"}
	vus := &report.ClinVar{ID: "333", Significance: "Uncertain_significance"}
	base := func(f func(*Input)) Input {
		in := Input{Gene: "BRCA2", PopulationAF: 0.001, PopulationQueried: true, PopulationAC: -1, PopulationHom: -1}
		f(&in)
		return in
	}
	tests := []struct {
		name  string
		in    Input
		want  []string
		notes []string
		text  string // in the first criterion's text
	}{
		{"stop gained in LoF gene, absent", base(func(in *Input) {
			in.Consequences, in.InLoFGene, in.PopulationAF = []string{"stop_gained"}, true, -1
		}), []string{"PVS1:very strong", "PM2:supporting"}, nil, "stop_gained in BRCA2"},
		{"frameshift not LoF gene", base(func(in *Input) {
			in.Consequences, in.PopulationAF, in.PopulationAC = []string{"frameshift_variant"}, 0.00001, 2
		}), []string{"PM2:supporting"}, []string{"PVS1"}, "population AF 1e-05 < 0.0001 (AC 2)"},
		{"start lost", base(func(in *Input) { in.Consequences, in.InLoFGene, in.PopulationAF = []string{"start_lost"}, true, 0.02 }),
			[]string{"PVS1:moderate", "BS1:strong"}, nil, "start_lost"},
		{"common", base(func(in *Input) { in.PopulationAF = 0.06 }), []string{"BA1:stand-alone"}, nil, "population AF 0.06 > 0.05"},
		{"bs1", base(func(in *Input) { in.PopulationAF = 0.02 }), []string{"BS1:strong"}, nil, "0.02 > 0.01"},
		{"no population data", base(func(in *Input) { in.PopulationAF, in.PopulationQueried = -1, false }), nil, []string{"PM2"}, ""},
		{"PS1", base(func(in *Input) {
			in.Consequences, in.HGVSp, in.ClinVarSameChange, in.PopulationAF = []string{"missense_variant"}, "p.(Gly12Asp)", path, 0
		}), []string{"PM2:supporting", "PS1:strong"}, nil, "population AF 0 < 0.0001"},
		{"PS1 from likely pathogenic is moderate", base(func(in *Input) {
			in.Consequences, in.ClinVarSameChange = []string{"missense_variant"}, lp
		}), []string{"PS1:moderate"}, nil, "ClinVar 222"},
		{"PS1 not from VUS; PM5", base(func(in *Input) {
			in.Consequences, in.ClinVarSameChange, in.ClinVarSameCodon = []string{"missense_variant"}, vus, []report.ClinVar{*path, *vus}
			in.ProteinPos, in.RefAA, in.AltAA = 12, "G", "v"
		}), []string{"PM5:moderate"}, []string{"PS1"}, "Gly12Val at codon 12"},
		{"PM5 not with PS1", base(func(in *Input) {
			in.Consequences, in.ClinVarSameChange, in.ClinVarSameCodon = []string{"missense_variant"}, path, []report.ClinVar{*lp}
		}), []string{"PS1:strong"}, []string{"PM5"}, ""},
		{"inframe, repeat unknown", base(func(in *Input) { in.Consequences = []string{"inframe_deletion"} }),
			[]string{"PM4:moderate"}, nil, "repeat regions were not checked"},
		{"inframe in repeat", base(func(in *Input) {
			in.Consequences, in.RepeatKnown, in.InRepeat = []string{"inframe_insertion"}, true, true
		}),
			[]string{"BP3:supporting"}, []string{"PM4"}, "repeat region"},
		{"stop lost", base(func(in *Input) { in.Consequences = []string{"stop_lost"} }), []string{"PM4:moderate"}, nil, "stop_lost"},
		{"synonymous", base(func(in *Input) { in.Consequences = []string{"synonymous_variant"} }), []string{"BP7:supporting"}, nil, "synonymous"},
		{"synonymous in splice region", base(func(in *Input) { in.Consequences = []string{"synonymous_variant", "splice_region_variant"} }),
			nil, []string{"BP7"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, notes := Suggest(tc.in, Config{})
			got := criteria(ev)
			slices.Sort(got)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("criteria %q, want %q", got, want)
			}
			var noted []string
			for _, n := range notes {
				noted = append(noted, n.Criterion)
				if n.Text == "" {
					t.Errorf("note %s without text", n.Criterion)
				}
			}
			if !slices.Equal(noted, tc.notes) {
				t.Errorf("notes %v, want %v", notes, tc.notes)
			}
			for _, e := range ev {
				if e.Confirmed || e.Text == "" {
					t.Errorf("%s: confirmed %v, text %q", e.Criterion, e.Confirmed, e.Text)
				}
			}
			if tc.text != "" && !slices.ContainsFunc(ev, func(e report.Evidence) bool { return strings.Contains(e.Text, tc.text) }) {
				t.Errorf("no text contains %q: %+v", tc.text, ev)
			}
		})
	}
}

func TestSuggestConfig(t *testing.T) {
	in := Input{PopulationAF: 0.0005, PopulationQueried: true, PopulationAC: -1, PopulationHom: -1}
	if ev, _ := Suggest(in, Config{}); len(ev) != 0 {
		t.Errorf("default: %q", criteria(ev))
	}
	if ev, _ := Suggest(in, Config{PM2MaxAF: 0.001}); !slices.Equal(criteria(ev), []string{"PM2:supporting"}) {
		t.Errorf("PM2MaxAF 0.001: %q", criteria(ev))
	}
	if ev, _ := Suggest(in, Config{BS1MinAF: 0.0001}); !slices.Equal(criteria(ev), []string{"BS1:strong"}) {
		t.Errorf("BS1MinAF 0.0001: %q", criteria(ev))
	}
}

func ev(specs ...string) []report.Evidence {
	var out []report.Evidence
	for _, s := range specs {
		c, strength, _ := strings.Cut(s, ":")
		if strength == "" {
			switch c[:2] {
			case "PV":
				strength = VeryStrong
			case "PS", "BS":
				strength = Strong
			case "PM":
				strength = Moderate
			case "BA":
				strength = StandAlone
			default:
				strength = Supporting
			}
		}
		out = append(out, report.Evidence{Criterion: c, Strength: strength})
	}
	return out
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		ev   []report.Evidence
		want string
	}{
		{"PVS1+PS1", ev("PVS1", "PS1"), Pathogenic},
		{"PVS1+PM2 supporting", ev("PVS1", "PM2:supporting"), LikelyPathogenic},
		{"PVS1+PM1", ev("PVS1", "PM1"), LikelyPathogenic},
		{"PVS1+2 PM", ev("PVS1", "PM1", "PM5"), Pathogenic},
		{"PVS1+PM+PP", ev("PVS1", "PM1", "PM2:supporting"), Pathogenic},
		{"PVS1+2 PP", ev("PVS1", "PP3", "PM2:supporting"), Pathogenic},
		{"PVS1 alone", ev("PVS1"), UncertainSignificance},
		{"2 PS", ev("PS1", "PS3"), Pathogenic},
		{"PS+3 PM", ev("PS1", "PM1", "PM4", "PM5"), Pathogenic},
		{"PS+2 PM+2 PP", ev("PS1", "PM1", "PM5", "PP3", "PM2:supporting"), Pathogenic},
		{"PS+1 PM+4 PP", ev("PS1", "PM1", "PP1", "PP2", "PP3", "PM2:supporting"), Pathogenic},
		{"PS+1 PM", ev("PS1", "PM5"), LikelyPathogenic},
		{"PS+2 PP", ev("PS1", "PP3", "PM2:supporting"), LikelyPathogenic},
		{"PS alone", ev("PS1"), UncertainSignificance},
		{"3 PM", ev("PM1", "PM4", "PM5"), LikelyPathogenic},
		{"2 PM+2 PP", ev("PM1", "PM5", "PP3", "PM2:supporting"), LikelyPathogenic},
		{"1 PM+4 PP", ev("PM1", "PP1", "PP2", "PP3", "PM2:supporting"), LikelyPathogenic},
		{"PM2 only", ev("PM2:supporting"), UncertainSignificance},
		{"BA1", ev("BA1"), Benign},
		{"2 BS", ev("BS1", "BS2"), Benign},
		{"BS+BP", ev("BS1", "BP7"), LikelyBenign},
		{"2 BP", ev("BP3", "BP7"), LikelyBenign},
		{"BS alone", ev("BS1"), UncertainSignificance},
		{"nothing", nil, UncertainSignificance},
		{"conflicting", ev("PVS1", "PS1", "BS1", "BP7"), UncertainSignificance},
		{"conflicting with BA1", ev("PVS1", "PM2:supporting", "BA1"), UncertainSignificance},
		{"PS1 at moderate", ev("PVS1", "PS1:moderate"), LikelyPathogenic},
	}
	for _, tc := range tests {
		got, rule := Classify(tc.ev)
		if got != tc.want || rule == "" {
			t.Errorf("%s: %q (%s), want %q", tc.name, got, rule, tc.want)
		}
	}
}
