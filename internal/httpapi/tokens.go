package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/clinomics/clinomics/internal/auth"
	"github.com/clinomics/clinomics/internal/catalog"
)

// TokenRequest is the body of POST /api/v1/tokens.
type TokenRequest struct {
	Name        string   `json:"name"`
	ExpiresDays int      `json:"expires_days"`
	Grants      []string `json:"grants,omitempty"` // "role@scope"; default: all of the caller's
	Perms       []string `json:"perms,omitempty"`  // optional narrowing
}

// TokenView is a token as listed; the secret is shown only at creation.
type TokenView struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Owner   string    `json:"owner"`
	Grants  string    `json:"grants"`
	Perms   string    `json:"perms,omitempty"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
	Revoked time.Time `json:"revoked,omitzero"`
	Token   string    `json:"token,omitempty"` // only in the answer to POST
}

func tokenView(t catalog.APIToken) TokenView {
	return TokenView{ID: t.ID, Name: t.Name, Owner: t.Owner, Grants: t.Grants, Perms: t.Perms, Created: t.Created, Expires: t.Expires, Revoked: t.Revoked}
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) error {
	var req TokenRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return &Error{Status: http.StatusBadRequest, Public: "request body: " + jsonProblem(err)}
	}
	if req.ExpiresDays < 1 || req.ExpiresDays > int(auth.MaxTokenLifetime.Hours()/24) {
		return &Error{Status: http.StatusBadRequest, Public: "expires_days: from 1 to 366"}
	}
	n := auth.NewToken{Name: req.Name, Owner: principal(r.Context()), Expires: time.Duration(req.ExpiresDays) * 24 * time.Hour}
	for _, g := range req.Grants {
		gr, err := auth.ParseGrant(g)
		if err != nil {
			return &Error{Status: http.StatusBadRequest, Public: "grants: " + err.Error()}
		}
		n.Grants = append(n.Grants, gr)
	}
	for _, p := range req.Perms {
		ps, err := auth.ParsePerms(p)
		if err != nil {
			return &Error{Status: http.StatusBadRequest, Public: "perms: " + err.Error()}
		}
		n.Perms = append(n.Perms, ps...)
	}
	secret, t, err := auth.CreateToken(r.Context(), s.Store, n, time.Now())
	switch {
	case errors.Is(err, auth.ErrDenied):
		return &Error{Status: http.StatusForbidden, Public: err.Error()}
	case err != nil && t.ID == "":
		return &Error{Status: http.StatusBadRequest, Public: err.Error()}
	case err != nil:
		return err
	}
	v := tokenView(t)
	v.Token = secret
	return writeJSON(w, http.StatusCreated, v)
}

// owner is the person p acts for: a personal API token's owner, else p.
func (s *Server) owner(ctx context.Context, p *auth.Principal) (string, error) {
	if p.Kind != auth.KindToken {
		return p.Actor(), nil
	}
	t, err := s.Store.GetAPIToken(ctx, p.TokenID)
	if err != nil {
		return "", err
	}
	return t.Owner, nil
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) error {
	p := principal(r.Context())
	owner, err := s.owner(r.Context(), p)
	if err != nil {
		return err
	}
	if r.URL.Query().Get("all") == "true" {
		if _, err := p.Can(auth.PermTokensAdmin, s.Site, "", ""); err != nil {
			return &Error{Status: http.StatusForbidden, Public: "listing everyone's tokens needs " + string(auth.PermTokensAdmin)}
		}
		owner = ""
	}
	ts, err := s.Store.ListAPITokens(r.Context(), owner)
	if err != nil {
		return err
	}
	out := []TokenView{}
	for _, t := range ts {
		out = append(out, tokenView(t))
	}
	return writeJSON(w, http.StatusOK, map[string]any{"tokens": out})
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) error {
	p := principal(r.Context())
	t, err := s.Store.GetAPIToken(r.Context(), r.PathValue("id"))
	if errors.Is(err, catalog.ErrNotFound) {
		return &Error{Status: http.StatusNotFound, Public: "no such token"}
	}
	if err != nil {
		return err
	}
	who, err := s.owner(r.Context(), p)
	if err != nil {
		return err
	}
	if t.Owner != who && p.TokenID != t.ID {
		if _, err := p.Can(auth.PermTokensAdmin, s.Site, "", ""); err != nil {
			return &Error{Status: http.StatusNotFound, Public: "no such token"} // do not confirm others' tokens exist
		}
	}
	if err := s.Store.RevokeAPIToken(r.Context(), t.ID, time.Now()); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]string{"id": t.ID, "state": "revoked"})
}

// WhoAmI is the answer to GET /api/v1/whoami.
type WhoAmI struct {
	Actor       string            `json:"actor"`
	Kind        string            `json:"kind"`
	Owner       string            `json:"owner,omitempty"` // a personal API token's: the person it acts for
	Grants      []string          `json:"grants"`
	Permissions []auth.Permission `json:"permissions"`
	Site        string            `json:"site"`
}

func (s *Server) whoami(w http.ResponseWriter, r *http.Request) error {
	p := principal(r.Context())
	v := WhoAmI{Actor: p.Actor(), Kind: string(p.Kind), Permissions: p.Permissions(s.Site, ""), Site: s.Site}
	if p.Kind == auth.KindToken {
		owner, err := s.owner(r.Context(), p)
		if err != nil {
			return err
		}
		v.Owner = owner
	}
	for _, g := range p.Grants {
		v.Grants = append(v.Grants, g.String())
	}
	return writeJSON(w, http.StatusOK, v)
}
