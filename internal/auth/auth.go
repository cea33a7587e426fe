// Package auth decides who may do what: the permissions routes declare,
// the roles that grant them (least privilege: each role has only what its
// work needs), grants scoped to a site or project, principals (people,
// service principals, personal API tokens) and break-the-glass access.
//
// Authentication (who is asking) is done by the authenticators in this
// package and in auth/oidc; authorization is Principal.Can.
package auth

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Permission names what an action needs.
type Permission string

// The permissions. Reading patient data (object contents, identified
// patient records) is separate from reading metadata, so roles that run the
// system need not see patients.
const (
	PermPublic Permission = "public" // health checks only; no authentication
	PermSelf   Permission = "self"   // see one's own identity and permissions

	PermRunsRead   Permission = "runs:read"
	PermRunsSubmit Permission = "runs:submit"
	PermRunsCancel Permission = "runs:cancel"

	PermLakeRead  Permission = "lake:read"  // object contents: patient data
	PermLakeList  Permission = "lake:list"  // object metadata: paths, sizes, checksums
	PermLakeWrite Permission = "lake:write" // store objects, uploads
	PermLakeAdmin Permission = "lake:admin" // holds, retention, deletion, scrub
	PermKeysAdmin Permission = "keys:admin" // rotation, crypto-shredding

	PermPatientsRead Permission = "patients:read"     // identified patient records
	PermDeidRead     Permission = "deidentified:read" // pseudonymous, de-identified data only

	PermReportsRead   Permission = "reports:read"   // clinical reports and the FHIR results built from them
	PermReportsWrite  Permission = "reports:write"  // draft and edit reports, reopen, amend
	PermReportsReview Permission = "reports:review" // mark a draft reviewed
	PermReportsSign   Permission = "reports:sign"   // sign a reviewed report out
	PermOrdersWrite   Permission = "orders:write"   // place genetic test orders (FHIR ServiceRequest in)

	PermAuditRead   Permission = "audit:read"
	PermTokensOwn   Permission = "tokens:own"   // create, list, revoke one's own API tokens
	PermTokensAdmin Permission = "tokens:admin" // list and revoke anyone's
)

// Role is a set of permissions, named for a job.
type Role string

const (
	RoleAdmin            Role = "administrator"
	RoleLabTech          Role = "lab-technician"
	RoleBioinformatician Role = "bioinformatician"
	RoleClinician        Role = "clinician"
	RoleResearcher       Role = "researcher"
	RoleAuditor          Role = "auditor"
	RoleService          Role = "service"
	RoleLabDirector      Role = "lab-director"
)

// Roles lists every role.
var Roles = []Role{RoleAdmin, RoleLabTech, RoleBioinformatician, RoleClinician, RoleResearcher, RoleAuditor, RoleService, RoleLabDirector}

// rolePerms is the least-privilege policy. The administrator runs the
// system but reads no patient data without breaking the glass; the
// researcher sees de-identified data only; the auditor reads the audit.
// A report is drafted by a bioinformatician or lab director, reviewed and
// signed by a lab director; the same person may not both review and sign
// (the report workflow enforces that).
var rolePerms = map[Role][]Permission{
	RoleAdmin:            {PermSelf, PermRunsRead, PermRunsCancel, PermLakeList, PermLakeAdmin, PermKeysAdmin, PermTokensOwn, PermTokensAdmin},
	RoleLabTech:          {PermSelf, PermRunsRead, PermRunsSubmit, PermRunsCancel, PermLakeList, PermLakeWrite, PermTokensOwn},
	RoleBioinformatician: {PermSelf, PermRunsRead, PermRunsSubmit, PermRunsCancel, PermLakeList, PermLakeRead, PermLakeWrite, PermReportsRead, PermReportsWrite, PermTokensOwn},
	RoleClinician:        {PermSelf, PermRunsRead, PermLakeList, PermLakeRead, PermPatientsRead, PermReportsRead, PermOrdersWrite, PermTokensOwn},
	RoleResearcher:       {PermSelf, PermDeidRead, PermTokensOwn},
	RoleAuditor:          {PermSelf, PermAuditRead, PermRunsRead, PermLakeList, PermTokensOwn},
	RoleService:          {PermSelf, PermRunsRead, PermRunsSubmit, PermLakeList, PermLakeRead, PermLakeWrite, PermOrdersWrite},
	RoleLabDirector:      {PermSelf, PermRunsRead, PermLakeList, PermLakeRead, PermPatientsRead, PermReportsRead, PermReportsWrite, PermReportsReview, PermReportsSign, PermTokensOwn},
}

