// Package oru builds the HL7 v2.5.1 ORU^R01 genomics result message from a
// signed clinical report and puts it on the durable outbound HL7 queue.
//
// The message is MSH, PID, ORC (RE), OBR (the order, its result status F,
// or C for an amended report, and the signer as principal result
// interpreter), an NTE naming the report an amendment replaces, the OBX
// observations, and SPM for the specimen. OBX follow the LOINC-qualified
// genetic variation model as the vcf2hl7v2 project writes it, grouped by
// OBX-4 sub-ids:
//
//	1      test-level: panel studied (53041-0), overall interpretation
//	       (51968-6), the conclusion (51969-4, TX)
//	1a     one reference sequence studied (48013-7), with its ranges
//	1a.a   (51959-5, NR, 1-based inclusive)
//	2a     one variant: 69548-6 present, 48018-6 gene, 48004-6 c.HGVS,
//	2b ... 48005-3 p.HGVS, 48013-7, 69547-8 ref and 69551-0 alt alleles,
//	       81254-5 start-end, 92822-6 coordinate system, 62374-4 assembly,
//	       48000-4 chromosome, 53034-5 allelic state, 81258-6 allele
//	       fraction, 82121-5 allelic read depth, 48002-0 genomic source
//	       class, 53037-8 clinical significance, 81259-4 condition, ...
//	(none) the report as PDF (ED, base64), when Options.PDF is given
//
// docs/hl7.md has the full mapping table and the differences from
// vcf2hl7v2. Every value goes through the hl7 writer, which escapes
// delimiters, so free text round-trips. A Message carries patient data:
// it is never logged.
package oru
