package app

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/config"
	"github.com/clinomics/clinomics/internal/keys"
	"github.com/clinomics/clinomics/internal/lake"
)

// Passphrase reads the local keyring's passphrase from the configured
// environment variable or file (which must not be readable by others).
func Passphrase(cfg *config.Config) (string, error) {
	k := cfg.Keys.Local
	if k.PassphraseEnv != "" {
		if v := os.Getenv(k.PassphraseEnv); v != "" {
			return v, nil
		}
	}
	if k.PassphraseFile != "" {
		st, err := os.Stat(k.PassphraseFile)
		if err != nil {
			return "", fmt.Errorf("keys.local.passphrase_file: %w", err)
		}
		if st.Mode().Perm()&0o077 != 0 {
			return "", fmt.Errorf("keys.local.passphrase_file %s: readable by others (mode %o); chmod 600 it", k.PassphraseFile, st.Mode().Perm())
		}
		b, err := os.ReadFile(k.PassphraseFile)
		if err != nil {
			return "", fmt.Errorf("keys.local.passphrase_file: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	return "", fmt.Errorf("the keyring is sealed: set $%s to its passphrase (or keys.local.passphrase_file)", k.PassphraseEnv)
}

// NewKeys builds the configured key provider.
func NewKeys(ctx context.Context, cfg *config.Config) (keys.Provider, error) {
	switch cfg.Keys.Provider {
	case "local":
		pass, err := Passphrase(cfg)
		if err != nil {
			return nil, err
		}
		return keys.OpenLocal(cfg.KeyringPath(), pass)
	}
	return newCloudKeys(ctx, cfg, NewLogger(cfg, os.Stderr))
}

// NewBackend builds the configured lake backend.
func NewBackend(ctx context.Context, cfg *config.Config) (lake.Backend, error) {
	switch cfg.Lake.Backend {
	case "local":
		return lake.NewLocalFS(cfg.LakeDir())
	}
	return newCloudBackend(ctx, cfg)
}

// OpenLake builds the lake over store from the configuration; actor names
// who acts in the audit trail.
func OpenLake(ctx context.Context, cfg *config.Config, store catalog.Store, actor string) (*lake.Lake, error) {
	kp, err := NewKeys(ctx, cfg)
	if err != nil {
		return nil, err
	}
	be, err := NewBackend(ctx, cfg)
	if err != nil {
		return nil, err
	}
	l := lake.New(store, be, kp, nil)
	l.Retention = cfg.Lake.Retention
	l.Actor = actor
	return l, nil
}

// TierRules converts the configured tiering rules.
func TierRules(cfg *config.Config) []lake.TierRule {
	var out []lake.TierRule
	for _, r := range cfg.Lake.Tiering {
		out = append(out, lake.TierRule{Kind: r.Kind, After: r.After, Tier: lake.Tier(r.Tier)})
	}
	return out
}
