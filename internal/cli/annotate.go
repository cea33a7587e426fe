package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/clinomics/clinomics/internal/annotate"
	"github.com/clinomics/clinomics/internal/annotate/genemodel"
	"github.com/clinomics/clinomics/internal/format"
)

// annotateCmd annotates a VCF with consequences and HGVS.
func annotateCmd(ctx context.Context, e *env, args []string) error {
	fs, _ := flags(e, "annotate")
	vcfPath := fs.String("vcf", "", "input VCF (plain or gzip)")
	gffPath := fs.String("gff", "", "gene models: GFF3 or GTF (plain or gzip), or a model saved with --save-model")
	fastaPath := fs.String("fasta", "", "reference FASTA (plain or gzip)")
	out := fs.String("out", "", "output prefix: writes OUT.vcf and OUT.tsv")
	threads := fs.Int("threads", 0, "annotation workers (default: all CPUs)")
	saveModel := fs.String("save-model", "", "also store the built gene model here (binary, checksummed)")
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
	model, err := loadModel(*gffPath)
	if err != nil {
		return err
	}
	if len(model.Warnings) > 0 {
		fmt.Fprintf(e.stderr, "gene models: %d warnings %v; first: %s\n", len(model.Warnings), model.WarningCounts(), model.Warnings[0])
	}
	if *saveModel != "" {
		if err := writeFileAtomic(*saveModel, model.Save); err != nil {
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
	ann := annotate.New(model, ref, annotate.Options{Threads: *threads, Sources: sources})
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

// loadModel builds gene models from GFF3/GTF, or loads a saved model.
func loadModel(path string) (*genemodel.Model, error) {
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

// writeFileAtomic writes path through a temporary file renamed into place
// when write succeeds, so no partial output is left behind.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
