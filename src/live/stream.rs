//! One subscriber's stream: replay after its cursor, then live, in order, no
//! gap, no duplicate. A client that does not keep up is cut off with
//! RESOURCE_EXHAUSTED and resumes from its cursor, so memory stays bounded.
use crate::live::Wake;
use crate::{
    app::AppState,
    clock::Timestamp,
    domain::{Id, inbox::InboxMessage},
    error::AppError,
    store,
};
use std::{sync::Arc, time::Duration};
use tokio::sync::{broadcast::error::RecvError, mpsc};
use tokio_stream::wrappers::ReceiverStream;

/// Messages buffered per stream before the client counts as too slow.
pub const BUFFER: usize = 64;
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
    /// Boxed: every slot of a stream's buffer is as big as this enum.
    App(Box<AppError>),
    TooSlow {
        last_seq: i64,
    },
    /// The session or key behind the stream ended (logout, expiry, revocation).
    CredentialsEnded,
    /// The stream reached its maximum lifetime; resubscribe from the cursor.
    LifetimeReached {
        last_seq: i64,
    },
    /// This replica is stopping; resubscribe (to another) from the cursor.
    ShuttingDown {
        last_seq: i64,
    },
}

/// Whose credentials keep a stream open; re-checked at every heartbeat.
#[derive(Debug, Clone)]
pub enum StreamOwner {
    HubSession(Id),
    ApiKey(Id),
}

impl StreamOwner {
    async fn still_valid(&self, state: &AppState) -> Result<bool, AppError> {
        match self {
            StreamOwner::HubSession(id) => store::sessions::is_valid(&state.db, id, state.clock.now()).await,
            StreamOwner::ApiKey(id) => store::api_keys::is_active(&state.db, id).await,
        }
    }
}

pub fn inbox_stream(
    state: AppState,
    owner: StreamOwner,
    recipient: Id,
    after: i64,
) -> ReceiverStream<Result<StreamEvent, StreamError>> {
    let (tx, rx) = mpsc::channel(BUFFER);
    // Listen before the first read (and before the caller sees the stream),
    // so nothing committed in between is missed.
    let live = state.live.subscribe(&recipient);
    tokio::spawn(run(state, owner, recipient, after, live, tx));
    ReceiverStream::new(rx)
}

async fn run(
    state: AppState,
    owner: StreamOwner,
    recipient: Id,
    mut last: i64,
    mut live: crate::live::Subscription,
    tx: mpsc::Sender<Result<StreamEvent, StreamError>>,
) {
    let mut heartbeat = tokio::time::interval(Duration::from_millis(state.settings.stream_heartbeat_ms));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(state.settings.stream_max_lifetime_secs);
    heartbeat.tick().await;
    'read: loop {
        loop {
            // Database futures are boxed: an idle stream's task then holds
            // only what it waits on (memory per idle stream, BENCHMARKS.md).
            let batch = match Box::pin(store::inbox::after(&state.db, &recipient, last, BATCH)).await {
                Ok(b) => b,
                Err(e) => {
                    let _ = tx.send(Err(StreamError::App(Box::new(e)))).await;
                    return;
                }
            };
            let done = (batch.len() as u64) < BATCH;
            for m in batch {
                // Keep one slot free for the error that tells a slow client to resume.
                if tx.capacity() <= 1 {
                    let _ = tx.try_send(Err(StreamError::TooSlow { last_seq: last }));
                    return;
                }
                let seq = m.seq;
                if tx.try_send(Ok(StreamEvent::Message(Arc::new(m)))).is_err() {
                    return;
                }
                last = seq;
            }
            if done {
                break;
            }
        }
        loop {
            tokio::select! {
                got = live.rx.recv() => match got {
                    // The next message, in hand: no database read.
                    Ok(Wake::Message(m)) if m.seq == last + 1 => {
                        if tx.capacity() <= 1 {
                            let _ = tx.try_send(Err(StreamError::TooSlow { last_seq: last }));
                            return;
                        }
                        last = m.seq;
                        if tx.try_send(Ok(StreamEvent::Message(m))).is_err() {
                            return;
                        }
                    }
                    // Already sent (read from the database before it was heard,
                    // or heard in process before its NOTIFY came round).
                    Ok(Wake::Message(m)) if m.seq <= last => {}
                    Ok(Wake::Committed(seq)) if seq > 0 && seq <= last => {}
                    // A gap, another replica's news, or too much at once.
                    Ok(_) | Err(RecvError::Lagged(_)) => continue 'read,
                    Err(RecvError::Closed) => return,
                },
                _ = live.all.recv() => continue 'read,
                _ = state.shutdown.cancelled() => {
                    let _ = tx.try_send(Err(StreamError::ShuttingDown { last_seq: last }));
                    return;
                }
                _ = tokio::time::sleep_until(deadline) => {
                    let _ = tx.try_send(Err(StreamError::LifetimeReached { last_seq: last }));
                    return;
                }
                _ = heartbeat.tick() => {
                    match Box::pin(owner.still_valid(&state)).await {
                        Ok(true) => {}
                        Ok(false) => {
                            let _ = tx.try_send(Err(StreamError::CredentialsEnded));
                            return;
                        }
                        // The database is away: keep the stream; the next beat checks again.
                        Err(_) => {}
                    }
                    if tx.capacity() <= 1 {
                        let _ = tx.try_send(Err(StreamError::TooSlow { last_seq: last }));
                        return;
                    }
                    let beat = StreamEvent::Heartbeat { at: state.clock.now(), last_seq: last };
                    if tx.try_send(Ok(beat)).is_err() {
                        return;
                    }
                    // Also a safety net for a notification that never arrived.
                    continue 'read;
                }
                _ = tx.closed() => return,
            }
        }
    }
}
