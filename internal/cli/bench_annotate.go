package cli

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/clinomics/clinomics/internal/annotate"
	"github.com/clinomics/clinomics/internal/annotate/genemodel"
)

// benchAnnotate annotates a synthetic VCF across the transcripts of a
// real GFF3 with our annotator (1 worker and all CPUs; with flank 0,
// the transcripts a variant overlaps, as bcftools csq, and with the
// default 5 kb flank) and with bcftools csq, on the same synthetic
// reference, and reports variants/s for each of --runs rounds, then the
// range over the rounds. After the first round it counts the
// consequences per variant each tool wrote and compares our flank-0
// (variant, transcript) pairs with bcftools'.
//
// Both tools read the VCF from a file and write the annotated VCF to a
// file in the scratch directory. "End to end" includes, for us, building
// the gene model from the GFF3 and mapping the FASTA, and for bcftools
// everything it does; "annotation only" leaves out our model build and,
// for bcftools, the time of the same command on a one-variant VCF (its
// GFF3 parsing and start-up).
func benchAnnotate(ctx context.Context, e *env, args []string) error {
	fs, _ := flags(e, "bench annotate")
	gffPath := fs.String("gff", "../shared/data/annotation/ensembl-vep/test.gff.gz", "Ensembl GFF3 (bcftools csq needs Ensembl style)")
	n := fs.Int("variants", 200000, "variants to generate")
	runs := fs.Int("runs", 3, "rounds of measurement (each runs every configuration once)")
	outDir := fs.String("out", "", "scratch directory (default: a temporary directory, removed)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of our runs in the first round here")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *runs < 1 {
		return usagef("--runs must be at least 1")
	}
	dir := *outDir
	if dir == "" {
		d, err := os.MkdirTemp("", "clinomics-bench-annotate-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	model, err := genemodel.BuildFile(*gffPath)
	if err != nil {
		return fmt.Errorf("--gff %s: %w (the default is the shared test data beside the checkout: run from the checkout, or give --gff an Ensembl GFF3)", *gffPath, err)
	}
	chrom, length := benchContig(model)
	if chrom == "" {
		return fmt.Errorf("%s: no transcripts", *gffPath)
	}
	seq := benchSequence(length)
	vcfData := benchVariants(model, chrom, seq, *n)
	fa, vcfPath, oneVCF := filepath.Join(dir, "ref.fa"), filepath.Join(dir, "in.vcf"), filepath.Join(dir, "one.vcf")
	if err := os.WriteFile(fa, benchFASTA(chrom, seq), 0o644); err != nil {
		return err
	}
	fai := fmt.Sprintf("%s\t%d\t%d\t60\t61\n", chrom, len(seq), len(chrom)+2)
	if err := os.WriteFile(fa+".fai", []byte(fai), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(vcfPath, vcfData, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(oneVCF, firstRecords(vcfData, 1), 0o644); err != nil {
		return err
	}
	threads := runtime.NumCPU()
	fmt.Fprintf(e.stdout, "input: %d variants on %s (%d transcripts of %s), synthetic reference of %d bases\n", *n, chrom, len(model.Transcripts), filepath.Base(*gffPath), len(seq))
	fmt.Fprintf(e.stdout, "machine: %s, %d CPUs\n", cpuModel(), threads)

	type result struct {
		name        string
		total, work time.Duration // end to end; annotation only
		cpu         time.Duration // user + system
	}
	// ours runs our annotator the way `clinomics annotate` does, writing
	// the VCF (and the TSV when tsv is set) to files.
	storedModel := filepath.Join(dir, "model.clngmdb")
	if err := writeFileAtomic(storedModel, model.Save); err != nil {
		return err
	}
	ours := func(c benchConfig) (result, error) {
		threads, tsv, flank, out := c.threads, c.tsv, c.flank, c.out
		var r result
		if c.cores > 0 {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(c.cores))
		}
		modelPath := *gffPath
		if c.stored {
			modelPath = storedModel
		}
		// Outputs of the previous run are removed untimed (truncating a
		// large file costs time too), as for bcftools below.
		os.Remove(filepath.Join(dir, out))
		os.Remove(filepath.Join(dir, "ours.tsv"))
		cpu0 := cpuTime()
		start := time.Now()
		m, err := loadModel(ctx, "", modelPath)
		if err != nil {
			return r, err
		}
		ref, err := annotate.LoadReference(fa)
		if err != nil {
			return r, err
		}
		defer ref.Close()
		in, err := os.Open(vcfPath)
		if err != nil {
			return r, err
		}
		defer in.Close()
		vout, err := os.Create(filepath.Join(dir, out))
		if err != nil {
			return r, err
		}
		defer vout.Close()
		var tout io.Writer
		if tsv {
			f, err := os.Create(filepath.Join(dir, "ours.tsv"))
			if err != nil {
				return r, err
			}
			defer f.Close()
			tout = f
		}
		ann := annotate.New(m, ref, annotate.Options{Threads: threads, Flank: &flank, Fields: c.fields})
		t0 := time.Now()
		if _, err := ann.Run(ctx, in, vcfPath, vout, tout); err != nil {
			return r, err
		}
		if err := vout.Close(); err != nil {
			return r, err
		}
		r.total, r.work, r.cpu = time.Since(start), time.Since(t0), cpuTime()-cpu0
		return r, nil
	}
	bcftools, _ := exec.LookPath("bcftools")
	bcf := func(input, out string) (time.Duration, time.Duration, error) {
		os.Remove(filepath.Join(dir, out))
		start := time.Now()
		cmd := exec.CommandContext(ctx, bcftools, "csq", "-f", fa, "-g", *gffPath, "-l", "-Ov", "-o", filepath.Join(dir, out), input)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			return 0, 0, fmt.Errorf("bcftools csq: %w\n%s", err, stderr.Bytes())
		}
		return time.Since(start), cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), nil
	}
	if *cpuProfile != "" {
		pf, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	rate := func(d time.Duration) float64 { return float64(*n) / d.Seconds() }
	const same, full = "flank 0 (as bcftools)", "5 kb flank (full)"
	configs := []benchConfig{
		{name: "clinomics, " + same + ", 1 thread, VCF", threads: 1, out: "ours-flank0.vcf"},
		{name: "clinomics, " + same + ", 1 core, VCF", threads: 1, cores: 1, out: "ours-flank0.vcf"},
		{name: "clinomics, " + same + ", 1 core, stored model, VCF", threads: 1, cores: 1, stored: true, out: "ours-flank0.vcf"},
		{name: "clinomics, " + same + ", 1 core, bcftools' fields", threads: 1, cores: 1, fields: annotate.BCSQFields, out: "ours-bcfields.vcf"},
		{name: "clinomics, " + same + ", 1 core, stored model, bcftools' fields", threads: 1, cores: 1, stored: true, fields: annotate.BCSQFields, out: "ours-bcfields.vcf"},
		{name: fmt.Sprintf("clinomics, %s, %d threads, VCF", same, threads), threads: threads, out: "ours-flank0.vcf"},
		{name: fmt.Sprintf("clinomics, %s, %d threads, stored model, VCF", same, threads), threads: threads, stored: true, out: "ours-flank0.vcf"},
		{name: "clinomics, " + full + ", 1 thread, VCF", threads: 1, flank: genemodel.Flank, out: "ours.vcf"},
		{name: fmt.Sprintf("clinomics, %s, %d threads, VCF", full, threads), threads: threads, flank: genemodel.Flank, out: "ours.vcf"},
		{name: fmt.Sprintf("clinomics, %s, %d threads, VCF+TSV", full, threads), threads: threads, tsv: true, flank: genemodel.Flank, out: "ours.vcf"},
	}
	all := map[string][]result{}
	var names []string
	add := func(r result) {
		if _, ok := all[r.name]; !ok {
			names = append(names, r.name)
		}
		all[r.name] = append(all[r.name], r)
	}
	for run := 1; run <= *runs; run++ {
		var round []result
		for _, c := range configs {
			r, err := ours(c)
			if err != nil {
				return err
			}
			r.name = c.name
			round = append(round, r)
		}
		if bcftools != "" {
			total, cpu, err := bcf(vcfPath, "bcftools.vcf")
			if err != nil {
				return err
			}
			load, _, err := bcf(oneVCF, "bcftools-one.vcf")
			if err != nil {
				return err
			}
			round = append(round, result{name: "bcftools csq -l (1 thread), VCF", total: total, work: max(total-load, time.Millisecond), cpu: cpu})
		}
		fmt.Fprintf(e.stdout, "run %d:\n", run)
		for _, r := range round {
			fmt.Fprintf(e.stdout, "  %-64s %8.0f/s end to end (%.2fs, CPU %.2fs), %8.0f/s annotation only (%.2fs)\n",
				r.name, rate(r.total), r.total.Seconds(), r.cpu.Seconds(), rate(r.work), r.work.Seconds())
			add(r)
		}
		if bcftools != "" {
			b := round[len(round)-1]
			fmt.Fprintf(e.stdout, "  ratio ours/bcftools (end to end; annotation only):")
			for _, r := range round[:len(round)-1] {
				fmt.Fprintf(e.stdout, "\n    %.2fx; %.2fx (%s)", b.total.Seconds()/r.total.Seconds(), b.work.Seconds()/r.work.Seconds(), strings.TrimPrefix(r.name, "clinomics, "))
			}
			fmt.Fprintln(e.stdout)
		}
		if run == 1 {
			// The profile is of the first round's runs only, not of the
			// comparison below (nor of later rounds, which repeat them).
			pprof.StopCPUProfile()
			// Untimed: what each tool wrote, from the files of this round.
			if err := benchCompareOutputs(e.stdout, dir, bcftools != ""); err != nil {
				return err
			}
		}
	}
	if bcftools == "" {
		fmt.Fprintln(e.stdout, "bcftools not installed: no comparison")
	}
	fmt.Fprintf(e.stdout, "over %d runs (min - max variants/s):\n", *runs)
	for _, name := range names {
		rs := all[name]
		var tot, work []float64
		for _, r := range rs {
			tot, work = append(tot, rate(r.total)), append(work, rate(r.work))
		}
		fmt.Fprintf(e.stdout, "  %-64s end to end %8.0f - %8.0f, annotation only %8.0f - %8.0f\n", name, slices.Min(tot), slices.Max(tot), slices.Min(work), slices.Max(work))
	}
	return nil
}

// benchConfig is one way of running our annotator in `bench annotate`.
type benchConfig struct {
	fields  []string // CSQ fields written; nil: all
	name    string
	threads int    // annotation workers
	cores   int    // GOMAXPROCS during the run (1: one core, as bcftools); 0: all
	stored  bool   // load the gene model saved by --save-model instead of building it from the GFF3
	tsv     bool   // write the TSV too
	flank   int64  // upstream/downstream distance
	out     string // the VCF written
}

// firstRecords returns the header of a VCF and its first k records.
func firstRecords(data []byte, k int) []byte {
	i := bytes.Index(data, []byte("\n#CHROM"))
	if i < 0 {
		return data
	}
	end := i + 1
	for n := 0; n <= k && end < len(data); n++ { // the #CHROM line, then k records
		j := bytes.IndexByte(data[end:], '\n')
		if j < 0 {
			return data
		}
		end += j + 1
	}
	return data[:end]
}

// benchContig picks the contig with most transcripts and its length
// (the furthest transcript end plus the flank).
func benchContig(m *genemodel.Model) (string, int) {
	count := map[string]int{}
	end := map[string]int64{}
	for _, t := range m.Transcripts {
		count[t.Chrom]++
		end[t.Chrom] = max(end[t.Chrom], t.End)
	}
	best := ""
	for c, k := range count {
		if best == "" || k > count[best] || (k == count[best] && c < best) {
			best = c
		}
	}
	return best, int(end[best]) + 2*genemodel.Flank
}

func benchSequence(n int) []byte {
	r := rand.New(rand.NewPCG(7, 218))
	out := make([]byte, n)
	for i := range out {
		out[i] = "ACGT"[r.IntN(4)]
	}
	return out
}

func benchFASTA(name string, seq []byte) []byte {
	var b bytes.Buffer
	b.Grow(len(seq) + len(seq)/60 + 64)
	b.WriteString(">" + name + "\n")
	for i := 0; i < len(seq); i += 60 {
		b.Write(seq[i:min(i+60, len(seq))])
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// benchVariants draws n variants inside transcripts (exons three times
// out of four): 80% SNVs, 10% 1-3 base deletions, 10% 1-3 base insertions.
func benchVariants(m *genemodel.Model, chrom string, seq []byte, n int) []byte {
	r := rand.New(rand.NewPCG(11, 3))
	var ts []*genemodel.Transcript
	for _, t := range m.Transcripts {
		if t.Chrom == chrom {
			ts = append(ts, t)
		}
	}
	type v struct {
		pos      int
		ref, alt string
	}
	seen := map[int]bool{}
	var vs []v
	for len(vs) < n {
		t := ts[r.IntN(len(ts))]
		var pos int
		if r.IntN(4) > 0 {
			ex := t.Exons[r.IntN(len(t.Exons))]
			pos = int(ex.Start) + r.IntN(int(ex.Len()))
		} else {
			pos = int(t.Start) + r.IntN(int(t.End-t.Start+1))
		}
		if pos < 2 || pos+4 > len(seq) || seen[pos] {
			continue
		}
		seen[pos] = true
		b := seq[pos-1]
		switch k := r.IntN(10); {
		case k < 8:
			alt := "ACGT"[(bytes.IndexByte([]byte("ACGT"), b)+1+r.IntN(3))%4]
			vs = append(vs, v{pos, string(b), string(alt)})
		case k < 9:
			l := 1 + r.IntN(3)
			vs = append(vs, v{pos, string(seq[pos-1 : pos+l]), string(b)})
		default:
			ins := make([]byte, 1+r.IntN(3))
			for i := range ins {
				ins[i] = "ACGT"[r.IntN(4)]
			}
			vs = append(vs, v{pos, string(b), string(b) + string(ins)})
		}
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i].pos < vs[j].pos })
	var out bytes.Buffer
	fmt.Fprintf(&out, "##fileformat=VCFv4.2\n##contig=<ID=%s,length=%d>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n", chrom, len(seq))
	for _, x := range vs {
		fmt.Fprintf(&out, "%s\t%d\t.\t%s\t%s\t.\t.\t.\n", chrom, x.pos, x.ref, x.alt)
	}
	return out.Bytes()
}

// cpuTime is the user and system time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// csqEntries reads the entries of INFO key (CSQ or BCSQ) of each record
// of a VCF, keyed by "POS REF ALT", each as its '|'-separated fields.
func csqEntries(path, key string, each func(variant string, entries [][]string)) (records, entries int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	var es [][]string
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		col := strings.SplitN(line, "\t", 9)
		if len(col) < 8 {
			continue
		}
		records++
		es = es[:0]
		for _, kv := range strings.Split(col[7], ";") {
			if v, ok := strings.CutPrefix(kv, key+"="); ok {
				for _, x := range strings.Split(v, ",") {
					es = append(es, strings.Split(x, "|"))
				}
			}
		}
		entries += len(es)
		if each != nil {
			each(col[1]+" "+col[3]+" "+col[4], es)
		}
	}
	return records, entries, sc.Err()
}

// benchCompareOutputs prints the consequences per variant in each
// output of a round, and compares the (variant, transcript) pairs of
// ours with flank 0 with those of bcftools csq. bcftools names no
// transcript for intron and non-coding consequences, only the gene and
// biotype ("intron|GENE||protein_coding"): such an entry stands for our
// pairs on that gene's transcripts.
func benchCompareOutputs(w io.Writer, dir string, withBcftools bool) error {
	fmt.Fprintln(w, "outputs of run 1 (consequences per variant):")
	// (allele, consequence, transcript) of each entry, by variant, for
	// the two runs that write all fields and bcftools' (at flank 0).
	kept := map[string]map[string][]string{}
	for _, o := range []struct {
		name, file string
		fields     []string
	}{
		{"clinomics, flank 0 (as bcftools)", "ours-flank0.vcf", annotate.CSQFields},
		{"clinomics, flank 0, bcftools' fields", "ours-bcfields.vcf", annotate.BCSQFields},
		{"clinomics, 5 kb flank (full)", "ours.vcf", annotate.CSQFields},
	} {
		var keep func(string, [][]string)
		if o.file != "ours.vcf" {
			al, cq, tx := slices.Index(o.fields, "Allele"), slices.Index(o.fields, "Consequence"), slices.Index(o.fields, "Feature")
			byVariant := map[string][]string{}
			kept[o.file] = byVariant
			keep = func(v string, es [][]string) {
				for _, e := range es {
					byVariant[v] = append(byVariant[v], e[al]+"|"+e[cq]+"|"+e[tx])
				}
			}
		}
		n, k, err := csqEntries(filepath.Join(dir, o.file), "CSQ", keep)
		if err != nil {
			return err
		}
		st, _ := os.Stat(filepath.Join(dir, o.file))
		fmt.Fprintf(w, "  %-36s %.2f per variant (%d in %d records), %d MB of VCF\n", o.name, float64(k)/float64(max(n, 1)), k, n, st.Size()>>20)
	}
	differ := 0
	for v, es := range kept["ours-flank0.vcf"] {
		if !slices.Equal(es, kept["ours-bcfields.vcf"][v]) {
			differ++
		}
	}
	differ += max(len(kept["ours-bcfields.vcf"])-len(kept["ours-flank0.vcf"]), 0)
	fmt.Fprintf(w, "  with bcftools' fields, the (allele, consequence, transcript) entries of %d variants differ from those with all fields\n", differ)
	if !withBcftools {
		return nil
	}
	type bcfEntry struct{ tx, gene, terms string }
	theirs := map[string][]bcfEntry{}
	n, k, err := csqEntries(filepath.Join(dir, "bcftools.vcf"), "BCSQ", func(v string, es [][]string) {
		var l []bcfEntry
		for _, x := range es {
			for len(x) < 3 {
				x = append(x, "")
			}
			l = append(l, bcfEntry{x[2], x[1], strings.TrimPrefix(x[0], "*")})
		}
		theirs[v] = l
	})
	if err != nil {
		return err
	}
	st, _ := os.Stat(filepath.Join(dir, "bcftools.vcf"))
	groups := 0
	for _, l := range theirs {
		for _, x := range l {
			if x.tx == "" && x.terms != "." {
				groups++
			}
		}
	}
	fmt.Fprintf(w, "  %-36s %.2f per variant (%d in %d records, %d of them intron/non-coding by gene, no transcript), %d MB of VCF\n", "bcftools csq -l", float64(k)/float64(max(n, 1)), k, n, groups, st.Size()>>20)

	// Pairs: ours (flank 0) against bcftools'.
	var ours, named, byGene, oursOnlyTier, oursOnlyNone, bcfTx, bcfMissing, groupMissing int
	oursOnlyBiotype := map[string]int{}
	_, _, err = csqEntries(filepath.Join(dir, "ours-flank0.vcf"), "CSQ", func(v string, es [][]string) {
		bl := theirs[v]
		txs, genes := map[string]bool{}, map[string]bool{}
		for _, x := range bl {
			if x.tx != "" {
				txs[x.tx] = true
			} else if x.terms != "." {
				genes[x.gene] = true
			}
		}
		oursTx, oursGenes := map[string]bool{}, map[string]bool{}
		for _, x := range es {
			if len(x) < 6 || x[4] == "" {
				continue // intergenic_variant: no transcript
			}
			ours++
			oursTx[x[4]], oursGenes[x[2]] = true, true
			switch {
			case txs[x[4]]:
				named++
			case genes[x[2]]:
				byGene++
			case len(txs)+len(genes) > 0:
				oursOnlyTier++
				oursOnlyBiotype[x[5]]++
			default:
				oursOnlyNone++
				oursOnlyBiotype[x[5]+" (bcftools: none for the variant)"]++
			}
		}
		for _, x := range bl {
			switch {
			case x.tx != "":
				bcfTx++
				if !oursTx[x.tx] {
					bcfMissing++
				}
			case x.terms != "." && !oursGenes[x.gene]:
				groupMissing++
			}
		}
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "(variant, transcript) pairs, flank 0 against bcftools csq -l:\n")
	fmt.Fprintf(w, "  ours %d; bcftools %d with a transcript (%d of them not among ours) and %d by gene (%d in a gene where we give nothing)\n", ours, bcfTx, bcfMissing, groups, groupMissing)
	fmt.Fprintf(w, "  ours named by bcftools %d, in a gene bcftools gives by gene %d, not given by bcftools %d (variant has other bcftools consequences) + %d (bcftools gives none)\n", named, byGene, oursOnlyTier, oursOnlyNone)
	var kinds []string
	for b := range oursOnlyBiotype {
		kinds = append(kinds, b)
	}
	sort.Slice(kinds, func(i, j int) bool { return oursOnlyBiotype[kinds[i]] > oursOnlyBiotype[kinds[j]] })
	fmt.Fprintf(w, "  ours not given by bcftools, by biotype:")
	for i, b := range kinds {
		if i == 8 {
			fmt.Fprintf(w, " ...")
			break
		}
		fmt.Fprintf(w, " %s %d;", b, oursOnlyBiotype[b])
	}
	fmt.Fprintln(w)
	return nil
}
