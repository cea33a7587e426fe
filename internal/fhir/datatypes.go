package fhir

// Extra holds the JSON members of an element or resource that this
// package does not model, by name, as decoded with json.Decoder.UseNumber:
// objects are map[string]any, arrays []any, numbers json.Number (their
// literal text), and so on. Primitive extensions ("_birthDate") and
// unknown properties land here, as do values the typed form cannot
// represent (an array holding null, an empty string, array or object).
// Marshal writes them back after the modelled members, sorted by name; a
// member that is also set in a modelled field is written once, from the
// field.
type Extra map[string]any

// Decimal is a FHIR decimal kept as its JSON number literal, so that
// "1.50" stays 1.50 (precision is significant in FHIR). The zero value
// means absent.
type Decimal string

// Element is what every FHIR datatype has: an id, extensions, and the
// members not modelled here.
type Element struct {
	ID        string      `json:"id"`
	Extension []Extension `json:"extension"`
	Extra     Extra       `json:"-"`
}

// BackboneElement is an element nested in a resource, which may also carry
// modifier extensions.
type BackboneElement struct {
	Element
	ModifierExtension []Extension `json:"modifierExtension"`
}

// Coding is a code from a code system.
type Coding struct {
	Element
	System       string `json:"system"`
	Version      string `json:"version"`
	Code         string `json:"code"`
	Display      string `json:"display"`
	UserSelected *bool  `json:"userSelected"`
}

// CodeableConcept is a concept given by codings and/or text.
type CodeableConcept struct {
	Element
	Coding []Coding `json:"coding"`
	Text   string   `json:"text"`
}

// Identifier is a business identifier: a value in a namespace (system).
type Identifier struct {
	Element
	Use      string           `json:"use"`
	Type     *CodeableConcept `json:"type"`
	System   string           `json:"system"`
	Value    string           `json:"value"`
	Period   *Period          `json:"period"`
	Assigner *Reference       `json:"assigner"`
}

// Reference points at another resource: by literal reference (a relative
// or absolute URL, or a urn:uuid: fullUrl of the same bundle), by logical
// identifier, or only by display text.
type Reference struct {
	Element
	Reference  string      `json:"reference"`
	Type       string      `json:"type"`
	Identifier *Identifier `json:"identifier"`
	Display    string      `json:"display"`
}

// Period is a time range; either end may be open.
type Period struct {
	Element
	Start string `json:"start"`
	End   string `json:"end"`
}

// Quantity is a measured amount, usually with a UCUM unit.
type Quantity struct {
	Element
	Value      Decimal `json:"value"`
	Comparator string  `json:"comparator"`
	Unit       string  `json:"unit"`
	System     string  `json:"system"`
	Code       string  `json:"code"`
}

// Range is a set of ordered quantities between low and high, inclusive.
type Range struct {
	Element
	Low  *Quantity `json:"low"`
	High *Quantity `json:"high"`
}

// Ratio is a ratio of two quantities.
type Ratio struct {
	Element
	Numerator   *Quantity `json:"numerator"`
	Denominator *Quantity `json:"denominator"`
}

// Attachment is content inline (Data, base64) or by URL.
type Attachment struct {
	Element
	ContentType string `json:"contentType"`
	Language    string `json:"language"`
	Data        string `json:"data"` // base64
	URL         string `json:"url"`
	Size        *int64 `json:"size"`
	Hash        string `json:"hash"` // base64 SHA-1
	Title       string `json:"title"`
	Creation    string `json:"creation"`
}

// Meta is metadata about a resource: version, profiles claimed, tags.
type Meta struct {
	Element
	VersionID   string   `json:"versionId"`
	LastUpdated string   `json:"lastUpdated"`
	Source      string   `json:"source"`
	Profile     []string `json:"profile"`
	Security    []Coding `json:"security"`
	Tag         []Coding `json:"tag"`
}

// Narrative is the human-readable XHTML summary of a resource.
type Narrative struct {
	Element
	Status string `json:"status"`
	Div    string `json:"div"`
}

// HumanName is a person's name.
type HumanName struct {
	Element
	Use    string   `json:"use"`
	Text   string   `json:"text"`
	Family string   `json:"family"`
	Given  []string `json:"given"`
	Prefix []string `json:"prefix"`
	Suffix []string `json:"suffix"`
	Period *Period  `json:"period"`
}

// ContactPoint is a phone number, email address and the like.
type ContactPoint struct {
	Element
	System string  `json:"system"`
	Value  string  `json:"value"`
	Use    string  `json:"use"`
	Rank   *int64  `json:"rank"`
	Period *Period `json:"period"`
}

// Address is a postal address.
type Address struct {
	Element
	Use        string   `json:"use"`
	Type       string   `json:"type"`
	Text       string   `json:"text"`
	Line       []string `json:"line"`
	City       string   `json:"city"`
	District   string   `json:"district"`
	State      string   `json:"state"`
	PostalCode string   `json:"postalCode"`
	Country    string   `json:"country"`
	Period     *Period  `json:"period"`
}

// Annotation is a note with its author and time.
type Annotation struct {
	Element
	AuthorReference *Reference `json:"authorReference"`
	AuthorString    string     `json:"authorString"`
	Time            string     `json:"time"`
	Text            string     `json:"text"`
}

// Value holds the value[x] choices this package models for Extension and
// Task parameters; at most one is set. Other choices (valueRatio,
// valueSampledData, ...) are kept in the owner's Extra.
type Value struct {
	ValueString          string           `json:"valueString"`
	ValueCode            string           `json:"valueCode"`
	ValueURI             string           `json:"valueUri"`
	ValueURL             string           `json:"valueUrl"`
	ValueCanonical       string           `json:"valueCanonical"`
	ValueID              string           `json:"valueId"`
	ValueMarkdown        string           `json:"valueMarkdown"`
	ValueBoolean         *bool            `json:"valueBoolean"`
	ValueInteger         *int64           `json:"valueInteger"`
	ValueDecimal         Decimal          `json:"valueDecimal"`
	ValueDate            string           `json:"valueDate"`
	ValueDateTime        string           `json:"valueDateTime"`
	ValueInstant         string           `json:"valueInstant"`
	ValueCodeableConcept *CodeableConcept `json:"valueCodeableConcept"`
	ValueCoding          *Coding          `json:"valueCoding"`
	ValueReference       *Reference       `json:"valueReference"`
	ValueIdentifier      *Identifier      `json:"valueIdentifier"`
	ValueQuantity        *Quantity        `json:"valueQuantity"`
	ValuePeriod          *Period          `json:"valuePeriod"`
	ValueRange           *Range           `json:"valueRange"`
	ValueAttachment      *Attachment      `json:"valueAttachment"`
}

// Extension is an additional element defined by the URL of its
// StructureDefinition: a value, or nested extensions (complex extension).
type Extension struct {
	Element
	URL string `json:"url"`
	Value
}
