package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/clinomics/clinomics/internal/config"
	"github.com/clinomics/clinomics/internal/keys"
	"github.com/clinomics/clinomics/internal/keys/azurekv"
	"github.com/clinomics/clinomics/internal/lake"
	"github.com/clinomics/clinomics/internal/lake/azureblob"
)

// newCloudKeys builds the Azure Key Vault provider, authenticated by the
// machine's Entra ID identity.
func newCloudKeys(ctx context.Context, cfg *config.Config, log *slog.Logger) (keys.Provider, error) {
	kv := cfg.Keys.Azure
	cred, err := azidentity.NewDefaultAzureCredential(nil)
	if err != nil {
		return nil, fmt.Errorf("keys.azure_key_vault: Entra ID credential: %w", err)
	}
	p, err := azurekv.New(kv.VaultURL, cred, &azurekv.Options{Prefix: kv.Prefix, KeySize: kv.KeySize, HSM: kv.HSM, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("keys.azure_key_vault: %w", err)
	}
	return p, nil
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
	b, err := azureblob.New(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("lake.azure: %w", err)
	}
	return b, nil
}
