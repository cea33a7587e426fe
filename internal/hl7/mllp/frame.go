package mllp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// The bytes of the Minimal Lower Layer Protocol envelope: a message travels
// as StartBlock, the message, EndBlock, CR.
const (
	StartBlock = 0x0B // vertical tab
	EndBlock   = 0x1C // file separator
	CR         = 0x0D // carriage return, after EndBlock
)

// Limits of a [Reader] whose fields are left zero.
const (
	// DefaultMaxMessage is the largest message accepted: 8 MiB, room for
	// an ORU with an embedded PDF report.
	DefaultMaxMessage = 8 << 20
	// DefaultMaxJunk is how many bytes may stand between two frames (NULs,
	// line feeds, keep-alive bytes some senders write) before the stream is
	// judged not to be MLLP at all.
	DefaultMaxJunk = 64 << 10
	// HeadSize is how much of an oversized message Next returns with
	// ErrTooLarge: enough for its MSH segment, so that the caller can name
	// the message it rejects.
	HeadSize = 64 << 10
)

// readBufferSize is the buffer between the connection and the Reader.
const readBufferSize = 32 << 10

// keepScratch is the largest message buffer a Reader (or Writer) keeps
// for the next message; after a larger message the buffer is released, so
// an idle connection holds little more than its read buffer.
const keepScratch = 256 << 10

// Errors of the framing, wrapped in a [FrameError]. None of them is sticky:
// after one, Next reads on from a known place (see each). Errors of the
// underlying reader, io.EOF included, are sticky.
var (
	// ErrTooLarge: a message is longer than MaxMessage. Next has discarded
	// the rest of it, up to its EndBlock (or a StartBlock, taken as the next
	// frame), without buffering it, and returns its first HeadSize bytes with
	// the error; the next call reads the following frame.
	ErrTooLarge = errors.New("message too large")
	// ErrFraming: a StartBlock inside a message, before its EndBlock. The
	// partial message is dropped; the next call starts a new frame at that
	// StartBlock.
	ErrFraming = errors.New("start block inside a message")
	// ErrTruncated: the stream ended, failed or timed out inside a message.
	// The cause, when it is not the end of the stream, is in FrameError.Cause.
	ErrTruncated = errors.New("stream ended inside a message")
	// ErrJunk: more than MaxJunk bytes between two frames. The next call
	// goes on skipping with a fresh allowance.
	ErrJunk = errors.New("too many bytes outside frames")
	// ErrControlByte is returned by [Writer.WriteMessage] for a message that
	// holds a StartBlock or EndBlock byte, which would break its framing.
	ErrControlByte = errors.New("message holds an MLLP control byte (0x0B or 0x1C)")
)

// FrameError is a framing error: where in the stream, in which frame, and
// which sentinel. It never holds message content, so it is safe to log.
type FrameError struct {
	// Offset is the position in the stream (bytes from its start) of the
	// byte at which the problem was found.
	Offset int64
	// Start is the position of the StartBlock of the frame, or -1 for an
	// error between frames (ErrJunk).
	Start int64
	// Frame is the number of the frame on the stream, from 1 (for ErrJunk:
	// of the last frame before the junk).
	Frame int
	// Size is how many message bytes the frame held: the whole message for
	// ErrTooLarge once it has been discarded to its end, else the bytes
	// read before the error.
	Size int64
	// Limit is the limit exceeded, for ErrTooLarge and ErrJunk.
	Limit int64
	// Err is one of the sentinels ErrTooLarge, ErrFraming, ErrTruncated,
	// ErrJunk.
	Err error
	// Cause is the error of the underlying reader that interrupted the
	// frame (a deadline, a reset connection), or nil.
	Cause error
}

func (e *FrameError) Error() string {
	var b bytes.Buffer
	b.WriteString("mllp: ")
	if e.Start >= 0 {
		fmt.Fprintf(&b, "frame %d (from byte %d): ", e.Frame, e.Start)
	} else {
		fmt.Fprintf(&b, "after frame %d, at byte %d: ", e.Frame, e.Offset)
	}
	switch e.Err {
	case ErrTooLarge:
		if e.Size > e.Limit {
			fmt.Fprintf(&b, "message too large: %d bytes, the limit is %d", e.Size, e.Limit)
		} else {
			fmt.Fprintf(&b, "message too large: more than the limit of %d bytes", e.Limit)
		}
	case ErrJunk:
		fmt.Fprintf(&b, "more than %d bytes outside frames (not an MLLP peer?)", e.Limit)
	case ErrFraming:
		fmt.Fprintf(&b, "start block at byte %d, inside a message of %d bytes so far", e.Offset, e.Size)
	case ErrTruncated:
		fmt.Fprintf(&b, "stream ended inside a message, after %d bytes", e.Size)
	default:
		b.WriteString(fmt.Sprint(e.Err))
	}
	if e.Cause != nil {
		b.WriteString(": ")
		b.WriteString(e.Cause.Error())
	}
	return b.String()
}

