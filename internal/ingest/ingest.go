// Package ingest picks up finished sequencer runs: it scans a folder of
// run folders (see runfolder for when a run counts as finished and how its
// FASTQ are paired with its sample sheet), stores each sample's FASTQ in
// the lake, encrypted and checksummed, and registers the samples and their
// FASTQ in the catalog.
//
// A sample that an order names (the order's specimen id is the sample
// sheet's Sample_ID) is stored under that patient's key; others under the
// site key. Every object stored is audited.
//
// A run is ingested once. Its catalog record moves ingesting → ingested,
// or to error with the reason (a run in error, or one whose copy was
// interrupted, is tried again by the next scan). Every object is committed
// atomically by the lake, so an interrupted ingest leaves no partial
// object; a rescan skips the objects already stored with the file's size
// and stores the rest.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/clinomics/clinomics/internal/audit"
	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/format/fastq"
	"github.com/clinomics/clinomics/internal/ingest/runfolder"
	"github.com/clinomics/clinomics/internal/lake"
)

// Lake is the part of the lake ingest writes to.
type Lake interface {
	// Stat returns the live object at path, or an error wrapping lake.ErrNotFound.
	Stat(ctx context.Context, path string) (catalog.Object, catalog.ObjectVersion, error)
	// Put stores r as a new version of path; nothing is visible unless it all is.
	Put(ctx context.Context, path string, r io.Reader, o lake.PutOptions) (catalog.ObjectVersion, error)
}

// Catalog is the part of the catalog ingest records runs and samples in.
type Catalog interface {
	PutSample(ctx context.Context, s catalog.Sample) error
	PutSequencerRun(ctx context.Context, r catalog.SequencerRun) error
	GetSequencerRun(ctx context.Context, name string) (catalog.SequencerRun, error)
	PutSampleFASTQ(ctx context.Context, f catalog.SampleFASTQ) error
	// PatientOfSample returns the patient whose order names the sample, or
	// an error wrapping catalog.ErrNotFound.
	PatientOfSample(ctx context.Context, sampleID string) (string, error)
	AppendAudit(ctx context.Context, e catalog.AuditEvent) (catalog.AuditEvent, error)
}

// Watcher ingests the finished runs under Dir.
type Watcher struct {
	Dir    string // where run folders appear
	Prefix string // lake folder of the FASTQ: <Prefix>/<run>/<Sample_ID>/<file>
	Lake   Lake
	Store  Catalog
	Log    *slog.Logger
	// Ingested, when set, is called once a run's files are all stored,
	// with its samples' FASTQ (lake paths); for example to start their
	// pipelines. The run is recorded as ingested only after it returns
	// nil: on an error, or a crash before that, the next scan calls it
	// again, so it must be idempotent.
	Ingested func(ctx context.Context, run catalog.SequencerRun, fastq []catalog.SampleFASTQ) error
}

// Result is what one scan saw of one run folder.
type Result struct {
	Run    string
	State  string // waiting, ingested (this scan), done (earlier), error
	Detail string // what a waiting run waits for, or the error
	Stored int    // FASTQ files stored by this scan
	Bytes  int64  // their size
	Kept   int    // FASTQ files already in the lake
}

// Result states beyond the catalog's.
const (
	StateWaiting = "waiting"
	StateDone    = "done"
)

