package auth_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clinomics/clinomics/internal/auth"
	"github.com/clinomics/clinomics/internal/catalog"
)

func who(kind auth.Kind, grants ...string) *auth.Principal {
	p := &auth.Principal{Kind: kind, ID: "x"}
	for _, g := range grants {
		gr, err := auth.ParseGrant(g)
		if err != nil {
			panic(err)
		}
		p.Grants = append(p.Grants, gr)
	}
	return p
}

func TestLeastPrivilege(t *testing.T) {
	cases := []struct {
		p          *auth.Principal
		perm       auth.Permission
		site, proj string
		reason     string
		want       error
		breakGlass bool
	}{
		{who(auth.KindUser, "clinician"), auth.PermLakeRead, "main", "", "", nil, false},
		{who(auth.KindUser, "clinician"), auth.PermRunsSubmit, "main", "", "", auth.ErrDenied, false},
		{who(auth.KindUser, "administrator"), auth.PermKeysAdmin, "main", "", "", nil, false},
		// The administrator reads no patient data, except by breaking the glass.
		{who(auth.KindUser, "administrator"), auth.PermLakeRead, "main", "", "", auth.ErrBreakGlass, false},
		{who(auth.KindUser, "administrator"), auth.PermLakeRead, "main", "", "patient in ICU, on call", nil, true},
		// Breaking the glass never gives administration.
		{who(auth.KindUser, "clinician"), auth.PermKeysAdmin, "main", "", "emergency", auth.ErrDenied, false},
		// Researchers: de-identified only; no glass to break.
		{who(auth.KindUser, "researcher"), auth.PermDeidRead, "main", "", "", nil, false},
		{who(auth.KindUser, "researcher"), auth.PermPatientsRead, "main", "", "please", auth.ErrDenied, false},
		{who(auth.KindUser, "researcher"), auth.PermLakeRead, "main", "", "", auth.ErrDenied, false},
		{who(auth.KindUser, "auditor"), auth.PermAuditRead, "main", "", "", nil, false},
		{who(auth.KindUser, "auditor"), auth.PermLakeRead, "main", "", "", auth.ErrDenied, false},
		// Scopes: a grant at another site does not apply; at this site or project it does.
		{who(auth.KindUser, "clinician@site:north"), auth.PermLakeRead, "main", "", "", auth.ErrBreakGlass, false},
		{who(auth.KindUser, "clinician@site:north"), auth.PermLakeRead, "main", "", "transfer from north", nil, true},
		{who(auth.KindUser, "clinician@site:main"), auth.PermLakeRead, "main", "", "", nil, false},
		{who(auth.KindUser, "bioinformatician@project:onc"), auth.PermRunsSubmit, "main", "onc", "", nil, false},
		{who(auth.KindUser, "bioinformatician@project:onc"), auth.PermRunsSubmit, "main", "cardio", "", auth.ErrDenied, false},
		{who(auth.KindUser, "bioinformatician@project:onc"), auth.PermRunsSubmit, "main", "", "", auth.ErrDenied, false},
		// A token never breaks the glass.
		{who(auth.KindToken, "administrator"), auth.PermLakeRead, "main", "", "reason", auth.ErrDenied, false},
		{nil, auth.PermRunsRead, "main", "", "", auth.ErrDenied, false},
		{nil, auth.PermPublic, "main", "", "", nil, false},
	}
	for _, c := range cases {
		acc, err := c.p.Can(c.perm, c.site, c.proj, c.reason)
		if !errors.Is(err, c.want) && !(err == nil && c.want == nil) || acc.BreakGlass != c.breakGlass {
			t.Errorf("%s may %s at %s/%s (glass %q): %v %+v; want %v, glass %v", c.p.Actor(), c.perm, c.site, c.proj, c.reason, err, acc, c.want, c.breakGlass)
		}
	}
}

func TestNarrowedPrincipal(t *testing.T) {
	p := who(auth.KindToken, "bioinformatician")
	p.Perms = []auth.Permission{auth.PermRunsRead}
	if _, err := p.Can(auth.PermRunsRead, "main", "", ""); err != nil {
		t.Error(err)
	}
	if _, err := p.Can(auth.PermRunsSubmit, "main", "", ""); !errors.Is(err, auth.ErrDenied) {
		t.Errorf("narrowed token submits: %v", err)
	}
	if got := p.Permissions("main", ""); len(got) != 1 || got[0] != auth.PermRunsRead {
		t.Errorf("permissions: %v", got)
	}
}

