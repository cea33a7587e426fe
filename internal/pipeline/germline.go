package pipeline

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/clinomics/clinomics/internal/format/bed"
	"github.com/clinomics/clinomics/internal/lake"
	"github.com/clinomics/clinomics/internal/reference"
	"github.com/clinomics/clinomics/internal/workflow"
)

// GermlineParams is what a germline run is asked to do; it is stored with
// the run (as JSON) so a restarted server can rebuild the same graph.
type GermlineParams struct {
	Sample    string   `json:"sample"`
	FASTQ     []string `json:"fastq"`             // R1 and optionally R2
	Reference string   `json:"reference"`         // FASTA as given
	Targets   string   `json:"targets,omitempty"` // BED for exome and panels
	OutDir    string   `json:"out"`
	// Any of FASTQ, Targets and OutDir may name the lake ("lake:PATH"):
	// inputs are decrypted into the run's work directory, outputs are
	// stored under the folder PATH, encrypted under Patient's key.
	Patient string `json:"patient,omitempty"` // pseudonymous id; default: that of the lake inputs
	// Submitter is who asked for the run (an audit actor), named in the
	// audit records of its reads and writes of patient data.
	Submitter string `json:"submitter,omitempty"`
	Caller    string `json:"caller,omitempty"` // bcftools (default) or freebayes
	Trim      bool   `json:"trim,omitempty"`
}

// GermlineOptions tunes how the graph is cut; none of it changes results.
type GermlineOptions struct {
	Self         string // path of the clinomics binary, for its tool subcommands
	WorkDir      string // intermediates of this run
	ReadChunks   int
	Regions      int
	Threads      int // threads of the largest tasks
	GVCFMinDepth int
	MinMapQ      int
	MinBaseQ     int
	Caller       string // default caller when the params name none
	Trim         bool   // default for trimming (the CLI flag's default)
}

var sampleID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ErrBadParams is wrapped by every parameter validation error.
var ErrBadParams = errors.New("invalid run parameters")

// Validate checks the parameters without touching the files' contents.
func (p *GermlineParams) Validate() error {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: %s", ErrBadParams, fmt.Sprintf(format, a...)))
	}
	// Errors name the parameter, never its value: a mistyped value may be
	// a patient's name, and errors reach logs and API clients.
	if !sampleID.MatchString(p.Sample) {
		bad("--sample: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit (a lab sample id, not a name)")
	}
	if p.Patient != "" {
		if err := lake.CheckPatient(p.Patient); err != nil {
			bad("--patient: %v", strings.TrimPrefix(err.Error(), "lake: "))
		}
	}
	switch len(p.FASTQ) {
	case 1, 2:
	default:
		bad("--fastq: give R1 and optionally R2 (got %d files)", len(p.FASTQ))
	}
	for i, f := range p.FASTQ {
		checkFile(&errs, fmt.Sprintf("--fastq R%d", i+1), f)
	}
	if len(p.FASTQ) == 2 && p.FASTQ[0] == p.FASTQ[1] {
		bad("--fastq: R1 and R2 are the same file")
	}
	if p.Reference == "" {
		bad("--reference is required")
	} else {
		checkFile(&errs, "--reference", p.Reference)
	}
	if p.Targets != "" {
		checkFile(&errs, "--targets", p.Targets)
	}
	if p.OutDir == "" {
		bad("--out is required")
	}
	switch p.Caller {
	case "", "bcftools", "freebayes":
	default:
		bad("--caller: use bcftools or freebayes")
	}
	return errors.Join(errs...)
}

func checkFile(errs *[]error, what, path string) {
	if IsLake(path) {
		return // checked against the lake by Runner.Create
	}
	fi, err := os.Stat(path)
	var pe *fs.PathError
	switch {
	case errors.As(err, &pe):
		*errs = append(*errs, fmt.Errorf("%w: %s: %w", ErrBadParams, what, pe.Err))
	case err != nil:
		*errs = append(*errs, fmt.Errorf("%w: %s: %w", ErrBadParams, what, err))
	case !fi.Mode().IsRegular():
		*errs = append(*errs, fmt.Errorf("%w: %s: not a regular file", ErrBadParams, what))
	case fi.Size() == 0:
		*errs = append(*errs, fmt.Errorf("%w: %s: file is empty", ErrBadParams, what))
	}
}

