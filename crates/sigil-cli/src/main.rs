//! The `sigil` command.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use sigil_server::config::SecretSource;
use sigil_server::{Auth, Config, Mode, Settings};
use tracing_subscriber::EnvFilter;

mod takeover;
mod token;

/// Sigil: sessions in, short-lived JWTs out (Better Auth compatible).
#[derive(Parser)]
#[command(name = "sigil", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the auth server (SQLite in ./sigil-data unless configured otherwise).
    Serve(ServerArgs),
    /// Create or update the database tables, then exit; with --from-better-auth --check, only
    /// report (reading only) whether Sigil can serve the database.
    Migrate(MigrateArgs),
    /// Manage users.
    User {
        #[command(subcommand)]
        action: UserAction,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Work with tokens.
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Manage signing keys (works while servers run; they pick changes up within seconds).
    Keys {
        #[command(subcommand)]
        action: KeysAction,
        #[command(flatten)]
        server: ServerArgs,
    },
}

#[derive(Subcommand)]
enum TokenAction {
    /// Print a token's header and claims WITHOUT verifying anything (`-` reads stdin).
    Decode {
        /// The compact token, or `-`.
        token: String,
    },
    /// Verify a token (or JSON Lines requests with --batch) against a JWKS file or URL.
    /// Exit 0 accepted, 1 rejected, 2 usage or configuration, 3 keys unavailable.
    Verify(Box<token::VerifyArgs>),
    /// Print a JWT from a Sigil server: sign in (--email, password on stdin) or use a session
    /// token (--session-token-env VAR); --audience for an audience-scoped token.
    /// Exit 0 printed, 1 refused, 2 usage, 3 server unavailable.
    Get(Box<token::GetArgs>),
}

#[derive(Subcommand)]
enum UserAction {
    /// Set additional fields declared in `[[user_fields]]`: `sigil user set ada@example.com role=admin`.
    Set {
        /// The user's email.
        email: String,
        /// FIELD=VALUE pairs (`null` clears a field).
        #[arg(required = true)]
        assignments: Vec<String>,
    },
}

#[derive(Subcommand)]
enum KeysAction {
    /// Every key: kid, alg, state (next, current, retired, expired), created, expires, and when a
    /// next key starts.
    List,
    /// Publish a new key now; it signs after the publish lead (max-age + 1 min), or at once with --now.
    Rotate {
        /// Switch within 2 s, once every instance publishes the key (verifiers with a cached key set
        /// refetch on the unknown kid).
        #[arg(long)]
        now: bool,
        /// Rotate only the keys of this algorithm (one of jwt.algs); by default every
        /// configured algorithm gets a new key.
        #[arg(long, value_name = "ALG")]
        alg: Option<String>,
    },
    /// Remove a key: gone from the key set and from signing at once.
    Revoke {
        /// The key id (it may begin with `-`: key ids are base64url).
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
    /// Re-encrypt every private key under the current secret.
    Rewrap,
    /// Delete the keys past their grace period (in no key set, signing nothing). Better Auth never
    /// deletes a key and its nodes read only 100 rows of the table: prune a long-rotated table
    /// that Better Auth nodes share.
    Prune,
}

/// `sigil migrate`: the server settings plus the Better Auth takeover check.
#[derive(Args)]
struct MigrateArgs {
    /// The database is Better Auth's (same tables, same secret). Migrating it creates only what
    /// is missing (tables, and jwks.alg/jwks.crv on key tables from before Better Auth 1.7) and
    /// changes nothing else.
    #[arg(long)]
    from_better_auth: bool,
    /// With --from-better-auth: migrate nothing; report, reading only, the tables, row counts,
    /// schema, keys (does this secret open them), account providers and password hash formats.
    /// Writes nothing (SQLite opened read-only, PostgreSQL in a read-only transaction), creates
    /// no key, never generates a secret (without one configured it reads the data directory's
    /// secret file, or fails). Exit 0: Sigil can serve the database; 1: something blocks (each
    /// blocker named); 2: usage or configuration error (--check without --from-better-auth, no
    /// secret, an invalid setting); 3: the database could not be opened or read.
    #[arg(long, requires = "from_better_auth")]
    check: bool,
    /// With --check: print the report as one JSON document instead of text.
    #[arg(long, requires = "check")]
    json: bool,
    #[command(flatten)]
    server: ServerArgs,
}

/// Settings from the command line; they override `sigil.toml` and the environment.
#[derive(Args)]
struct ServerArgs {
    /// Configuration file (default: ./sigil.toml if it exists).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long)]
    listen: Option<String>,
    /// Public URL of the server.
    #[arg(long)]
    base_url: Option<String>,
    /// Route prefix.
    #[arg(long)]
    base_path: Option<String>,
    /// Directory for the SQLite file and generated secret.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// sqlite://… or postgres://…
    #[arg(long)]
    database_url: Option<String>,
    /// production or dev.
    #[arg(long)]
    mode: Option<Mode>,
    /// Turn rate limits on or off.
    #[arg(long)]
    rate_limit: Option<bool>,
    /// Do not migrate the database at start.
    #[arg(long)]
    no_migrate: bool,
    /// Log format on stderr: text or json (one JSON object a line).
    #[arg(long, env = "SIGIL_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object a line.
    Json,
}

impl ServerArgs {
    fn config(&self) -> Result<Config> {
        Ok(Config::from_settings(self.settings()?)?)
    }

