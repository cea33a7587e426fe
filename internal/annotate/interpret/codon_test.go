package interpret

import (
	"slices"
	"testing"

	"github.com/clinomics/clinomics/internal/annotate/known"
	"github.com/clinomics/clinomics/internal/report"
)

func TestCodonIndex(t *testing.T) {
	rec := func(pos int64, alt, id, sig string) known.ClinVarRecord {
		return known.ClinVarRecord{Chrom: "7", Pos: pos, Ref: "C", Alt: alt, ClinVar: report.ClinVar{ID: id, Significance: sig}}
	}
	records := []known.ClinVarRecord{
		rec(100, "T", "1", "Pathogenic"),                   // codon 12 Gly>Asp
		rec(101, "A", "2", "Likely_pathogenic"),            // codon 12 Gly>Asp, another change
		rec(100, "G", "3", "Pathogenic/Likely_pathogenic"), // codon 12 Gly>Val
		rec(100, "A", "4", "Uncertain_significance"),       // codon 12 Gly>Ser: not indexed
		rec(104, "T", "5", "Pathogenic,_risk_factor"),      // codon 13
		rec(200, "T", "6", "Pathogenic"),                   // not in a codon
		rec(100, "A", "7", "Conflicting_interpretations_of_pathogenicity"),
	}
	// locate is the fake annotator: codon 12 spans 100-102, 13 spans 103-105.
	locate := func(chrom string, pos int64, ref, alt string) (string, int, string, bool) {
		if chrom != "7" || pos < 100 || pos > 105 {
			return "", 0, "", false
		}
		codon := 12 + int(pos-100)/3
		aa := map[string]string{"T": "D", "A": "Asp", "G": "V"}[alt]
		return "KRAS", codon, aa, true
	}
	x := NewCodonIndex(slices.Values(records), locate)
	if x.Len() != 4 {
		t.Errorf("Len %d", x.Len())
	}
	// The variant 7:102 C>T gives Gly12Asp too: PS1 from record 1 (Pathogenic preferred to 2).
	same, others := x.Lookup("kras", 12, "Asp", "chr7", 102, "C", "T")
	if same == nil || same.ID != "1" || len(others) != 1 || others[0].ID != "3" {
		t.Errorf("Lookup = %+v, %+v", same, others)
	}
	// Record 1 itself: the other Asp change (2) is its PS1, not itself.
	same, _ = x.Lookup("KRAS", 12, "D", "7", 100, "C", "T")
	if same == nil || same.ID != "2" {
		t.Errorf("Lookup of record 1 = %+v", same)
	}
	// A new change, Gly12Cys: no PS1, PM5 from the three others.
	same, others = x.Lookup("KRAS", 12, "Cys", "7", 101, "C", "G")
	if same != nil || len(others) != 3 {
		t.Errorf("Gly12Cys: %+v, %+v", same, others)
	}
	if same, others := x.Lookup("KRAS", 14, "Cys", "7", 106, "C", "G"); same != nil || others != nil {
		t.Error("codon 14 is empty")
	}
}
