// Package cli is the command layer of clinomics: a table of subcommands,
// each parsing its own flags and returning an exit status.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/clinomics/clinomics/internal/app"
	"github.com/clinomics/clinomics/internal/config"
)

// env is what a command runs with.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

type command struct {
	name    string // may be two words: "config check"
	args    string // synopsis of the arguments
	summary string
	hidden  bool // internal: run inside pipeline tasks
	run     func(ctx context.Context, e *env, args []string) error
}

// exitError carries a specific exit status.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageError marks a mistake in the command line (exit status 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

var commands []command

func init() {
	commands = append(commands, []command{
		{name: "run germline", args: "--sample ID --fastq R1 [R2] --reference REF.fa [--targets T.bed] --out DIR", summary: "align, mark duplicates, call variants and QC one sample", run: runGermline},
		{name: "reference add", args: "FASTA", summary: "prepare a reference once (faidx, bwa index), cached by content", run: referenceAdd},
		{name: "eval", args: "--truth T.vcf.gz --calls C.vcf.gz [--regions R.bed] [--reference REF.fa]", summary: "compare calls with a truth set: precision, recall, F1 for SNVs and indels", run: evalCmd},
		{name: "serve", args: "", summary: "run the HTTP API server (submit and follow runs)", run: serve},
		{name: "runs submit", args: "germline --sample ID --fastq R1 [R2] --reference REF.fa --out DIR", summary: "submit a run to the server", run: runsSubmit},
		{name: "runs list", args: "", summary: "list runs known to the server", run: runsList},
		{name: "runs show", args: "ID [--follow]", summary: "show a run's state, tasks, outputs and tool versions", run: runsShow},
		{name: "runs cancel", args: "ID", summary: "cancel a running run", run: runsCancel},
		{name: "report create", args: "--draft FILE.json", summary: "store a report draft (the annotator's JSON) on the server", run: reportCreate},
		{name: "report list", args: "[--patient ID] [--status S]", summary: "list clinical reports (no patient data)", run: reportList},
		{name: "report show", args: "ID [--json]", summary: "show a report's state and sign-out history", run: reportShow},
		{name: "report review", args: "ID [--note TEXT]", summary: "mark a draft report reviewed (reports:review)", run: reportStep("review")},
		{name: "report reopen", args: "ID", summary: "take a reviewed report back to draft", run: reportStep("reopen")},
		{name: "report sign", args: "ID", summary: "sign a reviewed report out (reports:sign; not its reviewer)", run: reportStep("sign")},
		{name: "report amend", args: "ID --reason TEXT", summary: "start the amendment of a signed report (a new draft)", run: reportStep("amend")},
		{name: "report render", args: "ID --out FILE.pdf|FILE.html [--format pdf|html]", summary: "write a report's HTML or PDF rendering (the format from --out's extension unless --format says)", run: reportRender},
		{name: "bench germline", args: "[--out DIR]", summary: "serial tool chain vs the engine on the demo sample", run: benchGermline},
		{name: "bench engine", args: "[--tasks N]", summary: "engine overhead: N no-op tasks", run: benchEngine},
		{name: "annotate", args: "--vcf IN --gff G --fasta REF --out OUT [--fields F,...] [--flank N] [--threads N] [--save-model M] [--clinvar CV] [--gnomad AF.vcf] [--extra NAME=FILE] [--report-draft D.json (--sample S | --patient ID) [--panel P] [--bam B] [--qc Q]]", summary: "consequences and HGVS, known variants, ACMG suggestions: OUT.vcf, OUT.tsv and a report draft", run: annotateCmd},
		{name: "bench annotate", args: "[--runs N] [--gff G] [--variants N]", summary: "our annotator vs bcftools csq on a synthetic VCF", run: benchAnnotate},
		{name: "config check", args: "", summary: "validate the configuration", run: configCheck},
		{name: "config dump", args: "[--defaults]", summary: "print the effective configuration, secrets redacted", run: configDump},
		{name: "version", summary: "print the version", run: func(_ context.Context, e *env, _ []string) error {
			fmt.Fprintln(e.stdout, "clinomics", app.Version())
			return nil
		}},
		{name: "fhir orders pull", args: "[--since T]", summary: "pull the EHR's genetic orders (FHIR ServiceRequest) and their cancellations now", run: fhirOrdersPull},
		{name: "fhir outbox", args: "[--state pending|delivered|dead] [--json]", summary: "report bundles waiting for the EHR or refused by it, with the reason", run: fhirOutbox},
		{name: "fhir retry", args: "ID", summary: "send a dead-lettered report bundle to the EHR again", run: fhirRetry},
		{name: "fhir jwks", args: "[--rotate]", summary: "print our public signing keys (JWKS), to register clinomics with the EHR", run: fhirJWKS},
		{name: "tool fastq-split", hidden: true, summary: "validate and split FASTQ into chunks", run: toolFastqSplit},
		{name: "tool qc", hidden: true, summary: "compute the QC report", run: toolQC},
		{name: "fhir standin", hidden: true, args: "--listen ADDR --data DIR [--token-lifetime D] [--jwks-url URL --client-id ID]", summary: "run the EHR stand-in FHIR server (tests)", run: fhirStandin},
	}...)
}

