#!/usr/bin/env python3
"""Ratio table for BENCHMARKS.md from `bench/jose-bench.sh`: per algorithm and operation, median
time of sigil-jose, raw aws-lc-rs and jsonwebtoken over the rounds, and the median of the
per-round ratios (each round measured the three side by side)."""
import json
import pathlib
import statistics
import sys

root = pathlib.Path("target/criterion")


def median_ns(group, name, baseline):
    path = root / group / name / baseline / "estimates.json"
    if not path.exists():
        return None
    return json.loads(path.read_text())["median"]["point_estimate"]


def series(group, name, rounds):
    """Criterion's median time of one benchmark in each round (None if a round is missing)."""
    values = [median_ns(group, name, f"round{i}") for i in range(1, rounds + 1)]
    return None if any(v is None for v in values) else values


def us(ns):
    return f"{ns / 1000:.1f} µs"


def main(rounds):
    print(f"median of {rounds} rounds\n")
    print("| alg | op | aws-lc-rs raw | sigil-jose | sigil-jose / raw | jsonwebtoken | jsonwebtoken / sigil-jose |")
    print("|---|---|---|---|---|---|---|")
    misses = []
    for alg in ["EdDSA", "ES256", "ES512", "PS256", "RS256"]:
        for op in ["sign", "verify"]:
            group = f"{op}_{alg}"
            raw, ours, theirs = (series(group, n, rounds) for n in ("aws-lc-rs raw", "sigil-jose", "jsonwebtoken"))
            if raw is None or ours is None:
                sys.exit(f"missing results for {group}")
            ratio = statistics.median(o / r for o, r in zip(ours, raw))
            if ratio > 1.15:
                misses.append(f"{alg} {op} {ratio:.2f}x")
            if theirs:
                vs = statistics.median(t / o for t, o in zip(theirs, ours))
                j = f"{us(statistics.median(theirs))} | {vs:.2f}×"
            else:
                j = "not supported | –"
            print(f"| {alg} | {op} | {us(statistics.median(raw))} | {us(statistics.median(ours))} | {ratio:.2f}× | {j} |")
    print()
    print("target sigil-jose / raw <= 1.15: " + ("met for every cell" if not misses else "missed: " + ", ".join(misses)))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
