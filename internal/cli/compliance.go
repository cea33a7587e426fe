package cli

import (
	"context"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/compliance"
	"github.com/clinomics/clinomics/internal/httpapi"
)

func init() {
	commands = append(commands, command{name: "compliance check", args: "[--json]",
		summary: "check the configuration against the HIPAA technical safeguards and the deployment checklist; exit 1 on any failure", run: complianceCheck})
}

func complianceCheck(ctx context.Context, e *env, args []string) error {
	fs, cfgPath := flags(e, "compliance check")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	store, err := catalog.Open(ctx, cfg.CatalogDSN())
	if err != nil {
		return err
	}
	defer store.Close()
	var routes []compliance.Route
	for _, r := range (&httpapi.Server{}).Routes() {
		routes = append(routes, compliance.Route{Method: r.Method, Pattern: r.Pattern, Perm: r.Perm})
	}
	res, err := compliance.Check(ctx, compliance.Inputs{Config: cfg, Routes: routes, Catalog: store})
	if err != nil {
		return err
	}
	failed, on := 0, map[compliance.Basis]int{}
	for _, r := range res {
		if !r.Pass {
			failed++
		}
		on[r.Basis]++
	}
	if *asJSON {
		if err := printJSON(e.stdout, map[string]any{"pass": failed == 0, "failed": failed, "controls": res}); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "RESULT\tBASIS\tCONTROL\tSAFEGUARD\tREASON")
		for _, r := range res {
			st := "PASS"
			if !r.Pass {
				st = "FAIL"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", st, r.Basis, r.ID, r.Safeguard, r.Reason)
		}
		tw.Flush()
		fmt.Fprintf(e.stdout, "\n%d of %d controls pass; %d checked on this installation, %d built into clinomics (no setting turns them off), %d attested by the site\n",
			len(res)-failed, len(res), on[compliance.Checked], on[compliance.BuiltIn], on[compliance.Attested])
	}
	if failed > 0 {
		return &exitError{code: 1, err: fmt.Errorf("%d controls fail", failed)}
	}
	return nil
}
