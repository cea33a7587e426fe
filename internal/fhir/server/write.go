package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// required lists elements a resource of the type must have (1..1 in R4);
// a resource without one is unprocessable (422).
var required = map[string][]string{
	"DiagnosticReport": {"status", "code"},
	"Observation":      {"status", "code"},
	"ServiceRequest":   {"status", "intent", "subject"},
	"Specimen":         {},
	"Task":             {"status", "intent"},
}

func (s *Server) readOnly() error {
	if s.opt.Writable == nil {
		return errorf(http.StatusMethodNotAllowed, "not-supported", "this FHIR server is read-only")
	}
	return nil
}

// readResource reads a request body holding a resource: FHIR JSON, an
// object, at most maxBody bytes.
func readResource(w http.ResponseWriter, r *http.Request) (map[string]any, error) {
	b, err := ReadBody(w, r, maxBody)
	if err != nil {
		return nil, err
	}
	var res map[string]any
	if err := json.Unmarshal(b, &res); err != nil || res == nil {
		return nil, errorf(http.StatusBadRequest, "structure", "the body is not a JSON object")
	}
	return res, nil
}

// ReadBody reads the body of a request that writes a resource: FHIR JSON
// (or no Content-Type), at most limit bytes. Its errors are *Error, to be
// answered with WriteError.
func ReadBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || !jsonTypes[mt] {
			return nil, errorf(http.StatusUnsupportedMediaType, "not-supported", "send application/fhir+json")
		}
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errorf(http.StatusRequestEntityTooLarge, "too-costly", "the body is larger than %d bytes", limit)
		}
		return nil, errorf(http.StatusBadRequest, "invalid", "the body could not be read")
	}
	return b, nil
}

// prepare makes the record of a resource about to be written as version
// prev+1 (1 when prev is nil) with the given id: sets id and meta, indexes
// it and validates it.
func (s *Server) prepare(typ, id string, res map[string]any, prev *Record, now time.Time) (Record, error) {
	if rt, _ := res["resourceType"].(string); rt != typ {
		return Record{}, errorf(http.StatusBadRequest, "invalid", "resourceType must be %s", typ)
	}
	for _, el := range required[typ] {
		if v, ok := res[el]; !ok || v == nil || v == "" {
			return Record{}, errorf(http.StatusUnprocessableEntity, "required", "%s.%s is required", typ, el)
		}
	}
	rec := Record{Type: typ, ID: id, Version: 1, Updated: now.UTC()}
	if prev != nil {
		rec.Version, rec.Seq = prev.Version+1, prev.Seq
	}
	meta, _ := res["meta"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
	}
	meta["versionId"] = strconv.Itoa(rec.Version)
	meta["lastUpdated"] = rec.Updated.Format(time.RFC3339Nano)
	res["meta"], res["id"] = meta, id
	body, err := json.Marshal(res)
	if err != nil {
		return Record{}, errorf(http.StatusBadRequest, "structure", "the resource cannot be encoded")
	}
	if s.opt.Validate != nil {
		if err := s.opt.Validate(typ, body); err != nil {
			return Record{}, &Error{Status: http.StatusUnprocessableEntity, Code: "processing", Public: err.Error()}
		}
	}
	rec.Body = body
	rec.Tokens, rec.Patient = Index(typ, id, res)
	return rec, nil
}

// conditional parses an If-None-Exist query of typ.
func conditional(typ, query string) (Query, error) {
	v, err := url.ParseQuery(strings.TrimPrefix(query, "?"))
	if err != nil || len(v) == 0 {
		return Query{}, errorf(http.StatusBadRequest, "invalid", "If-None-Exist must be a search query")
	}
	sr, err := parseSearch(typ, v)
	if err != nil {
		return Query{}, err
	}
	if len(sr.includes) > 0 || sr.q.MaxSeq > 0 {
		return Query{}, errorf(http.StatusBadRequest, "invalid", "If-None-Exist takes search parameters only")
	}
	q := sr.q
	q.Limit = 2
	return q, nil
}

// findExisting runs a conditional create's query: the one match, nil when
// none, 412 when several.
func findExisting(ctx context.Context, tx Tx, q Query) (*Record, error) {
	res, err := tx.Search(ctx, q)
	if err != nil {
		return nil, err
	}
	switch {
	case res.Total > 1:
		return nil, errorf(http.StatusPreconditionFailed, "duplicate", "the conditional create matches %d %s resources", res.Total, q.Type)
	case res.Total == 1 && len(res.Records) == 1:
		return &res.Records[0], nil
	}
	return nil, nil
}

