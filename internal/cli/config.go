package cli

import (
	"context"
	"fmt"

	"github.com/clinomics/clinomics/internal/config"
)

func configCheck(_ context.Context, e *env, args []string) error {
	fs, cfgPath := flags(e, "config check")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	src := "embedded defaults"
	if *cfgPath != "" {
		src = *cfgPath
	}
	fmt.Fprintf(e.stdout, "configuration OK (%s)\ndata directory: %s\ncatalog: %s\nexecutor: %s\nlake: %s\nkeys: %s\n",
		src, cfg.DataDir, cfg.Redacted().CatalogDSN(), cfg.Executor.Kind, cfg.Lake.Backend, cfg.Keys.Provider)
	if cfg.Ingest.RunsDir != "" {
		fmt.Fprintf(e.stdout, "sequencer runs: %s (every %s)\n", cfg.Ingest.RunsDir, cfg.Ingest.Interval)
	}
	return nil
}

func configDump(_ context.Context, e *env, args []string) error {
	fs, cfgPath := flags(e, "config dump")
	defaults := fs.Bool("defaults", false, "print the embedded defaults file, with its comments")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *defaults {
		_, err := e.stdout.Write(config.DefaultsYAML())
		return err
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	b, err := cfg.Redacted().YAML()
	if err != nil {
		return err
	}
	_, err = e.stdout.Write(b)
	return err
}
