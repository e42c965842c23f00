// The server's own files for squid_server.js, read and written as vanilla
// 1.20.1 does: server.properties (Java's Properties format, escapes included),
// whitelist.json and ops.json (JSON arrays of {uuid, name, ...}, written
// pretty-printed on every change, created empty when missing), and the
// offline-mode UUID vanilla gives a name.
'use strict'

const fs = require('fs')
const crypto = require('crypto')

/** server.properties as Java's Properties reads it (escapes, `=` or `:`). */
function readProperties (file, log) {
  const props = {}
  let text = ''
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (e) {
    log(`Failed to load properties from file: ${file}`, 'WARN', 'main')
  }
  const unescape = (s) => s.replace(/\\(u[0-9a-fA-F]{4}|.)/g, (_, c) =>
    c[0] === 'u' && c.length === 5 ? String.fromCharCode(parseInt(c.slice(1), 16)) : ({ t: '\t', n: '\n', r: '\r', f: '\f' }[c] ?? c))
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trimStart()
    if (!line || line[0] === '#' || line[0] === '!') continue
    const m = /^((?:\\.|[^=:\\])*?)\s*[=:]\s*(.*)$/.exec(line)
    if (m) props[unescape(m[1].trim())] = unescape(m[2])
  }
  return props
}

/** Vanilla's offline-mode UUID: a version-3 UUID of "OfflinePlayer:<name>". */
function offlineUuid (name) {
  const h = crypto.createHash('md5').update(`OfflinePlayer:${name}`).digest()
  h[6] = (h[6] & 0x0f) | 0x30
  h[8] = (h[8] & 0x3f) | 0x80
  const x = h.toString('hex')
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`
}

/** whitelist.json or ops.json: entries read at start (and on reload), written on every change. */
class PlayerFile {
  constructor (file, what, log) {
    Object.assign(this, { file, what, log, entries: [] })
  }

  load () {
    try {
      const parsed = JSON.parse(fs.readFileSync(this.file, 'utf8'))
      if (!Array.isArray(parsed)) throw new Error('not a JSON array')
      this.entries = parsed.filter((e) => e && typeof e.name === 'string')
    } catch (e) {
      if (e.code !== 'ENOENT') this.log(`Failed to load ${this.what}: ${e.message}`, 'WARN')
      this.entries = []
      if (e.code === 'ENOENT') this.save()
    }
  }

  save () {
    fs.writeFileSync(this.file, JSON.stringify(this.entries, null, 2) + '\n')
  }

  find (name) {
    return this.entries.find((e) => e.name.toLowerCase() === name.toLowerCase())
  }

  add (entry) {
    this.entries.push(entry)
    this.save()
  }

  remove (name) {
    this.entries = this.entries.filter((e) => e.name.toLowerCase() !== name.toLowerCase())
    this.save()
  }
}

module.exports = { readProperties, offlineUuid, PlayerFile }
