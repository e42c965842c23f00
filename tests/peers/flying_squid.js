// A real Minecraft server in Node (flying-squid) on 127.0.0.1:PORT for the
// Server List Ping client's tests. flying-squid 1.12 lists 1.20 as tested
// (protocol 763, the same as 1.20.1), so it serves VERSION (default 1.20.1).
// Prints "ready" once listening.
const mcServer = require('flying-squid')
const [port, version] = process.argv.slice(2)
const server = mcServer.createMCServer({
  'motd': 'flying squid peer',
  'port': Number(port),
  'host': '127.0.0.1',
  'max-players': 7,
  'online-mode': false,
  'logging': false,
  'gameMode': 1,
  'difficulty': 1,
  'worldFolder': undefined,
  'generation': { 'name': 'superflat', 'options': { 'worldHeight': 80 } },
  'kickTimeout': 10000,
  'plugins': {},
  'modpe': false,
  'view-distance': 2,
  'player-list-text': { 'header': 'x', 'footer': 'y' },
  'everybody-op': false,
  'max-entities': 10,
  'version': version || '1.20.1'
})
server.on('listening', () => console.log('ready'))
server.on('error', (e) => { console.error(String(e)); process.exit(1) })
