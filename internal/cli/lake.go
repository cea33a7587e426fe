package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/clinomics/clinomics/internal/app"
	"github.com/clinomics/clinomics/internal/audit"
	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/config"
	"github.com/clinomics/clinomics/internal/lake"
)

// lakeEnv is an opened catalog and lake for one command.
type lakeEnv struct {
	cfg   *config.Config
	store catalog.Store
	lake  *lake.Lake
}

func (l *lakeEnv) Close() { l.store.Close() }

// cliActor names the person at the terminal for the audit trail.
func cliActor() string {
	if u, err := user.Current(); err == nil {
		return "cli:" + u.Username
	}
	return "cli"
}

func openLake(ctx context.Context, cfgPath string) (*lakeEnv, error) {
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	store, err := catalog.Open(ctx, cfg.CatalogDSN())
	if err != nil {
		return nil, err
	}
	l, err := app.OpenLake(ctx, cfg, store, cliActor())
	if err != nil {
		store.Close()
		return nil, err
	}
	return &lakeEnv{cfg, store, l}, nil
}

// lakeCmd parses flags (with the given extra setup) and opens the lake.
func lakeCmd(ctx context.Context, e *env, name string, args []string, npos int, setup func(fs *flag.FlagSet)) (*lakeEnv, []string, error) {
	fs, cfgPath := flags(e, name)
	if setup != nil {
		setup(fs)
	}
	pos, err := parse(fs, args)
	if err != nil {
		return nil, nil, err
	}
	if npos >= 0 && len(pos) != npos {
		return nil, nil, usagef("want %d argument(s), got %d", npos, len(pos))
	}
	fresh := newInstallation(*cfgPath)
	le, err := openLake(ctx, *cfgPath)
	if err == nil && fresh != "" {
		// A forgotten --config lands here: say so rather than store patient
		// data in an installation nobody knows about.
		fmt.Fprintf(e.stderr, "note: no catalog was at %s: this made a new installation there (a new keyring, catalog and lake). If you meant the server's, give its --config.\n", fresh)
	}
	return le, pos, err
}

// newInstallation is the catalog file the configuration at cfgPath names
// when it does not exist yet (a SQLite catalog about to be made), else "".
func newInstallation(cfgPath string) string {
	cfg, err := loadConfig(cfgPath)
	if err != nil || cfg.Catalog.DSN != "" {
		return ""
	}
	if _, err := os.Stat(cfg.CatalogDSN()); errors.Is(err, fs.ErrNotExist) {
		return cfg.CatalogDSN()
	}
	return ""
}

func lakePut(ctx context.Context, e *env, args []string) error {
	var patient, kind string
	le, pos, err := lakeCmd(ctx, e, "lake put", args, 2, func(fs *flag.FlagSet) {
		fs.StringVar(&patient, "patient", "", "pseudonymous patient id: encrypt under that patient's key")
		fs.StringVar(&kind, "kind", "", "fastq, bam, vcf, report... (default: from the name)")
	})
	if err != nil {
		return err
	}
	defer le.Close()
	f, err := os.Open(pos[0])
	if err != nil {
		return err
	}
	defer f.Close()
	v, err := le.lake.Put(ctx, pos[1], f, lake.PutOptions{Patient: patient, Kind: kind})
	if err != nil {
		return err
	}
	if err := le.record(ctx, "lake.write", v); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s\tversion %s\t%d bytes\tsha256 %s\n", v.Path, v.ID, v.Size, v.SHA256)
	return nil
}

func lakeGet(ctx context.Context, e *env, args []string) error {
	var version string
	le, pos, err := lakeCmd(ctx, e, "lake get", args, 2, func(fs *flag.FlagSet) {
		fs.StringVar(&version, "version", "", "an older version's id (default: the current one)")
	})
	if err != nil {
		return err
	}
	defer le.Close()
	var r *lake.Reader
	if version != "" {
		r, err = le.lake.OpenVersion(ctx, version)
	} else {
		r, err = le.lake.Open(ctx, pos[0])
	}
	if err != nil {
		return err
	}
	defer r.Close()
	if err := le.record(ctx, "lake.read", r.Version()); err != nil {
		return err // no record, no data
	}
	return writeAtomically(pos[1], r)
}

// record audits a read or write of an object by the person at the
// terminal; reads fail when the record cannot be written.
func (l *lakeEnv) record(ctx context.Context, action string, v catalog.ObjectVersion) error {
	o, err := l.store.GetObject(ctx, v.Path)
	if err != nil {
		return err
	}
	return audit.Append(ctx, l.store, audit.ObjectAccess(cliActor(), "cli", action, v.Path, v.ID, o.Patient))
}

