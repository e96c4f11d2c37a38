// The console page in a real browser (Debian's chromium driven by playwright-core), against a
// `sigil serve` that console.sh started: sign up → get token → the decoded claims show the email
// and the page says the signature verified, naming the key → the timeline shows that key as
// current → a tampered token pasted into the page is "signature invalid" → sign out clears it all
// → sign in again with the keyboard alone. Throughout: no console error, no page error, no CSP
// violation. Screenshots at desktop and phone width go to $SHOTS.
//
//   BASE_URL=http://127.0.0.1:3000 ALG=EdDSA SIGIL_BIN=… DATA=<the server's data dir> SHOTS=/tmp/shots node console.mjs
// (console.sh sets all of them; SIGIL_BIN and DATA run `sigil keys rotate` on that server.)
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";

const BASE = process.env.BASE_URL;
const ALG = process.env.ALG ?? "EdDSA";
const SHOTS = process.env.SHOTS;
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const EMAIL = `console-${ALG.toLowerCase()}-${Date.now()}@example.com`;
const PASSWORD = "correct horse battery staple";

let passed = 0;
let failed = 0;
function check(what, cond, detail) {
  if (cond) {
    passed += 1;
    console.log(`ok   ${ALG} console: ${what}`);
  } else {
    failed += 1;
    console.log(`FAIL ${ALG} console: ${what}${detail ? ` — ${typeof detail === "function" ? detail() : detail}` : ""}`);
  }
}

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking"],
});
const problems = [];
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  // Before any page script: CSP violations reported by the browser are collected here.
  await context.addInitScript(() => {
    window.__violations = [];
    document.addEventListener("securitypolicyviolation", (e) => {
      window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  const page = await context.newPage();
  // The page's clock, so that the token's expiry can be reached without waiting (time flows
  // as usual until the test moves it).
  await page.clock.install();
  page.on("console", (msg) => {
    if (msg.type() === "error" || msg.type() === "warning") problems.push(`console ${msg.type()}: ${msg.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));

  const response = await page.goto(`${BASE}/`, { waitUntil: "networkidle" });
  check("the page loads", response?.status() === 200, () => `${response?.status()}`);
  const csp = response?.headers()["content-security-policy"] ?? "";
  check("it is served with a strict Content-Security-Policy", csp.includes("script-src 'self'") && !csp.includes("unsafe"), csp);
  await page.locator("#credentials").waitFor({ state: "visible" });
  const unlabelled = await page.evaluate(() =>
    [...document.querySelectorAll("input, textarea")].filter((e) => e.labels.length === 0).map((e) => e.id),
  );
  check("every field has a label", unlabelled.length === 0, () => unlabelled.join(", "));

  // Sign up.
  await page.getByLabel("Email").fill(EMAIL);
  await page.getByLabel(/^Password/).fill(PASSWORD);
  await page.getByLabel(/^Name/).fill("Console Tester");
  await page.getByRole("button", { name: "Sign up", exact: true }).click();
  await page.locator("#session").waitFor({ state: "visible", timeout: 10000 });
  const details = await page.locator("#session-details").innerText();
  check("signed up: the session shows the user", details.includes(EMAIL), details);

  // Get a token: decoded and verified in the page.
  await page.getByRole("button", { name: "Get token", exact: true }).click();
  const verdict = page.locator("#verdict");
  await page.waitForFunction(() => /verified|invalid|Not verified/i.test(document.getElementById("verdict").textContent), null, { timeout: 10000 });
  const verdictText = await verdict.innerText();
  check("the page says the signature verified", /Signature verified with key/.test(verdictText), verdictText);
  const header = JSON.parse(await page.locator("#token-header").innerText());
  const claims = JSON.parse(await page.locator("#token-claims").innerText());
  check(`the header says ${ALG}`, header.alg === ALG, () => JSON.stringify(header));
  check("the decoded claims show the user's email", claims.email === EMAIL, () => JSON.stringify(claims));
  check("the verdict names the key that verified it", verdictText.includes(header.kid), verdictText);
  const countdown = await page.locator("#countdown").innerText();
  check("a live expiry countdown", /Expires in \d+:\d\d/.test(countdown), countdown);

  // The timeline.
  await page.locator("#keys").waitFor({ state: "visible" });
  const current = page.locator("ol#timeline li.current");
  const currentText = await current.first().innerText();
  check("the timeline shows the current key, the one that verified the token", currentText.includes(header.kid) && /Verified the token above/.test(currentText), currentText);
  const snippets = await page.locator("#snippet-list").innerText();
  check("the snippets name this server's key set, audience and algorithm", snippets.includes(`"${BASE}/api/auth/jwks"`) && snippets.includes(`audience: "${claims.aud}"`) && snippets.includes(`Alg::${ALG}`) && snippets.includes("PyJWKClient"), snippets.slice(0, 300));

  if (SHOTS) {
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SHOTS, `console-${ALG}-desktop.png`), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    const wide = await page.evaluate(() =>
      [...document.querySelectorAll("body *")]
        .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1)
        .slice(0, 5)
        .map((e) => `${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ""}${e.className ? `.${e.className}` : ""}`),
    );
    check("readable at phone width (no sideways scrolling)", overflow <= 0, `${overflow}px too wide: ${wide.join(", ")}`);
    await page.screenshot({ path: path.join(SHOTS, `console-${ALG}-phone.png`), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 900 });
  }

  // A token for an allowed audience (`?audience=billing`) verifies too, once signed in.
  const scoped = await page.evaluate(async (base) => (await (await fetch(`${base}/api/auth/token?audience=billing`)).json()).token, BASE);
  await page.getByLabel("A JWT from this server").fill(scoped);
  await page.getByRole("button", { name: "Verify", exact: true }).click();
  await page.waitForFunction(() => /verified|invalid|Not verified|but/i.test(document.getElementById("check-result").textContent));
  const scopedText = await page.locator("#check-result").innerText();
  check("a token for an allowed audience verifies", /Signature verified/.test(scopedText), scopedText);

  // Paste the token, then a tampered one.
  const token = await page.locator("#token-raw").textContent();
  await page.getByLabel("A JWT from this server").fill(token);
  await page.getByRole("button", { name: "Verify", exact: true }).click();
  await page.waitForFunction(() => /verified|invalid|Not verified/i.test(document.getElementById("check-result").textContent));
  check("the pasted token verifies", /Signature verified/.test(await page.locator("#check-result").innerText()));
  const [h, p, sig] = token.split(".");
  const middle = Math.floor(sig.length / 2);
  const flipped = sig[middle] === "A" ? "B" : "A";
  const tampered = `${h}.${p}.${sig.slice(0, middle)}${flipped}${sig.slice(middle + 1)}`;
  await page.getByLabel("A JWT from this server").fill(tampered);
  await page.getByRole("button", { name: "Verify", exact: true }).click();
  await page.waitForFunction(() => /invalid/i.test(document.getElementById("check-result").textContent), null, { timeout: 5000 }).catch(() => {});
  const tamperedText = await page.locator("#check-result").innerText();
  check("a tampered token pasted into the page shows \"signature invalid\"", /signature invalid/i.test(tamperedText), tamperedText);
  const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, email: "admin@example.com" })).toString("base64url")}.${sig}`;
  await page.getByLabel("A JWT from this server").fill(forged);
  await page.getByRole("button", { name: "Verify", exact: true }).click();
  await page.waitForFunction(() => /invalid/i.test(document.getElementById("check-result").textContent), null, { timeout: 5000 }).catch(() => {});
  check("changed claims under the old signature: \"signature invalid\"", /signature invalid/i.test(await page.locator("#check-result").innerText()));

  // Sign out clears everything.
  await page.getByRole("button", { name: "Sign out", exact: true }).click();
  await page.locator("#credentials").waitFor({ state: "visible" });
  const cleared = await page.evaluate(() => ({
    token: document.getElementById("token").hidden,
    session: document.getElementById("session").hidden,
    keys: document.getElementById("keys").hidden,
    claims: document.getElementById("token-claims").textContent,
    details: document.getElementById("session-details").textContent,
    pasted: document.getElementById("pasted").value,
    checked: document.getElementById("check-result").textContent,
  }));
  check("sign out clears the token, the session, the timeline and the pasted token", cleared.token && cleared.session && cleared.keys && cleared.claims === "" && cleared.details === "" && cleared.pasted === "" && cleared.checked === "", () => JSON.stringify(cleared));
  const after = await page.evaluate(async (base) => (await fetch(`${base}/api/auth/get-session`)).text(), BASE);
  check("and the server has no session for the page any more", after === "null", after);

  // Keyboard alone: the fields, then Enter signs in (the form's first button).
  await page.getByLabel("Email").fill("");
  await page.getByLabel("Email").focus();
  await page.keyboard.type(EMAIL);
  await page.keyboard.press("Tab");
  await page.keyboard.type(PASSWORD);
  await page.keyboard.press("Enter");
  await page.locator("#session").waitFor({ state: "visible", timeout: 10000 });
  await page.waitForFunction(() => document.activeElement?.id === "get-token", null, { timeout: 5000 }).catch(() => {});
  const focused = await page.evaluate(() => document.activeElement?.id ?? "nothing");
  check("signed in with the keyboard alone; focus moves to \"Get token\"", focused === "get-token", focused);
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => /Signature verified/.test(document.getElementById("verdict").textContent), null, { timeout: 10000 }).catch(() => {});
  check("Enter on \"Get token\" gets a verified token", /Signature verified/.test(await verdict.innerText()));

  // A scheduled rotation: the timeline shows the next key first (it signs later), with its start,
  // then the current one.
  execFileSync(process.env.SIGIL_BIN, ["keys", "--data-dir", process.env.DATA, "rotate"], { env: { ...process.env, SIGIL_JWT_ALG: ALG }, stdio: "pipe" });
  await page.getByRole("button", { name: "Get token", exact: true }).click();
  await page.waitForFunction(() => document.querySelectorAll("ol#timeline li").length === 2, null, { timeout: 5000 }).catch(() => {});
  const states = await page.$$eval("ol#timeline li", (items) => items.map((li) => `${li.className}: ${li.querySelector(".dates").textContent}`));
  check("after a rotation the timeline lists the next key first, with when it signs, then the current one and when it stops", states.length === 2 && /^next: signs from /.test(states[0]) && /^current: signs until /.test(states[1]), () => states.join(" | "));

  // Just past the token's expiry (the page's clock moved on): the page says so, and a valid
  // signature on an expired token is not "verified".
  const live = await page.locator("#token-raw").textContent();
  const exp = JSON.parse(await page.locator("#token-claims").innerText()).exp;
  const untilExpiry = exp * 1000 - (await page.evaluate(() => Date.now()));
  await page.clock.fastForward(Math.max(0, untilExpiry) + 1100);
  await page.waitForFunction(() => /expired/i.test(document.getElementById("verdict").textContent), null, { timeout: 5000 }).catch(() => {});
  const expiredText = await verdict.innerText();
  check("once the token expires the page says so", /but it expired \d+ s ago/.test(expiredText) && !/check out/.test(expiredText), expiredText);
  await page.getByLabel("A JWT from this server").fill(live);
  await page.getByRole("button", { name: "Verify", exact: true }).click();
  await page.waitForFunction(() => /expired|verified/i.test(document.getElementById("check-result").textContent), null, { timeout: 5000 }).catch(() => {});
  const expiredCheck = await page.locator("#check-result").innerText();
  check("an expired token pasted in: \"Signature valid …, but it expired\", not verified", /^Signature valid .*but it expired/.test(expiredCheck), expiredCheck);

  const violations = await page.evaluate(() => window.__violations);
  check("no CSP violation", violations.length === 0, () => violations.join("; "));
  check("no console error or warning, no page error, no failed request", problems.length === 0, () => problems.join("; "));
} catch (e) {
  check(`the run did not stop (${e.message.split("\n")[0]})`, false, problems.join("; "));
} finally {
  await browser.close();
}
console.log(`-- ${ALG} console: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
