package clinical

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"github.com/clinomics/clinomics/internal/catalog"
)

// How patients are matched on their identifiers.
//
// An identifier is its value under an assigning authority: HL7 PID-3's
// CX-1 under CX-4, a FHIR identifier's value under its system, an
// extract's MRN under its assigning_authority column. The type (CX-5,
// FHIR identifier.type: MR, PI...) describes the identifier but is not
// part of it, so an MRN sent once with type MR and once without is one
// patient. One authority often has several names across feeds (the HL7
// namespace HOSP, the FHIR system https://hospital.example.org/mrn, the
// OID): the site lists them (config clinical.authorities) and each is
// matched as the one it is listed under. "urn:oid:X", FHIR's form of an
// OID, is always the bare OID X that HL7 sends in CX-4.2.

// Authorities returns an Open option: names[canonical] lists the other
// names of the authority matched as canonical.
func Authorities(names map[string][]string) Option {
	return func(d *DB) error {
		a, err := newAuthorities(names)
		d.auth = a
		return err
	}
}

// Rekey returns an Open option that lets Open key the database again
// when it was keyed under other authority names (`serve` passes it:
// the names are changed by restarting the server with them). Without
// it, such a database is refused (ErrOtherScheme), so that a command run
// with another configuration cannot re-key the database under a running
// server. A database never keyed (new, or from before the scheme was
// recorded) is keyed by any Open.
func Rekey() Option {
	return func(d *DB) error {
		d.rekey = true
		return nil
	}
}

// CheckAuthorities says what is wrong with names, if anything (an alias
// listed under two authorities, an authority that is another's alias).
func CheckAuthorities(names map[string][]string) error {
	_, err := newAuthorities(names)
	return err
}

// Logger returns an Open option: the re-index's progress and warnings go
// to log (slog.Default when not given).
func Logger(log *slog.Logger) Option {
	return func(d *DB) error {
		d.log = log
		return nil
	}
}

// Option configures the database at Open.
type Option func(*DB) error

// authorities maps an authority's other names to the one it is matched
// as; names not in it are matched as themselves.
type authorities map[string]string

func newAuthorities(names map[string][]string) (authorities, error) {
	a := authorities{}
	for _, c := range slices.Sorted(maps.Keys(names)) { // errors name the same pair each time
		others := names[c]
		canon := bareOID(c)
		if canon == "" {
			return nil, fmt.Errorf("clinical: an authority with an empty name")
		}
		for _, o := range others {
			o = bareOID(o)
			if prev, ok := a[o]; ok && prev != canon {
				return nil, fmt.Errorf("clinical: authority name %q is listed under both %q and %q", o, prev, canon)
			}
			if o != canon {
				a[o] = canon
			}
		}
	}
	for _, o := range slices.Sorted(maps.Keys(a)) {
		if c := a[o]; a[c] != "" {
			return nil, fmt.Errorf("clinical: %q is listed under %q and has other names of its own; list them all under one name", c, a[c])
		}
	}
	return a, nil
}

// bareOID is name trimmed, with FHIR's "urn:oid:" taken off.
func bareOID(name string) string {
	name = strings.TrimSpace(name)
	if len(name) > 8 && strings.EqualFold(name[:8], "urn:oid:") {
		return name[8:]
	}
	return name
}

// canonical is the name name is matched as.
func (a authorities) canonical(name string) string {
	name = bareOID(name)
	if c, ok := a[name]; ok {
		return c
	}
	return name
}

// SameAuthority says whether two authority names are one authority.
func (d *DB) SameAuthority(x, y string) bool { return d.auth.canonical(x) == d.auth.canonical(y) }

// sameIdentifier says whether x and y are one identifier (value and
// authority; the type is not compared).
func (a authorities) sameIdentifier(x, y Identifier) bool {
	return x.Value == y.Value && a.canonical(x.Authority) == a.canonical(y.Authority)
}

// addIdentifier adds id to ids unless it is there already; a type the
// known one lacks is filled in.
func (a authorities) addIdentifier(ids []Identifier, id Identifier) []Identifier {
	k := slices.IndexFunc(ids, func(x Identifier) bool { return a.sameIdentifier(x, id) })
	switch {
	case k < 0:
		return append(ids, id)
	case ids[k].Type == "" && id.Type != "":
		ids[k].Type = id.Type
	}
	return ids
}

