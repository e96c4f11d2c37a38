// Better Auth 1.7.25 as the load benchmark's peer: email/password, the JWT plugin (keys of ALG)
// and the bearer plugin, on a better-sqlite3 file, served by node:http on 127.0.0.1 only.
//
//   node server.mjs migrate   create the tables with Better Auth's own migration planner, then exit
//   node server.mjs           serve http://127.0.0.1:$PORT/api/auth/*
//
// Environment: PORT (3000), ALG (EdDSA | ES256 | ES512 | RS256 | PS256), DB_PATH (peer.db; one file
// per ALG, since the JWT plugin falls back to a key of another alg when none of ALG exists),
// SECRET (a fixed development value when unset), RATE_LIMIT=1 to keep Better Auth's rate limiter
// (off by default, as for sigil in bench/load-vs-peer.sh, so the load measures the handlers).
import http from "node:http";
import Database from "better-sqlite3";
import { betterAuth } from "better-auth";
import { toNodeHandler } from "better-auth/node";
import { bearer, jwt } from "better-auth/plugins";

const env = process.env;
const port = Number(env.PORT ?? 3000);
const alg = env.ALG ?? "EdDSA";
const dbPath = env.DB_PATH ?? "peer.db";

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

const options = {
  database: new Database(dbPath),
  baseURL: `http://127.0.0.1:${port}`,
  secret: env.SECRET ?? "sigil-bench-peer-development-secret-not-for-production",
  emailAndPassword: { enabled: true },
  rateLimit: { enabled: env.RATE_LIMIT === "1" },
  telemetry: { enabled: false },
  plugins: [jwt({ jwks: { keyPairConfig: keyPairConfigs[alg] } }), bearer()],
};

if (process.argv[2] === "migrate") {
  const { getMigrations } = await import("better-auth/db/migration");
  const { runMigrations, toBeCreated, toBeAdded } = await getMigrations(options);
  await runMigrations();
  console.log(
    `${dbPath}: ${toBeCreated.length} tables created, ${toBeAdded.length} tables altered`,
  );
  process.exit(0);
}

const handle = toNodeHandler(betterAuth(options));
const server = http.createServer((req, res) => handle(req, res));
server.listen(port, "127.0.0.1", () => {
  console.log(`Better Auth peer on http://127.0.0.1:${port} (alg ${alg}, db ${dbPath}, pid ${process.pid})`);
});
const stop = () => server.close(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
