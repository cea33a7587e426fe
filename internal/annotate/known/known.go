// Package known looks up what is already known about a variant: ClinVar
// assertions (from ClinVar's VCF, or from its ClinVarSet release XML,
// which this package converts to a ClinVar-style VCF), population allele
// frequencies (gnomAD-style VCF) and a site's own VCF or BED files.
//
// Every source is an in-memory Index: one sorted slice of alleles per
// chromosome, searched by binary search, holding only the INFO values the
// source reports. Alleles are normalised the same way when the index is
// built and when it is queried (shared suffix, then shared prefix trimmed,
// keeping one anchor base as VCF does; indels left-aligned when a
// Reference is given), so an indel written differently in the sample VCF
// still matches. Chromosome names match across the "chr1"/"1" and
// "chrM"/"MT" conventions.
//
// Each source has the method set the annotate package declares for a
// Source: Name, Fields (the INFO keys it adds) and Lookup (nil when
// nothing is known).
package known

import (
	"errors"
	"fmt"
)

// Sentinel causes, wrapped by ParseError or by errors naming a file and
// line.
var (
	// ErrSyntax marks input that is not well-formed (malformed or
	// truncated XML, an INFO value list of the wrong length).
	ErrSyntax = errors.New("malformed input")
	// ErrLimit marks input exceeding one of the reader's size limits.
	ErrLimit = errors.New("input exceeds a size limit")
	// ErrNotClinVar marks XML whose root is neither ReleaseSet nor
	// ClinVarSet.
	ErrNotClinVar = errors.New("not ClinVar release XML")
	// ErrUnknownClassification marks a submitted classification that is
	// not one of ClinVar's terms.
	ErrUnknownClassification = errors.New("unknown clinical significance term")
	// ErrAllele marks an allele that cannot be normalised (empty, or a
	// reference that does not cover it).
	ErrAllele = errors.New("bad allele")
	// ErrNoKey marks an INFO key asked of a VCF that does not have it.
	ErrNoKey = errors.New("no such INFO key")
)

// ParseError is an error at a position in an input file.
type ParseError struct {
	File   string
	Line   int // 1-based; 0 when unknown
	Column int // 1-based; 0 when unknown
	Err    error
}

func (e *ParseError) Error() string {
	switch {
	case e.Line > 0 && e.Column > 0:
		return fmt.Sprintf("%s: line %d, column %d: %v", e.File, e.Line, e.Column, e.Err)
	case e.Line > 0:
		return fmt.Sprintf("%s: line %d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.File, e.Err)
}

func (e *ParseError) Unwrap() error { return e.Err }
