// A real Minecraft 1.20.1 server for the agent's tests, run the way the agent
// runs `java -jar server.jar nogui`: `node squid_server.js [nogui]` with the
// Minecraft directory as its working directory (arguments are ignored).
//
// Real: the game protocol (flying-squid 1.12 on minecraft-protocol, protocol
// 763, which mineflayer clients join), the status ping (motd, player counts),
// the login and vanilla's whitelist rules (white-list, enforce-whitelist,
// ops bypass it, max-players), RCON (squid_rcon.js, the Source protocol as
// vanilla serves it) whose commands act on the players really connected, and
// a world on disk (squid_world.js: region files in the anvil format, playerdata,
// level.dat) that changes as bots play, is written on autosave, save-all and
// stop, and is loaded again at the next start.
//
// Stand-ins, each on purpose:
// - Logins are offline (no Mojang session server in tests), whatever
//   `online-mode` says; whitelist.json and ops.json entries therefore match by
//   name (case-insensitive) instead of by the UUID Mojang would have given.
//   Names added over RCON are written with the offline UUID, as vanilla does
//   in offline mode.
// - The view distance is at most SQUID_VIEW_DISTANCE (default 2) whatever
//   server.properties asks, and the world is superflat: starts stay under a
//   second on a small machine.
// - Autosave runs every SQUID_AUTOSAVE_SECONDS (default vanilla's 300 s).
//
// Vanilla's behaviours kept because the agent depends on them: the log lines
// it scans (`Starting minecraft server version 1.20.1`, `Done (…)! For help,
// type "help"`) on stdout, RCON started only after `Done`, `save-off` stopping
// chunk saves (autosave then writes only level.dat and playerdata, like
// vanilla), `save-all` saving even when saving is off (vanilla's command is
// forced), the exact reply texts, players kicked with "Server closed" and the
// world saved on `stop` (exit 0) and on SIGTERM (the JVM's shutdown hook; exit
// 143 like a JVM), and stdin ignored (vanilla keeps running at its EOF).
'use strict'

const fs = require('fs')
const path = require('path')
const { once } = require('events')
const { RconServer } = require('./squid_rcon')
const { readLevel, regionFiles, WorldSaver } = require('./squid_world')
const { readProperties, offlineUuid, PlayerFile } = require('./squid_files')

const started = Date.now()
const NOT_WHITELISTED = 'You are not white-listed on this server!'
const SERVER_FULL = 'The server is full!'
const SERVER_CLOSED = 'Server closed'
const VIEW_DISTANCE = Number(process.env.SQUID_VIEW_DISTANCE || 2)
const AUTOSAVE_SECONDS = Number(process.env.SQUID_AUTOSAVE_SECONDS || 300)

// stdout is the server log the agent reads: only `log` writes to it
// (flying-squid writes a prompt and cursor moves there).
const out = process.stdout.write.bind(process.stdout)
process.stdout.write = () => true
const pad = (n) => String(n).padStart(2, '0')
function log (message, level = 'INFO', thread = 'Server thread') {
  const d = new Date()
  out(`[${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}] [${thread}/${level}]: ${message}\n`)
}

const props = readProperties('server.properties', log)
const prop = (key, fallback) => (props[key] === undefined || props[key] === '' ? fallback : props[key])
const bool = (key, fallback) => String(prop(key, String(fallback))).toLowerCase() === 'true'
const config = {
  host: prop('server-ip', '127.0.0.1'),
  port: Number(prop('server-port', 25565)),
  motd: prop('motd', 'A Minecraft Server'),
  maxPlayers: Number(prop('max-players', 20)),
  whitelist: bool('white-list', false),
  enforceWhitelist: bool('enforce-whitelist', false),
  rcon: bool('enable-rcon', false),
  rconPort: Number(prop('rcon.port', 25575)),
  rconPassword: prop('rcon.password', ''),
  opLevel: Number(prop('op-permission-level', 4)),
  levelName: prop('level-name', 'world'),
  gameType: { survival: 0, creative: 1, adventure: 2, spectator: 3 }[prop('gamemode', 'survival')] ?? 0,
  difficulty: { peaceful: 0, easy: 1, normal: 2, hard: 3 }[prop('difficulty', 'easy')] ?? 1,
  viewDistance: Math.max(1, Math.min(Number(prop('view-distance', 10)), VIEW_DISTANCE)),
  seed: /^-?\d+$/.test(prop('level-seed', '')) ? Number(props['level-seed']) : undefined
}

const whitelist = new PlayerFile('whitelist.json', 'white-list', log)
const ops = new PlayerFile('ops.json', 'ops', log)
whitelist.load()
ops.load()
const whitelisted = (name) => !config.whitelist || Boolean(whitelist.find(name) || ops.find(name))

