#!/usr/bin/env python3
"""Benchmark: `mc-gitops plan` (or `simulate`) on the example repo with a ledger of N sessions.

Target (issue 2): N = 5000 closed sessions, release build, <= 0.3 s wall and
<= 40 MB peak RSS. Sessions are generated like the bot writes them (one file
per session under sessions/YYYY/MM/, spread over ~14 years, a few events
and two players' join and leave times each, from which plan learns the
shutdown policy) into a temporary copy of state-repo-example; the command is
run R times and the median wall time and the worst peak RSS are reported.
`--simulate` runs `mc-gitops simulate --repo` on that ledger instead (issue
17: <= 1 s, <= 50 MB).

    python3 bench/plan_ledger.py [--sessions 5000] [--runs 15] [--bin target/release/mc-gitops] [--simulate]
"""

import argparse
import datetime as dt
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def session_toml(i: int, start: dt.datetime) -> tuple[str, str]:
    hours = 1 + i % 6
    end = start + dt.timedelta(hours=hours - 1, minutes=37)
    sid = start.strftime("%Y%m%d-%H%M") + "-eu"
    gross = min(0.0105 * hours, 6.5331)
    net = min(0.0088 * hours, 5.49)
    events = "".join(
        f'\n[[events]]\nat = {(start + dt.timedelta(minutes=m)).strftime("%Y-%m-%dT%H:%M:%SZ")}\nwhat = "event {m}"\n'
        for m in (0, 3, 60)
    )
    at = lambda m: (start + dt.timedelta(minutes=m)).strftime("%Y-%m-%dT%H:%M:%SZ")
    presence = (
        f'\n[[presence]]\nplayer = "Steve"\njoin = {at(5)}\nleave = {at(50)}\n'
        f'\n[[presence]]\nplayer = "Alex"\njoin = {at(20)}\nleave = {at(hours * 60 - 70)}\n'
    )
    text = f'''id = "{sid}"
server = "grove"
region = "eu"
location = "fsn1"
server_type = "cx33"
server_id = {58000000 + i}
ipv4 = "203.0.113.{i % 250 + 1}"
started = {start.strftime("%Y-%m-%dT%H:%M:%SZ")}
ready = {(start + dt.timedelta(minutes=3)).strftime("%Y-%m-%dT%H:%M:%SZ")}
ended = {end.strftime("%Y-%m-%dT%H:%M:%SZ")}
end_reason = "idle"
billed_hours = {hours}
peak_players = {i % 5}
players_seen = ["Steve", "Alex"]
world_bytes = {180000000 + i * 1000}
backups = {hours * 2}

[price]
currency = "EUR"
hourly_net = "0.0088"
hourly_gross = "0.0105"
monthly_net = "5.4900"
monthly_gross = "6.5331"

[cost]
net = "{net:.4f}"
gross = "{gross:.4f}"
{events}{presence}'''
    return f"sessions/{start:%Y/%m}/{sid}.toml", text


def build_repo(n: int) -> str:
    tmp = tempfile.mkdtemp(prefix="mc-gitops-bench-")
    repo = os.path.join(tmp, "repo")
    shutil.copytree(os.path.join(ROOT, "state-repo-example"), repo)
    shutil.rmtree(os.path.join(repo, "sessions"))
    start = dt.datetime(2012, 1, 1, 18, 0)
    rng = random.Random(7)
    for i in range(n):
        start += dt.timedelta(hours=rng.randint(20, 30))
        path, text = session_toml(i, start)
        full = os.path.join(repo, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(text)
    return repo


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=5000)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/release/mc-gitops"))
    ap.add_argument("--simulate", action="store_true")
    args = ap.parse_args()
    if not os.path.exists(args.bin):
        subprocess.run(["cargo", "build", "--release"], cwd=ROOT, check=True)
    repo = build_repo(args.sessions)
    env = {k: v for k, v in os.environ.items() if k not in ("HCLOUD_TOKEN", "CLOUDFLARE_API_TOKEN")}
    walls = []
    rss_kib = 0
    for _ in range(args.runs):
        t0 = time.perf_counter()
        cmd = [args.bin, "simulate", "--repo", repo] if args.simulate else [args.bin, "plan", "--repo", repo]
        p = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        walls.append(time.perf_counter() - t0)
        if p.returncode not in (0, 2):
            print(p.stderr.decode(), file=sys.stderr)
            return 1
        rss_kib = max(rss_kib, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    shutil.rmtree(os.path.dirname(repo))
    med = statistics.median(walls)
    print(f"sessions={args.sessions} runs={args.runs} wall_median={med:.3f}s wall_max={max(walls):.3f}s peak_rss={rss_kib / 1024:.1f}MiB")
    wall, mib = (1.0, 50) if args.simulate else (0.3, 40)
    ok = med <= wall and rss_kib / 1024 <= mib
    print(f"{'simulate' if args.simulate else 'plan'} target (<= {wall} s, <= {mib} MB):", "met" if ok else "MISSED")
    return 0 if ok else 3


if __name__ == "__main__":
    sys.exit(main())
