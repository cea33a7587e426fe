package server

import (
	"net/http"
	"sort"
	"strings"
	"time"
)

// capability is the CapabilityStatement: what this server actually does.
func (s *Server) capability(r *http.Request) map[string]any {
	types := make([]string, 0, len(s.types))
	for t := range s.types {
		types = append(types, t)
	}
	sort.Strings(types)
	var resources []any
	for _, t := range types {
		inter := []any{map[string]any{"code": "read"}, map[string]any{"code": "search-type"}}
		if s.Writable() {
			inter = append(inter, map[string]any{"code": "create"}, map[string]any{"code": "update"})
		}
		params := []any{
			map[string]any{"name": "_id", "type": "token", "documentation": "The resource id"},
			map[string]any{"name": "_lastUpdated", "type": "date", "documentation": "When the resource last changed (eq, gt, ge, lt, le)"},
		}
		for _, p := range paramsOf(t) {
			params = append(params, map[string]any{"name": p.name, "type": p.kind, "documentation": p.summary})
			if p.name == "patient" {
				params = append(params, map[string]any{"name": "patient.identifier", "type": "token",
					"documentation": "The patient's identifier (system|value): a chained search"})
			}
		}
		var incs []string
		for k := range includes {
			if strings.HasPrefix(k, t+":") {
				incs = append(incs, k)
			}
		}
		sort.Strings(incs)
		res := map[string]any{
			"type":        t,
			"interaction": inter,
			"versioning":  "versioned-update",
			"readHistory": false,
			"searchParam": params,
		}
		if len(incs) > 0 {
			res["searchInclude"] = incs
		}
		if s.Writable() {
			res["conditionalCreate"] = true
			res["updateCreate"] = true
		}
		resources = append(resources, res)
	}
	rest := map[string]any{"mode": "server", "resource": resources}
	if s.Writable() {
		rest["interaction"] = []any{map[string]any{"code": "transaction"}}
	}
	if s.opt.Security != nil {
		rest["security"] = s.opt.Security
	}
	mode := "read-only"
	if s.Writable() {
		mode = "writable"
	}
	return map[string]any{
		"resourceType": "CapabilityStatement",
		"status":       "active",
		"date":         s.opt.Now().UTC().Format(time.RFC3339),
		"kind":         "instance",
		"software":     map[string]any{"name": "clinomics FHIR server (" + mode + ")"},
		"implementation": map[string]any{
			"description": "clinomics FHIR R4 API",
			"url":         s.base(r),
		},
		"fhirVersion": "4.0.1",
		"format":      []string{"application/fhir+json", "json"},
		"rest":        []any{rest},
	}
}
