// Package hl7 reads and writes HL7 version 2 messages (the pipe-delimited
// "ER7" encoding): single messages with Parse, batch files with ParseBatch,
// typed access to the segments the clinical mapping uses, a writer, and
// acknowledgments. It does no I/O; MLLP framing lives in hl7/mllp.
//
// # Reading
//
// Parse takes the encoding characters from MSH-1 (field separator) and
// MSH-2 (component, repetition, escape, subcomponent and, from v2.7, the
// truncation character). MSH-2 may hold one to five characters; absent
// ones are simply not delimiters (old senders write "^~\" or "^~}"). Every
// delimiter must be a distinct printable ASCII character that is not a
// letter, a digit, a space or '"'. Segments end with CR, LF or CRLF (files
// are often written with LF); blank lines are skipped. Segment IDs are three
// characters, an upper-case letter then upper-case letters or digits; Z
// segments are kept like any other. Fields are split when the message is
// parsed; repetitions, components and subcomponents when they are read.
// The structure is four levels deep and never more, and no code here
// recurses, so no input can exhaust the stack.
//
// A field holding exactly "" is null (HL7's "delete this value"), which
// differs from an empty field ("no change"): Value.IsNull tells them apart;
// Get returns "" for both.
//
// # Character sets
//
// MSH-18 (its first repetition) names the character set. "ASCII",
// "8859/1" (decoded to UTF-8 when parsed, written back as ISO-8859-1) and
// "UNICODE UTF-8" (also accepted as "UTF-8") are supported; any other value
// is rejected with ErrCharset naming MSH-18. Declared ASCII must be 7-bit;
// ISO-8859-1 text must not contain the C1 control bytes 0x80-0x9F (that is
// Windows-1252 sent under the wrong name). An empty MSH-18 means ASCII by
// the standard; since many senders put UTF-8 text there without saying so,
// valid UTF-8 is accepted and anything else is rejected with a reason that
// points at MSH-18. Control characters other than TAB are rejected in every
// character set.
//
// # Escape sequences
//
// Values are decoded when read (Get, Value.String); Raw gives the encoded
// text. \F\ \S\ \T\ \R\ \E\ (and \P\ for a v2.7 truncation character) give
// the delimiter characters. \Xhh...\ gives the bytes hh..., read in the
// message's character set; C0 control bytes other than TAB, CR and LF are
// dropped. Of the formatting commands, \.br\, \.sp\ (\.spN\ for N lines,
// at most 100) and \.ce\ become line breaks ("\n"); \.fi\ \.nf\ \.in\ \.ti\
// \.sk\ are dropped. The highlighting markers \H\ and \N\ are dropped: the
// text is kept, the emphasis is not. The character-set switches \Cxxyy\ and
// \Mxxyyzz\ (ISO 2022) cannot be honoured without tables this package does
// not carry, so a message containing one is rejected by Parse with
// ErrCharset rather than stored with the wrong letters. Anything else after
// an escape character (an unknown or unterminated sequence, such as a
// Windows path "C:\dir") is kept as written.
//
// # Positions and paths
//
// All positions count from 1 as in HL7: PID-3(2).4.1 is the first
// subcomponent of the fourth component of the second repetition of field 3
// of the first PID. A path is SEG[n]-field(rep).comp.sub, each part after
// the field optional; [n] picks the nth occurrence of the segment, and a
// negative n counts from the end (OBX[-1] is the last OBX). Reading an
// element that has more structure than the path names gives its first part:
// Get("PID-5") is the family name, as Get("PID-5(1).1.1").
//
// # Errors
//
// Errors about the input are *ParseError values wrapping one of the Err*
// sentinels, naming the line, byte offset, segment and field ("PID-7").
// They never contain field values, which may be patient data, so they can
// be logged and returned to the sender in an ERR segment.
//
// # Limits
//
// Limits bounds the message size (1 MiB by default), the segments in a
// message, the fields in a segment, the repetitions in a field and the
// components and subcomponents in a repetition; input beyond a limit is
// rejected with ErrTooLarge.
//
// # Acknowledgments
//
// Ack builds the reply to a message: MSA, and ERR segments (v2.5 layout,
// with the v2.4 ERR-1 and MSA-3 as well for older versions). AckMode tells
// original mode (AA/AE/AR) from enhanced mode (CA/CE/CR, when MSH-15 or
// MSH-16 is valued) and whether the sender wants an acknowledgment at all.
// AckErrorFor turns an error into the right table 0357 code, and
// AckUnparsed replies to bytes that could not be parsed, from whatever MSH
// fields can be salvaged.
package hl7
