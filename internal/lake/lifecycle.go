package lake

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/keys"
)

// audit records an action in the audit trail; if it cannot be recorded the
// action is reported as failed (fail closed).
func (l *Lake) audit(ctx context.Context, action, resource, patient, outcome, detail string) error {
	_, err := l.idx.AppendAudit(context.WithoutCancel(ctx), catalog.AuditEvent{
		Actor: l.Actor, Action: action, Resource: resource, Patient: patient, Outcome: outcome, Detail: detail,
	})
	if err != nil {
		return fmt.Errorf("lake: audit record for %s: %w", action, err)
	}
	return nil
}

// List returns the objects under prefix; deleted ones only when asked.
func (l *Lake) List(ctx context.Context, prefix string, deleted bool) ([]catalog.Object, error) {
	all, err := l.idx.ListObjects(ctx, prefix)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, o := range all {
		if o.Deleted.IsZero() || deleted {
			out = append(out, o)
		}
	}
	return out, nil
}

// Versions returns every version of path, oldest first.
func (l *Lake) Versions(ctx context.Context, path string) ([]catalog.ObjectVersion, error) {
	return l.idx.ListObjectVersions(ctx, path)
}

func (l *Lake) object(ctx context.Context, path string) (catalog.Object, error) {
	o, err := l.idx.GetObject(ctx, path)
	if errors.Is(err, catalog.ErrNotFound) {
		return o, fmt.Errorf("lake: %s: %w", path, ErrNotFound)
	}
	return o, err
}

// deletable says why o may not be deleted (or destroyed) now, if so.
func (l *Lake) deletable(o catalog.Object) error {
	if o.Hold != "" {
		return fmt.Errorf("lake: %s: %w (%s)", o.Path, ErrHeld, o.Hold)
	}
	if l.now().Before(o.RetainUntil) {
		return fmt.Errorf("lake: %s: %w until %s", o.Path, ErrRetained, o.RetainUntil.UTC().Format(time.RFC3339))
	}
	return nil
}

// Delete soft-deletes path: it disappears from reads and listings, and can
// be undeleted until the retention window passes. Refused under legal
// hold or immutable retention, with the reason.
func (l *Lake) Delete(ctx context.Context, path string) error {
	o, err := l.object(ctx, path)
	if err != nil {
		return err
	}
	if !o.Deleted.IsZero() {
		return fmt.Errorf("lake: %s: %w (already deleted)", path, ErrNotFound)
	}
	if err := l.deletable(o); err != nil {
		l.audit(ctx, "lake.delete", path, o.Patient, "refused", err.Error())
		return err
	}
	if err := l.audit(ctx, "lake.delete", path, o.Patient, "ok", ""); err != nil {
		return err
	}
	o.Deleted = l.now()
	return l.idx.UpdateObject(ctx, o)
}

// Undelete restores a soft-deleted object whose data is not yet purged.
func (l *Lake) Undelete(ctx context.Context, path string) error {
	o, err := l.object(ctx, path)
	if err != nil {
		return err
	}
	if o.Deleted.IsZero() {
		return nil
	}
	v, err := l.idx.GetObjectVersion(ctx, o.Current)
	if err != nil {
		return err
	}
	if !v.Purged.IsZero() {
		return fmt.Errorf("lake: %s: deleted on %s and purged after the retention window", path, o.Deleted.UTC().Format(time.DateOnly))
	}
	if err := l.audit(ctx, "lake.undelete", path, o.Patient, "ok", ""); err != nil {
		return err
	}
	o.Deleted = time.Time{}
	return l.idx.UpdateObject(ctx, o)
}

// Hold puts path under legal hold (reason required); Release lifts it.
func (l *Lake) Hold(ctx context.Context, path, reason string) error {
	if strings.TrimSpace(reason) == "" {
		return errors.New("lake: a legal hold needs a reason")
	}
	o, err := l.object(ctx, path)
	if err != nil {
		return err
	}
	if err := l.audit(ctx, "lake.hold", path, o.Patient, "ok", reason); err != nil {
		return err
	}
	o.Hold = reason
	return l.idx.UpdateObject(ctx, o)
}

// Release lifts a legal hold.
func (l *Lake) Release(ctx context.Context, path string) error {
	o, err := l.object(ctx, path)
	if err != nil {
		return err
	}
	if err := l.audit(ctx, "lake.release", path, o.Patient, "ok", ""); err != nil {
		return err
	}
	o.Hold = ""
	return l.idx.UpdateObject(ctx, o)
}

