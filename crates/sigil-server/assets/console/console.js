// Sigil console. Talks to this server's own routes (same origin, session cookie) and verifies
// tokens in the page with WebCrypto against the live key set. No dependencies, no build step.

const base = document.body.dataset.basePath;
const jwksPath = document.body.dataset.jwksPath;
// What a token must say to be this server's (filled in by the server).
const issuer = document.body.dataset.issuer;
const audiences = JSON.parse(document.body.dataset.audience || "[]");
const origin = document.body.dataset.origin;
const $ = (id) => document.getElementById(id);

// How each of Sigil's algorithms is imported and checked with WebCrypto. A JWS ECDSA signature
// is r || s, which is what WebCrypto takes; PS256 uses a salt as long as the hash.
const WEBCRYPTO = {
  EdDSA: { key: { name: "Ed25519" }, check: { name: "Ed25519" } },
  ES256: { key: { name: "ECDSA", namedCurve: "P-256" }, check: { name: "ECDSA", hash: "SHA-256" } },
  ES512: { key: { name: "ECDSA", namedCurve: "P-521" }, check: { name: "ECDSA", hash: "SHA-512" } },
  PS256: { key: { name: "RSA-PSS", hash: "SHA-256" }, check: { name: "RSA-PSS", saltLength: 32 } },
  RS256: { key: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, check: { name: "RSASSA-PKCS1-v1_5" } },
};

let countdownTimer = null;
// Bumped by sign-out: an answer that arrives for an earlier session is dropped.
let generation = 0;
let shownClaims = null;
let shownResult = null;
// The audiences a session may ask a token for, known once signed in (from the key timeline).
let allowedAudiences = null;

function bytesOf(segment) {
  if (!/^[A-Za-z0-9_-]*$/.test(segment)) throw new Error("not base64url");
  const b64 = segment.replace(/-/g, "+").replace(/_/g, "/");
  const padded = b64 + "=".repeat((4 - (b64.length % 4)) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

function jsonOf(segment) {
  return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytesOf(segment)));
}

async function api(method, path, body) {
  const init = { method, headers: {}, credentials: "same-origin", cache: "no-store" };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(base + path, init);
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  return { status: response.status, json };
}

function say(element, text, tone) {
  element.textContent = text;
  element.classList.remove("good", "bad");
  if (tone) element.classList.add(tone);
}

function failure(response) {
  const code = response.json?.code ?? `HTTP ${response.status}`;
  const message = response.json?.message ?? "the server refused the request";
  // The API takes sign-ins only from the server's own (or a trusted) origin.
  const hint = ["INVALID_ORIGIN", "MISSING_OR_NULL_ORIGIN"].includes(code) && location.origin !== origin ? ` Open this page at ${origin}/ instead.` : "";
  return `${message} (${code}).${hint}`;
}

// Runs an event handler, one at a time (a second click while the first runs is ignored, so
// answers cannot cross); a failure (the server gone, an answer that is not JSON) is said in
// `where` instead of leaving a "…" status behind.
function guarded(where, handler) {
  let busy = false;
  return async (event) => {
    if (busy) return;
    busy = true;
    try {
      await handler(event);
    } catch (e) {
      say($(where), `Something failed: ${e.message}`, "bad");
    } finally {
      busy = false;
    }
  };
}

function iso(date) {
  return date ? new Date(date).toLocaleString() : "–";
}

// ---- verification ----------------------------------------------------------------------------

