#!/usr/bin/env python3
"""Benchmark: `mc-gitops simulate`, the shutdown policies side by side (issue 17).

1. Policies: 20 synthetic evening-play traces (seeds 1..20) of 30 days each,
   with the schedule of state-repo-example's reconcile.yml, run twice: with
   no history (the learned policy starts from its prior and learns as the
   days go) and with --history 30 days of the same group's play before the
   trace (a ledger's previous month, known only to the learned policy).
   Prints each run's table, the frontier of fixed rules X = 0..240 (every
   --step minutes), and checks the targets: learned <= 0.85x the seed's
   billed hours with no more cold starts, and fewer hours than every fixed
   rule with no more cold starts than it.
2. Speed: `simulate` on one trace of --sittings sittings (about 5,000: a
   ledger of 5,000 sessions holds at most that many), release build:
   median wall time and peak RSS over --runs runs, against <= 1 s, <= 50 MB.

    python3 bench/simulate.py [--bin target/release/mc-gitops] [--step 5] [--history 30] [--runs 5]

Needs a built binary (cargo build --release).
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "state-repo-example")


def simulate(binary: str, *args: str) -> dict:
    cmd = [binary, "simulate", "--repo", EXAMPLE, "--json", *args]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def policies(binary: str, step: int, history: int) -> bool:
    r = simulate(binary, "--synthetic", "--seeds", "20", "--days", "30", "--frontier", str(step), "--history-days", str(history))
    print(f"\n== 20 seeds x 30 days, history {history} days: {r['sittings']} sittings ==")
    print(f"{'policy':<20} {'servers':>7} {'billed h':>9} {'cost':>8} {'cold':>5} {'warm':>5} {'instant':>7} {'wait min':>9} {'p95 s':>6} {'jobs':>6} {'Actions/month':>13}")
    for row in r["rows"]:
        print(
            f"{row['policy']:<20} {row['servers']:>7} {row['billed_hours']:>9} {row['cost']:>8} {row['cold_starts']:>5} "
            f"{row['warm_starts']:>5} {row['instant_joins']:>7} {row['total_wait_secs'] // 60:>9} {row['p95_wait_secs']:>6} "
            f"{row['reconcile_jobs']:>6} {row['actions_minutes_per_month']:>13}"
        )
    seed = next(x for x in r["rows"] if x["policy"].startswith("seed"))
    learned = next(x for x in r["rows"] if x["policy"] == "learned")
    print("\nfrontier (fixed X, billed hours, cold starts, hours vs seed):")
    for p in r["frontier"]:
        mark = " <= learned's cold starts" if p["cold_starts"] <= learned["cold_starts"] else ""
        print(f"  X={p['keep_minutes']:>3}  {p['billed_hours']:>6} h  {p['cold_starts']:>5} cold  {p['billed_hours'] / seed['billed_hours']:.3f}x{mark}")
    v = r["learned_vs_seed"]
    print(f"\nlearned vs seed: {v['hours_ratio']:.3f}x hours, {v['cold_starts_ratio']:.3f}x cold starts")
    best = r.get("best_fixed")
    beats = best is None or learned["billed_hours"] < best["billed_hours"]
    if best:
        print(f"best fixed rule with no more cold starts than learned: X={best['keep_minutes']} ({best['billed_hours']} h, {best['cold_starts']} cold)")
    ok_seed = v["hours_ratio"] <= 0.85 and learned["cold_starts"] <= seed["cold_starts"]
    print("target learned <= 0.85x seed hours, no more cold starts:", "met" if ok_seed else "MISSED")
    print("target learned beats the frontier:", "met" if beats else "MISSED")
    return ok_seed and beats


def speed(binary: str, sittings: int, runs: int) -> bool:
    # About 1.1 sittings a day in the synthetic traces.
    days = int(sittings / 1.1)
    with tempfile.TemporaryDirectory() as d:
        trace = os.path.join(d, "trace.json")
        subprocess.run([binary, "simulate", "--synthetic", "--days", str(days), "--write-trace", trace], check=True)
        n = len(json.load(open(trace))["intervals"])
        walls = []
        for _ in range(runs):
            t0 = time.perf_counter()
            subprocess.run([binary, "simulate", "--repo", EXAMPLE, "--trace", trace, "--json"], check=True, stdout=subprocess.DEVNULL)
            walls.append(time.perf_counter() - t0)
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        r = simulate(binary, "--trace", trace)
    med = statistics.median(walls)
    print(f"\n== speed: {r['sittings']} sittings ({n} play intervals, {days} days), {runs} runs ==")
    print(f"wall_median={med:.3f}s wall_max={max(walls):.3f}s peak_rss={rss:.1f}MiB")
    ok = med <= 1.0 and rss <= 50
    print("target (<= 1 s, <= 50 MB):", "met" if ok else "MISSED")
    return ok


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/release/mc-gitops"))
    ap.add_argument("--step", type=int, default=5)
    ap.add_argument("--history", type=int, default=30)
    ap.add_argument("--sittings", type=int, default=5000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    ok = policies(args.bin, args.step, 0)
    ok = policies(args.bin, args.step, args.history) and ok
    ok = speed(args.bin, args.sittings, args.runs) and ok
    return 0 if ok else 3


if __name__ == "__main__":
    sys.exit(main())
