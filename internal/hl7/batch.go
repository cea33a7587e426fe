package hl7

import (
	"strconv"
	"strings"
)

// Batch is an HL7 batch file: [FHS] { [BHS] { MSH... } [BTS] } [FTS].
// A file of bare messages, one after another, is a batch with one group
// and no envelope.
type Batch struct {
	FHS, FTS *Segment // file header and trailer; nil when absent
	Groups   []Group
}

// Group is one batch of a file: BHS, its messages, BTS.
type Group struct {
	BHS, BTS *Segment // nil when absent
	Messages []*Message
}

// Messages returns the messages of every group, in order.
func (b *Batch) Messages() []*Message {
	var out []*Message
	for _, g := range b.Groups {
		out = append(out, g.Messages...)
	}
	return out
}

// Bytes encodes the batch, each segment ended by CR.
func (b *Batch) Bytes() []byte {
	var out []byte
	if b.FHS != nil {
		out = b.FHS.appendTo(out)
	}
	for _, g := range b.Groups {
		if g.BHS != nil {
			out = g.BHS.appendTo(out)
		}
		for _, m := range g.Messages {
			out = append(out, m.Bytes()...)
		}
		if g.BTS != nil {
			out = g.BTS.appendTo(out)
		}
	}
	if b.FTS != nil {
		out = b.FTS.appendTo(out)
	}
	return out
}

// ParseBatch parses a batch file with the default Limits.
func ParseBatch(b []byte) (*Batch, error) { return Limits{}.ParseBatch(b) }

// ParseBatch parses a batch file. Each message is parsed as Parse does,
// with its own MSH delimiters and character set; errors inside one name
// its number (ParseError.Message) and the file's line and offset. A
// segment outside a message, a header out of place (FHS after the start,
// BHS before the previous batch's BTS, anything after FTS), and a BTS-1
// message count or FTS-1 batch count that disagrees with the file are
// ErrBatch. Missing trailers are tolerated (as senders omit them), so a
// file cut short between messages cannot be told from a whole one unless
// its trailers are there.
func (l Limits) ParseBatch(b []byte) (*Batch, error) {
	l = l.withDefaults()
	if len(b) > l.MaxBatchSize {
		return nil, &ParseError{Err: because(ErrTooLarge, "batch file longer than "+strconv.Itoa(l.MaxBatchSize)+" bytes")}
	}
	s := string(b)
	start := 0
	if strings.HasPrefix(s, bom) {
		start = len(bom)
	}
	r := batchReader{p: parser{l: l, s: s, end: len(s)}, out: &Batch{}, msgStart: -1, envDelims: DefaultDelimiters}
	return r.read(start)
}

// batchReader holds the state of ParseBatch.
type batchReader struct {
	p         parser
	out       *Batch
	open      bool // the last group is open (takes more messages)
	msgStart  int  // offset of the pending message's MSH, -1 if none
	msgLine   int
	nmsg      int
	segs      int // non-blank segments read, for envelope positions
	envDelims Delimiters
	done      bool // FTS read
}

func (r *batchReader) fail(line, off int, loc Location, err error) error {
	return &ParseError{Line: line, Offset: off, Location: loc, Err: err}
}

