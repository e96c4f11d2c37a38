// One takeover scenario on one database: a team on Better Auth moves to Sigil on the same
// database, then runs both at once (takeover.sh runs this for each engine and alg).
//
//   node scenario.mjs fleet   steps 1-3: Better Auth alone, Sigil takes over, a mixed fleet
//   node scenario.mjs hard    step 4: Better Auth's own rotation (an expired key within its grace)
//                             and versioned secrets, then Sigil on that database
//
// Environment: ENGINE (sqlite | postgres), ALG, SIGIL (the binary), WORK (a private temporary
// folder), SIGIL_TEST_POSTGRES_URL (for postgres: a superuser URL; a fresh database is created).
// Prints `ok   ...` / `FAIL ...` lines and a count last (also written to the file $COUNTS as
// `<passed> <failed>`); exits 1 on a failure.
import { spawn, execFile } from "node:child_process";
import { openSync, readFileSync, readdirSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from "jose";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const env = process.env;
const MODE = process.argv[2] ?? "fleet";
const ENGINE = env.ENGINE ?? "sqlite";
const ALG = env.ALG ?? "EdDSA";
const SIGIL = env.SIGIL;
const WORK = env.WORK;
if (!SIGIL || !WORK) {
  console.error("SIGIL and WORK must be set");
  process.exit(2);
}
const LABEL = `${ENGINE} ${ALG} ${MODE}`;
const PASSWORD = "correct horse battery staple";
const OLD_SECRET = `takeover-old-secret-${randomText(24)}`;
const NEW_SECRET = `takeover-new-secret-${randomText(24)}`;

let passed = 0;
let failed = 0;
function ok(what) {
  passed++;
  console.log(`ok   ${LABEL}: ${what}`);
}
function fail(what, detail) {
  failed++;
  console.log(`FAIL ${LABEL}: ${what}${detail === undefined ? "" : ` (${detail})`}`);
}
function check(what, cond, detail) {
  if (cond) ok(what);
  else fail(what, typeof detail === "function" ? detail() : detail);
  return Boolean(cond);
}
function randomText(n) {
  const abc = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  return Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => abc[b % abc.length]).join("");
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- processes -------------------------------------------------------------------------------

const children = new Set();
function killAll() {
  for (const child of children) {
    try {
      child.kill("SIGKILL");
    } catch {}
  }
}
process.on("exit", killAll);
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(sig, () => {
    killAll();
    process.exit(130);
  });
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

let logCount = 0;
class Server {
  constructor(name, command, args, extraEnv, port) {
    this.name = name;
    this.port = port;
    this.url = `http://127.0.0.1:${port}`;
    this.log = path.join(WORK, `${String(++logCount).padStart(2, "0")}-${name}.log`);
    const out = openSync(this.log, "a");
    this.child = spawn(command, args, {
      cwd: WORK,
      env: { ...cleanEnv(), ...extraEnv },
      stdio: ["ignore", out, out],
    });
    children.add(this.child);
    this.exited = new Promise((resolve) => {
      this.child.once("exit", (code, signal) => {
        children.delete(this.child);
        resolve({ code, signal });
      });
    });
  }
  async ready() {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null) break;
      try {
        const r = await fetch(`${this.url}/api/auth/ok`);
        if (r.ok) return;
      } catch {}
      await sleep(100);
    }
    throw new Error(`${this.name} did not start; its log:\n${tail(this.log)}`);
  }
  async stop() {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 5000);
    await this.exited;
    clearTimeout(timer);
  }
}

function tail(file, lines = 40) {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

// The environment without any setting of ours leaking in from the caller.
function cleanEnv() {
  const e = { ...env };
  for (const k of Object.keys(e)) {
    if (/^(SIGIL_|BETTER_AUTH_|AUTH_SECRET$|BASE_URL$|DATABASE$|ROTATION_INTERVAL$|GRACE_PERIOD$)/.test(k)) delete e[k];
  }
  e.RUST_LOG = env.TAKEOVER_RUST_LOG ?? "warn";
  return e;
}

// ---- the database ----------------------------------------------------------------------------

async function makeDatabase(name) {
  if (ENGINE === "sqlite") {
    const file = path.join(WORK, `${name}.db`);
    return { ba: file, sigil: `sqlite://${file}` };
  }
  const admin = env.SIGIL_TEST_POSTGRES_URL;
  if (!admin) throw new Error("SIGIL_TEST_POSTGRES_URL is not set");
  const { default: pg } = await import("pg");
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  const db = `takeover_${name}_${randomText(6).toLowerCase()}`;
  await client.query(`create database "${db}"`);
  await client.end();
  const u = new URL(admin);
  u.pathname = `/${db}`;
  return { ba: u.toString(), sigil: u.toString() };
}

// ---- Better Auth and Sigil -------------------------------------------------------------------

function baEnv(ctx, extra = {}) {
  return {
    DATABASE: ctx.db.ba,
    BASE_URL: ctx.base,
    PORT: String(ctx.baPort),
    ALG,
    BETTER_AUTH_SECRET: OLD_SECRET,
    NODE_ENV: "production",
    ...extra,
  };
}

async function betterAuthMigrate(ctx, plan = false) {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [path.join(HERE, "better-auth.mjs"), "migrate", ...(plan ? ["--plan"] : [])],
    { cwd: WORK, env: { ...cleanEnv(), ...baEnv(ctx) } },
  );
  return stdout;
}

