// Try to join 127.0.0.1:PORT as NAME with mineflayer (offline auth) and
// print how it ended as one JSON line: {"kicked": reason} or {"error": ...}.
const mineflayer = require('mineflayer')
const [port, username] = process.argv.slice(2)
const bot = mineflayer.createBot({ host: '127.0.0.1', port: Number(port), username, auth: 'offline', version: '1.20.1' })
let done = false
const finish = (o) => { if (!done) { done = true; console.log(JSON.stringify(o)); process.exit(0) } }
bot.on('kicked', (reason) => finish({ kicked: typeof reason === 'string' ? reason : JSON.stringify(reason) }))
bot.on('login', () => finish({ error: 'logged in' }))
bot.on('error', (e) => finish({ error: String(e) }))
bot.on('end', (r) => finish({ end: String(r) }))
setTimeout(() => finish({ error: 'timeout' }), 15000)
