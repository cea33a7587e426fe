package cli

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/clinomics/clinomics/internal/annotate"
	"github.com/clinomics/clinomics/internal/annotate/csq"
	"github.com/clinomics/clinomics/internal/annotate/findings"
	"github.com/clinomics/clinomics/internal/annotate/genemodel"
	"github.com/clinomics/clinomics/internal/annotate/interpret"
	"github.com/clinomics/clinomics/internal/annotate/known"
	"github.com/clinomics/clinomics/internal/app"
	"github.com/clinomics/clinomics/internal/format"
	"github.com/clinomics/clinomics/internal/format/bed"
	"github.com/clinomics/clinomics/internal/qc"
	"github.com/clinomics/clinomics/internal/report"
)

// sourceFlags are annotate's known-variant sources and report options.
type sourceFlags struct {
	clinvar, gnomad, assembly string
	extra                     stringList
	panel, lofGenes           string
	maxAF                     float64
	draft, patient, sample    string
	testName, assay           string
	bam, qc                   string
}

func (f *sourceFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.clinvar, "clinvar", "", "ClinVar: its VCF (plain or gzip), or its ClinVarSet release XML (converted on the fly)")
	fs.StringVar(&f.gnomad, "gnomad", "", "population frequencies: a gnomAD-style VCF (AF, AC, AN, nhomalt, AF_<population>)")
	fs.StringVar(&f.assembly, "assembly", "GRCh38", "reference assembly (for ClinVar XML positions and the report)")
	fs.Var(&f.extra, "extra", "another source, repeatable: NAME=FILE.bed (interval names) or NAME=FILE.vcf:KEY[,KEY] (INFO keys)")
	fs.StringVar(&f.panel, "panel", "", "report draft: report only variants in these genes: a gene list (one symbol per line) or a BED (gene names in column 4, its regions the regions studied)")
	fs.StringVar(&f.lofGenes, "lof-genes", "", "report draft: genes where loss of function causes disease (one symbol per line), for PVS1")
	fs.Float64Var(&f.maxAF, "max-af", 0.05, "report draft: leave out variants more frequent than this in the population")
	fs.StringVar(&f.draft, "report-draft", "", "also write a clinical report draft here (JSON, to store with clinomics report create) with the reportable variants; needs --patient or --sample")
	fs.StringVar(&f.patient, "patient", "", "report draft: the patient's internal (pseudonymous) id; demographics come from the clinical database (default: the patient whose order names --sample)")
	fs.StringVar(&f.sample, "sample", "", "report draft: the VCF sample column, the lab's sample id (default: the first column); without --patient it also names the patient: the one whose order names this sample")
	fs.StringVar(&f.testName, "test-name", "", "report draft: the test performed (default from --panel)")
	fs.StringVar(&f.assay, "assay", "", "report draft: wgs, exome, panel or rnaseq (default: panel with --panel, else wgs)")
	fs.StringVar(&f.bam, "bam", "", "report draft: the sample's BAM, for the coverage of each region of a --panel BED (samtools depth)")
	fs.StringVar(&f.qc, "qc", "", "report draft: the sample's QC (the pipeline's SAMPLE.qc.json)")
}

// draftOnly are the flags that only shape the report draft: the
// annotated VCF and TSV have every variant, whatever the panel.
var draftOnly = []string{"panel", "lof-genes", "max-af", "patient", "sample", "test-name", "assay", "bam", "qc"}

// check reports a flag combination that cannot work, before any work;
// set holds the flags given.
func (f *sourceFlags) check(set map[string]bool) error {
	if f.draft != "" && f.patient == "" && f.sample == "" {
		return usagef("--report-draft needs --patient (the patient's internal id) or --sample (the sample id an order names: the server finds the patient by it)")
	}
	if f.bam != "" && !isBED(f.panel) {
		return usagef("--bam gives the coverage of the regions studied: it needs --panel REGIONS.bed")
	}
	if f.draft == "" {
		var given []string
		for _, n := range draftOnly {
			if set[n] {
				given = append(given, "--"+n)
			}
		}
		if len(given) > 0 {
			return usagef("%s only select and describe the variants of the report draft: add --report-draft FILE.json (OUT.vcf and OUT.tsv have every variant)", strings.Join(given, ", "))
		}
	}
	if f.maxAF < 0 || f.maxAF > 1 {
		return usagef("--max-af must be a frequency from 0 to 1")
	}
	return checkExtra(f.extra)
}

