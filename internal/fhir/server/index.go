package server

import (
	"strings"
)

// A search parameter is "token" (identifier, category, code, status) or
// "reference" (patient, subject). Tokens have the form
// "param|sv=system|value" (system and value) and "param|v=value" (value
// alone); references "param=Type/id".

// param describes one search parameter: the element it reads and its kind.
type param struct {
	name    string
	kind    string // "token" or "reference"
	path    string // the element of the resource
	target  string // for references: the type it must point to ("" any)
	summary string // for the CapabilityStatement
}

var (
	pIdentifier = param{"identifier", "token", "identifier", "", "A business identifier: system|value, or value alone"}
	pStatus     = param{"status", "token", "status", "", "The status"}
	pCategory   = param{"category", "token", "category", "", "A category code: system|code, or code alone"}
	pCode       = param{"code", "token", "code", "", "The code: system|code, or code alone"}
	pSubject    = param{"subject", "reference", "subject", "", "The subject (Patient/id)"}
	pPatient    = param{"patient", "reference", "subject", "Patient", "The patient the resource is about (id or Patient/id)"}
)

// searchParams lists the parameters of each type; types not listed have
// defaultParams.
var searchParams = map[string][]param{
	"Patient":          {pIdentifier},
	"DiagnosticReport": {pIdentifier, pPatient, pSubject, pCategory, pCode, pStatus},
	"Observation":      {pIdentifier, pPatient, pSubject, pCategory, pCode, pStatus},
	"ServiceRequest":   {pIdentifier, pPatient, pSubject, pCategory, pCode, pStatus},
	"Specimen":         {pIdentifier, pPatient, pSubject, pStatus},
	"Task":             {pIdentifier, pPatient, pStatus, pCode},
}

var defaultParams = []param{pIdentifier, pStatus}

func paramsOf(typ string) []param {
	if ps, ok := searchParams[typ]; ok {
		return ps
	}
	return defaultParams
}

// includes lists the _include values: "Type:param" and the element holding
// the references. Task's patient is "for".
var includes = map[string]string{
	"DiagnosticReport:result":   "result",
	"DiagnosticReport:subject":  "subject",
	"DiagnosticReport:patient":  "subject",
	"DiagnosticReport:specimen": "specimen",
	"DiagnosticReport:based-on": "basedOn",
	"Observation:subject":       "subject",
	"Observation:patient":       "subject",
	"Observation:specimen":      "specimen",
	"Observation:has-member":    "hasMember",
	"Observation:derived-from":  "derivedFrom",
	"ServiceRequest:subject":    "subject",
	"ServiceRequest:patient":    "subject",
	"ServiceRequest:specimen":   "specimen",
	"Specimen:subject":          "subject",
	"Specimen:patient":          "subject",
	"Task:focus":                "focus",
	"Task:based-on":             "basedOn",
	"Task:patient":              "for",
}

// Index returns the search tokens of a resource of type typ, and the
// pseudonymous id of the patient it is about.
func Index(typ, id string, res map[string]any) (tokens []string, patient string) {
	seen := map[string]bool{}
	add := func(t string) {
		if !seen[t] {
			seen[t] = true
			tokens = append(tokens, t)
		}
	}
	for _, p := range paramsOf(typ) {
		v := res[p.path]
		if typ == "Task" && p.name == "patient" {
			v = res["for"]
		}
		switch p.kind {
		case "token":
			for _, c := range tokenValues(p.path, v) {
				if c.system != "" || c.hasSystem {
					add(p.name + "|sv=" + c.system + "|" + c.value)
				}
				add(p.name + "|v=" + c.value)
			}
		case "reference":
			for _, ref := range references(v) {
				if t, rid, ok := localRef(ref, ""); ok && (p.target == "" || t == p.target) {
					add(p.name + "=" + t + "/" + rid)
				}
			}
		}
	}
	if typ == "Patient" {
		patient = id
	} else {
		subj := res["subject"]
		if typ == "Task" {
			subj = res["for"]
		}
		for _, ref := range references(subj) {
			if t, rid, ok := localRef(ref, ""); ok && t == "Patient" {
				patient = rid
			}
		}
	}
	return tokens, patient
}

type coded struct {
	system, value string
	hasSystem     bool
}

// tokenValues reads the codes of an element: a code string (status), an
// Identifier, a CodeableConcept, or a list of them.
func tokenValues(path string, v any) []coded {
	var out []coded
	switch x := v.(type) {
	case string:
		out = append(out, coded{value: x})
	case []any:
		for _, e := range x {
			out = append(out, tokenValues(path, e)...)
		}
	case map[string]any:
		if path == "identifier" {
			val, _ := x["value"].(string)
			sys, ok := x["system"].(string)
			if val != "" {
				out = append(out, coded{system: sys, value: val, hasSystem: ok})
			}
			return out
		}
		codings, _ := x["coding"].([]any)
		for _, c := range codings {
			m, _ := c.(map[string]any)
			code, _ := m["code"].(string)
			sys, ok := m["system"].(string)
			if code != "" {
				out = append(out, coded{system: sys, value: code, hasSystem: ok})
			}
		}
	}
	return out
}

// references returns the reference strings of a Reference or list of them.
func references(v any) []string {
	var out []string
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			out = append(out, references(e)...)
		}
	case map[string]any:
		if s, ok := x["reference"].(string); ok && s != "" {
			out = append(out, s)
		}
	}
	return out
}

// localRef splits a reference into type and id: "Type/id", "Type/id/_history/n",
// or an absolute URL ending so (when base is "" any base is taken, else it
// must be base). An id alone is taken as defaultType's.
func localRef(ref, defaultType string) (typ, id string, ok bool) {
	if i := strings.Index(ref, "/_history/"); i >= 0 {
		ref = ref[:i]
	}
	if strings.HasPrefix(ref, "urn:") || strings.HasPrefix(ref, "#") {
		return "", "", false
	}
	parts := strings.Split(ref, "/")
	switch {
	case len(parts) == 1 && defaultType != "":
		typ, id = defaultType, parts[0]
	case len(parts) >= 2:
		typ, id = parts[len(parts)-2], parts[len(parts)-1]
	default:
		return "", "", false
	}
	return typ, id, validType(typ) && validID(id)
}

// validType reports whether s looks like a resource type name.
func validType(s string) bool {
	if s == "" || len(s) > 64 || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// validID reports whether s is a FHIR id: [A-Za-z0-9\-\.]{1,64}.
func validID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}
