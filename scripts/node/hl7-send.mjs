// hl7-send.mjs: sends HL7 v2 messages over MLLP with the npm client
// node-hl7-client, one at a time, each after the previous one's ACK, and
// prints one JSON line per ACK: {"file": FILE, "control_id": MSH-10,
// "ack": ACK}. Used by the clinomics tests as a real third-party sender.
//
//   node hl7-send.mjs --host 127.0.0.1 --port 2575 [--ca CA.pem]
//        [--cert CERT.pem --key KEY.pem] [--timeout-ms 10000] FILE...
//
// Each FILE holds one message; its segments may end with CR, LF or CRLF
// (the client's Message class reads them). Exit status 0 when every
// message was acknowledged, 1 otherwise (the reason on stderr).
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { Client, Message } from 'node-hl7-client'

const { values: opt, positionals: files } = parseArgs({
  allowPositionals: true,
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string' },
    ca: { type: 'string' },
    cert: { type: 'string' },
    key: { type: 'string' },
    'timeout-ms': { type: 'string', default: '10000' }
  }
})
if (!opt.port || files.length === 0) {
  console.error('usage: node hl7-send.mjs --host H --port P [--ca F] [--cert F --key F] FILE...')
  process.exit(2)
}

let tls
if (opt.ca || opt.cert) {
  tls = { rejectUnauthorized: true }
  if (opt.ca) tls.ca = readFileSync(opt.ca)
  if (opt.cert) { tls.cert = readFileSync(opt.cert); tls.key = readFileSync(opt.key) }
}

const client = new Client({ host: opt.host, tls })
let waiting = null
const conn = client.createConnection({ port: Number(opt.port), waitAck: true }, async (res) => {
  const w = waiting
  waiting = null
  if (w) w.resolve(res.getMessage().toString())
})
conn.on('client.error', (err) => { if (waiting) waiting.reject(err) })

const timeoutMs = Number(opt['timeout-ms'])
let failed = false
for (const file of files) {
  const msg = new Message({ text: readFileSync(file, 'utf8') })
  const ack = new Promise((resolve, reject) => {
    waiting = { resolve, reject }
    setTimeout(() => reject(new Error(`no ACK within ${timeoutMs} ms`)), timeoutMs).unref()
  })
  try {
    await conn.sendMessage(msg)
    const text = await ack
    process.stdout.write(JSON.stringify({ file, control_id: msg.get('MSH.10').toString(), ack: text }) + '\n')
  } catch (err) {
    console.error(`hl7-send: ${file}: ${err.message}`)
    failed = true
    break
  }
}
await conn.close()
await client.closeAll?.()
process.exit(failed ? 1 : 0)
