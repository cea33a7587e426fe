package oru

import (
	"time"

	"github.com/clinomics/clinomics/internal/hl7"
	"github.com/clinomics/clinomics/internal/report"
)

// signedAt is when the test reports were signed.
var signedAt = time.Date(2026, 3, 10, 14, 30, 0, 0, time.UTC)

// testOptions is the envelope of the golden messages.
func testOptions() Options {
	return Options{
		SendingApp: hl7.HD{Namespace: "CLINOMICS"}, SendingFacility: hl7.HD{Namespace: "GENLAB"},
		ReceivingApp: hl7.HD{Namespace: "EPIC"}, ReceivingFacility: hl7.HD{Namespace: "HOSP"},
		ControlID: "ORU-0001", Time: signedAt.Add(time.Minute),
	}
}

// nastyComment holds every delimiter, to prove the writer escapes them.
const nastyComment = `Segregates with disease | phase ^ unknown & checked ~ twice \ see note`

// threeVariants is a signed panel report: a pathogenic BRCA1 deletion,
// an unclassified ATM variant with a comment full of delimiters, and a
// homozygous benign BRCA2 variant.
func threeVariants() report.Report {
	return report.Report{
		ID: "rpt-0001", Status: report.Signed, Version: 1,
		Patient: report.Patient{ID: "pat-7f3a", MRN: "MRN100", Authority: "HOSP", Family: "Müller", Given: "Anna",
			BirthDate: "1980-02-29", Sex: "female"},
		Order: report.Order{ID: "ord-1", Placer: "PO-77", Filler: "F-1", Code: "81247-9", CodeSystem: "http://loinc.org",
			Display: "Master HL7 genetic variant reporting panel", OrderedBy: "Smith, John", OrderedDate: "2026-02-01",
			Reason: "Family history of breast cancer"},
		Specimen: report.Specimen{ID: "spc-1", SampleID: "S-2026-0042", Type: "Blood", Collected: "2026-02-02", Received: "2026-02-03"},
		Test:     report.Test{Name: "Hereditary cancer panel", Assay: "panel", Panel: "HBOC v2", Assembly: "GRCh38"},
		Regions: []report.Region{
			{Chrom: "chr17", Start: 43044294, End: 43125483, Gene: "BRCA1"},
			{Chrom: "chr13", Start: 32315479, End: 32400672, Gene: "BRCA2"},
			{Chrom: "chr11", Start: 108222484, End: 108369102, Gene: "ATM"},
		},
		Variants: []report.Variant{
			{Chrom: "chr17", Pos: 43124027, Ref: "ACT", Alt: "A", Gene: "BRCA1", GeneID: "HGNC:1100", Transcript: "NM_007294.4",
				HGVSc: "c.68_69del", HGVSp: "p.(Glu23ValfsTer17)", HGVSg: "NC_000017.11:g.43124028_43124029del",
				Zygosity: "heterozygous", AlleleFreq: 0.48, Depth: 210, AltDepth: 101, Origin: "germline",
				Classification: "Pathogenic", Condition: "Hereditary breast and ovarian cancer syndrome", PopulationAF: -1,
				Evidence: []report.Evidence{{Criterion: "PVS1", Strength: "very strong", Confirmed: true}}},
			{Chrom: "chr11", Pos: 108272729, Ref: "G", Alt: "A", Gene: "ATM", GeneID: "HGNC:795", Transcript: "NM_000051.4",
				HGVSc: "NM_000051.4:c.1234G>A", HGVSp: "p.(Gly412Ser)", Zygosity: "heterozygous", AlleleFreq: 0.51, Depth: 180,
				Origin: "germline", PopulationAF: -1, Comment: nastyComment},
			{Chrom: "chr13", Pos: 32355250, Ref: "T", Alt: "C", Gene: "BRCA2", GeneID: "HGNC:1101", Transcript: "NM_000059.4",
				HGVSc: "c.7397T>C", HGVSp: "p.(Val2466Ala)", HGVSg: "NC_000013.11:g.32355250T>C", RefSeqID: "NC_000013.11",
				Zygosity: "homozygous", AlleleFreq: 1, Depth: 95, AltDepth: 95, Origin: "germline", Classification: "Benign",
				PopulationAF: 0.97},
		},
		Conclusion: "Positive: a pathogenic BRCA1 variant was found.\nGenetic counselling is recommended | see ^ notes & ~ \\ below.",
		Review: []report.Signature{
			{Action: "drafted", By: "u-analyst", Name: "Doe, Jane", At: signedAt.Add(-2 * time.Hour)},
			{Action: "reviewed", By: "u-analyst", Name: "Doe, Jane", At: signedAt.Add(-time.Hour)},
			{Action: "signed", By: "u-director", Name: "Moreau, Claire", At: signedAt},
		},
	}
}

// noVariantReport is threeVariants with nothing to report.
func noVariantReport() report.Report {
	r := threeVariants()
	r.ID = "rpt-0002"
	r.Variants, r.Conclusion = nil, ""
	return r
}

// amendedReport corrects threeVariants: the ATM variant is now classified.
func amendedReport() report.Report {
	r := threeVariants()
	r.ID, r.Amends, r.Version = "rpt-0003", "rpt-0001", 2
	r.Variants[1].Classification = "Uncertain significance"
	r.Review = append(r.Review, report.Signature{Action: "signed", By: "u-director", Name: "Moreau, Claire", At: signedAt.Add(24 * time.Hour)})
	return r
}