// Abs makes every path absolute, so the graph does not depend on the
// directory the command was started in.
func (p *GermlineParams) Abs() error {
	var err error
	abs := func(s *string) {
		if *s != "" && !IsLake(*s) && err == nil {
			*s, err = filepath.Abs(*s)
		}
	}
	for i := range p.FASTQ {
		abs(&p.FASTQ[i])
	}
	abs(&p.Reference)
	abs(&p.Targets)
	abs(&p.OutDir)
	return err
}

// Tools lists the tools the run uses, in the order they are reported.
func (p *GermlineParams) Tools() []string {
	tools := []string{"clinomics"}
	if p.Trim {
		tools = append(tools, "fastp")
	}
	tools = append(tools, "bwa", "samtools", "bcftools")
	if p.Caller == "freebayes" {
		tools = append(tools, "freebayes")
	}
	return tools
}

// Outputs are the final files of a germline run.
type Outputs struct {
	BAM, BAI, VCF, TBI, GVCF, GTBI, QC string
}

// GermlineOutputs names the final files in p.OutDir.
func GermlineOutputs(p *GermlineParams) Outputs {
	o := func(suffix string) string { return filepath.Join(p.OutDir, p.Sample+suffix) }
	return Outputs{
		BAM: o(".bam"), BAI: o(".bam.bai"),
		VCF: o(".vcf.gz"), TBI: o(".vcf.gz.tbi"),
		GVCF: o(".g.vcf.gz"), GTBI: o(".g.vcf.gz.tbi"),
		QC: o(".qc.json"),
	}
}

