package fhir

// Resource is any FHIR resource: the types of this package and RawResource
// for the resource types it does not model.
type Resource interface {
	// ResourceType is the FHIR resource type name, e.g. "Observation".
	ResourceType() string
	// ID is the logical id, "" when the resource has none yet.
	ID() string
}

// ResourceBase holds the members every resource has.
type ResourceBase struct {
	Id            string `json:"id"`
	Meta          *Meta  `json:"meta"`
	ImplicitRules string `json:"implicitRules"`
	Language      string `json:"language"`
	Extra         Extra  `json:"-"`
}

// ID returns the logical id.
func (r *ResourceBase) ID() string { return r.Id }

// DomainResource holds the members of every resource but Bundle, Binary
// and Parameters.
type DomainResource struct {
	ResourceBase
	Text              *Narrative  `json:"text"`
	Contained         []Resource  `json:"contained"`
	Extension         []Extension `json:"extension"`
	ModifierExtension []Extension `json:"modifierExtension"`
}

// Compile-time checks that every modelled type is a Resource.
var (
	_ Resource = (*Patient)(nil)
	_ Resource = (*ServiceRequest)(nil)
	_ Resource = (*Specimen)(nil)
	_ Resource = (*DiagnosticReport)(nil)
	_ Resource = (*Observation)(nil)
	_ Resource = (*Bundle)(nil)
	_ Resource = (*Provenance)(nil)
	_ Resource = (*DocumentReference)(nil)
	_ Resource = (*Task)(nil)
	_ Resource = (*OperationOutcome)(nil)
	_ Resource = (*CapabilityStatement)(nil)
	_ Resource = (*RawResource)(nil)
)

// Patient is the person the report is about.
type Patient struct {
	DomainResource
	Identifier           []Identifier   `json:"identifier"`
	Active               *bool          `json:"active"`
	Name                 []HumanName    `json:"name"`
	Telecom              []ContactPoint `json:"telecom"`
	Gender               string         `json:"gender"`
	BirthDate            string         `json:"birthDate"`
	DeceasedBoolean      *bool          `json:"deceasedBoolean"`
	DeceasedDateTime     string         `json:"deceasedDateTime"`
	Address              []Address      `json:"address"`
	ManagingOrganization *Reference     `json:"managingOrganization"`
}

// ResourceType returns "Patient".
func (*Patient) ResourceType() string { return "Patient" }

// ServiceRequest is an order: here, the genetic test ordered.
type ServiceRequest struct {
	DomainResource
	Identifier            []Identifier      `json:"identifier"`
	InstantiatesCanonical []string          `json:"instantiatesCanonical"`
	BasedOn               []Reference       `json:"basedOn"`
	Replaces              []Reference       `json:"replaces"`
	Requisition           *Identifier       `json:"requisition"`
	Status                string            `json:"status"`
	Intent                string            `json:"intent"`
	Category              []CodeableConcept `json:"category"`
	Priority              string            `json:"priority"`
	Code                  *CodeableConcept  `json:"code"`
	Subject               *Reference        `json:"subject"`
	Encounter             *Reference        `json:"encounter"`
	OccurrenceDateTime    string            `json:"occurrenceDateTime"`
	AuthoredOn            string            `json:"authoredOn"`
	Requester             *Reference        `json:"requester"`
	Performer             []Reference       `json:"performer"`
	ReasonCode            []CodeableConcept `json:"reasonCode"`
	ReasonReference       []Reference       `json:"reasonReference"`
	SupportingInfo        []Reference       `json:"supportingInfo"`
	Specimen              []Reference       `json:"specimen"`
	Note                  []Annotation      `json:"note"`
}

// ResourceType returns "ServiceRequest".
func (*ServiceRequest) ResourceType() string { return "ServiceRequest" }

