package audit

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"sort"

	"github.com/clinomics/clinomics/internal/catalog"
)

// Reader is the part of the catalog that verification and reports read.
type Reader interface {
	// ListAudit returns up to limit records after seq afterSeq, in order.
	ListAudit(ctx context.Context, afterSeq int64, limit int) ([]catalog.AuditEvent, error)
	// ListAuditByPatient is ListAudit of the records about one patient.
	ListAuditByPatient(ctx context.Context, patient string, afterSeq int64, limit int) ([]catalog.AuditEvent, error)
	// ListAuditCheckpoints returns every checkpoint, by seq.
	ListAuditCheckpoints(ctx context.Context) ([]catalog.AuditCheckpoint, error)
	// ListAuditKeys returns the signing keys, oldest first.
	ListAuditKeys(ctx context.Context) ([]catalog.AuditKey, error)
	// ListAuditCursors returns the last seq exported to each destination.
	ListAuditCursors(ctx context.Context) (map[string]int64, error)
}

// Problem is what is wrong with a record or a checkpoint.
type Problem string

const (
	Edited       Problem = "edited"        // the record's fields (or its position) do not match its hash
	Missing      Problem = "missing"       // the record was deleted
	BrokenLink   Problem = "broken link"   // its prev is not the hash of the record before
	Rewritten    Problem = "rewritten"     // the chain no longer has the hash a checkpoint signed
	Truncated    Problem = "truncated"     // records after the trail's end were signed or exported
	BadSignature Problem = "bad signature" // the checkpoint's signature does not verify
	UnknownKey   Problem = "unknown key"   // the checkpoint was signed by no trusted key
)

// Finding names a record (or checkpoint) by seq and what is wrong with it.
type Finding struct {
	Seq     int64
	Problem Problem
	Detail  string
}

func (f Finding) String() string { return fmt.Sprintf("seq %d: %s: %s", f.Seq, f.Problem, f.Detail) }

// Result is what Verify found.
type Result struct {
	Records     int64  // records read
	LastSeq     int64  // seq of the newest record
	LastHash    string // its hash
	Checkpoints int    // checkpoints whose signature and hash matched
	// LastCheckpoint is the newest of those; zero when none.
	LastCheckpoint catalog.AuditCheckpoint
	// Unsigned counts the records after LastCheckpoint: removing some of
	// them from the end is not detectable (unless they were exported).
	Unsigned int64
	// FirstBad is the first bad record; nil when the trail is intact.
	FirstBad *Finding
	// BadCheckpoints are the checkpoints that do not verify or no longer match.
	BadCheckpoints []Finding
	// Keys says which public keys checkpoints were checked against.
	Keys string
}

// OK reports whether nothing is wrong.
func (r *Result) OK() bool { return r.FirstBad == nil && len(r.BadCheckpoints) == 0 }

// VerifyOptions say what to trust.
type VerifyOptions struct {
	// Keys are the trusted checkpoint keys (from `audit pubkey`, kept
	// apart from the catalog). When empty, the public keys recorded in the
	// catalog are used, which proves less: whoever can rewrite the
	// catalog can also add a key there.
	Keys []ed25519.PublicKey
}

// pageSize is how many records Verify reads at a time.
const pageSize = 5000