// create answers POST [base]/{type}, conditional with If-None-Exist.
func (s *Server) create(w http.ResponseWriter, r *http.Request, typ string) error {
	if err := s.readOnly(); err != nil {
		return err
	}
	if err := s.check(r, typ, true); err != nil {
		return err
	}
	res, err := readResource(w, r)
	if err != nil {
		return err
	}
	var cond *Query
	if h := r.Header.Get("If-None-Exist"); h != "" {
		q, err := conditional(typ, h)
		if err != nil {
			return err
		}
		cond = &q
	}
	var rec Record
	status := http.StatusCreated
	err = s.opt.Writable.Apply(r.Context(), func(tx Tx) error {
		if cond != nil {
			found, err := findExisting(r.Context(), tx, *cond)
			if err != nil || found != nil {
				if found != nil {
					rec, status = *found, http.StatusOK
				}
				return err
			}
		}
		rec, err = s.prepare(typ, newID(), res, nil, s.opt.Now())
		if err != nil {
			return err
		}
		return tx.Put(rec)
	})
	if err != nil {
		return writeErr(err)
	}
	return s.answerWrite(w, r, rec, status)
}

// writeErr turns a store conflict into a 409.
func writeErr(err error) error {
	if errors.Is(err, ErrConflict) {
		return &Error{Status: http.StatusConflict, Code: "conflict", Public: "the resource was changed concurrently; retry", Cause: err}
	}
	return err
}

func (s *Server) answerWrite(w http.ResponseWriter, r *http.Request, rec Record, status int) error {
	if err := s.seen(r, []Record{rec}); err != nil {
		return err
	}
	WriteWritten(w, r, s.base(r), rec, status)
	return nil
}

// WriteWritten answers a create or update of rec (status 201 or 200): its
// version's Location under base, ETag and Last-Modified, and the stored
// resource.
func WriteWritten(w http.ResponseWriter, r *http.Request, base string, rec Record, status int) {
	w.Header().Set("Location", base+"/"+rec.Type+"/"+rec.ID+"/_history/"+strconv.Itoa(rec.Version))
	setVersionHeaders(w, rec)
	writeRaw(w, status, rec.Body, pretty(r))
}

// update answers PUT [base]/{type}/{id}: creates the resource with that id
// or writes its next version; If-Match: W/"n" makes it conditional on the
// current version being n.
func (s *Server) update(w http.ResponseWriter, r *http.Request, typ, id string) error {
	if err := s.readOnly(); err != nil {
		return err
	}
	if err := s.check(r, typ, true); err != nil {
		return err
	}
	if !validID(id) {
		return errorf(http.StatusBadRequest, "invalid", "not a valid id")
	}
	res, err := readResource(w, r)
	if err != nil {
		return err
	}
	if bid, _ := res["id"].(string); bid != id {
		return errorf(http.StatusBadRequest, "invalid", "the resource's id must be the id in the URL")
	}
	ifMatch := r.Header.Get("If-Match")
	var rec Record
	status := http.StatusOK
	err = s.opt.Writable.Apply(r.Context(), func(tx Tx) error {
		prev, err := tx.Get(r.Context(), typ, id)
		var pp *Record
		switch {
		case errors.Is(err, ErrNotFound):
			status = http.StatusCreated
		case err != nil:
			return err
		default:
			pp = &prev
		}
		if ifMatch != "" && (pp == nil || ifMatch != `W/"`+strconv.Itoa(pp.Version)+`"`) {
			return errorf(http.StatusPreconditionFailed, "conflict", "If-Match does not match the current version")
		}
		rec, err = s.prepare(typ, id, res, pp, s.opt.Now())
		if err != nil {
			return err
		}
		return tx.Put(rec)
	})
	if err != nil {
		return writeErr(err)
	}
	return s.answerWrite(w, r, rec, status)
}

// maxEntries bounds a transaction Bundle.
const maxEntries = 1000

type txEntry struct {
	FullURL  string         `json:"fullUrl"`
	Resource map[string]any `json:"resource"`
	Request  *struct {
		Method      string `json:"method"`
		URL         string `json:"url"`
		IfNoneExist string `json:"ifNoneExist"`
		IfMatch     string `json:"ifMatch"`
	} `json:"request"`
}

// planned is what one transaction entry does.
type planned struct {
	typ, id string
	res     map[string]any
	create  bool
	cond    string  // a conditional update's search query
	found   *Record // a conditional create's existing match: nothing written
	ifMatch string
	rec     Record
	status  int
}

