package server

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Options configure a Server.
type Options struct {
	// Store is read; Writable, when set, is also written (writable mode)
	// and must be the same store. Read-only mode answers writes with 405.
	Store    Store
	Writable WritableStore
	// Types are the resource types served.
	Types []string
	// Prefix is the path the handler is mounted at ("/fhir/r4"; "" at root).
	Prefix string
	// Base is the absolute base URL in links and fullUrls; "" derives it
	// from the request (scheme, Host, Prefix).
	Base string
	Log  *slog.Logger
	// Check, when set, is asked before resources of typ are returned or
	// (write) written; its error (an *Error) is the answer.
	Check func(r *http.Request, typ string, write bool) error
	// Seen, when set, is told of the resources about to be returned,
	// before any is; an error fails the request (the audit trail).
	Seen func(r *http.Request, recs []Record) error
	// Validate, when set, checks a resource before it is written; an
	// error is a 422 with the error's text (it must hold no patient data).
	Validate func(typ string, body []byte) error
	// Security is the CapabilityStatement's rest.security element.
	Security map[string]any
	// SystemAliases maps an identifier system to the one resources are
	// stored under: a search by identifier (or patient.identifier) in
	// another name of the same authority finds them.
	SystemAliases map[string]string
	Now           func() time.Time
}

// Server is the FHIR REST handler.
type Server struct {
	opt   Options
	types map[string]bool
	// For PutBundle: any resource type is written, and idFor (when it
	// returns an id) names the resources a transaction creates.
	anyType bool
	idFor   func(typ string) string
}

var _ http.Handler = (*Server)(nil)

// New returns the handler.
func New(o Options) *Server {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Server{opt: o, types: map[string]bool{}}
	for _, t := range o.Types {
		s.types[t] = true
	}
	return s
}

// Writable reports whether the server accepts writes.
func (s *Server) Writable() bool { return s.opt.Writable != nil }

// maxBody limits a request body (a transaction Bundle of a genomic report
// is well under it).
const maxBody = 16 << 20

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := s.serve(w, r); err != nil {
		var e *Error
		if !errors.As(err, &e) {
			e = &Error{Status: http.StatusInternalServerError, Code: "exception", Public: "internal error", Cause: err}
		}
		if e.Status >= 500 || e.Cause != nil {
			s.opt.Log.Error("FHIR request failed", "method", r.Method, "status", e.Status, "err", errString(e.Cause))
		}
		WriteError(w, e)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) error {
	if err := checkFormat(r); err != nil {
		return err
	}
	path, ok := strings.CutPrefix(r.URL.Path, s.opt.Prefix)
	if !ok {
		return errorf(http.StatusNotFound, "not-found", "no such endpoint")
	}
	seg := strings.Split(strings.Trim(path, "/"), "/")
	if len(seg) == 1 && seg[0] == "" {
		seg = nil
	}
	switch {
	case len(seg) == 0 && r.Method == http.MethodPost:
		return s.transaction(w, r)
	case len(seg) == 1 && seg[0] == "metadata":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			return notAllowed(r.Method)
		}
		writeResource(w, http.StatusOK, s.capability(r), pretty(r))
		return nil
	case len(seg) == 0:
		return notAllowed(r.Method)
	}
	typ := seg[0]
	if !s.types[typ] {
		if !validType(typ) {
			return errorf(http.StatusNotFound, "not-found", "no such endpoint")
		}
		return errorf(http.StatusNotFound, "not-supported", "resource type %s is not supported here", typ)
	}
	switch {
	case len(seg) == 1 && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		return s.search(w, r, typ)
	case len(seg) == 1 && r.Method == http.MethodPost:
		return s.create(w, r, typ)
	case len(seg) == 2 && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		return s.read(w, r, typ, seg[1], "")
	case len(seg) == 2 && r.Method == http.MethodPut:
		return s.update(w, r, typ, seg[1])
	case len(seg) == 4 && seg[2] == "_history" && r.Method == http.MethodGet:
		return s.read(w, r, typ, seg[1], seg[3])
	case len(seg) <= 2:
		return notAllowed(r.Method)
	}
	return errorf(http.StatusNotFound, "not-found", "no such endpoint")
}

func notAllowed(method string) *Error {
	return errorf(http.StatusMethodNotAllowed, "not-supported", "%s is not supported here", method)
}

// jsonTypes are the media types of FHIR JSON this server reads and writes.
var jsonTypes = map[string]bool{"json": true, "application/json": true, "application/fhir+json": true, "application/json+fhir": true}

// checkFormat refuses what the server cannot answer in: _format (which
// overrides Accept) or Accept naming only other formats.
func checkFormat(r *http.Request) error {
	if f := r.URL.Query().Get("_format"); f != "" {
		mt, _, err := mime.ParseMediaType(f)
		if err != nil && f != "json" {
			return errorf(http.StatusNotAcceptable, "not-supported", "_format %q is not supported: use json", f)
		}
		if !jsonTypes[f] && !jsonTypes[mt] {
			return errorf(http.StatusNotAcceptable, "not-supported", "_format: only JSON is supported")
		}
		return nil
	}
	accept := r.Header.Get("Accept")
	if accept == "" {
		return nil
	}
	for _, part := range strings.Split(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err == nil && (jsonTypes[mt] || mt == "*/*" || mt == "application/*") {
			return nil
		}
	}
	return errorf(http.StatusNotAcceptable, "not-supported", "only application/fhir+json is served")
}

