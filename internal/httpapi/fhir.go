package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/clinomics/clinomics/internal/auth"
	"github.com/clinomics/clinomics/internal/fhir"
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
	// Orders, when set, takes the ServiceRequests POSTed to
	// [base]/ServiceRequest (permission orders:write); nil: 405.
	Orders OrderAcceptor
	// SystemAliases: identifier systems searched as another
	// (server.Options.SystemAliases).
	SystemAliases map[string]string

	once sync.Once
	h    *server.Server
}

// fhirTypes are the resource types the API serves, sorted.
var fhirTypes = slices.Sorted(maps.Keys(fhirPerms))

func (f *FHIRAPI) handler(s *Server) *server.Server {
	f.once.Do(func() {
		f.h = server.New(server.Options{Store: f.Store, Types: fhirTypes, Prefix: FHIRBase, Log: s.Log,
			Check: s.fhirCheck, Seen: s.fhirSeen, SystemAliases: f.SystemAliases})
	})
	return f.h
}

// OrderAcceptor applies a ServiceRequest posted to the API (the clinical
// order and its patient) and puts it into the FHIR store, returning it as
// stored. An error that is an *fhir.Issue (or fhir.Issues) is the
// request's fault and names the element; an *server.Error has its own
// status and public message; anything else is internal.
type OrderAcceptor interface {
	AcceptServiceRequest(ctx context.Context, sr []byte, actor string) (server.Record, error)
}

// maxOrderBody bounds a posted ServiceRequest.
const maxOrderBody = 1 << 20

// fhirRoutes are the FHIR API's routes: read and search of each type with
// its permission, the CapabilityStatement (any authenticated principal), and writes (any
// authenticated principal) answered 405: the API is read-only.
func (s *Server) fhirRoutes() []Route {
	rs := []Route{{"GET", FHIRBase + "/metadata", auth.PermSelf, s.serveFHIR}} // only /healthz is public here
	for _, t := range fhirTypes {
		rs = append(rs,
			Route{"GET", FHIRBase + "/" + t, fhirPerms[t], s.serveFHIR},
			Route{"GET", FHIRBase + "/" + t + "/{id}", fhirPerms[t], s.serveFHIR})
	}
	rs = append(rs, Route{"POST", FHIRBase + "/ServiceRequest", auth.PermOrdersWrite, s.postServiceRequest})
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
	reason := r.Header.Get(BreakGlassHeader)
	acc, err := p.Can(perm, s.Site, "", reason)
	if err != nil {
		return &server.Error{Status: http.StatusForbidden, Code: "forbidden", Public: typ + " needs " + string(perm)}
	}
	if a, ok := r.Context().Value(accessKey{}).(*access); ok && acc.BreakGlass {
		a.breakGlass = reason // what this request reads next is recorded as emergency access
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

// postServiceRequest answers POST [base]/ServiceRequest: the order is
// applied (found or created with its patient, audited) and the
// ServiceRequest stored for reading back: 201 with its Location, or an
// OperationOutcome naming the element at fault (400 when the body is not
// a ServiceRequest at all, 422 when an element is missing or wrong).
func (s *Server) postServiceRequest(w http.ResponseWriter, r *http.Request) error {
	f := s.FHIR
	if f == nil || f.Orders == nil {
		server.WriteError(w, &server.Error{Status: http.StatusMethodNotAllowed, Code: "not-supported", Public: "orders are not taken here"})
		return nil
	}
	p := principal(r.Context())
	if f.Scopes != nil {
		if scopes, limited := f.Scopes(p); limited && !server.ScopeAllows(scopes, "ServiceRequest", true) {
			server.WriteError(w, &server.Error{Status: http.StatusForbidden, Code: "forbidden", Public: "the token's scopes do not allow writing ServiceRequest"})
			return nil
		}
	}
	body, err := server.ReadBody(w, r, maxOrderBody)
	if err != nil {
		server.WriteError(w, err)
		return nil
	}
	rec, err := f.Orders.AcceptServiceRequest(r.Context(), body, p.Actor())
	if err != nil {
		s.writeOrderError(w, r, err)
		return nil
	}
	if err := s.recordAccess(r, "fhir create", rec.Type+"/"+rec.ID, rec.Patient); err != nil {
		return err
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	server.WriteWritten(w, r, scheme+"://"+r.Host+FHIRBase, rec, http.StatusCreated)
	return nil
}

// writeOrderError answers a refused order: an Issue's OperationOutcome
// (it names elements, never content), a server.Error as it says, and
// anything else as an internal error whose cause is only logged.
func (s *Server) writeOrderError(w http.ResponseWriter, r *http.Request, err error) {
	var is *fhir.Issue
	var iss fhir.Issues
	if errors.As(err, &is) || errors.As(err, &iss) {
		status := http.StatusUnprocessableEntity
		switch {
		case errors.Is(err, fhir.ErrTooLarge):
			status = http.StatusRequestEntityTooLarge
		case errors.Is(err, fhir.ErrSyntax), errors.Is(err, fhir.ErrResourceType), errors.Is(err, fhir.ErrType):
			status = http.StatusBadRequest
		}
		b, merr := json.Marshal(fhir.OutcomeOf(err))
		if merr == nil {
			w.Header().Set("Content-Type", server.ContentType)
			w.Header().Set("Cache-Control", "no-store")
			w.Header().Set("X-Content-Type-Options", "nosniff")
			w.WriteHeader(status)
			w.Write(append(b, '\n'))
			return
		}
		err = merr
	}
	var se *server.Error
	if !errors.As(err, &se) {
		se = &server.Error{Status: http.StatusInternalServerError, Code: "exception", Public: "internal error", Cause: err}
	}
	if se.Status >= 500 || se.Cause != nil {
		s.Log.Error("FHIR order refused", "status", se.Status, "err", errString(se.Cause))
	}
	server.WriteError(w, se)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