// idHash is the keyed hash patients are found by: the identifier's
// value under its authority's canonical name.
func (d *DB) idHash(id Identifier) string {
	return d.hash("patient-identifier", d.auth.canonical(id.Authority), id.Value)
}

// encounterKey is the keyed hash a visit is found by: its number under
// its issuer's canonical name, under the current scheme.
func (d *DB) encounterKey(e Encounter) string {
	return d.hash("encounter", d.schemeID, d.auth.canonical(e.VisitIssuer), e.VisitNumber)
}

// orderKey is the keyed hash an order is found by: its placer (or, with
// FillerIssuer, filler) number under its issuer's canonical name.
func (d *DB) orderKey(issuer, number string) string {
	return d.hash("order", d.schemeID, d.auth.canonical(issuer), number)
}

// schemeSetting names the catalog setting that records the identifier
// scheme patient_ids was written under.
const schemeSetting = "patient_identifier_scheme"

// scheme is the fingerprint of how identifiers, visits and orders are
// matched: the rules' version and the authority aliases, as a keyed hash.
func (d *DB) scheme() string {
	parts := make([]string, 0, 2*len(d.auth))
	for _, o := range slices.Sorted(maps.Keys(d.auth)) {
		parts = append(parts, o, d.auth[o])
	}
	return "3:" + d.hash("patient-identifier-scheme", parts...)
}

// reindexChunk is how many patients the re-index reads at a time.
const reindexChunk = 500

// reindex hashes every patient's identifiers again when the catalog's
// were written under another scheme (an older rule, or other authority
// aliases): in one transaction, from the sealed demographics, each
// identifier pointing at the patient its record was merged into, if
// any. Two patients who now share an identifier are not merged (a person
// decides, with an A40): the identifier goes to the patient created
// first, and the pair is logged by pseudonymous id.
func (d *DB) reindex(ctx context.Context) error {
	want := d.schemeID
	// Most opens find the keys current: say so without the exclusive
	// lock, which waits for every clinical transaction in flight.
	current := false
	if err := d.st.InClinicalTx(ctx, func(tx catalog.ClinicalTx) error {
		got, err := tx.Setting(ctx, schemeSetting)
		current = got == want
		return err
	}); err != nil || current {
		return err
	}
	return d.st.InClinicalTx(ctx, func(tx catalog.ClinicalTx) error {
		t := &Tx{d: d, tx: tx, ctx: ctx}
		if err := tx.LockScheme(ctx, true); err != nil { // waits for transactions using the old keys
			return err
		}
		got, err := t.tx.Setting(ctx, schemeSetting)
		if err != nil || got == want {
			return err
		}
		if got != "" && !d.rekey {
			return ErrOtherScheme
		}
		if err := t.tx.ClearPatientIdentifiers(ctx); err != nil {
			return err
		}
		var patients, identifiers, shared int
		// keep decides who of two patients sharing an identifier keeps it.
		keep := func(a, b string) (string, error) {
			if a == b {
				return a, nil
			}
			shared++
			return t.firstCreated(a, b)
		}
		for after := ""; ; {
			rows, err := t.tx.PatientsAfter(ctx, after, reindexChunk)
			if err != nil {
				return err
			}
			if len(rows) == 0 {
				break
			}
			after = rows[len(rows)-1].ID
			owner := map[string]string{} // hash -> patient, this chunk's
			var hashes []string
			for _, r := range rows {
				var p Patient
				if err := d.open("patient", r.ID, r.Sealed, &p); err != nil {
					return fmt.Errorf("clinical: re-indexing patient %s: %w", r.ID, err)
				}
				pid := r.ID
				if r.MergedInto != "" {
					if pid, err = t.survivor(r.MergedInto); err != nil {
						return err
					}
				}
				patients++
				for _, id := range p.Identifiers {
					if id.Value == "" {
						continue
					}
					h := d.idHash(id)
					prev, ok := owner[h]
					if !ok {
						hashes = append(hashes, h)
						prev = pid
					}
					if owner[h], err = keep(prev, pid); err != nil {
						return err
					}
				}
			}
			known, err := t.tx.PatientsByIdentifiers(ctx, hashes)
			if err != nil {
				return err
			}
			out := make([]catalog.IdentifierRow, len(hashes))
			for i, h := range hashes {
				pid := owner[h]
				if prev, ok := known[h]; ok {
					if pid, err = keep(prev, pid); err != nil {
						return err
					}
				} else {
					identifiers++
				}
				out[i] = catalog.IdentifierRow{Hash: h, PatientID: pid}
			}
			slices.SortFunc(out, func(x, y catalog.IdentifierRow) int { return strings.Compare(x.Hash, y.Hash) })
			if err := t.tx.PutPatientIdentifiers(ctx, out); err != nil {
				return err
			}
		}
		if patients > 0 {
			d.log.Info("clinical: patient identifiers hashed again", "patients", patients, "identifiers", identifiers, "shared", shared)
		}
		if err := t.rekey("encounters", func(id string, sealed []byte) (string, error) {
			var e Encounter
			err := d.open("encounter", id, sealed, &e)
			return d.encounterKey(e), err
		}); err != nil {
			return err
		}
		if err := t.rekey("orders", func(id string, sealed []byte) (string, error) {
			var o Order
			err := d.open("order", id, sealed, &o)
			return d.orderKey(o.PlacerIssuer, o.PlacerNumber), err
		}); err != nil {
			return err
		}
		return t.tx.PutSetting(ctx, schemeSetting, want)
	})
}

