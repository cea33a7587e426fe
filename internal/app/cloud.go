package app

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/clinomics/clinomics/internal/config"
	"github.com/clinomics/clinomics/internal/keys"
	"github.com/clinomics/clinomics/internal/lake"
	"github.com/clinomics/clinomics/internal/lake/azureblob"
)

func newCloudKeys(ctx context.Context, cfg *config.Config) (keys.Provider, error) {
	return nil, errors.New("keys.provider: azure-key-vault is not wired yet")
}

// newCloudBackend builds the Azure Blob Storage backend: a connection
// string from the environment variable lake.azure.connection_string_env
// when it is set, else lake.azure.account_url with the machine's Entra ID
// identity.
func newCloudBackend(ctx context.Context, cfg *config.Config) (lake.Backend, error) {
	az := cfg.Lake.Azure
	o := azureblob.Options{Container: az.Container, AccountURL: az.AccountURL}
	if az.ConnectionStringEnv != "" {
		o.ConnectionString = os.Getenv(az.ConnectionStringEnv)
	}
	if o.ConnectionString == "" && o.AccountURL == "" {
		return nil, fmt.Errorf("lake.backend azure: set $%s to a storage connection string, or lake.azure.account_url", az.ConnectionStringEnv)
	}
	return azureblob.New(ctx, o)
}