// Unwrap returns the sentinel and the cause, so errors.Is finds either
// (ErrTruncated and os.ErrDeadlineExceeded for a slow sender, say).
func (e *FrameError) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Err}
	}
	return []error{e.Err, e.Cause}
}

// Counts are what a Reader has seen so far.
type Counts struct {
	Messages  int64 // complete frames returned, empty ones included
	Bytes     int64 // message bytes in them
	Junk      int64 // bytes skipped outside frames (the CR after an EndBlock is not junk)
	NoTrailer int64 // frames whose EndBlock was not followed by CR
}

// Reader reads MLLP frames from a stream. It is tolerant of what real
// senders do: the CR after EndBlock may be missing (EndBlock alone ends a
// frame), bytes between frames (NULs, line feeds, noise) are skipped and
// counted, and any number of frames may follow one another. It never
// buffers more than MaxMessage bytes of a message plus a fixed read buffer,
// whatever the input.
//
// A Reader is not safe for concurrent use.
type Reader struct {
	// MaxMessage is the largest message returned, in bytes; 0 means
	// DefaultMaxMessage.
	MaxMessage int
	// MaxJunk is how many bytes may stand between two frames; 0 means
	// DefaultMaxJunk.
	MaxJunk int
	// FrameStarted, if set, is called when the StartBlock of a frame has
	// been read, before the message: the place to arm a per-message read
	// deadline (the time before it is idle time).
	FrameStarted func()

	br       *bufio.Reader
	off      int64 // bytes consumed from br
	frames   int   // frames started
	afterEnd bool  // the last byte consumed was an EndBlock
	err      error // sticky error of the underlying reader
	scratch  []byte
	counts   Counts
}

// NewReader returns a Reader reading from r.
func NewReader(r io.Reader) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, readBufferSize)}
}

// Counts returns what the Reader has seen so far.
func (r *Reader) Counts() Counts { return r.counts }

// Offset is the number of bytes consumed from the stream.
func (r *Reader) Offset() int64 { return r.off }

func (r *Reader) maxMessage() int {
	if r.MaxMessage > 0 {
		return r.MaxMessage
	}
	return DefaultMaxMessage
}

func (r *Reader) maxJunk() int {
	if r.MaxJunk > 0 {
		return r.MaxJunk
	}
	return DefaultMaxJunk
}

// Next returns the next message, without its framing. The slice is the
// caller's to keep. At the end of the stream between frames it returns
// io.EOF; an error of the underlying reader between frames (an idle
// deadline) is returned as it is; framing problems are a [*FrameError].
//
// With ErrTooLarge, Next also returns the first HeadSize bytes of the
// message (at most MaxMessage); the stream is then at the next frame unless
// FrameError.Cause is set.
func (r *Reader) Next() ([]byte, error) {
	if r.err != nil {
		return nil, r.err
	}
	if err := r.skipToStart(); err != nil {
		return nil, err
	}
	r.frames++
	start := r.off - 1
	if r.FrameStarted != nil {
		r.FrameStarted()
	}
	limit := r.maxMessage()
	buf := r.scratch[:0]
	for {
		b, err := r.fill()
		if err != nil {
			r.scratch = buf
			return nil, r.ioError(&FrameError{Offset: r.off, Start: start, Frame: r.frames, Size: int64(len(buf)), Err: ErrTruncated}, err)
		}
		end := bytes.IndexByte(b, EndBlock)
		seg := b
		if end >= 0 {
			seg = b[:end]
		}
		if i := bytes.IndexByte(seg, StartBlock); i >= 0 {
			seg = seg[:i]
			end = -1
		}
		if len(buf)+len(seg) > limit {
			take := limit - len(buf)
			buf = append(buf, seg[:take]...)
			r.discard(take)
			return r.tooLarge(start, buf, limit)
		}
		if len(seg) < len(b) && b[len(seg)] == StartBlock {
			// The StartBlock is left for the next call.
			size := int64(len(buf) + len(seg))
			r.discard(len(seg))
			r.scratch = buf
			return nil, &FrameError{Offset: r.off, Start: start, Frame: r.frames, Size: size, Err: ErrFraming}
		}
		if end >= 0 && len(buf) == 0 {
			// The whole message is in the read buffer: one copy.
			msg := make([]byte, len(seg))
			copy(msg, seg)
			r.discard(len(seg) + 1)
			return r.done(msg), nil
		}
		buf = append(buf, seg...)
		r.discard(len(seg))
		if end >= 0 {
			r.discard(1)
			msg := make([]byte, len(buf))
			copy(msg, buf)
			r.scratch = buf
			return r.done(msg), nil
		}
	}
}

