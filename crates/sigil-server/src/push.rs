//! Push invalidation on PostgreSQL: every process listens on [`CHANNEL`] for the changes the
//! others announce (`changes.rs`) and applies them at once — an ended session or a changed user
//! leaves the session cache, a key change reloads the key set.
//!
//! The listener has a connection of its own, and checks it: a heartbeat it announces itself must
//! come back. While it is down, this process falls back to polling: cached sessions are read
//! again after [`POLL_TTL`], and the key watch, which reads the key table every
//! [`crate::KEY_WATCH_INTERVAL`] in any case, carries key changes. Each time listening starts
//! again, the whole session cache is dropped and the keys are re-read, since what was announced
//! meanwhile is lost.

use std::sync::{Arc, Weak};
use std::time::Duration;

use sqlx::postgres::{PgListener, PgPool, PgPoolOptions};
use tokio::sync::{oneshot, watch};

use crate::changes::{CHANNEL, Change, TokenHash};
use crate::keys::KeyManager;
use crate::report::Chain;
use crate::session_cache::POLL_TTL;
use crate::sessions::Sessions;

/// How long to wait between attempts to listen again.
const RETRY: Duration = Duration::from_secs(1);
/// How often the listener checks that its own announcements come back.
const HEARTBEAT: Duration = Duration::from_secs(5);
/// The payload prefix of a heartbeat (not a change; [`Change::parse`] does not read it).
const PING: &str = "ping:";
/// Most notifications applied as one batch.
const MAX_BATCH: u64 = 1024;

/// Whether changes made by other processes are pushed to this one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PushState {
    /// SQLite: one process owns the database; nothing to listen for.
    Unsupported,
    /// Listening: other processes' changes arrive as they are committed.
    Listening,
    /// Not listening (not yet, or the connection was lost): changes are polled for.
    Polling,
}

/// Push invalidation as it stands (readiness, metrics, tests).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PushStatus {
    /// Listening or polling.
    pub state: PushState,
    /// Changes received and applied since the start.
    pub applied: u64,
    /// Times listening started (the first time, and after each loss).
    pub connects: u64,
}

/// The application's end: the status, and the listener's lifetime (it stops when this drops).
pub(crate) struct Push {
    pub(crate) status: watch::Receiver<PushStatus>,
    _stop: Option<oneshot::Sender<()>>,
}

/// The listening task's end.
pub(crate) struct Listener {
    /// A pool of one connection for the listener alone (it holds its connection for good).
    own: PgPool,
    /// The store's pool, for heartbeats.
    shared: PgPool,
    timeout: Duration,
    status: watch::Sender<PushStatus>,
    stop: oneshot::Receiver<()>,
}

impl Push {
    /// Push invalidation over `pool` (PostgreSQL), or none (SQLite); the listener is spawned by
    /// [`Listener::spawn`] once the application state exists. `timeout` bounds each database
    /// call of the listener.
    pub(crate) fn new(pool: Option<&PgPool>, timeout: Duration) -> (Push, Option<Listener>) {
        let state = if pool.is_some() {
            PushState::Polling
        } else {
            PushState::Unsupported
        };
        let (status_tx, status) = watch::channel(PushStatus {
            state,
            applied: 0,
            connects: 0,
        });
        let Some(pool) = pool else {
            return (
                Push {
                    status,
                    _stop: None,
                },
                None,
            );
        };
        let (stop_tx, stop) = oneshot::channel();
        let own = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(timeout)
            .connect_lazy_with(pool.connect_options().as_ref().clone());
        let listener = Listener {
            own,
            shared: pool.clone(),
            timeout,
            status: status_tx,
            stop,
        };
        (
            Push {
                status,
                _stop: Some(stop_tx),
            },
            Some(listener),
        )
    }
}

/// Why listening stopped.
enum Lost {
    Closed,
    Failed(sqlx::Error),
    NoEcho,
}

impl Listener {
    /// Runs the listener until the [`Push`] is dropped (with the application state), applying
    /// changes to these sessions and keys.
    pub(crate) fn spawn(self, sessions: Weak<Sessions>, keys: Weak<KeyManager>) {
        tokio::spawn(self.run(Targets { sessions, keys }));
    }

    async fn run(mut self, targets: Targets) {
        // Whether the loss of push has been logged (once per outage).
        let mut said_down = false;
        loop {
            let connected = tokio::select! {
                _ = &mut self.stop => return,
                connected = tokio::time::timeout(self.timeout, listen(&self.own)) => connected,
            };
            let mut listener = match connected {
                Ok(Ok(listener)) => listener,
                failed => {
                    if !said_down {
                        let error = match failed {
                            Ok(Err(e)) => Chain(&e).to_string(),
                            _ => format!("no answer within {:?}", self.timeout),
                        };
                        tracing::warn!(%error, poll_ms = POLL_TTL.num_milliseconds(), "cannot listen for other instances' changes; polling for them until listening works");
                        said_down = true;
                    }
                    tokio::select! {
                        _ = &mut self.stop => return,
                        () = tokio::time::sleep(RETRY) => continue,
                    }
                }
            };
            {
                let Some(targets) = targets.upgrade() else {
                    return;
                };
                // What was announced before this point was not heard: start afresh.
                targets.sessions.cache().forget_all();
                refresh_keys(&targets).await;
                targets.sessions.cache().set_pushed(true);
            }
            crate::telemetry::push_listening(true);
            self.status.send_modify(|s| {
                s.state = PushState::Listening;
                s.connects += 1;
            });
            if said_down {
                tracing::info!("listening for other instances' changes again");
            } else {
                tracing::debug!("listening for other instances' changes");
            }
            let Some(lost) = self.listen_until_lost(&mut listener, &targets).await else {
                return;
            };
            if let Some(targets) = targets.upgrade() {
                targets.sessions.cache().set_pushed(false);
            }
            self.status.send_modify(|s| s.state = PushState::Polling);
            crate::telemetry::push_listening(false);
            let error = match lost {
                Lost::Closed => "the connection closed".to_owned(),
                Lost::Failed(e) => Chain(&e).to_string(),
                Lost::NoEcho => format!("its heartbeat did not come back within {HEARTBEAT:?}"),
            };
            tracing::warn!(%error, poll_ms = POLL_TTL.num_milliseconds(), "lost the connection that listens for other instances' changes; polling for them until it is back");
            said_down = true;
        }
    }