async function startBetterAuth(ctx, extra = {}) {
  const s = new Server("better-auth", process.execPath, [path.join(HERE, "better-auth.mjs")], baEnv(ctx, extra), ctx.baPort);
  await s.ready();
  return s;
}

function sigilEnv(ctx, extra = {}) {
  return {
    SIGIL_DATABASE_URL: ctx.db.sigil,
    SIGIL_DATA_DIR: path.join(WORK, "sigil-data"),
    SIGIL_BASE_URL: ctx.base,
    SIGIL_JWT_ALG: ALG,
    SIGIL_SESSION_CACHE_TTL: "1s",
    BETTER_AUTH_SECRET: OLD_SECRET,
    ...extra,
  };
}

async function startSigil(ctx, extra = {}) {
  const s = new Server(
    "sigil",
    SIGIL,
    ["serve", "--listen", `127.0.0.1:${ctx.sigilPort}`, "--rate-limit", "false"],
    sigilEnv(ctx, extra),
    ctx.sigilPort,
  );
  await s.ready();
  return s;
}

// `sigil keys …` with the server's environment.
async function sigilKeys(ctx, args, extra = {}) {
  const { stdout } = await promisify(execFile)(SIGIL, ["keys", ...args], {
    cwd: WORK,
    env: { ...cleanEnv(), ...sigilEnv(ctx, extra) },
  });
  return stdout;
}