// extraSource is one --extra: a BED, whose interval names are one INFO
// field, NAME; or INFO keys of a VCF, each a field NAME_KEY.
type extraSource struct {
	name, path string
	keys       []string // nil for a BED
}

func isBED(path string) bool {
	return strings.HasSuffix(path, ".bed") || strings.HasSuffix(path, ".bed.gz")
}

// parseExtra reads the value of an --extra: NAME=FILE.bed or
// NAME=FILE.vcf:KEY[,KEY]. Its fields are not checked (see checkExtra).
func parseExtra(x string) (extraSource, error) {
	name, spec, ok := strings.Cut(x, "=")
	path, keys, hasKeys := strings.Cut(spec, ":")
	switch {
	case !ok || name == "" || path == "":
		return extraSource{}, usagef("--extra %q: want NAME=FILE.bed or NAME=FILE.vcf:KEY[,KEY]", x)
	case isBED(path) && hasKeys:
		return extraSource{}, usagef("--extra %q: a BED source takes no :KEY (its one field, %s, holds the names of the intervals a variant overlaps)", x, name)
	case isBED(path):
		return extraSource{name: name, path: path}, nil
	case !hasKeys || keys == "":
		return extraSource{}, usagef("--extra %q: a VCF source needs the INFO keys to take: NAME=FILE.vcf:KEY[,KEY]", x)
	}
	s := extraSource{name: name, path: path, keys: strings.Split(keys, ",")}
	if slices.Contains(s.keys, "") {
		return extraSource{}, usagef("--extra %q: an empty KEY in %s (want KEY[,KEY])", x, keys)
	}
	return s, nil
}

// fields are the INFO keys the source adds to the annotated VCF, named
// as package known names them (UserBED.Fields, UserVCF.Fields).
func (s extraSource) fields() []string {
	if s.keys == nil {
		return []string{s.name}
	}
	out := make([]string, len(s.keys))
	for i, k := range s.keys {
		out[i] = s.name + "_" + k
	}
	return out
}

// validInfoKey is VCF 4.3's rule for an INFO key (section 1.6.1):
// ^([A-Za-z_][0-9A-Za-z_.]*|1000G)$.
func validInfoKey(k string) bool {
	if k == "1000G" {
		return true
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c == '_' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z':
		case i > 0 && (c == '.' || '0' <= c && c <= '9'):
		default:
			return false
		}
	}
	return k != ""
}

// ownFieldPrefixes name the fields of annotate's own sources: --clinvar's
// (known.FieldClinVarID, ...) and --gnomad's (known.FieldPopAF, ...). The
// report draft reads them by name, so no --extra may take one, even
// without those flags.
var ownFieldPrefixes = map[string]string{"CLINVAR_": "--clinvar", "POP_": "--gnomad"}

// reservedInfoKeys are the INFO keys VCF 4.3 reserves (section 1.6.1):
// their meaning is fixed, and the annotated VCF would replace the
// input's (an END, a DP) with an --extra's.
var reservedInfoKeys = []string{"AA", "AC", "AD", "ADF", "ADR", "AF", "AN", "BQ", "CIGAR", "DB", "DP", "END",
	"H2", "H3", "MQ", "MQ0", "NS", "SB", "SOMATIC", "VALIDATED", "1000G"}

// checkExtra checks each --extra before any work: its shape, and that
// every INFO key it adds is a valid key, not CSQ, not one of another
// source's fields, nor one the VCF specification reserves, and not
// added by another --extra (or twice by one). The annotated VCF has each
// key once; the input's are replaced (see annotate.Annotator.Run).
func checkExtra(extra []string) error {
	taken := map[string]int{} // INFO key: the --extra adding it
	for i, x := range extra {
		s, err := parseExtra(x)
		if err != nil {
			return err
		}
		for _, k := range s.fields() {
			name := k
			if s.keys != nil {
				name = k + " (NAME_KEY)"
			}
			if !validInfoKey(k) {
				return usagef("--extra %q: INFO key %q is not valid (VCF 4.3: a letter or '_', then letters, digits, '_' or '.')", x, name)
			}
			if k == "CSQ" {
				return usagef("--extra %q: INFO key %s is the consequences this command writes", x, name)
			}
			for p, flag := range ownFieldPrefixes {
				if strings.HasPrefix(k, p) {
					return usagef("--extra %q: INFO key %s: the %s* keys are %s's (the report draft reads them)", x, name, p, flag)
				}
			}
			if slices.Contains(reservedInfoKeys, k) {
				return usagef("--extra %q: INFO key %s is reserved by the VCF specification for its own meaning", x, name)
			}
			switch prev, dup := taken[k]; {
			case dup && prev == i:
				return usagef("--extra %q: adds INFO key %s twice", x, name)
			case dup:
				return usagef("--extra %q: INFO key %s is added by --extra %q too", x, name, extra[prev])
			}
			taken[k] = i
		}
	}
	return nil
}

