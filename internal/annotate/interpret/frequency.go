package interpret

// FrequencyFilter drops common variants.
type FrequencyFilter struct {
	// MaxAF is the highest population allele frequency kept.
	MaxAF float64
}

// Keep reports whether a variant with population allele frequency af
// passes: af at most MaxAF. A negative af (unknown, or absent from the
// population database) passes.
func (f FrequencyFilter) Keep(af float64) bool { return af < 0 || af <= f.MaxAF }