func TestParseGrant(t *testing.T) {
	for _, bad := range []string{"", "root", "clinician@", "clinician@site:", "clinician@building:1", "clinician@site:a b"} {
		if _, err := auth.ParseGrant(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	g, err := auth.ParseGrant("Clinician@site:main")
	if err != nil || g.Role != auth.RoleClinician || g.Scope != "site:main" || g.String() != "clinician@site:main" {
		t.Errorf("%+v %v", g, err)
	}
}

func openStore(t *testing.T) catalog.Store {
	t.Helper()
	st, err := catalog.Open(context.Background(), filepath.Join(t.TempDir(), "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestTokens(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	alice := who(auth.KindUser, "bioinformatician@site:main", "clinician@site:main")
	alice.ID = "alice-sub"

	secret, rec, err := auth.CreateToken(ctx, st, auth.NewToken{Name: "laptop", Owner: alice, Perms: []auth.Permission{auth.PermRunsRead, auth.PermRunsSubmit}, Expires: 24 * time.Hour}, now)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, auth.TokenPrefix) || strings.Contains(rec.Hash, secret) || rec.Owner != "user:alice-sub" {
		t.Fatalf("token %q, record %+v", secret, rec)
	}
	p, err := auth.VerifyToken(ctx, st, secret, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if p.Kind != auth.KindToken || p.ID != rec.ID || len(p.Grants) != 2 {
		t.Fatalf("principal %+v", p)
	}
	if _, err := p.Can(auth.PermRunsSubmit, "main", "", ""); err != nil {
		t.Errorf("token cannot submit: %v", err)
	}
	if _, err := p.Can(auth.PermLakeRead, "main", "", ""); !errors.Is(err, auth.ErrDenied) {
		t.Errorf("token narrowed to runs reads the lake: %v", err)
	}

	// Wrong secret, wrong shape, expired, revoked. The wrong secret
	// differs in its last character (which is random, and may be "a").
	wrong := secret[:len(secret)-1] + "a"
	if wrong == secret {
		wrong = secret[:len(secret)-1] + "b"
	}
	bad := []struct {
		raw  string
		at   time.Time
		want error
	}{
		{wrong, now, auth.ErrTokenInvalid},
		{"clk_short_x", now, auth.ErrTokenInvalid},
		{"clk_" + rec.ID + "_" + strings.Repeat("a", 32), now, auth.ErrTokenInvalid},
		{"eyJhbGciOi.x.y", now, auth.ErrTokenInvalid},
		{secret, now.Add(24 * time.Hour), auth.ErrTokenExpired},
	}
	for _, b := range bad {
		if _, err := auth.VerifyToken(ctx, st, b.raw, b.at); !errors.Is(err, b.want) {
			t.Errorf("%q at %v: %v, want %v", b.raw, b.at, err, b.want)
		}
	}
	if err := st.RevokeAPIToken(ctx, rec.ID, now.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.VerifyToken(ctx, st, secret, now.Add(3*time.Hour)); !errors.Is(err, auth.ErrTokenRevoked) {
		t.Errorf("revoked: %v", err)
	}

	// Not with another token; not with grants one does not hold; bounded expiry.
	if _, _, err := auth.CreateToken(ctx, st, auth.NewToken{Name: "x", Owner: p, Expires: time.Hour}, now); err == nil {
		t.Error("a token made a token")
	}
	admin, _ := auth.ParseGrant("administrator")
	if _, _, err := auth.CreateToken(ctx, st, auth.NewToken{Name: "x", Owner: alice, Grants: []auth.Grant{admin}, Expires: time.Hour}, now); !errors.Is(err, auth.ErrDenied) {
		t.Errorf("escalation: %v", err)
	}
	if _, _, err := auth.CreateToken(ctx, st, auth.NewToken{Name: "x", Owner: alice, Expires: 400 * 24 * time.Hour}, now); err == nil {
		t.Error("a token for 400 days")
	}
	// The operating-system user on the server machine bootstraps the first administrator.
	local := &auth.Principal{Kind: auth.KindLocal, ID: "root"}
	if _, _, err := auth.CreateToken(ctx, st, auth.NewToken{Name: "bootstrap", Owner: local, Grants: []auth.Grant{admin}, Expires: time.Hour}, now); err != nil {
		t.Errorf("bootstrap: %v", err)
	}
}

// TestTokenForAPerson: the operator of the server machine makes tokens for
// named people (owner user:<id>); nobody else can, and ids are checked.
func TestTokenForAPerson(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	director, _ := auth.ParseGrant("lab-director@site:main")
	local := &auth.Principal{Kind: auth.KindLocal, ID: "root"}
	_, rec, err := auth.CreateToken(ctx, st, auth.NewToken{Name: "sign-out", Owner: local, For: "dir-a", Grants: []auth.Grant{director}, Expires: time.Hour}, now)
	if err != nil || rec.Owner != "user:dir-a" || rec.Grants != "lab-director@site:main" {
		t.Fatalf("token for dir-a: %+v %v", rec, err)
	}
	// Not by a person or service for someone else, whatever their grants.
	admin := who(auth.KindUser, "administrator", "lab-director@site:main")
	admin.ID = "admin-sub"
	if _, _, err := auth.CreateToken(ctx, st, auth.NewToken{Name: "x", Owner: admin, For: "dir-a", Grants: []auth.Grant{director}, Expires: time.Hour}, now); !errors.Is(err, auth.ErrDenied) {
		t.Errorf("a signed-in person made a token for another: %v", err)
	}
	// Grants named; ids checked, without echoing them.
	if _, _, err := auth.CreateToken(ctx, st, auth.NewToken{Name: "x", Owner: local, For: "dir-a", Expires: time.Hour}, now); err == nil {
		t.Error("a token for someone else with no grants named")
	}
	for _, id := range []string{"", "Jane Doe", "a:b", "a,b", strings.Repeat("x", auth.MaxPersonID+1), "dr\x00x", "é"} {
		_, _, err := auth.CreateToken(ctx, st, auth.NewToken{Name: "x", Owner: local, For: id, Grants: []auth.Grant{director}, Expires: time.Hour}, now)
		if id == "" {
			if err != nil {
				t.Errorf("no For: %v", err) // an ordinary local token
			}
			continue
		}
		if err == nil || (len(id) > 2 && strings.Contains(err.Error(), id)) {
			t.Errorf("person id %q: %v", id, err)
		}
	}
	for _, id := range []string{"dir-a", "6f2e7b1c-0a41-4e5e-9d7e-2b1f0c9a1d33", "auth0|5f1", "e12345@hosp.example"} {
		if err := auth.CheckPersonID(id); err != nil {
			t.Errorf("%q: %v", id, err)
		}
	}
}
