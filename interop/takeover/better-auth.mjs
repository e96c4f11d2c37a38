// Better Auth 1.7.25 as a team would run it before (and beside) Sigil: email/password, the JWT
// plugin and the bearer plugin, on SQLite (better-sqlite3) or PostgreSQL (a pg Pool).
//
//   node better-auth.mjs migrate   create the schema with Better Auth's own migration planner, exit
//   node better-auth.mjs           serve $BASE_URL/api/auth/* on 127.0.0.1:$PORT
//
// Environment:
//   DATABASE     a file path (SQLite) or a postgres:// URL
//   BASE_URL     the public base URL (shared with Sigil); PORT the port to listen on
//   ALG          EdDSA | ES256 | ES512 | RS256 | PS256 (keyPairConfig.alg)
//   ROTATION_INTERVAL, GRACE_PERIOD   jwks.rotationInterval / jwks.gracePeriod in seconds (unset:
//                Better Auth's defaults: no rotation, 30 days)
//   BETTER_AUTH_SECRET, BETTER_AUTH_SECRETS   read by Better Auth itself (the secret is not passed
//                as an option, so that versioned secrets and the legacy secret work as documented)
import http from "node:http";
import { betterAuth } from "better-auth";
import { toNodeHandler } from "better-auth/node";
import { bearer, jwt } from "better-auth/plugins";

const env = process.env;
const alg = env.ALG ?? "EdDSA";
const keyPairConfigs = {
  EdDSA: { alg: "EdDSA", crv: "Ed25519" },
  ES256: { alg: "ES256" },
  ES512: { alg: "ES512" },
  RS256: { alg: "RS256", modulusLength: 2048 },
  PS256: { alg: "PS256", modulusLength: 2048 },
};
if (!(alg in keyPairConfigs)) {
  console.error(`ALG=${alg}: expected one of ${Object.keys(keyPairConfigs).join(" ")}`);
  process.exit(2);
}
if (!env.DATABASE || !env.BASE_URL) {
  console.error("DATABASE and BASE_URL must be set");
  process.exit(2);
}

async function database(spec) {
  if (/^postgres(ql)?:\/\//.test(spec)) {
    const { default: pg } = await import("pg");
    return new pg.Pool({ connectionString: spec, max: 4 });
  }
  const { default: Database } = await import("better-sqlite3");
  return new Database(spec);
}

const jwks = { keyPairConfig: keyPairConfigs[alg] };
if (env.ROTATION_INTERVAL) jwks.rotationInterval = Number(env.ROTATION_INTERVAL);
if (env.GRACE_PERIOD) jwks.gracePeriod = Number(env.GRACE_PERIOD);

const db = await database(env.DATABASE);
const options = {
  database: db,
  baseURL: env.BASE_URL,
  emailAndPassword: { enabled: true },
  rateLimit: { enabled: false },
  telemetry: { enabled: false },
  plugins: [jwt({ jwks }), bearer()],
};

if (process.argv[2] === "migrate") {
  const { getMigrations } = await import("better-auth/db/migration");
  const { runMigrations, toBeCreated, toBeAdded } = await getMigrations(options);
  if (process.argv[3] === "--plan") {
    // What the planner would still do (after Sigil's migration this should be nothing).
    console.log(JSON.stringify({
      toBeCreated: toBeCreated.map((t) => t.table),
      toBeAdded: toBeAdded.map((t) => ({ table: t.table, fields: Object.keys(t.fields) })),
    }));
  } else {
    await runMigrations();
    console.error(`migrated: ${toBeCreated.length} tables created, ${toBeAdded.length} altered`);
  }
  await db.end?.();
  process.exit(0);
}

const handle = toNodeHandler(betterAuth(options));
const server = http.createServer((req, res) => handle(req, res));
server.listen(Number(env.PORT), "127.0.0.1", () => {
  console.error(`Better Auth on 127.0.0.1:${env.PORT} for ${env.BASE_URL} (alg ${alg}, pid ${process.pid})`);
});
const stop = () => server.close(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
