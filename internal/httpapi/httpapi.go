// Package httpapi is the JSON API of the server: runs, uploads, lake
// objects, API tokens. Browser routes live elsewhere. Every route declares
// the permission it needs and is authenticated, authorized and audited
// (access.go); an error has a public message for the client and a cause
// that is only logged.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/clinomics/clinomics/internal/auth"
	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/lake"
	"github.com/clinomics/clinomics/internal/pipeline"
)

// Route is one API endpoint.
type Route struct {
	Method, Pattern string
	Perm            auth.Permission
	Handle          func(w http.ResponseWriter, r *http.Request) error
}

// Server serves the API.
type Server struct {
	Store   catalog.Store
	Lake    *lake.Lake
	Manager *pipeline.Manager
	Log     *slog.Logger
	// Defaults fills what a submitted run leaves out.
	DefaultTrim bool
	Auth        Authenticator
	Audit       Auditor
	Limiter     *auth.Limiter // nil: no limit on failed authentications
	Site        string        // this installation's site, the scope grants are checked against
	Reports     ReportStore   // nil: the report routes answer 503
	FHIR        *FHIRAPI      // nil: the FHIR API serves no resources
}

// Error is an HTTP error: Public goes to the client, Cause only to the log.
type Error struct {
	Status int
	Public string
	Cause  error
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %v", e.Status, e.Public, e.Cause) }
func (e *Error) Unwrap() error { return e.Cause }

// Routes lists every route with its permission.
func (s *Server) Routes() []Route {
	return append([]Route{
		{"GET", "/healthz", auth.PermPublic, s.health},
		{"POST", "/api/v1/runs", auth.PermRunsSubmit, s.submit},
		{"GET", "/api/v1/runs", auth.PermRunsRead, s.list},
		{"GET", "/api/v1/runs/{id}", auth.PermRunsRead, s.show},
		{"POST", "/api/v1/runs/{id}/cancel", auth.PermRunsCancel, s.cancel},
		{"POST", "/api/v1/uploads", auth.PermLakeWrite, s.beginUpload},
		{"GET", "/api/v1/uploads/{id}", auth.PermLakeWrite, s.uploadStatus},
		{"PATCH", "/api/v1/uploads/{id}", auth.PermLakeWrite, s.uploadData},
		{"DELETE", "/api/v1/uploads/{id}", auth.PermLakeWrite, s.cancelUpload},
		{"GET", "/api/v1/objects", auth.PermLakeList, s.listObjects},
		{"GET", "/api/v1/objects/{path...}", auth.PermLakeRead, s.getObject},
		{"GET", "/api/v1/whoami", auth.PermSelf, s.whoami},
		{"POST", "/api/v1/tokens", auth.PermTokensOwn, s.createToken},
		{"GET", "/api/v1/tokens", auth.PermTokensOwn, s.listTokens},
		{"DELETE", "/api/v1/tokens/{id}", auth.PermTokensOwn, s.revokeToken},
	}, append(s.reportRoutes(), s.fhirRoutes()...)...)
}

// Handler returns the mux over Routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range s.Routes() {
		if rt.Perm == "" {
			panic("httpapi: route " + rt.Pattern + " declares no permission")
		}
		mux.HandleFunc(rt.Method+" "+rt.Pattern, s.guard(rt, func(w http.ResponseWriter, r *http.Request) {
			if err := rt.Handle(w, r); err != nil {
				s.fail(w, r, err)
			}
		}))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, &Error{Status: http.StatusNotFound, Public: "no such endpoint"})
	})
	return mux
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var he *Error
	if !errors.As(err, &he) {
		he = &Error{Status: http.StatusInternalServerError, Public: "internal error", Cause: err}
	}
	if he.Status >= 500 || he.Cause != nil {
		s.Log.Error("request failed", "method", r.Method, "route", r.Pattern, "status", he.Status, "err", fmt.Sprint(he.Cause))
	}
	if strings.HasPrefix(r.URL.Path, FHIRBase+"/") {
		failFHIR(w, he)
		return
	}
	writeJSON(w, he.Status, map[string]string{"error": he.Public})
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// SubmitRequest is the body of POST /api/v1/runs.
type SubmitRequest struct {
	Pipeline  string   `json:"pipeline"`
	Sample    string   `json:"sample"`
	FASTQ     []string `json:"fastq"`
	Reference string   `json:"reference"`
	Targets   string   `json:"targets,omitempty"`
	Out       string   `json:"out"`
	Patient   string   `json:"patient,omitempty"` // pseudonymous id for lake outputs
	Caller    string   `json:"caller,omitempty"`
	Trim      *bool    `json:"trim,omitempty"`
}

const maxBody = 1 << 20

