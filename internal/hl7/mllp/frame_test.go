package mllp

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"testing/iotest"
)

// step is one expected result of Reader.Next.
type step struct {
	msg string // the message, when err is nil; the head with ErrTooLarge
	err error  // a sentinel, io.EOF, or nil
	// For a *FrameError: where.
	off, start int64
	frame      int
	size       int64
}

func TestReader(t *testing.T) {
	const vt, fs = "\x0b", "\x1c"
	tests := []struct {
		name       string
		in         string
		maxMessage int
		maxJunk    int
		steps      []step
		counts     Counts
	}{
		{name: "empty stream", in: "", steps: []step{{err: io.EOF}}},
		{name: "one frame", in: vt + "MSH|a" + fs + "\r",
			steps:  []step{{msg: "MSH|a"}, {err: io.EOF}},
			counts: Counts{Messages: 1, Bytes: 5}},
		{name: "several frames", in: vt + "A" + fs + "\r" + vt + "BB" + fs + "\r" + vt + "CCC" + fs + "\r",
			steps:  []step{{msg: "A"}, {msg: "BB"}, {msg: "CCC"}, {err: io.EOF}},
			counts: Counts{Messages: 3, Bytes: 6}},
		{name: "missing trailing CR", in: vt + "A" + fs + vt + "B" + fs,
			steps:  []step{{msg: "A"}, {msg: "B"}, {err: io.EOF}},
			counts: Counts{Messages: 2, Bytes: 2, NoTrailer: 2}},
		{name: "junk and NULs between frames", in: "\x00\x00" + vt + "A" + fs + "\r\n\x00\x00 " + vt + "B" + fs + "\r\r\n",
			steps:  []step{{msg: "A"}, {msg: "B"}, {err: io.EOF}},
			counts: Counts{Messages: 2, Bytes: 2, Junk: 2 + 4 + 2}},
		{name: "junk instead of trailer", in: vt + "A" + fs + "\n" + vt + "B" + fs + "\r",
			steps:  []step{{msg: "A"}, {msg: "B"}, {err: io.EOF}},
			counts: Counts{Messages: 2, Bytes: 2, Junk: 1, NoTrailer: 1}},
		{name: "empty frame", in: vt + fs + "\r" + vt + "A" + fs + "\r",
			steps:  []step{{msg: ""}, {msg: "A"}, {err: io.EOF}},
			counts: Counts{Messages: 2, Bytes: 1}},
		{name: "segments with CR, LF inside", in: vt + "MSH|x\rPID|1\nPV1|\r\n" + fs + "\r",
			steps:  []step{{msg: "MSH|x\rPID|1\nPV1|\r\n"}, {err: io.EOF}},
			counts: Counts{Messages: 1, Bytes: 18}},
		{name: "start block inside a message", in: vt + "ABC" + vt + "DE" + fs + "\r",
			steps:  []step{{err: ErrFraming, off: 4, start: 0, frame: 1, size: 3}, {msg: "DE"}, {err: io.EOF}},
			counts: Counts{Messages: 1, Bytes: 2}},
		{name: "truncated", in: vt + "AB" + fs + "\r" + vt + "CDE",
			steps:  []step{{msg: "AB"}, {err: ErrTruncated, off: 9, start: 5, frame: 2, size: 3}, {err: io.EOF}},
			counts: Counts{Messages: 1, Bytes: 2}},
		{name: "unframed HL7 is junk", in: "MSH|^~\\&|A\rPID|1\r",
			steps:  []step{{err: io.EOF}},
			counts: Counts{Junk: 17}},
		{name: "at the size limit", in: vt + "1234" + fs + "\r", maxMessage: 4,
			steps:  []step{{msg: "1234"}, {err: io.EOF}},
			counts: Counts{Messages: 1, Bytes: 4}},
		{name: "too large, then resynchronised", in: vt + "123456789" + fs + "\r" + vt + "ok" + fs + "\r", maxMessage: 4,
			steps:  []step{{msg: "1234", err: ErrTooLarge, off: 5, start: 0, frame: 1, size: 9}, {msg: "ok"}, {err: io.EOF}},
			counts: Counts{Messages: 1, Bytes: 2}},
		{name: "too large, ended by a start block", in: vt + "123456789" + vt + "ok" + fs, maxMessage: 4,
			steps:  []step{{msg: "1234", err: ErrTooLarge, off: 5, start: 0, frame: 1, size: 9}, {msg: "ok"}, {err: io.EOF}},
			counts: Counts{Messages: 1, Bytes: 2, NoTrailer: 1}},
		{name: "too large and truncated", in: vt + "123456789", maxMessage: 4,
			steps: []step{{msg: "1234", err: ErrTooLarge, off: 5, start: 0, frame: 1, size: 9}, {err: io.EOF}}},
		{name: "too much junk", in: "0123456789" + vt + "A" + fs, maxJunk: 4,
			steps: []step{
				{err: ErrJunk, off: 4, start: -1, frame: 0},
				{err: ErrJunk, off: 9, start: -1, frame: 0},
				{msg: "A"}, {err: io.EOF}},
			counts: Counts{Messages: 1, Bytes: 1, Junk: 10, NoTrailer: 1}},
		{name: "junk at the limit", in: "0123" + vt + "A" + fs + "\r", maxJunk: 4,
			steps:  []step{{msg: "A"}, {err: io.EOF}},
			counts: Counts{Messages: 1, Bytes: 1, Junk: 4}},
	}
	for _, tt := range tests {
		// Each case is read whole, one byte at a time, and in halves: the
		// result must not depend on how the stream is cut.
		readers := []struct {
			how string
			mk  func(string) io.Reader
		}{
			{"whole", func(s string) io.Reader { return strings.NewReader(s) }},
			{"bytewise", func(s string) io.Reader { return iotest.OneByteReader(strings.NewReader(s)) }},
			{"halves", func(s string) io.Reader { return iotest.HalfReader(strings.NewReader(s)) }},
			{"data+EOF", func(s string) io.Reader { return iotest.DataErrReader(strings.NewReader(s)) }},
		}
		for _, rd := range readers {
			how, mk := rd.how, rd.mk
			t.Run(tt.name+"/"+how, func(t *testing.T) {
				r := NewReader(mk(tt.in))
				r.MaxMessage, r.MaxJunk = tt.maxMessage, tt.maxJunk
				for i, want := range tt.steps {
					msg, err := r.Next()
					if !errors.Is(err, want.err) || (want.err == nil && err != nil) {
						t.Fatalf("step %d: err %v, want %v", i, err, want.err)
					}
					if string(msg) != want.msg {
						t.Fatalf("step %d: message %q, want %q", i, msg, want.msg)
					}
					if want.err == nil && msg == nil {
						t.Fatalf("step %d: nil message without error", i)
					}
					var fe *FrameError
					if errors.As(err, &fe) {
						if fe.Offset != want.off || fe.Start != want.start || fe.Frame != want.frame || fe.Size != want.size {
							t.Fatalf("step %d: %v: offset %d start %d frame %d size %d, want %d %d %d %d",
								i, err, fe.Offset, fe.Start, fe.Frame, fe.Size, want.off, want.start, want.frame, want.size)
						}
					} else if err != nil && err != io.EOF {
						t.Fatalf("step %d: %T %v, want a *FrameError", i, err, err)
					}
				}
				if got := r.Counts(); got != tt.counts {
					t.Errorf("counts %+v, want %+v", got, tt.counts)
				}
			})
		}
	}
}

