// The server side of Source RCON, as Minecraft 1.20.1's RconClient speaks it,
// for squid_server.js. Written here rather than taken from a package so each
// vanilla behaviour the agent's client (src/agent/rcon.rs) relies on is
// visible and named:
// - a packet is <len i32 LE><id i32 LE><type i32 LE><body><NUL><NUL>, len
//   counting everything after itself; lengths outside 10..1460 close the
//   connection (vanilla reads a request into a 1460-byte buffer);
// - type 3 is auth: the reply is type 2 with the request id, or id -1 when the
//   password is wrong; a command before a good auth gets the same -1 reply;
// - type 2 runs a command; the reply is type 0 with the request id, cut every
//   4096 characters, and always at least one packet (an empty reply too);
// - any other type (the client's empty type-0 end marker) is answered with
//   "Unknown request <type in hex>" under its own id, which is how the client
//   finds the end of a multi-packet reply.
// Requests of a connection are answered in order, one at a time.
'use strict'

const net = require('net')

const AUTH = 3
const AUTH_RESPONSE = 2
const EXECCOMMAND = 2
const RESPONSE_VALUE = 0
/** id + type + two NULs. */
const MIN_PACKET = 10
/** Vanilla's read buffer: a longer request is not one vanilla can read. */
const MAX_REQUEST = 1460
/** Vanilla cuts replies every 4096 UTF-16 units. */
const REPLY_CHUNK = 4096

function encode (id, type, body) {
  const text = Buffer.from(body, 'utf8')
  const out = Buffer.alloc(4 + MIN_PACKET + text.length)
  out.writeInt32LE(MIN_PACKET + text.length, 0)
  out.writeInt32LE(id, 4)
  out.writeInt32LE(type, 8)
  text.copy(out, 12)
  return out
}

/**
 * Serve RCON on host:port. `run(command)` resolves to the reply text;
 * `log(message)` gets one line per connection event (never the password).
 */
class RconServer {
  constructor ({ host, port, password, run, log }) {
    Object.assign(this, { host, port, password, run, log })
    this.sockets = new Set()
    this.server = net.createServer((socket) => this.accept(socket))
  }

  listen () {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(this.port, this.host, () => {
        this.server.off('error', reject)
        resolve()
      })
    })
  }

  /** Stop listening and hang up on every client (after what was written to it). */
  close () {
    this.server.close()
    for (const s of this.sockets) s.end()
  }

  accept (socket) {
    this.sockets.add(socket)
    socket.setNoDelay(true)
    socket.on('close', () => this.sockets.delete(socket))
    socket.on('error', () => socket.destroy())
    const peer = `${socket.remoteAddress}:${socket.remotePort}`
    let buffer = Buffer.alloc(0)
    let authed = false
    let queue = Promise.resolve()
    const reply = (id, type, body) => { if (!socket.destroyed) socket.write(encode(id, type, body)) }

    const handle = async ({ id, type, body }) => {
      if (type === AUTH) {
        authed = body === this.password
        if (!authed) this.log(`Rcon connection from: ${peer} gave a wrong password`)
        reply(authed ? id : -1, AUTH_RESPONSE, '')
      } else if (type === EXECCOMMAND) {
        if (!authed) return reply(-1, AUTH_RESPONSE, '')
        const text = String(await this.run(body))
        let offset = 0
        do {
          reply(id, RESPONSE_VALUE, text.slice(offset, offset + REPLY_CHUNK))
          offset += REPLY_CHUNK
        } while (offset < text.length)
      } else {
        reply(id, RESPONSE_VALUE, `Unknown request ${type.toString(16)}`)
      }
    }

    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk])
      while (buffer.length >= 4) {
        const len = buffer.readInt32LE(0)
        if (len < MIN_PACKET || len > MAX_REQUEST) {
          this.log(`Rcon connection from: ${peer} sent a packet of length ${len}; closing it`)
          socket.destroy()
          return
        }
        if (buffer.length < 4 + len) return
        const id = buffer.readInt32LE(4)
        const type = buffer.readInt32LE(8)
        let body = buffer.subarray(12, 4 + len - 2)
        const nul = body.indexOf(0)
        if (nul >= 0) body = body.subarray(0, nul)
        buffer = buffer.subarray(4 + len)
        const packet = { id, type, body: body.toString('utf8') }
        queue = queue.then(() => handle(packet)).catch((e) => {
          this.log(`Rcon connection from: ${peer} failed: ${e && e.stack}`)
          socket.destroy()
        })
      }
    })
  }
}

module.exports = { RconServer, encode }
