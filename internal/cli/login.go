package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/clinomics/clinomics/internal/audit"
	"github.com/clinomics/clinomics/internal/auth"
	"github.com/clinomics/clinomics/internal/auth/oidc"
	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/httpapi"
)

func init() {
	commands = append(commands, []command{
		{name: "login", args: "[--server URL] [--token -]", summary: "sign in for the CLI through the identity provider (device code), or store a personal API token read from stdin", run: login},
		{name: "logout", args: "[--server URL]", summary: "forget the stored credential for a server", run: logout},
		{name: "whoami", args: "[--server URL]", summary: "show who the server thinks you are, and your permissions", run: whoami},
		{name: "token create", args: "--name N [--expires-days 30] [--grant ROLE[@SCOPE]]... [--perm P]... [--local [--for PERSON]]", summary: "make a personal API token (shown once); --local writes it on the server machine (the first administrator's, or --for a named person's)", run: tokenCreate},
		{name: "token list", args: "[--all]", summary: "list your API tokens (never their secrets)", run: tokenList},
		{name: "token revoke", args: "ID", summary: "revoke an API token", run: tokenRevoke},
	}...)
}

// The CLI's credentials: $CLINOMICS_TOKEN, else the one `clinomics login`
// stored for the server in the user's config directory (mode 0600).

func credentialsPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "clinomics", "credentials.json"), nil
}

type credentials struct {
	Servers map[string]stored `json:"servers"` // by server URL
}

// stored is one server's credential: a personal API token, or an IdP's
// access token with what is needed to refresh it.
type stored struct {
	Token    string    `json:"token"`
	Refresh  string    `json:"refresh_token,omitempty"`
	Expires  time.Time `json:"expires,omitzero"`
	Issuer   string    `json:"issuer,omitempty"`
	ClientID string    `json:"client_id,omitempty"`
	Resource string    `json:"resource,omitempty"`
	Scopes   []string  `json:"scopes,omitempty"`
}

func readCredentials() (credentials, string, error) {
	c := credentials{Servers: map[string]stored{}}
	p, err := credentialsPath()
	if err != nil {
		return c, "", err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return c, p, nil
	}
	if err != nil {
		return c, p, err
	}
	if st, err := os.Stat(p); err == nil && st.Mode().Perm()&0o077 != 0 {
		return c, p, fmt.Errorf("%s is readable by others (mode %o): chmod 600 it", p, st.Mode().Perm())
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, p, fmt.Errorf("%s: %w", p, err)
	}
	if c.Servers == nil {
		c.Servers = map[string]stored{}
	}
	return c, p, nil
}

func writeCredentials(c credentials, p string) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(c, "", "  ")
	tmp, err := os.CreateTemp(filepath.Dir(p), ".credentials-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), p)
}

// credential returns the bearer token for server, "" when there is none;
// an expired IdP token is refreshed (and stored again) first.
func credential(ctx context.Context, server string) (string, error) {
	if t := os.Getenv("CLINOMICS_TOKEN"); t != "" {
		return t, nil
	}
	c, p, err := readCredentials()
	if err != nil {
		return "", err
	}
	sc, ok := c.Servers[server]
	if !ok || sc.Refresh == "" || sc.Expires.IsZero() || time.Until(sc.Expires) > time.Minute {
		return sc.Token, nil
	}
	cl := &oidc.Client{Issuer: sc.Issuer, ClientID: sc.ClientID, Resource: sc.Resource, Scopes: sc.Scopes}
	tok, err := cl.Refresh(ctx, sc.Refresh)
	if err != nil {
		return "", fmt.Errorf("your sign-in to %s expired and could not be renewed (%w): run `clinomics login` again", server, err)
	}
	sc.Token, sc.Expires = tok.AccessToken, tok.ExpiresAt
	if tok.RefreshToken != "" {
		sc.Refresh = tok.RefreshToken
	}
	c.Servers[server] = sc
	return sc.Token, writeCredentials(c, p)
}

