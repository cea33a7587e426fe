package format

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func write(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func gz(parts ...string) []byte {
	var b bytes.Buffer
	for _, p := range parts { // one gzip member per part, as BGZF writes
		w := gzip.NewWriter(&b)
		w.Write([]byte(p))
		w.Close()
	}
	return b.Bytes()
}

func read(path string) (string, error) {
	f, err := OpenFile(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	return string(b), err
}

func TestOpenFile(t *testing.T) {
	for name, data := range map[string][]byte{
		"plain.txt":       []byte("hello world\n"),
		"members.gz":      gz("hello ", "world\n"),
		"empty-member.gz": gz("hello world\n", ""),
	} {
		got, err := read(write(t, name, data))
		if err != nil || got != "hello world\n" {
			t.Errorf("%s: %q, %v", name, got, err)
		}
	}
	// A real BGZF file (bgzip output with its EOF block).
	got, err := read("../../testdata/demo/test_nist.b37_chr20_100kbp_at_10mb.vcf.gz")
	if err != nil || !strings.HasPrefix(got, "##fileformat=VCF") {
		t.Errorf("BGZF: %.40q, %v", got, err)
	}
	if got, err := read(write(t, "empty", nil)); err != nil || got != "" {
		t.Errorf("empty file: %q, %v", got, err)
	}
}

func TestOpenFileErrors(t *testing.T) {
	full := gz(strings.Repeat("ACGT", 10000))
	p := write(t, "cut.fastq.gz", full[:len(full)/2])
	_, err := read(p)
	if !errors.Is(err, ErrTruncated) || !errors.Is(err, io.ErrUnexpectedEOF) || !strings.Contains(err.Error(), "cut.fastq.gz") {
		t.Errorf("truncated: %v", err)
	}
	bad := bytes.Clone(full)
	bad[len(bad)-6] ^= 0xff // CRC
	if _, err := read(write(t, "crc.gz", bad)); err == nil || !strings.Contains(err.Error(), "crc.gz") {
		t.Errorf("corrupt CRC: %v", err)
	}
	if _, err := read(write(t, "header.gz", []byte{0x1f, 0x8b, 0})); err == nil || !strings.Contains(err.Error(), "header.gz") {
		t.Errorf("bad header: %v", err)
	}
	if _, err := OpenFile(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
}