// inputs are the input files of the flags given, as flag and path.
func (f *sourceFlags) inputs() [][2]string {
	in := [][2]string{{"clinvar", f.clinvar}, {"gnomad", f.gnomad}, {"panel", f.panel}, {"lof-genes", f.lofGenes}, {"bam", f.bam}, {"qc", f.qc}}
	for _, x := range f.extra {
		s, _ := parseExtra(x) // checked
		in = append(in, [2]string{"extra", s.path})
	}
	return in
}

// sources loads the known-variant sources, normalising their alleles
// against ref; clinvar is the ClinVar source (nil without --clinvar).
func (f *sourceFlags) sources(ref known.Reference) (srcs []annotate.Source, clinvar *known.ClinVar, err error) {
	if f.clinvar != "" {
		if clinvar, err = loadClinVar(f.clinvar, f.assembly, ref); err != nil {
			return nil, nil, &inputError{flag: "clinvar", value: f.clinvar, err: err}
		}
		srcs = append(srcs, clinvar)
	}
	if f.gnomad != "" {
		p, err := known.LoadPopulation("gnomad", f.gnomad, ref)
		if err != nil {
			return nil, nil, &inputError{flag: "gnomad", value: f.gnomad, err: err}
		}
		srcs = append(srcs, p)
	}
	for _, x := range f.extra {
		e, err := parseExtra(x)
		if err != nil {
			return nil, nil, err
		}
		var s annotate.Source
		if e.keys == nil {
			s, err = known.LoadUserBED(e.name, e.path)
		} else {
			var in io.ReadCloser
			if in, err = format.OpenFile(e.path); err != nil {
				return nil, nil, &inputError{flag: "extra", value: x, err: err}
			}
			s, err = known.NewUserVCF(e.name, e.keys, in, e.path, ref)
			in.Close()
		}
		if err != nil {
			return nil, nil, &inputError{flag: "extra", value: x, err: err}
		}
		srcs = append(srcs, s)
	}
	return srcs, clinvar, nil
}

// loadClinVar reads ClinVar's VCF, or its XML release converted to VCF
// in memory.
func loadClinVar(path, assembly string, ref known.Reference) (*known.ClinVar, error) {
	if !strings.HasSuffix(path, ".xml") && !strings.HasSuffix(path, ".xml.gz") {
		return known.LoadClinVar(path, ref)
	}
	in, err := format.OpenFile(path)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	var b bytes.Buffer
	if err := known.ClinVarXMLToVCF(in, &b, assembly); err != nil {
		return nil, err
	}
	return known.NewClinVar(&b, path, ref)
}

// draftPlan is what the report draft needs besides the annotated VCF,
// read and checked before annotating.
type draftPlan struct {
	opt          findings.Options
	rep          report.Report
	panelGenes   int      // genes in the panel
	unknownGenes []string // panel genes the gene model does not have, sorted
}

