package server

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Paging limits.
const (
	DefaultCount = 20
	MaxCount     = 500
	maxValues    = 100 // comma-separated values of one parameter
)

// search is a parsed search request.
type search struct {
	typ      string
	q        Query
	count    int
	includes []include
	params   url.Values // the search parameters, for the paging links
	// chains are "patient.identifier" searches: the patients with those
	// identifiers, resolved into a patient reference group before the
	// search runs (Server.resolveChains).
	chains [][]string // per parameter, its identifier token group
}

// include is one _include: the element of typ holding references, and the
// target type when the value names one.
type include struct {
	value, path, target string
}

// cursor is where a next or previous page starts: an offset within the
// snapshot of the first page.
type cursor struct {
	Snap   int64 `json:"s"`
	Offset int   `json:"o"`
}

func (c cursor) String() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func parseCursor(s string) (cursor, bool) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) > 200 || json.Unmarshal(b, &c) != nil || c.Snap < 0 || c.Offset < 0 {
		return cursor{}, false
	}
	return c, true
}

// formatParams are handled by the response, not the search.
var formatParams = map[string]bool{"_format": true, "_pretty": true}

func badParam(name, format string, a ...any) *Error {
	e := errorf(http.StatusBadRequest, "invalid", "search parameter %s: ", name)
	e.Public += errorf(0, "", format, a...).Public
	return e
}