// Main runs the command line and returns the process exit status.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) > 1 && args[0] == "help" { // clinomics help COMMAND: its -h
		args = append(args[1:len(args):len(args)], "-h")
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		return 0
	}
	cmd, rest := lookup(args)
	if cmd == nil {
		// A command group (hl7, extract, report, ...): with -h, or alone,
		// its subcommands.
		if group, rest := lookupGroup(args); group != "" {
			if len(rest) == 0 {
				groupUsage(stderr, group)
				return 2
			}
			if isHelp(rest[0]) {
				groupUsage(stdout, group)
				return 0
			}
			fmt.Fprintf(stderr, "clinomics: unknown command %q\n\n", group+" "+rest[0])
			groupUsage(stderr, group)
			return 2
		}
		fmt.Fprintf(stderr, "clinomics: unknown command %q\n\n", strings.Join(args[:min(2, len(args))], " "))
		usage(stderr)
		return 2
	}
	err := cmd.run(ctx, e, rest)
	if err == nil {
		return 0
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "clinomics %s: %s\nusage: clinomics %s %s\n", cmd.name, ue.msg, cmd.name, cmd.args)
		return 2
	}
	fmt.Fprintf(stderr, "clinomics %s: %v\n", cmd.name, err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}

func lookup(args []string) (*command, []string) {
	for i := range commands {
		c := &commands[i]
		words := strings.Fields(c.name)
		if len(args) >= len(words) && strings.Join(args[:len(words)], " ") == c.name {
			return c, args[len(words):]
		}
	}
	return nil, nil
}

func isHelp(arg string) bool {
	return arg == "-h" || arg == "--help" || arg == "-help" || arg == "help"
}

// lookupGroup finds the longest run of leading words of args that starts
// visible commands without naming one ("hl7", "fhir orders"), and returns
// it with the arguments after it; "" when there is none.
func lookupGroup(args []string) (string, []string) {
	group := ""
	n := 0
	for i := 1; i <= len(args); i++ {
		prefix := strings.Join(args[:i], " ") + " "
		found := false
		for _, c := range commands {
			if !c.hidden && strings.HasPrefix(c.name, prefix) {
				found = true
				break
			}
		}
		if !found {
			break
		}
		group, n = strings.TrimSpace(prefix), i
	}
	return group, args[n:]
}

// groupUsage lists the visible commands of a group with their synopses
// and summaries.
func groupUsage(w io.Writer, group string) {
	fmt.Fprintf(w, "Usage: clinomics %s COMMAND [flags]   (every command takes --config FILE and -h)\n\nCommands:\n", group)
	var lines []string
	for _, c := range commands {
		if !c.hidden && strings.HasPrefix(c.name, group+" ") {
			lines = append(lines, fmt.Sprintf("  %-16s %s\n  %-16s   %s %s", c.name, c.summary, "", c.name, c.args))
		}
	}
	sort.Strings(lines)
	fmt.Fprintln(w, strings.Join(lines, "\n"))
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "clinomics: sequencer to EHR, on your own machines.")
	fmt.Fprintln(w, "\nUsage: clinomics COMMAND [flags]   (every command takes --config FILE and -h)")
	fmt.Fprintln(w, "\nCommands:")
	var lines []string
	for _, c := range commands {
		if !c.hidden {
			lines = append(lines, fmt.Sprintf("  %-16s %s", c.name, c.summary))
		}
	}
	sort.Strings(lines)
	fmt.Fprintln(w, strings.Join(lines, "\n"))
}

// flags makes a flag set that reports usage mistakes as usageError and
// knows --config.
func flags(e *env, name string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("clinomics "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	cfg := fs.String("config", os.Getenv("CLINOMICS_CONFIG"), "configuration file (default: embedded defaults; $CLINOMICS_CONFIG)")
	return fs, cfg
}

// parse parses args, accepting flags after positional arguments too.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usagef("%v", err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func loadConfig(path string) (*config.Config, error) {
	return config.Load(path)
}