func TestFrameErrorMessages(t *testing.T) {
	for _, tt := range []struct {
		err  *FrameError
		want string
	}{
		{&FrameError{Offset: 9, Start: 0, Frame: 1, Size: 20, Limit: 8, Err: ErrTooLarge},
			"mllp: frame 1 (from byte 0): message too large: 20 bytes, the limit is 8"},
		{&FrameError{Offset: 9, Start: 0, Frame: 1, Size: 8, Limit: 8, Err: ErrTooLarge, Cause: io.ErrUnexpectedEOF},
			"mllp: frame 1 (from byte 0): message too large: more than the limit of 8 bytes: unexpected EOF"},
		{&FrameError{Offset: 99, Start: -1, Frame: 3, Limit: 64, Err: ErrJunk},
			"mllp: after frame 3, at byte 99: more than 64 bytes outside frames (not an MLLP peer?)"},
		{&FrameError{Offset: 14, Start: 10, Frame: 2, Size: 3, Err: ErrFraming},
			"mllp: frame 2 (from byte 10): start block at byte 14, inside a message of 3 bytes so far"},
		{&FrameError{Offset: 14, Start: 10, Frame: 2, Size: 3, Err: ErrTruncated, Cause: os.ErrDeadlineExceeded},
			"mllp: frame 2 (from byte 10): stream ended inside a message, after 3 bytes: i/o timeout"},
	} {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("got  %s\nwant %s", got, tt.want)
		}
	}
	err := error(&FrameError{Err: ErrTruncated, Cause: os.ErrDeadlineExceeded})
	if !errors.Is(err, ErrTruncated) || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Error("errors.Is does not find both the sentinel and the cause")
	}
}