// parseSearch reads the search parameters of a search of typ. Unknown
// parameters and modifiers are errors naming the parameter (the server
// is strict: a silently ignored filter would return more than asked).
func parseSearch(typ string, v url.Values) (*search, error) {
	s := &search{typ: typ, q: Query{Type: typ}, count: DefaultCount, params: url.Values{}}
	names := make([]string, 0, len(v))
	for k := range v {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, key := range names {
		vals := v[key]
		if formatParams[key] {
			continue
		}
		if key != "_cursor" {
			s.params[key] = vals
		}
		name, modifier, hasMod := strings.Cut(key, ":")
		if hasMod {
			return nil, badParam(key, "modifier %q is not supported", modifier)
		}
		switch name {
		case "_count":
			if len(vals) != 1 {
				return nil, badParam(name, "give it once")
			}
			n, err := strconv.Atoi(vals[0])
			if err != nil || n < 0 {
				return nil, badParam(name, "must be a number from 0")
			}
			s.count = min(n, MaxCount)
		case "_cursor":
			c, ok := parseCursor(vals[0])
			if len(vals) != 1 || !ok {
				return nil, badParam(name, "not a cursor this server gave")
			}
			s.q.MaxSeq, s.q.Offset = c.Snap, c.Offset
		case "_include":
			for _, val := range vals {
				inc, err := parseInclude(typ, val)
				if err != nil {
					return nil, err
				}
				s.includes = append(s.includes, inc)
			}
		case "_id":
			for _, val := range vals {
				ids, err := splitValues(name, val)
				if err != nil {
					return nil, err
				}
				for _, id := range ids {
					if !validID(id) {
						return nil, badParam(name, "not a valid id")
					}
				}
				if s.q.IDs == nil {
					s.q.IDs = ids
				} else {
					s.q.IDs = intersect(s.q.IDs, ids)
					if len(s.q.IDs) == 0 {
						s.q.IDs = []string{"-none-"} // no id can match both
					}
				}
			}
		case "_lastUpdated":
			for _, val := range vals {
				bs, err := parseDateBounds(name, val)
				if err != nil {
					return nil, err
				}
				s.q.Updated = append(s.q.Updated, bs...)
			}
		case "patient.identifier", "subject.identifier":
			if p, ok := findParam(typ, strings.TrimSuffix(name, ".identifier")); !ok || p.kind != "reference" {
				return nil, badParam(name, "not supported for %s (see the CapabilityStatement at metadata)", typ)
			}
			for _, val := range vals {
				group, err := pIdentifier.tokens(val)
				if err != nil {
					return nil, badParam(name, "must be system|value or a value")
				}
				s.chains = append(s.chains, group)
			}
		default:
			p, ok := findParam(typ, name)
			if !ok {
				return nil, badParam(name, "not supported for %s (see the CapabilityStatement at metadata)", typ)
			}
			for _, val := range vals {
				group, err := p.tokens(val)
				if err != nil {
					return nil, err
				}
				s.q.Tokens = append(s.q.Tokens, group)
			}
		}
	}
	return s, nil
}

func findParam(typ, name string) (param, bool) {
	for _, p := range paramsOf(typ) {
		if p.name == name {
			return p, true
		}
	}
	return param{}, false
}

func parseInclude(typ, val string) (include, error) {
	parts := strings.Split(val, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return include{}, badParam("_include", "use Type:parameter[:TargetType]")
	}
	key := parts[0] + ":" + parts[1]
	path, ok := includes[key]
	if !ok || parts[0] != typ {
		return include{}, badParam("_include", "%s is not supported in a search of %s", key, typ)
	}
	inc := include{value: val, path: path}
	if len(parts) == 3 {
		if !validType(parts[2]) {
			return include{}, badParam("_include", "not a resource type: %q", parts[2])
		}
		inc.target = parts[2]
	}
	return inc, nil
}

// splitValues splits a comma-separated list (a "\," is a literal comma).
func splitValues(name, val string) ([]string, error) {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(val); i++ {
		switch {
		case val[i] == '\\' && i+1 < len(val) && (val[i+1] == ',' || val[i+1] == '\\'):
			cur.WriteByte(val[i+1])
			i++
		case val[i] == ',':
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(val[i])
		}
	}
	out = append(out, cur.String())
	if len(out) > maxValues {
		return nil, badParam(name, "at most %d values", maxValues)
	}
	for _, v := range out {
		if v == "" {
			return nil, badParam(name, "empty value")
		}
	}
	return out, nil
}

// tokens returns the index tokens any of which a match must have.
func (p param) tokens(val string) ([]string, error) {
	vals, err := splitValues(p.name, val)
	if err != nil {
		return nil, err
	}
	var group []string
	for _, v := range vals {
		switch p.kind {
		case "token":
			if sys, code, ok := cutUnescaped(v); ok {
				if code == "" {
					return nil, badParam(p.name, "a system without a code is not supported")
				}
				group = append(group, p.name+"|sv="+sys+"|"+code)
			} else {
				group = append(group, p.name+"|v="+v)
			}
		case "reference":
			def := p.target
			if def == "" {
				def = "Patient"
			}
			t, id, ok := localRef(v, def)
			if !ok || (p.target != "" && t != p.target) {
				return nil, badParam(p.name, "must be an id or a %s/id reference", def)
			}
			group = append(group, p.name+"="+t+"/"+id)
		}
	}
	return group, nil
}

// cutUnescaped cuts s at its first '|', the system|code separator.
func cutUnescaped(s string) (string, string, bool) { return strings.Cut(s, "|") }

func intersect(a, b []string) []string {
	var out []string
	for _, x := range a {
		if contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// parseDateBounds reads a date parameter: a prefix (eq, gt, ge, lt, le;
// eq when none) and a date, dateTime or instant. The value's precision
// makes a period: gt is after all of it, le up to its end.
func parseDateBounds(name, val string) ([]Bound, error) {
	prefix := "eq"
	if len(val) > 2 && val[0] >= 'a' && val[0] <= 'z' {
		prefix, val = val[:2], val[2:]
	}
	start, end, ok := period(val)
	if !ok {
		return nil, badParam(name, "not a FHIR date or instant (YYYY, YYYY-MM, YYYY-MM-DD, or YYYY-MM-DDThh:mm:ss[.sss]+zz:zz)")
	}
	switch prefix {
	case "eq":
		return []Bound{{"ge", start}, {"lt", end}}, nil
	case "gt":
		return []Bound{{"ge", end}}, nil
	case "ge":
		return []Bound{{"ge", start}}, nil
	case "lt":
		return []Bound{{"lt", start}}, nil
	case "le":
		return []Bound{{"lt", end}}, nil
	}
	return nil, badParam(name, "prefix %q is not supported (eq, gt, ge, lt, le)", prefix)
}

// period returns the half-open period [start, end) a date value denotes.
func period(v string) (start, end time.Time, ok bool) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		unit := time.Second
		if i := strings.IndexByte(v, '.'); i >= 0 {
			digits := 0
			for _, c := range v[i+1:] {
				if c < '0' || c > '9' {
					break
				}
				digits++
			}
			unit = time.Duration(pow10(9 - min(digits, 9)))
		}
		return t, t.Add(unit), true
	}
	for _, f := range []struct {
		layout string
		next   func(time.Time) time.Time
	}{
		{"2006-01-02T15:04Z07:00", func(t time.Time) time.Time { return t.Add(time.Minute) }},
		{"2006-01-02", func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }},
		{"2006-01", func(t time.Time) time.Time { return t.AddDate(0, 1, 0) }},
		{"2006", func(t time.Time) time.Time { return t.AddDate(1, 0, 0) }},
	} {
		if t, err := time.Parse(f.layout, v); err == nil {
			return t, f.next(t), true
		}
	}
	return time.Time{}, time.Time{}, false
}

func pow10(n int) int64 {
	r := int64(1)
	for range n {
		r *= 10
	}
	return r
}
