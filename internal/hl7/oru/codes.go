package oru

// cwe is a coded value written to the components of a CWE.
type cwe struct{ Code, Text, System string }

// ln is a LOINC code (coding system LN).
func ln(code, text string) cwe { return cwe{code, text, "LN"} }

// The observations (OBX-3) of the message.
var (
	obsPanel          = ln("53041-0", "DNA region of interest panel")
	obsRefSeq         = ln("48013-7", "Genomic reference sequence")
	obsRange          = ln("51959-5", "Range(s) of DNA sequence examined")
	obsOverall        = ln("51968-6", "Genetic analysis overall interpretation")
	obsReport         = ln("51969-4", "Genetic analysis report")
	obsCategory       = ln("83005-9", "Variant category")
	obsDisplayName    = ln("47998-0", "Variant display name")
	obsAssessment     = ln("69548-6", "Genetic variant assessment")
	obsGene           = ln("48018-6", "Gene studied")
	obsDNAChange      = ln("48004-6", "DNA change c.HGVS")
	obsAminoAcid      = ln("48005-3", "Amino acid change p.HGVS")
	obsRefAllele      = ln("69547-8", "Genomic ref allele")
	obsAltAllele      = ln("69551-0", "Genomic alt allele")
	obsStartEnd       = ln("81254-5", "Genomic allele start-end")
	obsCoordSystem    = ln("92822-6", "Genomic coord system")
	obsAssembly       = ln("62374-4", "Human reference sequence assembly version")
	obsChromosome     = ln("48000-4", "Chromosome")
	obsAllelicState   = ln("53034-5", "Allelic state")
	obsAlleleFreq     = ln("81258-6", "Sample variant allelic frequency")
	obsAllelicDepth   = ln("82121-5", "Allelic read depth")
	obsSourceClass    = ln("48002-0", "Genomic source class")
	obsMethod         = ln("81304-8", "Variant analysis method")
	obsSignificance   = ln("53037-8", "Genetic sequence variation clinical significance")
	obsPhenotype      = ln("81259-4", "Associated phenotype")
	ansPresent        = ln("LA9633-4", "Present")
	ansSimple         = ln("LA26801-3", "Simple")
	ansSequencing     = ln("LA26398-0", "Sequencing")
	ansOneBased       = ln("LA30102-0", "1-based character counting")
	ansPositive       = ln("LA6576-8", "Positive")
	ansNegative       = ln("LA6577-6", "Negative")
	ansInconclusive   = ln("LA9663-1", "Inconclusive")
	answersZygosity   = map[string]cwe{"heterozygous": ln("LA6706-1", "Heterozygous"), "homozygous": ln("LA6705-3", "Homozygous"), "hemizygous": ln("LA6707-9", "Hemizygous")}
	answersOrigin     = map[string]cwe{"germline": ln("LA6683-2", "Germline"), "somatic": ln("LA6684-0", "Somatic")}
	answersAssembly   = map[string]cwe{"grch37": ln("LA14029-5", "GRCh37"), "grch38": ln("LA26806-2", "GRCh38")}
	answersClinSig    = map[string]cwe{"pathogenic": ln("LA6668-3", "Pathogenic"), "likely pathogenic": ln("LA26332-9", "Likely pathogenic"), "uncertain significance": ln("LA26333-7", "Uncertain significance"), "likely benign": ln("LA26334-5", "Likely benign"), "benign": ln("LA6675-8", "Benign")}
	codeSystemsByURI  = map[string]string{"http://loinc.org": "LN", "http://snomed.info/sct": "SCT", "http://www.ama-assn.org/go/cpt": "CPT"}
	sexCodes          = map[string]string{"male": "M", "female": "F", "other": "O", "unknown": "U"}
	diagnosticSection = "GE" // OBR-24, table 0074: genetics
)

// subLetters numbers groups as vcf2hl7v2 does, a to z, then aa, ab, ...
// (bijective base 26) for more than 26.
func subLetters(i int) string {
	var b []byte
	for i++; i > 0; i = (i - 1) / 26 {
		b = append([]byte{byte('a' + (i-1)%26)}, b...)
	}
	return string(b)
}
