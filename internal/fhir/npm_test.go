package fhir

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/clinomics/clinomics/internal/testtools"
)

// fhirValidator returns the node binary, with the npm package fhir
// (FHIR.js) that scripts/node/fhir-validate.mjs uses, or skips the test
// (see testtools).
func fhirValidator(t *testing.T) string {
	t.Helper()
	return testtools.Node(t, "fhir")
}

// validationLine is a line of fhir-validate.mjs's output.
type validationLine struct {
	File         string `json:"file"`
	Location     string `json:"location"`
	ResourceType string `json:"resourceType"`
	Valid        bool   `json:"valid"`
	Messages     []struct {
		Severity string `json:"severity"`
		Location string `json:"location"`
		Message  string `json:"message"`
	} `json:"messages"`
}

// runFHIRValidate validates the files with fhir-validate.mjs --entries.
func runFHIRValidate(t *testing.T, node string, files []string) []validationLine {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{filepath.Join(testtools.NodeDir(), "fhir-validate.mjs"), "--entries"}, files...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); err != nil && (!ok || ee.ExitCode() != 1) {
		t.Fatalf("fhir-validate.mjs: %v\n%s", err, stderr.String())
	}
	var lines []validationLine
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var l validationLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("fhir-validate.mjs output line of %d bytes: %v", len(sc.Bytes()), err)
		}
		lines = append(lines, l)
	}
	return lines
}

// TestNPMValidatesBundles: FHIR.js validates every bundle the tests emit,
// and each of their entries, against the R4 structure definitions,
// without an error.
func TestNPMValidatesBundles(t *testing.T) {
	node := fhirValidator(t)
	// Build the bundles of the other tests (the map is filled by them when
	// they ran first; build them here too so this test stands alone).
	for name, r := range map[string]func() BundleOptions{
		"three-variants": testBundleOptions,
		"amended-document": func() BundleOptions {
			o := testBundleOptions()
			o.PDFAsDocument = true
			return o
		},
	} {
		rep := threeVariants()
		if name == "amended-document" {
			rep = amendedReport()
		}
		buildBundle(t, name, rep, r())
	}
	buildBundle(t, "no-variants", noVariantReport(), testBundleOptions())
	buildBundle(t, "bench-50", benchReport(50), testBundleOptions())

	dir := t.TempDir()
	var files []string
	names := make([]string, 0, len(emitted))
	for name := range emitted {
		names = append(names, name)
	}
	sort.Strings(names)
	entries := 0
	for _, name := range names {
		b := emitted[name]
		data, err := Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(dir, name+".json")
		if err := os.WriteFile(f, data, 0o600); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
		entries += len(b.Entry)
	}
	lines := runFHIRValidate(t, node, files)
	if len(lines) != len(files)+entries {
		t.Fatalf("%d results for %d bundles with %d entries", len(lines), len(files), entries)
	}
	warnings := 0
	for _, l := range lines {
		for _, m := range l.Messages {
			switch m.Severity {
			case "error":
				t.Errorf("%s %s: %s: %s", filepath.Base(l.File), l.Location, m.Location, m.Message)
			case "warning":
				warnings++
			}
		}
		if !l.Valid {
			t.Errorf("%s %s: not valid", filepath.Base(l.File), l.Location)
		}
	}
	t.Logf("FHIR.js validated %d bundles and their %d entries: no error, %d warnings", len(files), entries, warnings)
}

// TestNPMRejectsBrokenResource: the validator does fail on a resource our
// Validate also rejects, so a passing run above means something.
func TestNPMRejectsBrokenResource(t *testing.T) {
	node := fhirValidator(t)
	f := filepath.Join(t.TempDir(), "broken.json")
	data := []byte(`{"resourceType":"Observation","status":"done","code":{"text":"x"},"valueQuantity":{"value":"1.5"},"unknownThing":1}`)
	if err := os.WriteFile(f, data, 0o600); err != nil {
		t.Fatal(err)
	}
	lines := runFHIRValidate(t, node, []string{f})
	if len(lines) != 1 || lines[0].Valid {
		t.Fatalf("FHIR.js accepted a broken observation: %+v", lines)
	}
	if _, err := Parse(data); err == nil {
		t.Error("Parse accepted a string decimal")
	}
}
