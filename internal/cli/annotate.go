package cli

import (
	"bytes"
	"strings"

	"context"
	"fmt"
	"github.com/clinomics/clinomics/internal/lake"
	"io"
	"os"
	"sort"

	"github.com/clinomics/clinomics/internal/annotate"
	"github.com/clinomics/clinomics/internal/annotate/genemodel"
	"github.com/clinomics/clinomics/internal/format"
)

// annotateCmd annotates a VCF with consequences and HGVS.
func annotateCmd(ctx context.Context, e *env, args []string) error {
	fs, cfgPath := flags(e, "annotate")
	vcfPath := fs.String("vcf", "", "input VCF (plain or gzip)")
	gffPath := fs.String("gff", "", "gene models: GFF3 or GTF (plain or gzip), or a model saved with --save-model (a file or lake:PATH)")
	fastaPath := fs.String("fasta", "", "reference FASTA (plain or gzip)")
	out := fs.String("out", "", "output prefix: writes OUT.vcf and OUT.tsv")
	threads := fs.Int("threads", 0, "annotation workers (default: all CPUs)")
	flank := fs.Int64("flank", genemodel.Flank, "give upstream/downstream_gene_variant on transcripts within N bases of a variant, as VEP; 0: only on the transcripts it overlaps, as bcftools csq")
	saveModel := fs.String("save-model", "", "also store the built gene model here (binary, checksummed): a file, or lake:PATH for the annotation database in the lake")
	var sf sourceFlags
	sf.register(fs)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *vcfPath == "" || *gffPath == "" || *fastaPath == "" || *out == "" {
		return usagef("--vcf, --gff, --fasta and --out are required")
	}
	if err := sf.check(); err != nil {
		return err
	}
	if *flank < 0 {
		return usagef("--flank must be 0 or more")
	}
	model, err := loadModel(ctx, *cfgPath, *gffPath)
	if err != nil {
		return err
	}
	if len(model.Warnings) > 0 {
		fmt.Fprintf(e.stderr, "gene models: %d warnings %v; first: %s\n", len(model.Warnings), model.WarningCounts(), model.Warnings[0])
	}
	if *saveModel != "" {
		if err := saveModelTo(ctx, *cfgPath, *saveModel, model); err != nil {
			return err
		}
	}
	ref, err := annotate.LoadReference(*fastaPath)
	if err != nil {
		return err
	}
	defer ref.Close()
	sources, clinvar, err := sf.sources(ref)
	if err != nil {
		return err
	}
	in, err := format.OpenFile(*vcfPath)
	if err != nil {
		return err
	}
	defer in.Close()
	ann := annotate.New(model, ref, annotate.Options{Threads: *threads, Sources: sources, Flank: flank})
	var sum *annotate.Summary
	err = writeFileAtomic(*out+".vcf", func(vw io.Writer) error {
		return writeFileAtomic(*out+".tsv", func(tw io.Writer) error {
			var err error
			sum, err = ann.Run(ctx, in, *vcfPath, vw, tw)
			return err
		})
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "records %d, alleles %d, annotated %d, TSV rows %d\n", sum.Records, sum.Alleles, sum.Annotated, sum.Rows)
	var kinds []string
	for k := range sum.Warnings {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		fmt.Fprintf(e.stdout, "warning %s: %d\n", k, sum.Warnings[k])
	}
	for _, x := range sum.Examples {
		fmt.Fprintln(e.stderr, x)
	}
	fmt.Fprintf(e.stdout, "wrote %s.vcf and %s.tsv\n", *out, *out)
	if sf.draft != "" {
		files := map[string]string{"fasta": *fastaPath, "gene models": *gffPath, "ClinVar": sf.clinvar, "population frequencies": sf.gnomad}
		return sf.writeDraft(ctx, e, *out+".vcf", model, ref, clinvar, files)
	}
	return nil
}

// loadModel builds gene models from GFF3/GTF, or loads a saved model
// from a file or the lake (lake:PATH).
func loadModel(ctx context.Context, cfgPath, path string) (*genemodel.Model, error) {
	if p, ok := strings.CutPrefix(path, "lake:"); ok {
		le, err := openLake(ctx, cfgPath)
		if err != nil {
			return nil, err
		}
		defer le.Close()
		r, err := le.lake.Open(ctx, p)
		if err != nil {
			return nil, err
		}
		defer r.Close()
		if err := le.record(ctx, "lake.read", r.Version()); err != nil {
			return nil, err
		}
		m, err := genemodel.Load(r)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return m, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	head := make([]byte, 7)
	n, _ := io.ReadFull(f, head)
	f.Close()
	if string(head[:n]) == "CLNGMDB" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		m, err := genemodel.Load(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return m, nil
	}
	return genemodel.BuildFile(path)
}

// saveModelTo stores the model in a file, or in the lake (lake:PATH,
// under the site key: gene models are not patient data).
func saveModelTo(ctx context.Context, cfgPath, path string, m *genemodel.Model) error {
	p, ok := strings.CutPrefix(path, "lake:")
	if !ok {
		return writeFileAtomic(path, m.Save)
	}
	var b bytes.Buffer
	if err := m.Save(&b); err != nil {
		return err
	}
	le, err := openLake(ctx, cfgPath)
	if err != nil {
		return err
	}
	defer le.Close()
	v, err := le.lake.Put(ctx, p, &b, lake.PutOptions{Kind: "annotation"})
	if err != nil {
		return err
	}
	return le.record(ctx, "lake.write", v)
}
