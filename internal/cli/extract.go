package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/clinomics/clinomics/internal/app"
	"github.com/clinomics/clinomics/internal/audit"
	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/clinical"
	"github.com/clinomics/clinomics/internal/extract"
)

func init() {
	commands = append(commands, command{name: "extract load", args: "--mapping M.yaml [--rejects DIR] [--full] [--batch-size N] FILE...",
		summary: "load EHR batch extracts (CSV or delimited) into the clinical database; rejected rows go to a reject file per load", run: extractLoad})
}

func extractLoad(ctx context.Context, e *env, args []string) error {
	var mapping, rejectDir string
	var full bool
	var batch int
	le, db, files, err := clinicalCmd(ctx, e, "extract load", args, func(fs *flag.FlagSet) {
		fs.StringVar(&mapping, "mapping", "", "the mapping file (YAML): entity, format, columns to fields")
		fs.StringVar(&rejectDir, "rejects", "", "folder for the reject files (created with mode 0700 if missing; default: beside each FILE). They hold patient data")
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
	if rejectDir != "" {
		if err := os.MkdirAll(rejectDir, 0o700); err != nil {
			return fmt.Errorf("--rejects: %w", err)
		}
	}
	l := &extract.Loader{Mapping: m, Sink: clinical.ExtractSink{DB: db}, FullReload: full, BatchSize: batch, Log: app.NewLogger(le.cfg, e.stderr)}
	rejected := int64(0)
	var rejectFiles []string
	for _, f := range files {
		sum, err := l.LoadFile(ctx, f, extract.RejectPath(rejectDir, f, time.Now()))
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
			return loadError(f, sum, err)
		}
		fmt.Fprintln(e.stdout, sum.String())
		rejected += sum.Rejected
		if sum.RejectFile != "" {
			rejectFiles = append(rejectFiles, sum.RejectFile)
		}
	}
	if rejected > 0 {
		return &exitError{code: 3, err: fmt.Errorf("%d rows rejected: see %s (they hold patient data: mode 0600)", rejected, strings.Join(rejectFiles, ", "))}
	}
	return nil
}

// loadError says what a failed load of file did and whether running it
// again helps: not when the file itself, the mapping or the reject folder
// is at fault.
func loadError(file string, sum extract.Summary, err error) error {
	var fe *extract.FileError
	var me *extract.MappingError
	switch {
	case errors.As(err, &fe): // it names the file
		return fmt.Errorf("%w (nothing was loaded from it: fix the mapping or the file; loading it again as it is fails the same way)", err)
	case errors.As(err, &me), errors.Is(err, fs.ErrNotExist), errors.Is(err, fs.ErrPermission):
		return err
	}
	if !strings.Contains(err.Error(), file) {
		err = fmt.Errorf("%s: %w", file, err)
	}
	if sum.Loaded == 0 {
		return fmt.Errorf("%w (nothing was stored; run the load again once the cause is fixed)", err)
	}
	return fmt.Errorf("%w (the %d rows stored before it stay stored; run the load again once the cause is fixed to finish it)", err, sum.Loaded)
}
