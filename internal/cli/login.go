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

	"github.com/clinomics/clinomics/internal/auth"
	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/httpapi"
)

func init() {
	commands = append(commands, []command{
		{name: "login", args: "[--server URL] [--token -]", summary: "sign in for the CLI: store a personal API token (read from stdin) for a server", run: login},
		{name: "logout", args: "[--server URL]", summary: "forget the stored credential for a server", run: logout},
		{name: "whoami", args: "[--server URL]", summary: "show who the server thinks you are, and your permissions", run: whoami},
		{name: "token create", args: "--name N [--expires-days 30] [--grant ROLE[@SCOPE]]... [--perm P]... [--local]", summary: "make a personal API token (shown once); --local writes it on the server machine (the first administrator's)", run: tokenCreate},
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
	Servers map[string]string `json:"servers"` // server URL -> bearer token
}

func readCredentials() (credentials, string, error) {
	c := credentials{Servers: map[string]string{}}
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
		c.Servers = map[string]string{}
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

// credential returns the bearer token for server, "" when there is none.
func credential(server string) (string, error) {
	if t := os.Getenv("CLINOMICS_TOKEN"); t != "" {
		return t, nil
	}
	c, _, err := readCredentials()
	if err != nil {
		return "", err
	}
	return c.Servers[server], nil
}

func login(ctx context.Context, e *env, args []string) error {
	fs, _ := flags(e, "login")
	server := clientFlags(fs)
	token := fs.String("token", "", "read a personal API token from stdin (-)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *token != "-" {
		return usagef("give --token - and paste a personal API token (made with `clinomics token create`) on stdin")
	}
	line, err := bufio.NewReader(e.stdin).ReadString('\n')
	if err != nil && err != io.EOF {
		return err
	}
	tok := strings.TrimSpace(line)
	if !auth.IsToken(tok) {
		return errors.New("that is not a clinomics API token (they start with " + auth.TokenPrefix + ")")
	}
	base := strings.TrimRight(*server, "/")
	c, p, err := readCredentials()
	if err != nil {
		return err
	}
	c.Servers[base] = tok
	// Check it before keeping it.
	os.Unsetenv("CLINOMICS_TOKEN")
	if err := writeCredentials(c, p); err != nil {
		return err
	}
	var me httpapi.WhoAmI
	cl, err := newClient(base)
	if err == nil {
		err = cl.do(ctx, "GET", "/api/v1/whoami", nil, &me)
	}
	if err != nil {
		delete(c.Servers, base)
		writeCredentials(c, p)
		return fmt.Errorf("the token was not accepted: %w", err)
	}
	fmt.Fprintf(e.stdout, "signed in to %s as %s (%s); stored in %s\n", base, me.Actor, strings.Join(me.Grants, ", "), p)
	return nil
}

func logout(ctx context.Context, e *env, args []string) error {
	fs, _ := flags(e, "logout")
	server := clientFlags(fs)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	c, p, err := readCredentials()
	if err != nil {
		return err
	}
	delete(c.Servers, strings.TrimRight(*server, "/"))
	return writeCredentials(c, p)
}

func whoami(ctx context.Context, e *env, args []string) error {
	fs, _ := flags(e, "whoami")
	server := clientFlags(fs)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	c, err := newClient(*server)
	if err != nil {
		return err
	}
	var me httpapi.WhoAmI
	if err := c.do(ctx, "GET", "/api/v1/whoami", nil, &me); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s (%s) at site %s\ngrants: %s\npermissions: ", me.Actor, me.Kind, me.Site, strings.Join(me.Grants, ", "))
	for i, p := range me.Permissions {
		if i > 0 {
			fmt.Fprint(e.stdout, ", ")
		}
		fmt.Fprint(e.stdout, p)
	}
	fmt.Fprintln(e.stdout)
	return nil
}

// multi is a repeatable string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func tokenCreate(ctx context.Context, e *env, args []string) error {
	fs, cfgPath := flags(e, "token create")
	server := clientFlags(fs)
	name := fs.String("name", "", "what the token is for (shown in lists)")
	days := fs.Int("expires-days", 30, "days until it expires (at most 366)")
	local := fs.Bool("local", false, "write it straight into this machine's catalog (for the first administrator; needs the data directory)")
	var grants, perms multi
	fs.Var(&grants, "grant", "ROLE or ROLE@site:NAME / ROLE@project:NAME (repeatable; default: all of yours)")
	fs.Var(&perms, "perm", "narrow the token to these permissions (repeatable)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *name == "" {
		return usagef("--name is required")
	}
	if !*local {
		c, err := newClient(*server)
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
	owner := &auth.Principal{Kind: auth.KindLocal, ID: strings.TrimPrefix(cliActor(), "cli:")}
	secret, t, err := auth.CreateToken(ctx, store, auth.NewToken{Name: *name, Owner: owner, Grants: gs, Perms: ps,
		Expires: time.Duration(*days) * 24 * time.Hour}, time.Now())
	if err != nil {
		return err
	}
	if _, err := store.AppendAudit(ctx, catalog.AuditEvent{Actor: owner.Actor(), Action: "token.create", Resource: "token:" + t.ID,
		Source: "cli", Outcome: "ok", Detail: t.Grants}); err != nil {
		store.RevokeAPIToken(ctx, t.ID, time.Now())
		return fmt.Errorf("audit: %w (the token was revoked)", err)
	}
	return printNewToken(e, t.ID, t.Grants, t.Expires, secret)
}

func printNewToken(e *env, id, grants string, expires time.Time, secret string) error {
	fmt.Fprintf(e.stderr, "token %s (%s), expires %s. It is shown only now: keep it like a password.\n", id, grants, expires.Format(time.DateOnly))
	fmt.Fprintln(e.stdout, secret)
	return nil
}

func tokenList(ctx context.Context, e *env, args []string) error {
	fs, _ := flags(e, "token list")
	server := clientFlags(fs)
	all := fs.Bool("all", false, "everyone's tokens (needs tokens:admin)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	c, err := newClient(*server)
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
	fs, _ := flags(e, "token revoke")
	server := clientFlags(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("give the token's ID")
	}
	c, err := newClient(*server)
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