// breakGlassPerms are what breaking the glass can add: reading patient
// data in an emergency, never administration.
var breakGlassPerms = []Permission{PermLakeRead, PermLakeList, PermPatientsRead, PermRunsRead}

// breakGlassRoles may break the glass.
var breakGlassRoles = []Role{RoleClinician, RoleAdmin, RoleBioinformatician}

// Permissions returns the permissions of role, sorted; nil for an unknown role.
func (r Role) Permissions() []Permission {
	p := slices.Clone(rolePerms[r])
	slices.Sort(p)
	return p
}

// ParseRole accepts a role name.
func ParseRole(s string) (Role, error) {
	r := Role(strings.TrimSpace(strings.ToLower(s)))
	if _, ok := rolePerms[r]; !ok {
		return "", fmt.Errorf("unknown role (roles: %s)", roleList()) // the value is not repeated: it may be anything
	}
	return r, nil
}

func roleList() string {
	names := make([]string, len(Roles))
	for i, r := range Roles {
		names[i] = string(r)
	}
	return strings.Join(names, ", ")
}

// AllScopes is the scope of a grant that holds everywhere.
const AllScopes = "*"

// Grant gives a role within a scope: "*", "site:<name>" or "project:<name>".
type Grant struct {
	Role  Role   `json:"role"`
	Scope string `json:"scope"`
}

// ParseGrant reads "role" (everywhere) or "role@scope".
func ParseGrant(s string) (Grant, error) {
	role, scope, ok := strings.Cut(s, "@")
	if !ok {
		scope = AllScopes
	}
	r, err := ParseRole(role)
	if err != nil {
		return Grant{}, err
	}
	if err := checkScope(scope); err != nil {
		return Grant{}, err
	}
	return Grant{Role: r, Scope: scope}, nil
}

func checkScope(s string) error {
	if s == AllScopes {
		return nil
	}
	kind, name, ok := strings.Cut(s, ":")
	if !ok || (kind != "site" && kind != "project") || name == "" || strings.ContainsAny(name, " @,") {
		return errors.New("bad scope: use *, site:NAME or project:NAME")
	}
	return nil
}

func (g Grant) String() string {
	if g.Scope == AllScopes {
		return string(g.Role)
	}
	return string(g.Role) + "@" + g.Scope
}

// covers reports whether the grant's scope includes the resource scope
// (the site, or a project within it).
func (g Grant) covers(site, project string) bool {
	switch {
	case g.Scope == AllScopes:
		return true
	case strings.HasPrefix(g.Scope, "site:"):
		return g.Scope == "site:"+site
	default:
		return project != "" && g.Scope == "project:"+project
	}
}

// Kind says how a principal authenticated.
type Kind string

const (
	KindUser    Kind = "user"    // a person, by an OIDC token
	KindService Kind = "service" // a service principal (client credentials) or a client certificate
	KindToken   Kind = "token"   // a personal API token
	KindLocal   Kind = "cli"     // the operating-system user of the server machine, using the CLI directly
)