// done accounts for a complete message.
func (r *Reader) done(msg []byte) []byte {
	r.afterEnd = true
	r.counts.Messages++
	r.counts.Bytes += int64(len(msg))
	if cap(r.scratch) > keepScratch {
		r.scratch = nil
	}
	return msg
}

// tooLarge handles a message past the limit: buf holds its first limit
// bytes and the stream is right after them. The rest of the message is
// discarded up to its EndBlock (consumed) or a StartBlock (left).
func (r *Reader) tooLarge(start int64, buf []byte, limit int) ([]byte, error) {
	head := make([]byte, min(len(buf), HeadSize))
	copy(head, buf)
	if cap(buf) > keepScratch {
		buf = nil
	}
	r.scratch = buf
	fe := &FrameError{Offset: r.off, Start: start, Frame: r.frames, Limit: int64(limit), Err: ErrTooLarge}
	size := int64(limit)
	for {
		b, err := r.fill()
		if err != nil {
			fe.Size = size
			return head, r.ioError(fe, err)
		}
		i := bytes.IndexAny(b, "\x0b\x1c")
		if i < 0 {
			size += int64(len(b))
			r.discard(len(b))
			continue
		}
		size += int64(i)
		r.discard(i)
		if b[i] == EndBlock {
			r.discard(1)
			r.afterEnd = true
		}
		fe.Size = size
		return head, fe
	}
}

// ioError records err of the underlying reader as sticky and returns fe
// with it as the cause (none for the end of the stream).
func (r *Reader) ioError(fe *FrameError, err error) error {
	r.err = err
	if err != io.EOF {
		fe.Cause = err
	}
	return fe
}

// skipToStart consumes bytes up to and including the next StartBlock.
func (r *Reader) skipToStart() error {
	junk, maxJunk := 0, r.maxJunk()
	for {
		b, err := r.fill()
		if err != nil {
			if r.afterEnd {
				r.afterEnd = false
				r.counts.NoTrailer++
			}
			r.err = err
			return err
		}
		if r.afterEnd {
			r.afterEnd = false
			if b[0] == CR {
				r.discard(1)
				continue
			}
			r.counts.NoTrailer++
		}
		i := bytes.IndexByte(b, StartBlock)
		n := i
		if i < 0 {
			n = len(b)
		}
		if junk+n > maxJunk {
			n = maxJunk + 1 - junk
			r.counts.Junk += int64(n)
			r.discard(n)
			return &FrameError{Offset: r.off - 1, Start: -1, Frame: r.frames, Limit: int64(maxJunk), Err: ErrJunk}
		}
		junk += n
		r.counts.Junk += int64(n)
		r.discard(n)
		if i >= 0 {
			r.discard(1)
			return nil
		}
	}
}

// fill returns the buffered bytes, reading when there are none.
func (r *Reader) fill() ([]byte, error) {
	if r.br.Buffered() == 0 {
		if _, err := r.br.Peek(1); err != nil {
			return nil, err
		}
	}
	b, _ := r.br.Peek(r.br.Buffered())
	return b, nil
}

func (r *Reader) discard(n int) {
	r.br.Discard(n) // never short: n bytes are buffered
	r.off += int64(n)
}

// Writer writes MLLP frames.
type Writer struct {
	w   io.Writer
	buf []byte
}

// NewWriter returns a Writer writing to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// WriteMessage writes msg as one frame (StartBlock, msg, EndBlock, CR) in
// a single Write to the underlying writer. A message holding a StartBlock
// or EndBlock byte is refused with ErrControlByte and nothing is written.
func (w *Writer) WriteMessage(msg []byte) error {
	if err := checkMessage(msg); err != nil {
		return err
	}
	w.buf = appendFrame(w.buf[:0], msg)
	_, err := w.w.Write(w.buf)
	if cap(w.buf) > keepScratch {
		w.buf = nil
	}
	return err
}

// checkMessage refuses a message that cannot be framed.
func checkMessage(msg []byte) error {
	if i := bytes.IndexAny(msg, "\x0b\x1c"); i >= 0 {
		return fmt.Errorf("mllp: byte %d: %w", i, ErrControlByte)
	}
	return nil
}

func appendFrame(dst, msg []byte) []byte {
	dst = append(dst, StartBlock)
	dst = append(dst, msg...)
	return append(dst, EndBlock, CR)
}