// writeAtomically copies r to path ("-" for stdout) through a temporary
// file renamed only when all of r was read and verified.
func writeAtomically(path string, r io.Reader) error {
	if path == "-" {
		_, err := io.Copy(os.Stdout, r)
		return err
	}
	return writeFileAtomic(path, func(w io.Writer) error {
		_, err := io.Copy(w, r)
		return err
	})
}

// writeFileAtomic writes path through a temporary file, synced and
// renamed into place only when write succeeds: no partial output is ever
// left under path, even after a crash.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".part-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func lakeList(ctx context.Context, e *env, args []string) error {
	var deleted bool
	le, pos, err := lakeCmd(ctx, e, "lake ls", args, -1, func(fs *flag.FlagSet) {
		fs.BoolVar(&deleted, "deleted", false, "include soft-deleted objects")
	})
	if err != nil {
		return err
	}
	defer le.Close()
	prefix := ""
	if len(pos) > 0 {
		prefix = pos[0]
	}
	objs, err := le.lake.List(ctx, prefix, deleted)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PATH\tSIZE\tKIND\tTIER\tSTATE\tVERSION\tSHA256")
	for _, o := range objs {
		v, err := le.store.GetObjectVersion(ctx, o.Current)
		if err != nil {
			return err
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%.16s\n", o.Path, v.Size, v.Kind, v.Tier, objectState(o, time.Now()), v.ID, v.SHA256)
	}
	return tw.Flush()
}

func objectState(o catalog.Object, now time.Time) string {
	s := "live"
	if !o.Deleted.IsZero() {
		s = "deleted " + o.Deleted.Format(time.DateOnly)
	}
	if o.Hold != "" {
		s += ",hold"
	}
	if now.Before(o.RetainUntil) {
		s += ",retained to " + o.RetainUntil.Format(time.DateOnly)
	}
	return s
}

func lakeVersions(ctx context.Context, e *env, args []string) error {
	le, pos, err := lakeCmd(ctx, e, "lake versions", args, 1, nil)
	if err != nil {
		return err
	}
	defer le.Close()
	vs, err := le.lake.Versions(ctx, pos[0])
	if err != nil {
		return err
	}
	if len(vs) == 0 {
		return fmt.Errorf("%s: %w", pos[0], lake.ErrNotFound)
	}
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tCREATED\tSIZE\tSHA256\tKEY\tTIER\tVERIFIED")
	for _, v := range vs {
		ver := "never"
		if !v.Verified.IsZero() {
			ver = v.Verified.Format(time.RFC3339)
			if v.VerifyError != "" {
				ver += " FAILED"
			}
		}
		if !v.Purged.IsZero() {
			ver = "purged"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s v%s\t%s\t%s\n", v.ID, v.Created.Format(time.RFC3339), v.Size, v.SHA256, v.KeyName, v.KeyVersion, v.Tier, ver)
	}
	return tw.Flush()
}

// lakeOne runs a one-path lifecycle action.
func lakeOne(name string, act func(ctx context.Context, l *lake.Lake, path string, fs *flag.FlagSet) error, setup func(fs *flag.FlagSet)) func(ctx context.Context, e *env, args []string) error {
	return func(ctx context.Context, e *env, args []string) error {
		var fset *flag.FlagSet
		le, pos, err := lakeCmd(ctx, e, name, args, 1, func(fs *flag.FlagSet) {
			fset = fs
			if setup != nil {
				setup(fs)
			}
		})
		if err != nil {
			return err
		}
		defer le.Close()
		return act(ctx, le.lake, pos[0], fset)
	}
}

func lakeScrub(ctx context.Context, e *env, args []string) error {
	le, _, err := lakeCmd(ctx, e, "lake scrub", args, 0, nil)
	if err != nil {
		return err
	}
	defer le.Close()
	start := time.Now()
	rep, err := le.lake.Scrub(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "scrub: %d versions, %d bytes verified in %s on %s; %d bad, %d orphan blobs, %d skipped (purged or shredded)\n",
		rep.Versions, rep.Bytes, time.Since(start).Round(time.Millisecond), le.lake.Backend().Describe(), len(rep.Bad), len(rep.Orphans), rep.Skipped)
	for _, b := range rep.Bad {
		fmt.Fprintln(e.stdout, "BAD", b)
	}
	for _, o := range rep.Orphans {
		fmt.Fprintln(e.stdout, "ORPHAN", o)
	}
	if len(rep.Bad) > 0 {
		return &exitError{code: 3, err: fmt.Errorf("%d objects failed verification", len(rep.Bad))}
	}
	return nil
}

func lakeMaintain(ctx context.Context, e *env, args []string) error {
	le, _, err := lakeCmd(ctx, e, "lake maintain", args, 0, nil)
	if err != nil {
		return err
	}
	defer le.Close()
	n, err := le.lake.Purge(ctx)
	if err != nil {
		return err
	}
	m, err := le.lake.ApplyTiering(ctx, app.TierRules(le.cfg))
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "purged %d versions deleted more than %s ago; moved %d objects by tiering rules\n", n, le.cfg.Lake.Retention, m)
	return nil
}

