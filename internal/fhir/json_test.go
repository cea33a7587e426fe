package fhir

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// sharedFHIR holds the official R4 and Genomics Reporting examples.
const sharedFHIR = "../../../shared/data/fhir"

// exampleFiles returns the JSON resources of the shared examples and of
// testdata: every *.json but npm's package.json manifest of the examples.
func exampleFiles(t testing.TB) []string {
	t.Helper()
	var files []string
	for _, root := range []string{sharedFHIR, "testdata"} {
		err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.HasSuffix(path, ".json") && d.Name() != "package.json" {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			if root == sharedFHIR && errors.Is(err, os.ErrNotExist) {
				t.Logf("no shared examples at %s", sharedFHIR)
				continue
			}
			t.Fatal(err)
		}
	}
	sort.Strings(files)
	return files
}

// tree decodes JSON with numbers kept as their literal text.
func tree(t testing.TB, data []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return v
}

// diffTrees returns the first difference between two decoded JSON trees,
// "" when they are the same (numbers compare as their literal text).
func diffTrees(path string, a, b any) string {
	switch a := a.(type) {
	case map[string]any:
		bm, ok := b.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: object vs %T", path, b)
		}
		for k, v := range a {
			w, ok := bm[k]
			if !ok {
				return fmt.Sprintf("%s.%s: missing after round trip", path, k)
			}
			if d := diffTrees(path+"."+k, v, w); d != "" {
				return d
			}
		}
		for k := range bm {
			if _, ok := a[k]; !ok {
				return fmt.Sprintf("%s.%s: added by round trip", path, k)
			}
		}
		return ""
	case []any:
		ba, ok := b.([]any)
		if !ok || len(ba) != len(a) {
			return fmt.Sprintf("%s: array of %d vs %v", path, len(a), b)
		}
		for i := range a {
			if d := diffTrees(fmt.Sprintf("%s[%d]", path, i), a[i], ba[i]); d != "" {
				return d
			}
		}
		return ""
	}
	if !reflect.DeepEqual(a, b) {
		return fmt.Sprintf("%s: %#v vs %#v", path, a, b)
	}
	return ""
}

// TestRoundTripExamples: every JSON example parses into its modelled type
// and writes back the same JSON tree.
func TestRoundTripExamples(t *testing.T) {
	files := exampleFiles(t)
	if len(files) == 0 {
		t.Skip("no examples")
	}
	modelled := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		r, err := Parse(data)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if _, raw := r.(*RawResource); !raw {
			modelled++
		}
		out, err := Marshal(r)
		if err != nil {
			t.Errorf("%s: marshal: %v", f, err)
			continue
		}
		if d := diffTrees(r.ResourceType(), tree(t, data), tree(t, out)); d != "" {
			t.Errorf("%s: %s", f, d)
		}
		// A second round trip is byte-identical to the first.
		r2, err := Parse(out)
		if err != nil {
			t.Errorf("%s: reparse: %v", f, err)
			continue
		}
		out2, _ := Marshal(r2)
		if !bytes.Equal(out, out2) {
			t.Errorf("%s: second round trip differs", f)
		}
	}
	t.Logf("%d JSON examples round-tripped (%d as modelled types)", len(files), modelled)
}