// Specimen is the sample analysed.
type Specimen struct {
	DomainResource
	Identifier          []Identifier        `json:"identifier"`
	AccessionIdentifier *Identifier         `json:"accessionIdentifier"`
	Status              string              `json:"status"`
	Type                *CodeableConcept    `json:"type"`
	Subject             *Reference          `json:"subject"`
	ReceivedTime        string              `json:"receivedTime"`
	Parent              []Reference         `json:"parent"`
	Request             []Reference         `json:"request"`
	Collection          *SpecimenCollection `json:"collection"`
	Note                []Annotation        `json:"note"`
}

// ResourceType returns "Specimen".
func (*Specimen) ResourceType() string { return "Specimen" }

// SpecimenCollection is how and when a specimen was collected.
type SpecimenCollection struct {
	BackboneElement
	Collector         *Reference       `json:"collector"`
	CollectedDateTime string           `json:"collectedDateTime"`
	CollectedPeriod   *Period          `json:"collectedPeriod"`
	Quantity          *Quantity        `json:"quantity"`
	Method            *CodeableConcept `json:"method"`
	BodySite          *CodeableConcept `json:"bodySite"`
}

// DiagnosticReport is the report: its status, what it is about and the
// observations it reports.
type DiagnosticReport struct {
	DomainResource
	Identifier         []Identifier      `json:"identifier"`
	BasedOn            []Reference       `json:"basedOn"`
	Status             string            `json:"status"`
	Category           []CodeableConcept `json:"category"`
	Code               *CodeableConcept  `json:"code"`
	Subject            *Reference        `json:"subject"`
	Encounter          *Reference        `json:"encounter"`
	EffectiveDateTime  string            `json:"effectiveDateTime"`
	EffectivePeriod    *Period           `json:"effectivePeriod"`
	Issued             string            `json:"issued"`
	Performer          []Reference       `json:"performer"`
	ResultsInterpreter []Reference       `json:"resultsInterpreter"`
	Specimen           []Reference       `json:"specimen"`
	Result             []Reference       `json:"result"`
	Conclusion         string            `json:"conclusion"`
	ConclusionCode     []CodeableConcept `json:"conclusionCode"`
	PresentedForm      []Attachment      `json:"presentedForm"`
}

// ResourceType returns "DiagnosticReport".
func (*DiagnosticReport) ResourceType() string { return "DiagnosticReport" }

// ObservationValue holds the value[x] choices of an observation or its
// component that this package models; at most one is set. valueSampledData
// is kept in Extra.
type ObservationValue struct {
	ValueQuantity        *Quantity        `json:"valueQuantity"`
	ValueCodeableConcept *CodeableConcept `json:"valueCodeableConcept"`
	ValueString          string           `json:"valueString"`
	ValueBoolean         *bool            `json:"valueBoolean"`
	ValueInteger         *int64           `json:"valueInteger"`
	ValueRange           *Range           `json:"valueRange"`
	ValueRatio           *Ratio           `json:"valueRatio"`
	ValueTime            string           `json:"valueTime"`
	ValueDateTime        string           `json:"valueDateTime"`
	ValuePeriod          *Period          `json:"valuePeriod"`
}

// HasValue says whether one of the modelled value[x] is set.
func (v *ObservationValue) HasValue() bool {
	return v.ValueQuantity != nil || v.ValueCodeableConcept != nil || v.ValueString != "" ||
		v.ValueBoolean != nil || v.ValueInteger != nil || v.ValueRange != nil || v.ValueRatio != nil ||
		v.ValueTime != "" || v.ValueDateTime != "" || v.ValuePeriod != nil
}

