package compliance_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/clinomics/clinomics/internal/auth"
	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/compliance"
	"github.com/clinomics/clinomics/internal/config"
)

var routes = []compliance.Route{{"GET", "/healthz", auth.PermPublic}, {"GET", "/api/v1/runs", auth.PermRunsRead}}

func results(t *testing.T, cfg *config.Config, st catalog.Store, rs []compliance.Route, now time.Time) map[string]compliance.Result {
	t.Helper()
	res, err := compliance.Check(context.Background(), compliance.Inputs{Config: cfg, Routes: rs, Catalog: st, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]compliance.Result{}
	for _, r := range res {
		if r.Reason == "" || r.Safeguard == "" {
			t.Errorf("%s: no reason or safeguard", r.ID)
		}
		m[r.ID] = r
	}
	return m
}

func open(t *testing.T) (catalog.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "catalog.db")
	st, err := catalog.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, path
}

func TestDefaultsAndAHardenedSite(t *testing.T) {
	st, _ := open(t)
	cfg, err := config.Load("")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	def := results(t, cfg, st, routes, now)
	for id, want := range map[string]bool{
		"access-control.routes": true, "access-control.unique-user": false, "audit.integrity": true,
		"audit.exported": false, "transmission.api": false, "checklist.backups": false, "checklist.encryption-at-rest": true,
	} {
		if def[id].Pass != want {
			t.Errorf("defaults: %s pass=%v, want %v: %s", id, def[id].Pass, want, def[id].Reason)
		}
	}
	cfg.Auth.OIDC.Issuer = "https://login.microsoftonline.com/t/v2.0"
	cfg.Audit.Syslog.Address = "siem.example:6514"
	cfg.Server.TLS.CertFile, cfg.Server.TLS.KeyFile = "/etc/clinomics/tls.crt", "/etc/clinomics/tls.key"
	cfg.Compliance.Backups = "nightly catalog dump and keyring copy to the backup vault; restore tested 2026-10"
	for id, r := range results(t, cfg, st, routes, now) {
		if !r.Pass {
			t.Errorf("hardened: %s fails: %s", id, r.Reason)
		}
	}
	// A route with no permission, or a public one, fails access control.
	bad := append(routes, compliance.Route{"GET", "/api/v1/patients", ""}, compliance.Route{"GET", "/api/v1/dump", auth.PermPublic})
	r := results(t, cfg, st, bad, now)["access-control.routes"]
	if r.Pass || !strings.Contains(r.Reason, "/api/v1/patients") || !strings.Contains(r.Reason, "/api/v1/dump") {
		t.Errorf("bad routes: %+v", r)
	}
	// A plain MLLP listener and feed: data in transit in the clear, a listener open to anyone.
	cfg.HL7.Listen, cfg.HL7.AllowPlain, cfg.HL7.Outbound.Address = "0.0.0.0:2575", true, "ehr.example:2575"
	m := results(t, cfg, st, routes, now)
	if m["checklist.listeners"].Pass || m["transmission.outbound"].Pass || !strings.Contains(m["transmission.outbound"].Reason, "HL7 results") {
		t.Errorf("plain MLLP passes: %+v %+v", m["checklist.listeners"], m["transmission.outbound"])
	}
	cfg.HL7 = config.HL7{}
	cfg.Server.TLS.PlainHTTP = true
	cfg.Auth.OIDC.Issuer = "http://idp.example"
	m = results(t, cfg, st, routes, now)
	if m["transmission.api"].Pass || m["transmission.outbound"].Pass {
		t.Errorf("plain HTTP passes: %+v %+v", m["transmission.api"], m["transmission.outbound"])
	}
}

