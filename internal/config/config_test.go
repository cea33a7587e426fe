package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDefaultsAreValid(t *testing.T) {
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if c.Executor.Kind != "local" || c.Germline.Caller != "bcftools" || c.Server.Listen != "127.0.0.1:8080" {
		t.Errorf("unexpected defaults: %+v", c)
	}
	if strings.HasPrefix(c.DataDir, "~") {
		t.Errorf("data_dir not expanded: %s", c.DataDir)
	}
	if c.CatalogDSN() != filepath.Join(c.DataDir, "catalog.db") {
		t.Errorf("default catalog %s", c.CatalogDSN())
	}
}

func TestLoadErrorsNameTheKey(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown key", "executor:\n  kind: local\n  colour: blue\n", []string{"line 3", "colour"}},
		{"bad value", "executor:\n  kind: kubernetes\n", []string{"executor.kind", "kubernetes"}},
		{"bad duration", "server:\n  read_timeout: soon\n", []string{"line 2", "soon"}},
		{"several problems", "germline:\n  caller: gatk\nlog:\n  level: loud\n", []string{"germline.caller", "log.level"}},
		{"bad dsn", "catalog:\n  dsn: mysql://x\n", []string{"catalog.dsn"}},
		{"not yaml", "{{{", []string{"site.yaml"}},
		{"outbound address without a port", "hl7:\n  outbound:\n    address: nohostport\n", []string{"hl7.outbound.address", "HOST:PORT"}},
		{"outbound address without a host", "hl7:\n  outbound:\n    address: \":2575\"\n", []string{"hl7.outbound.address", "host"}},
		{"outbound address with a bad port", "hl7:\n  outbound:\n    address: ehr:http\n", []string{"hl7.outbound.address", "port"}},
		{"syslog address without a port", "audit:\n  syslog:\n    address: siem\n    ca_file: ca.pem\n", []string{"audit.syslog.address"}},
		{"watch without mapping", "extract:\n  watch:\n    - dir: /x\n", []string{"extract.watch[0]", "mapping"}},
		{"one folder watched twice", "extract:\n  watch:\n    - {dir: /x, mapping: a.yaml}\n    - {dir: /x/, mapping: b.yaml}\n", []string{"extract.watch[1].dir"}},
		{"bad watch pattern", "extract:\n  watch:\n    - {dir: /x, mapping: a.yaml, pattern: '['}\n", []string{"extract.watch[0].pattern"}},
		{"authority alias twice", "clinical:\n  authorities:\n    HOSP: [X]\n    LAB: [X]\n", []string{"clinical.authorities", `"X"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "site.yaml")
			os.WriteFile(p, []byte(c.yaml), 0o644)
			_, err := Load(p)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestHostPortAccepted(t *testing.T) {
	for _, addr := range []string{"ehr.example.org:2575", "10.0.0.7:6661", "[::1]:2575"} {
		p := filepath.Join(t.TempDir(), "site.yaml")
		os.WriteFile(p, []byte("hl7:\n  outbound:\n    address: \""+addr+"\"\n"), 0o644)
		if _, err := Load(p); err != nil {
			t.Errorf("%s: %v", addr, err)
		}
	}
}

func TestOverrideAndRedaction(t *testing.T) {
	p := filepath.Join(t.TempDir(), "site.yaml")
	os.WriteFile(p, []byte("catalog:\n  dsn: postgres://lab:s3cret@db.example:5432/clin?sslmode=verify-full\ngermline:\n  caller: freebayes\n"), 0o644)
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if c.Germline.Caller != "freebayes" || c.Executor.Kind != "local" {
		t.Errorf("override lost defaults: %+v", c)
	}
	b, err := c.Redacted().YAML()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "s3cret") || !strings.Contains(string(b), "REDACTED") {
		t.Errorf("dump not redacted:\n%s", b)
	}
	if c.Catalog.DSN == c.Redacted().Catalog.DSN {
		t.Error("Redacted changed nothing")
	}
	if !strings.Contains(c.Catalog.DSN, "s3cret") {
		t.Error("Redacted modified the original")
	}
}

func TestEnvironmentOverrides(t *testing.T) {
	t.Setenv("CLINOMICS_DATA_DIR", "/srv/clinomics")
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "/srv/clinomics" {
		t.Errorf("data dir %s", c.DataDir)
	}
}
