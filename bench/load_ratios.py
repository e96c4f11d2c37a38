#!/usr/bin/env python3
"""Ratio table from `bench/load-vs-peer.sh`: sigil serve against Better Auth per endpoint and
concurrency (median req/s over the runs), and memory (RSS after load, cold start)."""
import csv
import pathlib
import statistics
import sys

peer_dir, sigil_dir = (pathlib.Path(p) for p in sys.argv[1:3])


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def rps(directory):
    by = {}
    for r in rows(directory / "load.tsv"):
        by.setdefault((r["alg"], r["endpoint"], r["conns"]), []).append(float(r["rps"]))
    return {k: statistics.median(v) for k, v in by.items()}


def server(directory):
    out = {}
    for r in rows(directory / "server.tsv"):
        out.setdefault(r["alg"], []).append(r)
    return out


peer, sigil = rps(peer_dir), rps(sigil_dir)
print("| alg | endpoint | conns | Better Auth req/s | sigil req/s | sigil / Better Auth |")
print("|---|---|---|---|---|---|")
for key in sorted(peer):
    if key in sigil:
        alg, ep, c = key
        print(f"| {alg} | {ep} | {c} | {peer[key]:.0f} | {sigil[key]:.0f} | {sigil[key] / peer[key]:.1f}× |")
print()
ps, ss = server(peer_dir), server(sigil_dir)
print("| alg | figure | Better Auth | sigil | Better Auth / sigil |")
print("|---|---|---|---|---|")
for alg in sorted(ps):
    if alg not in ss:
        continue
    for field, unit in (("rss_after_load_kb", "KiB"), ("hwm_kb", "KiB"), ("cold_start_ms", "ms")):
        a = statistics.median(float(r[field]) for r in ps[alg] if r[field])
        b = statistics.median(float(r[field]) for r in ss[alg] if r[field])
        print(f"| {alg} | {field} | {a:.0f} {unit} | {b:.0f} {unit} | {a / b:.1f}× |")
