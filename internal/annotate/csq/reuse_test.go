package csq

import (
	"errors"
	"math"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"

	"github.com/clinomics/clinomics/internal/annotate/genemodel"
	"github.com/clinomics/clinomics/internal/format/fasta"
)

// TestAnnotateToMatchesAnnotate runs random variants through one reused
// Result and through Annotate, and checks that the effects agree and
// that strings handed out earlier do not change as the Result is reused.
func TestAnnotateToMatchesAnnotate(t *testing.T) {
	name := "ENST00000409523"
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
	r := rand.New(rand.NewPCG(5, 6))
	var reused Result
	type kept struct {
		v    Variant
		want []Effect
		got  []Effect // copied from reused: its strings point into reused's arena
	}
	var all []kept
	for chrom, s := range seqs {
		for range 2000 {
			pos := 1 + r.IntN(len(s)-1)
			end := min(pos+r.IntN(6), len(s))
			ref := string(s[pos-1 : end])
			alt := make([]byte, 1+r.IntN(8))
			for i := range alt {
				alt[i] = "ACGT"[r.IntN(4)]
			}
			if r.IntN(2) == 0 {
				alt[0] = ref[0]
			}
			v := Variant{Chrom: chrom, Pos: int64(pos), Ref: ref, Alt: string(alt)}
			want, err1 := a.Annotate(v)
			err2 := a.AnnotateTo(&reused, v)
			if (err1 == nil) != (err2 == nil) || (err1 != nil && !errors.Is(err1, ErrUnsupported)) {
				t.Fatalf("%+v: Annotate %v, AnnotateTo %v", v, err1, err2)
			}
			if err1 != nil {
				continue
			}
			if !reflect.DeepEqual(want.Effects, reused.Effects) || want.HGVSg != reused.HGVSg {
				t.Fatalf("%+v:\nAnnotate   %s %+v\nAnnotateTo %s %+v", v, want.HGVSg, want.Effects, reused.HGVSg, reused.Effects)
			}
			got := make([]Effect, len(reused.Effects))
			copy(got, reused.Effects)
			for i := range got {
				got[i].Terms = append([]string(nil), got[i].Terms...) // Terms slices are reused
			}
			all = append(all, kept{v, want.Effects, got})
		}
	}
	for _, k := range all {
		if !reflect.DeepEqual(k.want, k.got) {
			t.Fatalf("%+v: the strings of an earlier result changed", k.v)
		}
	}
}

func TestAppendInt(t *testing.T) {
	vals := []int64{0, 1, 9, 10, 99, 100, 101, 12345, 46709983, math.MaxInt64, math.MinInt64, -1, -10, -100}
	for x := int64(1); x > 0 && x < math.MaxInt64/10; x *= 10 {
		vals = append(vals, x-1, x, x+1, -x)
	}
	for _, v := range vals {
		if got, want := string(AppendInt([]byte("x"), v)), "x"+strconv.FormatInt(v, 10); got != want {
			t.Errorf("%d: %s, want %s", v, got, want)
		}
	}
}

// TestRecycle annotates with one Result recycled every few variants
// and compares each result, as it comes, with Annotate's.
func TestRecycle(t *testing.T) {
	a := testAnnotator(t)
	seq := testContig()
	r := rand.New(rand.NewPCG(7, 8))
	var res Result
	for i := range 3000 {
		if i%7 == 0 {
			res.Recycle()
		}
		pos := 1 + r.IntN(len(seq)-4)
		ref := string(seq[pos-1 : pos+r.IntN(3)])
		ins := make([]byte, r.IntN(3))
		for j := range ins {
			ins[j] = "ACGT"[r.IntN(4)]
		}
		alt := string(seq[pos-1]) + string(ins)
		if len(ins) == 0 {
			alt = string("ACGT"[r.IntN(4)])
		}
		v := Variant{Chrom: "c1", Pos: int64(pos), Ref: ref, Alt: alt}
		want, err1 := a.Annotate(v)
		err2 := a.AnnotateTo(&res, v)
		if (err1 == nil) != (err2 == nil) {
			t.Fatalf("%+v: Annotate %v, AnnotateTo %v", v, err1, err2)
		}
		if err1 == nil && (!reflect.DeepEqual(want.Effects, res.Effects) || want.HGVSg != res.HGVSg) {
			t.Fatalf("%+v:\nAnnotate   %s %+v\nAnnotateTo %s %+v", v, want.HGVSg, want.Effects, res.HGVSg, res.Effects)
		}
	}
}
