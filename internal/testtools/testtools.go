// Package testtools finds the programs tests run against: Debian's tools
// (bcftools, samtools, openssl, ...) and Node.js with scripts/node's npm
// packages. Without one a test is skipped, unless CLINOMICS_TEST_TOOLS is
// set (scripts/test sets it, having installed them all), which makes its
// absence a failure: the suite never passes by skipping what CI should
// run.
package testtools

import (
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL driver "pgx"
)

// missing skips t, or fails it when CLINOMICS_TEST_TOOLS is set.
func missing(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CLINOMICS_TEST_TOOLS") != "" {
		t.Fatal(msg + "; CLINOMICS_TEST_TOOLS is set")
	}
	t.Skip(msg + "; skipped")
}

// Need returns the path of each tool on PATH (in order), or skips t (see
// the package comment).
func Need(t testing.TB, tools ...string) []string {
	t.Helper()
	paths := make([]string, len(tools))
	for i, tool := range tools {
		p, err := exec.LookPath(tool)
		if err != nil {
			missing(t, tool+" is not on PATH (scripts/install-deps test installs it)")
		}
		paths[i] = p
	}
	return paths
}

// NodeDir is the absolute path of scripts/node: the Node.js programs the
// tests run as third-party peers, and their npm packages (node_modules,
// installed by scripts/test with npm ci).
func NodeDir() string {
	_, file, _, _ := runtime.Caller(0) // …/internal/testtools/testtools.go
	return filepath.Join(filepath.Dir(file), "..", "..", "scripts", "node")
}

// Installed says whether node is on PATH and each npm package is in
// NodeDir's node_modules.
func Installed(packages ...string) bool {
	if _, err := exec.LookPath("node"); err != nil {
		return false
	}
	for _, pkg := range packages {
		if _, err := os.Stat(filepath.Join(NodeDir(), "node_modules", pkg, "package.json")); err != nil {
			return false
		}
	}
	return true
}

// Node returns the path of node, with the npm packages installed in
// NodeDir, or skips t (see the package comment).
func Node(t testing.TB, packages ...string) string {
	t.Helper()
	if !Installed(packages...) {
		missing(t, "node (20 or newer) or the npm packages "+strings.Join(packages, ", ")+" of scripts/node are not installed (cd scripts/node && npm ci)")
	}
	node, _ := exec.LookPath("node")
	return node
}

// PostgresSchema returns the DSN of a schema of its own, dropped when t
// ends, on the PostgreSQL server CLINOMICS_TEST_POSTGRES names (scripts/test
// starts one), or skips t (see the package comment) when none is named.
func PostgresSchema(t testing.TB, prefix string) string {
	t.Helper()
	dsn := os.Getenv("CLINOMICS_TEST_POSTGRES")
	if dsn == "" {
		missing(t, "CLINOMICS_TEST_POSTGRES not set: no PostgreSQL server (scripts/test starts one)")
	}
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	schema := fmt.Sprintf("%s_%d_%d", prefix, os.Getpid(), schemas.Add(1))
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		admin.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			t.Logf("schema %s left behind: %v", schema, err)
		}
		admin.Close()
	})
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return dsn + sep + "search_path=" + schema
}

// schemas numbers the schemas PostgresSchema makes in this process.
var schemas atomic.Int64