// Retain sets immutable (WORM) retention until t. Retention can only be
// extended: no one, administrators included, can shorten or remove it.
func (l *Lake) Retain(ctx context.Context, path string, until time.Time) error {
	o, err := l.object(ctx, path)
	if err != nil {
		return err
	}
	if until.Before(o.RetainUntil) {
		err := fmt.Errorf("lake: %s: %w until %s; retention can only be extended", path, ErrRetained, o.RetainUntil.UTC().Format(time.RFC3339))
		l.audit(ctx, "lake.retain", path, o.Patient, "refused", err.Error())
		return err
	}
	if err := l.audit(ctx, "lake.retain", path, o.Patient, "ok", "until "+until.UTC().Format(time.RFC3339)); err != nil {
		return err
	}
	o.RetainUntil = until
	return l.idx.UpdateObject(ctx, o)
}

// Purge removes the data of objects soft-deleted longer than Retention
// ago (never of held or retained ones), and blobs of uploads abandoned for
// longer than that. It returns how many versions it purged.
func (l *Lake) Purge(ctx context.Context) (int, error) {
	objs, err := l.idx.ListObjects(ctx, "")
	if err != nil {
		return 0, err
	}
	n := 0
	cutoff := l.now().Add(-l.Retention)
	for _, o := range objs {
		if o.Deleted.IsZero() || o.Deleted.After(cutoff) || l.deletable(o) != nil {
			continue
		}
		vs, err := l.idx.ListObjectVersions(ctx, o.Path)
		if err != nil {
			return n, err
		}
		for _, v := range vs {
			if !v.Purged.IsZero() {
				continue
			}
			if err := l.be.Delete(ctx, v.Blob); err != nil && !errors.Is(err, ErrBlobNotFound) {
				return n, err
			}
			v.Purged = l.now()
			if err := l.idx.UpdateObjectVersion(ctx, v); err != nil {
				return n, err
			}
			n++
		}
		if err := l.audit(ctx, "lake.purge", o.Path, o.Patient, "ok", fmt.Sprintf("%d versions", len(vs))); err != nil {
			return n, err
		}
	}
	ups, err := l.idx.ListUploads(ctx)
	if err != nil {
		return n, err
	}
	for _, u := range ups {
		if u.Updated.Before(cutoff) {
			l.be.Abort(ctx, u.Blob)
			l.idx.DeleteUpload(ctx, u.ID)
		}
	}
	return n, nil
}

// TierRule moves objects of Kind to Tier once they are older than After.
type TierRule struct {
	Kind  string
	After time.Duration
	Tier  Tier
}

// ApplyTiering moves the current versions of live objects by rules and
// returns how many moved.
func (l *Lake) ApplyTiering(ctx context.Context, rules []TierRule) (int, error) {
	objs, err := l.List(ctx, "", false)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, o := range objs {
		v, err := l.idx.GetObjectVersion(ctx, o.Current)
		if err != nil {
			return n, err
		}
		for _, r := range rules {
			if r.Kind != v.Kind || v.Tier == string(r.Tier) || l.now().Sub(v.Created) < r.After {
				continue
			}
			if err := l.be.SetTier(ctx, v.Blob, r.Tier); err != nil {
				return n, fmt.Errorf("lake: tier %s: %w", o.Path, err)
			}
			v.Tier = string(r.Tier)
			if err := l.idx.UpdateObjectVersion(ctx, v); err != nil {
				return n, err
			}
			n++
			break
		}
	}
	return n, nil
}

// ScrubReport is what Scrub found.
type ScrubReport struct {
	Versions int      // versions checked
	Bytes    int64    // plaintext bytes verified
	Bad      []string // "path (version): reason"
	Orphans  []string // blobs no version records
	Skipped  int      // purged, crypto-shredded, or archived (unreadable until rehydrated) versions
}