// Verifies a compact JWS against the server's key set: the key named by `kid`, of the header's
// algorithm, and the signature over the first two segments. Says which key verified it.
async function verify(token) {
  const parts = token.trim().split(".");
  if (parts.length !== 3) return { ok: false, reason: "not a JWT (three dot-separated parts)" };
  let header;
  try {
    header = jsonOf(parts[0]);
  } catch {
    return { ok: false, reason: "the header is not base64url JSON" };
  }
  const alg = Object.hasOwn(WEBCRYPTO, String(header.alg)) ? WEBCRYPTO[header.alg] : null;
  if (!alg) return { ok: false, reason: `algorithm ${JSON.stringify(header.alg)} is not one Sigil signs with` };
  const response = await fetch(base + jwksPath, { cache: "no-store" });
  if (!response.ok) return { ok: false, reason: `the key set could not be fetched (HTTP ${response.status})` };
  const set = await response.json();
  const jwk = (set.keys ?? []).find((k) => k.kid === header.kid);
  if (!jwk) return { ok: false, reason: "no key in the key set has this token's kid" };
  if (jwk.alg && jwk.alg !== header.alg) return { ok: false, reason: `the key is for ${jwk.alg}, the token says ${header.alg}` };
  const { alg: _alg, use: _use, kid: _kid, key_ops: _ops, ...material } = jwk;
  let key;
  let signature;
  try {
    key = await crypto.subtle.importKey("jwk", material, alg.key, false, ["verify"]);
    signature = bytesOf(parts[2]);
  } catch (e) {
    return { ok: false, reason: `the key or the signature cannot be read (${e.message})` };
  }
  const signed = new TextEncoder().encode(`${parts[0]}.${parts[1]}`);
  const ok = await crypto.subtle.verify(alg.check, key, signature, signed);
  if (!ok) return { ok: false, reason: "signature invalid", kid: header.kid };
  let claims;
  try {
    claims = jsonOf(parts[1]);
  } catch {
    return { ok: false, reason: "the claims are not base64url JSON" };
  }
  return { ok: true, kid: header.kid, alg: header.alg, problems: claimProblems(claims) };
}

function ago(seconds) {
  return seconds < 120 ? `${seconds} s` : `${Math.round(seconds / 60)} min`;
}

// What a verifier of this server's tokens would also refuse: another issuer or audience, a token
// past its `exp` or before its `nbf`.
function claimProblems(claims) {
  const problems = [];
  const now = Math.floor(Date.now() / 1000);
  if (claims.iss !== issuer) problems.push(`its issuer is ${JSON.stringify(claims.iss)}, not this server's ${JSON.stringify(issuer)}`);
  const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  const accepted = audiences.concat(allowedAudiences ?? []);
  if (!aud.some((a) => accepted.includes(a))) {
    const hint = allowedAudiences === null ? " (sign in to check it against the allowed audiences)" : " nor one of its allowed audiences";
    problems.push(`its audience ${JSON.stringify(claims.aud)} is not this server's default${hint}`);
  }
  if (typeof claims.exp !== "number") problems.push("it has no expiry");
  else if (claims.exp <= now) problems.push(`it expired ${ago(now - claims.exp)} ago`);
  if (typeof claims.nbf === "number" && claims.nbf > now) problems.push("it is not valid yet");
  return problems;
}

function describe(result) {
  if (result.ok && result.problems.length === 0) {
    return { text: `Signature verified with key ${result.kid} (${result.alg}) from ${base}${jwksPath}; issuer, audience and expiry check out.`, good: true };
  }
  if (result.ok) {
    return { text: `Signature valid (key ${result.kid}, ${result.alg}), but ${result.problems.join("; ")}.`, good: false };
  }
  const text = result.reason === "signature invalid" ? "Signature invalid" : `Not verified: ${result.reason}`;
  return { text, good: false };
}

function judge(element, result) {
  const { text, good } = describe(result);
  say(element, text, good ? "good" : "bad");
}

// ---- the token -------------------------------------------------------------------------------

function showCountdown(exp) {
  clearInterval(countdownTimer);
  const tick = () => {
    // Whole seconds, as the claim checks count them: at zero the token is expired for both.
    const left = exp - Math.floor(Date.now() / 1000);
    if (left <= 0) {
      $("countdown").textContent = "Expired.";
      clearInterval(countdownTimer);
      // Judged again with the checks as of now (a token that was not verified stays so).
      if (shownClaims && shownResult) {
        const again = shownResult.ok ? { ...shownResult, problems: claimProblems(shownClaims) } : shownResult;
        judge($("verdict"), again);
      }
      return;
    }
    const minutes = Math.floor(left / 60);
    const seconds = String(left % 60).padStart(2, "0");
    $("countdown").textContent = `Expires in ${minutes}:${seconds} (at ${iso(exp * 1000)}).`;
  };
  tick();
  countdownTimer = setInterval(tick, 1000);
}

