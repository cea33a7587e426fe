package cli_test

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clinomics/clinomics/internal/cli"
)

// auditCLI runs clinomics commands in this process over a data directory
// of their own (embedded SQLite catalog, local keyring).
type auditCLI struct {
	t    *testing.T
	data string
}

func newAuditCLI(t *testing.T) *auditCLI {
	data := t.TempDir()
	t.Setenv("CLINOMICS_DATA_DIR", data)
	t.Setenv("CLINOMICS_KEYRING_PASSPHRASE", "audit cli test")
	t.Setenv("CLINOMICS_CONFIG", "")
	t.Setenv("CLINOMICS_CATALOG_DSN", "")
	return &auditCLI{t, data}
}

func (c *auditCLI) run(args ...string) (string, string, int) {
	c.t.Helper()
	var out, errb bytes.Buffer
	code := cli.Main(args, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), code
}

func (c *auditCLI) must(args ...string) string {
	c.t.Helper()
	out, errs, code := c.run(args...)
	if code != 0 {
		c.t.Fatalf("clinomics %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// TestAuditCommands: lake actions leave records; the key is made and
// printed; a checkpoint is signed; the report, the export and verify see
// the trail; an edit in the database is named by verify (exit 3), and no
// checkpoint is signed over it.
func TestAuditCommands(t *testing.T) {
	c := newAuditCLI(t)
	in := filepath.Join(t.TempDir(), "in.txt")
	if err := os.WriteFile(in, []byte("not patient data"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.must("lake", "put", in, "p/x.txt", "--patient", "p42")
	c.must("lake", "hold", "p/x.txt", "--reason", "case 7")
	if _, _, code := c.run("lake", "rm", "p/x.txt"); code == 0 {
		t.Fatal("delete under legal hold succeeded")
	}
	c.must("lake", "release", "p/x.txt")
	c.must("lake", "rm", "p/x.txt")

	pem := c.must("audit", "pubkey")
	if !strings.Contains(pem, "BEGIN PUBLIC KEY") || pem != c.must("audit", "pubkey") {
		t.Fatalf("audit pubkey printed %q, then something else", pem)
	}
	pub := filepath.Join(t.TempDir(), "audit.pem")
	if err := os.WriteFile(pub, []byte(pem), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := c.must("audit", "checkpoint"); !strings.Contains(out, "checkpoint: seq 5") {
		t.Fatalf("audit checkpoint: %s", out)
	}
	if out := c.must("audit", "verify", "--pubkey", pub); !strings.Contains(out, "5 records") || !strings.Contains(out, "1 verified") || !strings.HasSuffix(out, "ok\n") {
		t.Fatalf("audit verify: %s", out)
	}

	var rep struct {
		Patient string
		Records []struct {
			Seq             int64
			Actor, Action   string
			Outcome, Source string
		}
	}
	if err := json.Unmarshal([]byte(c.must("audit", "report", "--patient", "p42", "--json")), &rep); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rep.Records {
		got = append(got, r.Action+" "+r.Outcome)
	}
	if want := "lake.write ok, lake.hold ok, lake.delete refused, lake.release ok, lake.delete ok"; strings.Join(got, ", ") != want {
		t.Errorf("report: %s, want %s", strings.Join(got, ", "), want)
	}
	// The report itself was recorded, and is in the next one.
	if table := c.must("audit", "report", "--patient", "p42"); !strings.Contains(table, "audit.report") || !strings.Contains(table, "refused") {
		t.Errorf("report table:\n%s", table)
	}

	export := filepath.Join(t.TempDir(), "audit.jsonl")
	c.must("audit", "export", "--jsonl", export)
	c.must("audit", "export", "--jsonl", export) // resumes: nothing new
	b, err := os.ReadFile(export)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(b, []byte("\n")); n != 7 {
		t.Errorf("export has %d lines, want 7 (5 lake records, 2 reports)", n)
	}
	if out := c.must("audit", "export", "--jsonl", "-"); strings.Count(out, "\n") != 7 {
		t.Errorf("export to stdout:\n%s", out)
	}
	if _, errs, code := c.run("audit", "export", "--syslog", "127.0.0.1:1"); code != 2 || !strings.Contains(errs, "--ca") {
		t.Errorf("syslog without a CA: exit %d: %s", code, errs)
	}

	db, err := sql.Open("sqlite", filepath.Join(c.data, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE audit_events SET outcome = 'ok' WHERE seq = 3`); err != nil {
		t.Fatal(err)
	}
	out, errs, code := c.run("audit", "verify")
	if code != 3 || !strings.Contains(out, "FIRST BAD RECORD seq 3: edited") || !strings.Contains(errs, "first bad record is seq 3") {
		t.Errorf("verify after an edit: exit %d\n%s%s", code, out, errs)
	}
	if _, errs, code := c.run("audit", "checkpoint"); code != 3 || !strings.Contains(errs, "not signing") {
		t.Errorf("checkpoint over a tampered trail: exit %d: %s", code, errs)
	}
}
