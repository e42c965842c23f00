// Try to join 127.0.0.1:PORT as each NAME in turn with mineflayer (1.20.1)
// and print how each attempt ended as one JSON line: {"name", "kicked":
// reason} or {"name", "error"|"end": ...}. One process for several names:
// loading mineflayer costs seconds. A NAME written `name:id:accessToken`
// logs in online against MC_SESSION_SERVER (see online_auth.js); a bare
// name logs in offline.
const mineflayer = require('mineflayer')
const { authOptions } = require('./online_auth')
const [port, ...names] = process.argv.slice(2)

function join (spec) {
  const [username, id, accessToken] = spec.split(':')
  return new Promise((resolve) => {
    const bot = mineflayer.createBot({ host: '127.0.0.1', port: Number(port), version: '1.20.1', ...authOptions(username, id, accessToken) })
    let done = false
    const finish = (o) => { if (!done) { done = true; clearTimeout(timer); bot.end(); resolve({ name: username, ...o }) } }
    const timer = setTimeout(() => finish({ error: 'timeout' }), 15000)
    bot.on('kicked', (reason) => finish({ kicked: typeof reason === 'string' ? reason : JSON.stringify(reason) }))
    bot.on('login', () => finish({ error: 'logged in' }))
    bot.on('error', (e) => finish({ error: String(e) }))
    bot.on('end', (r) => finish({ end: String(r) }))
  })
}

(async () => {
  for (const name of names) console.log(JSON.stringify(await join(name)))
  process.exit(0)
})()
