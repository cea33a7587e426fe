package inbox_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/clinomics/clinomics/internal/clinical"
)

// seg writes a segment with the fields given by number (MSH-3 and on for
// an MSH, whose first two fields are the delimiters).
func seg(id string, fields map[int]string) string {
	n := 0
	for k := range fields {
		n = max(n, k)
	}
	out := make([]string, n+1)
	out[0] = id
	for k, v := range fields {
		out[k] = v
	}
	if id == "MSH" {
		out = append([]string{"MSH", "^~\\&"}, out[3:]...)
	}
	return strings.Join(out, "|")
}

func msh(typ, control, at string) string {
	return seg("MSH", map[int]string{3: "EPIC", 4: "HOSP", 5: "CLINOMICS", 6: "LAB", 7: at, 9: typ, 10: control, 11: "P", 12: "2.5.1"})
}

func hl7msg(segs ...string) string { return strings.Join(segs, "\n") + "\n" }

var (
	pid200 = seg("PID", map[int]string{1: "1", 3: "MRN200^^^HOSP^MR", 5: "Roe^Ann^B", 7: "19800401", 8: "F"})
	mrn200 = clinical.Identifier{Value: "MRN200", Authority: "HOSP", Type: "MR"}
	// An order with its orderer (ORC-12), order time (OBR-7) and specimen.
	oml2002 = hl7msg(msh("OML^O21^OML_O21", "U1", "20260302130000"), pid200,
		seg("ORC", map[int]string{1: "NW", 2: "ORD2002^EPIC", 9: "20260302130000", 12: "1234^Orderly^Olive"}),
		seg("OBR", map[int]string{1: "1", 2: "ORD2002^EPIC", 4: "81247-9^Master HL7 genetic variant reporting panel^LN", 7: "20260302130000"}),
		seg("SPM", map[int]string{1: "1", 2: "SMP-2002&EPIC", 4: "BLD^Blood^HL70487"}))
	adt200 = hl7msg(msh("ADT^A01^ADT_A01", "U0", "20260301080000"), pid200,
		seg("PV1", map[int]string{1: "1", 2: "I", 3: "W1^101^A", 19: "V700^^^HOSP^VN", 44: "20260301075500"}))
)

// oru2002 is a result for ORD2002 at the time given, its PID naming the
// patient by PID-3 only, with the ORC and OBR fields given added.
func oru2002(control, at string, orc, obr map[int]string) string {
	segs := []string{msh("ORU^R01^ORU_R01", control, at), seg("PID", map[int]string{1: "1", 3: "MRN200^^^HOSP^MR"})}
	if orc != nil {
		orc[1], orc[2], orc[3], orc[5] = "RE", "ORD2002^EPIC", "F-2002^LIS", "CM"
		segs = append(segs, seg("ORC", orc))
	}
	if obr == nil {
		obr = map[int]string{}
	}
	obr[1], obr[2], obr[3], obr[4], obr[22], obr[25] = "1", "ORD2002^EPIC", "F-2002^LIS", "81247-9^Master HL7 genetic variant reporting panel^LN", "20260310085900", "F"
	segs = append(segs, seg("OBR", obr),
		seg("OBX", map[int]string{1: "1", 2: "CWE", 3: "48018-6^Gene studied^LN", 4: "1", 5: "HGNC:1101^BRCA2^HGNC", 11: "F"}))
	return hl7msg(segs...)
}