async function getToken() {
  const asked = generation;
  const response = await api("GET", "/token");
  if (asked !== generation) return;
  if (response.status !== 200) {
    say($("account-status"), `No token: ${failure(response)}`, "bad");
    return;
  }
  const token = response.json.token;
  const [header, claims] = token.split(".").slice(0, 2).map(jsonOf);
  $("token-header").textContent = JSON.stringify(header, null, 2);
  $("token-claims").textContent = JSON.stringify(claims, null, 2);
  $("token-raw").textContent = token;
  $("token").hidden = false;
  shownClaims = claims;
  shownResult = null;
  say($("verdict"), "Verifying…");
  const result = await verify(token);
  if (asked !== generation) return;
  shownResult = result;
  judge($("verdict"), result);
  if (typeof claims.exp === "number") showCountdown(claims.exp);
  await showKeys(result.ok ? result.kid : null);
}

function clearToken() {
  clearInterval(countdownTimer);
  shownClaims = null;
  shownResult = null;
  for (const id of ["token-header", "token-claims", "token-raw", "countdown"]) $(id).textContent = "";
  say($("verdict"), "");
  $("token").hidden = true;
}

// ---- keys and snippets -----------------------------------------------------------------------

async function showKeys(verifiedKid) {
  const asked = generation;
  const response = await api("GET", "/key-timeline");
  if (asked !== generation) return;
  if (response.status !== 200) {
    $("keys").hidden = true;
    return;
  }
  const timeline = response.json;
  allowedAudiences = timeline.allowedAudiences ?? [];
  const list = $("timeline");
  list.replaceChildren();
  for (const key of timeline.keys) {
    const item = document.createElement("li");
    item.className = key.state;
    const state = document.createElement("span");
    state.className = "state";
    state.textContent = key.state;
    const alg = document.createElement("span");
    alg.textContent = `${key.alg ?? "?"} `;
    const kid = document.createElement("span");
    kid.className = "kid";
    kid.textContent = key.kid;
    const dates = document.createElement("div");
    dates.className = "dates";
    // The rows say when a waiting key starts and when a key stops, not when a key that signs
    // (or signed) began: a successor is stored just older than the key it follows.
    // Past or future is judged by the server's clock (`now`), not by the state: a key this
    // server cannot open may still be signing for the others.
    const now = Date.parse(timeline.now);
    const ahead = (date) => Date.parse(date) > now;
    const parts = [];
    if (key.startsAt) parts.push(`signs from ${iso(key.startsAt)}`);
    if (!key.expiresAt) parts.push("no end set");
    else if (ahead(key.expiresAt)) parts.push(`${key.startsAt ? "until" : "signs until"} ${iso(key.expiresAt)}`);
    else parts.push(`stopped signing ${iso(key.expiresAt)}`);
    if (key.publishedUntil) parts.push(`${ahead(key.publishedUntil) ? "published until" : "left the key set"} ${iso(key.publishedUntil)}`);
    dates.textContent = parts.join(" · ");
    item.append(state, alg, kid, dates);
    if (key.kid === verifiedKid) {
      const mark = document.createElement("div");
      mark.className = "verified-by";
      mark.textContent = "Verified the token above.";
      item.append(mark);
    }
    list.append(item);
  }
  $("keys").hidden = false;
  showSnippets(timeline);
}

function snippet(title, code) {
  const figure = document.createElement("figure");
  const caption = document.createElement("figcaption");
  const name = document.createElement("span");
  name.textContent = title;
  const copy = document.createElement("button");
  copy.type = "button";
  copy.className = "secondary";
  copy.textContent = "Copy";
  copy.setAttribute("aria-label", `Copy the ${title} snippet`);
  copy.setAttribute("aria-describedby", "copy-status");
  const pre = document.createElement("pre");
  pre.tabIndex = 0;
  pre.textContent = code;
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(code);
      copy.textContent = "Copied";
      say($("copy-status"), `The ${title} snippet is copied.`);
    } catch {
      copy.textContent = "Select and copy";
      say($("copy-status"), `The ${title} snippet could not be copied: select it and copy it.`);
    }
  });
  caption.append(name, copy);
  figure.append(caption, pre);
  return figure;
}

