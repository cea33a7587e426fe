package genemodel

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/clinomics/clinomics/internal/format/gff"
)

// The stored form: magic, a version, the payload length, the payload
// (varint-coded genes, transcripts and warnings) and the SHA-256 of the
// payload.
const (
	magic   = "CLNGMDB\x00"
	version = 2       // 2: a warning's contig is stored (1 is still read)
	maxBlob = 1 << 30 // refuse a payload larger than this
)

// Errors from Load.
var (
	ErrNotModel  = errors.New("not a clinomics gene model file (bad magic)")
	ErrVersion   = errors.New("unsupported gene model file version")
	ErrTruncated = errors.New("gene model file is truncated")
	ErrCorrupt   = errors.New("gene model file is corrupt (checksum mismatch)")
)

type enc struct{ bytes.Buffer }

func (e *enc) int(v int64) { e.Buffer.Write(binary.AppendVarint(nil, v)) }
func (e *enc) str(s string) {
	e.int(int64(len(s)))
	e.WriteString(s)
}
func (e *enc) bool(b bool) {
	if b {
		e.WriteByte(1)
	} else {
		e.WriteByte(0)
	}
}

// Save writes the model in the stored form.
func (m *Model) Save(w io.Writer) error {
	var e enc
	e.int(int64(len(m.Genes)))
	for _, g := range m.Genes {
		e.str(g.ID)
		e.str(g.Name)
		e.str(g.Biotype)
		e.str(g.Chrom)
		e.int(int64(g.Strand))
		e.int(int64(len(g.Transcripts)))
		for _, t := range g.Transcripts {
			e.str(t.ID)
			e.str(t.Biotype)
			e.int(t.Start)
			e.int(t.End)
			e.int(int64(t.Strand))
			e.int(int64(t.StartPhase))
			e.bool(t.MANE)
			e.bool(t.EnsemblCanonical)
			e.bool(t.Canonical)
			for _, rs := range [][]Range{t.Exons, t.CDS} {
				e.int(int64(len(rs)))
				prev := int64(0)
				for _, r := range rs {
					e.int(r.Start - prev)
					e.int(r.End - r.Start)
					prev = r.End
				}
			}
		}
	}
	e.int(int64(len(m.Warnings)))
	for _, wn := range m.Warnings {
		e.str(wn.Kind)
		e.str(wn.File)
		e.int(int64(wn.Line))
		e.str(wn.Message)
		e.str(wn.Chrom)
	}
	bw := bufio.NewWriter(w)
	bw.WriteString(magic)
	var hdr [10]byte
	binary.LittleEndian.PutUint16(hdr[:2], version)
	binary.LittleEndian.PutUint64(hdr[2:], uint64(e.Len()))
	bw.Write(hdr[:])
	sum := sha256.Sum256(e.Bytes())
	bw.Write(e.Bytes())
	bw.Write(sum[:])
	return bw.Flush()
}

type dec struct {
	b   []byte
	err error
}

func (d *dec) int() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = ErrCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) count() int {
	n := d.int()
	if n < 0 || n > int64(len(d.b)) {
		d.err = ErrCorrupt
		return 0
	}
	return int(n)
}

func (d *dec) str() string {
	n := d.count()
	if d.err != nil {
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *dec) bool() bool {
	if d.err != nil || len(d.b) == 0 {
		d.err = ErrCorrupt
		return false
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v == 1
}

// Load reads a model written by Save and rebuilds its index. A file cut
// short reads as ErrTruncated, a damaged one as ErrCorrupt.
func Load(r io.Reader) (*Model, error) {
	head := make([]byte, len(magic)+10)
	if _, err := io.ReadFull(r, head); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, ErrTruncated
		}
		return nil, err
	}
	if string(head[:len(magic)]) != magic {
		return nil, ErrNotModel
	}
	v := binary.LittleEndian.Uint16(head[len(magic):])
	if v != version && v != 1 {
		return nil, fmt.Errorf("%w: %d (this build reads 1 and %d)", ErrVersion, v, version)
	}
	n := binary.LittleEndian.Uint64(head[len(magic)+2:])
	if n > maxBlob {
		return nil, fmt.Errorf("%w: payload of %d bytes", ErrCorrupt, n)
	}
	body := make([]byte, n+sha256.Size)
	if _, err := io.ReadFull(r, body); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, ErrTruncated
		}
		return nil, err
	}
	payload := body[:n]
	if sum := sha256.Sum256(payload); !bytes.Equal(sum[:], body[n:]) {
		return nil, ErrCorrupt
	}
	d := &dec{b: payload}
	m := &Model{}
	ng := d.count()
	for i := 0; i < ng && d.err == nil; i++ {
		g := &Gene{ID: d.str(), Name: d.str(), Biotype: d.str(), Chrom: d.str(), Strand: int8(d.int())}
		nt := d.count()
		for j := 0; j < nt && d.err == nil; j++ {
			t := &Transcript{ID: d.str(), Biotype: d.str(), Chrom: g.Chrom, Gene: g}
			t.Start, t.End = d.int(), d.int()
			if t.Start < 1 || t.End < t.Start || t.End > gff.MaxPosition {
				d.err = ErrCorrupt // as no GFF could make it (and an index of it could take all memory)
			}
			t.Strand, t.StartPhase = int8(d.int()), int(d.int())
			t.MANE, t.EnsemblCanonical, t.Canonical = d.bool(), d.bool(), d.bool()
			for k := 0; k < 2; k++ {
				nr := d.count()
				rs := make([]Range, 0, nr)
				prev := int64(0)
				for x := 0; x < nr && d.err == nil; x++ {
					s := prev + d.int()
					e := s + d.int()
					rs = append(rs, Range{s, e})
					prev = e
				}
				if k == 0 {
					t.Exons = rs
				} else if nr > 0 {
					t.CDS = rs
				}
			}
			if t.Canonical {
				g.Canonical = t
			}
			g.Transcripts = append(g.Transcripts, t)
			m.Transcripts = append(m.Transcripts, t)
			if j == 0 || t.Start < g.Start {
				g.Start = t.Start
			}
			g.End = max(g.End, t.End)
		}
		m.Genes = append(m.Genes, g)
	}
	nw := d.count()
	for i := 0; i < nw && d.err == nil; i++ {
		w := Warning{Kind: d.str(), File: d.str(), Line: int(d.int()), Message: d.str()}
		if v >= 2 {
			w.Chrom = d.str()
		}
		m.Warnings = append(m.Warnings, w)
	}
	if d.err != nil || len(d.b) != 0 {
		return nil, ErrCorrupt
	}
	m.index = buildIndex(m.Transcripts)
	return m, nil
}