// Germline builds the graph: split reads into chunks → (fastp) → bwa mem |
// fixmate | sort per chunk → merge | markdup, index → mpileup | call per
// region (VCF and gVCF) → concat | norm, index → QC.
func Germline(p *GermlineParams, ref *reference.Reference, targets []bed.Interval, o GermlineOptions) (*workflow.Graph, error) {
	g := workflow.NewGraph()
	data := func(name string) string { return filepath.Join(o.WorkDir, "data", name) }
	paired := len(p.FASTQ) == 2
	chunks := max(o.ReadChunks, 1)
	threads := max(o.Threads, 1)
	out := GermlineOutputs(p)
	fa := ref.FASTA()
	refInputs := func(m map[string]string) map[string]string {
		m["ref"] = fa
		m["fai"] = fa + ".fai"
		return m
	}

	// 1. Split (and fully validate) the reads.
	split := &workflow.Task{ID: "split", Name: "split reads", Threads: 1, MemMB: 200, Tools: []string{"clinomics"},
		Inputs: map[string]string{"r1": p.FASTQ[0]}, Outputs: map[string]string{}}
	args := []string{shellQuote(o.Self), "tool", "fastq-split", `--r1 "$IN_r1"`}
	if paired {
		split.Inputs["r2"] = p.FASTQ[1]
		args = append(args, `--r2 "$IN_r2"`)
	}
	for i := range chunks {
		n := fmt.Sprintf("r1_%03d", i)
		split.Outputs[n] = data(fmt.Sprintf("chunks/%03d_R1.fastq", i))
		args = append(args, fmt.Sprintf(`--out-r1 "$OUT_%s"`, n))
		if paired {
			n := fmt.Sprintf("r2_%03d", i)
			split.Outputs[n] = data(fmt.Sprintf("chunks/%03d_R2.fastq", i))
			args = append(args, fmt.Sprintf(`--out-r2 "$OUT_%s"`, n))
		}
	}
	split.Script = strings.Join(args, " ") + "\n"
	g.MustAdd(split)

	// 2. Align each chunk.
	rg := fmt.Sprintf(`@RG\tID:%s\tSM:%s\tLB:%s\tPL:ILLUMINA`, p.Sample, p.Sample, p.Sample)
	var chunkBAMs []string
	alignThreads := max(1, threads/min(chunks, threads))
	for i := range chunks {
		r1, r2 := split.Outputs[fmt.Sprintf("r1_%03d", i)], ""
		if paired {
			r2 = split.Outputs[fmt.Sprintf("r2_%03d", i)]
		}
		in := refInputs(map[string]string{"r1": r1})
		for _, f := range ref.IndexFiles()[1:] {
			in["bwa"+filepath.Ext(f)[1:]] = f
		}
		reads := `"$IN_r1"`
		if paired {
			in["r2"] = r2
			reads += ` "$IN_r2"`
		}
		t := &workflow.Task{ID: fmt.Sprintf("align/%03d", i), Name: "bwa mem", Threads: alignThreads, MemMB: 6000,
			Tools: []string{"bwa", "samtools"}, Inputs: in, Outputs: map[string]string{"bam": data(fmt.Sprintf("align/%03d.bam", i))}}
		if p.Trim {
			t.Tools = append(t.Tools, "fastp")
			t.Outputs["fastp_json"] = data(fmt.Sprintf("align/%03d.fastp.json", i))
			trim := `fastp --thread "$TASK_THREADS" -i "$IN_r1" -o trimmed_R1.fastq -j "$OUT_fastp_json" -h /dev/null`
			reads = "trimmed_R1.fastq"
			if paired {
				trim = `fastp --thread "$TASK_THREADS" -i "$IN_r1" -I "$IN_r2" -o trimmed_R1.fastq -O trimmed_R2.fastq --detect_adapter_for_pe -j "$OUT_fastp_json" -h /dev/null`
				reads += " trimmed_R2.fastq"
			}
			t.Script += trim + " 2> fastp.log\n"
		}
		t.Script += fmt.Sprintf(`bwa mem -t "$TASK_THREADS" -K 10000000 -R %s "$IN_ref" %s \
  | samtools fixmate -m - - \
  | samtools sort -m 512M -T sort_tmp -o "$OUT_bam" -
`, shellQuote(rg), reads)
		g.MustAdd(t)
		chunkBAMs = append(chunkBAMs, t.Outputs["bam"])
	}

	// 3. Merge, mark duplicates, index.
	md := &workflow.Task{ID: "markdup", Name: "samtools markdup", Threads: threads, MemMB: 2000, Tools: []string{"samtools"},
		Inputs:  map[string]string{},
		Outputs: map[string]string{"bam": out.BAM, "bai": out.BAI, "stats": data("markdup.txt")}}
	var bamArgs []string
	for i, b := range chunkBAMs {
		n := fmt.Sprintf("bam_%03d", i)
		md.Inputs[n] = b
		bamArgs = append(bamArgs, `"$IN_`+n+`"`)
	}
	md.Script = fmt.Sprintf(`samtools merge -@ "$TASK_THREADS" -u -o - %s \
  | samtools markdup -@ "$TASK_THREADS" -s -f "$OUT_stats" - "$OUT_bam"
samtools index -@ "$TASK_THREADS" "$OUT_bam" "$OUT_bai"
`, strings.Join(bamArgs, " "))
	g.MustAdd(md)

	// 4. Call per region.
	space := targets
	if space == nil {
		var err error
		if space, err = bed.ReadFile(ref.CalledBED()); err != nil {
			return nil, err
		}
	}
	regions := SplitRegions(space, max(o.Regions, 1))
	var vcfs, gvcfs []string
	for i, reg := range regions {
		regBED := data(fmt.Sprintf("regions/%03d.bed", i))
		if err := writeBED(regBED, reg); err != nil {
			return nil, err
		}
		t := &workflow.Task{ID: fmt.Sprintf("call/%03d", i), Name: "call " + callerName(p), Threads: 1, MemMB: 1500,
			Tools:   []string{"bcftools"},
			Inputs:  refInputs(map[string]string{"bam": out.BAM, "bai": out.BAI, "regions": regBED}),
			Outputs: map[string]string{"vcf": data(fmt.Sprintf("calls/%03d.vcf.gz", i)), "gvcf": data(fmt.Sprintf("calls/%03d.g.vcf.gz", i))}}
		if p.Caller == "freebayes" {
			t.Tools = append(t.Tools, "freebayes")
			t.Script = fmt.Sprintf(`freebayes -f "$IN_ref" -t "$IN_regions" --min-mapping-quality %d --min-base-quality %d --gvcf "$IN_bam" > calls.g.vcf
bcftools view -Oz -o "$OUT_gvcf" calls.g.vcf
bcftools view -e 'ALT="<*>"' -Oz -o "$OUT_vcf" calls.g.vcf
`, o.MinMapQ, o.MinBaseQ)
		} else {
			t.Script = fmt.Sprintf(`bcftools mpileup -a AD,DP -f "$IN_ref" -R "$IN_regions" -q %d -Q %d -Ou -o mpileup.bcf "$IN_bam"
bcftools call -m -v -Oz -o "$OUT_vcf" mpileup.bcf
bcftools call -m -g %d -Oz -o "$OUT_gvcf" mpileup.bcf
rm -f mpileup.bcf
`, o.MinMapQ, o.MinBaseQ, o.GVCFMinDepth)
		}
		g.MustAdd(t)
		vcfs = append(vcfs, t.Outputs["vcf"])
		gvcfs = append(gvcfs, t.Outputs["gvcf"])
	}

	// 5. Gather.
	gather := func(id, name string, parts []string, outVCF, outIdx, pipe string) {
		t := &workflow.Task{ID: id, Name: name, Threads: 1, MemMB: 1000, Tools: []string{"bcftools"},
			Inputs: refInputs(map[string]string{}), Outputs: map[string]string{"vcf": outVCF, "tbi": outIdx}}
		var in []string
		for i, v := range parts {
			n := fmt.Sprintf("part_%03d", i)
			t.Inputs[n] = v
			in = append(in, `"$IN_`+n+`"`)
		}
		t.Script = fmt.Sprintf("bcftools concat -Ou %s \\\n  %s -Oz -o \"$OUT_vcf\"\nbcftools index -t -o \"$OUT_tbi\" \"$OUT_vcf\"\n", strings.Join(in, " "), pipe)
		g.MustAdd(t)
	}
	gather("gather/vcf", "gather VCF", vcfs, out.VCF, out.TBI, `| bcftools norm -f "$IN_ref" -m -any -Ou - | bcftools view`)
	gather("gather/gvcf", "gather gVCF", gvcfs, out.GVCF, out.GTBI, `| bcftools view`)

	// 6. QC.
	qcSpace := ref.CalledBED()
	if targets != nil {
		qcSpace = p.Targets
	}
	// Alignment QC runs beside calling; the final step adds the calls.
	bamQC := &workflow.Task{ID: "qc/bam", Name: "QC alignment", Threads: 1, MemMB: 500, Tools: []string{"samtools", "clinomics"},
		Inputs:  map[string]string{"bam": out.BAM, "bai": out.BAI, "space": qcSpace},
		Outputs: map[string]string{"json": data("qc/bam.json")}}
	targetFlag := ""
	if targets != nil {
		targetFlag = "--targets"
	}
	bamQC.Script = fmt.Sprintf(`samtools stats "$IN_bam" > stats.txt
samtools depth -a -b "$IN_space" "$IN_bam" \
  | %s tool qc --sample %s --stats stats.txt --depth - %s --out "$OUT_json"
`, shellQuote(o.Self), shellQuote(p.Sample), targetFlag)
	g.MustAdd(bamQC)
	qc := &workflow.Task{ID: "qc", Name: "QC", Threads: 1, MemMB: 200, Tools: []string{"clinomics"},
		Inputs:  map[string]string{"bamqc": bamQC.Outputs["json"], "vcf": out.VCF},
		Outputs: map[string]string{"json": out.QC}}
	qc.Script = fmt.Sprintf(`%s tool qc --from "$IN_bamqc" --vcf "$IN_vcf" --out "$OUT_json"
`, shellQuote(o.Self))
	g.MustAdd(qc)
	return g, nil
}