function showSnippets(t) {
  const audience = t.audience.length === 1 ? t.audience[0] : t.audience;
  const q = JSON.stringify;
  const rustAlgs = t.algs.map((a) => `Alg::${a}`).join(", ");
  const rust = `// sigil-verify: a path or git dependency on crates/sigil-verify of Sigil's repository
use sigil_verify::{Alg, RemoteJwks, Verifier};

let verifier = Verifier::builder(RemoteJwks::new(${q(t.jwksUri)})?)
    .algs([${rustAlgs}])
    .issuer(${q(t.issuer)})
    .audience(${q(t.audience[0])})
    .build()?;
let claims: serde_json::Value = verifier.verify(token).await?;`;
  const node = `// npm install jose
import { createRemoteJWKSet, jwtVerify } from "jose";

const keys = createRemoteJWKSet(new URL(${q(t.jwksUri)}));
const { payload } = await jwtVerify(token, keys, {
  issuer: ${q(t.issuer)},
  audience: ${q(audience)},
  algorithms: ${q(t.algs)},
});`;
  const python = `# pip install "PyJWT[crypto]"
import jwt

keys = jwt.PyJWKClient(${q(t.jwksUri)})
claims = jwt.decode(
    token,
    keys.get_signing_key_from_jwt(token).key,
    algorithms=${q(t.algs)},
    issuer=${q(t.issuer)},
    audience=${q(t.audience[0])},
)`;
  $("snippet-list").replaceChildren(
    snippet("Rust (sigil-verify)", rust),
    snippet("Node (jose)", node),
    snippet("Python (PyJWT)", python),
  );
  $("snippets").hidden = false;
}

// ---- session ---------------------------------------------------------------------------------

function showSession(body) {
  const details = $("session-details");
  details.replaceChildren();
  const rows = [
    ["Signed in as", `${body.user.name} <${body.user.email}>`],
    ["User id", body.user.id],
    ["Session expires", iso(body.session.expiresAt)],
  ];
  for (const [term, value] of rows) {
    const dt = document.createElement("dt");
    dt.textContent = term;
    const dd = document.createElement("dd");
    dd.textContent = value;
    details.append(dt, dd);
  }
  $("credentials").hidden = true;
  $("session").hidden = false;
}

function showSignedOut() {
  generation += 1;
  clearToken();
  allowedAudiences = null;
  $("pasted").value = "";
  say($("check-result"), "");
  $("session-details").replaceChildren();
  $("session").hidden = true;
  $("keys").hidden = true;
  $("snippets").hidden = true;
  $("timeline").replaceChildren();
  $("credentials").hidden = false;
}

async function refreshSession() {
  const asked = generation;
  const response = await api("GET", "/get-session");
  if (asked !== generation) return false;
  if (response.status === 200 && response.json?.user) {
    showSession(response.json);
    await showKeys(null);
    return true;
  }
  showSignedOut();
  return false;
}

$("credentials").addEventListener("submit", (event) => event.preventDefault());
$("credentials").addEventListener("submit", guarded("account-status", async (event) => {
  const action = event.submitter?.value ?? "sign-in";
  const email = $("email").value.trim();
  const password = $("password").value;
  const body = action === "sign-up" ? { name: $("name").value.trim() || email, email, password } : { email, password };
  say($("account-status"), action === "sign-up" ? "Signing up…" : "Signing in…");
  const response = await api("POST", action === "sign-up" ? "/sign-up/email" : "/sign-in/email", body);
  if (response.status !== 200) {
    say($("account-status"), failure(response), "bad");
    return;
  }
  $("password").value = "";
  say($("account-status"), action === "sign-up" ? "Signed up and signed in." : "Signed in.");
  await refreshSession();
  $("get-token").focus();
}));

$("get-token").addEventListener("click", guarded("account-status", () => getToken()));

$("sign-out").addEventListener("click", guarded("account-status", async () => {
  const response = await api("POST", "/sign-out", {});
  if (response.status !== 200) {
    say($("account-status"), `Sign-out failed: ${failure(response)}`, "bad");
    return;
  }
  showSignedOut();
  say($("account-status"), "Signed out.");
  $("email").focus();
}));

$("check").addEventListener("submit", (event) => event.preventDefault());
$("check").addEventListener("submit", guarded("check-result", async () => {
  const asked = generation;
  say($("check-result"), "Verifying…");
  const result = await verify($("pasted").value);
  if (asked !== generation) return;
  judge($("check-result"), result);
}));

refreshSession().catch((e) => say($("account-status"), `The server did not answer: ${e.message}`, "bad"));