func login(ctx context.Context, e *env, args []string) error {
	fs, cfgPath := flags(e, "login")
	server := clientFlags(fs, cfgPath)
	token := fs.String("token", "", "instead of signing in through the identity provider, read a personal API token from stdin (-)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	base, err := server.URL()
	if err != nil {
		return err
	}
	var sc stored
	switch *token {
	case "-":
		line, err := bufio.NewReader(e.stdin).ReadString('\n')
		if err != nil && err != io.EOF {
			return err
		}
		sc.Token = strings.TrimSpace(line)
		if !auth.IsToken(sc.Token) {
			return errors.New("that is not a clinomics API token (they start with " + auth.TokenPrefix + ")")
		}
	case "":
		cfg, err := loadConfig(*cfgPath)
		if err != nil {
			return err
		}
		o := cfg.Auth.OIDC
		if o.Issuer == "" || o.ClientID == "" {
			return usagef("no identity provider for the CLI: set auth.oidc.issuer and auth.oidc.client_id, or use --token - with a personal API token")
		}
		sc = stored{Issuer: o.Issuer, ClientID: o.ClientID, Scopes: o.Scopes, Resource: o.Resource}
		cl := &oidc.Client{Issuer: sc.Issuer, ClientID: sc.ClientID, Resource: sc.Resource, Scopes: sc.Scopes}
		tok, err := cl.DeviceLogin(ctx, e.stderr)
		if err != nil {
			return fmt.Errorf("sign-in: %w", err)
		}
		sc.Token, sc.Refresh, sc.Expires = tok.AccessToken, tok.RefreshToken, tok.ExpiresAt
	default:
		return usagef("--token takes - (read the token from stdin)")
	}
	c, p, err := readCredentials()
	if err != nil {
		return err
	}
	// Check it before keeping it.
	os.Unsetenv("CLINOMICS_TOKEN")
	prev, had := c.Servers[base]
	c.Servers[base] = sc
	if err := writeCredentials(c, p); err != nil {
		return err
	}
	var me httpapi.WhoAmI
	cl, err := newClient(ctx, server)
	if err == nil {
		err = cl.do(ctx, "GET", "/api/v1/whoami", nil, &me)
	}
	if err != nil {
		if had {
			c.Servers[base] = prev
		} else {
			delete(c.Servers, base)
		}
		writeCredentials(c, p)
		return fmt.Errorf("the server did not accept the credential: %w", err)
	}
	fmt.Fprintf(e.stdout, "signed in to %s as %s (%s); stored in %s\n", base, me.Actor, strings.Join(me.Grants, ", "), p)
	return nil
}

func logout(ctx context.Context, e *env, args []string) error {
	fs, cfgPath := flags(e, "logout")
	server := clientFlags(fs, cfgPath)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	base, err := server.URL()
	if err != nil {
		return err
	}
	c, p, err := readCredentials()
	if err != nil {
		return err
	}
	delete(c.Servers, base)
	return writeCredentials(c, p)
}

func whoami(ctx context.Context, e *env, args []string) error {
	fs, cfgPath := flags(e, "whoami")
	server := clientFlags(fs, cfgPath)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	c, err := newClient(ctx, server)
	if err != nil {
		return err
	}
	var me httpapi.WhoAmI
	if err := c.do(ctx, "GET", "/api/v1/whoami", nil, &me); err != nil {
		return err
	}
	who := me.Actor + " (" + me.Kind + ")"
	if me.Owner != "" {
		who = me.Actor + " (token of " + me.Owner + ")"
	}
	fmt.Fprintf(e.stdout, "%s at site %s\ngrants: %s\npermissions: ", who, me.Site, strings.Join(me.Grants, ", "))
	for i, p := range me.Permissions {
		if i > 0 {
			fmt.Fprint(e.stdout, ", ")
		}
		fmt.Fprint(e.stdout, p)
	}
	fmt.Fprintln(e.stdout)
	return nil
}

func tokenCreate(ctx context.Context, e *env, args []string) error {
	fs, cfgPath := flags(e, "token create")
	server := clientFlags(fs, cfgPath)
	name := fs.String("name", "", "what the token is for (shown in lists)")
	days := fs.Int("expires-days", 30, "days until it expires (at most 366)")
	local := fs.Bool("local", false, "write it straight into this machine's catalog (for the first administrator; needs the data directory)")
	forWhom := fs.String("for", "", "with --local: make the token for this person (their identity provider subject, or a staff id), not for you; it acts as them, and the audit trail names you as its maker")
	var grants, perms stringList
	fs.Var(&grants, "grant", "ROLE or ROLE@site:NAME / ROLE@project:NAME (repeatable; default: all of yours)")
	fs.Var(&perms, "perm", "narrow the token to these permissions (repeatable)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *name == "" {
		return usagef("--name is required")
	}
	if *forWhom != "" && !*local {
		return usagef("--for needs --local: only the operator of the server machine makes tokens for others; a person makes their own after `clinomics login`")
	}
	if !*local {
		c, err := newClient(ctx, server)
		if err != nil {
			return err
		}
		var v httpapi.TokenView
		if err := c.do(ctx, "POST", "/api/v1/tokens", httpapi.TokenRequest{Name: *name, ExpiresDays: *days, Grants: grants, Perms: perms}, &v); err != nil {
			return err
		}
		return printNewToken(e, v.ID, v.Grants, v.Expires, v.Token)
	}
	if len(grants) == 0 {
		return usagef("--local needs at least one --grant (for example --grant administrator)")
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	store, err := catalog.Open(ctx, cfg.CatalogDSN())
	if err != nil {
		return err
	}
	defer store.Close()
	gs, err := auth.ParseGrants(strings.Join(grants, " "))
	if err != nil {
		return err
	}
	ps, err := auth.ParsePerms(strings.Join(perms, " "))
	if err != nil {
		return err
	}
	if *forWhom != "" {
		if err := auth.CheckPersonID(*forWhom); err != nil {
			return fmt.Errorf("--for: %w", err)
		}
		if len(gs) == 0 {
			return usagef("--for: a token made for someone else needs its grants named (--grant)")
		}
	}
	operator := &auth.Principal{Kind: auth.KindLocal, ID: strings.TrimPrefix(cliActor(), "cli:")}
	secret, t, err := auth.CreateToken(ctx, store, auth.NewToken{Name: *name, Owner: operator, For: *forWhom, Grants: gs, Perms: ps,
		Expires: time.Duration(*days) * 24 * time.Hour}, time.Now())
	if err != nil {
		return err
	}
	// The operator made it; the detail says for whom (a staff id, never patient data).
	if err := audit.Append(ctx, store, catalog.AuditEvent{Actor: operator.Actor(), Action: "token.create", Resource: "token:" + t.ID,
		Source: "cli", Outcome: audit.OK, Detail: "owner " + t.Owner + "; grants " + t.Grants}); err != nil {
		if rerr := store.RevokeAPIToken(context.WithoutCancel(ctx), t.ID, time.Now()); rerr != nil {
			return fmt.Errorf("audit: %w; revoking the unaudited token %s failed too: %w (revoke it with `clinomics token revoke`)", err, t.ID, rerr)
		}
		return fmt.Errorf("audit: %w (the token was revoked)", err)
	}
	if *forWhom != "" {
		fmt.Fprintf(e.stderr, "made for %s: give it to them only.\n", t.Owner)
	}
	return printNewToken(e, t.ID, t.Grants, t.Expires, secret)
}

func printNewToken(e *env, id, grants string, expires time.Time, secret string) error {
	fmt.Fprintf(e.stderr, "token %s (%s), expires %s. It is shown only now: keep it like a password.\n", id, grants, expires.Format(time.DateOnly))
	fmt.Fprintln(e.stdout, secret)
	return nil
}

func tokenList(ctx context.Context, e *env, args []string) error {
	fs, cfgPath := flags(e, "token list")
	server := clientFlags(fs, cfgPath)
	all := fs.Bool("all", false, "everyone's tokens (needs tokens:admin)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	c, err := newClient(ctx, server)
	if err != nil {
		return err
	}
	path := "/api/v1/tokens"
	if *all {
		path += "?all=true"
	}
	var out struct{ Tokens []httpapi.TokenView }
	if err := c.do(ctx, "GET", path, nil, &out); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tOWNER\tGRANTS\tEXPIRES\tSTATE")
	for _, t := range out.Tokens {
		state := "valid"
		switch {
		case !t.Revoked.IsZero():
			state = "revoked"
		case time.Now().After(t.Expires):
			state = "expired"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Owner, t.Grants, t.Expires.Format(time.DateOnly), state)
	}
	return tw.Flush()
}

func tokenRevoke(ctx context.Context, e *env, args []string) error {
	fs, cfgPath := flags(e, "token revoke")
	server := clientFlags(fs, cfgPath)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("give the token's ID")
	}
	c, err := newClient(ctx, server)
	if err != nil {
		return err
	}
	var out map[string]string
	if err := c.do(ctx, "DELETE", "/api/v1/tokens/"+pos[0], nil, &out); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "token %s revoked\n", pos[0])
	return nil
}
