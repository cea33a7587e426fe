package server_test

import (
	"testing"

	"github.com/clinomics/clinomics/internal/fhir/server"
	"github.com/clinomics/clinomics/internal/fhir/server/servertest"
)

func TestMemStoreConformance(t *testing.T) {
	servertest.Run(t, func(t *testing.T) server.WritableStore {
		st, err := server.OpenMem("")
		if err != nil {
			t.Fatal(err)
		}
		return st
	})
}
