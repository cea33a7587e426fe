package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/clinomics/clinomics/internal/httpapi"
	"github.com/clinomics/clinomics/internal/report"
)

// The report commands are clients of the server (as runs are): the
// workflow's rules, its audit and four eyes are the server's.

func reportCreate(ctx context.Context, e *env, args []string) error {
	fs, cfgPath := flags(e, "report create")
	server := clientFlags(fs, cfgPath)
	draft := fs.String("draft", "", "the report draft, as JSON (the annotator's output)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *draft == "" {
		return usagef("--draft FILE.json is required")
	}
	b, err := os.ReadFile(*draft)
	if err != nil {
		return err
	}
	if _, err := report.ParseDraft(bytes.NewReader(b)); err != nil {
		return fmt.Errorf("%s: %w", *draft, err) // checked here too, to point at the file
	}
	c, err := newClient(ctx, server)
	if err != nil {
		return err
	}
	var s report.Summary
	if err := c.do(ctx, "POST", "/api/v1/reports", json.RawMessage(b), &s); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "created report %s (draft)\n", s.ID)
	return nil
}

func reportList(ctx context.Context, e *env, args []string) error {
	fs, cfgPath := flags(e, "report list")
	server := clientFlags(fs, cfgPath)
	patient := fs.String("patient", "", "only reports of this patient (pseudonymous id)")
	status := fs.String("status", "", "only reports in this status: draft, reviewed, signed, superseded")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	c, err := newClient(ctx, server)
	if err != nil {
		return err
	}
	q := url.Values{}
	if *patient != "" {
		q.Set("patient", *patient)
	}
	if *status != "" {
		q.Set("status", *status)
	}
	var out struct {
		Reports []report.Summary `json:"reports"`
	}
	if err := c.do(ctx, "GET", "/api/v1/reports?"+q.Encode(), nil, &out); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, out)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATUS\tVERSION\tAMENDS\tPATIENT\tUPDATED")
	for _, r := range out.Reports {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", r.ID, r.Status, r.Version, dash(r.Amends), r.PatientID, r.Updated.Format(time.RFC3339))
	}
	return tw.Flush()
}

// reportOne parses the flags of a command about one report.
func reportOne(ctx context.Context, e *env, name string, args []string, setup func(fs *flag.FlagSet)) (*client, string, error) {
	fs, cfgPath := flags(e, name)
	server := clientFlags(fs, cfgPath)
	if setup != nil {
		setup(fs)
	}
	pos, err := parse(fs, args)
	if err != nil {
		return nil, "", err
	}
	if len(pos) != 1 {
		return nil, "", usagef("give one report ID")
	}
	c, err := newClient(ctx, server)
	return c, pos[0], err
}

func reportShow(ctx context.Context, e *env, args []string) error {
	var asJSON *bool
	c, id, err := reportOne(ctx, e, "report show", args, func(fs *flag.FlagSet) { asJSON = fs.Bool("json", false, "print the whole report as JSON") })
	if err != nil {
		return err
	}
	var r report.Report
	if err := c.do(ctx, "GET", "/api/v1/reports/"+url.PathEscape(id), nil, &r); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, r)
	}
	fmt.Fprintf(e.stdout, "report    %s\nstatus    %s\nversion   %d\n", r.ID, r.Status, r.Version)
	if r.Amends != "" {
		fmt.Fprintf(e.stdout, "amends    %s\n", r.Amends)
	}
	fmt.Fprintf(e.stdout, "patient   %s\ntest      %s\nvariants  %d\nupdated   %s\n", r.Patient.ID, r.Test.Name, len(r.Variants), r.Updated.Format(time.RFC3339Nano))
	for _, s := range r.Review {
		fmt.Fprintf(e.stdout, "  %-9s %s  %s\n", s.Action, s.At.Format(time.RFC3339), s.By)
	}
	return nil
}

// reportStep runs a workflow step (review, reopen, sign, amend).
func reportStep(step string) func(ctx context.Context, e *env, args []string) error {
	return func(ctx context.Context, e *env, args []string) error {
		var note, reason, updated *string
		c, id, err := reportOne(ctx, e, "report "+step, args, func(fs *flag.FlagSet) {
			updated = fs.String("updated", "", "the report's updated time as you read it (report show): refuse if it changed since")
			if step == "amend" {
				reason = fs.String("reason", "", "why the signed report is amended (required; printed on the amended report)")
			} else {
				note = fs.String("note", "", "a comment kept with the signature")
			}
		})
		if err != nil {
			return err
		}
		var req httpapi.ReportStepRequest
		if note != nil {
			req.Note = *note
		}
		if reason != nil {
			if *reason == "" {
				return usagef("--reason TEXT is required")
			}
			req.Reason = *reason
		}
		if *updated != "" {
			if req.Updated, err = time.Parse(time.RFC3339Nano, *updated); err != nil {
				return usagef("--updated: want an RFC 3339 time")
			}
		}
		var s report.Summary
		if err := c.do(ctx, "POST", "/api/v1/reports/"+url.PathEscape(id)+"/"+step, req, &s); err != nil {
			return err
		}
		if step == "amend" {
			fmt.Fprintf(e.stdout, "report %s amends %s (version %d, draft)\n", s.ID, id, s.Version)
			return nil
		}
		fmt.Fprintf(e.stdout, "report %s: %s\n", s.ID, s.Status)
		return nil
	}
}

func reportRender(ctx context.Context, e *env, args []string) error {
	var format, out *string
	c, id, err := reportOne(ctx, e, "report render", args, func(fs *flag.FlagSet) {
		format = fs.String("format", "", "html or pdf (default: from the extension of --out, .html, .htm or .pdf)")
		out = fs.String("out", "", "file to write (- for standard output, with --format)")
	})
	if err != nil {
		return err
	}
	if *out == "" {
		return usagef("--out FILE is required")
	}
	if *format == "" {
		switch strings.ToLower(filepath.Ext(*out)) {
		case ".html", ".htm":
			*format = "html"
		case ".pdf":
			*format = "pdf"
		default:
			return usagef("--format html or pdf is required when --out does not end in .html, .htm or .pdf")
		}
	}
	if *format != "html" && *format != "pdf" {
		return usagef("--format: html or pdf")
	}
	b, err := c.send(ctx, "GET", "/api/v1/reports/"+url.PathEscape(id)+"/"+*format, nil, 64<<20)
	if err != nil {
		return err
	}
	if *out == "-" {
		_, err := e.stdout.Write(b)
		return err
	}
	return writeAtomically(*out, bytes.NewReader(b))
}
