package slurm_test

import (
	"os"
	"testing"
	"time"

	"github.com/clinomics/clinomics/internal/workflow/executor/executortest"
	"github.com/clinomics/clinomics/internal/workflow/executor/slurm"
)

// TestConformance needs a running Slurm cluster whose nodes see this
// machine's temp dir; scripts/test starts a single-node one and sets
// CLINOMICS_TEST_SLURM.
func TestConformance(t *testing.T) {
	if os.Getenv("CLINOMICS_TEST_SLURM") == "" {
		t.Skip("CLINOMICS_TEST_SLURM not set: no Slurm cluster (scripts/test starts one)")
	}
	ex, err := slurm.New(slurm.Config{PollInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	executortest.Run(t, ex, t.TempDir())
}
