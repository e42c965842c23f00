// The world on disk for squid_server.js: level.dat (read at start, rewritten
// on every save, like vanilla) and the flying-squid overworld's region files
// (prismarine-provider-anvil's 1.18+ chunk format, which 1.20.1 uses), saved
// only when the server saves, never on flying-squid's own one-second timer,
// so `save-off` really keeps the files still while a backup copies them.
//
// level.dat keeps what this server reads back after a restore: the seed (in
// the `RandomSeed` shape flying-squid itself reads: the seed as the high word
// of a long), the game time `Time` and the day time `DayTime`, which
// `time query gametime` then reports. It is written to a temporary file and
// renamed over the old one (the previous copy kept as level.dat_old), as
// vanilla does, so a copy taken at any moment holds a whole level.dat.
'use strict'

const fs = require('fs')
const path = require('path')
const zlib = require('zlib')
// flying-squid's own copy, so both read and write the same NBT.
const nbt = require(require.resolve('prismarine-nbt', { paths: [path.dirname(require.resolve('flying-squid'))] }))

/** 1.20.1's data version. */
const DATA_VERSION = 3465

const toLong = (n) => nbt.long([Math.floor(n / 2 ** 32) | 0, n % 2 ** 32 | 0])
const fromLong = (v) => (Array.isArray(v) ? v[0] * 2 ** 32 + (v[1] >>> 0) : Number(v))

/** What level.dat holds, or null when there is none (a new world). */
function readLevel (dir) {
  let bytes
  try {
    bytes = fs.readFileSync(path.join(dir, 'level.dat'))
  } catch (e) {
    if (e.code === 'ENOENT') return null
    throw e
  }
  const data = nbt.simplify(nbt.parseUncompressed(zlib.gunzipSync(bytes))).Data
  return {
    seed: Array.isArray(data.RandomSeed) ? data.RandomSeed[0] : Number(data.RandomSeed),
    time: data.Time === undefined ? 0 : fromLong(data.Time),
    dayTime: data.DayTime === undefined ? 0 : fromLong(data.DayTime),
    lastPlayed: data.LastPlayed === undefined ? null : fromLong(data.LastPlayed)
  }
}

function writeLevel (dir, { seed, time, dayTime, gameType, levelName }) {
  const root = nbt.comp({
    Data: nbt.comp({
      DataVersion: nbt.int(DATA_VERSION),
      Version: nbt.comp({
        Id: nbt.int(DATA_VERSION),
        Name: nbt.string('1.20.1'),
        Series: nbt.string('main'),
        Snapshot: nbt.byte(0)
      }),
      version: nbt.int(19133),
      LevelName: nbt.string(levelName),
      generatorName: nbt.string('flat'),
      RandomSeed: nbt.long([seed | 0, 0]),
      GameType: nbt.int(gameType),
      Time: toLong(time),
      DayTime: toLong(dayTime),
      LastPlayed: toLong(Date.now())
    })
  }, '')
  const file = path.join(dir, 'level.dat')
  const tmp = path.join(dir, `level${process.pid}.dat`)
  fs.writeFileSync(tmp, zlib.gzipSync(nbt.writeUncompressed(root)))
  if (fs.existsSync(file)) fs.copyFileSync(file, path.join(dir, 'level.dat_old'))
  fs.renameSync(tmp, file)
}

/** Region files of a world directory, for the start-up report. */
function regionFiles (dir) {
  try {
    return fs.readdirSync(path.join(dir, 'region')).filter((f) => f.endsWith('.mca'))
  } catch (e) {
    return []
  }
}

/**
 * The overworld's saving, driven by the server: `save(chunks)` writes
 * level.dat always and the chunks changed since the last save when `chunks`
 * holds. Saves run one at a time, in order.
 */
class WorldSaver {
  constructor ({ dir, serv, level, gameType, levelName }) {
    Object.assign(this, { dir, serv, gameType, levelName })
    this.seed = level.seed
    this.baseTime = level.time
    this.chain = Promise.resolve()
    // flying-squid saves dirty chunks every second on its own; vanilla
    // saves only on autosave, save-all and stop, which is what save-off needs.
    serv.overworld.stopSaving()
  }

  /** Game ticks since the world was created: what was saved plus this run's. */
  gameTime () {
    return this.baseTime + (this.serv.tickCount || 0)
  }

  save (chunks) {
    this.chain = this.chain.then(async () => {
      if (chunks) await this.serv.overworld.saveNow()
      writeLevel(this.dir, {
        seed: this.seed,
        time: this.gameTime(),
        dayTime: this.serv.time || 0,
        gameType: this.gameType,
        levelName: this.levelName
      })
    })
    return this.chain
  }
}

module.exports = { readLevel, writeLevel, regionFiles, WorldSaver }