// Verify walks the whole trail and its checkpoints.
func Verify(ctx context.Context, st Reader, opts VerifyOptions) (*Result, error) {
	res := &Result{Keys: "the keys given"}
	trusted := map[string]ed25519.PublicKey{}
	for _, k := range opts.Keys {
		trusted[KeyID(k)] = k
	}
	if len(trusted) == 0 {
		res.Keys = "the keys recorded in the catalog"
		ks, err := st.ListAuditKeys(ctx)
		if err != nil {
			return nil, err
		}
		for _, k := range ks {
			trusted[k.ID] = k.PublicKey
		}
	}
	all, err := st.ListAuditCheckpoints(ctx)
	if err != nil {
		return nil, err
	}
	var signed []catalog.AuditCheckpoint // signature good, hash not yet compared
	for _, c := range all {
		pub, ok := trusted[c.KeyID]
		switch {
		case !ok:
			res.BadCheckpoints = append(res.BadCheckpoints, Finding{c.Seq, UnknownKey, fmt.Sprintf("signed by key %s, which is not trusted", c.KeyID)})
		case !checkSignature(pub, c):
			res.BadCheckpoints = append(res.BadCheckpoints, Finding{c.Seq, BadSignature, fmt.Sprintf("signature by key %s does not verify", c.KeyID)})
		default:
			signed = append(signed, c)
		}
	}

	// rewrittenAfter is the seq of the last good checkpoint before the
	// first checkpoint the chain no longer matches; -1 while none.
	rewrittenAfter, lastGood := int64(-1), int64(0)
	check := func(c catalog.AuditCheckpoint, e *catalog.AuditEvent) {
		switch {
		case e == nil:
			res.BadCheckpoints = append(res.BadCheckpoints, Finding{c.Seq, Missing, "the record this checkpoint signed is gone"})
		case e.Hash != c.Hash:
			res.BadCheckpoints = append(res.BadCheckpoints, Finding{c.Seq, Rewritten, "the record's hash is not the one this checkpoint signed"})
			if rewrittenAfter < 0 {
				rewrittenAfter = lastGood
			}
		default:
			res.Checkpoints++
			res.LastCheckpoint = c
			lastGood = c.Seq
		}
	}
	bad := func(f Finding) {
		if res.FirstBad == nil || f.Seq < res.FirstBad.Seq {
			res.FirstBad = &f
		}
	}

	// A broken link at s (record s's prev is not record s-1's hash) means
	// record s-1 was changed and rehashed, unless record s+1 does not chain
	// to s either, which means s's prev was changed and s rehashed.
	linkBreak := int64(0) // s, until the record after it decides
	blame := func(sPlus1Breaks bool) {
		if sPlus1Breaks || linkBreak == 1 {
			bad(Finding{linkBreak, BrokenLink, fmt.Sprintf("its prev is not the hash of record %d, and it was rehashed", linkBreak-1)})
		} else {
			bad(Finding{linkBreak - 1, BrokenLink, fmt.Sprintf("record %d does not chain to it: it was changed and rehashed", linkBreak)})
		}
		linkBreak = 0
	}
	var prevSeq int64
	var prevHash string
	next := 0 // into signed
	for {
		page, err := st.ListAudit(ctx, prevSeq, pageSize)
		if err != nil {
			return nil, err
		}
		if len(page) == 0 {
			break
		}
		for i := range page {
			e := &page[i]
			for next < len(signed) && signed[next].Seq < e.Seq {
				check(signed[next], nil)
				next++
			}
			if next < len(signed) && signed[next].Seq == e.Seq {
				check(signed[next], e)
				next++
			}
			if linkBreak != 0 {
				blame(e.Seq == linkBreak+1 && e.Prev != prevHash)
			}
			if res.FirstBad == nil {
				switch {
				case e.Seq != prevSeq+1:
					bad(Finding{prevSeq + 1, Missing, fmt.Sprintf("records %d to %d are missing", prevSeq+1, e.Seq-1)})
				case catalog.AuditHash(*e) != e.Hash:
					bad(Finding{e.Seq, Edited, "its fields or position no longer match its hash"})
				case e.Prev != prevHash:
					linkBreak = e.Seq
				}
			}
			prevSeq, prevHash = e.Seq, e.Hash
			res.Records++
		}
	}
	if linkBreak != 0 {
		blame(false)
	}
	res.LastSeq, res.LastHash = prevSeq, prevHash
	for ; next < len(signed); next++ {
		c := signed[next]
		res.BadCheckpoints = append(res.BadCheckpoints, Finding{c.Seq, Truncated,
			fmt.Sprintf("checkpoint signed record %d; the trail ends at %d", c.Seq, res.LastSeq)})
		bad(Finding{res.LastSeq + 1, Truncated, fmt.Sprintf("records %d to %d were removed from the end (a checkpoint signed %d)", res.LastSeq+1, c.Seq, c.Seq)})
	}
	if rewrittenAfter >= 0 {
		bad(Finding{rewrittenAfter + 1, Rewritten, fmt.Sprintf("history after record %d (the last checkpoint that still matches) was rewritten; the first changed record is at or after this one", rewrittenAfter)})
	}
	cursors, err := st.ListAuditCursors(ctx)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(cursors))
	for n := range cursors {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if c := cursors[n]; c > res.LastSeq {
			bad(Finding{res.LastSeq + 1, Truncated, fmt.Sprintf("records %d to %d were removed from the end (they were exported to %s)", res.LastSeq+1, c, n)})
		}
	}
	sort.SliceStable(res.BadCheckpoints, func(i, j int) bool { return res.BadCheckpoints[i].Seq < res.BadCheckpoints[j].Seq })
	res.Unsigned = res.LastSeq - res.LastCheckpoint.Seq
	return res, nil
}

// Report returns every record about patient, oldest first: the accounting
// of disclosures (who acted on the patient's data, when, from where, how
// it ended, and any break-the-glass reason).
func Report(ctx context.Context, st Reader, patient string) ([]catalog.AuditEvent, error) {
	if patient == "" {
		return nil, errors.New("audit: report: no patient")
	}
	var out []catalog.AuditEvent
	var after int64
	for {
		page, err := st.ListAuditByPatient(ctx, patient, after, pageSize)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if len(page) < pageSize {
			return out, nil
		}
		after = page[len(page)-1].Seq
	}
}
