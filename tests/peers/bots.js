// A long-lived driver of mineflayer bots (1.20.1) for tests
// that play over minutes: one process holds every bot (loading mineflayer
// costs seconds), takes one command per line on stdin and prints one JSON
// object per event on stdout.
//
// Commands:
//   join <name> <host> <port> [<id> <accessToken>]
//                               log in (online against MC_SESSION_SERVER with
//                               the account's id and token, see online_auth.js;
//                               offline without); then `spawn`, or
//                               `kicked`/`error`/`end`
//   leave <name>                quit; then `end` (the name may join again at once)
//   chat <name> <text…>         send a chat message; `chatted`
//   walk <name> [ms]            walk forward (default 2000 ms, from its spawn if it has
//                               not spawned yet); `walked` with the position
//   where <name>                `position` with the position
//   bots                        `bots` with the names of the bots logged in
//   exit                        quit every bot and exit 0 (stdin EOF does the same)
// Events: {"event":"ready"} once at start; {"event":"spawn","name","position"}
// (the first spawn of a login); {"event":"kicked","name","reason","raw","logged_in"};
// {"event":"end","name","reason"}; {"event":"error","name","error"};
// {"event":"message","name","text"} (chat and system messages a bot sees);
// {"event":"bad_command","line","error"}. A failing server or bot is reported
// and the driver goes on: it never exits on its own.
'use strict'

const readline = require('readline')
const mineflayer = require('mineflayer')
const { authOptions } = require('./online_auth')

const bots = new Map()
const emit = (event, fields = {}) => process.stdout.write(JSON.stringify({ event, ...fields }) + '\n')
const position = (bot) => {
  const p = bot.entity?.position
  return p ? { x: p.x, y: p.y, z: p.z } : null
}

/** The plain text of a disconnect reason (a JSON text component or a string). */
function plain (reason) {
  let value = reason
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value)
    } catch (e) {
      return value
    }
  }
  if (typeof value === 'string') return value
  if (value && typeof value === 'object') {
    const own = value.text ?? value.translate ?? ''
    return own + (Array.isArray(value.extra) ? value.extra.map(plain).join('') : '')
  }
  return String(value)
}

function join (name, host, port, id, accessToken) {
  if (bots.has(name)) return emit('error', { name, error: `${name} is already connected` })
  if (!host || !Number(port)) return emit('bad_command', { line: `join ${name}`, error: 'usage: join <name> <host> <port>' })
  let bot
  try {
    bot = mineflayer.createBot({ host, port: Number(port), version: '1.20.1', checkTimeoutInterval: 30000, hideErrors: true, ...authOptions(name, id, accessToken) })
  } catch (e) {
    return emit('error', { name, error: String(e) })
  }
  bots.set(name, bot)
  let loggedIn = false
  let spawned = false
  bot.on('login', () => { loggedIn = true })
  bot.on('spawn', () => {
    if (spawned) return
    spawned = true
    emit('spawn', { name, position: position(bot) })
  })
  bot.on('kicked', (reason) => emit('kicked', { name, reason: plain(reason), raw: typeof reason === 'string' ? reason : JSON.stringify(reason), logged_in: loggedIn }))
  bot.on('error', (e) => emit('error', { name, error: String(e && e.message ? e.message : e) }))
  bot.on('messagestr', (text) => emit('message', { name, text }))
  bot.on('end', (reason) => {
    if (bots.get(name) === bot) bots.delete(name)
    emit('end', { name, reason: String(reason) })
  })
}

function withBot (name, f) {
  const bot = bots.get(name)
  if (!bot) return emit('error', { name, error: `${name} is not connected` })
  try {
    f(bot)
  } catch (e) {
    emit('error', { name, error: String(e) })
  }
}

function handle (line) {
  const [verb, name, ...rest] = line.trim().split(/\s+/)
  switch (verb) {
    case undefined: case '': return
    case 'join': return join(name, rest[0], rest[1], rest[2], rest[3])
    // The name is free at once (its `end` still follows), so a test may join it again.
    case 'leave': return withBot(name, (bot) => { bots.delete(name); bot.quit() })
    case 'chat': return withBot(name, (bot) => { bot.chat(rest.join(' ')); emit('chatted', { name }) })
    case 'walk': return withBot(name, (bot) => {
      const walk = () => {
        bot.setControlState('forward', true)
        setTimeout(() => {
          bot.setControlState('forward', false)
          emit('walked', { name, position: position(bot) })
        }, Number(rest[0] || 2000))
      }
      // A bot still logging in walks once it has spawned.
      if (bot.entity) walk()
      else bot.once('spawn', walk)
    })
    case 'where': return withBot(name, (bot) => emit('position', { name, position: position(bot) }))
    case 'bots': return emit('bots', { names: [...bots.keys()] })
    case 'exit': return exit()
    default: return emit('bad_command', { line, error: `unknown command ${verb}` })
  }
}

function exit () {
  for (const bot of bots.values()) bot.quit()
  setTimeout(() => process.exit(0), 200)
}

process.on('uncaughtException', (e) => emit('error', { name: null, error: String(e && e.stack) }))
process.on('unhandledRejection', (e) => emit('error', { name: null, error: String(e && e.stack) }))
const rl = readline.createInterface({ input: process.stdin })
rl.on('line', handle)
rl.on('close', exit)
emit('ready')
