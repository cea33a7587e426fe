package reference

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clinomics/clinomics/internal/testtools"
)

func needTools(t *testing.T) {
	testtools.Need(t, "samtools", "bwa")
}

func TestAddPreparesOnceAndOpens(t *testing.T) {
	needTools(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "tiny.fa")
	seq := strings.Repeat("ACGTTGCAAGGCTTAACCGG", 150) // 3 kb
	os.WriteFile(src, []byte(">c1 first\n"+seq+"\n>c2\n"+strings.Repeat("N", 2000)+seq[:1500]+"\n"), 0o644)
	s := &Store{Root: filepath.Join(dir, "refs")}
	ref, err := s.Add(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	if len(ref.Contigs) != 2 || ref.Contigs[1].Length != 3500 {
		t.Errorf("contigs %+v", ref.Contigs)
	}
	for _, f := range append(ref.IndexFiles(), ref.FASTA(), ref.CalledBED()) {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("missing %s", f)
		}
	}
	bed, _ := os.ReadFile(ref.CalledBED())
	if !strings.Contains(string(bed), "c2\t2000\t3500") {
		t.Errorf("called.bed skips the N run: %q", bed)
	}
	again, err := s.Add(context.Background(), src)
	if err != nil || again.Dir != ref.Dir {
		t.Errorf("second add: %v, dir %s vs %s", err, again.Dir, ref.Dir)
	}
	entries, _ := os.ReadDir(s.Root)
	if len(entries) != 1 {
		t.Errorf("%d entries under the store root, want 1 (no temporary left)", len(entries))
	}
	if _, err := Open(ref.Dir); err != nil {
		t.Error(err)
	}
}

func TestAddRejects(t *testing.T) {
	dir := t.TempDir()
	s := &Store{Root: filepath.Join(dir, "refs")}
	fq := filepath.Join(dir, "reads.fastq")
	os.WriteFile(fq, []byte("@r1\nACGT\n+\nIIII\n"), 0o644)
	if _, err := s.Add(context.Background(), fq); err == nil || !strings.Contains(err.Error(), "reads.fastq") || !errors.Is(err, ErrNotFASTA) && !strings.Contains(err.Error(), "not FASTA") {
		t.Errorf("FASTQ as reference: %v", err)
	}
	if _, err := s.Add(context.Background(), filepath.Join(dir, "nope.fa")); err == nil || !strings.Contains(err.Error(), "nope.fa") {
		t.Errorf("missing file: %v", err)
	}
	entries, _ := os.ReadDir(s.Root)
	if len(entries) != 0 {
		t.Errorf("rejected references left %d entries", len(entries))
	}
}
