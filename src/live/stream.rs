//! One subscriber's stream: replay after its cursor, then live, in order, no
//! gap, no duplicate.
//!
//! The stream is polled by the connection that sends it, with no task or
//! buffer of its own: a message goes from the recipient's channel straight
//! into the HTTP/2 stream. A client that reads slowly holds the stream back
//! through HTTP/2 flow control; meanwhile its place in the recipient's small
//! channel is overtaken (`Lagged`), and when it reads again the stream
//! re-reads from its cursor. So a slow client costs a bounded amount of
//! memory, misses nothing, and is never cut off.
//!
//! Its database work (a read, the owner's check) runs in a task of its own
//! (`detached`): a stream may be left unpolled in the middle of it, for as
//! long as its client's window stays full, and must not hold a read permit
//! or a database connection (on SQLite, the one writer) meanwhile.
use crate::live::{Subscription, Wake};
use crate::{
    app::AppState,
    clock::Timestamp,
    domain::{Id, inbox::InboxMessage},
    error::AppError,
    store,
};
use futures::Stream;
use std::{collections::VecDeque, pin::Pin, sync::Arc, time::Duration};
use tokio::{
    sync::broadcast::error::RecvError,
    time::{Instant, Sleep},
};

/// Messages read from the database at a time.
const BATCH: u64 = 100;

#[derive(Debug, Clone)]
pub enum StreamEvent {
    /// Shared: one committed message goes to every stream of its recipient.
    Message(Arc<InboxMessage>),
    Heartbeat {
        at: Timestamp,
        last_seq: i64,
    },
}

#[derive(Debug)]
pub enum StreamError {
    /// Boxed: keeps every item of the stream small.
    App(Box<AppError>),
    /// The session or key behind the stream ended (logout, expiry, revocation).
    CredentialsEnded,
    /// The stream reached its maximum lifetime; resubscribe from the cursor.
    LifetimeReached { last_seq: i64 },
    /// This replica is stopping; resubscribe (to another) from the cursor.
    ShuttingDown { last_seq: i64 },
}

/// Whose credentials keep a stream open; re-checked at every heartbeat, as
/// every call is, so a heartbeat mostly hits the credential caches.
#[derive(Debug, Clone)]
pub enum StreamOwner {
    /// The session's token hash (unique to it).
    HubSession { token_hash: String },
    /// The API key's hash (unique to it).
    ApiKey { key_hash: String },
}

impl StreamOwner {
    async fn still_valid(&self, state: &AppState) -> Result<bool, AppError> {
        if self.checked_a_moment_ago(state) {
            return Ok(true);
        }
        let (owner, state) = (self.clone(), state.clone());
        detached(async move { owner.check(&state).await }).await
    }

    /// Whether the cache vouches for the owner: then the heartbeat needs
    /// neither a query nor a task to wait for one.
    fn checked_a_moment_ago(&self, state: &AppState) -> bool {
        let now = state.clock.now();
        match self {
            StreamOwner::HubSession { token_hash } => state.customers.hub_sessions().get(token_hash, now).is_ok(),
            StreamOwner::ApiKey { key_hash } => state.credentials.get(key_hash, now).is_ok(),
        }
    }

    async fn check(&self, state: &AppState) -> Result<bool, AppError> {
        Ok(match self {
            StreamOwner::HubSession { token_hash } => {
                store::credentials::resolve_hub_session(state, token_hash.clone()).await?.is_some()
            }
            StreamOwner::ApiKey { key_hash } => {
                store::credentials::resolve_api_key_hash(state, key_hash.clone()).await?.is_some()
            }
        })
    }
}

pub type InboxStream = Pin<Box<dyn Stream<Item = Result<StreamEvent, StreamError>> + Send>>;

/// The stream of `recipient`'s messages after `after`. It listens before
/// its first read (and before the caller sees it), so nothing committed in
/// between is missed.
pub fn inbox_stream(state: AppState, owner: StreamOwner, recipient: Id, after: i64) -> InboxStream {
    let live = state.live.subscribe(&recipient);
    let beat = Duration::from_millis(state.settings.stream_heartbeat_ms);
    let lifetime = Duration::from_secs(state.settings.stream_max_lifetime_secs);
    let now = Instant::now();
    let (next_beat, deadline) = (now + beat, now + lifetime);
    let subscriber = Subscriber {
        beat,
        next_beat,
        deadline,
        timer: Box::pin(tokio::time::sleep_until(next_beat.min(deadline))),
        state,
        owner,
        recipient,
        last: after,
        live,
        read: true,
        replay: VecDeque::new(),
        ended: false,
    };
    Box::pin(futures::stream::unfold(subscriber, |mut s| async move {
        let item = s.next().await?;
        Some((item, s))
    }))
}