// rekey gives every row of table (visits, orders) the key keyOf makes
// from its sealed record under the current scheme. Keys of other schemes
// never equal these (the scheme is part of them), so only two records of
// one business key now (one visit number under two names of one
// authority) can collide: the first in id order takes the key, the other
// keeps its old one, no longer found, and the pair is logged by
// pseudonymous id for a person to sort out.
func (t *Tx) rekey(table string, keyOf func(id string, sealed []byte) (string, error)) error {
	n, kept := 0, 0
	for after := ""; ; {
		rows, err := t.tx.KeyedRowsAfter(t.ctx, table, after, reindexChunk)
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			break
		}
		after = rows[len(rows)-1].ID
		byKey := map[string]string{}    // new key -> id, this chunk
		others := map[string][]string{} // new key -> the chunk's other ids with it
		var keys []string
		for _, r := range rows {
			k, err := keyOf(r.ID, r.Sealed)
			if err != nil {
				return fmt.Errorf("clinical: re-keying %s %s: %w", table, r.ID, err)
			}
			if _, dup := byKey[k]; dup {
				others[k] = append(others[k], r.ID)
				continue
			}
			byKey[k] = r.ID
			keys = append(keys, k)
		}
		held, err := t.keyHolders(table, keys)
		if err != nil {
			return err
		}
		out := make([]catalog.KeyedRow, 0, len(keys))
		for _, k := range keys {
			keeper, losers := byKey[k], others[k]
			if id, ok := held[k]; ok && id != keeper {
				keeper, losers = id, append([]string{byKey[k]}, losers...)
			} else {
				out = append(out, catalog.KeyedRow{ID: keeper, KeyHash: k})
			}
			for _, other := range losers {
				kept++
				t.d.log.Warn("clinical: two records now have one business key; the first keeps it, the other is no longer found by it", "table", table, "kept", keeper, "other", other)
			}
		}
		if err := t.tx.SetKeyHashes(t.ctx, table, out); err != nil {
			return err
		}
		n += len(out)
	}
	if n > 0 || kept > 0 {
		t.d.log.Info("clinical: records keyed again", "table", table, "rows", n, "shared", kept)
	}
	return nil
}

// keyHolders is the id of the row of table holding each of keys, if any.
func (t *Tx) keyHolders(table string, keys []string) (map[string]string, error) {
	out := make(map[string]string, len(keys))
	switch table {
	case "encounters":
		rows, err := t.tx.GetEncounters(t.ctx, keys)
		for k, r := range rows {
			out[k] = r.ID
		}
		return out, err
	case "orders":
		rows, err := t.tx.GetOrders(t.ctx, keys)
		for k, r := range rows {
			out[k] = r.ID
		}
		return out, err
	}
	return nil, fmt.Errorf("clinical: no keys in %s", table)
}

// firstCreated is, of two patients found to share an identifier during a
// re-index, the one created first (kept is logged with the other).
func (t *Tx) firstCreated(a, b string) (string, error) {
	if a == b {
		return a, nil
	}
	rows, err := t.tx.GetPatients(t.ctx, []string{a, b})
	if err != nil {
		return "", err
	}
	kept, other := a, b
	if rows[b].Created.Before(rows[a].Created) {
		kept, other = b, a
	}
	t.d.log.Warn("clinical: two patients share an identifier; it stays with the one created first. Merge them (A40) if they are one person", "kept", kept, "other", other)
	return kept, nil
}