// TestUpdateKeepsWhatIsNotSent: a newer message that does not send a
// field leaves the stored value alone; one that sends HL7's null ""
// clears it; an older message changes nothing. For patients (PID),
// visits (PV1) and orders (ORC/OBR/SPM).
func TestUpdateKeepsWhatIsNotSent(t *testing.T) {
	stored := struct {
		family, birth, sex, location, admit, orderer, ordered, specimen, specimenType, status string
	}{"Roe", "19800401", "F", "W1^101^A", "20260301075500", "1234", "20260302130000", "BLD", "Blood", "new"}
	type want = struct {
		family, birth, sex, location, admit, orderer, ordered, specimen, specimenType, status string
	}
	for _, c := range []struct {
		name string
		msg  string
		want func(w *want)
	}{
		{"ORU without ORC-12 and OBR-7 (no ORC)", oru2002("U2", "20260310090000", nil, nil),
			func(w *want) { w.status = "completed" }},
		{"ORU with an ORC without ORC-12", oru2002("U2", "20260310090000", map[int]string{}, nil),
			func(w *want) { w.status = "completed" }},
		{"ORU with ORC-12 and OBR-7 null", oru2002("U2", "20260310090000", map[int]string{12: `""`}, map[int]string{7: `""`}),
			func(w *want) { w.orderer, w.ordered, w.status = "", "", "completed" }},
		{"ORU with new ORC-12 and OBR-7", oru2002("U2", "20260310090000", map[int]string{12: "5678^Other^Olga"}, map[int]string{7: "20260309000000"}),
			func(w *want) { w.orderer, w.ordered, w.status = "5678", "20260309000000", "completed" }},
		{"ORU without ORC, with OBR-16 (ordering provider) and OBR-7", oru2002("U2", "20260310090000", nil, map[int]string{7: "20260309000000", 16: "9012^Obr^Otto"}),
			func(w *want) { w.orderer, w.ordered, w.status = "9012", "20260309000000", "completed" }},
		{"ORU with OBR-15 null (v2.3 specimen source)", oru2002("U2", "20260310090000", nil, map[int]string{15: `""`}),
			func(w *want) { w.specimen, w.specimenType, w.status = "", "", "completed" }},
		{"older ORU, with everything null", oru2002("U2", "20260301000000", map[int]string{12: `""`}, map[int]string{7: `""`, 15: `""`}),
			func(w *want) {}},
		{"A08 without PID-7 and PID-8, PV1 without PV1-3 and PV1-44", hl7msg(msh("ADT^A08^ADT_A01", "U3", "20260303080000"),
			seg("PID", map[int]string{1: "1", 3: "MRN200^^^HOSP^MR", 5: "Roe-Smith^Ann^B"}),
			seg("PV1", map[int]string{1: "1", 2: "I", 19: "V700^^^HOSP^VN"})),
			func(w *want) { w.family = "Roe-Smith" }},
		{"A08 with PID-7, PID-8, PV1-3 null", hl7msg(msh("ADT^A08^ADT_A01", "U3", "20260303080000"),
			seg("PID", map[int]string{1: "1", 3: "MRN200^^^HOSP^MR", 7: `""`, 8: `""`}),
			seg("PV1", map[int]string{1: "1", 3: `""`, 19: "V700^^^HOSP^VN"})),
			func(w *want) { w.birth, w.sex, w.location = "", "", "" }},
		{"older A08 with PID-7 and PV1-44 null", hl7msg(msh("ADT^A08^ADT_A01", "U3", "20260228080000"),
			seg("PID", map[int]string{1: "1", 3: "MRN200^^^HOSP^MR", 5: "Stale^Name", 7: `""`}),
			seg("PV1", map[int]string{1: "1", 19: "V700^^^HOSP^VN", 44: `""`})),
			func(w *want) {}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			for i, raw := range []string{adt200, oml2002, c.msg} {
				if m := receive(t, f, raw); m.Get("MSA-1") != "AA" {
					t.Fatalf("message %d: %s %s", i+1, m.Get("MSA-1"), m.Get("ERR-8"))
				}
			}
			w := want(stored)
			c.want(&w)
			ctx := context.Background()
			pid, err := f.db.FindPatient(ctx, []clinical.Identifier{mrn200})
			if err != nil {
				t.Fatal(err)
			}
			p, encs, ords, _, err := f.db.Records(ctx, pid)
			if err != nil || len(encs) != 1 || len(ords) != 1 {
				t.Fatalf("%d visits, %d orders, %v", len(encs), len(ords), err)
			}
			e, o := encs[0], ords[0]
			got := want{p.Family, p.BirthDate, p.Sex, e.Location, e.Admit, o.Orderer, o.Ordered, o.Specimen, o.SpecimenType, o.Status}
			if got != w {
				t.Errorf("stored\n%+v, want\n%+v", got, w)
			}
			if p.Given != "Ann" || p.Middle != "B" || o.SampleID != "SMP-2002" || o.Code != "81247-9" || !o.Genetic {
				t.Errorf("fields not in the message changed: %+v %+v", p, o)
			}
		})
	}
}

