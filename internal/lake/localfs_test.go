package lake_test

import (
	"testing"

	"github.com/clinomics/clinomics/internal/lake"
	"github.com/clinomics/clinomics/internal/lake/backendtest"
)

func TestLocalFSConformance(t *testing.T) {
	b, err := lake.NewLocalFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	backendtest.Run(t, b, "t/")
}
