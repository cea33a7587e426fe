package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/lake"
)

// UploadRequest is the body of POST /api/v1/uploads.
type UploadRequest struct {
	Path    string `json:"path"`
	Size    int64  `json:"size"`
	SHA256  string `json:"sha256"`
	Patient string `json:"patient,omitempty"`
	Kind    string `json:"kind,omitempty"`
}

// UploadView is an upload's progress.
type UploadView struct {
	ID       string `json:"id"`
	Path     string `json:"path"`
	Size     int64  `json:"size"`
	Offset   int64  `json:"offset"`
	PartSize int64  `json:"part_size"`
	Done     bool   `json:"done"`
	Version  string `json:"version,omitempty"`
	SHA256   string `json:"sha256,omitempty"`
}

func uploadJSON(u catalog.Upload) UploadView {
	return UploadView{ID: u.ID, Path: u.Path, Size: u.Size, Offset: u.Offset, PartSize: u.PartSize}
}

// lakeError maps lake errors to public messages; causes are only logged.
func lakeError(err error) error {
	switch {
	case errors.Is(err, lake.ErrNotFound):
		return &Error{Status: http.StatusNotFound, Public: "no such object or upload"}
	case errors.Is(err, lake.ErrChecksum):
		return &Error{Status: http.StatusUnprocessableEntity, Public: "checksum mismatch: the data received does not hash to the declared sha256; the upload was discarded", Cause: err}
	case errors.Is(err, lake.ErrIntegrity):
		return &Error{Status: http.StatusInternalServerError, Public: "stored data failed its integrity check", Cause: err}
	case errors.Is(err, lake.ErrArchived):
		return &Error{Status: http.StatusConflict, Public: "object is in the archive tier: rehydrate it (tier hot or cool; this takes hours) before reading", Cause: err}
	case errors.Is(err, lake.ErrNoSpace):
		return &Error{Status: http.StatusInsufficientStorage, Public: "storage is full: nothing was committed; the parts already stored are kept, so the upload can resume once there is room", Cause: err}
	case errors.Is(err, lake.ErrUnreadable):
		return &Error{Status: http.StatusGone, Public: "object cannot be decrypted (its key is unavailable or was destroyed)", Cause: err}
	}
	return err
}

func (s *Server) beginUpload(w http.ResponseWriter, r *http.Request) error {
	var req UploadRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return &Error{Status: http.StatusBadRequest, Public: jsonProblem(err)}
	}
	switch {
	case req.Size < 0:
		return &Error{Status: http.StatusBadRequest, Public: "size: must be the file's size in bytes"}
	case len(req.SHA256) != 64:
		return &Error{Status: http.StatusBadRequest, Public: "sha256: required, 64 hex digits (the end-to-end checksum)"}
	case lake.CheckPath(req.Path) != nil:
		return &Error{Status: http.StatusBadRequest, Public: "path: must be a relative slash-separated path without empty, . or .. parts"}
	}
	u, err := s.Lake.BeginUpload(r.Context(), req.Path, req.Size, lake.PutOptions{Patient: req.Patient, Kind: req.Kind, SHA256: req.SHA256})
	if err != nil {
		return &Error{Status: http.StatusBadRequest, Public: "upload refused: " + publicLakeReason(err), Cause: err}
	}
	return writeJSON(w, http.StatusCreated, uploadJSON(u))
}

// publicLakeReason is the part of a validation error safe for a client.
func publicLakeReason(err error) string {
	msg := err.Error()
	for _, known := range []string{"bad object path", "patient id", "belongs to another patient", "sha256", "key"} {
		if strings.Contains(msg, known) {
			return strings.TrimPrefix(msg, "lake: ")
		}
	}
	return "invalid request"
}

func (s *Server) uploadStatus(w http.ResponseWriter, r *http.Request) error {
	u, err := s.Lake.Upload(r.Context(), r.PathValue("id"))
	if err != nil {
		return lakeError(err)
	}
	return writeJSON(w, http.StatusOK, uploadJSON(u))
}