// Observation is one measurement or assertion: here a variant, a
// diagnostic implication or a region studied.
type Observation struct {
	DomainResource
	Identifier        []Identifier      `json:"identifier"`
	BasedOn           []Reference       `json:"basedOn"`
	PartOf            []Reference       `json:"partOf"`
	Status            string            `json:"status"`
	Category          []CodeableConcept `json:"category"`
	Code              *CodeableConcept  `json:"code"`
	Subject           *Reference        `json:"subject"`
	Focus             []Reference       `json:"focus"`
	Encounter         *Reference        `json:"encounter"`
	EffectiveDateTime string            `json:"effectiveDateTime"`
	EffectivePeriod   *Period           `json:"effectivePeriod"`
	EffectiveInstant  string            `json:"effectiveInstant"`
	Issued            string            `json:"issued"`
	Performer         []Reference       `json:"performer"`
	ObservationValue
	DataAbsentReason *CodeableConcept            `json:"dataAbsentReason"`
	Interpretation   []CodeableConcept           `json:"interpretation"`
	Note             []Annotation                `json:"note"`
	BodySite         *CodeableConcept            `json:"bodySite"`
	Method           *CodeableConcept            `json:"method"`
	Specimen         *Reference                  `json:"specimen"`
	Device           *Reference                  `json:"device"`
	ReferenceRange   []ObservationReferenceRange `json:"referenceRange"`
	HasMember        []Reference                 `json:"hasMember"`
	DerivedFrom      []Reference                 `json:"derivedFrom"`
	Component        []ObservationComponent      `json:"component"`
}

// ResourceType returns "Observation".
func (*Observation) ResourceType() string { return "Observation" }

// ObservationReferenceRange is a normal or recommended range.
type ObservationReferenceRange struct {
	BackboneElement
	Low       *Quantity         `json:"low"`
	High      *Quantity         `json:"high"`
	Type      *CodeableConcept  `json:"type"`
	AppliesTo []CodeableConcept `json:"appliesTo"`
	Age       *Range            `json:"age"`
	Text      string            `json:"text"`
}

// ObservationComponent is one coded part of an observation with its value.
type ObservationComponent struct {
	BackboneElement
	Code *CodeableConcept `json:"code"`
	ObservationValue
	DataAbsentReason *CodeableConcept            `json:"dataAbsentReason"`
	Interpretation   []CodeableConcept           `json:"interpretation"`
	ReferenceRange   []ObservationReferenceRange `json:"referenceRange"`
}

// Provenance records who and what produced a resource.
type Provenance struct {
	DomainResource
	Target           []Reference        `json:"target"`
	OccurredPeriod   *Period            `json:"occurredPeriod"`
	OccurredDateTime string             `json:"occurredDateTime"`
	Recorded         string             `json:"recorded"`
	Policy           []string           `json:"policy"`
	Location         *Reference         `json:"location"`
	Reason           []CodeableConcept  `json:"reason"`
	Activity         *CodeableConcept   `json:"activity"`
	Agent            []ProvenanceAgent  `json:"agent"`
	Entity           []ProvenanceEntity `json:"entity"`
}

// ResourceType returns "Provenance".
func (*Provenance) ResourceType() string { return "Provenance" }

// ProvenanceAgent is an actor that took part in the activity.
type ProvenanceAgent struct {
	BackboneElement
	Type       *CodeableConcept  `json:"type"`
	Role       []CodeableConcept `json:"role"`
	Who        *Reference        `json:"who"`
	OnBehalfOf *Reference        `json:"onBehalfOf"`
}

// ProvenanceEntity is an input or other entity used in the activity.
type ProvenanceEntity struct {
	BackboneElement
	Role  string            `json:"role"`
	What  *Reference        `json:"what"`
	Agent []ProvenanceAgent `json:"agent"`
}

// DocumentReference points at a document: here the rendered report.
type DocumentReference struct {
	DomainResource
	MasterIdentifier *Identifier                  `json:"masterIdentifier"`
	Identifier       []Identifier                 `json:"identifier"`
	Status           string                       `json:"status"`
	DocStatus        string                       `json:"docStatus"`
	Type             *CodeableConcept             `json:"type"`
	Category         []CodeableConcept            `json:"category"`
	Subject          *Reference                   `json:"subject"`
	Date             string                       `json:"date"`
	Author           []Reference                  `json:"author"`
	Authenticator    *Reference                   `json:"authenticator"`
	Custodian        *Reference                   `json:"custodian"`
	RelatesTo        []DocumentReferenceRelatesTo `json:"relatesTo"`
	Description      string                       `json:"description"`
	SecurityLabel    []CodeableConcept            `json:"securityLabel"`
	Content          []DocumentReferenceContent   `json:"content"`
	Context          *DocumentReferenceContext    `json:"context"`
}