struct Subscriber {
    state: AppState,
    owner: StreamOwner,
    recipient: Id,
    /// The sequence of the last message sent.
    last: i64,
    live: Subscription,
    /// The database may hold messages after `last` that were not heard in hand.
    read: bool,
    /// Read from the database and not yet sent.
    replay: VecDeque<InboxMessage>,
    beat: Duration,
    /// When the next heartbeat (and credential check) is due.
    next_beat: Instant,
    /// The end of the stream's lifetime.
    deadline: Instant,
    /// Wakes the stream at `next_beat` or `deadline`, whichever is first.
    timer: Pin<Box<Sleep>>,
    /// An error was sent: the stream ends.
    ended: bool,
}

impl Subscriber {
    /// The next event; `None` ends the stream.
    async fn next(&mut self) -> Option<Result<StreamEvent, StreamError>> {
        if self.ended {
            return None;
        }
        let event = self.next_event().await;
        self.ended = !matches!(event, Some(Ok(_)));
        event
    }

    async fn next_event(&mut self) -> Option<Result<StreamEvent, StreamError>> {
        loop {
            // Whatever woke it: a stream that lagged past its `Closing`
            // wake, or subscribed after it, stops here.
            if self.state.live.is_closing() {
                return Some(Err(StreamError::ShuttingDown { last_seq: self.last }));
            }
            // Before every replayed message: a stream catching up on a long
            // backlog (say, one its client held back) still ends on time and
            // still re-checks its owner. Live, the select below looks first.
            if !self.replay.is_empty()
                && let Some(due) = self.due().await
            {
                return Some(due);
            }
            if let Some(m) = self.replay.pop_front() {
                self.last = m.seq;
                return Some(Ok(StreamEvent::Message(Arc::new(m))));
            }
            if self.read {
                // Boxed: an idle stream then holds only what it waits on
                // (memory per idle stream, BENCHMARKS.md).
                let batch = match Box::pin(self.read_batch()).await {
                    Ok(b) => b,
                    Err(e) => return Some(Err(StreamError::App(Box::new(e)))),
                };
                self.read = batch.len() as u64 == BATCH;
                self.replay = batch.into();
                continue;
            }
            tokio::select! {
                // The timer before messages, so a busy stream cannot starve it.
                biased;
                _ = &mut self.timer => {
                    if let Some(due) = self.due().await {
                        return Some(due);
                    }
                }
                got = self.live.rx.recv() => match got {
                    // The next message, in hand: no database read.
                    Ok(Wake::Message(m)) if m.seq == self.last + 1 => {
                        self.last = m.seq;
                        return Some(Ok(StreamEvent::Message(m)));
                    }
                    // Already sent (read from the database before it was heard,
                    // or heard in process before its NOTIFY came round).
                    Ok(Wake::Message(m)) if m.seq <= self.last => {}
                    Ok(Wake::Committed(seq)) if seq > 0 && seq <= self.last => {}
                    // Seen at the top of the loop.
                    Ok(Wake::Closing) => {}
                    // A gap, another replica's news, or a client that read
                    // too slowly to keep its place in the channel.
                    Ok(_) | Err(RecvError::Lagged(_)) => self.read = true,
                    Err(RecvError::Closed) => return None,
                },
            }
        }
    }

    /// The next batch after the cursor, read with a permit (`LiveHub::read_permit`).
    async fn read_batch(&self) -> Result<Vec<InboxMessage>, AppError> {
        let permit = self.state.live.read_permit().await;
        let (db, recipient, last) = (self.state.db.clone(), self.recipient.clone(), self.last);
        detached(async move {
            let batch = store::inbox::after(&db, &recipient, last, BATCH).await;
            drop(permit);
            batch
        })
        .await
    }

    /// Shutdown, the end of the lifetime, or a heartbeat, when one is due.
    async fn due(&mut self) -> Option<Result<StreamEvent, StreamError>> {
        if self.state.live.is_closing() {
            return Some(Err(StreamError::ShuttingDown { last_seq: self.last }));
        }
        let now = Instant::now();
        if now >= self.deadline {
            return Some(Err(StreamError::LifetimeReached { last_seq: self.last }));
        }
        if now < self.next_beat {
            // Should the timer ever wake early, it waits again rather than spin.
            if self.timer.is_elapsed() {
                self.timer.as_mut().reset(self.next_beat.min(self.deadline));
            }
            return None;
        }
        // Counted from now: a client that held the stream back gets one beat, not a burst.
        self.next_beat = now + self.beat;
        self.timer.as_mut().reset(self.next_beat.min(self.deadline));
        // The database being away keeps the stream; the next beat checks again.
        if let Ok(false) = Box::pin(self.owner.still_valid(&self.state)).await {
            return Some(Err(StreamError::CredentialsEnded));
        }
        // Also a safety net for a notification that never arrived.
        self.read = true;
        Some(Ok(StreamEvent::Heartbeat { at: self.state.clock.now(), last_seq: self.last }))
    }
}

/// Runs `work` in a task of its own and waits for it: if the stream is left
/// unpolled meanwhile, the work still finishes and gives back what it
/// holds; its result waits in the task's handle.
async fn detached<T: Send + 'static>(
    work: impl std::future::Future<Output = Result<T, AppError>> + Send + 'static,
) -> Result<T, AppError> {
    tokio::spawn(work).await.map_err(|e| AppError::Unexpected(e.into()))?
}