// transaction answers POST [base] with a transaction Bundle: every entry
// (POST, conditional POST, PUT, conditional PUT) applies, or none does.
// References to an entry's fullUrl (urn:uuid:...) are rewritten to the id
// it got.
func (s *Server) transaction(w http.ResponseWriter, r *http.Request) error {
	if err := s.readOnly(); err != nil {
		return err
	}
	raw, err := readResource(w, r)
	if err != nil {
		return err
	}
	base := s.base(r)
	plan, now, err := s.transact(r.Context(), base, raw, func(typ string) error { return s.check(r, typ, true) })
	if err != nil {
		return err
	}
	out := bundle{ResourceType: "Bundle", ID: newID(), Type: "transaction-response",
		Meta: map[string]any{"lastUpdated": now.UTC().Format(time.RFC3339Nano)}}
	var recs []Record
	for _, p := range plan {
		recs = append(recs, p.rec)
		out.Entry = append(out.Entry, entry{
			FullURL:  base + "/" + p.rec.Type + "/" + p.rec.ID,
			Resource: p.rec.Body,
			Response: &entryResponse{
				Status:       strconv.Itoa(p.status) + " " + http.StatusText(p.status),
				Location:     p.rec.Type + "/" + p.rec.ID + "/_history/" + strconv.Itoa(p.rec.Version),
				Etag:         `W/"` + strconv.Itoa(p.rec.Version) + `"`,
				LastModified: p.rec.Updated.UTC().Format(time.RFC3339Nano),
			},
		})
	}
	if err := s.seen(r, recs); err != nil {
		return err
	}
	writeResource(w, http.StatusOK, out, pretty(r))
	return nil
}

