package smart

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// TokenError is a token endpoint's refusal (an OAuth 2.0 error response,
// RFC 6749 section 5.2), explained for the person who has to fix it.
type TokenError struct {
	Status      int    // HTTP status
	Code        string // OAuth error code: invalid_client, invalid_scope...
	Description string // the endpoint's error_description, cut short
	Endpoint    string
	ClientID    string
	Scopes      []string  // the scopes asked for
	OurClock    time.Time // this machine's time when the answer came
	TheirClock  time.Time // the endpoint's Date header; zero when absent
}

// timeWords are what an authorization server says when it refuses an
// assertion for its times.
var timeWords = regexp.MustCompile(`(?i)\b(iat|exp|nbf)\b|clock|expired|not yet valid|future|skew|too old|issued at`)

// maxSkew is how far apart the clocks may be before we blame them.
const maxSkew = time.Minute

// ClockSkew reports whether the assertion was probably refused because
// this machine's clock and the EHR's disagree.
func (e *TokenError) ClockSkew() bool {
	if e.Code != "invalid_client" && e.Code != "invalid_grant" && e.Code != "invalid_request" {
		return false
	}
	if timeWords.MatchString(e.Description) {
		return true
	}
	return !e.TheirClock.IsZero() && absDuration(e.OurClock.Sub(e.TheirClock)) > maxSkew
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func (e *TokenError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "the EHR's token endpoint %s refused client %q: %s", e.Endpoint, e.ClientID, e.Code)
	if e.Description != "" {
		fmt.Fprintf(&b, " (%s)", e.Description)
	}
	switch {
	case e.ClockSkew():
		fmt.Fprintf(&b, "; the EHR rejected our signed client assertion, probably because of clock skew: our clock reads %s",
			e.OurClock.UTC().Format(time.RFC3339))
		if !e.TheirClock.IsZero() {
			fmt.Fprintf(&b, ", the EHR's %s (%s apart)", e.TheirClock.UTC().Format(time.RFC3339),
				absDuration(e.OurClock.Sub(e.TheirClock)).Round(time.Second))
		}
		b.WriteString("; the assertion is valid for at most 5 minutes from our clock's now, so keep this machine's clock synchronized with NTP (timedatectl, chrony)")
	case e.Code == "invalid_scope":
		named := e.namedScopes()
		if len(named) == 0 {
			named = e.Scopes
		}
		fmt.Fprintf(&b, "; the EHR does not grant scope %s to this client: ask the EHR's administrators to grant it, or remove it from fhir.ehr.scopes",
			strings.Join(named, " "))
	case e.Code == "invalid_client":
		b.WriteString("; check that the client id is registered with the EHR and that its JWKS URL serves our current key (`clinomics fhir jwks`)")
	case e.Code == "unauthorized_client":
		b.WriteString("; the EHR does not allow this client the client_credentials grant")
	}
	return b.String()
}

// namedScopes are the requested scopes the description mentions.
func (e *TokenError) namedScopes() []string {
	var out []string
	for _, s := range e.Scopes {
		if strings.Contains(e.Description, s) {
			out = append(out, s)
		}
	}
	return out
}

// cut bounds text taken from an outside answer.
func cut(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > n {
		return strings.ToValidUTF8(s[:n], "") + "…"
	}
	return s
}