// uploadData is PATCH /api/v1/uploads/{id} with header Upload-Offset: the
// body continues the file from there. Whole parts are stored as they
// arrive; the response (or, after a broken connection, GET) says where to
// go on.
func (s *Server) uploadData(w http.ResponseWriter, r *http.Request) error {
	off, err := strconv.ParseInt(r.Header.Get("Upload-Offset"), 10, 64)
	if err != nil || off < 0 {
		return &Error{Status: http.StatusBadRequest, Public: "Upload-Offset header: required, the byte offset this body starts at"}
	}
	// A body may be large: allow time in proportion, not the API's default.
	http.NewResponseController(w).SetReadDeadline(time.Now().Add(30 * time.Minute))
	u, v, err := s.Lake.WriteUpload(r.Context(), r.PathValue("id"), off, r.Body)
	if errors.Is(err, lake.ErrOffset) {
		w.Header().Set("Upload-Offset", strconv.FormatInt(u.Offset, 10))
		return &Error{Status: http.StatusConflict, Public: fmt.Sprintf("offset mismatch: the server has %d bytes; resume from there", u.Offset)}
	}
	if err != nil {
		if le := lakeError(err); le != err {
			return le
		}
		return &Error{Status: http.StatusInternalServerError, Public: "upload failed; resume from the offset GET reports", Cause: err}
	}
	view := uploadJSON(u)
	if v != nil {
		view.Done, view.Version, view.SHA256 = true, v.ID, v.SHA256
	}
	return writeJSON(w, http.StatusOK, view)
}

func (s *Server) cancelUpload(w http.ResponseWriter, r *http.Request) error {
	if err := s.Lake.CancelUpload(r.Context(), r.PathValue("id")); err != nil {
		return lakeError(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// ObjectView describes an object.
type ObjectView struct {
	Path    string    `json:"path"`
	Version string    `json:"version"`
	Size    int64     `json:"size"`
	SHA256  string    `json:"sha256"`
	Kind    string    `json:"kind"`
	Tier    string    `json:"tier"`
	Created time.Time `json:"created"`
}

func objectView(v catalog.ObjectVersion) ObjectView {
	return ObjectView{Path: v.Path, Version: v.ID, Size: v.Size, SHA256: v.SHA256, Kind: v.Kind, Tier: v.Tier, Created: v.Created}
}

func (s *Server) listObjects(w http.ResponseWriter, r *http.Request) error {
	objs, err := s.Lake.List(r.Context(), r.URL.Query().Get("prefix"), false)
	if err != nil {
		return err
	}
	out := []ObjectView{}
	for _, o := range objs {
		_, v, err := s.Lake.Stat(r.Context(), o.Path)
		if err != nil {
			return err
		}
		out = append(out, objectView(v))
	}
	return writeJSON(w, http.StatusOK, map[string]any{"objects": out})
}

// getObject streams an object, or one byte range of it (Range: bytes=A-B).
func (s *Server) getObject(w http.ResponseWriter, r *http.Request) error {
	path := r.PathValue("path")
	o, v, err := s.Lake.Stat(r.Context(), path)
	if err != nil {
		return lakeError(err)
	}
	off, n, status := int64(0), v.Size, http.StatusOK
	if rg := r.Header.Get("Range"); rg != "" {
		a, b, ok := parseRange(rg, v.Size)
		if !ok {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", v.Size))
			return &Error{Status: http.StatusRequestedRangeNotSatisfiable, Public: "Range: want bytes=A-B within the object"}
		}
		off, n, status = a, b-a+1, http.StatusPartialContent
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", a, b, v.Size))
	}
	rd, err := s.Lake.ReadRange(r.Context(), path, off, n)
	if err != nil {
		return lakeError(err)
	}
	defer rd.Close()
	if err := s.recordAccess(r, "lake.read", path+"@"+v.ID, o.Patient); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
	w.Header().Set("X-Content-SHA256", v.SHA256)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if _, err := io.Copy(w, rd); err != nil {
		// Headers are gone: abort the connection so the client sees a
		// truncated body, never silent bad data.
		s.Log.Error("object read failed", "version", v.ID, "err", err)
		panic(http.ErrAbortHandler)
	}
	return nil
}

// parseRange parses a single "bytes=A-B", "bytes=A-" or "bytes=-N".
func parseRange(h string, size int64) (int64, int64, bool) {
	spec, ok := strings.CutPrefix(h, "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return 0, 0, false
	}
	as, bs, ok := strings.Cut(spec, "-")
	if !ok {
		return 0, 0, false
	}
	if as == "" {
		n, err := strconv.ParseInt(bs, 10, 64)
		if err != nil || n <= 0 || size == 0 {
			return 0, 0, false
		}
		return max(0, size-n), size - 1, true
	}
	a, err := strconv.ParseInt(as, 10, 64)
	if err != nil || a < 0 || a >= size {
		return 0, 0, false
	}
	b := size - 1
	if bs != "" {
		if b, err = strconv.ParseInt(bs, 10, 64); err != nil || b < a {
			return 0, 0, false
		}
		b = min(b, size-1)
	}
	return a, b, true
}
