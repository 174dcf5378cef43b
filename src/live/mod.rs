//! Live inbox streams. The database is the source of truth: a stream replays
//! `seq > cursor` from it and re-reads whenever it hears that its recipient
//! got something. Hearing is in-process (`LiveHub`) and, on PostgreSQL,
//! across replicas through LISTEN/NOTIFY: writers NOTIFY inside their
//! transaction, so the signal is sent exactly when the message is visible.
pub mod pg_listener;
pub mod stream;

use crate::{
    domain::{Id, inbox::InboxMessage},
    error::AppResult,
};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicBool, Ordering},
    },
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast};

pub const PG_CHANNEL: &str = "customerhub_inbox";

/// What a recipient's streams hear.
#[derive(Debug, Clone)]
pub enum Wake {
    /// A message just committed in this process: a stream whose cursor is
    /// right before it sends it without reading the database.
    Message(Arc<InboxMessage>),
    /// Message `seq` (or, with 0, something) was committed elsewhere: a
    /// stream that has not sent it yet re-reads.
    Committed(i64),
    /// The process is stopping (`LiveHub::close`).
    Closing,
}

/// Per recipient, a small broadcast channel: a message wakes only the
/// streams of its recipient, and carries itself, so fanning one message out
/// to many streams costs no database reads.
///
/// A stream listens on its recipient's channel alone. What concerns every
/// stream (a gap in hearing, the process stopping) is sent into every
/// channel, rarely, rather than kept in one place that every stream would
/// poll, under a lock shared by all of them, for each message it sends
/// (BENCHMARKS.md, fix 38).
#[derive(Clone)]
pub struct LiveHub {
    recipients: Arc<Mutex<HashMap<String, broadcast::Sender<Wake>>>>,
    /// Set once by `close`; read by every stream whenever it wakes, so a
    /// stream that lagged past the `Closing` wake still stops.
    closing: Arc<AtomicBool>,
    /// Streams' database reads in flight at once (`read_permit`).
    reads: Arc<Semaphore>,
}

/// Enough to keep the database busy: more would only wait for a connection.
const READS_AT_ONCE: usize = 16;

/// A lagging receiver only re-reads the database, so a small buffer loses nothing.
const PER_RECIPIENT_BUFFER: usize = 16;

impl Default for LiveHub {
    fn default() -> Self {
        Self::new()
    }
}

impl LiveHub {
    pub fn new() -> Self {
        Self { recipients: Arc::default(), closing: Arc::default(), reads: Arc::new(Semaphore::new(READS_AT_ONCE)) }
    }

    /// Taken before a stream reads the database. When thousands read at
    /// once (opened together, or all woken after a listener reconnect), the
    /// rest wait here, in a queue that costs them nothing, rather than each
    /// holding a query built and waiting for a connection: that burst stays
    /// in the process's memory afterwards (BENCHMARKS.md, fix 36).
    pub async fn read_permit(&self) -> Option<OwnedSemaphorePermit> {
        // Never closed; without a permit the read just goes ahead.
        self.reads.clone().acquire_owned().await.ok()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, broadcast::Sender<Wake>>> {
        // The map stays consistent whatever panicked while holding it.
        self.recipients.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn send(&self, recipient: &str, wake: Wake) {
        if let Some(tx) = self.lock().get(recipient) {
            let _ = tx.send(wake);
        }
    }

    /// Tells `recipient`'s streams in this process that message `seq` (0:
    /// something) was committed, e.g. by another replica.
    pub fn publish(&self, recipient: &str, seq: i64) {
        self.send(recipient, Wake::Committed(seq));
    }

    /// A NOTIFY payload: `<recipient> <seq>` (or a bare recipient).
    pub fn publish_notification(&self, payload: &str) {
        let (recipient, seq) = payload.split_once(' ').unwrap_or((payload, "0"));
        self.publish(recipient, seq.parse().unwrap_or(0));
    }

    /// Hands a committed message to `recipient`'s streams in this process.
    pub fn publish_message(&self, recipient: &str, message: InboxMessage) {
        self.send(recipient, Wake::Message(Arc::new(message)));
    }

    /// Tells every stream to re-read (after a gap in hearing, e.g. a
    /// listener reconnect). A stream subscribed after this reads anyway.
    pub fn publish_all(&self) {
        self.send_all(Wake::Committed(0));
    }

    /// The process is stopping: every stream ends with its cursor, now and
    /// whenever one subscribes later.
    pub fn close(&self) {
        // Before the wakes: a stream that misses its wake (lagged, or
        // subscribing meanwhile) sees the flag when it next looks.
        self.closing.store(true, Ordering::SeqCst);
        self.send_all(Wake::Closing);
    }

    pub fn is_closing(&self) -> bool {
        self.closing.load(Ordering::SeqCst)
    }

    fn send_all(&self, wake: Wake) {
        for tx in self.lock().values() {
            let _ = tx.send(wake.clone());
        }
    }

    pub fn subscribe(&self, recipient: &Id) -> Subscription {
        let key = recipient.to_string();
        let rx =
            self.lock().entry(key.clone()).or_insert_with(|| broadcast::channel(PER_RECIPIENT_BUFFER).0).subscribe();
        Subscription { hub: self.clone(), recipient: key, rx }
    }

    /// How many streams listen in this process.
    pub fn listeners(&self) -> usize {
        self.lock().values().map(|tx| tx.receiver_count()).sum()
    }
}

/// One stream's ears; leaving removes its recipient's channel when it was the last.
pub struct Subscription {
    hub: LiveHub,
    recipient: String,
    pub rx: broadcast::Receiver<Wake>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut map = self.hub.lock();
        // This subscription's receiver is still counted until after `drop`.
        if map.get(&self.recipient).is_some_and(|tx| tx.receiver_count() <= 1) {
            map.remove(&self.recipient);
        }
    }
}

/// Inside a writing transaction: on PostgreSQL, NOTIFY every replica at commit.
/// The payload is `<recipient> <seq>`, so a replica's own streams, which got
/// the message in process already, need not re-read when they hear it.
pub async fn notify_in_tx(conn: &impl ConnectionTrait, recipient: &Id, seq: i64) -> AppResult<()> {
    if conn.get_database_backend() == DbBackend::Postgres {
        conn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_notify($1, $2)",
            [PG_CHANNEL.into(), format!("{recipient} {seq}").into()],
        ))
        .await?;
    }
    Ok(())
}