// prepareDraft reads the panel, the LoF genes, the regions' coverage and
// the QC for the report draft.
func (f *sourceFlags) prepareDraft(ctx context.Context, model *genemodel.Model) (*draftPlan, error) {
	p := &draftPlan{opt: findings.Options{Sample: f.sample, MaxAF: f.maxAF, ACMG: interpret.DefaultConfig()}}
	rep := &p.rep
	*rep = report.Report{Patient: report.Patient{ID: f.patient}, Specimen: report.Specimen{SampleID: f.sample},
		Test: report.Test{Name: f.testName, Assay: f.assay, Assembly: f.assembly}}
	if f.panel != "" {
		var err error
		if isBED(f.panel) {
			p.opt.Panel, err = interpret.LoadBED(f.panel, true)
			if err == nil {
				rep.Regions, err = regionsOf(f.panel)
			}
		} else {
			p.opt.Panel, err = interpret.LoadGeneList(f.panel)
		}
		if err != nil {
			return nil, &inputError{flag: "panel", value: f.panel, err: err}
		}
		known := map[string]bool{}
		for _, g := range model.Genes {
			known[strings.ToUpper(g.Name)] = true
		}
		genes := p.opt.Panel.Genes()
		p.panelGenes = len(genes)
		for _, g := range genes {
			if !known[g] {
				p.unknownGenes = append(p.unknownGenes, g)
			}
		}
		if f.bam != "" {
			if err := regionCoverage(ctx, f.bam, f.panel, rep.Regions); err != nil {
				return nil, &inputError{flag: "bam", value: f.bam, err: err}
			}
		}
		rep.Test.Panel = strings.TrimSuffix(filepath.Base(f.panel), filepath.Ext(f.panel))
		if rep.Test.Assay == "" {
			rep.Test.Assay = "panel"
		}
	}
	if rep.Test.Assay == "" {
		rep.Test.Assay = "wgs"
	}
	if rep.Test.Name == "" {
		rep.Test.Name = "Germline variant analysis"
		if rep.Test.Panel != "" {
			rep.Test.Name += " (" + rep.Test.Panel + " panel)"
		}
	}
	if f.lofGenes != "" {
		lof, err := interpret.LoadGeneList(f.lofGenes)
		if err != nil {
			return nil, &inputError{flag: "lof-genes", value: f.lofGenes, err: err}
		}
		p.opt.LoFGenes = map[string]bool{}
		for _, g := range lof.Genes() {
			p.opt.LoFGenes[strings.ToUpper(g)] = true
		}
	}
	if f.qc != "" {
		var err error
		if rep.QC, err = qcMetrics(f.qc, rep.Regions, f.bam != ""); err != nil {
			return nil, &inputError{flag: "qc", value: f.qc, err: err}
		}
	}
	// What the draft says besides its variants is checked now, not
	// after the annotated VCF is written.
	if err := report.ValidateDraft(*rep); err != nil {
		var fe *report.FieldError
		if errors.As(err, &fe) {
			switch fe.Field {
			case "Patient.ID":
				return nil, fmt.Errorf("--patient: %s", fe.Problem) // not repeated: it may be a mistyped identifier
			case "Test.Assay":
				return nil, fmt.Errorf("--assay %s: %s", f.assay, fe.Problem)
			case "Test.Name":
				return nil, fmt.Errorf("--test-name %q: %s", f.testName, fe.Problem)
			}
		}
		return nil, fmt.Errorf("--report-draft %s: %w", f.draft, err)
	}
	return p, nil
}

// maxSamplesListed bounds the sample columns listed when --sample names
// none of them.
const maxSamplesListed = 10

// checkSample checks, before any work, that the VCF has the column the
// report draft is of: --sample, or without it the first.
func (f *sourceFlags) checkSample(vcfPath string, samples []string) error {
	switch {
	case f.draft == "":
		return nil
	case f.sample != "" && len(samples) == 0:
		return fmt.Errorf("--sample %s: no such sample column in %s (it has no sample columns)", f.sample, vcfPath)
	case f.sample != "" && !slices.Contains(samples, f.sample):
		return fmt.Errorf("--sample %s: no such sample column in %s (it has: %s)", f.sample, vcfPath, firstFew(samples, maxSamplesListed))
	case len(samples) == 0:
		return fmt.Errorf("--report-draft %s: %s has no sample column: the draft reports one sample's genotypes", f.draft, vcfPath)
	}
	return nil
}

// bgzfEOF is the empty BGZF block that ends every complete BAM file (SAM
// specification, 4.1.2).
var bgzfEOF = []byte{0x1f, 0x8b, 0x08, 0x04, 0, 0, 0, 0, 0, 0xff, 0x06, 0, 0x42, 0x43, 0x02, 0, 0x1b, 0, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0}

