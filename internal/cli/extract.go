package cli

import (
	"context"
	"flag"
	"fmt"

	"github.com/clinomics/clinomics/internal/app"
	"github.com/clinomics/clinomics/internal/audit"
	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/clinical"
	"github.com/clinomics/clinomics/internal/extract"
)

func init() {
	commands = append(commands, command{name: "extract load", args: "--mapping M.yaml [--full] [--batch-size N] FILE...",
		summary: "load EHR batch extracts (CSV or delimited) into the clinical database; rejected rows go to FILE.rejects.csv", run: extractLoad})
}

func extractLoad(ctx context.Context, e *env, args []string) error {
	var mapping string
	var full bool
	var batch int
	le, db, files, err := clinicalCmd(ctx, e, "extract load", args, func(fs *flag.FlagSet) {
		fs.StringVar(&mapping, "mapping", "", "the mapping file (YAML): entity, format, columns to fields")
		fs.BoolVar(&full, "full", false, "load every row, ignoring the watermark (after fixing a mapping)")
		fs.IntVar(&batch, "batch-size", extract.DefaultBatchSize, "rows a transaction: larger loads faster, and holds other writers of the clinical database (the HL7 listener's acknowledgments) longer")
	})
	if err != nil {
		return err
	}
	defer le.Close()
	if mapping == "" || len(files) == 0 {
		return usagef("give --mapping and at least one file")
	}
	if batch < 1 || batch > 1_000_000 {
		return usagef("--batch-size must be from 1 to 1000000")
	}
	m, err := extract.LoadMapping(mapping)
	if err != nil {
		return err
	}
	l := &extract.Loader{Mapping: m, Sink: clinical.ExtractSink{DB: db}, FullReload: full, BatchSize: batch, Log: app.NewLogger(le.cfg, e.stderr)}
	rejected := int64(0)
	for _, f := range files {
		sum, err := l.LoadFile(ctx, f, f+".rejects.csv")
		outcome := audit.OK
		if err != nil {
			outcome = audit.Error
		}
		if aerr := audit.Append(ctx, le.store, catalog.AuditEvent{Actor: cliActor(), Source: "cli", Action: "extract.load",
			Resource: "extract:" + m.Name, Outcome: outcome,
			Detail: fmt.Sprintf("read %d, loaded %d, skipped %d, rejected %d", sum.Read, sum.Loaded, sum.Skipped, sum.Rejected)}); aerr != nil {
			return aerr
		}
		if err != nil {
			return fmt.Errorf("%s: %w (earlier batches stay loaded; run it again to finish)", f, err)
		}
		fmt.Fprintln(e.stdout, sum.String())
		rejected += sum.Rejected
	}
	if rejected > 0 {
		return &exitError{code: 3, err: fmt.Errorf("%d rows rejected: see the .rejects.csv files (they hold patient data: mode 0600)", rejected)}
	}
	return nil
}
