package azurekv

import (
	"strings"
	"testing"
)

func TestEncodeName(t *testing.T) {
	for _, c := range []struct {
		prefix, name, want, err string
	}{
		{"", "lake", "lake", ""},
		{"", "patient-p1", "patient--p1", ""},
		{"", "patient-P1", "patient---p1", ""},
		{"", "patient-ABC-9", "patient---a-b-c--9", ""},
		{"site1-", "lake", "site1-lake", ""},
		{"site1-", "Lake", "site1--lake", ""},
		{"", "Lake", "", "start with a letter"},
		{"", "9lake", "", "start with a letter"},
		{"", "", "", "empty"},
		{"", "patient_1", "", "only letters"},
		{"", "patient/1", "", "only letters"},
		{"", "lake\u00e9", "", "only letters"},
		{"", strings.Repeat("a", 116), strings.Repeat("a", 116), ""},
		{"", strings.Repeat("a", 117), "", "too long"},
		{"", "patient-" + strings.Repeat("P", 54), "", "too long"},
	} {
		got, err := encodeName(c.prefix, c.name)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("encode(%q, %q) = %q, %v; want error with %q", c.prefix, c.name, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("encode(%q, %q) = %q, %v; want %q", c.prefix, c.name, got, err, c.want)
			continue
		}
		back, err := decodeName(c.prefix, strings.ToUpper(got)) // the vault may change case
		if err != nil || back != c.name {
			t.Errorf("decode(%q) = %q, %v; want %q", got, back, err, c.name)
		}
		if n, err := decodeName(c.prefix, tombstoneName(got)); err == nil {
			t.Errorf("tombstone %q decodes to key %q", tombstoneName(got), n)
		}
	}
}

func TestDecodeNameRejects(t *testing.T) {
	for _, s := range []string{"", "lake-", "lake-0", "lake---", "a-1", "other-lake", "lake_1"} {
		prefix := ""
		if strings.HasPrefix(s, "other") {
			prefix = "site-"
		}
		if n, err := decodeName(prefix, s); err == nil {
			t.Errorf("decode(%q) = %q; want error", s, n)
		}
	}
}

func TestCheckPrefix(t *testing.T) {
	for p, ok := range map[string]bool{"": true, "site1-": true, "a": true, "1site": false, "Site": false, "si_te": false, strings.Repeat("a", 41): false} {
		if err := checkPrefix(p); (err == nil) != ok {
			t.Errorf("checkPrefix(%q) = %v", p, err)
		}
	}
}

// FuzzNames: every valid name maps to a valid vault name that maps back,
// distinct names stay distinct whatever the case, and no tombstone is a
// key's name.
func FuzzNames(f *testing.F) {
	for _, s := range []string{"lake", "patient-P1", "patient-p1", "a--B-", "x-0", "t-never-made"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		vn, err := encodeName("p-", name)
		if err != nil {
			return
		}
		if len(vn)+len(tombstoneSuffix) > maxVaultName {
			t.Fatalf("%q: vault name %q too long", name, vn)
		}
		for _, c := range vn {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				t.Fatalf("%q: vault name %q has %q", name, vn, c)
			}
		}
		if back, err := decodeName("p-", vn); err != nil || back != name {
			t.Fatalf("%q -> %q -> %q, %v", name, vn, back, err)
		}
		if back, err := decodeName("p-", tombstoneName(vn)); err == nil {
			t.Fatalf("tombstone of %q decodes to %q", name, back)
		}
	})
}
