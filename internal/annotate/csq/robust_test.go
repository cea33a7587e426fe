package csq

import (
	"errors"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/clinomics/clinomics/internal/annotate/genemodel"
	"github.com/clinomics/clinomics/internal/format/fasta"
)

// TestRandomVariantsDoNotPanic throws random SNVs, MNVs, insertions,
// deletions and delins of up to 40 bases, everywhere on real transcripts
// of both strands (contig ends included), at the predictor.
func TestRandomVariantsDoNotPanic(t *testing.T) {
	for _, name := range []string{"ENST00000218032", "ENST00000409523", "ENST00000573314", "ENST00000528237"} {
		dir := filepath.Join(csqData, name)
		m, err := genemodel.BuildFile(filepath.Join(dir, name+".gff"))
		if err != nil {
			t.Skipf("shared data: %v", err)
		}
		seqs, err := fasta.LoadAll(filepath.Join(dir, name+".fa"))
		if err != nil {
			t.Fatal(err)
		}
		a := New(m, mapRef(seqs))
		r := rand.New(rand.NewPCG(3, 4))
		for chrom, s := range seqs {
			for range 3000 {
				pos := 1 + r.IntN(len(s))
				n := 1 + r.IntN(40)
				if r.IntN(2) == 0 {
					n = 1 + r.IntN(3)
				}
				end := min(pos+n-1, len(s))
				ref := string(s[pos-1 : end])
				alt := make([]byte, r.IntN(len(ref)+40))
				for i := range alt {
					alt[i] = "ACGT"[r.IntN(4)]
				}
				if len(alt) == 0 || r.IntN(3) == 0 {
					alt = append([]byte{ref[0]}, alt...) // anchored insertion or deletion
				}
				res, err := a.Annotate(Variant{Chrom: chrom, Pos: int64(pos), Ref: ref, Alt: string(alt)})
				if err != nil && !errors.Is(err, ErrUnsupported) {
					t.Fatalf("%s:%d %s>%s: %v", chrom, pos, ref, alt, err)
				}
				if err == nil && len(res.Effects) == 0 {
					t.Fatalf("%s:%d %s>%s: no effects", chrom, pos, ref, alt)
				}
			}
		}
	}
}
