package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/clinomics/clinomics/internal/audit"
	"github.com/clinomics/clinomics/internal/auth"
	"github.com/clinomics/clinomics/internal/catalog"
)

// Authenticator says who is asking (auth.Authenticator).
type Authenticator interface {
	Authenticate(r *http.Request) (*auth.Principal, error)
}

// Auditor keeps the audit trail. Record returns only once the record is
// durable; an error fails the request (fail closed).
type Auditor interface {
	Record(ctx context.Context, e catalog.AuditEvent) error
}

// BreakGlassHeader carries the reason for break-the-glass access.
const BreakGlassHeader = "X-Break-Glass-Reason"

// access is the request's authorization, for handlers and the audit.
type access struct {
	p          *auth.Principal
	perm       auth.Permission
	source     string
	breakGlass string // the reason, when access was granted only by breaking the glass
}

type accessKey struct{}

// principal returns who is asking (nil on public routes).
func principal(ctx context.Context) *auth.Principal {
	if a, ok := ctx.Value(accessKey{}).(*access); ok {
		return a.p
	}
	return nil
}

// guard authenticates, authorizes and audits a route. Every request to a
// non-public route leaves an audit record: denied (401, detail
// "unauthenticated"; 403, detail the permission needed), or ok before the
// handler runs (so no data leaves without its record), and error if the
// handler then fails.
func (s *Server) guard(rt Route, h http.HandlerFunc) http.HandlerFunc {
	if rt.Perm == auth.PermPublic {
		return h
	}
	action := rt.Method + " " + rt.Pattern
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		src := auth.Source(r)
		now := time.Now()
		if s.Limiter != nil {
			if blocked, wait := s.Limiter.Blocked(src, now); blocked {
				w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
				s.fail(w, r, &Error{Status: http.StatusTooManyRequests, Public: "too many failed attempts; try again later"})
				return
			}
		}
		resource := auditResource(r.URL.Path)
		p, err := s.Auth.Authenticate(r)
		if err != nil {
			if s.Limiter != nil && !errors.Is(err, auth.ErrNoCredential) {
				s.Limiter.Fail(src, now)
			}
			s.Log.Warn("authentication failed", "route", action, "source", src, "reason", err.Error())
			if aerr := s.record(ctx, catalog.AuditEvent{Actor: "anonymous", Action: action, Resource: resource, Outcome: "denied", Detail: "unauthenticated"}, src, ""); aerr != nil {
				s.fail(w, r, aerr)
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="clinomics"`)
			s.fail(w, r, &Error{Status: http.StatusUnauthorized, Public: "authentication required"})
			return
		}
		reason := r.Header.Get(BreakGlassHeader)
		acc, err := p.Can(rt.Perm, s.Site, "", reason)
		a := &access{p: p, perm: rt.Perm, source: src}
		if acc.BreakGlass {
			a.breakGlass = reason
		}
		if err != nil {
			if aerr := s.record(ctx, catalog.AuditEvent{Actor: p.Actor(), Action: action, Resource: resource, Outcome: "denied", Detail: "needs " + string(rt.Perm)}, src, ""); aerr != nil {
				s.fail(w, r, aerr)
				return
			}
			msg := "permission denied: this needs " + string(rt.Perm)
			if errors.Is(err, auth.ErrBreakGlass) {
				msg += "; in an emergency, repeat the request with the header " + BreakGlassHeader + " giving the reason (it is audited)"
			}
			s.fail(w, r, &Error{Status: http.StatusForbidden, Public: msg})
			return
		}
		if err := s.record(ctx, catalog.AuditEvent{Actor: p.Actor(), Action: action, Resource: resource, Outcome: "ok"}, src, a.breakGlass); err != nil {
			s.fail(w, r, err)
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		h(sw, r.WithContext(context.WithValue(ctx, accessKey{}, a)))
		if sw.status >= 400 {
			if err := s.record(context.WithoutCancel(ctx), catalog.AuditEvent{Actor: p.Actor(), Action: action, Resource: resource,
				Outcome: "error", Detail: "HTTP " + strconv.Itoa(sw.status)}, src, a.breakGlass); err != nil {
				s.Log.Error("audit record of a failed request not written", "route", action, "err", err.Error())
			}
		}
	}
}

// recordAccess records what a handler is about to return about a patient
// (the object, the patient's pseudonymous id), before it returns it.
func (s *Server) recordAccess(r *http.Request, what, resource, patient string) error {
	a, ok := r.Context().Value(accessKey{}).(*access)
	if !ok {
		return errors.New("httpapi: recordAccess outside a guarded route")
	}
	return s.record(r.Context(), catalog.AuditEvent{Actor: a.p.Actor(), Action: what, Resource: auditResource(resource), Patient: patient, Outcome: "ok"}, a.source, a.breakGlass)
}

// record writes one audit event; an error is a 503 for the client.
func (s *Server) record(ctx context.Context, e catalog.AuditEvent, source, breakGlass string) error {
	if s.Audit == nil {
		return &Error{Status: http.StatusServiceUnavailable, Public: "audit trail unavailable; request refused", Cause: errors.New("no auditor configured")}
	}
	e.Source, e.BreakGlass = source, breakGlass
	if err := s.Audit.Record(ctx, e); err != nil {
		return &Error{Status: http.StatusServiceUnavailable, Public: "audit trail unavailable; request refused", Cause: fmt.Errorf("audit: %w", err)}
	}
	return nil
}

// statusWriter remembers the status a handler sent.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (deadlines, flush).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// auditResource is the request path as the audit records it: quoted when
// it holds control or non-UTF-8 bytes and cut to 512 bytes, so no path a
// client can send makes the record invalid (and the request unaudited).
func auditResource(path string) string {
	if !utf8.ValidString(path) || strings.ContainsFunc(path, audit.IsControl) {
		path = strconv.QuoteToASCII(path)
	}
	if len(path) > 512 {
		path = path[:509] + "..."
		for !utf8.ValidString(path) {
			path = path[:len(path)-4] + "..."
		}
	}
	return path
}
