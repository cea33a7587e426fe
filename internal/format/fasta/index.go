package fasta

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// IndexEntry is one line of a samtools .fai index.
type IndexEntry struct {
	Name      string
	Length    int64 // bases
	Offset    int64 // byte offset of the first base
	LineBases int64 // bases per line
	LineWidth int64 // bytes per line, including the line ending
	Line      int   // line in the index file
}

// ReadIndex parses a .fai index; file names it in errors.
func ReadIndex(r io.Reader, file string) ([]IndexEntry, error) {
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 4096), 1<<20)
	var out []IndexEntry
	seen := map[string]int{}
	line := 0
	errf := func(f string, a ...any) error {
		return fmt.Errorf("%s: line %d: %s", file, line, fmt.Sprintf(f, a...))
	}
	for s.Scan() {
		line++
		text := strings.TrimRight(s.Text(), "\r")
		if text == "" {
			continue
		}
		f := strings.Split(text, "\t")
		if len(f) != 5 && len(f) != 6 { // 6 columns: FASTQ index
			return nil, errf("need 5 tab-separated columns (name, length, offset, linebases, linewidth), found %d", len(f))
		}
		e := IndexEntry{Name: f[0], Line: line}
		if e.Name == "" {
			return nil, errf("empty sequence name")
		}
		if first, dup := seen[e.Name]; dup {
			return nil, errf("%s: %q (first at line %d)", ErrDupName, e.Name, first)
		}
		seen[e.Name] = line
		nums := []*int64{&e.Length, &e.Offset, &e.LineBases, &e.LineWidth}
		cols := []string{"length", "offset", "linebases", "linewidth"}
		for i, p := range nums {
			v, err := strconv.ParseInt(f[i+1], 10, 64)
			if err != nil || v < 0 {
				return nil, errf("%s %q is not a non-negative integer", cols[i], f[i+1])
			}
			*p = v
		}
		switch {
		case e.Length > 0 && e.LineBases == 0:
			return nil, errf("linebases is 0 for a non-empty sequence")
		case e.LineWidth < e.LineBases || (e.LineBases > 0 && e.LineWidth > e.LineBases+2):
			return nil, errf("linewidth %d does not fit linebases %d", e.LineWidth, e.LineBases)
		}
		out = append(out, e)
	}
	if err := s.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("%s: line %d: line longer than 1 MiB", file, line+1)
		}
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: empty index", file)
	}
	return out, nil
}

// ReadIndexFile reads the .fai file at path.
func ReadIndexFile(path string) ([]IndexEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadIndex(f, path)
}
