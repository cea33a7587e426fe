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
