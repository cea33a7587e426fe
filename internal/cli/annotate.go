package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/clinomics/clinomics/internal/annotate"
	"github.com/clinomics/clinomics/internal/annotate/findings"
	"github.com/clinomics/clinomics/internal/annotate/genemodel"
	"github.com/clinomics/clinomics/internal/format"
	"github.com/clinomics/clinomics/internal/format/vcf"
	"github.com/clinomics/clinomics/internal/lake"
)

// annotateCmd annotates a VCF with consequences and HGVS.
//
// Every input is read and checked (gene models, reference, sources,
// panel, QC) before any output is written; outputs are written whole or
// not at all.
func annotateCmd(ctx context.Context, e *env, args []string) error {
	fs, cfgPath := flags(e, "annotate")
	vcfPath := fs.String("vcf", "", "input VCF (plain or gzip)")
	gffPath := fs.String("gff", "", "gene models: GFF3 or GTF (plain or gzip), or a model saved with --save-model (a file or lake:PATH)")
	fastaPath := fs.String("fasta", "", "reference FASTA (plain or gzip)")
	out := fs.String("out", "", "output prefix: writes OUT.vcf and OUT.tsv")
	threads := fs.Int("threads", 0, "annotation workers (default: all CPUs)")
	flank := fs.Int64("flank", genemodel.Flank, "give upstream/downstream_gene_variant on transcripts within N bases of a variant, as VEP; 0: only on the transcripts it overlaps, as bcftools csq")
	fieldList := fs.String("fields", "", "CSQ fields to write (VCF and TSV), comma-separated, in this order; HGVS notations left out are not computed (default: all: "+strings.Join(annotate.CSQFields, ",")+")")
	saveModel := fs.String("save-model", "", "also store the built gene model here (binary, checksummed): a file, or lake:PATH for the annotation database in the lake")
	var sf sourceFlags
	sf.register(fs)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *vcfPath == "" || *gffPath == "" || *fastaPath == "" || *out == "" {
		return usagef("--vcf, --gff, --fasta and --out are required")
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if err := sf.check(set); err != nil {
		return err
	}
	if *flank < 0 {
		return usagef("--flank must be 0 or more")
	}
	if *threads < 0 {
		return usagef("--threads must be 0 (all CPUs) or more")
	}
	var fields []string
	if set["fields"] {
		var err error
		if fields, err = annotate.ParseFields(*fieldList); err != nil {
			return usagef("--fields %s: %v", *fieldList, err)
		}
		var missing []string
		for _, f := range findings.CSQFieldsRead {
			if !slices.Contains(fields, f) {
				missing = append(missing, f)
			}
		}
		if sf.draft != "" && len(missing) > 0 {
			return usagef("--fields: the report draft (--report-draft) is made from the annotated VCF and needs its fields %s too", strings.Join(missing, ","))
		}
	}
	if strings.HasSuffix(*out, "/") || strings.HasSuffix(*out, string(os.PathSeparator)) {
		return usagef("--out %s: give a name prefix, not a folder (--out %sNAME writes %sNAME.vcf and %sNAME.tsv)", *out, *out, *out, *out)
	}
	inputs := append([][2]string{{"vcf", *vcfPath}, {"gff", *gffPath}, {"fasta", *fastaPath}}, sf.inputs()...)
	if err := checkInputs(inputs); err != nil {
		return err
	}
	outputs := []outputFile{{"out", *out, *out + ".vcf"}, {"out", *out, *out + ".tsv"}, {"report-draft", sf.draft, sf.draft}, {"save-model", *saveModel, *saveModel}}
	if err := checkOutputs(outputs, inputs); err != nil {
		return err
	}
	header, err := vcfHeader(*vcfPath)
	if err != nil {
		return err
	}
	samples := header.Samples
	if err := sf.checkSample(*vcfPath, samples); err != nil {
		return err
	}
	if sf.bam != "" {
		if err := checkBAM(sf.bam); err != nil {
			return &inputError{flag: "bam", value: sf.bam, err: err}
		}
	}
	model, err := loadModel(ctx, *cfgPath, *gffPath)
	if err != nil {
		return &inputError{flag: "gff", value: *gffPath, err: err}
	}
	warnings := map[string]int{} // the gene model's and the panel's, then the records'
	for k, n := range model.WarningCounts() {
		warnings[k] += n
	}
	for _, x := range modelExamples(model.Warnings, 5) {
		fmt.Fprintln(e.stderr, x)
	}
	ref, err := annotate.LoadReference(*fastaPath)
	if err != nil {
		return &inputError{flag: "fasta", value: *fastaPath, err: err}
	}
	defer ref.Close()
	sources, clinvar, err := sf.sources(ref)
	if err != nil {
		return err
	}
	var draft *draftPlan
	if sf.draft != "" {
		if draft, err = sf.prepareDraft(ctx, model); err != nil {
			return err
		}
		if len(draft.unknownGenes) > 0 {
			warnings[warnPanelGene] += len(draft.unknownGenes)
			fmt.Fprintf(e.stderr, "%s: %s: %d of %d panel genes are not in the gene model (%s): %s\n", sf.panel, warnPanelGene,
				len(draft.unknownGenes), draft.panelGenes, *gffPath, firstFew(draft.unknownGenes, 10))
		}
	}
	in, err := format.OpenFile(*vcfPath)
	if err != nil {
		return &inputError{flag: "vcf", value: *vcfPath, err: err}
	}
	defer in.Close()
	if *saveModel != "" {
		if err := saveModelTo(ctx, *cfgPath, *saveModel, model); err != nil {
			return fmt.Errorf("--save-model %s: %w", *saveModel, err)
		}
	}
	opt := annotate.Options{Threads: *threads, Sources: sources, Flank: flank, Fields: fields}
	skipped := map[alleleKey]string{}
	if draft != nil {
		opt.Skipped = func(s annotate.Skip) {
			skipped[alleleKey{s.Chrom, s.Pos, s.Ref, s.Alt}] = s.Kind + ": " + s.Message
		}
	}
	ann := annotate.New(model, ref, opt)
	if keys := ann.Replaces(header); len(keys) > 0 {
		fmt.Fprintf(e.stderr, "%s already has INFO %s: replaced by this run's\n", *vcfPath, strings.Join(keys, ", "))
	}
	var sum *annotate.Summary
	err = writeFileAtomic(*out+".vcf", func(vw io.Writer) error {
		return writeFileAtomic(*out+".tsv", func(tw io.Writer) error {
			var err error
			sum, err = ann.Run(ctx, in, *vcfPath, vw, tw)
			return err
		})
	})
	if sum != nil && (err == nil || errors.Is(err, annotate.ErrNothingAnnotated)) {
		printSummary(e, sum, warnings, sources)
	}
	if err != nil {
		if errors.Is(err, annotate.ErrNothingAnnotated) {
			flag, file := "--fasta", *fastaPath // the reference lacks the contigs
			if len(sum.NotInReference) == 0 {
				flag, file = "--gff", *gffPath
			}
			return fmt.Errorf("%s %s: %w; nothing written", flag, file, err)
		}
		return err
	}
	fmt.Fprintf(e.stdout, "wrote %s.vcf and %s.tsv\n", *out, *out)
	if draft != nil {
		files := map[string]string{"fasta": *fastaPath, "gene models": *gffPath, "ClinVar": sf.clinvar, "population frequencies": sf.gnomad}
		return sf.writeDraft(e, draft, *out+".vcf", ann, model, clinvar, files, skipped)
	}
	return nil
}

// warnPanelGene counts the panel's genes the gene model does not have.
const warnPanelGene = "panel_gene_not_in_model"

// printSummary writes what a run did: its counts, how many alleles each
// known-variant source knew, then one line per warning kind (the gene model's, the panel's and the records') on
// stdout, and on stderr one line per contig read under another name in
// the gene model or the reference, then the first record warnings.
func printSummary(e *env, sum *annotate.Summary, warnings map[string]int, sources []annotate.Source) {
	fmt.Fprintf(e.stdout, "records %d, alleles %d, annotated %d, TSV rows %d\n", sum.Records, sum.Alleles, sum.Annotated, sum.Rows)
	for _, s := range sources { // none known may mean another genome build
		fmt.Fprintf(e.stdout, "source %s: %d of %d alleles known\n", s.Name(), sum.Matched[s.Name()], sum.Alleles)
	}
	for k, n := range sum.Warnings {
		warnings[k] += n
	}
	kinds := make([]string, 0, len(warnings))
	for k := range warnings {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		fmt.Fprintf(e.stdout, "warning %s: %d\n", k, warnings[k])
	}
	for _, c := range slices.Sorted(maps.Keys(sum.Renamed)) {
		n := sum.Renamed[c]
		fmt.Fprintf(e.stderr, "contig %s: read as %s in the gene model, %s in the reference\n", c, n.Model, n.Reference)
	}
	for _, x := range sum.Examples {
		fmt.Fprintln(e.stderr, x)
	}
}

// modelExamples are the first perKind warnings of each kind, in line
// order, as "file:line: kind: message", and a line saying how many more
// there are.
func modelExamples(ws []genemodel.Warning, perKind int) []string {
	shown := map[string]int{}
	var out []string
	for _, w := range ws {
		if shown[w.Kind] < perKind {
			out = append(out, w.String())
		}
		shown[w.Kind]++
	}
	if n := len(ws) - len(out); n > 0 {
		out = append(out, fmt.Sprintf("gene models: %d more warnings (the first %d of each kind are shown)", n, perKind))
	}
	return out
}

// firstFew joins the first n of s, and says how many more there are.
func firstFew(s []string, n int) string {
	if len(s) <= n {
		return strings.Join(s, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(s[:n], ", "), len(s)-n)
}

// checkInputs checks that every input file exists and is a file, so a
// run fails on a misspelt name before any work: each pair is a flag and
// its value ("" when not given; lake:PATH is checked when read).
func checkInputs(inputs [][2]string) error {
	for _, in := range inputs {
		name, path := in[0], in[1]
		if path == "" || strings.HasPrefix(path, "lake:") {
			continue
		}
		st, err := os.Stat(path)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return fmt.Errorf("--%s %s: %w", name, path, err)
		}
		if st.IsDir() {
			return fmt.Errorf("--%s %s: is a directory", name, path)
		}
		f, err := os.Open(path) // readable: permissions
		if err != nil {
			return &inputError{flag: name, value: path, err: err}
		}
		f.Close()
	}
	return nil
}

// inputError is an input that could not be read or is not what its flag
// takes, named by its flag: "--gnomad af.vcf: line 3: ...".
type inputError struct {
	flag, value string // the flag and its value as given
	err         error
}

func (e *inputError) Error() string {
	msg := e.err.Error()
	if pe, ok := e.err.(*fs.PathError); ok && pe.Path == e.value {
		msg = pe.Err.Error()
	}
	if strings.HasPrefix(msg, "--"+e.flag+" ") { // named already
		return msg
	}
	return "--" + e.flag + " " + e.value + ": " + strings.TrimPrefix(msg, e.value+": ")
}

func (e *inputError) Unwrap() error { return e.err }

// outputFile is a file a run writes: the flag naming it, the flag's value
// as given, and the file's path ("" when the flag is not given).
type outputFile struct{ flag, value, path string }

// checkOutputs checks, before any work, that every output can be written
// where it is named: its folder exists and takes new files, it is not a
// folder, not an input (inputs as for checkInputs) and not another
// output. A missing folder is refused, not created: a misspelt folder
// would otherwise quietly receive the patient's results, with
// permissions nobody chose. lake:PATH outputs are checked when written.
func checkOutputs(outputs []outputFile, inputs [][2]string) error {
	writable := map[string]error{}
	seen := map[string]string{}
	for _, o := range outputs {
		if o.path == "" || strings.HasPrefix(o.path, "lake:") {
			continue
		}
		named := "--" + o.flag + " " + o.value
		dir := filepath.Dir(o.path)
		err, probed := writable[dir]
		if !probed {
			err = checkFolder(dir)
			writable[dir] = err
		}
		if err != nil {
			return fmt.Errorf("%s: %w", named, err)
		}
		if st, err := os.Stat(o.path); err == nil {
			if st.IsDir() {
				return fmt.Errorf("%s: %s is a folder", named, o.path)
			}
			for _, in := range inputs {
				if in[1] == "" || strings.HasPrefix(in[1], "lake:") {
					continue
				}
				if ist, err := os.Stat(in[1]); err == nil && os.SameFile(st, ist) {
					return fmt.Errorf("%s: would overwrite the input --%s %s", named, in[0], in[1])
				}
			}
		}
		abs, err := filepath.Abs(o.path)
		if err != nil {
			return fmt.Errorf("%s: %w", named, err)
		}
		if other, ok := seen[abs]; ok {
			return usagef("%s: %s is also written by %s", named, o.path, other)
		}
		seen[abs] = named
	}
	return nil
}

// checkFolder checks that dir is an existing folder a file can be
// created in, by creating and removing an empty hidden file.
func checkFolder(dir string) error {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("no such folder: %s (create it first)", dir)
	case err != nil:
		return err
	case !st.IsDir():
		return fmt.Errorf("%s is not a folder", dir)
	}
	f, err := os.CreateTemp(dir, ".clinomics-write-check-*")
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("cannot write in %s: %w", dir, err)
	}
	f.Close()
	return os.Remove(f.Name())
}

// vcfHeader reads the VCF's header (its sample columns, the INFO keys
// it declares) before any work: a file that is not a VCF is refused here.
func vcfHeader(path string) (*vcf.Header, error) {
	f, err := format.OpenFile(path)
	if err != nil {
		return nil, &inputError{flag: "vcf", value: path, err: err}
	}
	defer f.Close()
	r, err := vcf.NewReader(f, path)
	if err != nil {
		return nil, &inputError{flag: "vcf", value: path, err: err}
	}
	return r.Header(), nil
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