log('Starting minecraft server version 1.20.1')
log('Loading properties')
log(`Default game type: ${['SURVIVAL', 'CREATIVE', 'ADVENTURE', 'SPECTATOR'][config.gameType]}`)
if (bool('online-mode', true)) log('Offline logins only: this test server has no Mojang session server', 'WARN')
log(`Starting Minecraft server on ${config.host}:${config.port}`)

const worldDir = path.resolve(config.levelName)
const level = readLevel(worldDir)
log(`Preparing level "${config.levelName}"`)
if (level) {
  log(`Loaded level "${config.levelName}": seed ${level.seed}, game time ${level.time}, ${regionFiles(worldDir).length} region files`)
}

const options = {
  motd: config.motd,
  port: config.port,
  host: config.host,
  'max-players': config.maxPlayers,
  'online-mode': false,
  logging: false,
  // flying-squid's own console lines would interleave with the vanilla log
  // the agent reads; its debug hook set also keeps its process-wide error
  // handlers (which exit 0 on any error) from being installed per player.
  noConsoleOutput: true,
  debug: () => {},
  gameMode: config.gameType,
  difficulty: config.difficulty,
  worldFolder: worldDir,
  generation: { name: 'superflat', options: { worldHeight: 80, seed: config.seed } },
  kickTimeout: 30000, // vanilla's keep-alive timeout: a bot on a busy machine is not dropped
  plugins: {},
  modpe: false,
  'view-distance': config.viewDistance,
  'player-list-text': { header: '', footer: '' },
  'everybody-op': false,
  'max-entities': 10,
  version: '1.20.1',
  hideErrors: true,
  beforeLogin: admit
}

const refused = new WeakSet()
/** Vanilla's PlayerList.canPlayerLogin: the whitelist, then the player limit. */
function admit (client) {
  const name = client.username
  let reason = null
  if (!whitelisted(name)) reason = NOT_WHITELISTED
  else if (serv.players.length >= config.maxPlayers && !ops.find(name)?.bypassesPlayerLimit) reason = SERVER_FULL
  if (!reason) return
  const addr = client.socket?.remoteAddress
  log(`Disconnecting ${name} (/${addr}:${client.socket?.remotePort}): ${reason}`)
  refused.add(client)
  // Vanilla sends a login-state disconnect packet and closes the connection.
  // minecraft-protocol's end() leaves the socket open here (the client would
  // wait for its timeout), so the socket is ended right after that packet.
  const socket = client.socket
  const write = socket.write
  socket.write = function (...chunk) {
    socket.write = write
    const done = write.apply(this, chunk)
    socket.end()
    return done
  }
  client.end(reason)
  // minecraft-protocol goes on to write the login success and to turn on
  // compression, which would re-pipe the ended stream and keep it open.
  client.write = () => {}
  client.setCompressionThreshold = () => {}
}

const mcServer = require('flying-squid')
const serv = mcServer.createMCServer(options)

// A refused client never becomes a player: minecraft-protocol announces it
// anyway after beforeLogin, so the announcement stops here.
const emit = serv._server.emit
serv._server.emit = function (event, client, ...rest) {
  if ((event === 'login' || event === 'playerJoin') && refused.has(client)) return false
  return emit.call(this, event, client, ...rest)
}

serv.on('error', (e) => {
  log(`**** FAILED TO BIND TO PORT! ${e.message}`, 'WARN')
  process.exit(1)
})

// One connection's fault must not stop the server (vanilla logs and drops it).
process.on('uncaughtException', (e) => log(`Exception: ${e && e.stack}`, 'ERROR'))
process.on('unhandledRejection', (e) => log(`Unhandled: ${e && e.stack}`, 'ERROR'))

let saver = null
let saving = true
let stopping = false
const pendingSaves = new Set()
const kickReasons = new WeakMap()

/**
 * Vanilla removes a kicked player from the player list at once (its
 * disconnect runs on the server thread), so `list` right after a kick no
 * longer names them; flying-squid would wait for the socket to close.
 */
function kick (player, reason) {
  kickReasons.set(player, reason)
  player.kick(reason)
  const i = serv.players.indexOf(player)
  if (i >= 0) serv.players.splice(i, 1)
}