// TestReaderStickyError: an error of the underlying reader is returned
// again, not retried.
func TestReaderStickyError(t *testing.T) {
	boom := errors.New("boom")
	r := NewReader(io.MultiReader(strings.NewReader("\x0bAB"), iotest.ErrReader(boom)))
	for i := 0; i < 2; i++ {
		_, err := r.Next()
		if !errors.Is(err, boom) {
			t.Fatalf("call %d: %v, want boom", i, err)
		}
	}
}

// TestReaderLargeMessages: messages larger than the read buffer, and the
// scratch buffer released after a very large one.
func TestReaderLargeMessages(t *testing.T) {
	big := bytes.Repeat([]byte("OBX|1|ED|PDF^Report||"), 100_000) // 2.1 MB
	small := []byte("MSH|^~\\&|small")
	var stream bytes.Buffer
	w := NewWriter(&stream)
	for _, m := range [][]byte{big, small, big[:readBufferSize], big[:readBufferSize+1], small} {
		if err := w.WriteMessage(m); err != nil {
			t.Fatal(err)
		}
	}
	r := NewReader(&stream)
	for i, want := range [][]byte{big, small, big[:readBufferSize], big[:readBufferSize+1], small} {
		got, err := r.Next()
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("message %d: %d bytes, %v; want %d bytes", i, len(got), err, len(want))
		}
		if i == 1 && cap(r.scratch) > keepScratch {
			t.Errorf("scratch buffer of %d bytes kept after a large message", cap(r.scratch))
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatal(err)
	}
}

// TestReaderOversizeHead: the head returned with ErrTooLarge is at most
// HeadSize, and a huge message is discarded without being buffered.
func TestReaderOversizeHead(t *testing.T) {
	huge := bytes.Repeat([]byte{'x'}, 50<<20)
	stream := io.MultiReader(strings.NewReader("\x0bMSH|"), bytes.NewReader(huge), strings.NewReader("\x1c\r\x0bnext\x1c\r"))
	r := NewReader(stream)
	r.MaxMessage = 1 << 20
	head, err := r.Next()
	var fe *FrameError
	if !errors.As(err, &fe) || fe.Err != ErrTooLarge || fe.Size != int64(len(huge)+4) || fe.Cause != nil {
		t.Fatalf("%v", err)
	}
	if len(head) != HeadSize || string(head[:4]) != "MSH|" {
		t.Fatalf("head of %d bytes %q...", len(head), head[:4])
	}
	if cap(r.scratch) > keepScratch {
		t.Errorf("scratch of %d bytes kept", cap(r.scratch))
	}
	if msg, err := r.Next(); err != nil || string(msg) != "next" {
		t.Fatalf("after the oversized message: %q %v", msg, err)
	}
}

func TestWriter(t *testing.T) {
	var b bytes.Buffer
	w := NewWriter(&b)
	if err := w.WriteMessage([]byte("MSH|a\rPID|b")); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteMessage(nil); err != nil {
		t.Fatal(err)
	}
	if got, want := b.String(), "\x0bMSH|a\rPID|b\x1c\r\x0b\x1c\r"; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
	for _, bad := range []string{"MSH|\x0b", "\x1c", "a\x1cb"} {
		b.Reset()
		if err := w.WriteMessage([]byte(bad)); !errors.Is(err, ErrControlByte) || b.Len() != 0 {
			t.Errorf("%q: %v, %d bytes written", bad, err, b.Len())
		}
	}
	// One Write per message: a frame is never split by the Writer.
	cw := &countingWriter{}
	w = NewWriter(cw)
	for i := 0; i < 3; i++ {
		w.WriteMessage(bytes.Repeat([]byte("x"), 100_000))
	}
	if cw.writes != 3 {
		t.Errorf("%d writes for 3 messages", cw.writes)
	}
}