// ResourceType returns "DocumentReference".
func (*DocumentReference) ResourceType() string { return "DocumentReference" }

// DocumentReferenceRelatesTo is a relationship to another document.
type DocumentReferenceRelatesTo struct {
	BackboneElement
	Code   string     `json:"code"` // replaces, transforms, signs, appends
	Target *Reference `json:"target"`
}

// DocumentReferenceContent is the document itself, with its format.
type DocumentReferenceContent struct {
	BackboneElement
	Attachment *Attachment `json:"attachment"`
	Format     *Coding     `json:"format"`
}

// DocumentReferenceContext is the clinical context of a document.
type DocumentReferenceContext struct {
	BackboneElement
	Encounter []Reference       `json:"encounter"`
	Event     []CodeableConcept `json:"event"`
	Period    *Period           `json:"period"`
	Related   []Reference       `json:"related"`
}

// Task is a unit of work: here, the outbound delivery of a report or an
// inbound order to fulfil.
type Task struct {
	DomainResource
	Identifier            []Identifier      `json:"identifier"`
	InstantiatesCanonical string            `json:"instantiatesCanonical"`
	BasedOn               []Reference       `json:"basedOn"`
	GroupIdentifier       *Identifier       `json:"groupIdentifier"`
	PartOf                []Reference       `json:"partOf"`
	Status                string            `json:"status"`
	StatusReason          *CodeableConcept  `json:"statusReason"`
	BusinessStatus        *CodeableConcept  `json:"businessStatus"`
	Intent                string            `json:"intent"`
	Priority              string            `json:"priority"`
	Code                  *CodeableConcept  `json:"code"`
	Description           string            `json:"description"`
	Focus                 *Reference        `json:"focus"`
	For                   *Reference        `json:"for"`
	Encounter             *Reference        `json:"encounter"`
	ExecutionPeriod       *Period           `json:"executionPeriod"`
	AuthoredOn            string            `json:"authoredOn"`
	LastModified          string            `json:"lastModified"`
	Requester             *Reference        `json:"requester"`
	Owner                 *Reference        `json:"owner"`
	ReasonCode            *CodeableConcept  `json:"reasonCode"`
	Note                  []Annotation      `json:"note"`
	Input                 []TaskParameter   `json:"input"`
	Output                []TaskParameter   `json:"output"`
	PerformerType         []CodeableConcept `json:"performerType"`
}

// ResourceType returns "Task".
func (*Task) ResourceType() string { return "Task" }

// TaskParameter is a Task input or output: a typed value.
type TaskParameter struct {
	BackboneElement
	Type *CodeableConcept `json:"type"`
	Value
}

// OperationOutcome is a set of issues: errors, warnings, information.
type OperationOutcome struct {
	DomainResource
	Issue []OperationOutcomeIssue `json:"issue"`
}

// ResourceType returns "OperationOutcome".
func (*OperationOutcome) ResourceType() string { return "OperationOutcome" }

// OperationOutcomeIssue is one issue.
type OperationOutcomeIssue struct {
	BackboneElement
	Severity    string           `json:"severity"` // fatal, error, warning, information
	Code        string           `json:"code"`     // IssueType: structure, invalid, required, ...
	Details     *CodeableConcept `json:"details"`
	Diagnostics string           `json:"diagnostics"`
	Location    []string         `json:"location"`
	Expression  []string         `json:"expression"`
}

