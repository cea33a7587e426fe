package fhir

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestParseErrors: each kind of bad input gives an *Issue with its
// sentinel, IssueType code and location.
func TestParseErrors(t *testing.T) {
	cases := []struct {
		name, in   string
		err        error
		code, expr string
		line, col  int
	}{
		{name: "empty", in: ``, err: ErrSyntax, code: CodeInvalid, line: 1, col: 1},
		{name: "truncated", in: "{\n  \"resourceType\": \"Patient\",\n  \"id\": \"x\"", err: ErrSyntax, code: CodeInvalid, line: 3, col: 12},
		{name: "bad token", in: "{\n  \"resourceType\": \"Patient\",\n  \"active\": tru\n}", err: ErrSyntax, code: CodeInvalid, line: 3, col: 16},
		{name: "trailing data", in: `{"resourceType":"Patient"} {}`, err: ErrSyntax, code: CodeInvalid, line: 1},
		{name: "not an object", in: `["Patient"]`, err: ErrResourceType, code: CodeStructure},
		{name: "missing resourceType", in: `{"id":"x"}`, err: ErrResourceType, code: CodeRequired, expr: "resourceType"},
		{name: "resourceType not a string", in: `{"resourceType":7}`, err: ErrResourceType, code: CodeInvalid, expr: "resourceType"},
		{name: "resourceType not a name", in: `{"resourceType":"patient record"}`, err: ErrResourceType, code: CodeInvalid, expr: "resourceType"},
		{name: "decimal as string", in: `{"resourceType":"Observation","status":"final","code":{"text":"x"},"component":[{"code":{"text":"a"}},{"code":{"text":"b"}},{"code":{"text":"c"},"valueQuantity":{"value":"1.5"}}]}`,
			err: ErrType, code: CodeStructure, expr: "Observation.component[2].valueQuantity.value"},
		{name: "object for array", in: `{"resourceType":"Patient","name":{"family":"x"}}`, err: ErrType, code: CodeStructure, expr: "Patient.name"},
		{name: "number for string", in: `{"resourceType":"Patient","gender":1}`, err: ErrType, code: CodeStructure, expr: "Patient.gender"},
		{name: "string for boolean", in: `{"resourceType":"Patient","active":"true"}`, err: ErrType, code: CodeStructure, expr: "Patient.active"},
		{name: "fraction for integer", in: `{"resourceType":"Bundle","type":"searchset","total":1.5}`, err: ErrValue, code: CodeValue, expr: "Bundle.total"},
		{name: "nested resource", in: `{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Patient"}},{"resource":{"id":"x"}}]}`,
			err: ErrResourceType, code: CodeRequired, expr: "Bundle.entry[1].resource.resourceType"},
		{name: "inside a bundle entry", in: `{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Observation","code":{"coding":[{"system":"s","code":5}]}}}]}`,
			err: ErrType, code: CodeStructure, expr: "Bundle.entry[0].resource.code.coding[0].code"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in))
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			var is *Issue
			if !errors.As(err, &is) {
				t.Fatalf("%T is not an *Issue", err)
			}
			if is.Code != tc.code || is.Expression != tc.expr {
				t.Errorf("code %q expression %q, want %q %q", is.Code, is.Expression, tc.code, tc.expr)
			}
			if tc.line != 0 && (is.Line != tc.line || tc.col != 0 && is.Column != tc.col) {
				t.Errorf("at line %d column %d (offset %d), want %d:%d", is.Line, is.Column, is.Offset, tc.line, tc.col)
			}
			oo := OutcomeOf(err)
			if len(oo.Issue) != 1 || oo.Issue[0].Severity != "error" || oo.Issue[0].Code != tc.code {
				t.Errorf("outcome %+v", oo.Issue)
			}
			if tc.expr != "" && (len(oo.Issue[0].Expression) != 1 || oo.Issue[0].Expression[0] != tc.expr) {
				t.Errorf("outcome expression %v", oo.Issue[0].Expression)
			}
			if err := Validate(oo); err != nil {
				t.Errorf("the OperationOutcome does not validate: %v", err)
			}
		})
	}
}

