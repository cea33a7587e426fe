// Package mllp is the transport of HL7 v2: the Minimal Lower Layer
// Protocol framing (a message travels as 0x0B, the message, 0x1C, 0x0D
// over TCP, plain or TLS), a [Server] that hands each message received to
// a [Handler] and writes back the ACK it returns, and a [Client] that sends
// messages and reads their ACKs. It works on message bytes and knows
// nothing of HL7 syntax: parsing, acknowledgment content and storage are
// the Handler's.
//
// # Framing
//
// [Reader.Next] returns one message at a time, tolerant of what real
// senders do, and bounded whatever they do:
//
//   - 0x1C ends a message whether or not the 0x0D follows (counted as
//     NoTrailer). The Reader never waits for that 0x0D, so a sender that
//     omits it and waits for its ACK is answered at once.
//   - Bytes between frames (NULs, line feeds, keep-alive bytes) are skipped
//     and counted, up to MaxJunk (64 KiB) in one gap; more is ErrJunk: the
//     peer does not speak MLLP (a TLS client on a plain port, unframed HL7).
//   - Any number of messages follow one another on a connection; a sender
//     that does not wait for each ACK (pipelining) is read in order too.
//   - A 0x0B inside a message is ErrFraming: the partial message is
//     dropped and the Reader resynchronises at that 0x0B. The Server closes
//     the connection, so that the sender, which has no ACK for the partial
//     message, sends it again on a new connection.
//   - A message over MaxMessage (8 MiB) is ErrTooLarge, naming the limit.
//     The Reader discards the rest of it up to its 0x1C without buffering
//     it, returns its first HeadSize bytes (for its MSH segment) with the
//     error, and resynchronises at the next frame. The Server then closes
//     the connection, unless the Handler is an [OversizeHandler], whose
//     reply (a negative ACK naming the message) is written instead and the
//     connection goes on: without one, a sender would resend the same
//     oversized message forever.
//   - A stream that ends or fails inside a message is ErrTruncated.
//   - An empty frame (0x0B 0x1C) is a message like any other, for the
//     Handler to reject.
//
// Memory per connection is a 32 KiB read buffer plus the message being
// read, never more than MaxMessage (a buffer of up to 256 KiB is kept
// between messages). Framing errors are [*FrameError]
// values wrapping these sentinels, with stream offsets and frame numbers
// and never message content.
//
// # Server
//
// Each connection is served by one goroutine: read a message, call the
// Handler, write its ACK, read the next. Messages of one connection are
// therefore handled strictly in order (HL7's ordering guarantee is per
// connection); connections are served concurrently, up to MaxConns.
//
// Deadlines: IdleTimeout (15 min) is the wait for the next message's 0x0B
// and is not extended by bytes outside frames; ReadTimeout (30 s) runs from
// a message's 0x0B to its 0x1C, so a sender that trickles a message byte by
// byte is cut off; it also bounds the TLS handshake. WriteTimeout (30 s)
// bounds writing an ACK. A connection closed for a timeout is counted and
// logged; its sender, having no ACK, sends the message again.
//
// Shutdown closes the listeners and every idle connection at once; a
// connection that has begun receiving a message finishes it, the Handler
// handles it, its ACK is written, and only then is it closed. When the
// context given to Shutdown ends first, the remaining connections are
// closed and the Handlers' context is cancelled.
//
// With TLSConfig from tlsconf.ServerConfig, connections are TLS 1.2 or
// newer; with client CAs, the verified client certificate's subject is in
// [Peer], for the Handler to authorise the sending system.
//
// The log (Server.Log) holds peers, connection numbers, sizes, counts,
// offsets and durations. Messages and ACKs are patient data and are never
// logged, nor put in errors. [Server.Stats] returns counters for metrics.
//
// # Client
//
// [Client.Send] writes a message and waits for its ACK on a persistent
// connection, reconnecting after a failure. Delivery is at least once;
// receivers deduplicate by MSH-10.
package mllp
