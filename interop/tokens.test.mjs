// Tokens from a running `sigil serve` (algorithm in ALG) verified by third-party libraries with
// nothing but the JWKS URL: jose (createRemoteJWKSet + jwtVerify with issuer and audience),
// jsonwebtoken + jwks-rsa exactly as Better Auth's docs show, and the Better Auth client's token().
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRemoteJWKSet, jwtVerify, decodeProtectedHeader } from "jose";
import jwt from "jsonwebtoken";
import jwksClient from "jwks-rsa";
import { bearerClient } from "./bearer-client.mjs";
import { jwtClient } from "better-auth/client/plugins";

const BASE_URL = process.env.BASE_URL;
const ALG = process.env.ALG || "EdDSA";
const ORIGIN = new URL(BASE_URL).origin;
const JWKS_URL = `${BASE_URL}/api/auth/jwks`;

async function signedInClient() {
  const { client, sessionToken } = bearerClient(BASE_URL, [jwtClient()]);
  const email = `tokens-${ALG}-${Date.now()}-${Math.random().toString(36).slice(2)}@example.com`;
  const up = await client.signUp.email({ name: "Token User", email, password: "correct horse battery" });
  assert.equal(up.error, null, JSON.stringify(up.error));
  return { client, user: up.data.user, sessionToken };
}

test(`${ALG}: three ways to get a token, each verified by jose`, async () => {
  const { client, user, sessionToken } = await signedInClient();
  const JWKS = createRemoteJWKSet(new URL(JWKS_URL));

  // 1. The client's token()
  const viaClient = await client.token();
  assert.equal(viaClient.error, null, JSON.stringify(viaClient.error));
  // 2. GET /token with the session as a Bearer token
  const res = await fetch(`${BASE_URL}/api/auth/token`, { headers: { authorization: `Bearer ${sessionToken()}` } });
  assert.equal(res.status, 200);
  const viaFetch = (await res.json()).token;
  // 3. set-auth-jwt on get-session
  let viaHeader = null;
  await client.getSession({ fetchOptions: { onSuccess: (ctx) => { viaHeader = ctx.response.headers.get("set-auth-jwt"); } } });
  assert.ok(viaHeader, "set-auth-jwt header");

  for (const token of [viaClient.data.token, viaFetch, viaHeader]) {
    assert.equal(decodeProtectedHeader(token).alg, ALG);
    const { payload } = await jwtVerify(token, JWKS, { issuer: ORIGIN, audience: ORIGIN, algorithms: [ALG] });
    assert.equal(payload.sub, user.id);
    assert.equal(payload.email, user.email);
    assert.equal(payload.exp - payload.iat, 900);
  }
  // The wrong audience is refused.
  await assert.rejects(jwtVerify(viaFetch, JWKS, { issuer: ORIGIN, audience: "https://elsewhere.example" }));
});

test(`${ALG}: jsonwebtoken + jwks-rsa, as Better Auth's docs show`, async () => {
  const { client, user } = await signedInClient();
  const { data } = await client.token();
  const keys = jwksClient({ jwksUri: JWKS_URL });
  const getKey = (header, callback) => {
    keys.getSigningKey(header.kid, (err, key) => callback(err, key?.getPublicKey()));
  };
  const verify = () =>
    new Promise((resolve, reject) =>
      jwt.verify(data.token, getKey, { algorithms: [ALG], issuer: ORIGIN, audience: ORIGIN }, (err, decoded) =>
        err ? reject(err) : resolve(decoded),
      ),
    );
  if (ALG === "EdDSA") {
    // jsonwebtoken 9 has no EdDSA and jwks-rsa cannot turn an OKP key into a PEM: the failure
    // is theirs, not the token's (jose verifies the same token above).
    await assert.rejects(verify(), /ed25519|EdDSA|invalid algorithm|key type/i);
    return;
  }
  const decoded = await verify();
  assert.equal(decoded.sub, user.id);
});