// TestOutcomeJSON: an OperationOutcome from a syntax error, as a client
// receives it, and a foreign error that must not leak its text.
func TestOutcomeJSON(t *testing.T) {
	_, err := Parse([]byte("{\n\"resourceType\": \"Patient\",\n\"id\": }"))
	b, _ := Marshal(OutcomeOf(err))
	want := `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"invalid","diagnostics":"invalid JSON: invalid character '}' looking for beginning of value","location":["line 3, column 7 (byte offset 35)"]}]}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	secret := errors.New("open /var/lib/clinomics/patient-4711.json: permission denied")
	b, _ = Marshal(OutcomeOf(secret))
	if strings.Contains(string(b), "4711") || !strings.Contains(string(b), `"code":"exception"`) {
		t.Errorf("foreign error: %s", b)
	}
}

func TestUnmarshalWrongType(t *testing.T) {
	var o Observation
	err := Unmarshal([]byte(`{"resourceType":"Patient"}`), &o)
	if !errors.Is(err, ErrResourceType) {
		t.Fatalf("err = %v", err)
	}
	// encoding/json goes through the same code.
	var p Patient
	if err := json.Unmarshal([]byte(`{"resourceType":"Patient","birthDate":"1974-12-25","_birthDate":{"id":"b"}}`), &p); err != nil {
		t.Fatal(err)
	}
	if p.BirthDate != "1974-12-25" || p.Extra["_birthDate"] == nil {
		t.Errorf("patient %+v", p)
	}
	if _, err := json.Marshal(&p); err != nil {
		t.Fatal(err)
	}
}

// TestTypedValues: the typed fields hold what the JSON says, and what they
// cannot hold is kept raw.
func TestTypedValues(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "roundtrip-primitive-extensions.json"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	p := r.(*Patient)
	if p.Active == nil || *p.Active || p.BirthDate != "1974-12-25" || p.Name[0].Family != "Chalmers" {
		t.Errorf("patient %+v", p)
	}
	if p.Name[0].Given != nil || p.Name[0].Extra["given"] == nil {
		t.Errorf("given with a null is not kept raw: %+v", p.Name[0])
	}
	if raw, ok := p.Contained[0].(*RawResource); !ok || raw.Type != "MolecularSequence" || raw.ID() != "ms" {
		t.Errorf("contained %#v", p.Contained[0])
	}
	if p.Extension[0].Extension[0].ValueDecimal != "2.50" {
		t.Errorf("decimal extension %q", p.Extension[0].Extension[0].ValueDecimal)
	}

	data, _ = os.ReadFile(filepath.Join("testdata", "roundtrip-decimal-precision.json"))
	r, err = Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	o := r.(*Observation)
	if o.ValueQuantity.Value != "1.50" || o.Component[1].ValueQuantity.Value != "1.0E+3" || o.Component[4].ValueRange.High.Value != "43124029.00" {
		t.Errorf("decimals: %q %q %q", o.ValueQuantity.Value, o.Component[1].ValueQuantity.Value, o.Component[4].ValueRange.High.Value)
	}
}

// TestMarshalRejectsBadDecimal: a Decimal that is not a number literal is
// an error, not broken JSON.
func TestMarshalRejectsBadDecimal(t *testing.T) {
	o := &Observation{Status: "final", Code: &CodeableConcept{Text: "x"}}
	o.ValueQuantity = &Quantity{Value: "1,5"}
	if _, err := Marshal(o); err == nil {
		t.Error("no error for decimal 1,5")
	}
}

// TestValidateIssues: Validate finds each problem at its location.
func TestValidateIssues(t *testing.T) {
	good := func() *Bundle {
		b, err := GenomicReportBundle(threeVariants(), testBundleOptions())
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	obs := func(b *Bundle, i int) *Observation { return b.Entry[i].Resource.(*Observation) }
	cases := []struct {
		name   string
		break_ func(b *Bundle)
		err    error
		expr   string
	}{
		{"observation status missing", func(b *Bundle) { obs(b, 3).Status = "" }, ErrRequired, "Bundle.entry[3].resource.status"},
		{"observation status unknown", func(b *Bundle) { obs(b, 3).Status = "done" }, ErrValue, "Bundle.entry[3].resource.status"},
		{"code missing", func(b *Bundle) { obs(b, 3).Code = nil }, ErrRequired, "Bundle.entry[3].resource.code"},
		{"service request subject", func(b *Bundle) { b.Entry[1].Resource.(*ServiceRequest).Subject = nil }, ErrRequired, "Bundle.entry[1].resource.subject"},
		{"variant code", func(b *Bundle) { obs(b, 3).Code = loinc("12345-6", "other") }, ErrProfile, "Bundle.entry[3].resource.code"},
		{"variant category", func(b *Bundle) { obs(b, 3).Category = obs(b, 3).Category[:1] }, ErrProfile, "Bundle.entry[3].resource.category"},
		{"variant component twice", func(b *Bundle) {
			o := obs(b, 3)
			o.Component = append(o.Component, o.Component[1])
		}, ErrCardinality, "Bundle.entry[3].resource.component[16]"},
		{"variant component wrong value type", func(b *Bundle) {
			c := &obs(b, 3).Component[9] // allelic state
			c.ValueCodeableConcept, c.ValueString = nil, "het"
		}, ErrProfile, "Bundle.entry[3].resource.component[9].value[x]"},
		{"implication with a value", func(b *Bundle) { obs(b, 5).ValueString = "x" }, ErrProfile, "Bundle.entry[5].resource.value[x]"},
		{"implication without derivedFrom", func(b *Bundle) { obs(b, 5).DerivedFrom = nil }, ErrProfile, "Bundle.entry[5].resource.derivedFrom"},
		{"report code", func(b *Bundle) {
			for _, e := range b.Entry {
				if dr, ok := e.Resource.(*DiagnosticReport); ok {
					dr.Code = loinc("81247-9", "panel")
				}
			}
		}, ErrProfile, "Bundle.entry[13].resource.code"},
		{"dangling reference", func(b *Bundle) {
			obs(b, 3).Subject = &Reference{Reference: "urn:uuid:00000000-0000-0000-0000-000000000000"}
		}, ErrValue, "Bundle.entry[3].resource.subject.reference"},
		{"duplicate fullUrl", func(b *Bundle) { b.Entry[4].FullURL = b.Entry[3].FullURL }, ErrValue, "Bundle.entry[4].fullUrl"},
		{"transaction entry without request", func(b *Bundle) { b.Entry[2].Request = nil }, ErrRequired, "Bundle.entry[2].request"},
		{"bad date", func(b *Bundle) { b.Entry[0].Resource.(*Patient).BirthDate = "29.02.1980" }, ErrValue, "Bundle.entry[0].resource.birthDate"},
		{"extension with value and extensions", func(b *Bundle) {
			obs(b, 3).Extension = []Extension{{URL: "http://x", Value: Value{ValueString: "a"}, Element: Element{Extension: []Extension{{URL: "y", Value: Value{ValueCode: "b"}}}}}}
		}, ErrValue, "Bundle.entry[3].resource.extension[0]"},
		{"attachment without contentType", func(b *Bundle) {
			for _, e := range b.Entry {
				if dr, ok := e.Resource.(*DiagnosticReport); ok {
					dr.PresentedForm[0].ContentType = ""
				}
			}
		}, ErrRequired, "Bundle.entry[13].resource.presentedForm[0].contentType"},
		{"provenance without agent", func(b *Bundle) { b.Entry[len(b.Entry)-1].Resource.(*Provenance).Agent = nil }, ErrRequired, "Bundle.entry[14].resource.agent"},
	}
	if err := Validate(good()); err != nil {
		t.Fatalf("the good bundle: %v", err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := good()
			tc.break_(b)
			err := Validate(b)
			var is Issues
			if !errors.As(err, &is) {
				t.Fatalf("err = %v", err)
			}
			found := false
			for _, i := range is {
				if i.Expression == tc.expr && errors.Is(i, tc.err) {
					found = true
				}
			}
			if !found {
				t.Errorf("no %v at %s in %v", tc.err, tc.expr, is)
			}
			oo := is.OperationOutcome()
			if len(oo.Issue) != len(is) || oo.Issue[0].Severity != "error" {
				t.Errorf("outcome %+v", oo)
			}
		})
	}
}

// FuzzParse: Parse never panics; what it accepts marshals, and reads back
// to the same JSON.
func FuzzParse(f *testing.F) {
	for _, file := range exampleFiles(f) {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"resourceType":"Observation","valueQuantity":{"value":1.50}}`))
	f.Add([]byte(`{"resourceType":"Patient","given":[null],"_given":[{"id":"x"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse(data)
		if err != nil {
			var is *Issue
			if !errors.As(err, &is) {
				t.Fatalf("%T is not an *Issue: %v", err, err)
			}
			return
		}
		out, err := Marshal(r)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		_ = Validate(r)
		r2, err := Parse(out)
		if err != nil {
			t.Fatalf("reparse: %v\n%s", err, out)
		}
		out2, err := Marshal(r2)
		if err != nil || string(out) != string(out2) {
			t.Fatalf("second round trip differs:\n%s\n%s", out, out2)
		}
		if d := diffTrees(r.ResourceType(), tree(t, data), tree(t, out)); d != "" {
			t.Fatalf("round trip: %s", d)
		}
	})
}

func loinc(code, display string) *CodeableConcept {
	return &CodeableConcept{Coding: []Coding{{System: LOINC, Code: code, Display: display}}}
}
