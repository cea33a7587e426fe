package local_test

import (
	"testing"

	"github.com/clinomics/clinomics/internal/workflow/executor"
	"github.com/clinomics/clinomics/internal/workflow/executor/executortest"
	"github.com/clinomics/clinomics/internal/workflow/executor/local"
)

func TestConformance(t *testing.T) {
	executortest.Run(t, local.New(executor.Resources{Threads: 2, MemoryMB: 1000}), t.TempDir())
}
