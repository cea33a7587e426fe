package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/clinomics/clinomics/internal/auth"
	"github.com/clinomics/clinomics/internal/report"
)

// ReportStore is the clinical report workflow (report.Store).
type ReportStore interface {
	CreateDraft(ctx context.Context, r report.Report, op report.Op) (report.Report, error)
	Get(ctx context.Context, id string) (report.Report, error)
	List(ctx context.Context, f report.Filter) ([]report.Summary, error)
	Update(ctx context.Context, r report.Report, op report.Op) (report.Report, error)
	Review(ctx context.Context, id string, op report.Op) (report.Report, error)
	Reopen(ctx context.Context, id string, op report.Op) (report.Report, error)
	Sign(ctx context.Context, id string, op report.Op) (report.Report, error)
	Amend(ctx context.Context, id string, op report.Op) (report.Report, error)
}

var _ ReportStore = (*report.Store)(nil)

// reportRoutes are the clinical report endpoints.
func (s *Server) reportRoutes() []Route {
	return []Route{
		{"GET", "/api/v1/reports", auth.PermReportsRead, s.listReports},
		{"POST", "/api/v1/reports", auth.PermReportsWrite, s.createReport},
		{"GET", "/api/v1/reports/{id}", auth.PermReportsRead, s.showReport},
		{"GET", "/api/v1/reports/{id}/html", auth.PermReportsRead, s.renderReport(report.HTML, "text/html; charset=utf-8", "")},
		{"GET", "/api/v1/reports/{id}/pdf", auth.PermReportsRead, s.renderReport(report.PDF, "application/pdf", "pdf")},
		{"PUT", "/api/v1/reports/{id}", auth.PermReportsWrite, s.updateReport},
		{"POST", "/api/v1/reports/{id}/review", auth.PermReportsReview, s.reportStep((ReportStore).Review, false)},
		{"POST", "/api/v1/reports/{id}/reopen", auth.PermReportsWrite, s.reportStep((ReportStore).Reopen, false)},
		{"POST", "/api/v1/reports/{id}/sign", auth.PermReportsSign, s.reportStep((ReportStore).Sign, false)},
		{"POST", "/api/v1/reports/{id}/amend", auth.PermReportsWrite, s.reportStep((ReportStore).Amend, true)},
	}
}

// ReportStepRequest is the body of POST /api/v1/reports/{id}/review,
// /reopen, /sign and /amend (all optional but reason, for an amendment).
type ReportStepRequest struct {
	// Updated is the report's updated time as read: when set, the step
	// fails with 409 if the report changed since.
	Updated time.Time `json:"updated,omitzero"`
	Note    string    `json:"note,omitempty"`   // a comment kept in the signature
	Reason  string    `json:"reason,omitempty"` // why a signed report is amended (required for amend)
}

// ReportCreated is the answer to POST and PUT: the report's state, no
// patient data.
type ReportCreated = report.Summary

const maxReportBody = report.MaxDraft

func (s *Server) reports() (ReportStore, error) {
	if s.Reports == nil {
		return nil, &Error{Status: http.StatusServiceUnavailable, Public: "clinical reports are not available on this server", Cause: errors.New("no report store configured")}
	}
	return s.Reports, nil
}

// reportActor is who acts, for the report's signatures and four eyes: a
// personal API token acts for its owner, who is named in the sign-out
// block (the token's own name is not a person's).
func (s *Server) reportActor(r *http.Request) (report.Actor, error) {
	a, ok := r.Context().Value(accessKey{}).(*access)
	if !ok {
		return report.Actor{}, errors.New("httpapi: report step outside a guarded route")
	}
	act := report.Actor{Audit: a.p.Actor(), Name: a.p.Name, Source: a.source}
	if a.p.Kind == auth.KindToken {
		owner, err := s.owner(r.Context(), a.p)
		if err != nil {
			return act, err
		}
		act.Person, act.Name = owner, ""
	}
	return act, nil
}

// reportError maps the workflow's errors to HTTP: the public messages
// name states, fields and ids only.
func reportError(err error) error {
	var fe *report.FieldError
	switch {
	case errors.As(err, &fe):
		return &Error{Status: http.StatusBadRequest, Public: fe.Error()}
	case errors.Is(err, report.ErrNotFound):
		return &Error{Status: http.StatusNotFound, Public: "no such report"}
	case errors.Is(err, report.ErrStale):
		return &Error{Status: http.StatusConflict, Public: "the report changed since it was read; read it again"}
	case errors.Is(err, report.ErrFourEyes):
		return &Error{Status: http.StatusConflict, Public: "the person who reviewed the report cannot also sign it out"}
	case errors.Is(err, report.ErrImmutable):
		return &Error{Status: http.StatusConflict, Public: "the report is signed and cannot change; amend it instead"}
	case errors.Is(err, report.ErrState):
		return &Error{Status: http.StatusConflict, Public: publicState(err), Cause: err}
	case errors.Is(err, report.ErrTampered):
		return &Error{Status: http.StatusInternalServerError, Public: "the stored report failed its integrity check; it was reported to the administrators", Cause: err}
	}
	return err
}