serv.on('newPlayer', (player) => {
  // Track flying-squid's playerdata writes (one runs at every logout) so a
  // stop waits for them.
  const save = player.save
  player.save = () => {
    const p = save().catch((e) => log(`Failed to save player data for ${player.username}: ${e.message}`, 'WARN'))
    pendingSaves.add(p)
    return p.finally(() => pendingSaves.delete(p))
  }
  const op = ops.find(player._client.username)
  if (op) player.op = true
  player.on('spawned', () => {
    const s = player._client.socket
    const p = player.position
    log(`${player.username}[/${s?.remoteAddress}:${s?.remotePort}] logged in with entity id ${player.id} at (${p.x}, ${p.y}, ${p.z})`)
    log(`${player.username} joined the game`)
  })
  player.on('chat', ({ message }) => log(`<${player.username}> ${message}`))
  // flying-squid loads chunks around a moving player only after the client
  // sends a `flying` or `look` packet, which mineflayer 1.20.1 never does: a
  // walking bot would stay in the chunks it logged in to, and the world on
  // disk would never grow. Vanilla loads (and so generates) the chunks
  // around a player whenever they cross into another chunk.
  player.on('move', ({ position }) => {
    const chunk = (p) => `${Math.floor(p.x / 16)},${Math.floor(p.z / 16)}`
    if (!player.loadedChunks || player.sendingChunks || chunk(position) === chunk(player.position)) return
    player.view ??= config.viewDistance
    // Once the move is done, so the chunks are centred on the new position.
    player.once('move_done', () => {
      if (player.sendingChunks) return
      player.worldSendRestOfChunks().catch((e) => log(`Cannot send chunks to ${player.username}: ${e.message}`, 'WARN'))
    })
  })
  player.on('disconnected', () => {
    log(`${player.username} lost connection: ${kickReasons.get(player) || 'Disconnected'}`)
    log(`${player.username} left the game`)
  })
})

/** Every online player's data, then the world (chunks only when asked). */
async function saveEverything (chunks) {
  await Promise.all(serv.players.map((p) => p.save()))
  await saver.save(chunks)
}

/** `stop`, or the JVM's shutdown hook on SIGTERM. */
async function shutdown (code) {
  if (stopping) return
  stopping = true
  log('Stopping server')
  if (saver) {
    log('Saving players')
    await Promise.all(serv.players.map((p) => p.save()))
    const gone = serv.players.map((p) => once(p, 'disconnected'))
    for (const p of [...serv.players]) kick(p, SERVER_CLOSED)
    await Promise.race([Promise.all(gone), new Promise((resolve) => setTimeout(resolve, 3000))])
    log('Saving worlds')
    log(`Saving chunks for level 'ServerLevel[${config.levelName}]'/minecraft:overworld`)
    await saver.save(true)
    await Promise.all([...pendingSaves])
    log(`ThreadedAnvilChunkStorage (${config.levelName}): All chunks are saved`)
  }
  rcon?.close()
  await Promise.race([serv.destroy(), new Promise((resolve) => setTimeout(resolve, 1000))])
  process.exit(code)
}

let rcon = null