// Scrub re-reads every stored version, checking every chunk and the
// sha256, records the result on each version, and lists blobs that no
// version records.
func (l *Lake) Scrub(ctx context.Context) (ScrubReport, error) {
	var rep ScrubReport
	objs, err := l.idx.ListObjects(ctx, "")
	if err != nil {
		return rep, err
	}
	known := map[string]bool{}
	for _, o := range objs {
		vs, err := l.idx.ListObjectVersions(ctx, o.Path)
		if err != nil {
			return rep, err
		}
		for _, v := range vs {
			known[v.Blob] = true
			if !v.Purged.IsZero() {
				rep.Skipped++
				continue
			}
			err := l.Verify(ctx, v)
			if errors.Is(err, keys.ErrDestroyed) {
				rep.Skipped++
				if v.VerifyError != catalog.VerifyShredded {
					v.Verified, v.VerifyError = l.now(), catalog.VerifyShredded
					if err := l.idx.UpdateObjectVersion(ctx, v); err != nil {
						return rep, err
					}
				}
				continue
			}
			if errors.Is(err, ErrArchived) {
				rep.Skipped++
				continue
			}
			rep.Versions++
			v.Verified, v.VerifyError = l.now(), ""
			if err != nil {
				v.VerifyError = err.Error()
				rep.Bad = append(rep.Bad, err.Error())
			} else {
				rep.Bytes += v.Size
			}
			if err := l.idx.UpdateObjectVersion(ctx, v); err != nil {
				return rep, err
			}
		}
	}
	blobs, err := l.be.List(ctx, "objects/")
	if err != nil {
		return rep, err
	}
	for _, b := range blobs {
		if !known[b] {
			rep.Orphans = append(rep.Orphans, b)
		}
	}
	sort.Strings(rep.Bad)
	return rep, nil
}

// RotateKey makes a new version of key name and re-wraps every data key
// wrapped by an older version, without touching the data. It returns the
// new version and how many data keys were re-wrapped.
func (l *Lake) RotateKey(ctx context.Context, name string) (string, int, error) {
	ver, err := l.keys.Rotate(ctx, name)
	if err != nil {
		return "", 0, fmt.Errorf("lake: rotate %s: %w", name, err)
	}
	vs, err := l.idx.ListVersionsByKey(ctx, name)
	if err != nil {
		return ver, 0, err
	}
	n := 0
	for _, v := range vs {
		if v.KeyVersion == ver || !v.Purged.IsZero() {
			continue
		}
		dek, err := l.dataKey(ctx, v)
		if err != nil {
			return ver, n, err
		}
		w, err := l.keys.Wrap(ctx, name, dek)
		clear(dek)
		if err != nil {
			return ver, n, fmt.Errorf("lake: re-wrap %s: %w", v.Path, err)
		}
		v.KeyVersion, v.WrappedKey = w.Version, w.Blob
		if err := l.idx.UpdateObjectVersion(ctx, v); err != nil {
			return ver, n, err
		}
		n++
	}
	if err := l.audit(ctx, "key.rotate", name, "", "ok", fmt.Sprintf("version %s, %d data keys re-wrapped", ver, n)); err != nil {
		return ver, n, err
	}
	return ver, n, nil
}

// Shred destroys a patient's key, making every object of that patient
// unreadable for good (crypto-shredding), and records it in the audit
// trail. Refused while any of the patient's objects is under legal hold or
// immutable retention. It returns the number of versions made unreadable.
func (l *Lake) Shred(ctx context.Context, patient, reason string) (int, error) {
	if err := CheckPatient(patient); err != nil || patient == "" {
		return 0, fmt.Errorf("lake: shred needs a pseudonymous patient id")
	}
	if strings.TrimSpace(reason) == "" {
		return 0, errors.New("lake: shredding needs a reason")
	}
	name := keys.PatientKey(patient)
	vs, err := l.idx.ListVersionsByKey(ctx, name)
	if err != nil {
		return 0, err
	}
	seen := map[string]bool{}
	for _, v := range vs {
		if seen[v.Path] {
			continue
		}
		seen[v.Path] = true
		o, err := l.idx.GetObject(ctx, v.Path)
		if err != nil {
			return 0, err
		}
		if err := l.deletable(o); err != nil {
			l.audit(ctx, "key.shred", name, patient, "refused", err.Error())
			return 0, err
		}
	}
	if err := l.audit(ctx, "key.shred", name, patient, "ok", fmt.Sprintf("%d versions; reason: %s", len(vs), reason)); err != nil {
		return 0, err
	}
	if err := l.keys.Destroy(ctx, name); err != nil {
		return 0, fmt.Errorf("lake: destroy key of patient %s: %w", patient, err)
	}
	return len(vs), nil
}