// TestOrderIssuer: a placer or filler number's issuer is its namespace
// (EI-2), else its universal id (EI-3), as for patient identifiers (CX-4),
// so an ORU naming the issuer by its OID finds the order stored under its
// namespace when the configuration names the OID as the namespace's
// (clinical.authorities), and two issuers' orders of one number named by
// OID only are two orders (they were one, filed under no issuer).
func TestOrderIssuer(t *testing.T) {
	oml := func(control, placer string) string {
		return hl7msg(msh("OML^O21^OML_O21", control, "20260302130000"), pid200,
			seg("ORC", map[int]string{1: "NW", 2: placer, 12: "1234^Orderly^Olive"}),
			seg("OBR", map[int]string{1: "1", 2: placer, 4: "81247-9^Master HL7 genetic variant reporting panel^LN", 7: "20260302130000"}))
	}
	oru := func(control, placer, filler string) string {
		return hl7msg(msh("ORU^R01^ORU_R01", control, "20260310090000"), seg("PID", map[int]string{1: "1", 3: "MRN200^^^HOSP^MR"}),
			seg("OBR", map[int]string{1: "1", 2: placer, 3: filler, 4: "81247-9^Master HL7 genetic variant reporting panel^LN", 25: "F"}),
			seg("OBX", map[int]string{1: "1", 2: "ST", 3: "48004-6^DNA change c.HGVS^LN", 4: "1", 5: "NM_000059.4:c.5946del", 11: "F"}))
	}
	type order struct{ issuer, orderer, status string }
	for _, c := range []struct {
		name    string
		authors map[string][]string
		msgs    []string
		want    []order // by placer issuer
	}{
		{"ORU names the issuer by OID only (EI-3)", map[string][]string{"EPIC": {"1.2.3.4"}},
			[]string{oml("I1", "ORD2002^EPIC^1.2.3.4^ISO"), oru("I2", "ORD2002^^1.2.3.4^ISO", "")},
			[]order{{"EPIC", "1234", "completed"}}},
		{"ORU names the issuer as urn:oid", map[string][]string{"EPIC": {"1.2.3.4"}},
			[]string{oml("I1", "ORD2002^EPIC"), oru("I2", "ORD2002^^urn:oid:1.2.3.4^URI", "")},
			[]order{{"EPIC", "1234", "completed"}}},
		{"two issuers by OID only", nil,
			[]string{oml("I1", "ORD2002^^1.2.3.4^ISO"), oml("I2", "ORD2002^^5.6.7.8^ISO")},
			[]order{{"1.2.3.4", "1234", "new"}, {"5.6.7.8", "1234", "new"}}},
		{"filler number only, its issuer by OID", nil,
			[]string{oru("I1", "", "F-9^^1.2.3.9^ISO"), oru("I2", "", "F-9^LIS^1.2.3.9^ISO")},
			[]order{{clinical.FillerIssuer, "", "completed"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var opts []clinical.Option
			if c.authors != nil {
				opts = append(opts, clinical.Authorities(c.authors))
			}
			f := newFixture(t, opts...)
			for i, raw := range c.msgs {
				if m := receive(t, f, raw); m.Get("MSA-1") != "AA" {
					t.Fatalf("message %d: %s %s", i+1, m.Get("MSA-1"), m.Get("ERR-8"))
				}
			}
			ctx := context.Background()
			pid, err := f.db.FindPatient(ctx, []clinical.Identifier{mrn200})
			if err != nil {
				t.Fatal(err)
			}
			_, _, ords, ress, err := f.db.Records(ctx, pid)
			if err != nil {
				t.Fatal(err)
			}
			var got []order
			for _, o := range ords {
				got = append(got, order{o.PlacerIssuer, o.Orderer, o.Status})
			}
			if len(got) == 2 && got[0].issuer > got[1].issuer {
				got[0], got[1] = got[1], got[0]
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("orders %+v, want %+v", got, c.want)
			}
			for _, r := range ress {
				if len(ords) != 1 || r.OrderID != ords[0].ID {
					t.Errorf("result %s not filed under the one order", r.Code)
				}
			}
		})
	}
}

// TestSpecimenType: the specimen type reaches the order as code and text,
// from SPM-4 (v2.5 and later) or OBR-15 (the specimen source before).
func TestSpecimenType(t *testing.T) {
	for _, c := range []struct {
		name           string
		obr15, spm4    string
		code, wantText string
	}{
		{"SPM-4 code and text", "", "BLD^Blood^HL70487", "BLD", "Blood"},
		{"SPM-4 code only", "", "SAL^^HL70487", "SAL", "SAL"},
		{"OBR-15 (v2.3)", "BLD&Whole blood&HL70070", "", "BLD", "Whole blood"},
		{"SPM-4 over OBR-15", "SER&Serum&HL70070", "BLD^Blood^HL70487", "BLD", "Blood"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			segs := []string{msh("OML^O21^OML_O21", "S1", "20260302130000"), pid200,
				seg("ORC", map[int]string{1: "NW", 2: "ORD3003^EPIC"}),
				seg("OBR", map[int]string{1: "1", 2: "ORD3003^EPIC", 4: "81247-9^Master HL7 genetic variant reporting panel^LN", 15: c.obr15})}
			if c.spm4 != "" {
				segs = append(segs, seg("SPM", map[int]string{1: "1", 2: "SMP-3003&EPIC", 4: c.spm4}))
			}
			if m := receive(t, f, hl7msg(segs...)); m.Get("MSA-1") != "AA" {
				t.Fatalf("%s %s", m.Get("MSA-1"), m.Get("ERR-8"))
			}
			var o clinical.Order
			err := f.db.Update(context.Background(), func(tx *clinical.Tx) error {
				var err error
				o, err = tx.OrderByPlacer("EPIC", "ORD3003")
				return err
			})
			if err != nil || o.Specimen != c.code || o.SpecimenType != c.wantText {
				t.Errorf("specimen %q type %q, %v; want %q %q", o.Specimen, o.SpecimenType, err, c.code, c.wantText)
			}
		})
	}
}

