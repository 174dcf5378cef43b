//! Live inbox streams. The database is the source of truth: a stream replays
//! `seq > cursor` from it and re-reads whenever it hears that its recipient
//! got something. Hearing is in-process (`LiveHub`) and, on PostgreSQL,
//! across replicas through LISTEN/NOTIFY: writers NOTIFY inside their
//! transaction, so the signal is sent exactly when the message is visible.
pub mod pg_listener;
pub mod stream;

use crate::{domain::Id, error::AppResult};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use tokio::sync::broadcast;

pub const PG_CHANNEL: &str = "customerhub_inbox";
/// The broadcast value that wakes every stream.
pub const ALL: &str = "*";

#[derive(Clone)]
pub struct LiveHub {
    tx: broadcast::Sender<String>,
}

impl Default for LiveHub {
    fn default() -> Self {
        Self::new()
    }
}

impl LiveHub {
    pub fn new() -> Self {
        // A lagging receiver only re-reads the database, so a small buffer loses nothing.
        let (tx, _) = broadcast::channel(4096);
        Self { tx }
    }

    /// Tells this process's streams that `recipient` has new messages.
    pub fn publish(&self, recipient: &str) {
        let _ = self.tx.send(recipient.to_string());
    }

    /// Tells every stream to re-read (after a gap in hearing, e.g. a reconnect).
    pub fn publish_all(&self) {
        let _ = self.tx.send(ALL.to_string());
    }

    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.tx.subscribe()
    }

    /// How many streams listen in this process.
    pub fn listeners(&self) -> usize {
        self.tx.receiver_count()
    }
}

/// Inside a writing transaction: on PostgreSQL, NOTIFY every replica at commit.
pub async fn notify_in_tx(conn: &impl ConnectionTrait, recipient: &Id) -> AppResult<()> {
    if conn.get_database_backend() == DbBackend::Postgres {
        conn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_notify($1, $2)",
            [PG_CHANNEL.into(), recipient.to_string().into()],
        ))
        .await?;
    }
    Ok(())
}
