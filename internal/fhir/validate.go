package fhir

import (
	"regexp"
	"strconv"
	"strings"
)

// Validate checks the structure of a resource: the required elements and
// cardinalities of the base resources this package models, the codes of
// their required value sets (status, intent, gender, ...), a few of the
// base invariants (ext-1, att-1, obs-6, references inside a bundle), and
// the Genomics Reporting IG STU3 profiles the resource claims in
// meta.profile (genomic-report, variant, diagnostic-implication). A Bundle
// is validated with its entries. It returns nil or Issues, each with the
// location of the element. It does not check terminology beyond those
// fixed codes, nor the base FHIR JSON schema (see the npm validation
// test for that).
func Validate(r Resource) error {
	v := &validator{}
	v.resource(nameOf(r), r)
	if len(v.issues) == 0 {
		return nil
	}
	return v.issues
}

func nameOf(r Resource) string {
	if r == nil {
		return "Resource"
	}
	return r.ResourceType()
}

type validator struct {
	issues Issues
	// fullURLs of the bundle being validated, for reference resolution.
	fullURLs map[string]bool
}

func (v *validator) add(code string, err error, path, msg string) {
	v.issues = append(v.issues, &Issue{Code: code, Err: err, Expression: path, Message: msg})
}

func (v *validator) required(ok bool, path, elem string) {
	if !ok {
		v.add(CodeRequired, ErrRequired, path+elem, "minimum cardinality 1")
	}
}

func (v *validator) oneOf(val, path, elem string, allowed ...string) {
	if val == "" {
		v.required(false, path, elem)
		return
	}
	for _, a := range allowed {
		if val == a {
			return
		}
	}
	v.add(CodeValue, ErrValue, path+elem, "not a code of the required value set")
}

func (v *validator) optionalOneOf(val, path, elem string, allowed ...string) {
	if val != "" {
		v.oneOf(val, path, elem, allowed...)
	}
}

var (
	dateRE     = regexp.MustCompile(`^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?$`)
	dateTimeRE = regexp.MustCompile(`^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?)?)?$`)
	instantRE  = regexp.MustCompile(`^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))$`)
	idRE       = regexp.MustCompile(`^[A-Za-z0-9\-\.]{1,64}$`)
)

func (v *validator) pattern(re *regexp.Regexp, val, path, elem, what string) {
	if val != "" && !commonTime(re, val) && !re.MatchString(val) {
		v.add(CodeValue, ErrValue, path+elem, "not a valid "+what)
	}
}

// commonTime recognises, without the regular expression, the two shapes
// of date and time nearly every value has: "2026-03-10" (a date or
// dateTime) and "2026-03-10T14:30:00Z" (a dateTime or instant).
func commonTime(re *regexp.Regexp, s string) bool {
	digits := func(s string) bool {
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		}
		return true
	}
	date := len(s) >= 10 && digits(s[0:4]) && s[0:4] != "0000" && s[4] == '-' && digits(s[5:7]) && s[7] == '-' && digits(s[8:10]) &&
		s[5:7] >= "01" && s[5:7] <= "12" && s[8:10] >= "01" && s[8:10] <= "31"
	switch {
	case !date:
		return false
	case len(s) == 10:
		return re == dateRE || re == dateTimeRE
	case len(s) == 20:
		return (re == dateTimeRE || re == instantRE) && s[10] == 'T' && s[19] == 'Z' && s[13] == ':' && s[16] == ':' &&
			digits(s[11:13]) && digits(s[14:16]) && digits(s[17:19]) && s[11:13] <= "23" && s[14:16] <= "59" && s[17:19] <= "60"
	}
	return false
}