/** The console commands, with vanilla 1.20.1's answers. */
async function command (line) {
  const text = line.replace(/^\//, '').trim()
  const [verb, ...args] = text.split(/\s+/)
  const validName = (n) => typeof n === 'string' && /^[A-Za-z0-9_]{1,16}$/.test(n)
  switch (verb) {
    case 'list': {
      const names = serv.players.map((p) => (args[0] === 'uuids' ? `${p.username} (${p.uuid})` : p.username))
      return `There are ${names.length} of a max of ${config.maxPlayers} players online: ${names.join(', ')}`
    }
    case 'save-off': {
      const was = saving
      saving = false
      return was ? 'Automatic saving is now disabled' : 'Saving is already turned off'
    }
    case 'save-on': {
      const was = saving
      saving = true
      return was ? 'Saving is already turned on' : 'Automatic saving is now enabled'
    }
    case 'save-all': {
      if (args.length > 1 || (args[0] && args[0] !== 'flush')) break
      try {
        await saveEverything(true)
      } catch (e) {
        log(`Failed to save: ${e.stack}`, 'ERROR')
        return 'Saving the game (this may take a moment!)Unable to save the game (is there enough disk space?)'
      }
      return 'Saving the game (this may take a moment!)Saved the game'
    }
    case 'whitelist': return whitelistCommand(args)
    case 'op': case 'deop': {
      if (args.length !== 1) break
      if (!validName(args[0])) return 'That player does not exist'
      const player = serv.players.find((p) => p.username.toLowerCase() === args[0].toLowerCase())
      if (verb === 'op') {
        if (ops.find(args[0])) return 'Nothing changed. The player already is an operator'
        ops.add({ uuid: player?.uuid ?? offlineUuid(args[0]), name: args[0], level: config.opLevel, bypassesPlayerLimit: false })
        if (player) player.op = true
        return `Made ${args[0]} a server operator`
      }
      if (!ops.find(args[0])) return 'Nothing changed. The player is not an operator'
      ops.remove(args[0])
      if (player) player.op = false
      return `Made ${args[0]} no longer a server operator`
    }
    case 'kick': {
      const player = serv.players.find((p) => p.username.toLowerCase() === (args[0] || '').toLowerCase())
      if (!player) return 'No player was found'
      const reason = args.slice(1).join(' ') || 'Kicked by an operator'
      kick(player, reason)
      return `Kicked ${player.username}: ${reason}`
    }
    case 'say': {
      if (!args.length) break
      const message = `[Rcon] ${args.join(' ')}`
      log(message)
      serv.broadcast(message)
      return ''
    }
    case 'time': {
      if (args[0] !== 'query') break
      const value = { gametime: saver.gameTime(), daytime: serv.time, day: Math.floor(saver.gameTime() / 24000) }[args[1]]
      if (value === undefined) break
      return `The time is ${value}`
    }
    case 'seed': return `Seed: [${saver.seed}]`
    case 'stop':
      setImmediate(() => shutdown(0))
      return 'Stopping the server'
  }
  return `Unknown or incomplete command, see below for error${text}<--[HERE]`
}

function whitelistCommand ([sub, player, ...extra]) {
  if (extra.length) return `Incorrect argument for command${extra.join(' ')}<--[HERE]`
  const unlisted = () => {
    if (!config.whitelist || !config.enforceWhitelist) return
    for (const p of [...serv.players]) if (!whitelisted(p.username)) kick(p, NOT_WHITELISTED)
  }
  switch (sub) {
    case 'add':
      if (!/^[A-Za-z0-9_]{1,16}$/.test(player || '')) return 'That player does not exist'
      if (whitelist.find(player)) return 'Player is already whitelisted'
      whitelist.add({ uuid: offlineUuid(player), name: player })
      return `Added ${player} to the whitelist`
    case 'remove':
      if (!/^[A-Za-z0-9_]{1,16}$/.test(player || '')) return 'That player does not exist'
      if (!whitelist.find(player)) return 'Player is not whitelisted'
      whitelist.remove(player)
      unlisted()
      return `Removed ${player} from the whitelist`
    case 'list':
      if (player) break
      return whitelist.entries.length
        ? `There are ${whitelist.entries.length} whitelisted players: ${whitelist.entries.map((e) => e.name).join(', ')}`
        : 'There are no whitelisted players'
    case 'reload':
      if (player) break
      whitelist.load()
      unlisted()
      return 'Reloaded the whitelist'
    case 'on':
      if (config.whitelist) return 'Whitelist is already turned on'
      config.whitelist = true
      unlisted()
      return 'Whitelist is now turned on'
    case 'off':
      if (!config.whitelist) return 'Whitelist is already turned off'
      config.whitelist = false
      return 'Whitelist is now turned off'
  }
  return `Unknown or incomplete command, see below for errorwhitelist ${sub || ''}<--[HERE]`
}

serv.on('ready', async () => {
  saver = new WorldSaver({
    dir: worldDir,
    serv,
    level: level || { seed: options.generation.options.seed, time: 0, dayTime: 0 },
    gameType: config.gameType,
    levelName: config.levelName
  })
  if (level) serv.time = level.dayTime % 24000
  await saver.save(true)
  log(`Done (${((Date.now() - started) / 1000).toFixed(3)}s)! For help, type "help"`)
  setInterval(() => {
    if (!stopping) saveEverything(saving).catch((e) => log(`Autosave failed: ${e.stack}`, 'ERROR'))
  }, AUTOSAVE_SECONDS * 1000)
  if (!config.rcon) return
  log('Starting remote control listener')
  if (!config.rconPassword) {
    log('No rcon password set in server.properties, rcon disabled!', 'WARN')
    return
  }
  rcon = new RconServer({
    host: config.host,
    port: config.rconPort,
    password: config.rconPassword,
    log: (m) => log(m, 'INFO', 'RCON Client'),
    run: (line) => {
      log(`Rcon issued server command: ${line.split(' ')[0]}`, 'INFO', 'RCON Client')
      return command(line)
    }
  })
  try {
    await rcon.listen()
  } catch (e) {
    log(`**** FAILED TO BIND TO PORT! ${e.message}`, 'WARN', 'RCON Listener')
    return
  }
  log('Thread RCON Listener started', 'INFO', 'RCON Listener')
  log(`RCON running on ${config.host}:${config.rconPort}`, 'INFO', 'RCON Listener')
})

// flying-squid's exit-hook would exit at once on SIGTERM/SIGINT; the JVM runs
// the server's shutdown hook first, which saves the world.
serv.on('ready', async () => {
  try {
    await import('exit-hook') // flying-squid's import of it has settled too
    await new Promise((resolve) => setImmediate(resolve))
  } catch (e) {
    log(`exit-hook: ${e.message}`, 'WARN')
  }
  for (const signal of ['SIGTERM', 'SIGINT']) {
    process.removeAllListeners(signal)
    process.once(signal, () => shutdown(signal === 'SIGTERM' ? 143 : 130))
  }
  process.removeAllListeners('exit')
})
