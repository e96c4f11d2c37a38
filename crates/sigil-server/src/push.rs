//! Push invalidation on PostgreSQL: every process listens on [`CHANNEL`] for the changes the
//! others announce (`changes.rs`) and applies them at once — an ended session or a changed user
//! leaves the session cache, a key change reloads the key set.
//!
//! While the listening connection is down, this process falls back to polling: cached sessions
//! are read again after [`POLL_TTL`] and the key watch reads the key table every
//! [`crate::KEY_WATCH_INTERVAL`]. Each time listening starts again, the whole session cache is
//! dropped and the keys are re-read, since what was announced meanwhile is lost.

use std::sync::{Arc, Weak};
use std::time::Duration;

use sqlx::postgres::{PgListener, PgPool};
use tokio::sync::{oneshot, watch};

use crate::changes::{CHANNEL, Change};
use crate::keys::KeyManager;
use crate::report::Chain;
use crate::session_cache::POLL_TTL;
use crate::sessions::Sessions;

/// How long to wait between attempts to listen again.
const RETRY: Duration = Duration::from_secs(1);

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
    pool: PgPool,
    status: watch::Sender<PushStatus>,
    stop: oneshot::Receiver<()>,
}

impl Push {
    /// Push invalidation over `pool` (PostgreSQL), or none (SQLite); the listener is spawned by
    /// [`Listener::spawn`] once the application state exists.
    pub(crate) fn new(pool: Option<&PgPool>) -> (Push, Option<Listener>) {
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
        let listener = Listener {
            pool: pool.clone(),
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

impl Listener {
    /// Runs the listener until the [`Push`] is dropped (with the application state), applying
    /// changes to these sessions and keys.
    pub(crate) fn spawn(self, sessions: Weak<Sessions>, keys: Weak<KeyManager>) {
        tokio::spawn(self.run(Targets { sessions, keys }));
    }

    async fn run(self, state: Targets) {
        let Listener {
            pool,
            status,
            mut stop,
        } = self;
        // Whether the loss of push has been logged (once per outage).
        let mut said_down = false;
        loop {
            let connected = tokio::select! {
                _ = &mut stop => return,
                connected = listen(&pool) => connected,
            };
            let mut listener = match connected {
                Ok(listener) => listener,
                Err(e) => {
                    if !said_down {
                        tracing::warn!(error = %Chain(&e), poll_ms = POLL_TTL.num_milliseconds(), "cannot listen for other instances' changes; polling for them until listening works");
                        said_down = true;
                    }
                    tokio::select! {
                        _ = &mut stop => return,
                        () = tokio::time::sleep(RETRY) => continue,
                    }
                }
            };
            {
                let Some(state) = state.upgrade() else { return };
                // What was announced before this point was not heard: start afresh.
                state.sessions.cache().forget_all();
                refresh_keys(&state).await;
                state.sessions.cache().set_pushed(true);
            }
            status.send_modify(|s| {
                s.state = PushState::Listening;
                s.connects += 1;
            });
            if said_down {
                tracing::info!("listening for other instances' changes again");
            } else {
                tracing::debug!("listening for other instances' changes");
            }
            let lost = loop {
                let next = tokio::select! {
                    _ = &mut stop => return,
                    next = listener.try_recv() => next,
                };
                match next {
                    Ok(Some(notification)) => {
                        let Some(state) = state.upgrade() else { return };
                        apply(&state, notification.payload()).await;
                        status.send_modify(|s| s.applied += 1);
                    }
                    Ok(None) => break None,
                    Err(e) => break Some(e),
                }
            };
            if let Some(state) = state.upgrade() {
                state.sessions.cache().set_pushed(false);
            }
            status.send_modify(|s| s.state = PushState::Polling);
            let error = lost.map(|e| Chain(&e).to_string()).unwrap_or_default();
            tracing::warn!(%error, poll_ms = POLL_TTL.num_milliseconds(), "lost the connection that listens for other instances' changes; polling for them until it is back");
            said_down = true;
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
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// Acts on one announced change.
async fn apply(state: &Live, payload: &str) {
    let cache = state.sessions.cache();
    match Change::parse(payload) {
        Some(Change::SessionEnded(hash)) => cache.forget_hash(&hash),
        Some(Change::UserChanged(id)) => cache.forget_user(&id),
        Some(Change::Keys) => refresh_keys(state).await,
        None => {
            // Another version's announcement: assume that anything may have changed.
            tracing::debug!(
                bytes = payload.len(),
                "an announced change this version cannot read"
            );
            cache.forget_all();
            refresh_keys(state).await;
        }
    }
}

async fn refresh_keys(state: &Live) {
    if let Err(e) = state.keys.refresh_if_changed().await {
        tracing::warn!(error = %Chain(&e), "could not reload the keys after a change elsewhere; the key watch retries");
    }
}
