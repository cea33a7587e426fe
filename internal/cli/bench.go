package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/clinomics/clinomics/internal/app"
	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/pipeline"
	"github.com/clinomics/clinomics/internal/workflow"
	"github.com/clinomics/clinomics/internal/workflow/executor"
	"github.com/clinomics/clinomics/internal/workflow/executor/local"
)

// demoInputs finds the bundled demo data: testdata/demo beside the
// working directory or the binary.
func demoInputs(dir string) (r1, r2, ref string, err error) {
	cands := []string{dir}
	if dir == "" {
		cands = []string{"testdata/demo"}
		if exe, err := os.Executable(); err == nil {
			cands = append(cands, filepath.Join(filepath.Dir(exe), "..", "testdata", "demo"))
		}
	}
	for _, d := range cands {
		if d, err = filepath.Abs(d); err != nil {
			return "", "", "", err
		}
		r1 = filepath.Join(d, "NA12878_S1.chr20.10_10p1mb_R1.fastq.gz")
		if _, err := os.Stat(r1); err == nil {
			return r1, filepath.Join(d, "NA12878_S1.chr20.10_10p1mb_R2.fastq.gz"), filepath.Join(d, "chr20_1-10110000.fa.gz"), nil
		}
	}
	return "", "", "", fmt.Errorf("demo data not found in %s (run from the repository root or pass --demo DIR)", strings.Join(cands, ", "))
}

// benchGermline runs the demo sample (a) as the plain serial shell chain of
// the same tools and (b) through the engine, and reports both.
func benchGermline(ctx context.Context, e *env, args []string) error {
	fs, cfgPath := flags(e, "bench germline")
	demo := fs.String("demo", "", "demo data directory (default testdata/demo)")
	outDir := fs.String("out", "", "scratch directory (default: a temporary directory, removed)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	r1, r2, refFA, err := demoInputs(*demo)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	scratch := *outDir
	if scratch == "" {
		if scratch, err = os.MkdirTemp("", "clinomics-bench-"); err != nil {
			return err
		}
		defer os.RemoveAll(scratch)
	}
	cfg.DataDir = filepath.Join(scratch, "data")
	cfg.Catalog.DSN = ""
	a, err := app.Open(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer a.Close()
	ref, err := a.Runner.Refs.Add(ctx, refFA)
	if err != nil {
		return err
	}
	cores := a.Exec.Capacity().Threads
	fmt.Fprintf(e.stdout, "machine: %s, %d cores used (of %d)\n", cpuModel(), cores, runtime.NumCPU())

	// (a) The serial chain: the same tools and options, one after another,
	// each multithreaded where the tool supports it.
	serialDir := filepath.Join(scratch, "serial")
	os.MkdirAll(serialDir, 0o750)
	g := cfg.Germline
	script := fmt.Sprintf(`set -euo pipefail
cd %[1]s
bwa mem -t %[2]d -K 10000000 -R '@RG\tID:S\tSM:S\tLB:S\tPL:ILLUMINA' %[3]s %[4]s %[5]s | samtools fixmate -m - - | samtools sort -@ %[2]d -m 512M -T sort_tmp -o sorted.bam -
samtools markdup -@ %[2]d -s -f markdup.txt sorted.bam S.bam
samtools index -@ %[2]d S.bam S.bam.bai
bcftools mpileup -a AD,DP -f %[3]s -R %[6]s -q %[7]d -Q %[8]d -Ou -o mpileup.bcf S.bam
bcftools call -m -v -Ou mpileup.bcf | bcftools norm -f %[3]s -m -any -Oz -o S.vcf.gz
bcftools index -t S.vcf.gz
bcftools call -m -g %[9]d -Oz -o S.g.vcf.gz mpileup.bcf
bcftools index -t S.g.vcf.gz
samtools stats S.bam > stats.txt
samtools depth -a -b %[6]s S.bam > depth.txt
`, serialDir, cores, ref.FASTA(), r1, r2, ref.CalledBED(), g.MinMapQ, g.MinBaseQ, g.GVCFMinDepth)
	start := time.Now()
	cmd := exec.CommandContext(ctx, "bash", "-c", script)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("serial chain: %w\n%s", err, out)
	}
	serialWall := time.Since(start)
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	serialCPU := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())

	// (b) The engine.
	p := pipeline.GermlineParams{Sample: "S", FASTQ: []string{r1, r2}, Reference: refFA, OutDir: filepath.Join(scratch, "engine"), Caller: "bcftools"}
	run, err := a.Runner.Create(ctx, p)
	if err != nil {
		return err
	}
	a.Runner.Engine.NoCache = true
	sum, err := a.Runner.Execute(ctx, run)
	if err != nil {
		return err
	}
	util := func(cpu, wall time.Duration) float64 { return cpu.Seconds() / (wall.Seconds() * float64(cores)) }
	fmt.Fprintf(e.stdout, "serial chain: wall %.2fs  cpu %.2fs  utilisation %.2f\n", serialWall.Seconds(), serialCPU.Seconds(), util(serialCPU, serialWall))
	fmt.Fprintf(e.stdout, "engine:       wall %.2fs  cpu %.2fs  utilisation %.2f  (%d tasks)\n", sum.Wall.Seconds(), sum.CPU.Seconds(), util(sum.CPU, sum.Wall), sum.Tasks)
	fmt.Fprintf(e.stdout, "engine wall / serial wall: %.2f\n", sum.Wall.Seconds()/serialWall.Seconds())
	return nil
}