// An order message that says nothing of the order's state (ORC-1 XO, no
// ORC-5) keeps the stored one: a completed order is not set back to new.
func TestOrderStateKeptWhenNotSent(t *testing.T) {
	f := newFixture(t)
	xo := hl7msg(msh("OML^O21^OML_O21", "U9", "20260311090000"), pid200,
		seg("ORC", map[int]string{1: "XO", 2: "ORD2002^EPIC", 12: "1234^Orderly^Olive"}),
		seg("OBR", map[int]string{1: "1", 2: "ORD2002^EPIC", 4: "81247-9^Master HL7 genetic variant reporting panel^LN"}))
	for i, raw := range []string{adt200, oml2002, oru2002("U2", "20260310090000", nil, nil), xo} {
		if m := receive(t, f, raw); m.Get("MSA-1") != "AA" {
			t.Fatalf("message %d: %s %s", i+1, m.Get("MSA-1"), m.Get("ERR-8"))
		}
	}
	pid, err := f.db.FindPatient(context.Background(), []clinical.Identifier{mrn200})
	if err != nil {
		t.Fatal(err)
	}
	_, _, ords, _, err := f.db.Records(context.Background(), pid)
	if err != nil || len(ords) != 1 || ords[0].Status != "completed" {
		t.Fatalf("orders %+v %v, want one, still completed", ords, err)
	}
}
