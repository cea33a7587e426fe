package clinical_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/clinical"
	"github.com/clinomics/clinomics/internal/keys"
)

func id(authority, typ, value string) clinical.Identifier {
	return clinical.Identifier{Authority: authority, Type: typ, Value: value}
}

func (f fixture) find(t *testing.T, ids ...clinical.Identifier) string {
	t.Helper()
	pid, err := f.db.FindPatient(context.Background(), ids)
	if errors.Is(err, clinical.ErrNotFound) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// The identifier type describes an identifier but is not part of it: an
// MRN with CX-5 "MR" and the same MRN without a type are one patient, who
// keeps one identifier (with its type).
func TestIdentifierTypeIsNotMatched(t *testing.T) {
	f := newFixture(t)
	a := f.upsert(t, clinical.Patient{Identifiers: []clinical.Identifier{id("HOSP", "", "4711")}, Family: "Zzyzx", AsOf: t0})
	b := f.upsert(t, clinical.Patient{Identifiers: []clinical.Identifier{id("HOSP", "MR", "4711")}, Family: "Zzyzx", AsOf: t0.Add(time.Hour)})
	if a != b {
		t.Fatalf("MRN 4711 with and without its type made two patients: %s and %s", a, b)
	}
	if got := f.find(t, id("HOSP", "PI", "4711")); got != a {
		t.Fatalf("found %q, want %s", got, a)
	}
	if got := f.find(t, id("OTHER", "MR", "4711")); got != "" {
		t.Fatalf("another authority's 4711 found %s", got)
	}
	p, _, _, _, err := f.db.Records(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Identifiers) != 1 || p.Identifiers[0].Type != "MR" {
		t.Fatalf("identifiers %+v, want one, of type MR", p.Identifiers)
	}
	// One record naming the identifier twice is one identifier too.
	c := f.upsert(t, clinical.Patient{Identifiers: []clinical.Identifier{id("HOSP", "MR", "815"), id("HOSP", "", "815")}, AsOf: t0})
	if got := f.find(t, id("HOSP", "", "815")); got != c {
		t.Fatalf("found %q, want %s", got, c)
	}
}

// Configured names of one authority match each other, and urn:oid:X is
// always the bare OID X.
func TestAuthorityNames(t *testing.T) {
	f := newFixture(t).reopen(t, clinical.Authorities(map[string][]string{
		"HOSP": {"https://hospital.example.org/mrn", "urn:oid:1.2.840.99999.1", ""},
	}))
	a := f.upsert(t, clinical.Patient{Identifiers: []clinical.Identifier{id("HOSP", "MR", "4711")}, AsOf: t0})
	for _, other := range []clinical.Identifier{
		id("https://hospital.example.org/mrn", "", "4711"),
		id("1.2.840.99999.1", "MR", "4711"),
		id(" urn:oid:1.2.840.99999.1", "", "4711"),
		id("", "", "4711"), // "" listed: no authority given is HOSP
	} {
		if got := f.find(t, other); got != a {
			t.Errorf("%q: found %q, want %s", other.Authority, got, a)
		}
	}
	b := f.upsert(t, clinical.Patient{Identifiers: []clinical.Identifier{id("urn:oid:2.16.840.1", "", "1")}, AsOf: t0})
	if got := f.find(t, id("2.16.840.1", "MR", "1")); got != b {
		t.Fatalf("urn:oid and the bare OID: found %q, want %s", got, b)
	}
	if !f.db.SameAuthority("HOSP ", "https://hospital.example.org/mrn") || f.db.SameAuthority("hosp", "HOSP") {
		t.Fatal("SameAuthority: want names trimmed, aliases matched, case kept")
	}
}

func TestCheckAuthorities(t *testing.T) {
	for _, bad := range []map[string][]string{
		{"HOSP": {"X"}, "LAB": {"X"}},                         // one name, two authorities
		{"HOSP": {"LAB"}, "LAB": {"X"}},                       // a chain
		{"": {"X"}},                                           // no name
		{"HOSP": {"urn:oid:1.2"}, "1.2": nil, "LAB": {"1.2"}}, // the OID under two
	} {
		if err := clinical.CheckAuthorities(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	if err := clinical.CheckAuthorities(map[string][]string{"HOSP": {"HOSP", "urn:oid:1.2"}, "LAB": {"1.3"}}); err != nil {
		t.Fatal(err)
	}
}

// Other authority names, or identifiers hashed under an older rule, are
// hashed again at Open: lookups by the new rule find the patients, two
// patients now sharing an identifier leave it with the one created first,
// and a merged patient's identifiers stay with the survivor.
func TestReindexAtOpen(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a := f.upsert(t, clinical.Patient{Identifiers: []clinical.Identifier{id("https://hospital.example.org/mrn", "", "1")}, AsOf: t0})
	time.Sleep(time.Millisecond) // b is created after a
	b := f.upsert(t, clinical.Patient{Identifiers: []clinical.Identifier{id("HOSP", "MR", "1"), id("HOSP", "MR", "2")}, AsOf: t0})
	prior := f.upsert(t, clinical.Patient{Identifiers: []clinical.Identifier{id("HOSP", "MR", "3")}, AsOf: t0})
	var sid string
	err := f.db.Update(ctx, func(tx *clinical.Tx) error {
		var err error
		sid, err = tx.MergePatients(clinical.Patient{Identifiers: []clinical.Identifier{id("HOSP", "MR", "4")}, AsOf: t0}, []clinical.Identifier{id("HOSP", "MR", "3")})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if a == b || sid == prior {
		t.Fatal("setup: want two patients for MRN 1, and a survivor")
	}
	// A stale hash, as an older rule wrote it, must not survive.
	err = f.st.InClinicalTx(ctx, func(tx catalog.ClinicalTx) error { return tx.PutPatientIdentifier(ctx, "stale", a) })
	if err != nil {
		t.Fatal(err)
	}

	var logged bytes.Buffer
	g := f.reopen(t, clinical.Authorities(map[string][]string{"HOSP": {"https://hospital.example.org/mrn"}}),
		clinical.Logger(slog.New(slog.NewJSONHandler(&logged, nil))))
	if !strings.Contains(logged.String(), `"msg":"clinical: patient identifiers hashed again"`) || !strings.Contains(logged.String(), `"shared":1`) {
		t.Errorf("the re-index's log, in the logger given:\n%s", logged.String())
	}
	for _, c := range []struct {
		id   clinical.Identifier
		want string
	}{
		{id("HOSP", "", "1"), a}, // a was created first
		{id("https://hospital.example.org/mrn", "MR", "1"), a},
		{id("https://hospital.example.org/mrn", "", "2"), b},
		{id("HOSP", "", "3"), sid},
		{id("HOSP", "", "4"), sid},
	} {
		if got := g.find(t, c.id); got != c.want {
			t.Errorf("%+v: found %q, want %s", c.id, got, c.want)
		}
	}
	err = g.st.InClinicalTx(ctx, func(tx catalog.ClinicalTx) error {
		if _, err := tx.PatientByIdentifier(ctx, "stale"); !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("the stale hash is still there (%v)", err)
		}
		n := 0
		for _, p := range []string{a, b, prior, sid} {
			hs, err := tx.PatientIdentifiers(ctx, p)
			if err != nil {
				return err
			}
			n += len(hs)
		}
		if n != 4 { // 1, 2, 3, 4
			t.Errorf("%d identifier hashes, want 4", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// Back to no aliases: the FHIR system's MRN 1 is a again, HOSP's b.
	h := g.reopen(t)
	if got := h.find(t, id("HOSP", "", "1")); got != b {
		t.Fatalf("HOSP 1 found %q, want %s", got, b)
	}
	if got := h.find(t, id("https://hospital.example.org/mrn", "", "1")); got != a {
		t.Fatalf("the FHIR system's 1 found %q, want %s", got, a)
	}
}

// BenchmarkReindex: patients/s hashed again at Open after the authority
// names change (50,000 patients loaded by a patient extract, not timed).
func BenchmarkReindex(b *testing.B) {
	const rows = 50000
	tt := &testing.T{}
	f := newFixture(tt)
	var sb strings.Builder
	sb.WriteString("PAT_ID|PAT_MRN_ID|PAT_LAST_NAME|PAT_FIRST_NAME|PAT_MIDDLE_NAME|BIRTH_DATE|SEX_C|ZIP|UPDATE_DATE\n")
	for i := range rows {
		fmt.Fprintf(&sb, "Z%d|E%07d|ZZTEST|ALPHA%d||1970-01-31 00:00:00|1|00000|2025-01-02 03:04:05\n", i, i, i)
	}
	file := filepath.Join(f.dir, "patients.txt")
	if err := os.WriteFile(file, []byte(sb.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	if sum := loadFile(b, f, "../extract/testdata/clarity_patients.yaml", file); sum.Loaded != rows {
		b.Fatalf("patients: %+v", sum)
	}
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		g := f.reopen(tt, clinical.Authorities(map[string][]string{"EPIC": {fmt.Sprintf("ALIAS%d", i)}}))
		b.ReportMetric(rows/time.Since(t0).Seconds(), "patients/s")
		if g.find(tt, id(fmt.Sprintf("ALIAS%d", i), "", "E0000042")) == "" {
			b.Fatal("patient E0000042 not found after the re-index")
		}
	}
}

// Visits and orders are found by their number under their issuer's
// canonical name too, and are keyed again when the names change: a visit
// stored under the FHIR-style name is updated by the HL7-style one, an
// order found by either. Two visits that become one key: the first in id
// order keeps it, and both records stay.
func TestVisitsAndOrdersUnderAuthorityNames(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	pid := f.upsert(t, clinical.Patient{Identifiers: []clinical.Identifier{id("HOSP", "MR", "1")}, AsOf: t0})
	var eids [3]string
	var oid string
	err := f.db.Update(ctx, func(tx *clinical.Tx) error {
		var err error
		for i, e := range []clinical.Encounter{
			{VisitNumber: "V1", VisitIssuer: "urn:oid:1.2.3", Class: "I", AsOf: t0},
			{VisitNumber: "V2", VisitIssuer: "OTHER", Class: "I", AsOf: t0},
			{VisitNumber: "V2", VisitIssuer: "HOSP", Class: "O", AsOf: t0},
		} {
			if eids[i], err = tx.UpsertEncounter(pid, e); err != nil {
				return err
			}
		}
		oid, err = tx.UpsertOrder(pid, clinical.Order{PlacerNumber: "PL1", PlacerIssuer: "urn:oid:1.2.3", Status: "new", AsOf: t0})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	g := f.reopen(t, clinical.Authorities(map[string][]string{"HOSP": {"urn:oid:1.2.3", "OTHER"}}))
	err = g.db.Update(ctx, func(tx *clinical.Tx) error {
		o, err := tx.OrderByPlacer("HOSP", "PL1")
		if err != nil || o.ID != oid {
			t.Errorf("order by the HL7 name: %+v %v", o, err)
		}
		e1, err := tx.UpsertEncounter(pid, clinical.Encounter{VisitNumber: "V1", VisitIssuer: "HOSP", Class: "E", AsOf: t0.Add(time.Hour)})
		if err != nil || e1 != eids[0] {
			t.Errorf("visit V1 by the HL7 name: %s %v, want %s", e1, err, eids[0])
		}
		e2, err := tx.UpsertEncounter(pid, clinical.Encounter{VisitNumber: "V2", VisitIssuer: "OTHER", Class: "E", AsOf: t0.Add(time.Hour)})
		first := min(eids[1], eids[2])
		if err != nil || e2 != first {
			t.Errorf("visit V2: %s %v, want the first in id order, %s", e2, err, first)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	_, encs, _, _, err := g.db.Records(ctx, pid)
	if err != nil || len(encs) != 3 {
		t.Fatalf("%d visits, %v; want all 3 kept", len(encs), err)
	}
}

// A process still holding the old authority names after another re-keyed
// the database is refused, not left to create duplicates.
func TestOtherSchemeRefused(t *testing.T) {
	f := newFixture(t)
	f.upsert(t, clinical.Patient{Identifiers: []clinical.Identifier{id("HOSP", "MR", "1")}, AsOf: t0})
	f.reopen(t, clinical.Authorities(map[string][]string{"HOSP": {"urn:oid:1.2.3"}}))
	err := f.db.Update(context.Background(), func(tx *clinical.Tx) error {
		_, err := tx.UpsertPatient(clinical.Patient{Identifiers: []clinical.Identifier{id("urn:oid:1.2.3", "", "1")}, AsOf: t0})
		return err
	})
	if !errors.Is(err, clinical.ErrOtherScheme) {
		t.Fatalf("the stale process wrote: %v", err)
	}
	// Opened without Rekey (any command but serve) under names other than
	// the database's: refused, nothing re-keyed.
	kr, err := keys.OpenLocal(filepath.Join(f.dir, "keyring"), "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := clinical.Open(context.Background(), f.st, kr); !errors.Is(err, clinical.ErrOtherScheme) {
		t.Fatalf("opened under other names without Rekey: %v", err)
	}
}