func (r *batchReader) read(i int) (*Batch, error) {
	p := &r.p
	s := p.s
	line := 1
	for i < p.end {
		blank, j := p.blank(i)
		if blank {
			if j < p.end {
				line++
			}
			i = p.next(j)
			continue
		}
		r.segs++
		id := ""
		if p.end-i >= 3 && (p.end-i == 3 || !isAlnum(s[i+3])) {
			id = s[i : i+3]
		}
		if r.done {
			return nil, r.fail(line, i, Location{}, because(ErrBatch, "a segment after FTS"))
		}
		switch id {
		case "MSH", "FHS", "BHS", "BTS", "FTS":
			if err := r.flush(i); err != nil {
				return nil, err
			}
		default:
			if r.msgStart < 0 {
				return nil, r.fail(line, i, Location{}, because(ErrBatch, "a segment outside a message: a message starts with MSH"))
			}
		}
		switch id {
		case "MSH":
			r.msgStart, r.msgLine = i, line
		case "FHS", "BHS", "BTS", "FTS":
			end, err := r.envelope(id, i, line)
			if err != nil {
				return nil, err
			}
			i = end
		}
		// Move to the next line.
		for i < p.end && s[i] != '\r' && s[i] != '\n' {
			i++
		}
		if i < p.end {
			line++
		}
		i = p.next(i)
	}
	if err := r.flush(p.end); err != nil {
		return nil, err
	}
	if r.segs == 0 {
		return nil, r.fail(0, i, Location{}, because(ErrNoMSH, "no segments"))
	}
	return r.out, nil
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// flush parses the pending message, which ends where the segment at end
// starts.
func (r *batchReader) flush(end int) error {
	if r.msgStart < 0 {
		return nil
	}
	start := r.msgStart
	r.msgStart = -1
	r.nmsg++
	if r.nmsg > r.p.l.MaxMessages {
		return r.fail(r.msgLine, start, Location{}, because(ErrTooLarge, "more than "+strconv.Itoa(r.p.l.MaxMessages)+" messages"))
	}
	if end-start > r.p.l.MaxSize {
		return &ParseError{Message: r.nmsg, Line: r.msgLine, Offset: start, Err: because(ErrTooLarge, "message longer than "+strconv.Itoa(r.p.l.MaxSize)+" bytes")}
	}
	p := parser{l: r.p.l, s: r.p.s, end: end, index: r.nmsg}
	m, err := p.message(start, r.msgLine)
	if err != nil {
		return err
	}
	if !r.open {
		r.out.Groups = append(r.out.Groups, Group{})
		r.open = true
	}
	g := &r.out.Groups[len(r.out.Groups)-1]
	g.Messages = append(g.Messages, m)
	r.envDelims = m.d
	return nil
}

// envelope reads the FHS, BHS, BTS or FTS segment at i and returns where
// it ends.
func (r *batchReader) envelope(id string, i, line int) (int, error) {
	p := &r.p
	at := func(k, f int, err error) error {
		return r.fail(line, k, Location{Segment: id, Sequence: 1, Field: f}, err)
	}
	var d Delimiters
	var fields []string
	k, field := i+3, 1
	if id == "FHS" || id == "BHS" {
		var err error
		var encEnd int
		d, encEnd, err = p.header(i, line, 0, id)
		if err != nil {
			return 0, err
		}
		fields = []string{id, p.s[i+3 : i+4], p.s[i+4 : encEnd]}
		k, field = encEnd, 3
	} else {
		d = r.envDelims
		if k < p.end && p.s[k] != d.Field && p.s[k] != '\r' && p.s[k] != '\n' {
			return 0, at(k, 1, because(ErrBatch, "the trailer does not use the field separator of its batch"))
		}
		fields = []string{id}
	}
	m := &Message{d: d}
	fields, end, err := p.scan(newScanner(m), fields, k, field, at)
	if err != nil {
		return 0, err
	}
	seg := &Segment{m: m, fields: fields}
	b := r.out
	switch id {
	case "FHS":
		if r.segs != 1 {
			return 0, at(i, 0, because(ErrBatch, "FHS must be the first segment of the file"))
		}
		b.FHS = seg
		r.envDelims = d
	case "BHS":
		if r.open && len(b.Groups) > 0 && b.Groups[len(b.Groups)-1].BHS != nil {
			return 0, at(i, 0, because(ErrBatch, "BHS before the BTS of the previous batch"))
		}
		b.Groups = append(b.Groups, Group{BHS: seg})
		r.open = true
		r.envDelims = d
	case "BTS":
		if !r.open {
			return 0, at(i, 0, because(ErrBatch, "BTS without a batch to close"))
		}
		g := &b.Groups[len(b.Groups)-1]
		g.BTS = seg
		r.open = false
		if err := checkCount(seg, len(g.Messages), "messages in the batch"); err != nil {
			return 0, at(i, 1, err)
		}
	case "FTS":
		r.open = false
		r.done = true
		b.FTS = seg
		if err := checkCount(seg, len(b.Groups), "batches in the file"); err != nil {
			return 0, at(i, 1, err)
		}
	}
	return end, nil
}

// checkCount compares field 1 of a trailer, when valued, with n.
func checkCount(seg *Segment, n int, what string) error {
	v := strings.TrimSpace(seg.Field(1).String())
	if v == "" {
		return nil
	}
	c, err := strconv.Atoi(v)
	if err != nil || c < 0 {
		return because(ErrBatch, "the count is not a number")
	}
	if c != n {
		return because(ErrBatch, "the count does not match the "+strconv.Itoa(n)+" "+what)
	}
	return nil
}
