package app

import (
	"context"
	"errors"

	"github.com/clinomics/clinomics/internal/config"
	"github.com/clinomics/clinomics/internal/keys"
	"github.com/clinomics/clinomics/internal/lake"
)

func newCloudKeys(ctx context.Context, cfg *config.Config) (keys.Provider, error) {
	return nil, errors.New("keys.provider: azure-key-vault is not wired yet")
}

func newCloudBackend(ctx context.Context, cfg *config.Config) (lake.Backend, error) {
	return nil, errors.New("lake.backend: azure is not wired yet")
}
