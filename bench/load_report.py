#!/usr/bin/env python3
"""Report of `bench/load.sh` (issue 11): every target as met or missed with its measured ratio, and
the tables (throughput and latency per server, alg, endpoint and concurrency; memory and cold
start; the sign-in flood; the soak; the scrypt and signing ceilings). Prints markdown; with
`--write BENCHMARKS.md` also replaces what stands between `<!-- load:begin -->` and
`<!-- load:end -->` there (the markers are appended when missing).

    python3 bench/load_report.py WORK_DIR [--write BENCHMARKS.md]

Figures are medians over the rounds; errors (non-2xx responses and socket errors) are summed; a
run that completed no request shows 0 req/s and no latency (–)."""
import csv
import pathlib
import statistics
import sys

BEGIN, END = "<!-- load:begin -->", "<!-- load:end -->"
SERVERS = [
    ("peer", "Better Auth"),
    ("sigil-sqlite", "sigil (SQLite)"),
    ("sigil-postgres", "sigil (PostgreSQL)"),
    ("ceiling", "axum ceiling"),
]
ENDPOINT_NAMES = {
    "jwks": "`/jwks`",
    "token-bearer": "`/token` (bearer)",
    "token-cookie": "`/token` (cookie)",
    "get-session": "`/get-session` (cookie)",
    "sign-in": "`/sign-in/email`",
    "ok": "`/ok` (fixed JSON)",
}
ENDPOINT_ORDER = list(ENDPOINT_NAMES)


def rows(path):
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


class Cells:
    """wrk rows grouped by (server, alg, endpoint, conns)."""

    def __init__(self, table):
        self.by = {}
        for r in table:
            key = (r["server"], r["alg"], r["endpoint"], r["conns"])
            self.by.setdefault(key, []).append(r)

    def get(self, server, alg, endpoint, conns, field):
        """Median of FIELD; alg None means any alg (the ceiling serves the same for all). A run
        that completed no request has no latency."""
        found = [
            float(r[field])
            for (s, a, e, c), rs in self.by.items()
            if s == server and (alg is None or a == alg) and e == endpoint and c == str(conns)
            for r in rs
            if not (field.endswith("_ms") and r["requests"] == "0")
        ]
        return median(found)

    def errors(self, server, alg, endpoint, conns):
        total = 0
        for r in self.by.get((server, alg, endpoint, str(conns)), []):
            total += int(r["non2xx"]) + int(r["sock_err"])
        return total

    def keys(self):
        return self.by.keys()


def fmt(value, digits=0):
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def ratio_text(value, unit):
    if value is None:
        return "not measured"
    if unit == "×":
        return f"{value:.1f}×"
    return f"{value * 100:.0f}%"


