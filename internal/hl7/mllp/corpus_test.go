package mllp

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// corpusDir holds the real HL7 v2 messages of /work/shared/data (see its
// SOURCES.md), found from this directory.
const corpusDir = "../../../../shared/data/hl7v2"

// badInputsDir holds nHapi's fuzzer-found malformed messages.
const badInputsDir = corpusDir + "/nhapi/tests/NHapi.NUnit/TestData/BadInputs"

type corpusMessage struct {
	name string // file#n
	data []byte // segments terminated by CR
}

// corpusMessages returns every message of the corpus files that hold
// messages, split at their MSH segments, with LF and CRLF segment
// terminators made CR (as a sender's interface engine does) and lines that
// are not segments (comments, blank lines) left out. Skips without the
// corpus.
func corpusMessages(t testing.TB) []corpusMessage {
	t.Helper()
	if _, err := os.Stat(corpusDir); err != nil {
		t.Skipf("HL7 v2 corpus not found at %s (/work/shared/data/hl7v2): %v", corpusDir, err)
	}
	var msgs []corpusMessage
	err := filepath.WalkDir(corpusDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == "BadInputs" {
				return filepath.SkipDir
			}
			return nil
		}
		ext := filepath.Ext(path)
		if ext != ".txt" && ext != ".hl7" || strings.HasPrefix(d.Name(), "LICENSE") || d.Name() == "RENAMED.txt" {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(corpusDir, path)
		for i, m := range splitMessages(b) {
			msgs = append(msgs, corpusMessage{name: rel + "#" + strconv.Itoa(i+1), data: m})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) < 40 {
		t.Fatalf("only %d messages in %s", len(msgs), corpusDir)
	}
	return msgs
}

// splitMessages cuts a file into messages at MSH segments.
func splitMessages(b []byte) [][]byte {
	b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\r"))
	b = bytes.ReplaceAll(b, []byte("\n"), []byte("\r"))
	var msgs [][]byte
	var cur []byte
	var sep byte
	for _, line := range bytes.Split(b, []byte("\r")) {
		if len(line) > 8 && bytes.HasPrefix(line, []byte("MSH")) {
			if cur != nil {
				msgs = append(msgs, cur)
			}
			sep = line[3]
			cur = append(append([]byte(nil), line...), '\r')
			continue
		}
		if cur != nil && isSegment(line, sep) {
			cur = append(append(cur, line...), '\r')
		}
	}
	if cur != nil {
		msgs = append(msgs, cur)
	}
	return msgs
}

func isSegment(line []byte, sep byte) bool {
	if len(line) < 4 || line[3] != sep {
		return false
	}
	for _, c := range line[:3] {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// corpusSeeds returns the corpus messages and the malformed inputs, as
// they are, for fuzzing; a made-up message without the corpus.
func corpusSeeds(f *testing.F) [][]byte {
	if _, err := os.Stat(corpusDir); err != nil {
		return [][]byte{[]byte("MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5\rPID|1\r")}
	}
	var seeds [][]byte
	for _, m := range corpusMessages(f) {
		seeds = append(seeds, m.data)
	}
	return append(seeds, badInputs(f)...)
}

// badInputs returns nHapi's fuzzer-found malformed messages, as they are.
func badInputs(t testing.TB) [][]byte {
	t.Helper()
	if _, err := os.Stat(badInputsDir); err != nil {
		t.Skipf("malformed inputs not found at %s: %v", badInputsDir, err)
	}
	var bad [][]byte
	err := filepath.WalkDir(badInputsDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		bad = append(bad, b)
		return err
	})
	if err != nil {
		t.Fatalf("reading the malformed inputs: %v", err)
	}
	return bad
}