func (s *Server) submit(w http.ResponseWriter, r *http.Request) error {
	var req SubmitRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return &Error{Status: http.StatusBadRequest, Public: "request body: " + jsonProblem(err)}
	}
	if req.Pipeline != pipeline.GermlinePipeline {
		return &Error{Status: http.StatusBadRequest, Public: fmt.Sprintf("pipeline: only %q is available", pipeline.GermlinePipeline)}
	}
	p := pipeline.GermlineParams{Sample: req.Sample, FASTQ: req.FASTQ, Reference: req.Reference,
		Targets: req.Targets, OutDir: req.Out, Patient: req.Patient, Caller: req.Caller, Trim: s.DefaultTrim}
	if req.Trim != nil {
		p.Trim = *req.Trim
	}
	who := principal(r.Context())
	p.Submitter = who.Actor()
	// Lake inputs are patient data: submitting a run over them is reading them.
	for _, in := range append([]string{p.Targets}, p.FASTQ...) {
		if pipeline.IsLake(in) {
			if _, err := who.Can(auth.PermLakeRead, s.Site, "", ""); err != nil {
				return &Error{Status: http.StatusForbidden, Public: "inputs from the lake need " + string(auth.PermLakeRead)}
			}
		}
	}
	if pipeline.IsLake(p.OutDir) {
		if _, err := who.Can(auth.PermLakeWrite, s.Site, "", ""); err != nil {
			return &Error{Status: http.StatusForbidden, Public: "outputs to the lake need " + string(auth.PermLakeWrite)}
		}
	}
	run, err := s.Manager.Submit(r.Context(), p)
	if err != nil {
		// Validation errors name server-side paths and parameters, never patient data.
		return &Error{Status: http.StatusBadRequest, Public: err.Error()}
	}
	w.Header().Set("Location", "/api/v1/runs/"+run.ID)
	return writeJSON(w, http.StatusAccepted, runJSON(run))
}

func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("malformed JSON at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("field %q must be %s", te.Field, te.Type)
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return "too large"
	}
	if strings.HasPrefix(err.Error(), "json: unknown field") {
		return "a field this endpoint does not take (the README lists its fields)" // the name is not repeated
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "incomplete JSON"
	}
	return "malformed JSON"
}

// RunView is a run as the API shows it.
type RunView struct {
	ID       string         `json:"id"`
	Sample   string         `json:"sample"`
	Pipeline string         `json:"pipeline"`
	State    string         `json:"state"`
	Error    string         `json:"error,omitempty"`
	Out      string         `json:"out"`
	Created  string         `json:"created"`
	Updated  string         `json:"updated"`
	Tasks    []TaskView     `json:"tasks,omitempty"`
	Files    []FileView     `json:"files,omitempty"`
	Objects  []ObjectView   `json:"objects,omitempty"` // outputs stored in the lake
	Tools    map[string]any `json:"tools,omitempty"`
}

// TaskView is a task as the API shows it.
type TaskView struct {
	ID         string  `json:"id"`
	Step       string  `json:"step"`
	State      string  `json:"state"`
	Attempts   int     `json:"attempts"`
	ExitCode   int     `json:"exit_code,omitempty"`
	Error      string  `json:"error,omitempty"`
	CPUSeconds float64 `json:"cpu_seconds"`
}

// FileView is an output file.
type FileView struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	Task   string `json:"task"`
}

const timeFormat = "2006-01-02T15:04:05.000Z07:00"

func runJSON(r catalog.Run) RunView {
	return RunView{ID: r.ID, Sample: r.SampleID, Pipeline: r.Pipeline, State: string(r.State), Error: r.Error,
		Out: r.OutDir, Created: r.Created.Format(timeFormat), Updated: r.Updated.Format(timeFormat)}
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) error {
	f := catalog.RunFilter{SampleID: r.URL.Query().Get("sample"), State: catalog.RunState(r.URL.Query().Get("state")), Limit: 100}
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			return &Error{Status: http.StatusBadRequest, Public: "limit must be an integer from 1 to 10000"}
		}
		f.Limit = n
	}
	runs, err := s.Store.ListRuns(r.Context(), f)
	if err != nil {
		return err
	}
	out := make([]RunView, 0, len(runs))
	for _, run := range runs {
		out = append(out, runJSON(run))
	}
	return writeJSON(w, http.StatusOK, map[string]any{"runs": out})
}

func (s *Server) getRun(ctx context.Context, id string) (catalog.Run, error) {
	run, err := s.Store.GetRun(ctx, id)
	if errors.Is(err, catalog.ErrNotFound) {
		return run, &Error{Status: http.StatusNotFound, Public: "no such run"}
	}
	return run, err
}

func (s *Server) show(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	run, err := s.getRun(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	v := runJSON(run)
	tasks, err := s.Store.ListTasks(ctx, run.ID)
	if err != nil {
		return err
	}
	for _, t := range tasks {
		v.Tasks = append(v.Tasks, TaskView{ID: t.TaskID, Step: t.Name, State: string(t.State), Attempts: t.Attempts,
			ExitCode: t.ExitCode, Error: t.Error, CPUSeconds: t.CPUSeconds})
	}
	objs, err := s.Store.ListVersionsByRun(ctx, run.ID)
	if err != nil {
		return err
	}
	for _, o := range objs {
		v.Objects = append(v.Objects, objectView(o))
	}
	if !pipeline.IsLake(run.OutDir) { // a lake run's work files are removed once its outputs are stored
		files, err := s.Store.ListFiles(ctx, run.ID)
		if err != nil {
			return err
		}
		for _, f := range files {
			v.Files = append(v.Files, FileView{Path: f.Path, Size: f.Size, SHA256: f.SHA256, Task: f.TaskID})
		}
	}
	tv, err := s.Store.ToolVersions(ctx, run.ID)
	if err != nil {
		return err
	}
	if len(tv) > 0 {
		v.Tools = map[string]any{}
		for _, t := range tv {
			v.Tools[t.Tool] = t.Version
		}
	}
	return writeJSON(w, http.StatusOK, v)
}

func (s *Server) cancel(w http.ResponseWriter, r *http.Request) error {
	run, err := s.getRun(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := s.Manager.Cancel(run.ID); err != nil {
		return &Error{Status: http.StatusConflict, Public: "run is not executing (state " + string(run.State) + ")"}
	}
	return writeJSON(w, http.StatusAccepted, map[string]string{"id": run.ID, "state": "cancelling"})
}