func TestTamperedAuditTrailFails(t *testing.T) {
	st, path := open(t)
	ctx := context.Background()
	for _, a := range []string{"lake.read", "lake.read", "lake.delete"} {
		if _, err := st.AppendAudit(ctx, catalog.AuditEvent{Actor: "user:u1", Action: a, Resource: "x", Patient: "p1", Outcome: "ok"}); err != nil {
			t.Fatal(err)
		}
	}
	cfg, _ := config.Load("")
	if r := results(t, cfg, st, routes, time.Now())["audit.integrity"]; !r.Pass {
		t.Fatalf("intact trail: %+v", r)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE audit_events SET actor = 'user:someone-else' WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	r := results(t, cfg, st, routes, time.Now())["audit.integrity"]
	if r.Pass || !strings.Contains(r.Reason, "record 2") {
		t.Fatalf("edited trail: %+v", r)
	}
}

func TestUnscrubbedObjectsFail(t *testing.T) {
	st, _ := open(t)
	ctx := context.Background()
	old := time.Now().Add(-60 * 24 * time.Hour)
	v := catalog.ObjectVersion{ID: "v1", Path: "a.fastq", Blob: "objects/1/v1", Size: 1, StoredSize: 29, SHA256: "00", ChunkSize: 65536,
		KeyName: "lake", KeyVersion: "1", WrappedKey: []byte{1}, Kind: "fastq", Tier: "hot", Created: old}
	if err := st.CommitObjectVersion(ctx, v, ""); err != nil {
		t.Fatal(err)
	}
	cfg, _ := config.Load("")
	r := results(t, cfg, st, routes, time.Now())["integrity.stored-data"]
	if r.Pass || !strings.Contains(r.Reason, "1 were not verified") {
		t.Fatalf("never scrubbed: %+v", r)
	}
	v.Verified = time.Now().Add(-time.Hour)
	if err := st.UpdateObjectVersion(ctx, v); err != nil {
		t.Fatal(err)
	}
	if r := results(t, cfg, st, routes, time.Now())["integrity.stored-data"]; !r.Pass {
		t.Fatalf("scrubbed an hour ago: %+v", r)
	}
	v.VerifyError = "chunk 3: authentication failed"
	st.UpdateObjectVersion(ctx, v)
	if r := results(t, cfg, st, routes, time.Now())["integrity.stored-data"]; r.Pass || !strings.Contains(r.Reason, "1 failed") {
		t.Fatalf("failed scrub: %+v", r)
	}
	// A crypto-shredded version is unreadable by design, not a failure.
	v.VerifyError = catalog.VerifyShredded
	st.UpdateObjectVersion(ctx, v)
	if r := results(t, cfg, st, routes, time.Now().Add(90*24*time.Hour))["integrity.stored-data"]; !r.Pass {
		t.Fatalf("shredded version: %+v", r)
	}
}

func TestEncryptionIsCheckedOnTheStoredVersions(t *testing.T) {
	st, _ := open(t)
	ctx := context.Background()
	cfg, _ := config.Load("")
	if r := results(t, cfg, st, routes, time.Now())["access-control.encryption"]; !r.Pass || r.Basis != compliance.Checked || !strings.Contains(r.Reason, "0 stored object versions") {
		t.Fatalf("empty lake: %+v", r)
	}
	v := catalog.ObjectVersion{ID: "v1", Path: "a.fastq", Blob: "objects/1/v1", Size: 1, StoredSize: 29, SHA256: "00", ChunkSize: 65536,
		KeyName: "lake", KeyVersion: "1", WrappedKey: []byte{1}, Kind: "fastq", Tier: "hot", Created: time.Now()}
	if err := st.CommitObjectVersion(ctx, v, ""); err != nil {
		t.Fatal(err)
	}
	if r := results(t, cfg, st, routes, time.Now())["access-control.encryption"]; !r.Pass || !strings.Contains(r.Reason, "1 stored object versions") {
		t.Fatalf("one wrapped version: %+v", r)
	}
	// A version the catalog holds no wrapped data key for (written by hand,
	// or a catalog restored without it) fails the control.
	v.ID, v.Blob, v.WrappedKey = "v2", "objects/1/v2", nil
	if err := st.CommitObjectVersion(ctx, v, ""); err != nil {
		t.Fatal(err)
	}
	if r := results(t, cfg, st, routes, time.Now())["access-control.encryption"]; r.Pass || !strings.Contains(r.Reason, "1 versions have no wrapped data key") {
		t.Fatalf("a version without its key: %+v", r)
	}
}

func TestEachResultSaysWhatItRestsOn(t *testing.T) {
	st, _ := open(t)
	cfg, _ := config.Load("")
	m := results(t, cfg, st, routes, time.Now())
	for id, r := range m {
		want := compliance.Checked
		switch id {
		case "access-control.emergency", "authentication.mechanisms":
			want = compliance.BuiltIn
		}
		if r.Basis != want {
			t.Errorf("%s: basis %q, want %q", id, r.Basis, want)
		}
	}
	cfg.Compliance.Backups = "nightly catalog dump and lake replication, restore tested quarterly"
	if r := results(t, cfg, st, routes, time.Now())["checklist.backups"]; !r.Pass || r.Basis != compliance.Attested || !strings.Contains(r.Reason, "not verified by clinomics") {
		t.Fatalf("attested backups: %+v", r)
	}
}
