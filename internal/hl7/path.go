package hl7

// maxIndex bounds every number in a path.
const maxIndex = 100_000

// path is a parsed SEG[n]-field(rep).comp.sub. Zero means "not given";
// occ is 1 when not given.
type path struct {
	seg                   string
	occ                   int
	field, rep, comp, sub int
}

// parsePath parses "PID-5", "OBX[2]-5(1).2", "OBX[-1]-3.1".
func parsePath(s string) (path, error) {
	var p path
	if len(s) < 5 || !validSegmentID(s[:3]) {
		return p, because(ErrPath, "a path starts with a segment ID and a field number, as PID-5")
	}
	p.seg, p.occ = s[:3], 1
	i := 3
	if s[i] == '[' {
		i++
		neg := false
		if i < len(s) && s[i] == '-' {
			neg = true
			i++
		}
		n, j, ok := number(s, i)
		if !ok || j >= len(s) || s[j] != ']' {
			return p, because(ErrPath, "a segment occurrence is written [n], n from 1 (or -1 for the last)")
		}
		p.occ = n
		if neg {
			p.occ = -n
		}
		i = j + 1
	}
	if i >= len(s) || s[i] != '-' {
		return p, because(ErrPath, "the segment ID must be followed by -field")
	}
	if err := p.rest(s, i+1); err != nil {
		return p, err
	}
	return p, nil
}

// parseRelPath parses "5", "5(2).1.1" within a segment.
func parseRelPath(s string) (path, error) {
	var p path
	p.occ = 1
	return p, p.rest(s, 0)
}

// rest parses field(rep).comp.sub from s[i:].
func (p *path) rest(s string, i int) error {
	n, i, ok := number(s, i)
	if !ok {
		return because(ErrPath, "missing field number")
	}
	p.field = n
	if i < len(s) && s[i] == '(' {
		if p.rep, i, ok = number(s, i+1); !ok || i >= len(s) || s[i] != ')' {
			return because(ErrPath, "a repetition is written (n), n from 1")
		}
		i++
	}
	if i < len(s) && s[i] == '.' {
		if p.comp, i, ok = number(s, i+1); !ok {
			return because(ErrPath, "missing component number")
		}
		if i < len(s) && s[i] == '.' {
			if p.sub, i, ok = number(s, i+1); !ok {
				return because(ErrPath, "missing subcomponent number")
			}
		}
	}
	if i != len(s) {
		return because(ErrPath, "unexpected text after the path")
	}
	return nil
}

// number reads a decimal from 1 to maxIndex at s[i:].
func number(s string, i int) (int, int, bool) {
	n, j := 0, i
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		n = n*10 + int(s[j]-'0')
		if n > maxIndex {
			return 0, j, false
		}
		j++
	}
	return n, j, j > i && n >= 1
}
