// The official Better Auth JS client (createAuthClient) against a running `sigil serve`:
// sign-up, sign-in, get-session, a wrong password, sign-out. Bearer mode, as a Node app uses it
// (Node's fetch keeps no cookies): the session token comes from the `set-auth-token` header.
import { test } from "node:test";
import assert from "node:assert/strict";
import { bearerClient } from "./bearer-client.mjs";

const BASE_URL = process.env.BASE_URL;
assert.ok(BASE_URL, "BASE_URL must point at a running sigil serve (run.sh starts one)");

test("Better Auth client: sign-up, sign-in, get-session, sign-out", async () => {
  const { client, sessionToken } = bearerClient(BASE_URL);
  const email = `interop-${Date.now()}@example.com`;
  const password = "correct horse battery";

  const up = await client.signUp.email({ name: "Interop User", email, password });
  assert.equal(up.error, null, JSON.stringify(up.error));
  assert.equal(up.data.user.email, email);
  assert.equal(up.data.user.emailVerified, false);
  assert.match(up.data.token, /^[A-Za-z0-9]{32}$/);
  assert.ok(sessionToken().startsWith(up.data.token + "."), "set-auth-token carries the signed token");

  const wrong = await client.signIn.email({ email, password: "not the password" });
  assert.equal(wrong.error.status, 401);
  assert.equal(wrong.error.code, "INVALID_EMAIL_OR_PASSWORD");

  const in1 = await client.signIn.email({ email, password });
  assert.equal(in1.error, null, JSON.stringify(in1.error));
  assert.equal(in1.data.redirect, false);
  assert.equal(in1.data.user.email, email);

  const session = await client.getSession();
  assert.equal(session.error, null);
  assert.equal(session.data.user.email, email);
  assert.equal(session.data.session.token, in1.data.token);
  assert.equal(session.data.session.userId, session.data.user.id);

  const out = await client.signOut();
  assert.equal(out.error, null, JSON.stringify(out.error));
  assert.equal(out.data.success, true);

  const after = await client.getSession();
  assert.equal(after.data, null);
});
