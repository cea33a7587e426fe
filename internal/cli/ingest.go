package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/clinomics/clinomics/internal/app"
	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/config"
	"github.com/clinomics/clinomics/internal/ingest"
	"github.com/clinomics/clinomics/internal/lake"
	"github.com/clinomics/clinomics/internal/pipeline"
)

func init() {
	commands = append(commands, []command{
		{name: "ingest scan", args: "[--dir RUNS]", summary: "ingest the finished sequencer runs once: FASTQ into the lake, samples into the catalog", run: ingestScan},
		{name: "ingest watch", args: "[--dir RUNS] [--interval 1m]", summary: "keep ingesting sequencer runs as they finish", run: ingestWatch},
	}...)
}

// newWatcher builds the run-folder watcher of the configuration; dir
// overrides ingest.runs_dir.
func newWatcher(cfg *config.Config, store catalog.Store, lk *lake.Lake, log *slog.Logger, dir string) (*ingest.Watcher, error) {
	if dir == "" {
		dir = cfg.Ingest.RunsDir
	}
	if dir == "" {
		return nil, usagef("no runs folder: give --dir or set ingest.runs_dir")
	}
	return &ingest.Watcher{Dir: dir, Prefix: cfg.Ingest.LakePrefix, Lake: lk, Store: store, Log: log}, nil
}

func ingestCmd(ctx context.Context, e *env, name string, args []string, setup func(fs *flag.FlagSet)) (*lakeEnv, *ingest.Watcher, error) {
	var dir string
	le, _, err := lakeCmd(ctx, e, name, args, 0, func(fs *flag.FlagSet) {
		fs.StringVar(&dir, "dir", "", "folder the sequencers write run folders to (default ingest.runs_dir)")
		if setup != nil {
			setup(fs)
		}
	})
	if err != nil {
		return nil, nil, err
	}
	w, err := newWatcher(le.cfg, le.store, le.lake, app.NewLogger(le.cfg, e.stderr), dir)
	if err != nil {
		le.Close()
		return nil, nil, err
	}
	return le, w, nil
}

func ingestScan(ctx context.Context, e *env, args []string) error {
	le, w, err := ingestCmd(ctx, e, "ingest scan", args, nil)
	if err != nil {
		return err
	}
	defer le.Close()
	res, err := w.Scan(ctx)
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tSTATE\tSTORED\tBYTES\tALREADY STORED\tDETAIL")
	bad := 0
	for _, r := range res {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\n", r.Run, r.State, r.Stored, r.Bytes, r.Kept, r.Detail)
		if r.State == catalog.SeqRunError {
			bad++
		}
	}
	tw.Flush()
	if err != nil {
		return err
	}
	if bad > 0 {
		return &exitError{code: 3, err: fmt.Errorf("%d run folder(s) could not be ingested; they are tried again at the next scan", bad)}
	}
	return nil
}

func ingestWatch(ctx context.Context, e *env, args []string) error {
	var interval time.Duration
	le, w, err := ingestCmd(ctx, e, "ingest watch", args, func(fs *flag.FlagSet) {
		fs.DurationVar(&interval, "interval", 0, "time between scans (default ingest.interval)")
	})
	if err != nil {
		return err
	}
	defer le.Close()
	if interval <= 0 {
		interval = le.cfg.Ingest.Interval
	}
	fmt.Fprintf(e.stderr, "watching %s every %s; stop with Ctrl-C\n", w.Dir, interval)
	return w.Watch(ctx, interval)
}

// startPipelines returns the hook that starts the germline pipeline for
// each sample of an ingested run (a sample whose FASTQ are in several
// lanes is left to a person). It is called again after a crash or a
// failure, so a sample's pipeline is started once (SubmitOnce); an error
// leaves the run to the next scan.
func startPipelines(mgr *pipeline.Manager, reference string, log *slog.Logger) func(context.Context, catalog.SequencerRun, []catalog.SampleFASTQ) error {
	return func(ctx context.Context, run catalog.SequencerRun, fastq []catalog.SampleFASTQ) error {
		per := map[string][]catalog.SampleFASTQ{}
		var order []string
		for _, f := range fastq {
			if per[f.SampleID] == nil {
				order = append(order, f.SampleID)
			}
			per[f.SampleID] = append(per[f.SampleID], f)
		}
		var errs []error
		for _, id := range order {
			fs := per[id]
			if len(fs) != 1 {
				log.Warn("ingest: not starting the pipeline: the sample has FASTQ in several lanes", "run", run.Name, "lanes", len(fs))
				continue
			}
			p := pipeline.GermlineParams{Sample: id, FASTQ: []string{pipeline.LakePrefix + fs[0].R1}, Reference: reference,
				OutDir: pipeline.LakePrefix + "results/" + id + "/" + run.Name, Submitter: "ingest:" + run.Name}
			if fs[0].R2 != "" {
				p.FASTQ = append(p.FASTQ, pipeline.LakePrefix+fs[0].R2)
			}
			r, created, err := mgr.SubmitOnce(ctx, p)
			switch {
			case err != nil:
				errs = append(errs, fmt.Errorf("sample %s: pipeline not started: %w", id, err))
			case created:
				log.Info("ingest: pipeline started", "run", run.Name, "pipeline_run", r.ID)
			default:
				log.Info("ingest: pipeline already started", "run", run.Name, "pipeline_run", r.ID, "state", r.State)
			}
		}
		return errors.Join(errs...)
	}
}