// publicState is a state conflict's message: it names statuses and
// report ids, never content.
func publicState(err error) string {
	if se, ok := errors.AsType[*report.StateError](err); ok {
		return se.Reason
	}
	return "not allowed in the report's status"
}

func (s *Server) listReports(w http.ResponseWriter, r *http.Request) error {
	st, err := s.reports()
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := report.Filter{PatientID: q.Get("patient"), Status: report.Status(q.Get("status")), Limit: 1000}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			return &Error{Status: http.StatusBadRequest, Public: "limit must be an integer from 1 to 10000"}
		}
		f.Limit = n
	}
	list, err := st.List(r.Context(), f)
	if err != nil {
		return reportError(err)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"reports": list})
}

func (s *Server) createReport(w http.ResponseWriter, r *http.Request) error {
	st, err := s.reports()
	if err != nil {
		return err
	}
	draft, err := report.ParseDraft(http.MaxBytesReader(w, r.Body, maxReportBody))
	if err != nil {
		return reportError(err)
	}
	by, err := s.reportActor(r)
	if err != nil {
		return err
	}
	rep, err := st.CreateDraft(r.Context(), draft, report.Op{By: by})
	if err != nil {
		return reportError(err)
	}
	w.Header().Set("Location", "/api/v1/reports/"+rep.ID)
	return writeJSON(w, http.StatusCreated, rep.Summary())
}

// readReport gets the report of the path and records the access to the
// patient's data before it is returned.
func (s *Server) readReport(r *http.Request, what string) (report.Report, error) {
	st, err := s.reports()
	if err != nil {
		return report.Report{}, err
	}
	rep, err := st.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return rep, reportError(err)
	}
	if err := s.recordAccess(r, what, "report/"+rep.ID, rep.Patient.ID); err != nil {
		return report.Report{}, err
	}
	return rep, nil
}

func (s *Server) showReport(w http.ResponseWriter, r *http.Request) error {
	rep, err := s.readReport(r, "report.read")
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, rep)
}

// renderReport serves a rendering; ext, when set, names the download.
func (s *Server) renderReport(render func(io.Writer, report.Report) error, contentType, ext string) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		rep, err := s.readReport(r, "report.render")
		if err != nil {
			return err
		}
		var b bytes.Buffer
		if err := render(&b, rep); err != nil {
			return err
		}
		h := w.Header()
		h.Set("Content-Type", contentType)
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; sandbox")
		if ext != "" {
			h.Set("Content-Disposition", `attachment; filename="`+rep.ID+"."+ext+`"`)
		}
		_, err = w.Write(b.Bytes())
		return err
	}
}

func (s *Server) updateReport(w http.ResponseWriter, r *http.Request) error {
	st, err := s.reports()
	if err != nil {
		return err
	}
	rep, err := report.ParseDraft(http.MaxBytesReader(w, r.Body, maxReportBody))
	if err != nil {
		return reportError(err)
	}
	switch id := r.PathValue("id"); {
	case rep.ID == "":
		rep.ID = id
	case rep.ID != id:
		return &Error{Status: http.StatusBadRequest, Public: "ID: does not match the report of the path"}
	}
	if rep.Updated.IsZero() {
		return &Error{Status: http.StatusBadRequest, Public: "Updated: required: the report's Updated as it was read"}
	}
	by, err := s.reportActor(r)
	if err != nil {
		return err
	}
	rep, err = st.Update(r.Context(), rep, report.Op{By: by, IfUpdated: rep.Updated})
	if err != nil {
		return reportError(err)
	}
	return writeJSON(w, http.StatusOK, rep.Summary())
}

// reportStep serves a workflow step.
// Only an amendment takes a reason (it becomes the note of the step); a
// reason elsewhere, or with a note, is refused rather than merged.
func (s *Server) reportStep(step func(ReportStore, context.Context, string, report.Op) (report.Report, error), takesReason bool) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		st, err := s.reports()
		if err != nil {
			return err
		}
		var req ReportStepRequest
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil && !errors.Is(err, io.EOF) {
			return &Error{Status: http.StatusBadRequest, Public: "request body: " + jsonProblem(err)}
		}
		by, err := s.reportActor(r)
		if err != nil {
			return err
		}
		op := report.Op{By: by, Note: req.Note, IfUpdated: req.Updated}
		switch {
		case req.Reason != "" && !takesReason:
			return &Error{Status: http.StatusBadRequest, Public: "reason: only an amendment takes a reason; use note"}
		case req.Reason != "" && req.Note != "":
			return &Error{Status: http.StatusBadRequest, Public: "reason: give the reason, or a note, not both"}
		case req.Reason != "":
			op.Note = req.Reason
		}
		rep, err := step(st, r.Context(), r.PathValue("id"), op)
		if err != nil {
			return reportError(err)
		}
		return writeJSON(w, http.StatusOK, rep.Summary())
	}
}