// `sigil migrate --from-better-auth --check` with the server's environment: exit code and output.
async function sigilCheck(ctx, extra = {}) {
  try {
    const { stdout, stderr } = await promisify(execFile)(SIGIL, ["migrate", "--from-better-auth", "--check"], {
      cwd: WORK,
      env: { ...cleanEnv(), ...sigilEnv(ctx, extra) },
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    return { code: e.code, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

// Every file of a folder (names, sizes, contents, times) as one string, to show nothing changed.
function snapshotDir(dir) {
  return readdirSync(dir)
    .sort()
    .map((name) => {
      const file = path.join(dir, name);
      const st = statSync(file);
      if (!st.isFile()) return `${name}/`;
      return `${name} ${st.size} ${st.mtimeMs} ${readFileSync(file).toString("base64")}`;
    })
    .join("\n");
}

async function keysList(ctx, extra = {}) {
  const out = await sigilKeys(ctx, ["list"], extra);
  return out
    .trim()
    .split("\n")
    .slice(1)
    .filter(Boolean)
    .map((line) => {
      const [kid, alg, state, created, expires] = line.trim().split(/\s+/);
      return { kid, alg, state, created, expires };
    });
}

// `sigil keys list` names exactly `expected` ({kid: state or [states]}), each once, each of the
// alg in `algOf` ({kid: alg}) or else ALG.
async function checkKeysList(ctx, expected, extra = {}, algOf = {}) {
  const rows = await keysList(ctx, extra);
  const kids = rows.map((r) => r.kid);
  const show = () => rows.map((r) => `${r.kid} ${r.alg} ${r.state}`).join("; ");
  check("sigil keys list: no kid twice", new Set(kids).size === kids.length, show);
  const want = Object.keys(expected);
  check(
    `sigil keys list: exactly the ${want.length} expected keys`,
    kids.length === want.length && want.every((k) => kids.includes(k)),
    () => `listed ${show()}; expected ${want.join(", ")}`,
  );
  for (const [kid, states] of Object.entries(expected)) {
    const row = rows.find((r) => r.kid === kid);
    const allowed = [states].flat();
    if (row) check(`sigil keys list: ${short(kid)} is ${allowed.join(" or ")} (${row.alg})`, allowed.includes(row.state) && row.alg === (algOf[kid] ?? ALG), show);
  }
}

// ---- HTTP --------------------------------------------------------------------------------

const short = (kid) => (kid ? `${kid.slice(0, 8)}…` : String(kid));

async function call(ctx, server, method, route, { body, cookie, bearer } = {}) {
  const headers = { origin: ctx.base };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (cookie) headers.cookie = cookie;
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  const res = await fetch(`${server.url}/api/auth${route}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {}
  const setCookies = res.headers.getSetCookie();
  const sessionCookie = setCookies
    .map((c) => c.split(";")[0])
    .find((c) => /^(__Secure-)?better-auth\.session_token=./.test(c));
  return { status: res.status, json, text, headers: res.headers, cookie: sessionCookie, bearer: res.headers.get("set-auth-token") };
}

const signUp = (ctx, server, email, name = "User") =>
  call(ctx, server, "POST", "/sign-up/email", { body: { name, email, password: PASSWORD } });
const signIn = (ctx, server, email) => call(ctx, server, "POST", "/sign-in/email", { body: { email, password: PASSWORD } });
const getSession = (ctx, server, auth) => call(ctx, server, "GET", "/get-session", auth);
const signOut = (ctx, server, auth) => call(ctx, server, "POST", "/sign-out", { ...auth, body: {} });
async function token(ctx, server, auth) {
  const r = await call(ctx, server, "GET", "/token", auth);
  const jwt = r.json?.token;
  return { ...r, jwt, kid: jwt ? decodeProtectedHeader(jwt).kid : undefined };
}
async function jwks(ctx, server) {
  const r = await call(ctx, server, "GET", "/jwks");
  if (r.status !== 200 || !Array.isArray(r.json?.keys)) throw new Error(`${server.name} /jwks: ${r.status} ${r.text}`);
  return r.json;
}
const kidsOf = (set) => set.keys.map((k) => k.kid).sort();

// Verifies as a relying party would: the key set, the alg pinned, iss and aud checked.
async function verifies(ctx, jwt, set) {
  try {
    const { payload, protectedHeader } = await jwtVerify(jwt, createLocalJWKSet(set), {
      issuer: ctx.base,
      audience: ctx.base,
      algorithms: [ALG],
    });
    return { ok: true, payload, protectedHeader };
  } catch (e) {
    return { ok: false, error: `${e.code ?? e.name}: ${e.message}` };
  }
}
async function checkVerifies(ctx, what, jwt, set, sub) {
  const v = await verifies(ctx, jwt, set);
  check(what, v.ok && (sub === undefined || v.payload.sub === sub), () => v.error ?? `sub ${v.payload?.sub}, expected ${sub}`);
}

async function poll(ms, fn) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await fn();
    if (value || Date.now() >= deadline) return value;
    await sleep(100);
  }
}

async function context(name) {
  const baPort = await freePort();
  let sigilPort = await freePort();
  while (sigilPort === baPort) sigilPort = await freePort();
  const db = await makeDatabase(name);
  // One public origin for both servers, as behind one domain: tokens carry it as iss and aud,
  // and both servers trust it as the Origin. The client reaches each server on its own port.
  return { base: `http://127.0.0.1:${baPort}`, baPort, sigilPort, db };
}

// ---- steps 1-3 -------------------------------------------------------------------------------

async function fleet() {
  const ctx = await context(`fleet_${ALG.toLowerCase()}`);
  const A = `a-${randomText(6).toLowerCase()}@example.com`;
  const B = `b-${randomText(6).toLowerCase()}@example.com`;

  // 1. Better Auth alone: its own migration, its own users, sessions and first key.
  await betterAuthMigrate(ctx);
  let ba = await startBetterAuth(ctx);
  const up = await signUp(ctx, ba, A, "Alice");
  check("1 Better Auth: sign-up of A", up.status === 200 && up.json?.user?.id, () => `${up.status} ${up.text}`);
  const userA = up.json?.user?.id;
  const baSession = await signIn(ctx, ba, A);
  check("1 Better Auth: sign-in of A gives a cookie and a set-auth-token bearer", baSession.status === 200 && baSession.cookie && baSession.bearer, () => `${baSession.status} ${baSession.text}`);
  const t1 = await token(ctx, ba, { cookie: baSession.cookie });
  check("1 Better Auth: /token", t1.status === 200 && t1.kid, () => `${t1.status} ${t1.text}`);
  const K1 = t1.kid;
  const baJwks1 = await jwks(ctx, ba);
  check(`1 Better Auth: /jwks holds K1 (${short(K1)}) only`, kidsOf(baJwks1).join() === K1, () => kidsOf(baJwks1).join());
  await checkVerifies(ctx, "1 Better Auth's token verifies against its /jwks", t1.jwt, baJwks1, userA);
  await ba.stop();

  // 1b. `sigil migrate --from-better-auth --check` on the database Better Auth left: ready, K1
  // opens with this secret; with another secret it blocks, naming K1. It writes nothing.
  const before = ENGINE === "sqlite" ? snapshotDir(path.dirname(ctx.db.ba)) : null;
  const report = await sigilCheck(ctx);
  check("1b sigil migrate --from-better-auth --check: exit 0, ready", report.code === 0 && /ready: Sigil can serve this database/.test(report.stdout), () => `${report.code} ${report.stdout}${report.stderr}`);
  check("1b the check names K1, its alg, and that this secret opens it", report.stdout.includes(K1) && report.stdout.includes(ALG) && /opens with this secret/.test(report.stdout), () => report.stdout);
  check("1b the check counts the user and the credential account", /user: 1\b/.test(report.stdout) && /credential: 1\b/.test(report.stdout), () => report.stdout);
  const wrong = await sigilCheck(ctx, { BETTER_AUTH_SECRET: "another-secret-Z3kP9wQ2mV7xL1nR8tY4bC6dF0hJ5sG" });
  check("1b with another secret the check blocks (exit 1), naming K1", wrong.code === 1 && wrong.stdout.includes("blocked") && wrong.stdout.includes(K1), () => `${wrong.code} ${wrong.stdout}${wrong.stderr}`);
  const otherAlg = ALG === "EdDSA" ? "RS256" : "EdDSA";
  const mismatch = await sigilCheck(ctx, { SIGIL_JWT_ALG: otherAlg });
  check(`1b with SIGIL_JWT_ALG=${otherAlg} (Better Auth signs ${ALG}) the check blocks, naming the setting`, mismatch.code === 1 && mismatch.stdout.includes(`SIGIL_JWT_ALG=${ALG}`), () => `${mismatch.code} ${mismatch.stdout}`);
  const algsFirst = await sigilCheck(ctx, { SIGIL_JWT_ALGS: `${ALG},${otherAlg}` });
  check(`1b with SIGIL_JWT_ALGS=${ALG},${otherAlg} (Better Auth's first) the check says ready`, algsFirst.code === 0, () => `${algsFirst.code} ${algsFirst.stdout}`);
  const algsSecond = await sigilCheck(ctx, { SIGIL_JWT_ALG: otherAlg, SIGIL_JWT_ALGS: `${otherAlg},${ALG}` });
  check(`1b with SIGIL_JWT_ALGS=${otherAlg},${ALG} the check blocks, saying to put ${ALG} first`, algsSecond.code === 1 && algsSecond.stdout.includes(`SIGIL_JWT_ALGS (${ALG},${otherAlg})`), () => `${algsSecond.code} ${algsSecond.stdout}`);
  if (before !== null) {
    check("1b the check wrote nothing (the SQLite folder is byte for byte the same)", snapshotDir(path.dirname(ctx.db.ba)) === before);
  }

  // 2. Sigil takes over the same database (its migration runs at start), same secret, same alg.
  let sigil = await startSigil(ctx);
  ok("2 Sigil starts on Better Auth's database (migration at start, every key opens)");
  const sIn = await signIn(ctx, sigil, A);
  check("2 Sigil: A signs in with the password Better Auth hashed", sIn.status === 200 && sIn.json?.user?.id === userA && sIn.cookie, () => `${sIn.status} ${sIn.text}`);
  for (const [how, auth] of [["cookie", { cookie: baSession.cookie }], ["bearer", { bearer: baSession.bearer }]]) {
    const s = await getSession(ctx, sigil, auth);
    check(`2 Sigil: Better Auth's ${how} gives get-session (same user)`, s.status === 200 && s.json?.user?.id === userA, () => `${s.status} ${s.text}`);
    const t = await token(ctx, sigil, auth);
    check(`2 Sigil: Better Auth's ${how} gives /token, signed with K1`, t.status === 200 && t.kid === K1, () => `${t.status} kid ${t.kid} ${t.text.slice(0, 200)}`);
  }
  const t2 = await token(ctx, sigil, { cookie: sIn.cookie });
  check("2 Sigil: its own session's token is signed with Better Auth's K1", t2.kid === K1, () => `kid ${t2.kid}`);
  const sigilJwks2 = await jwks(ctx, sigil);
  check("2 Sigil: /jwks unchanged (no key minted)", JSON.stringify(kidsOf(sigilJwks2)) === JSON.stringify(kidsOf(baJwks1)) && sameKeys(sigilJwks2, baJwks1), () => `${kidsOf(sigilJwks2)} vs ${kidsOf(baJwks1)}`);
  await checkVerifies(ctx, "2 the step-1 JWT verifies against Sigil's /jwks", t1.jwt, sigilJwks2, userA);
  await checkVerifies(ctx, "2 Sigil's JWT verifies against Better Auth's step-1 /jwks", t2.jwt, baJwks1, userA);
  const bUp = await signUp(ctx, sigil, B, "Bob");
  check("2 Sigil: a new user B signs up", bUp.status === 200 && bUp.json?.user?.id, () => `${bUp.status} ${bUp.text}`);
  const userB = bUp.json?.user?.id;

  // 3. A mixed fleet: Better Auth again on the same database, beside Sigil.
  const plan = JSON.parse(await betterAuthMigrate(ctx, true));
  check("3 Better Auth's migration planner finds nothing to do after Sigil's migration", plan.toBeCreated.length === 0 && plan.toBeAdded.length === 0, () => JSON.stringify(plan));
  ba = await startBetterAuth(ctx);
  const bOnBa = await signIn(ctx, ba, B);
  check("3 Better Auth: B (signed up on Sigil) signs in", bOnBa.status === 200 && bOnBa.json?.user?.id === userB, () => `${bOnBa.status} ${bOnBa.text}`);
  await crossVerify(ctx, ba, sigil, "3", { ba: bOnBa, sigil: sIn }, K1);

  // Sign-in on Better Auth, used and ended on Sigil: Better Auth refuses it at once.
  const s1 = await signIn(ctx, ba, A);
  const g1 = await getSession(ctx, sigil, { cookie: s1.cookie });
  check("3 Better Auth's new session: get-session on Sigil", g1.status === 200 && g1.json?.user?.id === userA, () => `${g1.status} ${g1.text}`);
  const tk1 = await token(ctx, sigil, { bearer: s1.bearer });
  check("3 Better Auth's new session: /token on Sigil (bearer)", tk1.status === 200 && tk1.kid === K1, () => `${tk1.status} ${tk1.text}`);
  const o1 = await signOut(ctx, sigil, { cookie: s1.cookie });
  check("3 sign-out on Sigil", o1.status === 200 && o1.json?.success === true, () => `${o1.status} ${o1.text}`);
  const r1 = await getSession(ctx, ba, { cookie: s1.cookie });
  check("3 Better Auth refuses the session Sigil ended (get-session null)", r1.status === 200 && r1.json === null, () => `${r1.status} ${r1.text}`);
  const r1t = await token(ctx, ba, { bearer: s1.bearer });
  check("3 Better Auth refuses the session Sigil ended (/token 401)", r1t.status === 401, () => `${r1t.status}`);

  // Sign-in on Sigil, used and ended on Better Auth. Better Auth announces nothing to Sigil, so
  // Sigil sees that write only when its session cache entry lapses: the cache TTL (1 s here) is
  // the bound. Sigil reads the session first, so that it is cached when Better Auth deletes it.
  const s2 = await signIn(ctx, sigil, A);
  const c2 = await getSession(ctx, sigil, { cookie: s2.cookie });
  check("3 Sigil's new session: get-session on Sigil (now cached)", c2.status === 200 && c2.json?.user?.id === userA, () => `${c2.status}`);
  const g2 = await getSession(ctx, ba, { cookie: s2.cookie });
  check("3 Sigil's new session: get-session on Better Auth", g2.status === 200 && g2.json?.user?.id === userA, () => `${g2.status} ${g2.text}`);
  const tk2 = await token(ctx, ba, { bearer: s2.bearer });
  check("3 Sigil's new session: /token on Better Auth (bearer)", tk2.status === 200 && tk2.kid === K1, () => `${tk2.status} ${tk2.text}`);
  const o2 = await signOut(ctx, ba, { cookie: s2.cookie });
  check("3 sign-out on Better Auth", o2.status === 200 && o2.json?.success === true, () => `${o2.status} ${o2.text}`);
  const started = Date.now();
  const refused = await poll(3000, async () => {
    const r = await getSession(ctx, sigil, { cookie: s2.cookie });
    return r.status === 200 && r.json === null;
  });
  check(`3 Sigil refuses the session Better Auth ended within 3 s (after ${Date.now() - started} ms; cache TTL 1 s)`, refused);
  const r2t = await token(ctx, sigil, { cookie: s2.cookie });
  check("3 Sigil refuses the session Better Auth ended (/token 401)", r2t.status === 401, () => `${r2t.status}`);

  // A key minted by Sigil signs on Better Auth. (The other way round, Better Auth's K1 signing on
  // Sigil, is step 2.)
  const rotated = await sigilKeys(ctx, ["rotate", "--now"]);
  const K2 = rotated.trim().split(/\s+/)[0];
  check(`3 sigil keys rotate --now: new key K2 ${short(K2)}`, K2 && K2 !== K1, rotated);
  // Inside the settle time both still sign with K1: Sigil writes K2 just older than K1 and sets
  // K1's expiry to K2's start, and Better Auth signs with the newest unexpired row by createdAt.
  // (Sigil once wrote a waiting key with its start as createdAt: Better Auth signed with it at
  // once, before every Sigil instance published it.)
  const early = await Promise.all([token(ctx, ba, { cookie: bOnBa.cookie }), token(ctx, sigil, { cookie: sIn.cookie })]);
  check("3 within rotate --now's settle time both still sign with K1", early[0].kid === K1 && early[1].kid === K1, () => `Better Auth ${early[0].kid}, Sigil ${early[1].kid}`);
  await sleep(3000); // the settle time is 2 s
  await crossVerify(ctx, ba, sigil, "3 after rotate --now", { ba: bOnBa, sigil: sIn }, K2);

  // Scheduled rotation: the next key is published in both key sets at once.
  const scheduled = await sigilKeys(ctx, ["rotate"]);
  const K3 = scheduled.trim().split(/\s+/)[0];
  check(`3 sigil keys rotate: next key K3 ${short(K3)}`, K3 && K3 !== K2 && K3 !== K1, scheduled);
  const baHasK3 = kidsOf(await jwks(ctx, ba)).includes(K3);
  check("3 Better Auth's /jwks publishes K3 at once", baHasK3);
  const t0 = Date.now();
  const sigilHasK3 = await poll(2500, async () => kidsOf(await jwks(ctx, sigil)).includes(K3));
  check(`3 Sigil's /jwks publishes K3 (after ${Date.now() - t0} ms)`, sigilHasK3);
  const baNext = await token(ctx, ba, { cookie: bOnBa.cookie });
  const sigilNext = await token(ctx, sigil, { cookie: sIn.cookie });
  check("3 Sigil keeps signing with the current key K2 until the next key's start", sigilNext.kid === K2, () => `kid ${sigilNext.kid}`);
  check(
    "3 Better Auth keeps signing with the current key until the start, the same kid as Sigil's /token",
    baNext.kid === K2 && baNext.kid === sigilNext.kid,
    () => `Better Auth signs with ${baNext.kid === K3 ? "K3, the next key" : baNext.kid}, Sigil with ${sigilNext.kid === K2 ? "K2" : sigilNext.kid}`,
  );

  await ba.stop();
  await sigil.stop();
  // K1 was retired by the immediate rotation; K2 signs until K3 starts.
  await checkKeysList(ctx, { [K1]: "retired", [K2]: "current", [K3]: "next" });

  // 3c. Sigil with a second algorithm beside Better Auth's: Sigil keeps a key of each, and Better
  // Auth (which signs with the newest live key of its own configured alg) goes on signing with
  // its algorithm's key, whatever Sigil adds or rotates for the other.
  const algs = { SIGIL_JWT_ALGS: `${ALG},${otherAlg}` };
  sigil = await startSigil(ctx, algs);
  ba = await startBetterAuth(ctx);
  const onBa = await signIn(ctx, ba, B);
  const onSigil = await signIn(ctx, sigil, A);
  const sJ = await jwks(ctx, sigil);
  const extra = sJ.keys.filter((k) => k.alg === otherAlg);
  check(`3c Sigil with SIGIL_JWT_ALGS=${ALG},${otherAlg} publishes one ${otherAlg} key from the start`, extra.length === 1, () => JSON.stringify(sJ.keys.map((k) => k.alg)));
  const KX = extra[0]?.kid;
  const baJ = await jwks(ctx, ba);
  check("3c Better Auth's /jwks lists the same kids", kidsOf(baJ).join() === kidsOf(sJ).join(), () => `${kidsOf(baJ)} vs ${kidsOf(sJ)}`);
  const algOfToken = (t) => (t.jwt ? decodeProtectedHeader(t.jwt).alg : undefined);
  const baSigns = async (what) => {
    const t = await token(ctx, ba, { cookie: onBa.cookie });
    check(`3c ${what}: Better Auth signs with its ${ALG} key K2`, t.kid === K2 && algOfToken(t) === ALG, () => `${t.status} ${algOfToken(t)} ${t.kid}`);
  };
  await baSigns("beside Sigil's second algorithm");
  const plain = await token(ctx, sigil, { cookie: onSigil.cookie });
  check(`3c Sigil's /token without parameters signs with ${ALG} key K2, as Better Auth does`, plain.kid === K2 && algOfToken(plain) === ALG, () => `${algOfToken(plain)} ${plain.kid}`);
  const askFor = async () => {
    const r = await call(ctx, sigil, "GET", `/token?alg=${otherAlg}`, { cookie: onSigil.cookie });
    const jwt = r.json?.token;
    return { ...r, jwt, kid: jwt ? decodeProtectedHeader(jwt).kid : undefined };
  };
  const asked = await askFor();
  check(`3c Sigil /token?alg=${otherAlg} signs with the ${otherAlg} key`, asked.status === 200 && asked.kid === KX && algOfToken(asked) === otherAlg, () => `${asked.status} ${asked.text.slice(0, 200)}`);
  try {
    await jwtVerify(asked.jwt, createLocalJWKSet(baJ), { issuer: ctx.base, audience: ctx.base, algorithms: [otherAlg] });
    ok(`3c Sigil's ${otherAlg} token verifies against Better Auth's /jwks`);
  } catch (e) {
    fail(`3c Sigil's ${otherAlg} token verifies against Better Auth's /jwks`, `${e.code}: ${e.message}`);
  }
  const rotatedX = await sigilKeys(ctx, ["rotate", "--now", "--alg", otherAlg], algs);
  const KX2 = rotatedX.trim().split(/\s+/)[0];
  check(`3c sigil keys rotate --now --alg ${otherAlg}: one new key`, KX2 && KX2 !== KX && rotatedX.trim().split("\n").length === 1, rotatedX);
  const switched = await poll(6000, async () => (await askFor()).kid === KX2);
  check(`3c after the settle time Sigil signs ${otherAlg} with the new key`, switched);
  await baSigns(`after Sigil rotated its ${otherAlg} key`);
  const plainAfter = await token(ctx, sigil, { cookie: onSigil.cookie });
  check(`3c Sigil's default ${ALG} key is untouched by that rotation`, plainAfter.kid === K2, () => `${plainAfter.kid}`);
  await ba.stop();
  await sigil.stop();
  await checkKeysList(ctx, { [K1]: "retired", [K2]: "current", [K3]: "next", [KX]: "retired", [KX2]: "current" }, algs, { [KX]: otherAlg, [KX2]: otherAlg });
}

// The same key material under the same kids.
function sameKeys(a, b) {
  const norm = (set) => JSON.stringify(set.keys.map(({ kid, kty, crv, x, n, e, y }) => ({ kid, kty, crv, x, n, e, y })).sort((p, q) => p.kid.localeCompare(q.kid)));
  return norm(a) === norm(b);
}

// Tokens from either server verify against either key set; both sign with `kid`.
async function crossVerify(ctx, ba, sigil, step, sessions, kid) {
  const baJ = await jwks(ctx, ba);
  const sJ = await jwks(ctx, sigil);
  const fromBa = await token(ctx, ba, { cookie: sessions.ba.cookie });
  const fromSigil = await token(ctx, sigil, { cookie: sessions.sigil.cookie });
  check(`${step}: Better Auth's /token signs with ${short(kid)}`, fromBa.status === 200 && fromBa.kid === kid, () => `${fromBa.status} kid ${fromBa.kid}`);
  check(`${step}: Sigil's /token signs with ${short(kid)}`, fromSigil.status === 200 && fromSigil.kid === kid, () => `${fromSigil.status} kid ${fromSigil.kid}`);
  check(`${step}: both /jwks list the same kids`, kidsOf(baJ).join() === kidsOf(sJ).join(), () => `${kidsOf(baJ)} vs ${kidsOf(sJ)}`);
  for (const [who, t] of [["Better Auth's", fromBa], ["Sigil's", fromSigil]]) {
    for (const [whose, set] of [["Better Auth's", baJ], ["Sigil's", sJ]]) {
      if (t.jwt) await checkVerifies(ctx, `${step}: ${who} token verifies against ${whose} /jwks`, t.jwt, set);
    }
  }
}

// ---- step 4 ----------------------------------------------------------------------------------

async function hard() {
  const ctx = await context(`hard_${ALG.toLowerCase()}`);
  const A = `h-${randomText(6).toLowerCase()}@example.com`;
  // seconds: Better Auth's rotationInterval. Sigil must be looked at while R2 is live (R2 is
  // made when R1 expires and lives ROTATION s): long enough for a slow CI machine.
  const ROTATION = 5;
  const GRACE = 3600; // seconds: Better Auth's gracePeriod, and Sigil's
  const sigilGrace = { SIGIL_JWKS_GRACE_PERIOD: `${GRACE}s` };

  // 4a. Better Auth's own rotation: a key that expires, a second one made after it.
  await betterAuthMigrate(ctx);
  let sigil;
  let ba = await startBetterAuth(ctx, { ROTATION_INTERVAL: String(ROTATION), GRACE_PERIOD: String(GRACE) });
  const up = await signUp(ctx, ba, A, "Hana");
  const userA = up.json?.user?.id;
  check(`4 Better Auth (rotationInterval ${ROTATION} s, gracePeriod 1 h): sign-up`, up.status === 200 && userA, () => `${up.status} ${up.text}`);
  const t1 = await token(ctx, ba, { cookie: up.cookie });
  const R1 = t1.kid;
  check(`4 Better Auth: first key R1 ${short(R1)}`, t1.status === 200 && R1, () => `${t1.status} ${t1.text}`);
  // Sigil runs beside it from here on (it reads the key table, touches no key until asked).
  const r1MadeAt = Date.now();
  sigil = await startSigil(ctx, sigilGrace);
  // Signed in on Sigil now, so that only /token is left to do while R2 is live.
  const sIn = await signIn(ctx, sigil, A);
  // Better Auth's clock: wait until R1 has expired, then its next signing makes R2.
  await sleep(Math.max(0, ROTATION * 1000 + 300 - (Date.now() - r1MadeAt)));
  const t2 = await token(ctx, ba, { cookie: up.cookie });
  const r2MadeAt = Date.now();
  const R2 = t2.kid;
  check(`4 Better Auth: R1 expired, it made R2 ${short(R2)}`, t2.status === 200 && R2 && R2 !== R1, () => `${t2.status} kid ${t2.kid}`);
  const baJ = await jwks(ctx, ba);
  check("4 Better Auth's /jwks lists R1 (in its grace) and R2", kidsOf(baJ).join() === [R1, R2].sort().join(), () => kidsOf(baJ).join());
  // Sigil must look before R2 expires too (ROTATION s after it was made); its key watch runs
  // every second.
  let sJ;
  await poll(1500, async () => kidsOf((sJ = await jwks(ctx, sigil))).includes(R2));
  check(`4 Sigil's /jwks lists R1 (expired, within its grace) and R2 (after ${Date.now() - r2MadeAt} ms)`, kidsOf(sJ).join() === [R1, R2].sort().join(), () => kidsOf(sJ).join());
  const t3 = await token(ctx, sigil, { cookie: sIn.cookie });
  check("4 Sigil signs with the newest key R2", t3.status === 200 && t3.kid === R2, () => `${t3.status} kid ${t3.kid}`);
  await checkVerifies(ctx, "4 a token Better Auth signed with R1 (now expired, in grace) verifies against Sigil's /jwks", t1.jwt, sJ, userA);
  await checkVerifies(ctx, "4 Sigil's R2 token verifies against Better Auth's /jwks", t3.jwt, baJ, userA);
  await Promise.all([ba.stop(), sigil.stop()]);
  await checkKeysList(ctx, { [R1]: ["retired", "expired"], [R2]: ["current", "retired", "expired"] }, sigilGrace);

  // 4b. Versioned secrets: Better Auth moves to BETTER_AUTH_SECRETS="2:new,1:old" (the old plain
  // secret stays as BETTER_AUTH_SECRET, its legacy secret) after R1 and R2 were sealed under the
  // plain old secret. Once R2 has expired, its next signing makes R3, sealed under version 2.
  const versioned = { BETTER_AUTH_SECRETS: `2:${NEW_SECRET},1:${OLD_SECRET}`, BETTER_AUTH_SECRET: OLD_SECRET };
  const r2ExpiresIn = ROTATION * 1000 + 300 - (Date.now() - r2MadeAt);
  if (r2ExpiresIn > 0) await sleep(r2ExpiresIn);
  ba = await startBetterAuth(ctx, { ...versioned, GRACE_PERIOD: String(GRACE) });
  const vIn = await signIn(ctx, ba, A);
  check("4 Better Auth with versioned secrets: sign-in", vIn.status === 200 && vIn.cookie, () => `${vIn.status} ${vIn.text}`);
  const t4 = await token(ctx, ba, { cookie: vIn.cookie });
  const R3 = t4.kid;
  check(`4 Better Auth with versioned secrets made R3 ${short(R3)}`, t4.status === 200 && R3 && ![R1, R2].includes(R3), () => `${t4.status} kid ${t4.kid} ${t4.text}`);
  await ba.stop();
  const sealed = await envelopes(ctx);
  check("4 R1 and R2 are sealed under the plain secret, R3 under version 2", !sealed[R1]?.startsWith("$ba$") && !sealed[R2]?.startsWith("$ba$") && sealed[R3]?.startsWith("$ba$2$"), () => JSON.stringify(Object.fromEntries(Object.entries(sealed).map(([k, v]) => [short(k), v.slice(0, 8)]))));
  sigil = await startSigil(ctx, { ...sigilGrace, ...versioned });
  ok("4 Sigil with the same secrets starts (it opens every published key)");
  const vJ = await jwks(ctx, sigil);
  check("4 Sigil's /jwks lists R1, R2 (in grace) and R3", kidsOf(vJ).join() === [R1, R2, R3].sort().join(), () => kidsOf(vJ).join());
  const vS = await signIn(ctx, sigil, A);
  const t5 = await token(ctx, sigil, { cookie: vS.cookie });
  check("4 Sigil with versioned secrets signs with the newest key R3", t5.status === 200 && t5.kid === R3, () => `${t5.status} kid ${t5.kid}`);
  await checkVerifies(ctx, "4 Sigil's R3 token verifies against its /jwks", t5.jwt, vJ, userA);
  await checkVerifies(ctx, "4 Better Auth's R3 token verifies against Sigil's /jwks", t4.jwt, vJ, userA);
  await checkVerifies(ctx, "4 Better Auth's R1 token (plain secret, expired key in grace) verifies against Sigil's /jwks", t1.jwt, vJ, userA);
  await sigil.stop();
  await checkKeysList(ctx, { [R1]: ["retired", "expired"], [R2]: ["retired", "expired"], [R3]: "current" }, { ...sigilGrace, ...versioned });
}

// kid -> the stored private key's envelope (the JSON string in the column, unquoted).
async function envelopes(ctx) {
  let rows;
  if (ENGINE === "sqlite") {
    const { default: Database } = await import("better-sqlite3");
    const db = new Database(ctx.db.ba, { readonly: true });
    rows = db.prepare('select "id", "privateKey" from "jwks"').all();
    db.close();
  } else {
    const { default: pg } = await import("pg");
    const client = new pg.Client({ connectionString: ctx.db.ba });
    await client.connect();
    rows = (await client.query('select "id", "privateKey" from "jwks"')).rows;
    await client.end();
  }
  return Object.fromEntries(rows.map((r) => [r.id, JSON.parse(r.privateKey)]));
}

// ---- main --------------------------------------------------------------------------------

mkdirSync(path.join(WORK, "sigil-data"), { recursive: true, mode: 0o700 });
try {
  if (MODE === "fleet") await fleet();
  else if (MODE === "hard") await hard();
  else throw new Error(`unknown mode ${MODE}`);
} catch (e) {
  fail("the scenario stopped", e?.stack ?? String(e));
}
killAll();
if (failed) {
  for (const file of readdirSync(WORK).filter((f) => f.endsWith(".log")).sort()) {
    console.log(`--- ${LABEL}: ${file} (last lines)`);
    console.log(tail(path.join(WORK, file), 20));
  }
}
console.log(`-- ${LABEL}: ${passed} passed, ${failed} failed`);
if (env.COUNTS) writeFileSync(env.COUNTS, `${passed} ${failed}\n`);
process.exit(failed ? 1 : 0);
