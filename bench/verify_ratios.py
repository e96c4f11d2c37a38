#!/usr/bin/env python3
"""Ratio tables for BENCHMARKS.md from `bench/verify-bench.sh`: warm-cache verification through
sigil-verify against raw aws-lc-rs and jsonwebtoken, and the axum layer's cost; medians of the
per-round ratios (each round measured the cells side by side)."""
import statistics
import sys

from jose_ratios import series, us


def main(rounds):
    print(f"median of {rounds} rounds\n")
    print("| alg | aws-lc-rs raw | sigil-verify | / raw | sigil-verify typed | / raw | jsonwebtoken | jsonwebtoken / sigil-verify typed | (raw + decode/parse floor) / raw |")
    print("|---|---|---|---|---|---|---|---|---|")
    misses = []
    for alg in ["EdDSA", "ES256", "ES512", "PS256", "RS256"]:
        group = f"warm_verify_{alg}"
        raw, claims, typed, theirs, floor = (
            series(group, n, rounds)
            for n in ("aws-lc-rs raw", "sigil-verify", "sigil-verify typed", "jsonwebtoken", "decode+parse floor")
        )
        if raw is None or claims is None or typed is None:
            sys.exit(f"missing results for {group}")
        r_claims = statistics.median(c / r for c, r in zip(claims, raw))
        r_typed = statistics.median(t / r for t, r in zip(typed, raw))
        for name, ratio in (("claims", r_claims), ("typed", r_typed)):
            if ratio > 1.10:
                misses.append(f"{alg} {name} {ratio:.2f}x")
        if theirs:
            vs = statistics.median(j / t for j, t in zip(theirs, typed))
            j = f"{us(statistics.median(theirs))} | {vs:.2f}×"
        else:
            j = "not supported | –"
        r_floor = statistics.median((r + f) / r for r, f in zip(raw, floor)) if floor else float("nan")
        print(
            f"| {alg} | {us(statistics.median(raw))} | {us(statistics.median(claims))} | {r_claims:.2f}× "
            f"| {us(statistics.median(typed))} | {r_typed:.2f}× | {j} | {r_floor:.2f}× |"
        )
    print()
    print("target sigil-verify / raw <= 1.10: " + ("met for every cell" if not misses else "missed: " + ", ".join(misses)))

    group = "axum_route_EdDSA"
    plain, layered, verify_only = (
        series(group, n, rounds) for n in ("without layer", "with layer", "verify only")
    )
    if plain is None or layered is None or verify_only is None:
        sys.exit(f"missing results for {group}")
    added = statistics.median(w - p for w, p in zip(layered, plain))
    beyond = statistics.median(w - p - v for w, p, v in zip(layered, plain, verify_only))
    print()
    print("| axum route, EdDSA | median time |")
    print("|---|---|")
    print(f"| without the layer | {us(statistics.median(plain))} |")
    print(f"| with `VerifyLayer` + `Claims<C>` | {us(statistics.median(layered))} |")
    print(f"| `Verifier::verify` alone | {us(statistics.median(verify_only))} |")
    print(f"| added by the layer | {us(added)} |")
    print(f"| added beyond the verification itself | {us(beyond)} |")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
