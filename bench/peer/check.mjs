// Checks one server (Better Auth or sigil) before bench/load-vs-peer.sh loads it, and leaves the
// credentials the load needs: a fresh user signs up and in, then the session (cookie and bearer),
// /token, /jwks and the token's signature, issuer, audience and lifetime are checked with jose.
//
//   BASE_URL=http://127.0.0.1:3000 ALG=EdDSA CREDENTIALS=out/EdDSA node check.mjs
//
// Writes $CREDENTIALS.cookie (a Cookie header value), $CREDENTIALS.bearer (the set-auth-token
// value) and $CREDENTIALS.signin (the JSON body that signs the checked user in again). Prints one line per check and `N passed, M failed`; exits 1 when a check failed.
import fs from "node:fs";
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from "jose";

const base = (process.env.BASE_URL ?? "http://127.0.0.1:3000").replace(/\/$/, "");
const alg = process.env.ALG ?? "EdDSA";
const credentials = process.env.CREDENTIALS;
if (!/^http:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?$/.test(base)) {
  console.error(`BASE_URL=${base}: only loopback addresses are checked`);
  process.exit(2);
}

let passed = 0;
let failed = 0;
function check(name, ok, detail) {
  if (ok) {
    passed += 1;
    console.log(`ok   ${name}`);
  } else {
    failed += 1;
    console.log(`FAIL ${name}${detail === undefined ? "" : `: ${JSON.stringify(detail)}`}`);
  }
  return ok;
}

// Node's fetch sends `sec-fetch-mode: cors`, so a POST needs the Origin a same-origin page sends.
async function call(method, route, { headers = {}, body } = {}) {
  const init = { method, headers: { ...headers }, redirect: "manual" };
  if (method !== "GET") init.headers.origin = base;
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(`${base}/api/auth${route}`, init);
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, json };
}

const cookieOf = (res) =>
  res.headers
    .getSetCookie()
    .map((c) => c.split(";")[0])
    .filter((pair) => !pair.endsWith("="))
    .join("; ");

const email = `bench-${Date.now()}-${process.pid}@example.com`;
const password = "correct horse battery staple";

const up = await call("POST", "/sign-up/email", { body: { name: "Bench", email, password } });
check("sign-up -> 200 with a user", up.status === 200 && up.json?.user?.email === email, up);
const userId = up.json?.user?.id;

const wrong = await call("POST", "/sign-in/email", { body: { email, password: `${password}!` } });
check("sign-in with a wrong password -> 401", wrong.status === 401, wrong.status);

const signIn = await call("POST", "/sign-in/email", { body: { email, password } });
const cookie = cookieOf(signIn);
const bearer = signIn.headers.get("set-auth-token") ?? "";
check("sign-in -> 200", signIn.status === 200, signIn.status);
check("sign-in sets a session cookie", /session_token=/.test(cookie), cookie);
check("sign-in sends set-auth-token", bearer.length > 0);

const byCookie = await call("GET", "/get-session", { headers: { cookie } });
check("get-session (cookie) -> the user", byCookie.json?.user?.id === userId, byCookie.status);
const sessionJwt = byCookie.headers.get("set-auth-jwt");
check("get-session sends set-auth-jwt", !!sessionJwt);
const byBearer = await call("GET", "/get-session", { headers: { authorization: `Bearer ${bearer}` } });
check("get-session (bearer) -> the user", byBearer.json?.user?.id === userId, byBearer.status);

const tokenCookie = await call("GET", "/token", { headers: { cookie } });
check("token (cookie) -> 200 {token}", typeof tokenCookie.json?.token === "string", tokenCookie.status);
const tokenBearer = await call("GET", "/token", { headers: { authorization: `Bearer ${bearer}` } });
check("token (bearer) -> 200 {token}", typeof tokenBearer.json?.token === "string", tokenBearer.status);
const anonymous = await call("GET", "/token");
check("token without a session -> 401", anonymous.status === 401, anonymous.status);

const jwks = await call("GET", "/jwks");
check("jwks -> 200 with keys", jwks.status === 200 && jwks.json?.keys?.length > 0, jwks.status);

for (const [name, token] of [
  ["token (bearer)", tokenBearer.json?.token],
  ["set-auth-jwt", sessionJwt],
]) {
  if (typeof token !== "string" || !jwks.json?.keys) {
    check(`${name} verifies against jwks`, false, "missing token or keys");
    continue;
  }
  check(`${name} header alg is ${alg}`, decodeProtectedHeader(token).alg === alg);
  try {
    const { payload } = await jwtVerify(token, createLocalJWKSet(jwks.json), {
      algorithms: [alg],
      issuer: base,
      audience: base,
    });
    check(`${name} verifies (jose), sub = user id`, payload.sub === userId, payload.sub);
    check(`${name} lives 15 minutes`, payload.exp - payload.iat === 900, payload.exp - payload.iat);
  } catch (e) {
    check(`${name} verifies (jose)`, false, String(e));
  }
}

if (credentials) {
  fs.writeFileSync(`${credentials}.cookie`, `${cookie}\n`);
  fs.writeFileSync(`${credentials}.bearer`, `${bearer}\n`);
  fs.writeFileSync(`${credentials}.signin`, `${JSON.stringify({ email, password })}\n`);
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
