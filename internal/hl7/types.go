package hl7

// HD is a hierarchic designator: namespace^universal ID^universal ID type.
// Inside another type (CX-4, XCN-9) its parts are subcomponents.
type HD struct {
	Namespace       string
	UniversalID     string
	UniversalIDType string // ISO, DNS, UUID, ...
}

// CX is an extended composite identifier, such as a medical record number.
type CX struct {
	ID                 string // CX-1
	CheckDigit         string // CX-2
	CheckDigitScheme   string // CX-3
	AssigningAuthority HD     // CX-4
	TypeCode           string // CX-5, table 0203: MR, PI, AN, VN, SS, ...
	AssigningFacility  HD     // CX-6
}

// EI is an entity identifier, such as a placer or filler order number.
type EI struct {
	ID              string // EI-1
	Namespace       string // EI-2
	UniversalID     string // EI-3
	UniversalIDType string // EI-4
}

// XPN is a person name.
type XPN struct {
	Family string // XPN-1 (its first subcomponent, the surname)
	Given  string // XPN-2
	Middle string // XPN-3, second and further given names or initials
	Suffix string // XPN-4
	Prefix string // XPN-5
	Degree string // XPN-6
	Type   string // XPN-7, table 0200: L legal, D display, M maiden, ...
}

// CWE is a coded value with its coding system (also read for CE and CNE).
type CWE struct {
	Code      string // CWE-1
	Text      string // CWE-2
	System    string // CWE-3, such as LN (LOINC), SCT, HL70078
	AltCode   string // CWE-4
	AltText   string // CWE-5
	AltSystem string // CWE-6
}

// XCN is a person with an identifier, such as an ordering provider.
type XCN struct {
	ID     string // XCN-1
	Family string // XCN-2
	Given  string // XCN-3
	Middle string // XCN-4
	Suffix string // XCN-5
	Prefix string // XCN-6
}

// PL is a person location, such as a bed.
type PL struct {
	PointOfCare string // PL-1
	Room        string // PL-2
	Bed         string // PL-3
	Facility    HD     // PL-4
	Status      string // PL-5
	Type        string // PL-6
	Building    string // PL-7
	Floor       string // PL-8
	Description string // PL-9
}

// comps returns the decoded first subcomponents of the first n (at most
// 9) components of v (a repetition, or a field whose first repetition is
// read).
func comps(v Value, n int) (out [9]string) {
	if v.level == levelField {
		v = v.Rep(1)
	}
	for j := range min(n, len(out)) {
		out[j] = v.Component(j + 1).String()
	}
	return out
}

// subHD reads an HD held in the subcomponents of component j of v.
func subHD(v Value, j int) HD {
	c := v.Component(j)
	return HD{c.Sub(1).String(), c.Sub(2).String(), c.Sub(3).String()}
}

// hdOf reads an HD held in the components of v.
func hdOf(v Value) HD {
	c := comps(v, 3)
	return HD{c[0], c[1], c[2]}
}

// CX reads the element as a CX.
func (v Value) CX() CX {
	c := comps(v, 5)
	return CX{ID: c[0], CheckDigit: c[1], CheckDigitScheme: c[2], AssigningAuthority: subHD(v, 4), TypeCode: c[4], AssigningFacility: subHD(v, 6)}
}

// EI reads the element as an EI.
func (v Value) EI() EI {
	c := comps(v, 4)
	return EI{c[0], c[1], c[2], c[3]}
}

// XPN reads the element as an XPN.
func (v Value) XPN() XPN {
	c := comps(v, 7)
	return XPN{c[0], c[1], c[2], c[3], c[4], c[5], c[6]}
}

// CWE reads the element as a CWE (or CE, CNE).
func (v Value) CWE() CWE {
	c := comps(v, 6)
	return CWE{c[0], c[1], c[2], c[3], c[4], c[5]}
}

// XCN reads the element as an XCN.
func (v Value) XCN() XCN {
	c := comps(v, 6)
	return XCN{c[0], c[1], c[2], c[3], c[4], c[5]}
}

// PL reads the element as a PL.
func (v Value) PL() PL {
	c := comps(v, 9)
	return PL{PointOfCare: c[0], Room: c[1], Bed: c[2], Facility: subHD(v, 4), Status: c[4], Type: c[5], Building: c[6], Floor: c[7], Description: c[8]}
}

// HD reads the element as an HD.
func (v Value) HD() HD { return hdOf(v) }

// DTM parses the element (its first component, as for TS) as a DTM.
// Errors wrap ErrDataType; Segment methods add the position.
func (v Value) DTM() (DTM, error) { return ParseDTM(v.String()) }
