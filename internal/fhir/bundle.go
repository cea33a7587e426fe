package fhir

import "crypto/sha1"

// Bundle is a container of resources: a transaction to apply, a search
// result, a document, a collection.
type Bundle struct {
	ResourceBase
	Identifier *Identifier   `json:"identifier"`
	Type       string        `json:"type"` // transaction, transaction-response, searchset, collection, ...
	Timestamp  string        `json:"timestamp"`
	Total      *int64        `json:"total"`
	Link       []BundleLink  `json:"link"`
	Entry      []BundleEntry `json:"entry"`
}

// ResourceType returns "Bundle".
func (*Bundle) ResourceType() string { return "Bundle" }

// BundleLink is a link about the bundle (self, next, previous).
type BundleLink struct {
	BackboneElement
	Relation string `json:"relation"`
	URL      string `json:"url"`
}

// BundleEntry is one resource of the bundle, with what to do with it in a
// transaction (Request) or what was done (Response).
type BundleEntry struct {
	BackboneElement
	Link     []BundleLink         `json:"link"`
	FullURL  string               `json:"fullUrl"`
	Resource Resource             `json:"resource"`
	Search   *BundleEntrySearch   `json:"search"`
	Request  *BundleEntryRequest  `json:"request"`
	Response *BundleEntryResponse `json:"response"`
}

// BundleEntrySearch says why an entry is in a search result.
type BundleEntrySearch struct {
	BackboneElement
	Mode  string  `json:"mode"` // match, include, outcome
	Score Decimal `json:"score"`
}

// BundleEntryRequest is the HTTP request of a transaction entry.
// IfNoneExist makes a POST a conditional create: the server creates the
// resource only when the search (e.g. "identifier=system|value") matches
// nothing, so a retried transaction does not duplicate it.
type BundleEntryRequest struct {
	BackboneElement
	Method          string `json:"method"` // GET, HEAD, POST, PUT, DELETE, PATCH
	URL             string `json:"url"`
	IfNoneMatch     string `json:"ifNoneMatch"`
	IfModifiedSince string `json:"ifModifiedSince"`
	IfMatch         string `json:"ifMatch"`
	IfNoneExist     string `json:"ifNoneExist"`
}

// BundleEntryResponse is the outcome of a transaction entry.
type BundleEntryResponse struct {
	BackboneElement
	Status       string   `json:"status"` // e.g. "201 Created"
	Location     string   `json:"location"`
	Etag         string   `json:"etag"`
	LastModified string   `json:"lastModified"`
	Outcome      Resource `json:"outcome"`
}

// NameUUID returns a name-based (version 5, SHA-1) UUID of name in the
// namespace given as a UUID string, as RFC 9562 defines it: the same name
// always gives the same UUID. It returns "" when namespace is not a UUID.
func NameUUID(namespace, name string) string {
	ns, ok := parseUUID(namespace)
	if !ok {
		return ""
	}
	buf := make([]byte, 0, 16+len(name))
	sum := sha1.Sum(append(append(buf, ns[:]...), name...))
	var u [16]byte
	copy(u[:], sum[:16])
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	const hexDigits = "0123456789abcdef"
	var out [36]byte
	j := 0
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out[j] = '-'
			j++
		}
		out[j], out[j+1] = hexDigits[c>>4], hexDigits[c&15]
		j += 2
	}
	return string(out[:])
}

// parseUUID reads the 8-4-4-4-12 hexadecimal form.
func parseUUID(s string) (u [16]byte, ok bool) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	j := 0
	for i := 0; i < 36; {
		if s[i] == '-' {
			i++
			continue
		}
		hi, ok1 := unhex(s[i])
		lo, ok2 := unhex(s[i+1])
		if !ok1 || !ok2 {
			return u, false
		}
		u[j] = hi<<4 | lo
		j++
		i += 2
	}
	return u, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
