// A consumer that knows only the issuer: express-oauth2-jwt-bearer (Auth0's Express middleware)
// given `issuerBaseURL` and `audience`, nothing else. It finds the keys through
// {issuer}/.well-known/openid-configuration (then /.well-known/oauth-authorization-server):
// the document must carry `issuer` (asserted, and then required to equal the token's `iss`
// exactly) and `jwks_uri`; when it lists `id_token_signing_alg_values_supported`, a token's
// `alg` must be in that list. Without `strict` it needs neither `typ: at+jwt` nor `iat`.
//
// Usage: BASE_URL=http://127.0.0.1:PORT node discovery.mjs ALG=TOKEN... [--reject NAME=TOKEN]...
// Each ALG=TOKEN must verify (and the backend must see its `sub`), the same token with one
// signature byte changed must not; each --reject NAME=TOKEN must be refused (e.g. a token
// from another issuer or for another audience). AUDIENCE defaults to BASE_URL.
// Prints one line per check and exits 1 if any failed.
import { auth } from 'express-oauth2-jwt-bearer';

const base = process.env.BASE_URL;
if (!base) {
  console.error('BASE_URL is required');
  process.exit(2);
}
const audience = process.env.AUDIENCE || base;
const middleware = auth({ issuerBaseURL: base, audience });

// The middleware needs only this much of an Express request.
function request(token) {
  const headers = { host: 'resource.example', authorization: `Bearer ${token}` };
  return {
    headers,
    method: 'GET',
    protocol: 'http',
    url: '/',
    originalUrl: '/',
    query: {},
    body: undefined,
    get: (name) => headers[name.toLowerCase()],
    is: () => false,
  };
}

// Resolves to { auth } when the middleware lets the request through, { error } otherwise.
function check(token) {
  const req = request(token);
  return new Promise((resolve) => {
    middleware(req, {}, (err) => resolve(err ? { error: err } : { auth: req.auth }));
  });
}

function tamper(token) {
  const [h, p, s] = token.split('.');
  const bytes = Buffer.from(s, 'base64url');
  bytes[Math.floor(bytes.length / 2)] ^= 0x01;
  return `${h}.${p}.${bytes.toString('base64url')}`;
}

const accept = [];
const reject = [];
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const list = args[i] === '--reject' ? reject : accept;
  const arg = args[i] === '--reject' ? args[++i] : args[i];
  const eq = arg.indexOf('=');
  list.push([arg.slice(0, eq), arg.slice(eq + 1)]);
}

let failed = 0;
const report = (ok, what) => {
  if (!ok) failed++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} discovery: ${what}`);
};
for (const [name, token] of accept) {
  const r = await check(token);
  const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url'));
  report(r.auth && r.auth.payload.sub === claims.sub,
    `${name} verifies (sub ${claims.sub})${r.error ? `: ${r.error.message}` : ''}`);
  const t = await check(tamper(token));
  report(t.error && t.error.status === 401,
    `${name} with a changed signature byte is refused${t.error ? ` (${t.error.status}: ${t.error.message})` : ''}`);
}
for (const [name, token] of reject) {
  const r = await check(token);
  report(r.error && r.error.status === 401,
    `${name} is refused${r.error ? ` (${r.error.status}: ${r.error.message})` : ''}`);
}
process.exit(failed ? 1 : 0);
