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
	"sort"
	"time"

	"github.com/clinomics/clinomics/internal/annotate"
	"github.com/clinomics/clinomics/internal/annotate/genemodel"
)

// benchAnnotate annotates a synthetic VCF across the transcripts of a
// real GFF3 with our annotator (1 worker and all CPUs) and with
// bcftools csq, on the same synthetic reference, and reports variants/s.
func benchAnnotate(ctx context.Context, e *env, args []string) error {
	fs, _ := flags(e, "bench annotate")
	gffPath := fs.String("gff", "../shared/data/annotation/ensembl-vep/test.gff.gz", "Ensembl GFF3 (bcftools csq needs Ensembl style)")
	n := fs.Int("variants", 200000, "variants to generate")
	outDir := fs.String("out", "", "scratch directory (default: a temporary directory, removed)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of our runs here")
	if _, err := parse(fs, args); err != nil {
		return err
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
	fa, vcfPath := filepath.Join(dir, "ref.fa"), filepath.Join(dir, "in.vcf")
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
	fmt.Fprintf(e.stdout, "input: %d variants on %s (%d transcripts of %s), synthetic reference of %d bases\n", *n, chrom, len(model.Transcripts), filepath.Base(*gffPath), len(seq))

	ours := func(threads int) (time.Duration, time.Duration, error) {
		start := time.Now()
		m, err := genemodel.BuildFile(*gffPath)
		if err != nil {
			return 0, 0, err
		}
		ref, err := annotate.LoadReference(fa)
		if err != nil {
			return 0, 0, err
		}
		defer ref.Close()
		in, err := os.Open(vcfPath)
		if err != nil {
			return 0, 0, err
		}
		defer in.Close()
		ann := annotate.New(m, ref, annotate.Options{Threads: threads})
		t0 := time.Now()
		// The annotated VCF only, as bcftools csq writes.
		_, err = ann.Run(ctx, in, vcfPath, io.Discard, nil)
		return time.Since(start), time.Since(t0), err
	}
	rate := func(d time.Duration) float64 { return float64(*n) / d.Seconds() }
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
	all := runtime.NumCPU()
	t1, a1, err := ours(1)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "clinomics annotate, 1 thread:   %8.0f variants/s end to end (%.2fs; annotation alone %.2fs, %.0f/s)\n", rate(t1), t1.Seconds(), a1.Seconds(), rate(a1))
	tn, an, err := ours(all)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "clinomics annotate, %d threads: %8.0f variants/s end to end (%.2fs; annotation alone %.2fs, %.0f/s)\n", all, rate(tn), tn.Seconds(), an.Seconds(), rate(an))

	bcftools, err := exec.LookPath("bcftools")
	if err != nil {
		fmt.Fprintln(e.stdout, "bcftools not installed: no comparison")
		return nil
	}
	start := time.Now()
	cmd := exec.CommandContext(ctx, bcftools, "csq", "-f", fa, "-g", *gffPath, "-l", "-Ov", "-o", filepath.Join(dir, "bcftools.vcf"), vcfPath)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("bcftools csq: %w\n%s", err, stderr.Bytes())
	}
	tb := time.Since(start)
	fmt.Fprintf(e.stdout, "bcftools csq (1 thread):        %8.0f variants/s end to end (%.2fs)\n", rate(tb), tb.Seconds())
	fmt.Fprintf(e.stdout, "ratio, ours / bcftools csq: %.2fx on 1 thread, %.2fx on %d threads\n", tb.Seconds()/t1.Seconds(), tb.Seconds()/tn.Seconds(), all)
	return nil
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
