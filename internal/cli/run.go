package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/clinomics/clinomics/internal/app"
	"github.com/clinomics/clinomics/internal/audit"
	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/lake"
	"github.com/clinomics/clinomics/internal/pipeline"
	"github.com/clinomics/clinomics/internal/qc"
	"github.com/clinomics/clinomics/internal/workflow"
)

// germlineFlags declares the flags shared by `run germline` and
// `runs submit germline`.
func germlineFlags(fs *flag.FlagSet) func(pos []string) (pipeline.GermlineParams, error) {
	var p pipeline.GermlineParams
	var fastqs string
	fs.StringVar(&p.Sample, "sample", "", "sample identifier (letters, digits, . _ -)")
	fs.StringVar(&fastqs, "fastq", "", "R1 FASTQ (gzip or plain; a file or lake:PATH); R2 follows as the next argument")
	fs.StringVar(&p.Reference, "reference", "", "reference FASTA (plain or gzip); prepared once and cached")
	fs.StringVar(&p.Targets, "targets", "", "target BED for exome and panels")
	fs.StringVar(&p.OutDir, "out", "", "output directory, or lake:FOLDER to store the outputs encrypted in the lake")
	fs.StringVar(&p.Patient, "patient", "", "pseudonymous patient id whose key encrypts lake outputs (default: that of the lake inputs)")
	fs.StringVar(&p.Caller, "caller", "", "variant caller: bcftools or freebayes (default from config)")
	fs.BoolVar(&p.Trim, "trim", false, "trim reads with fastp before alignment")
	return func(pos []string) (pipeline.GermlineParams, error) {
		if fastqs != "" {
			p.FASTQ = append(p.FASTQ, fastqs)
		}
		p.FASTQ = append(p.FASTQ, pos...)
		switch {
		case p.Sample == "":
			return p, usagef("--sample is required")
		case len(p.FASTQ) == 0:
			return p, usagef("--fastq is required")
		case p.Reference == "":
			return p, usagef("--reference is required")
		case p.OutDir == "":
			return p, usagef("--out is required")
		}
		return p, nil
	}
}

func runGermline(ctx context.Context, e *env, args []string) error {
	fs, cfgPath := flags(e, "run germline")
	params := germlineFlags(fs)
	resume := fs.Bool("resume", false, "continue the unfinished run of this sample into --out")
	noCache := fs.Bool("no-cache", false, "run every task even when the call cache has its outputs")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	p, err := params(pos)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	if !p.Trim {
		p.Trim = cfg.Germline.Trim
	}
	log := app.NewLogger(cfg, e.stderr)
	a, err := app.Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	a.Runner.Engine.NoCache = *noCache
	p.Submitter = cliActor()
	if p.UsesLake() {
		if a.Runner.Lake, err = app.OpenLake(ctx, cfg, a.Store, cliActor()); err != nil {
			return err
		}
	}
	var run catalog.Run
	if *resume {
		run, err = a.Runner.Resumable(ctx, p.Sample, p.OutDir)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "resuming run %s\n", run.ID)
	} else if run, err = a.Runner.Create(ctx, p); err != nil {
		return err
	}
	prog := newProgress(e.stderr, log)
	a.Runner.Engine.Observe = prog.observe
	a.Runner.Engine.Log = slog.New(slog.DiscardHandler) // the progress display reports task events
	sum, err := a.Runner.Execute(ctx, run)
	prog.finish()
	if err != nil {
		var te *workflow.TaskError
		if errors.As(err, &te) || errors.Is(err, context.Canceled) {
			return fmt.Errorf("run %s failed: %w\nafter fixing the cause, continue with the same command and --resume", run.ID, err)
		}
		return fmt.Errorf("run %s: %w", run.ID, err)
	}
	out := pipeline.GermlineOutputs(&p)
	fmt.Fprintf(e.stdout, "run %s succeeded in %s: %d tasks (%d ran, %d from cache), CPU %s\n",
		run.ID, sum.Wall.Round(time.Millisecond), sum.Tasks, sum.Ran, sum.Cached, sum.CPU.Round(time.Millisecond))
	for _, f := range []string{out.BAM, out.BAI, out.VCF, out.TBI, out.GVCF, out.GTBI, out.QC} {
		fmt.Fprintf(e.stdout, "  %s\n", f)
	}
	b, err := readOutput(ctx, a.Runner.Lake, a.Store, out.QC)
	if err != nil {
		return fmt.Errorf("QC report: %w", err)
	}
	var rep qc.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return fmt.Errorf("QC report %s: %w", out.QC, err)
	}
	fmt.Fprintln(e.stdout)
	return rep.WriteTable(e.stdout)
}

// progress shows task events: a live status line on a terminal, plain log
// lines otherwise.
type progress struct {
	w       io.Writer
	log     *slog.Logger
	tty     bool
	start   time.Time
	mu      sync.Mutex
	running map[string]string
	done    int
	total   int
	stop    chan struct{}
	wg      sync.WaitGroup
}

func newProgress(w io.Writer, log *slog.Logger) *progress {
	p := &progress{w: w, log: log, start: time.Now(), running: map[string]string{}, stop: make(chan struct{})}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			t := time.NewTicker(250 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-p.stop:
					return
				case <-t.C:
					p.mu.Lock()
					p.draw()
					p.mu.Unlock()
				}
			}
		}()
	}
	return p
}

func (p *progress) observe(ev workflow.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total, p.done = ev.Total, max(p.done, ev.Done)
	switch ev.State {
	case catalog.TaskRunning:
		p.running[ev.TaskID] = ev.Name
	default:
		delete(p.running, ev.TaskID)
	}
	if p.tty {
		if ev.State == catalog.TaskFailed {
			fmt.Fprintf(p.w, "\r\033[K%s failed\n", ev.TaskID)
		}
		p.draw()
		return
	}
	attrs := []any{"task", ev.TaskID, "step", ev.Name, "state", string(ev.State), "done", fmt.Sprintf("%d/%d", p.done, p.total)}
	if ev.State == catalog.TaskFailed || ev.State == catalog.TaskCancelled {
		p.log.Error("task ended", attrs...)
	} else {
		p.log.Info("task", attrs...)
	}
}

// draw renders the status line; p.mu is held.
func (p *progress) draw() {
	var steps []string
	seen := map[string]bool{}
	for _, name := range p.running {
		if !seen[name] {
			seen[name] = true
			steps = append(steps, name)
		}
	}
	sort.Strings(steps)
	el := time.Since(p.start).Round(time.Second)
	fmt.Fprintf(p.w, "\r\033[K[%d/%d tasks] %s  elapsed %s", p.done, p.total, strings.Join(steps, ", "), el)
}

func (p *progress) finish() {
	if p.tty {
		close(p.stop)
		p.wg.Wait()
		p.mu.Lock()
		p.draw()
		fmt.Fprintln(p.w)
		p.mu.Unlock()
	}
}

// readOutput reads a run's output file, from the lake for "lake:" paths
// (an audited read).
func readOutput(ctx context.Context, lk *lake.Lake, st catalog.Store, path string) ([]byte, error) {
	if !pipeline.IsLake(path) {
		return os.ReadFile(path)
	}
	o, v, err := lk.Stat(ctx, strings.TrimPrefix(path, pipeline.LakePrefix))
	if err != nil {
		return nil, err
	}
	if err := audit.Append(ctx, st, audit.ObjectAccess(cliActor(), "cli", "lake.read", v.Path, v.ID, o.Patient)); err != nil {
		return nil, err
	}
	r, err := lk.OpenVersion(ctx, v.ID)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}