// CapabilityStatement says what a FHIR server does.
type CapabilityStatement struct {
	DomainResource
	URL                 string                    `json:"url"`
	Version             string                    `json:"version"`
	Name                string                    `json:"name"`
	Title               string                    `json:"title"`
	Status              string                    `json:"status"`
	Experimental        *bool                     `json:"experimental"`
	Date                string                    `json:"date"`
	Publisher           string                    `json:"publisher"`
	Description         string                    `json:"description"`
	Kind                string                    `json:"kind"`
	Instantiates        []string                  `json:"instantiates"`
	Software            *CapabilitySoftware       `json:"software"`
	Implementation      *CapabilityImplementation `json:"implementation"`
	FHIRVersion         string                    `json:"fhirVersion"`
	Format              []string                  `json:"format"`
	PatchFormat         []string                  `json:"patchFormat"`
	ImplementationGuide []string                  `json:"implementationGuide"`
	Rest                []CapabilityRest          `json:"rest"`
}

// ResourceType returns "CapabilityStatement".
func (*CapabilityStatement) ResourceType() string { return "CapabilityStatement" }

// CapabilitySoftware is the software the statement describes.
type CapabilitySoftware struct {
	BackboneElement
	Name        string `json:"name"`
	Version     string `json:"version"`
	ReleaseDate string `json:"releaseDate"`
}

// CapabilityImplementation is the instance the statement describes.
type CapabilityImplementation struct {
	BackboneElement
	Description string `json:"description"`
	URL         string `json:"url"`
}

// CapabilityRest is what the server does over REST.
type CapabilityRest struct {
	BackboneElement
	Mode          string                  `json:"mode"` // server, client
	Documentation string                  `json:"documentation"`
	Security      *CapabilitySecurity     `json:"security"`
	Resource      []CapabilityResource    `json:"resource"`
	Interaction   []CapabilityInteraction `json:"interaction"`
	SearchParam   []CapabilitySearchParam `json:"searchParam"`
	Operation     []CapabilityOperation   `json:"operation"`
}

// CapabilitySecurity describes how the REST API is secured.
type CapabilitySecurity struct {
	BackboneElement
	CORS        *bool             `json:"cors"`
	Service     []CodeableConcept `json:"service"`
	Description string            `json:"description"`
}

// CapabilityResource is what the server does with one resource type.
type CapabilityResource struct {
	BackboneElement
	Type              string                  `json:"type"`
	Profile           string                  `json:"profile"`
	SupportedProfile  []string                `json:"supportedProfile"`
	Documentation     string                  `json:"documentation"`
	Interaction       []CapabilityInteraction `json:"interaction"`
	Versioning        string                  `json:"versioning"`
	ReadHistory       *bool                   `json:"readHistory"`
	UpdateCreate      *bool                   `json:"updateCreate"`
	ConditionalCreate *bool                   `json:"conditionalCreate"`
	ConditionalRead   string                  `json:"conditionalRead"`
	ConditionalUpdate *bool                   `json:"conditionalUpdate"`
	ConditionalDelete string                  `json:"conditionalDelete"`
	SearchInclude     []string                `json:"searchInclude"`
	SearchRevInclude  []string                `json:"searchRevInclude"`
	SearchParam       []CapabilitySearchParam `json:"searchParam"`
	Operation         []CapabilityOperation   `json:"operation"`
}

// CapabilityInteraction is a supported interaction (read, search-type, ...).
type CapabilityInteraction struct {
	BackboneElement
	Code          string `json:"code"`
	Documentation string `json:"documentation"`
}

// CapabilitySearchParam is a supported search parameter.
type CapabilitySearchParam struct {
	BackboneElement
	Name          string `json:"name"`
	Definition    string `json:"definition"`
	Type          string `json:"type"`
	Documentation string `json:"documentation"`
}

// CapabilityOperation is a supported operation ($everything, ...).
type CapabilityOperation struct {
	BackboneElement
	Name          string `json:"name"`
	Definition    string `json:"definition"`
	Documentation string `json:"documentation"`
}

// RawResource is a resource of a type this package does not model, kept
// as its decoded JSON members (see Extra) so it round-trips unchanged.
type RawResource struct {
	Type    string
	Members Extra // every member but resourceType
}

// ResourceType returns the resource's type name.
func (r *RawResource) ResourceType() string { return r.Type }

// ID returns the member "id" when it is a string.
func (r *RawResource) ID() string {
	s, _ := r.Members["id"].(string)
	return s
}
