package cli

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/clinomics/clinomics/internal/app"
	"github.com/clinomics/clinomics/internal/audit"
	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/clinical"
	"github.com/clinomics/clinomics/internal/config"
	"github.com/clinomics/clinomics/internal/extract"
)

func init() {
	commands = append(commands,
		command{name: "extract load", args: "--mapping M.yaml [--rejects DIR] [--full] [--batch-size N] FILE|lake:PATH...",
			summary: "load EHR batch extracts (CSV or delimited) into the clinical database; rejected rows go to a reject file per load", run: extractLoad},
		command{name: "extract watch", args: "--mapping M.yaml --dir DIR [--pattern GLOB] [--rejects DIR] [--interval 1m] [--once]",
			summary: "load the extract files that arrive in a folder, in name order, moving each to done/ or failed/", run: extractWatch})
}

// lakeRejects is the folder of the reject files of extracts read from
// the lake (which has no folder beside them), under the data directory.
const lakeRejects = "extract-rejects"

// auditLoad records one load of an extract in the audit trail.
func auditLoad(ctx context.Context, st catalog.Store, actor, source string, m *extract.Mapping, sum extract.Summary, err error) error {
	outcome := audit.OK
	if err != nil {
		outcome = audit.Error
	}
	return audit.Append(ctx, st, catalog.AuditEvent{Actor: actor, Source: source, Action: "extract.load",
		Resource: "extract:" + m.Name, Outcome: outcome,
		Detail: fmt.Sprintf("read %d, loaded %d, skipped %d, rejected %d", sum.Read, sum.Loaded, sum.Skipped, sum.Rejected)})
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
		var sum extract.Summary
		var err error
		if p, ok := strings.CutPrefix(f, "lake:"); ok {
			sum, err = loadFromLake(ctx, le, l, p, rejectDir)
		} else {
			sum, err = l.LoadFile(ctx, f, extract.RejectPath(rejectDir, f, time.Now()))
		}
		if aerr := auditLoad(ctx, le.store, cliActor(), "cli", m, sum, err); aerr != nil {
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

// loadFromLake loads the extract stored in the lake at path (decrypted
// as it is read, its read audited); its rejects go to rejectDir, else to
// the data directory's extract-rejects folder.
func loadFromLake(ctx context.Context, le *lakeEnv, l *extract.Loader, path, rejectDir string) (extract.Summary, error) {
	name := "lake:" + path
	r, err := le.lake.Open(ctx, path)
	if err != nil {
		return extract.Summary{Source: l.Mapping.Name, File: name}, err
	}
	defer r.Close()
	if err := le.record(ctx, "lake.read", r.Version()); err != nil {
		return extract.Summary{Source: l.Mapping.Name, File: name}, err
	}
	if rejectDir == "" {
		rejectDir = filepath.Join(le.cfg.DataDir, lakeRejects)
		if err := os.MkdirAll(rejectDir, 0o700); err != nil {
			return extract.Summary{Source: l.Mapping.Name, File: name}, fmt.Errorf("reject folder: %w", err)
		}
	}
	return l.LoadReader(ctx, name, r, extract.RejectPath(rejectDir, path, time.Now()))
}

// extractWatch loads the files that arrive in a folder (extract.Watch),
// each load audited, until interrupted, or once with --once.
func extractWatch(ctx context.Context, e *env, args []string) error {
	var w extract.Watch
	var mapping string
	var interval time.Duration
	var once bool
	le, db, pos, err := clinicalCmd(ctx, e, "extract watch", args, func(fs *flag.FlagSet) {
		fs.StringVar(&mapping, "mapping", "", "the mapping file (YAML) of the folder's extracts")
		fs.StringVar(&w.Dir, "dir", "", "the folder the extracts arrive in; loaded files move to DIR/done, unloadable ones to DIR/failed")
		fs.StringVar(&w.Pattern, "pattern", "", "only file names matching this glob (e.g. 'PATIENTS_*.txt'); name them so that name order is time order")
		fs.StringVar(&w.RejectDir, "rejects", "", "folder for the reject files (default DIR/rejects); they hold patient data")
		fs.DurationVar(&interval, "interval", time.Minute, "time between scans")
		fs.BoolVar(&once, "once", false, "scan once and exit")
	})
	if err != nil {
		return err
	}
	defer le.Close()
	if mapping == "" || w.Dir == "" || len(pos) > 0 {
		return usagef("give --mapping and --dir (and no file names)")
	}
	if interval <= 0 {
		return usagef("--interval must be positive")
	}
	m, err := extract.LoadMapping(mapping)
	if err != nil {
		return err
	}
	log := app.NewLogger(le.cfg, e.stderr)
	w.Loader = &extract.Loader{Mapping: m, Sink: clinical.ExtractSink{DB: db}, Log: log}
	w.Log = log
	var rejected int64
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	var fatal error
	w.Done = func(r extract.WatchResult) error {
		if errors.Is(r.Err, clinical.ErrOtherScheme) {
			// The database was re-keyed under other names: no later scan
			// can load anything (nor should it be audited as tried).
			fatal = r.Err
			stop()
			return r.Err
		}
		if err := auditLoad(ctx, le.store, cliActor(), "cli", m, r.Summary, r.Err); err != nil {
			return err
		}
		if r.Err != nil {
			fmt.Fprintf(e.stdout, "%s: %s: %s\n", r.File, r.State, r.Err)
		} else {
			fmt.Fprintf(e.stdout, "%s: %s: %s\n", r.File, r.State, r.Summary)
		}
		rejected += r.Summary.Rejected
		return nil
	}
	if !once {
		w.Run(wctx, interval)
		return fatal
	}
	res, err := w.Scan(ctx)
	for _, r := range res {
		if r.State == extract.WatchWaiting {
			fmt.Fprintf(e.stdout, "%s: %s: changed less than %s ago, not loaded yet (the next scan takes it)\n", r.File, r.State, extract.DefaultMinAge)
		}
	}
	if err != nil {
		return err
	}
	if rejected > 0 {
		return &exitError{code: 3, err: fmt.Errorf("%d rows rejected: see %s (they hold patient data: mode 0600)", rejected, cmp.Or(w.RejectDir, filepath.Join(w.Dir, extract.RejectsDir)))}
	}
	return nil
}

// startExtractWatches starts a watch of each extract.watch folder under
// serve, its loads audited as the "extract-watch" actor, registering how
// to stop them. A mapping that does not load stops serve at start.
func startExtractWatches(ctx context.Context, cfg *config.Config, st catalog.Store, db *clinical.DB, log *slog.Logger, c *cleanups) error {
	for i, wc := range cfg.Extract.Watch {
		m, err := extract.LoadMapping(wc.Mapping)
		if err != nil {
			return fmt.Errorf("extract.watch[%d].mapping: %w", i, err)
		}
		w := &extract.Watch{Dir: wc.Dir, Pattern: wc.Pattern, RejectDir: wc.Rejects, Log: log,
			Loader: &extract.Loader{Mapping: m, Sink: clinical.ExtractSink{DB: db}, Log: log}}
		w.Done = func(r extract.WatchResult) error {
			return auditLoad(context.WithoutCancel(ctx), st, "extract-watch", "extract-watch", m, r.Summary, r.Err)
		}
		wctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); w.Run(wctx, cfg.Extract.Interval) }()
		c.add(func() { stop(); <-done })
		log.Info("watching for extracts", "dir", wc.Dir, "mapping", m.Name)
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
