package server

import "strings"

// ScopeAllows reports whether SMART scopes allow reading (or writing) the
// resources of typ. Scopes are SMART v1 ("system/Observation.read",
// "patient/*.write", "user/*.*") or v2 ("system/Observation.rs",
// "system/*.cruds"). patient/ scopes allow nothing: they limit a token to
// one patient's compartment, which this server does not filter by, so
// honouring them as if they were system/ scopes would open every patient.
func ScopeAllows(scopes []string, typ string, write bool) bool {
	for _, sc := range scopes {
		ctx, rest, ok := strings.Cut(sc, "/")
		if !ok || (ctx != "user" && ctx != "system") {
			continue
		}
		rt, perm, ok := strings.Cut(rest, ".")
		if !ok || (rt != "*" && rt != typ) {
			continue
		}
		if i := strings.IndexByte(perm, '?'); i >= 0 {
			perm = perm[:i] // v2 query narrowing is not applied
		}
		switch {
		case perm == "*":
			return true
		case perm == "read":
			if !write {
				return true
			}
		case perm == "write":
			if write {
				return true
			}
		case v2Perms(perm):
			if write && strings.ContainsAny(perm, "cu") || !write && strings.ContainsAny(perm, "rs") {
				return true
			}
		}
	}
	return false
}

// v2Perms reports whether p is a SMART v2 permission string: c, r, u, d, s
// in that order, each at most once.
func v2Perms(p string) bool {
	if p == "" {
		return false
	}
	order := "cruds"
	for _, c := range p {
		i := strings.IndexRune(order, c)
		if i < 0 {
			return false
		}
		order = order[i+1:]
	}
	return true
}