def main():
    args = sys.argv[1:]
    write = None
    if "--write" in args:
        i = args.index("--write")
        write = pathlib.Path(args[i + 1])
        del args[i : i + 2]
    work = pathlib.Path(args[0])
    env = {}
    for line in (work / "env.tsv").read_text().splitlines():
        key, _, value = line.partition("\t")
        env[key] = value
    ceilings = {}
    for line in (work / "ceilings.tsv").read_text().splitlines():
        parts = line.split("\t")
        ceilings[tuple(parts[:-1])] = float(parts[-1])
    cells = Cells(rows(work / "load.tsv"))
    flood = Cells(rows(work / "flood.tsv"))
    servers = {}
    for r in rows(work / "server.tsv"):
        servers.setdefault((r["server"], r["alg"]), []).append(r)
    soak = rows(work / "soak.tsv")
    soak_load = rows(work / "soak-load.tsv")
    algs = []
    for _, a, _, _ in cells.keys():
        if a not in algs:
            algs.append(a)
    first = algs[0] if algs else "EdDSA"
    conns_list = sorted({c for _, _, _, c in cells.keys()}, key=int, reverse=True)

    def server_figure(server, alg, field):
        return median(float(r[field]) for r in servers.get((server, alg), []) if r.get(field))

    out = []
    p = out.append
    if "SMOKE=1" in env.get("knobs", ""):
        kind = "smoke mode"
    elif env.get("custom"):
        kind = f"reduced or changed: {env['custom']} set"
    else:
        kind = "defaults"
    p(f"### Run of {env.get('date', '?')} (`bash bench/load.sh`, {kind})")
    p("")
    p(
        f"Machine: {env.get('nproc', '?')} cores (`nproc`), {env.get('memory', '?')} memory, "
        f"{env.get('kernel', '?')}; {env.get('rustc', '?')}; Node {env.get('node', '?')}, "
        f"Better Auth {env.get('better-auth', '?')}; {env.get('wrk', 'wrk ?')}; "
        f"PostgreSQL {env.get('postgres', '–')}; sigil at {env.get('sigil', '?')}. "
        f"Load average (1, 5, 15 min) at the start {env.get('loadavg_start', '?')}, at the end "
        f"{env.get('loadavg_end', '?')} (the machine is shared). "
        f"Knobs: `{env.get('knobs', '?')}`; {env.get('wall_s', '?')} s after the build. "
        "Req/s, p50 and p99 are medians over the rounds; errors (non-2xx and socket errors) are "
        "summed. Server and wrk share the cores."
    )
    p("")

    # ------------------------------------------------------------ targets
    targets = []

    def target(name, value, goal_text, ok, unit="×"):
        status = "not measured" if value is None else ("**met**" if ok(value) else "**missed**")
        targets.append((name, ratio_text(value, unit), goal_text, status))

    def div(a, b):
        return None if a is None or b in (None, 0) else a / b

    def rps(server, alg, ep, c=32):
        return cells.get(server, alg, ep, c, "rps")

    def p99(server, alg, ep, c=32):
        return cells.get(server, alg, ep, c, "p99_ms")

    target(
        f"`/token` (bearer, {first}, 32 conns): sigil / Better Auth",
        div(rps("sigil-sqlite", first, "token-bearer"), rps("peer", first, "token-bearer")),
        "≥ 80×",
        lambda v: v >= 80,
    )
    target(
        f"`/token` (bearer, {first}, 32 conns): sigil / axum ceiling (`/ok`)",
        div(rps("sigil-sqlite", first, "token-bearer"), rps("ceiling", None, "ok")),
        "≥ 40%",
        lambda v: v >= 0.40,
        "%",
    )
    target(
        f"`/get-session` (cookie, set-auth-jwt, {first}, 32 conns): sigil / Better Auth",
        div(rps("sigil-sqlite", first, "get-session"), rps("peer", first, "get-session")),
        "≥ 60×",
        lambda v: v >= 60,
    )
    for c in conns_list:
        target(
            f"`/jwks` ({first}, {c} conn{'s' if c != '1' else ''}): sigil / axum ceiling (same body)",
            div(rps("sigil-sqlite", first, "jwks", c), rps("ceiling", first, "jwks", c)),
            "≥ 95%",
            lambda v: v >= 0.95,
            "%",
        )
    for alg in algs:
        target(
            f"`/token` (bearer, {alg}, 32 conns): PostgreSQL / SQLite",
            div(rps("sigil-postgres", alg, "token-bearer"), rps("sigil-sqlite", alg, "token-bearer")),
            "≥ 90%",
            lambda v: v >= 0.90,
            "%",
        )
    target(
        f"`/token` (bearer, {first}, 32 conns) p99: Better Auth / sigil",
        div(p99("peer", first, "token-bearer"), p99("sigil-sqlite", first, "token-bearer")),
        "≥ 100× (sigil ≤ 1/100)",
        lambda v: v >= 100,
    )
    scrypt_ceiling = ceilings.get(("scrypt_ceiling_per_s",))
    target(
        f"`/sign-in/email` ({first}, 32 conns): sigil / scrypt ceiling "
        f"({fmt(scrypt_ceiling, 1)} hashes/s)",
        div(rps("sigil-sqlite", first, "sign-in"), scrypt_ceiling),
        "≥ 90%",
        lambda v: v >= 0.90,
        "%",
    )
    for ep, limit in (("jwks", 5), ("token-bearer", 10)):
        value = flood.get("sigil-sqlite", first, ep, 4, "p99_ms")
        status = "not measured" if value is None else ("**met**" if value <= limit else "**missed**")
        targets.append(
            (
                f"{ENDPOINT_NAMES[ep]} p99 during a sign-in flood (sigil, 4 conns)",
                "not measured" if value is None else f"{value:.2f} ms",
                f"≤ {limit} ms",
                status,
            )
        )
    for alg in algs:
        if alg == "EdDSA":
            continue
        share = div(rps("sigil-sqlite", alg, "token-bearer"), ceilings.get(("sign_ceiling_per_s", alg)))
        targets.append(
            (
                f"`/token` (bearer, {alg}, 32 conns): share of raw {alg} signing ceiling "
                f"({fmt(ceilings.get(('sign_ceiling_per_s', alg)))} signatures/s)",
                ratio_text(share, "%"),
                "reported",
                "–",
            )
        )
    target(
        f"RSS after load ({first}): Better Auth / sigil",
        div(
            server_figure("peer", first, "rss_after_load_kb"),
            server_figure("sigil-sqlite", first, "rss_after_load_kb"),
        ),
        "≥ 10× (sigil ≤ 1/10)",
        lambda v: v >= 10,
    )
    before = div(
        server_figure("peer", first, "rss_before_signin_kb"),
        server_figure("sigil-sqlite", first, "rss_before_signin_kb"),
    )
    targets.append(
        (
            f"RSS after the load before the sign-in cells ({first}): Better Auth / sigil",
            ratio_text(before, "×"),
            "reported (scrypt's 32 MiB per hash is not in it)",
            "–",
        )
    )
    target(
        f"cold start ({first}): Better Auth / sigil",
        div(
            server_figure("peer", first, "cold_start_ms"),
            server_figure("sigil-sqlite", first, "cold_start_ms"),
        ),
        "≥ 20× (sigil ≤ 1/20)",
        lambda v: v >= 20,
    )
    settle = int(env.get("settle", "10"))
    soak_pass = None
    if soak and soak_load:
        at_settle = next((float(r["rss_kb"]) for r in soak if int(r["second"]) == settle), None)
        at_end = float(soak[-1]["rss_kb"])
        growth = div(at_end - at_settle, at_settle) if at_settle else None
        soak_errors = sum(int(r["non2xx"]) + int(r["sock_err"]) for r in soak_load)
        soak_pass = growth is not None and growth <= 0.10 and soak_errors == 0
        targets.append(
            (
                f"soak: `/token` (bearer, {first}, 32 conns, {soak[-1]['second']} s): RSS growth "
                f"after {settle} s, errors",
                f"{(growth or 0) * 100:+.1f}% ({at_settle / 1024:.1f} → {at_end / 1024:.1f} MiB), "
                f"{soak_errors} errors",
                "≤ 10%, 0 errors",
                "**met**" if soak_pass else "**missed**",
            )
        )
    p("#### Targets (ratios within this run)")
    p("")
    p("| target | measured | goal | |")
    p("|---|---|---|---|")
    for name, measured, goal, status in targets:
        p(f"| {name} | {measured} | {goal} | {status} |")
    p("")

    # ------------------------------------------------------------ throughput and latency
    present = [(s, n) for s, n in SERVERS if any(k[0] == s for k in cells.keys())]
    p("#### Throughput and latency: req/s · p50 · p99 (ms)")
    p("")
    p("| alg | endpoint | conns | " + " | ".join(n for _, n in present) + " | errors |")
    p("|---|---|---|" + "---|" * len(present) + "---|")
    row_keys = sorted(
        {(a, e, c) for s, a, e, c in cells.keys() if s != "ceiling"}
        | {(a, e, c) for s, a, e, c in cells.keys() if s == "ceiling"},
        key=lambda k: (algs.index(k[0]), ENDPOINT_ORDER.index(k[1]), -int(k[2])),
    )
    for alg, ep, c in row_keys:
        texts, errors = [], []
        for s, n in present:
            r = cells.get(s, alg, ep, c, "rps")
            if r is None:
                texts.append("")
                continue
            texts.append(
                f"{fmt(r)} · {fmt(cells.get(s, alg, ep, c, 'p50_ms'), 2)} · "
                f"{fmt(cells.get(s, alg, ep, c, 'p99_ms'), 2)}"
            )
            e = cells.errors(s, alg, ep, c)
            if e:
                errors.append(f"{n}: {e}")
        p(
            f"| {alg} | {ENDPOINT_NAMES.get(ep, ep)} | {c} | "
            + " | ".join(texts)
            + f" | {', '.join(errors) or '0'} |"
        )
    p("")

    # ------------------------------------------------------------ memory and cold start
    present_servers = [(s, n) for s, n in SERVERS if any(k[0] == s for k in servers)]
    p("#### Memory and cold start (medians over the rounds)")
    p("")
    p("| alg | figure | " + " | ".join(n for _, n in present_servers) + " |")
    p("|---|---|" + "---|" * len(present_servers))
    for alg in algs:
        for field, label, scale, unit, digits in (
            ("rss_before_signin_kb", "RSS after the load, before sign-in", 1 / 1024, "MiB", 1),
            ("rss_after_load_kb", "RSS after load (sign-in last)", 1 / 1024, "MiB", 1),
            ("hwm_kb", "peak RSS (VmHWM)", 1 / 1024, "MiB", 1),
            ("cold_start_ms", "cold start (spawn → first 200)", 1, "ms", 0),
        ):
            texts = []
            for s, _ in present_servers:
                v = server_figure(s, alg, field)
                texts.append("" if v is None else f"{fmt(v * scale, digits)} {unit}")
            if any(texts):
                p(f"| {alg} | {label} | " + " | ".join(texts) + " |")
    p("")

    # ------------------------------------------------------------ sign-in flood
    flood_servers = [(s, n) for s, n in SERVERS if any(k[0] == s for k in flood.keys())]
    if flood_servers:
        p(
            f"#### Sign-in flood ({first}): `/sign-in/email` at 32 connections; meanwhile `/jwks` "
            "and `/token` (bearer) at 4 steady connections each (a pause of PROBE_DELAY_MS after each answer)"
        )
        p("")
        p("| server | sign-in req/s · p99 (ms) | `/jwks` req/s · p99 (ms) | `/token` req/s · p99 (ms) | errors |")
        p("|---|---|---|---|---|")
        for s, n in flood_servers:
            texts, errors = [], 0
            for ep, c in (("sign-in", 32), ("jwks", 4), ("token-bearer", 4)):
                texts.append(
                    f"{fmt(flood.get(s, first, ep, c, 'rps'))} · {fmt(flood.get(s, first, ep, c, 'p99_ms'), 2)}"
                )
                errors += flood.errors(s, first, ep, c)
            p(f"| {n} | " + " | ".join(texts) + f" | {errors} |")
        p("")

    # ------------------------------------------------------------ soak
    if soak and soak_load:
        r = soak_load[0]
        marks = [s for s in (1, settle, len(soak) // 2, len(soak)) if 1 <= s <= len(soak)]
        marks = sorted(set(marks))
        p(
            f"#### Soak: sigil (SQLite, {first}) `/token` (bearer), 32 connections, {len(soak)} s — "
            f"{'**pass**' if soak_pass else '**fail**'}"
        )
        p("")
        p(
            f"{fmt(float(r['rps']))} req/s, p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, "
            f"{int(r['requests']):,} requests, non-2xx {r['non2xx']}, socket errors {r['sock_err']}. "
            "RSS: "
            + ", ".join(f"{float(soak[s - 1]['rss_kb']) / 1024:.1f} MiB at {s} s" for s in marks)
            + "."
        )
        p("")

    # ------------------------------------------------------------ ceilings
    p("#### Ceilings measured in this run")
    p("")
    p("| ceiling | time per operation | ceiling (cores / time) | sigil `/token` (bearer, 32 conns) or sign-in | share |")
    p("|---|---|---|---|---|")
    sigil_signin = rps("sigil-sqlite", first, "sign-in")
    p(
        f"| scrypt N=16384 r=16 p=1, 64-byte key | {fmt(ceilings.get(('scrypt_ms_per_hash',)), 2)} ms "
        f"| {fmt(scrypt_ceiling, 1)} hashes/s | {fmt(sigil_signin, 1)} sign-ins/s ({first}) "
        f"| {ratio_text(div(sigil_signin, scrypt_ceiling), '%')} |"
    )
    parallel = ceilings.get(("scrypt_parallel_per_s",))
    if parallel is not None:
        p(
            f"| scrypt, one hash per core at once (measured together) | – | {fmt(parallel, 1)} hashes/s "
            f"| {fmt(sigil_signin, 1)} sign-ins/s ({first}) | {ratio_text(div(sigil_signin, parallel), '%')} |"
        )
    for alg in [a for a in ("EdDSA", "ES256", "RS256") if a in algs]:
        us = ceilings.get(("sign_us", alg))
        ceiling = ceilings.get(("sign_ceiling_per_s", alg))
        token = rps("sigil-sqlite", alg, "token-bearer")
        p(
            f"| raw {alg} signing (aws-lc-rs) | {fmt(us, 1)} µs | {fmt(ceiling)} signatures/s "
            f"| {fmt(token)} req/s | {ratio_text(div(token, ceiling), '%')} |"
        )
    p("")

    text = "\n".join(out)
    print(text)
    if write is not None:
        doc = write.read_text()
        block = f"{BEGIN}\n{text}\n{END}"
        if BEGIN in doc and END in doc:
            head, rest = doc.split(BEGIN, 1)
            _, tail = rest.split(END, 1)
            doc = head + block + tail
        else:
            doc = doc.rstrip("\n") + "\n\n" + block + "\n"
        write.write_text(doc)
        print(f"(written into {write} between {BEGIN} and {END})")


if __name__ == "__main__":
    main()