// checkBAM checks that path is a whole BAM file (BGZF holding the BAM
// magic, ending with the BGZF end-of-file block) or a CRAM file, before
// any work: samtools depth fails on anything else without saying why. An
// index is not needed: samtools depth -b reads the file through.
func checkBAM(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	head := make([]byte, 4)
	if _, err := io.ReadFull(f, head); err != nil || head[0] != 0x1f || head[1] != 0x8b {
		if string(head) == "CRAM" {
			return nil
		}
		return errors.New("not a BAM or CRAM file")
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	gz, err := gzip.NewReader(f)
	if err == nil {
		_, err = io.ReadFull(gz, head)
	}
	if err != nil || string(head) != "BAM\x01" {
		return errors.New("not a BAM file (gzip-compressed, but not BAM)")
	}
	st, err := f.Stat()
	if err != nil {
		return err
	}
	tail := make([]byte, len(bgzfEOF))
	if st.Size() < int64(len(tail)) {
		return errors.New("truncated BAM file")
	}
	if _, err := f.ReadAt(tail, st.Size()-int64(len(tail))); err != nil {
		return err
	}
	if !bytes.Equal(tail, bgzfEOF) {
		return errors.New("truncated BAM file: no end-of-file block (is it still being copied?)")
	}
	return nil
}

// alleleKey names one allele of a VCF.
type alleleKey struct {
	chrom    string
	pos      int64
	ref, alt string
}

// maxListed bounds the variants not annotated listed in the draft's
// limitations.
const maxListed = 50

// writeDraft writes the report draft from the annotated VCF; skipped
// holds why each allele the annotator refused got no consequence.
// ann is the annotator that wrote it: contigs are looked up in model
// under the names ann resolved them to.
func (f *sourceFlags) writeDraft(e *env, p *draftPlan, vcfPath string, ann *annotate.Annotator, model *genemodel.Model, clinvar *known.ClinVar, files map[string]string, skipped map[alleleKey]string) error {
	opt, rep := p.opt, p.rep
	if clinvar != nil {
		opt.Codons = interpret.NewCodonIndex(clinvar.Records(), locator(ann))
	}
	opt.NotAnnotated = func(chrom string, pos int64, r, alt string) (string, []string, bool) {
		var genes []string
		c := ann.Resolve(chrom).Model
		for _, t := range model.Overlapping(c, pos, pos+int64(max(len(r), 1))-1) {
			if !slices.Contains(genes, t.Gene.Name) {
				genes = append(genes, t.Gene.Name)
			}
		}
		return skipped[alleleKey{chrom, pos, r, alt}], genes, model.HasChrom(c)
	}
	in, err := os.Open(vcfPath)
	if err != nil {
		return err
	}
	defer in.Close()
	vars, sum, err := findings.Read(in, vcfPath, opt)
	if err != nil {
		return err
	}
	rep.Variants = vars
	rep.Limitations = []string{
		"Classifications are suggestions of the automatable ACMG/AMP criteria until a qualified reviewer confirms them.",
		"Copy-number and structural variants, repeat expansions and variants outside the regions studied are not assessed.",
	}
	if len(sum.Unannotated) > 0 {
		rep.Limitations = append(rep.Limitations, notAnnotated(sum.Unannotated))
	}
	rep.Methods = report.Methods{Pipeline: "clinomics annotate", Version: app.Version(), Reference: f.assembly + " (" + filepath.Base(files["fasta"]) + ")",
		Tools: []report.Tool{{Name: "clinomics annotate", Version: app.Version()}}}
	for _, k := range []string{"gene models", "ClinVar", "population frequencies"} {
		if files[k] != "" {
			rep.Methods.Databases = append(rep.Methods.Databases, report.Tool{Name: k, Version: filepath.Base(files[k])})
		}
	}
	if err := report.ValidateDraft(rep); err != nil {
		return err
	}
	if err := writeFileAtomic(f.draft, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "report draft: %d reportable of %d alleles (not carried %d, filtered %d, outside the panel %d, frequent %d, no impact %d, not annotated %d); wrote %s\n",
		sum.Reportable, sum.Alleles, sum.NotCarried, sum.Filtered, sum.OutsidePanel, sum.Frequent, sum.NoImpact, sum.NotAnnotated, f.draft)
	return nil
}

// notAnnotated is the draft's limitation listing the variants the sample
// carries that could not be annotated, with the reason for each.
func notAnnotated(us []findings.Unannotated) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Not assessed: %d variant(s) the sample carries could not be annotated (no consequence was predicted); check them by hand:", len(us))
	for i, u := range us {
		if i == maxListed {
			fmt.Fprintf(&b, " and %d more (see the annotation warnings).", len(us)-maxListed)
			return b.String()
		}
		sep := ";"
		if i == len(us)-1 {
			sep = "."
		}
		genes := ""
		if len(u.Genes) > 0 {
			genes = " in " + strings.Join(u.Genes, ", ")
		}
		fmt.Fprintf(&b, " %s:%d %s>%s%s (not annotated: %s)%s", u.Chrom, u.Pos, u.Ref, u.Alt, genes, u.Reason, sep)
	}
	return b.String()
}

