package cli

import (
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
// real GFF3 with our annotator (1 worker and all CPUs) and with
// bcftools csq, on the same synthetic reference, and reports variants/s
// for each of --runs rounds, then the range over the rounds.
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
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of our runs here")
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
		return err
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
	ours := func(threads int, tsv bool) (result, error) {
		var r result
		// Outputs of the previous run are removed untimed (truncating a
		// large file costs time too), as for bcftools below.
		os.Remove(filepath.Join(dir, "ours.vcf"))
		os.Remove(filepath.Join(dir, "ours.tsv"))
		cpu0 := cpuTime()
		start := time.Now()
		m, err := genemodel.BuildFile(*gffPath)
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
		vout, err := os.Create(filepath.Join(dir, "ours.vcf"))
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
		ann := annotate.New(m, ref, annotate.Options{Threads: threads})
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
	bcf := func(input string) (time.Duration, time.Duration, error) {
		os.Remove(filepath.Join(dir, "bcftools.vcf"))
		start := time.Now()
		cmd := exec.CommandContext(ctx, bcftools, "csq", "-f", fa, "-g", *gffPath, "-l", "-Ov", "-o", filepath.Join(dir, "bcftools.vcf"), input)
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
	configs := []struct {
		name    string
		threads int
		tsv     bool
	}{
		{"clinomics annotate, 1 thread, VCF", 1, false},
		{fmt.Sprintf("clinomics annotate, %d threads, VCF", threads), threads, false},
		{fmt.Sprintf("clinomics annotate, %d threads, VCF+TSV", threads), threads, true},
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
			r, err := ours(c.threads, c.tsv)
			if err != nil {
				return err
			}
			r.name = c.name
			round = append(round, r)
		}
		if bcftools != "" {
			total, cpu, err := bcf(vcfPath)
			if err != nil {
				return err
			}
			load, _, err := bcf(oneVCF)
			if err != nil {
				return err
			}
			round = append(round, result{name: "bcftools csq -l (1 thread), VCF", total: total, work: max(total-load, time.Millisecond), cpu: cpu})
		}
		fmt.Fprintf(e.stdout, "run %d:\n", run)
		for _, r := range round {
			fmt.Fprintf(e.stdout, "  %-42s %8.0f/s end to end (%.2fs, CPU %.2fs), %8.0f/s annotation only (%.2fs)\n",
				r.name, rate(r.total), r.total.Seconds(), r.cpu.Seconds(), rate(r.work), r.work.Seconds())
			add(r)
		}
		if bcftools != "" {
			b := round[len(round)-1]
			fmt.Fprintf(e.stdout, "  ratio ours/bcftools (end to end; annotation only):")
			for _, r := range round[:len(round)-1] {
				fmt.Fprintf(e.stdout, " %.2fx; %.2fx (%s)", b.total.Seconds()/r.total.Seconds(), b.work.Seconds()/r.work.Seconds(), strings.TrimPrefix(r.name, "clinomics annotate, "))
			}
			fmt.Fprintln(e.stdout)
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
		fmt.Fprintf(e.stdout, "  %-42s end to end %8.0f - %8.0f, annotation only %8.0f - %8.0f\n", name, slices.Min(tot), slices.Max(tot), slices.Min(work), slices.Max(work))
	}
	return nil
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
