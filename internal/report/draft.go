package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// MaxDraft is the largest JSON draft ParseDraft reads.
const MaxDraft = 8 << 20

// ParseDraft reads a report draft as JSON (the Report fields, as the
// annotator writes them). Unknown fields are refused. Errors are
// *FieldError naming the field (or "body" for malformed JSON) and never
// repeat a value. The workflow fields (ID, Status, Amends, Version,
// Review, Created, Updated) are taken as given; the Store sets its own.
func ParseDraft(r io.Reader) (Report, error) {
	var rep Report
	dec := json.NewDecoder(io.LimitReader(r, MaxDraft+1))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rep); err != nil {
		return rep, decodeError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return rep, fieldErr("body", "more than one JSON object")
	}
	return rep, ValidateDraft(rep)
}

// ValidateDraft is Validate for a draft not yet completed from the
// clinical database: one that names its specimen's sample id may leave
// Patient.ID out, for Options.Complete to fill in from the order that
// names the sample (the store validates again, strictly, after that).
func ValidateDraft(r Report) error {
	if r.Patient.ID == "" && r.Specimen.SampleID != "" {
		r.Patient.ID = "from-sample" // checked as a well-formed id stands
	}
	return Validate(r)
}

func decodeError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		if se.Offset > MaxDraft {
			return fieldErr("body", "larger than %d bytes", MaxDraft)
		}
		return fieldErr("body", "malformed JSON at byte %d", se.Offset)
	case errors.As(err, &te):
		if te.Field == "" {
			return fieldErr("body", "must be a JSON object")
		}
		return fieldErr(te.Field, "must be %s", jsonType(te.Type.String()))
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return fieldErr("body", "a field the report format does not have") // its name is not repeated: it may be data
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fieldErr("body", "incomplete JSON")
	}
	var e *time.ParseError
	if errors.As(err, &e) {
		return fieldErr("body", "a time that is not RFC 3339")
	}
	return fieldErr("body", "malformed JSON")
}

func jsonType(goType string) string {
	switch {
	case goType == "string":
		return "a string"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "float"):
		return "a number"
	case goType == "bool":
		return "true or false"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	}
	return "an object"
}

// Allowed values of the coded fields ("" is allowed too: unknown).
var (
	sexes           = []string{"male", "female", "other", "unknown"}
	zygosities      = []string{"heterozygous", "homozygous", "hemizygous"}
	origins         = []string{"germline", "somatic"}
	classifications = []string{"Pathogenic", "Likely pathogenic", "Uncertain significance", "Likely benign", "Benign"}
	strengths       = []string{"very strong", "strong", "moderate", "supporting", "stand-alone"}
	assays          = []string{"wgs", "exome", "panel", "rnaseq"}
)

// Validate checks what a report must hold before it is stored. The ids
// that are kept in the clear (Patient.ID, Order.ID) must be internal,
// pseudonymous ids: short, of letters, digits and ".-_:".
func Validate(r Report) error {
	if err := checkID("Patient.ID", r.Patient.ID, true); err != nil {
		return err
	}
	if err := checkID("Order.ID", r.Order.ID, false); err != nil {
		return err
	}
	if err := checkID("Specimen.ID", r.Specimen.ID, false); err != nil {
		return err
	}
	if strings.TrimSpace(r.Test.Name) == "" {
		return fieldErr("Test.Name", "required")
	}
	for _, c := range []struct{ field, v string }{
		{"Patient.BirthDate", r.Patient.BirthDate}, {"Order.OrderedDate", r.Order.OrderedDate},
		{"Specimen.Collected", r.Specimen.Collected}, {"Specimen.Received", r.Specimen.Received},
	} {
		if c.v != "" {
			if _, err := time.Parse(time.DateOnly, c.v); err != nil {
				return fieldErr(c.field, "must be a date YYYY-MM-DD")
			}
		}
	}
	if err := oneOf("Patient.Sex", r.Patient.Sex, sexes); err != nil {
		return err
	}
	if err := oneOf("Test.Assay", r.Test.Assay, assays); err != nil {
		return err
	}
	for i, g := range r.Regions {
		f := fmt.Sprintf("Regions[%d]", i)
		switch {
		case g.Chrom == "":
			return fieldErr(f+".Chrom", "required")
		case g.Start < 0 || g.End <= g.Start:
			return fieldErr(f+".End", "must be after Start (0-based, half-open)")
		case g.Covered20x < 0 || g.Covered20x > 1:
			return fieldErr(f+".Covered20x", "must be a fraction from 0 to 1")
		case g.MeanDepth < 0:
			return fieldErr(f+".MeanDepth", "must not be negative")
		}
	}
	for i, v := range r.Variants {
		if err := validateVariant(fmt.Sprintf("Variants[%d]", i), v); err != nil {
			return err
		}
	}
	for i, q := range r.QC {
		if q.Name == "" {
			return fieldErr(fmt.Sprintf("QC[%d].Name", i), "required")
		}
	}
	return nil
}

func validateVariant(f string, v Variant) error {
	switch {
	case v.Chrom == "":
		return fieldErr(f+".Chrom", "required")
	case v.Pos < 1:
		return fieldErr(f+".Pos", "must be 1 or more (1-based)")
	case v.Ref == "" || v.Alt == "":
		return fieldErr(f+".Alt", "Ref and Alt are required")
	case v.Gene == "":
		return fieldErr(f+".Gene", "required")
	case v.AlleleFreq > 1:
		return fieldErr(f+".AlleleFreq", "must be a fraction (negative when unknown)")
	case v.Depth < 0 || v.AltDepth < 0 || (v.Depth > 0 && v.AltDepth > v.Depth):
		return fieldErr(f+".AltDepth", "must be from 0 to Depth")
	}
	if err := oneOf(f+".Zygosity", v.Zygosity, zygosities); err != nil {
		return err
	}
	if err := oneOf(f+".Origin", v.Origin, origins); err != nil {
		return err
	}
	if err := oneOf(f+".Classification", v.Classification, classifications); err != nil {
		return err
	}
	for j, e := range v.Evidence {
		g := fmt.Sprintf("%s.Evidence[%d]", f, j)
		if e.Criterion == "" {
			return fieldErr(g+".Criterion", "required")
		}
		if err := oneOf(g+".Strength", e.Strength, strengths); err != nil {
			return err
		}
	}
	return nil
}

func oneOf(field, v string, allowed []string) error {
	if v == "" || slices.Contains(allowed, v) {
		return nil
	}
	return fieldErr(field, "must be one of %q", allowed)
}

// checkID checks an id kept in the clear.
func checkID(field, v string, required bool) error {
	if v == "" {
		if required {
			return fieldErr(field, "required")
		}
		return nil
	}
	if len(v) > 128 {
		return fieldErr(field, "longer than 128 characters")
	}
	for _, c := range v {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(".-_:", c)) {
			return fieldErr(field, "must be an internal id (letters, digits, '.', '-', '_', ':')")
		}
	}
	return nil
}
