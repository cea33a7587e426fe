package httpapi

import (
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/clinomics/clinomics/internal/auth"
	"github.com/clinomics/clinomics/internal/fhir/server"
)

// FHIRBase is where the platform's read-only FHIR R4 API is mounted.
const FHIRBase = "/fhir/r4"

// fhirPerms are the resource types of the FHIR API and the permission
// each needs (besides the SMART scope for the type, when the credential
// carries scopes).
var fhirPerms = map[string]auth.Permission{
	"Patient":          auth.PermPatientsRead,
	"ServiceRequest":   auth.PermPatientsRead,
	"DiagnosticReport": auth.PermReportsRead,
	"Observation":      auth.PermReportsRead,
}

// FHIRAPI is the platform's read-only FHIR API: the resources of signed
// reports and the ServiceRequests received.
type FHIRAPI struct {
	Store server.Store
	// Scopes returns the SMART scopes of the principal's credential, and
	// whether the credential is scope-limited at all (an app's token is;
	// a person's session or an API token is not, and role permissions
	// alone decide). nil: no credential is scope-limited.
	Scopes func(p *auth.Principal) (scopes []string, limited bool)

	once sync.Once
	h    *server.Server
}

func (f *FHIRAPI) handler(s *Server) *server.Server {
	f.once.Do(func() {
		types := make([]string, 0, len(fhirPerms))
		for t := range fhirPerms {
			types = append(types, t)
		}
		sort.Strings(types)
		f.h = server.New(server.Options{Store: f.Store, Types: types, Prefix: FHIRBase, Log: s.Log,
			Check: s.fhirCheck, Seen: s.fhirSeen})
	})
	return f.h
}

// fhirRoutes are the FHIR API's routes: read and search of each type with
// its permission, the CapabilityStatement (any authenticated principal), and writes (any
// authenticated principal) answered 405: the API is read-only.
func (s *Server) fhirRoutes() []Route {
	rs := []Route{{"GET", FHIRBase + "/metadata", auth.PermSelf, s.serveFHIR}} // only /healthz is public here
	types := make([]string, 0, len(fhirPerms))
	for t := range fhirPerms {
		types = append(types, t)
	}
	sort.Strings(types)
	for _, t := range types {
		rs = append(rs,
			Route{"GET", FHIRBase + "/" + t, fhirPerms[t], s.serveFHIR},
			Route{"GET", FHIRBase + "/" + t + "/{id}", fhirPerms[t], s.serveFHIR})
	}
	for _, m := range []string{"POST", "PUT", "PATCH", "DELETE"} {
		rs = append(rs, Route{m, FHIRBase + "/{path...}", auth.PermSelf, s.serveFHIR})
	}
	return rs
}

func (s *Server) serveFHIR(w http.ResponseWriter, r *http.Request) error {
	f := s.FHIR
	if f == nil || f.Store == nil {
		f = noFHIR
	}
	f.handler(s).ServeHTTP(w, r)
	return nil
}

// noFHIR serves when no store is configured: the metadata, and nothing found.
var noFHIR = func() *FHIRAPI {
	st, _ := server.OpenMem("")
	return &FHIRAPI{Store: st}
}()

// fhirCheck allows a type when the principal's role grants its permission
// and the credential's SMART scopes (if scope-limited) allow reading it.
// The route's guard checked the primary type's permission already; this
// also covers the types _include brings in.
func (s *Server) fhirCheck(r *http.Request, typ string, write bool) error {
	if write {
		return &server.Error{Status: http.StatusMethodNotAllowed, Code: "not-supported", Public: "this FHIR server is read-only"}
	}
	p := principal(r.Context())
	perm, ok := fhirPerms[typ]
	if !ok || p == nil {
		return &server.Error{Status: http.StatusForbidden, Code: "forbidden", Public: "not allowed"}
	}
	if _, err := p.Can(perm, s.Site, "", r.Header.Get(BreakGlassHeader)); err != nil {
		return &server.Error{Status: http.StatusForbidden, Code: "forbidden", Public: typ + " needs " + string(perm)}
	}
	if s.FHIR != nil && s.FHIR.Scopes != nil {
		if scopes, limited := s.FHIR.Scopes(p); limited && !server.ScopeAllows(scopes, typ, false) {
			return &server.Error{Status: http.StatusForbidden, Code: "forbidden", Public: "the token's scopes do not allow reading " + typ}
		}
	}
	return nil
}

// fhirSeen audits what a FHIR answer returns, before it is sent: one
// record per patient, naming the resources by type and pseudonymous id.
func (s *Server) fhirSeen(r *http.Request, recs []server.Record) error {
	byPatient := map[string][]string{}
	var order []string
	for _, rec := range recs {
		if _, ok := byPatient[rec.Patient]; !ok {
			order = append(order, rec.Patient)
		}
		byPatient[rec.Patient] = append(byPatient[rec.Patient], rec.Type+"/"+rec.ID)
	}
	for _, pid := range order {
		if err := s.recordAccess(r, "fhir read", strings.Join(byPatient[pid], ","), pid); err != nil {
			return err
		}
	}
	return nil
}

// failFHIR answers an error of a FHIR route as an OperationOutcome.
func failFHIR(w http.ResponseWriter, he *Error) {
	server.WriteError(w, &server.Error{Status: he.Status, Public: he.Public})
}
