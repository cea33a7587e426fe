package hl7

import "strings"

// SplitFile splits the text of a file holding one or more messages into
// messages, as interface engines and tests keep them: a message starts at
// a line beginning with MSH and runs to the next; segment terminators may
// be CR, LF or CRLF; blank lines and comment lines (/* ... */, #, //)
// between messages are dropped. A file without any MSH line is returned
// whole, for the parser to reject with its reason. Batch envelopes
// (FHS/BHS/BTS/FTS) are dropped: ParseBatch reads batches whole.
func SplitFile(b []byte) [][]byte {
	text := strings.ReplaceAll(strings.ReplaceAll(string(b), "\r\n", "\n"), "\r", "\n")
	hasMSH := strings.HasPrefix(text, "MSH") || strings.Contains(text, "\nMSH")
	var out [][]byte
	var cur []string
	flush := func() {
		if len(cur) > 0 {
			out = append(out, []byte(strings.Join(cur, "\r")))
			cur = nil
		}
	}
	for _, line := range strings.Split(text, "\n") {
		t := strings.TrimSpace(line)
		switch {
		case t == "" || strings.HasPrefix(t, "/*") || strings.HasPrefix(t, "*") || strings.HasPrefix(t, "#") || strings.HasPrefix(t, "//"):
			continue
		case hasMSH && len(line) >= 3 && isEnvelope(line[:3]):
			flush()
			continue
		case strings.HasPrefix(line, "MSH"):
			flush()
		case hasMSH && len(cur) == 0:
			continue // before the first message
		}
		cur = append(cur, line)
	}
	flush()
	return out
}