// benchEngine measures the engine's own cost: N independent no-op tasks
// through the real catalog, (a) with an executor that runs nothing, so only
// the engine and catalog are timed, and (b) with the local executor running
// `true` in bash, against the local executor alone running the same jobs.
func benchEngine(ctx context.Context, e *env, args []string) error {
	fs, _ := flags(e, "bench engine")
	n := fs.Int("tasks", 10000, "number of no-op tasks")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	scratch, err := os.MkdirTemp("", "clinomics-bench-engine-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	fmt.Fprintf(e.stdout, "machine: %s, %d cores\n", cpuModel(), runtime.NumCPU())
	graph := func() *workflow.Graph {
		g := workflow.NewGraph()
		for i := range *n {
			id := fmt.Sprintf("noop/%05d", i)
			g.MustAdd(&workflow.Task{ID: id, Name: "noop", Script: ": " + id}) // distinct scripts: no cache hits
		}
		return g
	}
	measure := func(name string, ex executor.Executor) (time.Duration, error) {
		store, err := catalog.Open(ctx, filepath.Join(scratch, name+".db"))
		if err != nil {
			return 0, err
		}
		defer store.Close()
		if err := store.PutSample(ctx, catalog.Sample{ID: "bench"}); err != nil {
			return 0, err
		}
		if err := store.CreateRun(ctx, catalog.Run{ID: name, SampleID: "bench", Pipeline: "bench", Params: "{}"}); err != nil {
			return 0, err
		}
		eng := &workflow.Engine{Store: store, Exec: ex, WorkDir: filepath.Join(scratch, name)}
		sum, err := eng.Execute(ctx, name, graph(), nil)
		if err != nil {
			return 0, err
		}
		return sum.Wall, nil
	}
	wNoop, err := measure("noop", inProcessNoop{threads: runtime.NumCPU()})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%d no-op tasks, engine + SQLite catalog only: %.2fs (%.0f tasks/s, %.2f ms/task)\n",
		*n, wNoop.Seconds(), float64(*n)/wNoop.Seconds(), 1000*wNoop.Seconds()/float64(*n))
	ex := local.New(executor.Resources{})
	wTrue, err := measure("true", ex)
	if err != nil {
		return err
	}
	// The same jobs through the local executor without the engine.
	start := time.Now()
	sem := make(chan struct{}, ex.Capacity().Threads)
	errc := make(chan error, *n)
	for i := range *n {
		sem <- struct{}{}
		dir := filepath.Join(scratch, "raw", fmt.Sprint(i))
		os.MkdirAll(dir, 0o750)
		go func() {
			defer func() { <-sem }()
			_, err := ex.Run(ctx, executor.Job{ID: fmt.Sprint(i), Script: ":", Dir: dir, Threads: 1})
			errc <- err
		}()
	}
	for range *n {
		if err := <-errc; err != nil {
			return err
		}
	}
	wRaw := time.Since(start)
	perTask := (wTrue - wRaw).Seconds() * float64(ex.Capacity().Threads) / float64(*n)
	fmt.Fprintf(e.stdout, "%d tasks running `:` in bash, through the engine: %.2fs; the local executor alone: %.2fs\n", *n, wTrue.Seconds(), wRaw.Seconds())
	fmt.Fprintf(e.stdout, "engine overhead per task (core-time): %.2f ms\n", 1000*perTask)
	return nil
}

// inProcessNoop is an executor that runs nothing: it isolates the engine's
// and catalog's cost in the engine benchmark. It is not used for real work.
type inProcessNoop struct{ threads int }

func (x inProcessNoop) Name() string { return "noop" }
func (x inProcessNoop) Capacity() executor.Resources {
	return executor.Resources{Threads: x.threads, MemoryMB: 1 << 20}
}
func (x inProcessNoop) Run(ctx context.Context, j executor.Job) (executor.Result, error) {
	return executor.Result{}, ctx.Err()
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "model name") {
			if i := strings.IndexByte(line, ':'); i >= 0 {
				return strings.TrimSpace(line[i+1:])
			}
		}
	}
	return runtime.GOARCH
}