    /// The merged settings: `sigil.toml` (or --config), then the environment, then flags.
    fn settings(&self) -> Result<Settings> {
        let file = match &self.config {
            Some(path) => Settings::from_file(path)?,
            None => {
                let default = PathBuf::from("sigil.toml");
                if default.exists() {
                    Settings::from_file(&default)?
                } else {
                    Settings::default()
                }
            }
        };
        let env: HashMap<String, String> = std::env::vars().collect();
        let flags = Settings {
            listen: self.listen.clone(),
            base_url: self.base_url.clone(),
            base_path: self.base_path.clone(),
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
            mode: self.mode,
            rate_limit: self.rate_limit,
            migrate: self.no_migrate.then_some(false),
            ..Settings::default()
        };
        Ok(file
            .overridden_by(Settings::from_env(&env)?)?
            .overridden_by(flags)?)
    }
}

fn log_secret_source(config: &Config) {
    match &config.secrets.source {
        SecretSource::Configured => {}
        SecretSource::DataDir(path) => {
            tracing::info!(path = %path.display(), "using the secret stored in the data directory")
        }
        SecretSource::Generated(path) => tracing::info!(
            path = %path.display(),
            "no secret configured: generated one and stored it (mode 0600); keep it to keep sessions and keys valid"
        ),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

async fn serve(args: ServerArgs) -> Result<()> {
    let config = args.config()?;
    log_secret_source(&config);
    let listen = config.listen;
    let base_path = config.base_path.clone();
    let base_url = config.base_url.clone();
    let limits = config.serve;
    let metrics_listen = config.metrics_listen;
    // Installed before the server is built, so that what it does from the start is counted.
    let metrics = match metrics_listen {
        Some(at) => {
            let handle = sigil_server::telemetry::install_prometheus()
                .context("installing the Prometheus recorder")?;
            let listener = tokio::net::TcpListener::bind(at)
                .await
                .with_context(|| format!("cannot listen on {at} for metrics"))?;
            tracing::info!("metrics on http://{}/metrics", listener.local_addr()?);
            let app = sigil_server::telemetry::metrics_app(handle);
            Some(tokio::spawn(async move {
                if let Err(e) =
                    sigil_server::serve(listener, app, limits, std::future::pending()).await
                {
                    tracing::error!(error = %e, "the metrics endpoint stopped");
                }
            }))
        }
        None => None,
    };
    let auth = Auth::builder(config)
        .build()
        .await
        .context("starting the auth server")?;
    tracing::info!(engine = auth.store().engine(), "database ready");
    let app = auth.with_fast_jwks(
        axum::Router::new()
            .nest(&base_path, auth.router())
            .merge(auth.discovery_router())
            .merge(auth.console_router())
            .fallback(|| async { sigil_server::ApiError::new(sigil_server::ErrorCode::NotFound) }),
    );
    // One line per request (target `sigil::request`), the key set's fast answers included.
    let app = auth.with_request_log(app);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let local = listener.local_addr()?;
    tracing::info!("listening on http://{local}{base_path} (public URL {base_url})");
    println!("Sigil is running: {base_url}{base_path}/ok");
    // A SQLite file deleted or replaced underneath is noticed within a second even when idle
    // (every request checks it too); the server then stops and exits non-zero, so that its
    // supervisor starts it again on the file now at the path.
    let store = auth.store().clone();
    let watch = tokio::spawn({
        let store = store.clone();
        async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
            loop {
                tick.tick().await;
                if store.check_file().is_err() {
                    return;
                }
            }
        }
    });
    let stop = async {
        tokio::select! {
            () = shutdown_signal() => {},
            () = store.file_lost() => {},
        }
    };
    let served = sigil_server::serve(listener, app, limits, stop).await;
    watch.abort();
    if let Some(metrics) = metrics {
        metrics.abort();
    }
    served?;
    if store.check_file().is_err() {
        anyhow::bail!(
            "the database file was deleted or replaced while serving; start sigil again to open \
             the file now at its path"
        );
    }
    Ok(())
}

async fn keys(action: KeysAction, args: ServerArgs) -> Result<()> {
    let config = args.config()?;
    // Key administration decrypts nothing it does not need: a key this secret cannot open is
    // listed as such and can be revoked.
    let keys = sigil_server::key_admin(&config)
        .await
        .context("opening the key store")?;
    match action {
        KeysAction::List => {
            println!(
                "KID                                          ALG    STATE    CREATED                   EXPIRES                   STARTS"
            );
            for (row, state, starts) in keys.listing().await? {
                let iso_or_dash =
                    |t: Option<_>| t.map_or_else(|| "-".to_owned(), sigil_server::time::iso);
                println!(
                    "{:<44} {:<6} {:<8} {:<25} {:<25} {}",
                    row.id,
                    row.alg.as_deref().unwrap_or("-"),
                    state.to_string(),
                    sigil_server::time::iso(row.created_at),
                    iso_or_dash(row.expires_at),
                    iso_or_dash(starts),
                );
            }
        }
        KeysAction::Rotate { now, alg } => {
            let algs = match alg {
                None => keys.algs().to_vec(),
                Some(name) => match name.parse::<sigil_jose::Alg>() {
                    Ok(alg) if keys.algs().contains(&alg) => vec![alg],
                    _ => anyhow::bail!(
                        "--alg {name}: not one of the configured algorithms ({})",
                        keys.algs()
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                },
            };
            for alg in algs {
                let kid = keys.rotate_alg(alg, now).await?;
                // It waits its turn (the publish lead, or the settle time with `--now`), or signs
                // at once on an empty key table.
                let starts = keys
                    .waiting()
                    .await?
                    .get(&kid)
                    .copied()
                    .unwrap_or_else(chrono_now);
                println!(
                    "{kid} is published and signs from {}",
                    sigil_server::time::iso(starts)
                );
            }
        }
        KeysAction::Revoke { kid } => {
            if keys.revoke(&kid).await? {
                println!("{kid} revoked");
            } else {
                anyhow::bail!("no key {kid}");
            }
        }
        KeysAction::Prune => {
            let removed = keys.prune().await?;
            println!("{} key(s) past their grace period removed", removed.len());
            for kid in removed {
                println!("  {kid}");
            }
        }
        KeysAction::Rewrap => {
            let changed = keys.rewrap().await?;
            println!("{changed} key(s) re-encrypted under the current secret");
        }
    }
    Ok(())
}

fn chrono_now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

async fn user(action: UserAction, args: ServerArgs) -> Result<()> {
    let config = args.config()?;
    let fields = config.user_fields.clone();
    let store = sigil_server::open_store(&config)
        .await
        .context("opening the database")?;
    match action {
        UserAction::Set { email, assignments } => {
            let email = email.trim().to_lowercase();
            for assignment in assignments {
                let (name, text) = assignment
                    .split_once('=')
                    .with_context(|| format!("{assignment:?}: expected FIELD=VALUE"))?;
                let field = fields.iter().find(|f| f.name == name).with_context(|| {
                    let declared: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
                    format!("{name:?} is not a declared user field (declared: {declared:?}; see [[user_fields]] in sigil.toml)")
                })?;
                let value = field
                    .kind
                    .parse(text)
                    .with_context(|| format!("{text:?} is not a {:?}", field.kind))?;
                if !store
                    .set_user_field(&email, field, &value, chrono::Utc::now())
                    .await?
                {
                    anyhow::bail!("no user with email {email}");
                }
                println!("{email}: {name} = {value}");
            }
        }
    }
    Ok(())
}

async fn migrate(args: MigrateArgs) -> Result<()> {
    if args.check {
        std::process::exit(takeover::check(&args.server, args.json).await);
    }
    let mut config = args.server.config()?;
    config.migrate = true;
    let store = sigil_server::open_store(&config)
        .await
        .context("migrating")?;
    println!("database is up to date ({})", store.engine());
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => std::process::exit(token::usage_error(&e)),
    };
    // The server logs its work; `sigil token` answers on stdout/stderr in a fixed format and
    // logs only when RUST_LOG asks; the other one-shot commands print their result and only
    // warnings and errors besides.
    let default_filter = match cli.command {
        Command::Serve(_) => "info",
        Command::Token { .. } => "off",
        _ => "warn",
    };
    let log_format = match &cli.command {
        Command::Serve(a) => a.log_format,
        Command::Migrate(a) => a.server.log_format,
        Command::User { server, .. } | Command::Keys { server, .. } => server.log_format,
        Command::Token { .. } => LogFormat::Text,
    };
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter)),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Migrate(args) => migrate(args).await,
        Command::Keys { action, server } => keys(action, server).await,
        Command::User { action, server } => user(action, server).await,
        Command::Token {
            action: TokenAction::Decode { token },
        } => std::process::exit(token::decode(&token)),
        Command::Token {
            action: TokenAction::Verify(args),
        } => std::process::exit(token::verify(*args).await),
        Command::Token {
            action: TokenAction::Get(args),
        } => std::process::exit(token::get(*args).await),
    }
}