func callerName(p *GermlineParams) string {
	if p.Caller == "freebayes" {
		return "freebayes"
	}
	return "bcftools"
}

// SplitRegions cuts the merged intervals into at most n groups of nearly
// equal total length, splitting intervals where needed, in genome order.
func SplitRegions(ivs []bed.Interval, n int) [][]bed.Interval {
	ivs = bed.Merge(ivs)
	total := bed.TotalLength(ivs)
	if total == 0 {
		return nil
	}
	per := (total + int64(n) - 1) / int64(n)
	var groups [][]bed.Interval
	var cur []bed.Interval
	var have int64
	for _, iv := range ivs {
		for iv.Start < iv.End {
			take := min(iv.End-iv.Start, per-have)
			cur = append(cur, bed.Interval{Chrom: iv.Chrom, Start: iv.Start, End: iv.Start + take})
			iv.Start += take
			if have += take; have == per {
				groups, cur, have = append(groups, cur), nil, 0
			}
		}
	}
	if len(cur) > 0 {
		groups = append(groups, cur)
	}
	return groups
}

// writeBED writes intervals to path, replacing it only if it differs, so an
// unchanged region file keeps its hash and modification time.
func writeBED(path string, ivs []bed.Interval) error {
	var b strings.Builder
	for _, iv := range ivs {
		fmt.Fprintf(&b, "%s\t%d\t%d\n", iv.Chrom, iv.Start, iv.End)
	}
	if old, err := os.ReadFile(path); err == nil && string(old) == b.String() {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o640); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// shellQuote quotes s for bash.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
