package extract

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Subfolders of a watched folder.
const (
	DoneDir    = "done"    // files loaded, rejects or not
	FailedDir  = "failed"  // files that cannot be loaded as they are (a *FileError)
	RejectsDir = "rejects" // <file>.<UTC time>.rejects.csv for each load that rejects rows, mode 0600
)

// Watch states of a file.
const (
	WatchDone    = "done"    // loaded and moved to done/
	WatchFailed  = "failed"  // cannot be loaded as it is; moved to failed/
	WatchRetry   = "retry"   // the load failed for a reason outside the file; left for the next scan
	WatchWaiting = "waiting" // changed less than MinAge ago; left for the next scan
)

// DefaultMinAge is Watch.MinAge when zero.
const DefaultMinAge = 10 * time.Second

// Watch loads the extract files that appear in one folder, each once, in
// the order of their names, with one Loader (one mapping). Loaded files
// move to done/, files that cannot be loaded to failed/; each load's
// rejected rows go to a file of their own in RejectDir (rejects/ by
// default), named as RejectPath names it. Moves are renames within the
// folder's file system, so a file is in exactly one place.
//
// Files are taken in name order because the watermark assumes time
// order: a scan stops at the first file that is still being written or
// whose load fails for a reason outside the file (the database), so a
// later extract is never loaded before an earlier one. Name extracts so
// that name order is time order (PATIENTS_20250101T0200.txt). One Watch
// per folder.
type Watch struct {
	Dir     string
	Pattern string // filepath.Match pattern for file names, e.g. "PATIENTS_*.txt"; every file when empty
	Loader  *Loader
	// RejectDir is the folder of the reject files, created with mode 0700
	// when missing; Dir/rejects when empty. Set it when the watched folder
	// is shared with the sender: reject files hold patient data.
	RejectDir string
	// MinAge is how long a file must be unchanged before it is loaded, for
	// senders that write in place; senders that write a temporary name and
	// rename it make this moot. DefaultMinAge when zero.
	MinAge time.Duration
	// Done, when set, is called with the result of each file loaded,
	// failed or left to retry, before the file moves (MovedTo is not set
	// yet): the caller's audit. An error stops the scan and leaves the
	// file where it is.
	Done func(WatchResult) error
	Log  *slog.Logger
	Now  func() time.Time // time.Now when nil
}

// WatchResult is what a scan did with one file.
type WatchResult struct {
	File    string // name within Dir
	State   string // WatchDone, WatchFailed, WatchRetry or WatchWaiting
	Summary Summary
	Err     error  // why a file failed or is to be retried
	MovedTo string // path of the file after the move
}

// Scan loads the waiting files once, in name order. It returns an error
// only when Dir cannot be read or a file cannot be moved; a file's own
// outcome is in its result.
func (w *Watch) Scan(ctx context.Context) ([]WatchResult, error) {
	entries, err := os.ReadDir(w.Dir)
	if err != nil {
		return nil, fmt.Errorf("extract watch: %w", err)
	}
	var names []string
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || strings.HasPrefix(name, ".") {
			continue
		}
		if w.Pattern != "" {
			ok, err := filepath.Match(w.Pattern, name)
			if err != nil {
				return nil, fmt.Errorf("extract watch: pattern: %w", err)
			}
			if !ok {
				continue
			}
		}
		names = append(names, name)
	}
	sort.Strings(names)
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	minAge := w.MinAge
	if minAge == 0 {
		minAge = DefaultMinAge
	}
	var out []WatchResult
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		path := filepath.Join(w.Dir, name)
		fi, err := os.Stat(path)
		if err != nil {
			return out, fmt.Errorf("extract watch: %w", err)
		}
		if now().Sub(fi.ModTime()) < minAge {
			out = append(out, WatchResult{File: name, State: WatchWaiting})
			break
		}
		rejectDir := w.RejectDir
		if rejectDir == "" {
			rejectDir = filepath.Join(w.Dir, RejectsDir)
		}
		if err := os.MkdirAll(rejectDir, 0o700); err != nil {
			return out, fmt.Errorf("extract watch: %w", err)
		}
		sum, err := w.Loader.LoadFile(ctx, path, RejectPath(rejectDir, name, now()))
		res := WatchResult{File: name, Summary: sum, Err: err}
		var fe *FileError
		switch {
		case err == nil:
			res.State = WatchDone
		case errors.As(err, &fe):
			res.State = WatchFailed
		default:
			res.State = WatchRetry
		}
		if w.Log != nil {
			if res.Err != nil {
				w.Log.Warn("extract file", "file", name, "state", res.State, "err", loggable(res.Err))
			} else {
				w.Log.Info("extract file", "file", name, "state", res.State, "summary", sum.String())
			}
		}
		// Audited before the file moves: a load is never left unaudited
		// (a failed move leaves the file for the next scan, which loads
		// nothing new from it and is audited too).
		if w.Done != nil {
			if err := w.Done(res); err != nil {
				return append(out, res), err
			}
		}
		switch res.State {
		case WatchDone:
			res.MovedTo, err = moveInto(w.Dir, DoneDir, name)
		case WatchFailed:
			res.MovedTo, err = moveInto(w.Dir, FailedDir, name)
		default:
			err = nil
		}
		out = append(out, res)
		if err != nil {
			return out, fmt.Errorf("extract watch: %w", err)
		}
		if res.State == WatchRetry {
			break
		}
	}
	return out, nil
}

// Run scans every interval until ctx is done. Scan errors are logged and
// the next scan tries again.
func (w *Watch) Run(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := w.Scan(ctx); err != nil && ctx.Err() == nil && w.Log != nil {
			w.Log.Error("extract watch", "dir", w.Dir, "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// moveInto renames dir/name into dir/sub/, as name or, when that is
// taken, name with .1, .2, ... before its extension.
func moveInto(dir, sub, name string) (string, error) {
	into := filepath.Join(dir, sub)
	if err := os.MkdirAll(into, 0o700); err != nil {
		return "", err
	}
	ext := filepath.Ext(name)
	stem := strings.TrimSuffix(name, ext)
	target := filepath.Join(into, name)
	for n := 1; ; n++ {
		if _, err := os.Lstat(target); errors.Is(err, os.ErrNotExist) {
			break
		} else if err != nil {
			return "", err
		}
		target = filepath.Join(into, stem+"."+strconv.Itoa(n)+ext)
	}
	if err := os.Rename(filepath.Join(dir, name), target); err != nil {
		return "", err
	}
	for _, d := range []string{into, dir} {
		if err := syncDir(d); err != nil {
			return target, err
		}
	}
	return target, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