// regionCoverage fills in the regions' coverage from the BAM, with
// samtools depth over the panel's BED.
func regionCoverage(ctx context.Context, bamPath, bedPath string, regions []report.Region) error {
	ivs, err := bed.ReadFile(bedPath)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(ctx, "samtools", "depth", "-a", "-b", bedPath, bamPath)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("samtools depth: %w", err)
	}
	cov, rerr := qc.ReadRegionDepth(out, "samtools depth "+filepath.Base(bamPath), ivs)
	if rerr != nil {
		cancel() // samtools would block on a pipe nobody reads
		cmd.Wait()
		return rerr
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("samtools depth %s: %w: %s", filepath.Base(bamPath), err, strings.TrimSpace(stderr.String()))
	}
	for i := range regions {
		regions[i].MeanDepth, regions[i].Covered20x = cov[i].MeanDepth, cov[i].Covered20x
	}
	return nil
}

// qcMetrics reads the pipeline's QC of the sample as the report's QC,
// each measure against the lab's default acceptance limit (written with
// the value); measured says the regions' coverage was measured.
func qcMetrics(path string, regions []report.Region, measured bool) ([]report.QCMetric, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var q qc.Report
	if err := json.Unmarshal(b, &q); err != nil {
		return nil, fmt.Errorf("%s: not a QC report: %w", path, err)
	}
	if q.Reads == 0 {
		return nil, fmt.Errorf("%s: no reads in the QC report", path)
	}
	m := []report.QCMetric{
		{Name: "Reads", Value: strconv.FormatInt(q.Reads, 10), Pass: true},
		{Name: "Mapping rate (>= 95%)", Value: fmt.Sprintf("%.1f%%", 100*q.MappingRate), Pass: q.MappingRate >= 0.95},
		{Name: "Duplicate rate (<= 20%)", Value: fmt.Sprintf("%.1f%%", 100*q.DuplicateRate), Pass: q.DuplicateRate <= 0.20},
		{Name: "Mean coverage, " + q.CoverageSpace + " (>= 20x)", Value: fmt.Sprintf("%.1fx", q.MeanCoverage), Pass: q.MeanCoverage >= 20},
	}
	if q.TiTv != nil {
		m = append(m, report.QCMetric{Name: "Ti/Tv (1.8 to 3.3)", Value: fmt.Sprintf("%.2f", *q.TiTv), Pass: *q.TiTv >= 1.8 && *q.TiTv <= 3.3})
	}
	if measured && len(regions) > 0 {
		var bases, at20 float64
		for _, r := range regions {
			n := float64(r.End - r.Start)
			bases += n
			at20 += n * r.Covered20x
		}
		frac := at20 / max(bases, 1)
		m = append(m, report.QCMetric{Name: "Regions studied at >= 20x (>= 95%)", Value: fmt.Sprintf("%.1f%%", 100*frac), Pass: frac >= 0.95})
	}
	return m, nil
}

// regionsOf reads a panel BED as the regions studied.
func regionsOf(path string) ([]report.Region, error) {
	ivs, err := bed.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := make([]report.Region, len(ivs))
	for i, iv := range ivs {
		out[i] = report.Region{Chrom: iv.Chrom, Start: iv.Start, End: iv.End, Gene: iv.Name}
	}
	return out, nil
}

// locator places ClinVar's variants on codons with the annotator, for
// PS1 and PM5: the MANE Select or canonical transcript's codon.
func locator(ann *annotate.Annotator) interpret.LocateFunc {
	return func(chrom string, pos int64, r, alt string) (string, int, string, bool) {
		res, err := ann.Predict(csq.Variant{Chrom: chrom, Pos: pos, Ref: r, Alt: alt}) // ClinVar's "1" is the model's "chr1", or "1"
		if err != nil {
			return "", 0, "", false
		}
		for _, want := range []func(*genemodel.Transcript) bool{
			func(t *genemodel.Transcript) bool { return t.MANE },
			func(t *genemodel.Transcript) bool { return t.Canonical },
		} {
			for _, ef := range res.Effects {
				if ef.Transcript == nil || !want(ef.Transcript) {
					continue
				}
				codon, err := strconv.Atoi(ef.ProteinPos)
				_, altAA, ok := strings.Cut(ef.AminoAcids, "/")
				if err != nil || !ok {
					return "", 0, "", false
				}
				return ef.Transcript.Gene.Name, codon, altAA, true
			}
		}
		return "", 0, "", false
	}
}
