package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/clinomics/clinomics/internal/evaluate"
	"github.com/clinomics/clinomics/internal/format"
	"github.com/clinomics/clinomics/internal/format/bed"
	"github.com/clinomics/clinomics/internal/format/fasta"
	"github.com/clinomics/clinomics/internal/format/fastq"
	"github.com/clinomics/clinomics/internal/qc"
	"github.com/clinomics/clinomics/internal/reference"
)

func referenceAdd(ctx context.Context, e *env, args []string) error {
	fs, cfgPath := flags(e, "reference add")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("give one FASTA file")
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	store := &reference.Store{Root: filepath.Join(cfg.DataDir, "references"), Log: e.stderr}
	ref, err := store.Add(ctx, pos[0])
	if err != nil {
		return err
	}
	var total int64
	for _, c := range ref.Contigs {
		total += c.Length
	}
	fmt.Fprintf(e.stdout, "reference %s ready: %d contigs, %d bases, sha256 %s\n  %s\n", pos[0], len(ref.Contigs), total, ref.SHA256, ref.Dir)
	return nil
}

func evalCmd(ctx context.Context, e *env, args []string) error {
	fs, _ := flags(e, "eval")
	truth := fs.String("truth", "", "truth VCF (plain or bgzip)")
	calls := fs.String("calls", "", "calls VCF to evaluate")
	regions := fs.String("regions", "", "confident regions BED (default: everywhere)")
	refPath := fs.String("reference", "", "reference FASTA, to left-align indels (default: trim only)")
	asJSON := fs.Bool("json", false, "print JSON")
	minF1 := fs.Float64("min-f1", 0, "exit with status 3 when a variant class present in the truth has a lower F1")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *truth == "" || *calls == "" {
		return usagef("--truth and --calls are required")
	}
	o := evaluate.Options{Truth: *truth, Calls: *calls}
	if *regions != "" {
		ivs, err := bed.ReadFile(*regions)
		if err != nil {
			return err
		}
		o.Regions = ivs
	}
	if *refPath != "" {
		seqs, err := fasta.LoadAll(*refPath)
		if err != nil {
			return err
		}
		o.Reference = seqs
	}
	res, err := evaluate.Compare(o)
	if err != nil {
		return err
	}
	if *asJSON {
		if err := printJSON(e.stdout, res.JSON()); err != nil {
			return err
		}
	} else {
		if err := res.WriteTable(e.stdout); err != nil {
			return err
		}
		for _, v := range res.FP {
			fmt.Fprintf(e.stdout, "FP %s:%d %s>%s\n", v.Chrom, v.Pos, v.Ref, v.Alt)
		}
		for _, v := range res.FN {
			fmt.Fprintf(e.stdout, "FN %s:%d %s>%s\n", v.Chrom, v.Pos, v.Ref, v.Alt)
		}
	}
	for c, n := range res.ByClass {
		if n.TP+n.FN > 0 && n.F1() < *minF1 {
			return &exitError{code: 3, err: fmt.Errorf("%s F1 %.4f is below --min-f1 %.4f", c, n.F1(), *minF1)}
		}
	}
	return nil
}

// toolFastqSplit validates a FASTQ pair completely and splits it into the
// chunk files named by --out-r1/--out-r2, in order.
func toolFastqSplit(ctx context.Context, e *env, args []string) error {
	fs, _ := flags(e, "tool fastq-split")
	r1 := fs.String("r1", "", "R1 FASTQ")
	r2 := fs.String("r2", "", "R2 FASTQ (paired-end)")
	var out1, out2 stringList
	fs.Var(&out1, "out-r1", "R1 chunk output (repeat)")
	fs.Var(&out2, "out-r2", "R2 chunk output (repeat)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *r1 == "" || len(out1) == 0 || (*r2 != "") != (len(out2) > 0) || (*r2 != "" && len(out1) != len(out2)) {
		return usagef("need --r1, one --out-r1 per chunk, and with --r2 as many --out-r2")
	}
	stats, err := fastq.SplitTo(ctx, *r1, *r2, out1, out2)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "%d reads (%d bases) in %d chunks\n", stats.Reads, stats.Bases, len(out1))
	return nil
}

type stringList []string

func (s *stringList) String() string     { return fmt.Sprint(*s) }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func toolQC(_ context.Context, e *env, args []string) error {
	fs, _ := flags(e, "tool qc")
	sample := fs.String("sample", "", "sample ID")
	from := fs.String("from", "", "QC JSON of an earlier step to extend")
	stats := fs.String("stats", "", "samtools stats output")
	depth := fs.String("depth", "", "samtools depth -a output ('-' for stdin)")
	vcfPath := fs.String("vcf", "", "final VCF")
	targets := fs.Bool("targets", false, "depth is over targets: report the fraction at >=20x")
	out := fs.String("out", "", "QC JSON to write")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return usagef("--out is required")
	}
	rep := &qc.Report{Sample: *sample}
	if *from != "" {
		b, err := os.ReadFile(*from)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, rep); err != nil {
			return fmt.Errorf("%s: %w", *from, err)
		}
	}
	if *stats != "" {
		f, err := os.Open(*stats)
		if err != nil {
			return err
		}
		err = qc.ParseSamtoolsStats(f, *stats, rep)
		f.Close()
		if err != nil {
			return err
		}
	}
	if *depth != "" {
		in, name := e.stdin, "stdin"
		if *depth != "-" {
			df, err := os.Open(*depth)
			if err != nil {
				return err
			}
			defer df.Close()
			in, name = df, *depth
		}
		if err := qc.ReadDepth(in, name, *targets, rep); err != nil {
			return err
		}
	}
	if *vcfPath != "" {
		vf, err := format.OpenFile(*vcfPath)
		if err != nil {
			return err
		}
		defer vf.Close()
		if err := qc.ReadVCF(vf, *vcfPath, rep); err != nil {
			return err
		}
	}
	b, err := rep.JSON()
	if err != nil {
		return err
	}
	return os.WriteFile(*out, b, 0o640)
}
