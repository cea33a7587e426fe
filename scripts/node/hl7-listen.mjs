// hl7-listen.mjs: an MLLP server from npm that acknowledges every message
// with AA, used by the clinomics tests as a real third-party receiver.
//
//   node hl7-listen.mjs [--impl node-hl7-server|simple-hl7]
//        [--host 127.0.0.1] [--port 0]
//        [--cert CERT.pem --key KEY.pem [--ca CA.pem]] [--quiet]
//
// It prints JSON lines on stdout: first {"listening": PORT} once it
// accepts connections, then for each message received
// {"control_id": MSH-10, "message": MESSAGE, "ack": ACK} (not with
// --quiet, for benchmarks). --impl picks the
// package: node-hl7-server (the default; TLS with --cert and --key, and
// client certificates signed by --ca required with --ca) or simple-hl7
// (plain TCP only). It runs until killed (SIGTERM, SIGINT).
//
// Known upstream behaviour: node-hl7-server (2.5.0 and earlier) never clears
// its per-connection buffer (Bugs5382/node-hl7-server#102), so each new
// message on a connection is handled again together with all earlier
// ones and the earlier ACKs are sent again: send it one message per
// connection. simple-hl7 handles any number of messages on a connection,
// one at a time.
import { readFileSync } from 'node:fs'
import net from 'node:net'
import { parseArgs } from 'node:util'

const { values: opt } = parseArgs({
  options: {
    impl: { type: 'string', default: 'node-hl7-server' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
    cert: { type: 'string' },
    key: { type: 'string' },
    ca: { type: 'string' },
    quiet: { type: 'boolean', default: false }
  }
})
const port = Number(opt.port)
const print = (obj) => process.stdout.write(JSON.stringify(obj) + '\n')
const report = opt.quiet ? () => {} : print

let close
if (opt.impl === 'node-hl7-server') {
  const { Server } = await import('node-hl7-server')
  let tls
  if (opt.cert) {
    tls = { cert: readFileSync(opt.cert), key: readFileSync(opt.key) }
    if (opt.ca) { tls.ca = readFileSync(opt.ca); tls.requestCert = true }
  }
  const server = new Server({ bindAddress: opt.host, tls })
  const inbound = server.createInbound({ port }, async (req, res) => {
    const msg = req.getMessage()
    await res.sendResponse('AA')
    report({ control_id: msg.get('MSH.10').toString(), message: msg.toString(), ack: res.getAckMessage()?.toString() ?? '' })
  })
  // The Inbound's listening socket tells the port bound.
  inbound.on('listen', () => print({ listening: inbound._socket.address().port }))
  inbound.on('error', (err) => { console.error(`hl7-listen: ${err.message}`); process.exit(1) })
  inbound.on('data.error', (err) => console.error(`hl7-listen: message not parsed: ${err.message}`))
  close = () => inbound.close()
} else if (opt.impl === 'simple-hl7') {
  if (opt.cert) { console.error('hl7-listen: simple-hl7 serves plain TCP only'); process.exit(2) }
  const { default: hl7 } = await import('simple-hl7')
  // simple-hl7 listens on all interfaces; keep it on --host.
  const listen = net.Server.prototype.listen
  net.Server.prototype.listen = function (p, ...rest) {
    return typeof p === 'number' ? listen.call(this, p, opt.host, ...rest) : listen.call(this, p, ...rest)
  }
  const server = hl7.Server.createTcpServer((err, req, res) => {
    if (err) { console.error(`hl7-listen: ${err.message}`); return }
    res.end()
    report({ control_id: req.msg.header.getField(8).toString(), message: req.raw.slice(1, -2), ack: res.ack.toString() })
  })
  server.start(port)
  server.server.on('listening', () => print({ listening: server.server.address().port }))
  server.server.on('error', (err) => { console.error(`hl7-listen: ${err.message}`); process.exit(1) })
  close = () => server.stop()
} else {
  console.error(`hl7-listen: unknown --impl ${opt.impl}`)
  process.exit(2)
}
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, async () => { await close(); process.exit(0) })
}