func pretty(r *http.Request) bool { return r.URL.Query().Get("_pretty") == "true" }

// base is the absolute base URL of the server for this request.
func (s *Server) base(r *http.Request) string {
	if s.opt.Base != "" {
		return strings.TrimSuffix(s.opt.Base, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + s.opt.Prefix
}

func (s *Server) check(r *http.Request, typ string, write bool) error {
	if s.opt.Check == nil {
		return nil
	}
	return s.opt.Check(r, typ, write)
}

func (s *Server) seen(r *http.Request, recs []Record) error {
	if s.opt.Seen == nil || len(recs) == 0 {
		return nil
	}
	return s.opt.Seen(r, recs)
}

// read answers GET [base]/{type}/{id} (and a vread of the current version).
func (s *Server) read(w http.ResponseWriter, r *http.Request, typ, id, version string) error {
	if err := s.check(r, typ, false); err != nil {
		return err
	}
	if !validID(id) {
		return errorf(http.StatusNotFound, "not-found", "%s/%s is not known", typ, "(invalid id)")
	}
	rec, err := s.opt.Store.Get(r.Context(), typ, id)
	if errors.Is(err, ErrNotFound) {
		return errorf(http.StatusNotFound, "not-found", "%s/%s is not known", typ, id)
	}
	if err != nil {
		return err
	}
	if version != "" && version != strconv.Itoa(rec.Version) {
		return errorf(http.StatusNotFound, "not-found", "%s/%s has no version %s kept here (history is not kept)", typ, id, version)
	}
	if err := s.seen(r, []Record{rec}); err != nil {
		return err
	}
	setVersionHeaders(w, rec)
	writeRaw(w, http.StatusOK, rec.Body, pretty(r))
	return nil
}

func setVersionHeaders(w http.ResponseWriter, rec Record) {
	w.Header().Set("ETag", `W/"`+strconv.Itoa(rec.Version)+`"`)
	w.Header().Set("Last-Modified", rec.Updated.UTC().Format(http.TimeFormat))
}

// writeRaw writes a stored resource as is.
func writeRaw(w http.ResponseWriter, status int, body json.RawMessage, pretty bool) {
	writeResource(w, status, body, pretty)
}

// searchset is a search result Bundle.
type bundle struct {
	ResourceType string         `json:"resourceType"`
	ID           string         `json:"id,omitempty"`
	Meta         map[string]any `json:"meta,omitempty"`
	Type         string         `json:"type"`
	Total        *int           `json:"total,omitempty"`
	Link         []link         `json:"link,omitempty"`
	Entry        []entry        `json:"entry,omitempty"`
}

type link struct {
	Relation string `json:"relation"`
	URL      string `json:"url"`
}

type entry struct {
	FullURL  string          `json:"fullUrl,omitempty"`
	Resource json.RawMessage `json:"resource,omitempty"`
	Search   *entrySearch    `json:"search,omitempty"`
	Response *entryResponse  `json:"response,omitempty"`
}

type entrySearch struct {
	Mode string `json:"mode"`
}

type entryResponse struct {
	Status       string          `json:"status"`
	Location     string          `json:"location,omitempty"`
	Etag         string          `json:"etag,omitempty"`
	LastModified string          `json:"lastModified,omitempty"`
	Outcome      json.RawMessage `json:"outcome,omitempty"`
}

func newID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// search answers GET [base]/{type}?params.
func (s *Server) search(w http.ResponseWriter, r *http.Request, typ string) error {
	if err := s.check(r, typ, false); err != nil {
		return err
	}
	q := r.URL.Query()
	s.aliasSystems(q)
	sr, err := parseSearch(typ, q)
	if err != nil {
		return err
	}
	if err := s.resolveChains(r, sr); err != nil {
		return err
	}
	sr.q.Limit = sr.count
	res, err := s.opt.Store.Search(r.Context(), sr.q)
	if err != nil {
		return err
	}
	included, err := s.resolveIncludes(r, sr, res.Records)
	if err != nil {
		return err
	}
	if err := s.seen(r, append(append([]Record(nil), res.Records...), included...)); err != nil {
		return err
	}
	base := s.base(r)
	total := res.Total
	b := bundle{ResourceType: "Bundle", ID: newID(), Meta: map[string]any{"lastUpdated": s.opt.Now().UTC().Format(time.RFC3339Nano)},
		Type: "searchset", Total: &total}
	pageURL := func(c *cursor) string {
		v := cloneValues(sr.params)
		if c != nil {
			v.Set("_cursor", c.String())
		}
		if q := v.Encode(); q != "" {
			return base + "/" + typ + "?" + q
		}
		return base + "/" + typ
	}
	var self *cursor
	if sr.q.MaxSeq > 0 || sr.q.Offset > 0 {
		self = &cursor{Snap: res.MaxSeq, Offset: sr.q.Offset}
	}
	b.Link = append(b.Link, link{"self", pageURL(self)})
	if sr.count > 0 && sr.q.Offset+len(res.Records) < total {
		b.Link = append(b.Link, link{"next", pageURL(&cursor{Snap: res.MaxSeq, Offset: sr.q.Offset + len(res.Records)})})
	}
	if sr.q.Offset > 0 && sr.count > 0 {
		b.Link = append(b.Link, link{"previous", pageURL(&cursor{Snap: res.MaxSeq, Offset: max(0, sr.q.Offset-sr.count)})})
	}
	for _, rec := range res.Records {
		b.Entry = append(b.Entry, entry{FullURL: base + "/" + rec.Type + "/" + rec.ID, Resource: rec.Body, Search: &entrySearch{"match"}})
	}
	for _, rec := range included {
		b.Entry = append(b.Entry, entry{FullURL: base + "/" + rec.Type + "/" + rec.ID, Resource: rec.Body, Search: &entrySearch{"include"}})
	}
	writeResource(w, http.StatusOK, b, pretty(r))
	return nil
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// maxIncluded bounds the resources one page may include.
const maxIncluded = 1000

// resolveIncludes reads the resources the matches reference through the
// _include elements, once each, leaving out the matches themselves and
// references to resources not held here.
// maxChained bounds the patients one patient.identifier may name.
const maxChained = 100

// resolveChains turns each patient.identifier search into a group of
// references to the patients with that identifier (none: nothing
// matches). Reading the patients needs their read permission too.
func (s *Server) resolveChains(r *http.Request, sr *search) error {
	for _, ids := range sr.chains {
		if err := s.check(r, "Patient", false); err != nil {
			return err
		}
		res, err := s.opt.Store.Search(r.Context(), Query{Type: "Patient", Tokens: [][]string{ids}, Limit: maxChained + 1})
		if err != nil {
			return err
		}
		if len(res.Records) > maxChained {
			return errorf(http.StatusBadRequest, "too-costly", "the identifier names more than %d patients", maxChained)
		}
		// Finding the patients by identifier reads them, even when no
		// resource of theirs matches: it says whether they have any.
		if err := s.seen(r, res.Records); err != nil {
			return err
		}
		group := []string{"patient=Patient/-none-"} // no resource has that reference
		for _, p := range res.Records {
			group = append(group, "patient=Patient/"+p.ID)
		}
		sr.q.Tokens = append(sr.q.Tokens, group)
	}
	return nil
}

func (s *Server) resolveIncludes(r *http.Request, sr *search, matches []Record) ([]Record, error) {
	if len(sr.includes) == 0 {
		return nil, nil
	}
	have := map[string]bool{}
	for _, m := range matches {
		have[m.Type+"/"+m.ID] = true
	}
	// The references, once each, by type in the order first met: one
	// query a type, not one a resource.
	var types []string
	ids := map[string][]string{}
	n := 0
	for _, m := range matches {
		var res map[string]any
		if err := json.Unmarshal(m.Body, &res); err != nil {
			return nil, err
		}
		for _, inc := range sr.includes {
			for _, ref := range references(res[inc.path]) {
				t, id, ok := localRef(ref, "")
				if !ok || (inc.target != "" && t != inc.target) || have[t+"/"+id] || !s.types[t] {
					continue
				}
				have[t+"/"+id] = true
				if n++; n > maxIncluded {
					return nil, errorf(http.StatusBadRequest, "too-costly", "the page includes more than %d resources: ask for a smaller _count", maxIncluded)
				}
				if ids[t] == nil {
					types = append(types, t)
				}
				ids[t] = append(ids[t], id)
			}
		}
	}
	var out []Record
	for _, t := range types {
		if err := s.check(r, t, false); err != nil {
			return nil, err
		}
		res, err := s.opt.Store.Search(r.Context(), Query{Type: t, IDs: ids[t], Limit: len(ids[t])})
		if err != nil {
			return nil, err
		}
		out = append(out, res.Records...) // references to resources not held here find nothing
	}
	return out, nil
}

// aliasSystems rewrites the systems of identifier searches in q to the
// ones resources are stored under (Options.SystemAliases), in each
// value of an OR list.
func (s *Server) aliasSystems(q url.Values) {
	if len(s.opt.SystemAliases) == 0 {
		return
	}
	for _, k := range []string{"identifier", "patient.identifier", "subject.identifier"} {
		for i, v := range q[k] {
			parts := strings.Split(v, ",")
			for j, p := range parts {
				if sys, val, ok := strings.Cut(p, "|"); ok {
					if to, ok := s.opt.SystemAliases[sys]; ok {
						parts[j] = to + "|" + val
					}
				}
			}
			q[k][i] = strings.Join(parts, ",")
		}
	}
}
