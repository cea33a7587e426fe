package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGroupHelp: the bug where `clinomics hl7 -h` (a command group with
// -h) printed `unknown command "hl7 -h"` and every command.
func TestGroupHelp(t *testing.T) {
	run := inProcess(t)
	for _, tc := range []struct {
		args []string
		code int
		want []string
		not  string
	}{
		{[]string{"hl7", "-h"}, 0, []string{"hl7 send", "hl7 queue", "hl7 errors", "print each ACK"}, "extract load"},
		{[]string{"hl7", "--help"}, 0, []string{"hl7 send", "hl7 retry"}, "report sign"},
		{[]string{"extract", "--help"}, 0, []string{"extract load", "--rejects DIR"}, "hl7 send"},
		{[]string{"fhir", "orders", "-h"}, 0, []string{"fhir orders pull"}, "fhir jwks"},
		{[]string{"help", "report"}, 0, []string{"report sign", "report render"}, "hl7 send"},
		{[]string{"hl7"}, 2, []string{"hl7 send"}, "extract load"},
		{[]string{"hl7", "sned"}, 2, []string{`unknown command "hl7 sned"`, "hl7 send"}, "extract load"},
	} {
		out, errs, code := run(tc.args...)
		all := out + errs
		if code != tc.code || strings.Contains(all, "unknown command \""+strings.Join(tc.args, " ")+"\"") && tc.code == 0 || strings.Contains(all, tc.not) {
			t.Errorf("clinomics %s: exit %d\n%s", strings.Join(tc.args, " "), code, all)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(all, w) {
				t.Errorf("clinomics %s: lacks %q\n%s", strings.Join(tc.args, " "), w, all)
			}
		}
	}
}

// TestHL7EmptyFile: the bug where `hl7 send empty.hl7` and `hl7 queue
// empty.hl7` said "0 messages…" and exited 0.
func TestHL7EmptyFile(t *testing.T) {
	run := inProcess(t)
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.hl7")
	os.WriteFile(empty, nil, 0o600)
	comments := filepath.Join(dir, "comments.hl7")
	os.WriteFile(comments, []byte("# nothing here\n\n"), 0o600)
	site := filepath.Join(dir, "site.yaml")
	os.WriteFile(site, []byte("hl7:\n  outbound:\n    address: 127.0.0.1:9\n"), 0o600)
	for _, args := range [][]string{
		{"hl7", "send", "--to", "127.0.0.1:9", empty},
		{"hl7", "send", "--to", "127.0.0.1:9", comments},
		{"hl7", "queue", "--config", site, empty},
	} {
		f := args[len(args)-1]
		out, errs, code := run(args...)
		if code != 1 || !strings.Contains(errs, "no HL7 messages in "+f) || strings.Contains(out+errs, "0 messages") {
			t.Errorf("clinomics %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
		}
	}
}