type countingWriter struct{ writes int }

func (c *countingWriter) Write(p []byte) (int, error) { c.writes++; return len(p), nil }

// TestRealMessagesRoundTrip: every message of the shared HL7 corpus goes
// through Writer and Reader unchanged, with all the line endings real files
// have.
func TestRealMessagesRoundTrip(t *testing.T) {
	msgs := corpusMessages(t)
	var stream bytes.Buffer
	w := NewWriter(&stream)
	for _, m := range msgs {
		if err := w.WriteMessage(m.data); err != nil {
			t.Fatalf("%s: %v", m.name, err)
		}
		stream.WriteString("\x00\n") // junk between frames, as some senders write
	}
	r := NewReader(iotest.HalfReader(&stream))
	for _, m := range msgs {
		got, err := r.Next()
		if err != nil || !bytes.Equal(got, m.data) {
			t.Fatalf("%s: %v; got %d bytes, want %d", m.name, err, len(got), len(m.data))
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatal(err)
	}
	if c := r.Counts(); c.Messages != int64(len(msgs)) || c.Junk != int64(2*len(msgs)) || c.NoTrailer != 0 {
		t.Errorf("counts %+v for %d messages", c, len(msgs))
	}
	t.Logf("%d messages from %s", len(msgs), corpusDir)
}

// FuzzReader: whatever the input, Next never panics, never returns a
// message longer than MaxMessage or holding a framing byte, always
// advances, and ends; and messages written by the Writer read back intact
// before whatever follows them.
func FuzzReader(f *testing.F) {
	for _, m := range corpusSeeds(f) {
		f.Add(appendFrame(nil, m), m)
		// The ways real senders frame: no CR, junk around, two at once.
		f.Add(append(append([]byte("\x00\r\n"), appendFrame(nil, m)[:len(m)+2]...), appendFrame(nil, m)...), m)
	}
	f.Add([]byte("\x0bA\x0bB\x1c\x1c\r\x0b"), []byte("A"))
	f.Add([]byte{}, []byte{})
	f.Fuzz(func(t *testing.T, stream, msg []byte) {
		const maxMessage, maxJunk = 4096, 512
		r := NewReader(bytes.NewReader(stream))
		r.MaxMessage, r.MaxJunk = maxMessage, maxJunk
		last := int64(-1)
		for calls := 0; ; calls++ {
			if calls > len(stream)+1 {
				t.Fatalf("%d calls on %d bytes", calls, len(stream))
			}
			m, err := r.Next()
			if err == io.EOF {
				break
			}
			if len(m) > maxMessage || (errors.Is(err, ErrTooLarge) && len(m) > HeadSize) {
				t.Fatalf("message of %d bytes", len(m))
			}
			if err == nil && bytes.ContainsAny(m, "\x0b\x1c") {
				t.Fatalf("message %q holds a framing byte", m)
			}
			var fe *FrameError
			if err != nil && !errors.As(err, &fe) {
				t.Fatalf("%T %v", err, err)
			}
			if r.Offset() <= last && !errors.Is(err, ErrTruncated) {
				t.Fatalf("no progress at byte %d: %v", last, err)
			}
			last = r.Offset()
			if errors.Is(err, ErrTruncated) {
				if _, err := r.Next(); err != io.EOF {
					t.Fatalf("after truncation: %v", err)
				}
				break
			}
		}
		if r.Offset() != int64(len(stream)) {
			t.Fatalf("consumed %d of %d bytes", r.Offset(), len(stream))
		}

		// Round trip: msg framed by the Writer, followed by the fuzzed stream.
		if checkMessage(msg) != nil || len(msg) > maxMessage {
			return
		}
		var b bytes.Buffer
		NewWriter(&b).WriteMessage(msg)
		b.Write(stream)
		r = NewReader(&b)
		r.MaxMessage = maxMessage
		got, err := r.Next()
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("round trip: %q %v, want %q", got, err, msg)
		}
	})
}
