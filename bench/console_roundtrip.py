#!/usr/bin/env python3
"""Benchmark: an admin request's round trip, `mc-gitops console -- time set day`
to its printed answer, against the agent binary with the fake Minecraft
(tests/peers/fake_minecraft.py, rconx) over a local-dir store.

What it shows: the wait is the agent's control poll (`control_poll`, 30 s by
default on a VPS; here --poll, 1 s) plus a few milliseconds of work; and how
the queue's growth (answered requests are kept, pruning is not built) slows
the agent's listing at every poll: the run is repeated with --old answered
requests already in `control/<s>/requests/`.

    python3 bench/console_roundtrip.py [--runs 10] [--poll 1s] [--old 0,1000] [--bin target/debug/mc-gitops]

Needs the test peers (bash scripts/test --setup-only) and a built binary.
"""

import argparse
import datetime as dt
import hashlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEERS = os.path.join(ROOT, "tests", "peers")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def setup(work: str, poll: str, old: int) -> tuple[str, str, str]:
    storage = os.path.join(work, "storage")
    mc = os.path.join(work, "minecraft")
    os.makedirs(os.path.join(storage, "control/grove/requests"))
    os.makedirs(os.path.join(storage, "assets/grove"))
    os.makedirs(os.path.join(mc, "world"))
    with open(os.path.join(mc, "world/level.dat"), "wb") as f:
        f.write(b"bench")
    props = b"motd=Grove\nenable-rcon=false\n"
    digest = hashlib.sha256(props).hexdigest()
    with open(os.path.join(storage, f"assets/grove/sha256-{digest}"), "wb") as f:
        f.write(props)
    desired = {
        "version": 1, "session": "20261122-1800-eu", "stop_requested": None, "stop_reason": None,
        "whitelist": [], "ops": [],
        "assets": {"server.properties": {"hash": f"sha256:{digest}", "size": len(props)}},
        "written": "2026-11-22T18:00:00Z",
    }
    with open(os.path.join(storage, "control/grove/desired.json"), "w") as f:
        json.dump(desired, f)
    # Old answered requests, as a long-lived server's queue would hold them.
    base = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)
    for i in range(old):
        at = base + dt.timedelta(minutes=i)
        rid = at.strftime("%Y%m%dT%H%M%SZ") + f"-{i:08x}"
        req = {"version": 1, "id": rid, "action": "backup", "actor": "grove-admin",
               "asked": at.isoformat(), "expires": at.isoformat()}
        res = dict(req, ran=at.isoformat(), outcome="ok", reply="old", session="20261101-1802-eu")
        del res["expires"]
        for name, doc in ((f"{rid}.json", req), (f"{rid}.result.json", res)):
            with open(os.path.join(storage, "control/grove/requests", name), "w") as f:
                json.dump(doc, f)
    config = os.path.join(work, "agent.toml")
    python = os.path.join(PEERS, ".venv/bin/python")
    with open(config, "w") as f:
        f.write(
            f'server = "grove"\nsession = "20261122-1800-eu"\nminecraft_dir = {json.dumps(mc)}\n'
            f'java = [{json.dumps(python)}, {json.dumps(os.path.join(PEERS, "fake_minecraft.py"))}]\n'
            f"game_port = {free_port()}\nrcon_port = {free_port()}\n[storage]\ndir = {json.dumps(storage)}\n"
            f'[lifecycle]\nheartbeat = "5s"\ncontrol_poll = "{poll}"\nplayers_poll = "5s"\n'
        )
    repo = os.path.join(work, "repo")
    shutil.copytree(os.path.join(ROOT, "state-repo-example"), repo)
    return storage, config, repo


def run(binary: str, runs: int, poll: str, old: int) -> list[float]:
    work = tempfile.mkdtemp(prefix="console-bench-")
    try:
        storage, config, repo = setup(work, poll, old)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("R2_", "GITHUB_"))}
        agent = subprocess.Popen([binary, "agent", "--config", config], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            status = os.path.join(storage, "control/grove/status.json")
            deadline = time.time() + 60
            while time.time() < deadline:
                try:
                    if json.load(open(status))["phase"] == "idle":
                        break
                except (OSError, ValueError, KeyError):
                    pass
                time.sleep(0.05)
            else:
                sys.exit("the agent did not reach idle")
            env.update(MC_GITOPS_STORAGE_DIR=storage, MC_GITOPS_POLL_INTERVAL_MS="20")
            times = []
            for _ in range(runs):
                t = time.perf_counter()
                out = subprocess.run([binary, "console", "--repo", repo, "--", "time", "set", "day"],
                                     env=env, capture_output=True, text=True)
                times.append(time.perf_counter() - t)
                if out.returncode != 0:
                    sys.exit(f"console failed: {out.stdout}{out.stderr}")
            return times
        finally:
            agent.terminate()
            agent.wait(timeout=120)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--poll", default="1s")
    ap.add_argument("--old", default="0,1000")
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/debug/mc-gitops"))
    a = ap.parse_args()
    for old in (int(x) for x in a.old.split(",")):
        t = sorted(run(a.bin, a.runs, a.poll, old))
        print(f"control_poll {a.poll}, {old} old answered requests: round trip median "
              f"{statistics.median(t):.2f} s, max {t[-1]:.2f} s over {a.runs} runs")


if __name__ == "__main__":
    main()
