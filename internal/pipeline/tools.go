package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"time"
)

// ErrToolMissing is wrapped when a tool a pipeline needs is not on PATH.
var ErrToolMissing = errors.New("tool not installed")

// debianPackage names the package that provides each tool.
var debianPackage = map[string]string{
	"bwa": "bwa", "samtools": "samtools", "bcftools": "bcftools", "tabix": "tabix",
	"freebayes": "freebayes", "fastp": "fastp",
}

var versionPattern = regexp.MustCompile(`(?i)(?:version:?\s*v?|^\S+\s+v?)(\d+\.\d+[\w.\-+]*)`)

// ToolVersions finds each tool on PATH and asks it for its version. The
// tool "clinomics" is answered with self. Missing tools are reported all
// at once, with the Debian package that provides each.
func ToolVersions(ctx context.Context, tools []string, self string) (map[string]string, error) {
	out := map[string]string{}
	var missing []string
	for _, tool := range tools {
		if tool == "clinomics" {
			out[tool] = self
			continue
		}
		path, err := exec.LookPath(tool)
		if err != nil {
			missing = append(missing, tool)
			continue
		}
		v, err := askVersion(ctx, path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", tool, err)
		}
		out[tool] = v
	}
	if len(missing) > 0 {
		var pkgs []string
		for _, m := range missing {
			pkgs = append(pkgs, debianPackage[m])
		}
		return nil, fmt.Errorf("%w: %s not found on PATH (install: apt-get install %s)", ErrToolMissing,
			strings.Join(missing, ", "), strings.Join(pkgs, " "))
	}
	return out, nil
}

// askVersion runs "TOOL --version", falling back to running it bare (bwa
// prints its version in its usage text), and extracts the first version.
func askVersion(ctx context.Context, path string) (string, error) {
	for _, args := range [][]string{{"--version"}, nil} {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		var buf bytes.Buffer
		cmd := exec.CommandContext(ctx, path, args...)
		cmd.Stdout, cmd.Stderr = &buf, &buf
		cmd.Run() // bwa and others exit non-zero on usage; the text is what counts
		cancel()
		for _, line := range strings.Split(buf.String(), "\n") {
			if m := versionPattern.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
				return m[1], nil
			}
		}
	}
	return "", fmt.Errorf("could not tell its version")
}
