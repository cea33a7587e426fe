package azurekv

import (
	"fmt"
	"strings"
)

// Key Vault compares key names case-insensitively and allows only letters,
// digits and '-', 1 to 127 characters, starting with a letter. Our names are
// case-sensitive ("patient-P1" and "patient-p1" are two patients), so they
// are escaped: a lowercase letter or a digit stands for itself, "--" for '-',
// and '-' before a letter for that letter in uppercase:
//
//	lake          lake
//	patient-p1    patient--p1
//	patient-P1    patient---p1
//
// The escaping is reversible (decodeName). An escaped name never holds a run
// of dashes of odd length before a digit, so "<escaped>-0destroyed", the
// name of a destroyed key's tombstone, can never be the name of a key.

// maxVaultName is Key Vault's limit on a key name.
const maxVaultName = 127

// tombstoneSuffix turns a vault key name into the name of its tombstone.
const tombstoneSuffix = "-0destroyed"

// encodeName escapes name (letters, digits and '-') and puts prefix in
// front. It refuses names Key Vault could not hold, counting the room the
// tombstone's suffix needs.
func encodeName(prefix, name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("key name is empty")
	}
	var b strings.Builder
	b.WriteString(prefix)
	for _, c := range name {
		switch {
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			b.WriteRune(c)
		case c == '-':
			b.WriteString("--")
		case c >= 'A' && c <= 'Z':
			b.WriteByte('-')
			b.WriteRune(c - 'A' + 'a')
		default:
			return "", fmt.Errorf("key name %q: only letters, digits and '-'", name)
		}
	}
	s := b.String()
	if c := s[0]; c < 'a' || c > 'z' {
		return "", fmt.Errorf("key name %q: Key Vault names start with a letter; start the name with a lowercase letter or set a prefix", name)
	}
	if len(s)+len(tombstoneSuffix) > maxVaultName {
		return "", fmt.Errorf("key name %q is too long for Key Vault: %d characters escaped, at most %d", name, len(s), maxVaultName-len(tombstoneSuffix))
	}
	return s, nil
}

// decodeName reverses encodeName. Key Vault may return names in any case.
func decodeName(prefix, vaultName string) (string, error) {
	s, ok := strings.CutPrefix(strings.ToLower(vaultName), prefix)
	if !ok || s == "" {
		return "", fmt.Errorf("vault key %q was not named by clinomics", vaultName)
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			b.WriteByte(c)
		case c == '-' && i+1 < len(s) && s[i+1] == '-':
			b.WriteByte('-')
			i++
		case c == '-' && i+1 < len(s) && s[i+1] >= 'a' && s[i+1] <= 'z':
			b.WriteByte(s[i+1] - 'a' + 'A')
			i++
		default:
			return "", fmt.Errorf("vault key %q was not named by clinomics", vaultName)
		}
	}
	return b.String(), nil
}

// tombstoneName is the vault name of the marker left when key vaultName is
// destroyed.
func tombstoneName(vaultName string) string { return vaultName + tombstoneSuffix }

// checkPrefix validates Options.Prefix: lowercase letters, digits and '-',
// starting with a letter, short enough to leave room for names.
func checkPrefix(p string) error {
	if p == "" {
		return nil
	}
	if len(p) > 40 || p[0] < 'a' || p[0] > 'z' {
		return fmt.Errorf("prefix %q: at most 40 characters, starting with a lowercase letter", p)
	}
	for _, c := range p {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("prefix %q: only lowercase letters, digits and '-'", p)
		}
	}
	return nil
}