// Scan looks at every run folder once and ingests the finished ones. It
// fails only when Dir cannot be read or the catalog fails; a run's own
// problem is in its Result and in the catalog.
func (w *Watcher) Scan(ctx context.Context) ([]Result, error) {
	runs, err := runfolder.Scan(w.Dir)
	if err != nil {
		return nil, err
	}
	var out []Result
	for _, run := range runs {
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
		res, err := w.one(ctx, run)
		out = append(out, res)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// Watch scans every interval until ctx ends.
func (w *Watcher) Watch(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := w.Scan(ctx); err != nil && ctx.Err() == nil {
			w.logger().Error("ingest: scan failed", "dir", w.Dir, "err", err.Error())
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (w *Watcher) logger() *slog.Logger {
	if w.Log != nil {
		return w.Log
	}
	return slog.New(slog.DiscardHandler)
}

func (w *Watcher) one(ctx context.Context, run runfolder.Run) (Result, error) {
	res := Result{Run: run.Name}
	prev, err := w.Store.GetSequencerRun(ctx, run.Name)
	switch {
	case err == nil && prev.State == catalog.SeqRunIngested:
		res.State = StateDone
		return res, nil
	case err != nil && !errors.Is(err, catalog.ErrNotFound):
		return res, err
	}
	if !run.Ready {
		res.State, res.Detail = StateWaiting, run.Waiting
		return res, nil
	}
	rec := catalog.SequencerRun{Name: run.Name, Instrument: run.Instrument, State: catalog.SeqRunIngesting,
		Samples: len(run.Samples), Created: prev.Created}
	if run.Err != nil {
		return w.fail(ctx, rec, prev, run.Err)
	}
	if err := w.Store.PutSequencerRun(ctx, rec); err != nil {
		return res, err
	}
	start := time.Now()
	var fastq []catalog.SampleFASTQ
	for _, s := range run.Samples {
		id := s.Sample.ID
		if err := w.Store.PutSample(ctx, catalog.Sample{ID: id}); err != nil {
			return res, err
		}
		// A sample ordered for a patient is encrypted under that patient's
		// key (so shredding the patient reaches it); others under the site key.
		patient, err := w.Store.PatientOfSample(ctx, id)
		if err != nil && !errors.Is(err, catalog.ErrNotFound) {
			return w.fail(ctx, rec, prev, err)
		}
		for i, pair := range s.Pairs {
			f := catalog.SampleFASTQ{SampleID: id, RunName: run.Name, Lane: s.Lanes[i]}
			for j, file := range pair {
				if file == "" {
					continue
				}
				obj := fmt.Sprintf("%s/%s/%s/%s", w.Prefix, run.Name, id, filepath.Base(file))
				stored, n, err := w.store(ctx, file, obj, patient, run.Name)
				if err != nil {
					return w.fail(ctx, rec, prev, err)
				}
				if stored {
					res.Stored++
					res.Bytes += n
				} else {
					res.Kept++
				}
				if j == 0 {
					f.R1 = obj
				} else {
					f.R2 = obj
				}
			}
			if err := w.Store.PutSampleFASTQ(ctx, f); err != nil {
				return res, err
			}
			fastq = append(fastq, f)
		}
	}
	if w.Ingested != nil {
		if err := w.Ingested(ctx, rec, fastq); err != nil {
			return w.fail(ctx, rec, prev, fmt.Errorf("after ingest: %w", err))
		}
	}
	rec.State = catalog.SeqRunIngested
	if err := w.Store.PutSequencerRun(ctx, rec); err != nil {
		return res, err
	}
	res.State = catalog.SeqRunIngested
	el := time.Since(start)
	w.logger().Info("ingest: run ingested", "run", run.Name, "samples", len(run.Samples), "stored", res.Stored,
		"kept", res.Kept, "bytes", res.Bytes, "seconds", el.Seconds())
	return res, nil
}

// fail records a run in error. The error names files and sample sheet
// positions; sample sheets hold lab sample ids, not patient identity.
func (w *Watcher) fail(ctx context.Context, rec, prev catalog.SequencerRun, cause error) (Result, error) {
	rec.State, rec.Error = catalog.SeqRunError, cause.Error()
	res := Result{Run: rec.Name, State: catalog.SeqRunError, Detail: rec.Error}
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	if prev.State != catalog.SeqRunError || prev.Error != rec.Error { // log a problem once, not every scan
		w.logger().Warn("ingest: run not ingested", "run", rec.Name, "err", rec.Error)
	}
	return res, w.Store.PutSequencerRun(ctx, rec)
}

// store puts file at obj unless obj already holds a version of the same
// size (stored by an earlier, interrupted scan: the lake commits whole
// objects only, and a finished run's files do not change). Such a version
// is audited again: the interrupted scan may have stopped between storing
// it and auditing it, and a write recorded twice beats one not recorded.
func (w *Watcher) store(ctx context.Context, file, obj, patient, runName string) (bool, int64, error) {
	fi, err := os.Stat(file)
	if err != nil {
		return false, 0, err
	}
	if err := fastq.Sniff(file); err != nil {
		return false, 0, err
	}
	_, v, err := w.Lake.Stat(ctx, obj)
	if err == nil && v.Size == fi.Size() {
		e := audit.ObjectAccess("ingest:"+runName, "ingest", "lake.write", v.Path, v.ID, patient)
		e.Detail = "stored by an earlier, interrupted scan"
		return false, v.Size, audit.Append(ctx, w.Store, e)
	}
	if err != nil && !errors.Is(err, lake.ErrNotFound) {
		return false, 0, err
	}
	f, err := os.Open(file)
	if err != nil {
		return false, 0, err
	}
	defer f.Close()
	v, err = w.Lake.Put(ctx, obj, f, lake.PutOptions{Kind: "fastq", Patient: patient})
	if err != nil {
		return false, 0, err
	}
	if err := audit.Append(ctx, w.Store, audit.ObjectAccess("ingest:"+runName, "ingest", "lake.write", v.Path, v.ID, patient)); err != nil {
		return false, 0, err
	}
	if v.Size != fi.Size() {
		return false, 0, fmt.Errorf("%s changed while it was stored (%d bytes, then %d)", file, fi.Size(), v.Size)
	}
	return true, v.Size, nil
}