// Principal is who is asking.
type Principal struct {
	Kind    Kind
	ID      string // stable, pseudonymous: the IdP's subject, the client id, the token id
	Name    string // for display only; never logged
	Grants  []Grant
	TokenID string // set for personal API tokens
	// Perms, when set, narrows what the grants allow (a scoped API token).
	Perms []Permission
	// Scopes are the OAuth scopes of an identity provider's access token
	// ("scope", or Entra ID's "scp"), as issued. They never add to what
	// the grants allow; SMARTScopes says when they narrow it. nil for
	// personal API tokens, client certificates and the local CLI: those
	// carry no SMART scope restriction beyond their role permissions
	// (and an API token's Perms).
	Scopes []string
}

// SMARTScopes returns the SMART on FHIR resource scopes of p's credential
// ("patient/Observation.read", "system/*.rs", ...) and whether the
// credential is scope-limited at all. The rule: a credential is limited
// when it carries at least one SMART resource scope (one starting
// "patient/", "user/" or "system/"); then the FHIR API serves only the
// resource types those scopes allow, on top of the role permissions. A
// credential without any (an API token, a client certificate, a person's
// token with only "openid" or an API scope like "access_as_user") is not
// limited: the role permissions alone decide. Its signature is the one
// httpapi.FHIRAPI.Scopes takes.
func (p *Principal) SMARTScopes() (scopes []string, limited bool) {
	if p == nil {
		return nil, false
	}
	for _, sc := range p.Scopes {
		if strings.HasPrefix(sc, "patient/") || strings.HasPrefix(sc, "user/") || strings.HasPrefix(sc, "system/") {
			scopes = append(scopes, sc)
		}
	}
	return scopes, len(scopes) > 0
}

// Actor is how the principal appears in the audit trail and logs.
func (p *Principal) Actor() string {
	if p == nil {
		return "anonymous"
	}
	return string(p.Kind) + ":" + p.ID
}

// Errors of Can.
var (
	// ErrDenied: the principal has no grant for the permission here.
	ErrDenied = errors.New("permission denied")
	// ErrBreakGlass: the permission is denied, but breaking the glass
	// (with a reason) would allow it.
	ErrBreakGlass = errors.New("permission denied; break-the-glass access is possible with a reason")
)

// Access is the outcome of an authorization: allowed, and whether only by
// breaking the glass.
type Access struct {
	BreakGlass bool
}

// Can decides whether p may use perm on a resource of the site (and
// project, if any). With a break-glass reason, a principal whose role may
// break the glass is allowed the emergency permissions, flagged.
func (p *Principal) Can(perm Permission, site, project, breakGlassReason string) (Access, error) {
	if perm == PermPublic {
		return Access{}, nil
	}
	if p == nil {
		return Access{}, ErrDenied
	}
	narrowed := len(p.Perms) > 0 && !slices.Contains(p.Perms, perm) && perm != PermSelf
	eligible := false
	for _, g := range p.Grants {
		if !narrowed && g.covers(site, project) && slices.Contains(rolePerms[g.Role], perm) {
			return Access{}, nil
		}
		// A clinician of another site may break the glass here too.
		eligible = eligible || slices.Contains(breakGlassRoles, g.Role)
	}
	if p.Kind == KindToken || !eligible || !slices.Contains(breakGlassPerms, perm) {
		return Access{}, ErrDenied
	}
	if strings.TrimSpace(breakGlassReason) == "" {
		return Access{}, ErrBreakGlass
	}
	return Access{BreakGlass: true}, nil
}

// Permissions lists what p's grants allow within the site, sorted.
func (p *Principal) Permissions(site, project string) []Permission {
	set := map[Permission]bool{}
	for _, g := range p.Grants {
		if g.covers(site, project) {
			for _, perm := range rolePerms[g.Role] {
				if len(p.Perms) == 0 || slices.Contains(p.Perms, perm) {
					set[perm] = true
				}
			}
		}
	}
	out := make([]Permission, 0, len(set))
	for perm := range set {
		out = append(out, perm)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
