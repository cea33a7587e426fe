// Package app wires the parts of clinomics together from the
// configuration. Only the command layer uses it.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"

	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/config"
	"github.com/clinomics/clinomics/internal/pipeline"
	"github.com/clinomics/clinomics/internal/reference"
	"github.com/clinomics/clinomics/internal/workflow"
	"github.com/clinomics/clinomics/internal/workflow/executor"
	"github.com/clinomics/clinomics/internal/workflow/executor/local"
	"github.com/clinomics/clinomics/internal/workflow/executor/slurm"
)

// App is a configured instance.
type App struct {
	Config *config.Config
	Log    *slog.Logger
	Store  catalog.Store
	Exec   executor.Executor
	Runner *pipeline.Runner
}

// Version is the version of this build.
func Version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "0.1.0-dev"
}

// NewLogger builds the operational logger.
func NewLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Open opens the catalog and builds the executor, engine and runner.
func Open(ctx context.Context, cfg *config.Config, log *slog.Logger) (*App, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	store, err := catalog.Open(ctx, cfg.CatalogDSN())
	if err != nil {
		return nil, err
	}
	ex, err := NewExecutor(cfg)
	if err != nil {
		store.Close()
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		store.Close()
		return nil, err
	}
	threads := ex.Capacity().Threads
	g := cfg.Germline
	eng := &workflow.Engine{
		Store: store, Exec: ex, Log: log,
		WorkDir: filepath.Join(cfg.DataDir, "work"),
		Retries: cfg.Workflow.Retries, Backoff: cfg.Workflow.RetryBackoff, MaxBackoff: cfg.Workflow.MaxBackoff,
	}
	chunks := g.ReadChunks
	if chunks == 0 {
		chunks = threads
	}
	regions := g.Regions
	if regions == 0 {
		regions = 4 * threads
	}
	r := &pipeline.Runner{
		Store: store, Engine: eng, Self: self, Version: Version(), Log: log,
		Refs: &reference.Store{Root: filepath.Join(cfg.DataDir, "references")},
		Options: pipeline.GermlineOptions{
			ReadChunks: chunks, Regions: regions, Threads: threads,
			GVCFMinDepth: g.GVCFMinDepth, MinMapQ: g.MinMapQ, MinBaseQ: g.MinBaseQ,
			Caller: g.Caller, Trim: g.Trim,
		},
	}
	return &App{Config: cfg, Log: log, Store: store, Exec: ex, Runner: r}, nil
}

// NewExecutor builds the configured executor.
func NewExecutor(cfg *config.Config) (executor.Executor, error) {
	switch cfg.Executor.Kind {
	case "local":
		return local.New(executor.Resources{Threads: cfg.Executor.Local.Threads, MemoryMB: cfg.Executor.Local.MemoryMB}), nil
	case "slurm":
		s := cfg.Executor.Slurm
		return slurm.New(slurm.Config{Partition: s.Partition, Account: s.Account, PollInterval: s.PollInterval})
	}
	return nil, errors.New("executor.kind: unknown")
}

// Close releases the catalog.
func (a *App) Close() error { return a.Store.Close() }
