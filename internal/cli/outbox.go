package cli

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/clinomics/clinomics/internal/audit"
	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/outbox"
)

// outboxList prints the outbox items of one feed (destinations starting
// with prefix): by default those waiting or dead-lettered, with the
// reason of the last failure.
func outboxList(ctx context.Context, e *env, name, prefix string, args []string) error {
	var state string
	var asJSON bool
	le, _, err := lakeCmd(ctx, e, name, args, 0, func(fs *flag.FlagSet) {
		fs.StringVar(&state, "state", "", "pending, delivered or dead (default: pending and dead)")
		fs.BoolVar(&asJSON, "json", false, "print JSON")
	})
	if err != nil {
		return err
	}
	defer le.Close()
	items, err := le.store.ListOutbox(ctx, "", state, 100000)
	if err != nil {
		return err
	}
	type row struct {
		ID, Destination, State, LastError string
		Seq                               int64
		Attempts                          int
		Created, NextAttempt              time.Time
	}
	out := []row{}
	for _, it := range items {
		if !strings.HasPrefix(it.Destination, prefix) || (state == "" && it.State == catalog.OutboxDelivered) {
			continue
		}
		out = append(out, row{it.ID, it.Destination, it.State, it.LastError, it.Seq, it.Attempts, it.Created, it.NextAttempt})
	}
	if asJSON {
		return printJSON(e.stdout, out)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tDESTINATION\tSEQ\tSTATE\tATTEMPTS\tCREATED\tLAST ERROR")
	for _, r := range out {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%s\t%s\n", r.ID, r.Destination, r.Seq, r.State, r.Attempts, r.Created.Format(time.RFC3339), r.LastError)
	}
	return tw.Flush()
}

// outboxRetry makes a dead-lettered item of one feed pending again,
// audited as action; an item of another feed is refused.
func outboxRetry(ctx context.Context, e *env, name, prefix, action, what string, args []string) error {
	le, pos, err := lakeCmd(ctx, e, name, args, 1, nil)
	if err != nil {
		return err
	}
	defer le.Close()
	it, err := le.store.GetOutbox(ctx, pos[0])
	if err != nil {
		return err
	}
	if !strings.HasPrefix(it.Destination, prefix) {
		return fmt.Errorf("outbox item %s is not one of this feed's (destination %s)", pos[0], it.Destination)
	}
	if err := outbox.Retry(ctx, le.store, pos[0]); err != nil {
		return err
	}
	if err := audit.Append(ctx, le.store, catalog.AuditEvent{Actor: cliActor(), Source: "cli", Action: action,
		Resource: "outbox:" + it.ID, Patient: it.PatientID, Outcome: audit.OK}); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s %s is pending again; `clinomics serve` delivers it\n", what, pos[0])
	return nil
}