    /// Applies what arrives until the connection is lost (`None`: stop, the state is gone).
    /// Every [`HEARTBEAT`] a ping is announced through the store's pool; if it has not come
    /// back by the next one, the connection is taken for lost (a half-open connection, a
    /// pooler that does not pass notifications on).
    async fn listen_until_lost(
        &mut self,
        listener: &mut PgListener,
        targets: &Targets,
    ) -> Option<Lost> {
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        heartbeat.tick().await;
        let mut awaited: Option<String> = None;
        loop {
            let next = tokio::select! {
                _ = &mut self.stop => return None,
                next = listener.try_recv() => next,
                _ = heartbeat.tick() => {
                    if awaited.is_some() {
                        return Some(Lost::NoEcho);
                    }
                    let ping = format!("{PING}{}", crate::ids::new_id());
                    if let Err(e) = self.ping(&ping).await {
                        return Some(Lost::Failed(e));
                    }
                    awaited = Some(ping);
                    continue;
                }
            };
            let first = match next {
                Ok(Some(notification)) => notification,
                Ok(None) => return Some(Lost::Closed),
                Err(e) => return Some(Lost::Failed(e)),
            };
            // What has arrived with it, applied as one batch (one key reload at most).
            let mut batch = Batch::default();
            let mut count = 0_u64;
            let mut next = Some(first);
            while let Some(notification) = next {
                let payload = notification.payload();
                if let Some(ping) = payload.strip_prefix(PING) {
                    if awaited.as_deref().and_then(|a| a.strip_prefix(PING)) == Some(ping) {
                        awaited = None;
                    }
                } else {
                    batch.add(payload);
                    count += 1;
                }
                next = (count < MAX_BATCH)
                    .then(|| listener.next_buffered())
                    .flatten();
            }
            if count > 0 {
                let targets = targets.upgrade()?;
                batch.apply(&targets).await;
                self.status.send_modify(|s| s.applied += count);
            }
        }
    }

    async fn ping(&self, payload: &str) -> Result<(), sqlx::Error> {
        let send = sqlx::query("select pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(payload)
            .execute(&self.shared);
        match tokio::time::timeout(self.timeout, send).await {
            Ok(sent) => sent.map(|_| ()),
            Err(_) => Err(sqlx::Error::PoolTimedOut),
        }
    }
}

/// What changes apply to, held weakly (the application state owns them).
struct Targets {
    sessions: Weak<Sessions>,
    keys: Weak<KeyManager>,
}

/// [`Targets`] while a change is applied.
struct Live {
    sessions: Arc<Sessions>,
    keys: Arc<KeyManager>,
}

impl Targets {
    fn upgrade(&self) -> Option<Live> {
        Some(Live {
            sessions: self.sessions.upgrade()?,
            keys: self.keys.upgrade()?,
        })
    }
}

/// A connection listening on [`CHANNEL`]. A lost connection is reconnected here, not by sqlx,
/// so that the loss is seen and the cache dropped.
async fn listen(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.eager_reconnect(false);
    listener.ignore_pool_close_event(true);
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// Changes that arrived together.
#[derive(Default)]
struct Batch {
    keys: bool,
    everything: bool,
    sessions: Vec<TokenHash>,
    users: Vec<String>,
}

impl Batch {
    fn add(&mut self, payload: &str) {
        match Change::parse(payload) {
            Some(Change::SessionEnded(hash)) => self.sessions.push(hash),
            Some(Change::UserChanged(id)) => self.users.push(id),
            Some(Change::Keys) => self.keys = true,
            None => {
                // Another version's announcement (or anyone's: every client of the database
                // may notify): assume that anything may have changed.
                tracing::debug!(
                    bytes = payload.len(),
                    "an announced change this version cannot read"
                );
                self.everything = true;
            }
        }
    }

    async fn apply(self, targets: &Live) {
        let cache = targets.sessions.cache();
        if self.everything {
            cache.forget_all();
        } else {
            for hash in &self.sessions {
                cache.forget_hash(hash);
            }
            for id in &self.users {
                cache.forget_user(id);
            }
        }
        if self.keys || self.everything {
            refresh_keys(targets).await;
        }
    }
}

async fn refresh_keys(targets: &Live) {
    if let Err(e) = targets.keys.refresh_if_changed().await {
        tracing::warn!(error = %Chain(&e), "could not reload the keys after a change elsewhere; the key watch retries");
    }
}