// transact applies a transaction Bundle (raw, decoded) to the writable
// store: what the transaction interaction and PutBundle share. base is
// the server's base URL (request.url may start with it); check, when not
// nil, is asked before each entry's type is written. It returns each
// entry's outcome and the time the writes carry.
func (s *Server) transact(ctx context.Context, base string, raw map[string]any, check func(typ string) error) ([]planned, time.Time, error) {
	var b struct {
		ResourceType string    `json:"resourceType"`
		Type         string    `json:"type"`
		Entry        []txEntry `json:"entry"`
	}
	buf, _ := json.Marshal(raw)
	if err := json.Unmarshal(buf, &b); err != nil || b.ResourceType != "Bundle" {
		return nil, time.Time{}, errorf(http.StatusBadRequest, "structure", "POST to the base takes a Bundle")
	}
	if b.Type != "transaction" {
		return nil, time.Time{}, errorf(http.StatusBadRequest, "not-supported", "only transaction Bundles are accepted (type %q)", b.Type)
	}
	if len(b.Entry) > maxEntries {
		return nil, time.Time{}, errorf(http.StatusRequestEntityTooLarge, "too-costly", "at most %d entries", maxEntries)
	}
	plan := make([]planned, len(b.Entry))
	for i, e := range b.Entry {
		p, err := s.planEntry(base, check, i, e)
		if err != nil {
			return nil, time.Time{}, err
		}
		plan[i] = p
	}
	now := s.opt.Now()
	err := s.opt.Writable.Apply(ctx, func(tx Tx) error {
		refs := map[string]string{} // fullUrl -> Type/id
		targets := map[string]bool{}
		for i := range plan {
			p := &plan[i]
			switch {
			case p.create:
				if cond := b.Entry[i].Request.IfNoneExist; cond != "" {
					q, err := conditional(p.typ, cond)
					if err != nil {
						return entryErr(i, err)
					}
					if p.found, err = findExisting(ctx, tx, q); err != nil {
						return entryErr(i, err)
					}
				}
				if p.found != nil {
					p.id = p.found.ID
				} else {
					p.id = s.newIDFor(p.typ)
				}
			case p.cond != "":
				if err := s.resolveConditionalUpdate(ctx, tx, p); err != nil {
					return entryErr(i, err)
				}
			}
			if targets[p.typ+"/"+p.id] && p.found == nil {
				return entryErr(i, errorf(http.StatusBadRequest, "invalid", "%s/%s is written by two entries", p.typ, p.id))
			}
			targets[p.typ+"/"+p.id] = true
			if fu := b.Entry[i].FullURL; fu != "" {
				refs[fu] = p.typ + "/" + p.id
			}
		}
		for i := range plan {
			p := &plan[i]
			if p.found != nil {
				p.rec, p.status = *p.found, http.StatusOK
				continue
			}
			if bad := rewriteRefs(p.res, refs); bad != "" {
				return entryErr(i, errorf(http.StatusBadRequest, "invalid", "reference %s is to no entry of the Bundle", bad))
			}
			prev, err := tx.Get(ctx, p.typ, p.id)
			var pp *Record
			switch {
			case errors.Is(err, ErrNotFound):
				p.status = http.StatusCreated
			case err != nil:
				return err
			default:
				pp, p.status = &prev, http.StatusOK
			}
			if p.ifMatch != "" && (pp == nil || p.ifMatch != `W/"`+strconv.Itoa(pp.Version)+`"`) {
				return entryErr(i, errorf(http.StatusPreconditionFailed, "conflict", "ifMatch does not match the current version"))
			}
			if p.rec, err = s.prepare(p.typ, p.id, p.res, pp, now); err != nil {
				return entryErr(i, err)
			}
			if err := tx.Put(p.rec); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, time.Time{}, writeErr(err)
	}
	return plan, now, nil
}

// newIDFor is the id of a resource of typ a transaction creates.
func (s *Server) newIDFor(typ string) string {
	if s.idFor != nil {
		if id := s.idFor(typ); id != "" {
			return id
		}
	}
	return newID()
}

// resolveConditionalUpdate finds the resource a conditional update
// (PUT Type?query) writes: the one match (412 when several), else the
// resource's own id, else a new one.
func (s *Server) resolveConditionalUpdate(ctx context.Context, tx Tx, p *planned) error {
	q, err := conditional(p.typ, p.cond)
	if err != nil {
		return err
	}
	found, err := findExisting(ctx, tx, q)
	if err != nil {
		return err
	}
	bid, _ := p.res["id"].(string)
	switch {
	case found != nil && bid != "" && bid != found.ID:
		return errorf(http.StatusBadRequest, "invalid", "the resource's id is not the id of the resource the conditional update matches")
	case found != nil:
		p.id = found.ID
	case bid != "":
		if !validID(bid) {
			return errorf(http.StatusBadRequest, "invalid", "not a valid id")
		}
		p.id = bid
	default:
		p.id = s.newIDFor(p.typ)
	}
	return nil
}

// planEntry checks one entry of a transaction before anything is read.
func (s *Server) planEntry(base string, check func(string) error, i int, e txEntry) (planned, error) {
	if e.Request == nil || e.Resource == nil {
		return planned{}, entryErr(i, errorf(http.StatusBadRequest, "required", "entry needs request and resource"))
	}
	typ, _ := e.Resource["resourceType"].(string)
	if !s.types[typ] && !(s.anyType && validType(typ)) {
		return planned{}, entryErr(i, errorf(http.StatusBadRequest, "not-supported", "resource type %q is not supported here", typ))
	}
	if check != nil {
		if err := check(typ); err != nil {
			return planned{}, err
		}
	}
	p := planned{typ: typ, res: e.Resource, ifMatch: e.Request.IfMatch}
	u := strings.TrimPrefix(e.Request.URL, base+"/")
	switch e.Request.Method {
	case http.MethodPost:
		if u != typ {
			return planned{}, entryErr(i, errorf(http.StatusBadRequest, "invalid", "request.url of a POST must be %s", typ))
		}
		p.create = true
	case http.MethodPut:
		if t, query, ok := strings.Cut(u, "?"); ok {
			if t != typ || query == "" {
				return planned{}, entryErr(i, errorf(http.StatusBadRequest, "invalid", "request.url of a conditional PUT must be %s?search", typ))
			}
			p.cond = query
			return p, nil
		}
		t, id, ok := strings.Cut(u, "/")
		if !ok || t != typ || !validID(id) {
			return planned{}, entryErr(i, errorf(http.StatusBadRequest, "invalid", "request.url of a PUT must be %s/id or %s?search", typ, typ))
		}
		if bid, _ := e.Resource["id"].(string); bid != id {
			return planned{}, entryErr(i, errorf(http.StatusBadRequest, "invalid", "the resource's id must be the id in request.url"))
		}
		p.id = id
	default:
		return planned{}, entryErr(i, errorf(http.StatusBadRequest, "not-supported", "request.method %q is not supported in a transaction (POST, PUT)", e.Request.Method))
	}
	return p, nil
}

// entryErr names the entry an error is about.
func entryErr(i int, err error) error {
	var e *Error
	if errors.As(err, &e) {
		c := *e
		c.Public = fmt.Sprintf("Bundle.entry[%d]: %s", i, e.Public)
		return &c
	}
	return err
}

// rewriteRefs replaces, anywhere in v, a Reference.reference that is a
// fullUrl of the Bundle by the id its entry got. It returns a urn:uuid
// reference that names no entry ("" when none).
func rewriteRefs(v any, refs map[string]string) string {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if ref, ok := e.(string); ok && k == "reference" {
				if to, ok := refs[ref]; ok {
					x[k] = to
				} else if strings.HasPrefix(ref, "urn:uuid:") || strings.HasPrefix(ref, "urn:oid:") {
					return ref
				}
				continue
			}
			if bad := rewriteRefs(e, refs); bad != "" {
				return bad
			}
		}
	case []any:
		for _, e := range x {
			if bad := rewriteRefs(e, refs); bad != "" {
				return bad
			}
		}
	}
	return ""
}