func idx(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

func (v *validator) base(path string, b *ResourceBase) {
	v.pattern(idRE, b.Id, path, ".id", "id")
	if b.Meta != nil {
		v.pattern(instantRE, b.Meta.LastUpdated, path, ".meta.lastUpdated", "instant")
	}
}

func (v *validator) domain(path string, d *DomainResource) {
	v.base(path, &d.ResourceBase)
	if d.Text != nil {
		v.oneOf(d.Text.Status, path, ".text.status", "generated", "extensions", "additional", "empty")
		v.required(d.Text.Div != "", path, ".text.div")
	}
	for i, c := range d.Contained {
		v.resource(idx(path+".contained", i), c)
	}
	v.extensions(path+".extension", d.Extension)
	v.extensions(path+".modifierExtension", d.ModifierExtension)
}

func (v *validator) extensions(path string, exts []Extension) {
	for i := range exts {
		e := &exts[i]
		p := idx(path, i)
		v.required(e.URL != "", p, ".url")
		hasValue := e.Value != (Value{}) || len(e.Extra) > 0 && hasValueKey(e.Extra)
		if hasValue == (len(e.Extension) > 0) {
			v.add(CodeInvalid, ErrValue, p, "ext-1: must have either extensions or value[x], not both")
		}
		v.extensions(p+".extension", e.Extension)
	}
}

func hasValueKey(x Extra) bool {
	for k := range x {
		if strings.HasPrefix(k, "value") {
			return true
		}
	}
	return false
}

func (v *validator) reference(path, elem string, r *Reference) {
	if r == nil {
		return
	}
	if r.Reference == "" && r.Identifier == nil && r.Display == "" && len(r.Extension) == 0 {
		v.add(CodeInvalid, ErrRequired, path+elem, "ref-1: a reference needs reference, identifier or display")
	}
	if v.fullURLs != nil && strings.HasPrefix(r.Reference, "urn:uuid:") && !v.fullURLs[r.Reference] {
		v.add(CodeInvalid, ErrValue, path+elem+".reference", "urn:uuid reference does not resolve inside the bundle")
	}
}

func (v *validator) references(path, elem string, rs []Reference) {
	for i := range rs {
		r := &rs[i]
		if r.Reference == "" && r.Identifier == nil && r.Display == "" && len(r.Extension) == 0 ||
			v.fullURLs != nil && strings.HasPrefix(r.Reference, "urn:uuid:") && !v.fullURLs[r.Reference] {
			v.reference(idx(path+elem, i), "", r)
		}
	}
}

func (v *validator) codeable(path, elem string, c *CodeableConcept) {
	if c == nil {
		return
	}
	for i := range c.Coding {
		if c.Coding[i].Code != "" && c.Coding[i].System == "" {
			v.add(CodeInvalid, ErrRequired, idx(path+elem+".coding", i)+".system", "a code without its system")
		}
	}
}

func (v *validator) attachment(path string, a *Attachment) {
	if a.Data != "" && a.ContentType == "" {
		v.add(CodeInvalid, ErrRequired, path+".contentType", "att-1: data needs a contentType")
	}
}

func (v *validator) resource(path string, r Resource) {
	switch r := r.(type) {
	case *Patient:
		v.patient(path, r)
	case *ServiceRequest:
		v.serviceRequest(path, r)
	case *Specimen:
		v.specimen(path, r)
	case *DiagnosticReport:
		v.diagnosticReport(path, r)
	case *Observation:
		v.observation(path, r)
	case *Bundle:
		v.bundle(path, r)
	case *Provenance:
		v.provenance(path, r)
	case *DocumentReference:
		v.documentReference(path, r)
	case *Task:
		v.task(path, r)
	case *OperationOutcome:
		v.operationOutcome(path, r)
	case *CapabilityStatement:
		v.capability(path, r)
	case *RawResource:
		v.required(validTypeName(r.Type), path, ".resourceType")
	case nil:
		v.required(false, path, "")
	}
}

func (v *validator) identifiers(path string, ids []Identifier) {
	for i := range ids {
		id := &ids[i]
		v.optionalOneOf(id.Use, idx(path, i), ".use", "usual", "official", "temp", "secondary", "old")
		v.codeable(idx(path, i), ".type", id.Type)
	}
}

func (v *validator) patient(path string, p *Patient) {
	v.domain(path, &p.DomainResource)
	v.identifiers(path+".identifier", p.Identifier)
	v.optionalOneOf(p.Gender, path, ".gender", "male", "female", "other", "unknown")
	v.pattern(dateRE, p.BirthDate, path, ".birthDate", "date")
	v.reference(path, ".managingOrganization", p.ManagingOrganization)
}

var requestStatus = []string{"draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"}

func (v *validator) serviceRequest(path string, s *ServiceRequest) {
	v.domain(path, &s.DomainResource)
	v.identifiers(path+".identifier", s.Identifier)
	v.oneOf(s.Status, path, ".status", requestStatus...)
	v.oneOf(s.Intent, path, ".intent", "proposal", "plan", "directive", "order", "original-order", "reflex-order", "filler-order", "instance-order", "option")
	v.optionalOneOf(s.Priority, path, ".priority", "routine", "urgent", "asap", "stat")
	v.required(s.Subject != nil, path, ".subject")
	v.reference(path, ".subject", s.Subject)
	v.codeable(path, ".code", s.Code)
	v.references(path, ".basedOn", s.BasedOn)
	v.references(path, ".specimen", s.Specimen)
	v.reference(path, ".requester", s.Requester)
	v.pattern(dateTimeRE, s.AuthoredOn, path, ".authoredOn", "dateTime")
}

func (v *validator) specimen(path string, s *Specimen) {
	v.domain(path, &s.DomainResource)
	v.identifiers(path+".identifier", s.Identifier)
	v.optionalOneOf(s.Status, path, ".status", "available", "unavailable", "unsatisfactory", "entered-in-error")
	v.reference(path, ".subject", s.Subject)
	v.references(path, ".request", s.Request)
	v.pattern(dateTimeRE, s.ReceivedTime, path, ".receivedTime", "dateTime")
	if s.Collection != nil {
		v.pattern(dateTimeRE, s.Collection.CollectedDateTime, path, ".collection.collectedDateTime", "dateTime")
	}
}

var reportStatus = []string{"registered", "partial", "preliminary", "final", "amended", "corrected", "appended", "cancelled", "entered-in-error", "unknown"}

func (v *validator) diagnosticReport(path string, d *DiagnosticReport) {
	v.domain(path, &d.DomainResource)
	v.identifiers(path+".identifier", d.Identifier)
	v.oneOf(d.Status, path, ".status", reportStatus...)
	v.required(d.Code != nil, path, ".code")
	v.codeable(path, ".code", d.Code)
	v.reference(path, ".subject", d.Subject)
	v.references(path, ".basedOn", d.BasedOn)
	v.references(path, ".specimen", d.Specimen)
	v.references(path, ".result", d.Result)
	v.references(path, ".performer", d.Performer)
	v.references(path, ".resultsInterpreter", d.ResultsInterpreter)
	v.pattern(dateTimeRE, d.EffectiveDateTime, path, ".effectiveDateTime", "dateTime")
	v.pattern(instantRE, d.Issued, path, ".issued", "instant")
	for i := range d.PresentedForm {
		v.attachment(idx(path+".presentedForm", i), &d.PresentedForm[i])
	}
	if claims(&d.ResourceBase, ProfileGenomicReport) {
		if !hasCoding(d.Code, LOINC, LoincGeneticReport) {
			v.add(CodeValue, ErrProfile, path+".code", "genomic-report: code must be LOINC 51969-4")
		}
		if n := countCoding(d.Category, V2DiagService, "GE"); n != 1 {
			v.add(CodeRequired, ErrProfile, path+".category", "genomic-report: exactly one category GE (v2-0074) required")
		}
		if d.EffectivePeriod != nil {
			v.add(CodeStructure, ErrProfile, path+".effectivePeriod", "genomic-report: effective[x] only dateTime")
		}
	}
}

var observationStatus = []string{"registered", "preliminary", "final", "amended", "corrected", "cancelled", "entered-in-error", "unknown"}

func (v *validator) observation(path string, o *Observation) {
	v.domain(path, &o.DomainResource)
	v.identifiers(path+".identifier", o.Identifier)
	v.oneOf(o.Status, path, ".status", observationStatus...)
	v.required(o.Code != nil, path, ".code")
	v.codeable(path, ".code", o.Code)
	v.reference(path, ".subject", o.Subject)
	v.reference(path, ".specimen", o.Specimen)
	v.references(path, ".derivedFrom", o.DerivedFrom)
	v.references(path, ".performer", o.Performer)
	v.references(path, ".hasMember", o.HasMember)
	v.pattern(dateTimeRE, o.EffectiveDateTime, path, ".effectiveDateTime", "dateTime")
	v.pattern(instantRE, o.Issued, path, ".issued", "instant")
	if o.DataAbsentReason != nil && o.HasValue() {
		v.add(CodeInvalid, ErrValue, path+".dataAbsentReason", "obs-6: dataAbsentReason only when there is no value")
	}
	v.quantity(path, ".valueQuantity", o.ValueQuantity)
	for i := range o.Component {
		c := &o.Component[i]
		// The location is built only for a component with a problem.
		if c.Code == nil || !codeableOK(c.Code) || !codeableOK(c.ValueCodeableConcept) || !quantityOK(c.ValueQuantity) ||
			c.DataAbsentReason != nil && c.HasValue() {
			p := idx(path+".component", i)
			v.required(c.Code != nil, p, ".code")
			v.codeable(p, ".code", c.Code)
			v.codeable(p, ".valueCodeableConcept", c.ValueCodeableConcept)
			v.quantity(p, ".valueQuantity", c.ValueQuantity)
			if c.DataAbsentReason != nil && c.HasValue() {
				v.add(CodeInvalid, ErrValue, p+".dataAbsentReason", "obs-6: dataAbsentReason only when there is no value")
			}
		}
	}
	if claims(&o.ResourceBase, ProfileVariant) {
		v.variantProfile(path, o)
	}
	if claims(&o.ResourceBase, ProfileDiagnosticImplication) {
		v.implicationProfile(path, o)
	}
}

// codeableOK says whether codeable would find nothing.
func codeableOK(c *CodeableConcept) bool {
	if c == nil {
		return true
	}
	for i := range c.Coding {
		if c.Coding[i].Code != "" && c.Coding[i].System == "" {
			return false
		}
	}
	return true
}

// quantityOK says whether quantity would find nothing.
func quantityOK(q *Quantity) bool {
	return q == nil || (q.Code == "" || q.System != "") && (q.Value == "" || validNumber(string(q.Value)))
}

func (v *validator) quantity(path, elem string, q *Quantity) {
	if q == nil {
		return
	}
	if q.Code != "" && q.System == "" {
		v.add(CodeInvalid, ErrRequired, path+elem+".system", "qty-3: a unit code needs its system")
	}
	if q.Value != "" && !validNumber(string(q.Value)) {
		v.add(CodeValue, ErrValue, path+elem+".value", "not a decimal")
	}
}

// genomicBase checks what every Genomics Reporting observation profile
// requires: category laboratory and GE.
func (v *validator) genomicBase(path, profile string, o *Observation) {
	if countCoding(o.Category, ObsCategory, "laboratory") != 1 || countCoding(o.Category, V2DiagService, "GE") != 1 {
		v.add(CodeRequired, ErrProfile, path+".category", profile+": categories laboratory and GE required, once each")
	}
	v.required(o.Subject != nil, path, ".subject")
}

// variantCodes are the Variant profile's component slices with at most
// one repetition, by LOINC code, and the value type each requires.
var variantCodes = [...][2]string{
	{LoincCHGVS, "CodeableConcept"}, {LoincGHGVS, "CodeableConcept"}, {LoincGenomicRefSeq, "CodeableConcept"},
	{LoincTranscriptRefSeq, "CodeableConcept"}, {LoincExactStartEnd, "Range"}, {LoincCoordinateSystem, "CodeableConcept"},
	{LoincRefAllele, "string"}, {LoincAltAllele, "string"}, {LoincGenomicSourceClass, "CodeableConcept"},
	{LoincAlleleFrequency, "Quantity"}, {LoincAllelicReadDepth, "Quantity"}, {LoincAllelicState, "CodeableConcept"},
	{LoincPHGVS, "CodeableConcept"},
	// GenomicFinding's slices
	{LoincAssembly, "CodeableConcept"}, {LoincChromosome, "CodeableConcept"},
}

// variantSlice is a component slice: its index in variantCodes and the
// value type it requires.
type variantSlice struct {
	slot int
	typ  string
}

var variantSlices = func() map[string]variantSlice {
	m := make(map[string]variantSlice, len(variantCodes))
	for i, c := range variantCodes {
		m[c[0]] = variantSlice{i, c[1]}
	}
	return m
}()

func componentValueType(c *ObservationComponent) string {
	switch {
	case c.ValueCodeableConcept != nil:
		return "CodeableConcept"
	case c.ValueQuantity != nil:
		return "Quantity"
	case c.ValueRange != nil:
		return "Range"
	case c.ValueString != "":
		return "string"
	case c.HasValue() || len(c.Extra) > 0 && hasValueKey(c.Extra):
		return "other"
	}
	return ""
}

func (v *validator) variantProfile(path string, o *Observation) {
	const prof = "variant"
	v.genomicBase(path, prof, o)
	if !hasCoding(o.Code, LOINC, LoincVariant) {
		v.add(CodeValue, ErrProfile, path+".code", "variant: code must be LOINC 69548-6")
	}
	if o.ValueCodeableConcept == nil || !hasAnyCoding(o.ValueCodeableConcept, LOINC, "LA9633-4", "LA9634-2", "LA18198-4", "LA18199-2") {
		v.add(CodeValue, ErrProfile, path+".valueCodeableConcept", "variant: value must be from LL1971-2 (Present, Absent, No call, Indeterminate)")
	}
	var seen [len(variantCodes)]int
	for i := range o.Component {
		c := &o.Component[i]
		code := loincCode(c.Code)
		slice, ok := variantSlices[code]
		if !ok {
			continue
		}
		slot, want := slice.slot, slice.typ
		p := func() string { return idx(path+".component", i) }
		if seen[slot]++; seen[slot] == 2 {
			v.add(CodeStructure, ErrCardinality, p(), "variant: component "+code+" allowed at most once")
		}
		got := componentValueType(c)
		switch {
		case got == "":
			if code != LoincAlleleFrequency && code != LoincAllelicReadDepth && code != LoincExactStartEnd &&
				code != LoincRefAllele && code != LoincAltAllele {
				v.add(CodeRequired, ErrProfile, p()+".value[x]", "variant: component "+code+" needs a value")
			}
		case got != want && !(code == LoincExactStartEnd && got == "Range"):
			v.add(CodeStructure, ErrProfile, p()+".value[x]", "variant: component "+code+" value must be "+want)
		}
		if code == LoincAlleleFrequency && c.ValueQuantity != nil && c.ValueQuantity.System != "" && c.ValueQuantity.System != UCUM {
			v.add(CodeValue, ErrProfile, p()+".valueQuantity.system", "variant: allelic frequency must be in UCUM")
		}
	}
}

func (v *validator) implicationProfile(path string, o *Observation) {
	const prof = "diagnostic-implication"
	v.genomicBase(path, prof, o)
	if !hasCoding(o.Code, TBDCodes, "diagnostic-implication") {
		v.add(CodeValue, ErrProfile, path+".code", "diagnostic-implication: code must be tbd-codes-cs#diagnostic-implication")
	}
	if o.HasValue() || hasValueKey(o.Extra) {
		v.add(CodeStructure, ErrProfile, path+".value[x]", "diagnostic-implication: value[x] is not allowed (0..0)")
	}
	if len(o.DerivedFrom) == 0 {
		v.add(CodeRequired, ErrProfile, path+".derivedFrom", "diagnostic-implication: at least one derivedFrom required")
	}
	n := 0
	for i := range o.Component {
		c := &o.Component[i]
		if loincCode(c.Code) != LoincClinicalSignificanc {
			continue
		}
		p := idx(path+".component", i)
		if n++; n == 2 {
			v.add(CodeStructure, ErrCardinality, p, "diagnostic-implication: clinical significance allowed at most once")
		}
		if c.ValueCodeableConcept == nil {
			v.add(CodeRequired, ErrProfile, p+".valueCodeableConcept", "diagnostic-implication: clinical significance needs a CodeableConcept value")
		}
	}
}

func (v *validator) bundle(path string, b *Bundle) {
	v.base(path, &b.ResourceBase)
	v.oneOf(b.Type, path, ".type", "document", "message", "transaction", "transaction-response", "batch", "batch-response", "history", "searchset", "collection")
	outer := v.fullURLs
	v.fullURLs = make(map[string]bool, len(b.Entry))
	for i := range b.Entry {
		e := &b.Entry[i]
		if e.FullURL == "" {
			continue
		}
		if v.fullURLs[e.FullURL] {
			v.add(CodeInvalid, ErrValue, idx(path+".entry", i)+".fullUrl", "bdl-7: fullUrl must be unique in a bundle")
		}
		v.fullURLs[e.FullURL] = true
	}
	if b.Total != nil && b.Type != "searchset" && b.Type != "history" {
		v.add(CodeInvalid, ErrValue, path+".total", "bdl-1: total only when a search or history")
	}
	for i := range b.Entry {
		e := &b.Entry[i]
		p := idx(path+".entry", i)
		switch b.Type {
		case "transaction", "batch":
			v.required(e.Request != nil, p, ".request")
			if e.Request != nil {
				v.oneOf(e.Request.Method, p, ".request.method", "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH")
				v.required(e.Request.URL != "", p, ".request.url")
				if (e.Request.Method == "POST" || e.Request.Method == "PUT") && e.Resource == nil {
					v.required(false, p, ".resource")
				}
			}
		case "transaction-response", "batch-response", "history":
			v.required(e.Response != nil, p, ".response")
			if e.Response != nil {
				v.required(e.Response.Status != "", p, ".response.status")
			}
		}
		if e.Request != nil && b.Type != "transaction" && b.Type != "batch" && b.Type != "history" {
			v.add(CodeInvalid, ErrValue, p+".request", "bdl-3: request only in a batch, transaction or history")
		}
		if e.Resource != nil {
			v.resource(p+".resource", e.Resource)
		}
	}
	v.fullURLs = outer
}

func (v *validator) provenance(path string, p *Provenance) {
	v.domain(path, &p.DomainResource)
	v.required(len(p.Target) > 0, path, ".target")
	v.references(path, ".target", p.Target)
	v.required(p.Recorded != "", path, ".recorded")
	v.pattern(instantRE, p.Recorded, path, ".recorded", "instant")
	v.required(len(p.Agent) > 0, path, ".agent")
	for i := range p.Agent {
		a := &p.Agent[i]
		v.required(a.Who != nil, idx(path+".agent", i), ".who")
		v.reference(idx(path+".agent", i), ".who", a.Who)
	}
	for i := range p.Entity {
		e := &p.Entity[i]
		v.oneOf(e.Role, idx(path+".entity", i), ".role", "derivation", "revision", "quotation", "source", "removal")
		v.required(e.What != nil, idx(path+".entity", i), ".what")
		v.reference(idx(path+".entity", i), ".what", e.What)
	}
}

func (v *validator) documentReference(path string, d *DocumentReference) {
	v.domain(path, &d.DomainResource)
	v.identifiers(path+".identifier", d.Identifier)
	v.oneOf(d.Status, path, ".status", "current", "superseded", "entered-in-error")
	v.optionalOneOf(d.DocStatus, path, ".docStatus", "preliminary", "final", "amended", "entered-in-error")
	v.reference(path, ".subject", d.Subject)
	v.pattern(instantRE, d.Date, path, ".date", "instant")
	v.required(len(d.Content) > 0, path, ".content")
	for i := range d.Content {
		c := &d.Content[i]
		v.required(c.Attachment != nil, idx(path+".content", i), ".attachment")
		if c.Attachment != nil {
			v.attachment(idx(path+".content", i)+".attachment", c.Attachment)
		}
	}
	if d.Context != nil {
		v.references(path, ".context.related", d.Context.Related)
	}
}

func (v *validator) task(path string, t *Task) {
	v.domain(path, &t.DomainResource)
	v.identifiers(path+".identifier", t.Identifier)
	v.oneOf(t.Status, path, ".status", "draft", "requested", "received", "accepted", "rejected", "ready", "cancelled", "in-progress", "on-hold", "failed", "completed", "entered-in-error")
	v.oneOf(t.Intent, path, ".intent", "unknown", "proposal", "plan", "order", "original-order", "reflex-order", "filler-order", "instance-order", "option")
	v.reference(path, ".focus", t.Focus)
	v.reference(path, ".for", t.For)
	for i := range t.Input {
		v.required(t.Input[i].Type != nil, idx(path+".input", i), ".type")
	}
	for i := range t.Output {
		v.required(t.Output[i].Type != nil, idx(path+".output", i), ".type")
	}
}

func (v *validator) operationOutcome(path string, o *OperationOutcome) {
	v.domain(path, &o.DomainResource)
	v.required(len(o.Issue) > 0, path, ".issue")
	for i := range o.Issue {
		is := &o.Issue[i]
		p := idx(path+".issue", i)
		v.oneOf(is.Severity, p, ".severity", "fatal", "error", "warning", "information")
		v.required(is.Code != "", p, ".code")
	}
}

func (v *validator) capability(path string, c *CapabilityStatement) {
	v.domain(path, &c.DomainResource)
	v.oneOf(c.Status, path, ".status", "draft", "active", "retired", "unknown")
	v.required(c.Date != "", path, ".date")
	v.pattern(dateTimeRE, c.Date, path, ".date", "dateTime")
	v.oneOf(c.Kind, path, ".kind", "instance", "capability", "requirements")
	v.required(c.FHIRVersion != "", path, ".fhirVersion")
	v.required(len(c.Format) > 0, path, ".format")
	for i := range c.Rest {
		r := &c.Rest[i]
		p := idx(path+".rest", i)
		v.oneOf(r.Mode, p, ".mode", "client", "server")
		for j := range r.Resource {
			v.required(r.Resource[j].Type != "", idx(p+".resource", j), ".type")
			for k := range r.Resource[j].Interaction {
				v.required(r.Resource[j].Interaction[k].Code != "", idx(idx(p+".resource", j)+".interaction", k), ".code")
			}
		}
	}
}

// claims says whether the resource claims the profile (with or without a
// version suffix).
func claims(b *ResourceBase, profile string) bool {
	if b.Meta == nil {
		return false
	}
	for _, p := range b.Meta.Profile {
		if p == profile || strings.HasPrefix(p, profile+"|") {
			return true
		}
	}
	return false
}

func hasCoding(c *CodeableConcept, system, code string) bool {
	return c != nil && hasAnyCoding(c, system, code)
}

func hasAnyCoding(c *CodeableConcept, system string, codes ...string) bool {
	for _, cd := range c.Coding {
		if cd.System != system {
			continue
		}
		for _, code := range codes {
			if cd.Code == code {
				return true
			}
		}
	}
	return false
}

func countCoding(cs []CodeableConcept, system, code string) int {
	n := 0
	for i := range cs {
		if hasCoding(&cs[i], system, code) {
			n++
		}
	}
	return n
}

// loincCode returns the first LOINC code of c, "" when none.
func loincCode(c *CodeableConcept) string {
	if c == nil {
		return ""
	}
	for _, cd := range c.Coding {
		if cd.System == LOINC {
			return cd.Code
		}
	}
	return ""
}