func keysRotate(ctx context.Context, e *env, args []string) error {
	le, pos, err := lakeCmd(ctx, e, "keys rotate", args, -1, nil)
	if err != nil {
		return err
	}
	defer le.Close()
	names := pos
	if len(names) == 0 {
		names = []string{"lake"}
	}
	sort.Strings(names)
	for _, n := range names {
		ver, count, err := le.lake.RotateKey(ctx, n)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "key %s: now version %s; %d data keys re-wrapped, no data re-encrypted\n", n, ver, count)
	}
	return nil
}

func keysShred(ctx context.Context, e *env, args []string) error {
	var reason string
	var yes bool
	le, pos, err := lakeCmd(ctx, e, "keys shred", args, 1, func(fs *flag.FlagSet) {
		fs.StringVar(&reason, "reason", "", "why (recorded in the audit trail; required)")
		fs.BoolVar(&yes, "yes", false, "confirm: this cannot be undone")
	})
	if err != nil {
		return err
	}
	defer le.Close()
	if !yes {
		return usagef("destroying a patient's key makes all of their data unreadable forever; add --yes to confirm")
	}
	n, err := le.lake.Shred(ctx, pos[0], reason)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "patient %s: key destroyed; %d object versions are now unreadable (recorded in the audit trail)\n", pos[0], n)
	return nil
}

func init() {
	retain := ""
	commands = append(commands,
		command{name: "lake put", args: "FILE PATH [--patient ID]", summary: "store a file in the lake (encrypted, checksummed, versioned)", run: lakePut},
		command{name: "lake get", args: "PATH FILE|- [--version ID]", summary: "read an object back, verified", run: lakeGet},
		command{name: "lake ls", args: "[PREFIX] [--deleted]", summary: "list objects", run: lakeList},
		command{name: "lake versions", args: "PATH", summary: "list an object's versions", run: lakeVersions},
		command{name: "lake rm", args: "PATH", summary: "soft-delete an object (undeletable within lake.retention)", run: lakeOne("lake rm", func(ctx context.Context, l *lake.Lake, p string, _ *flag.FlagSet) error { return l.Delete(ctx, p) }, nil)},
		command{name: "lake undelete", args: "PATH", summary: "restore a soft-deleted object", run: lakeOne("lake undelete", func(ctx context.Context, l *lake.Lake, p string, _ *flag.FlagSet) error { return l.Undelete(ctx, p) }, nil)},
		command{name: "lake hold", args: "PATH --reason TEXT", summary: "put an object under legal hold", run: lakeOne("lake hold", func(ctx context.Context, l *lake.Lake, p string, fs *flag.FlagSet) error {
			return l.Hold(ctx, p, fs.Lookup("reason").Value.String())
		}, func(fs *flag.FlagSet) { fs.String("reason", "", "the hold's reason (required)") })},
		command{name: "lake release", args: "PATH", summary: "lift a legal hold", run: lakeOne("lake release", func(ctx context.Context, l *lake.Lake, p string, _ *flag.FlagSet) error { return l.Release(ctx, p) }, nil)},
		command{name: "lake retain", args: "PATH --until YYYY-MM-DD", summary: "immutable (WORM) retention; can only be extended", run: lakeOne("lake retain", func(ctx context.Context, l *lake.Lake, p string, fs *flag.FlagSet) error {
			t, err := time.Parse(time.DateOnly, retain)
			if err != nil {
				return usagef("--until %q: want YYYY-MM-DD", retain)
			}
			return l.Retain(ctx, p, t)
		}, func(fs *flag.FlagSet) { fs.StringVar(&retain, "until", "", "retain until this date (UTC)") })},
		command{name: "lake scrub", args: "", summary: "re-verify every stored object and report", run: lakeScrub},
		command{name: "lake maintain", args: "", summary: "purge expired deletions and apply tiering rules", run: lakeMaintain},
		command{name: "keys rotate", args: "[KEY...]", summary: "new key version; re-wrap data keys without re-encrypting data", run: keysRotate},
		command{name: "keys shred", args: "PATIENT --reason TEXT --yes", summary: "destroy a patient's key: crypto-shred all of their data", run: keysShred},
	)
}
