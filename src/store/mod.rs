//! All SQL lives here. Functions take any SeaORM connection (a pool or an open
//! transaction) and return domain types; SeaORM's types do not leave this module.
//!
//! Isolation rule: every query on tenant data filters on `workspace_id`, and
//! every customer query goes through a `CustomerScope` (area filter for
//! supervisors). A row outside the scope is reported as not found.
pub mod api_keys;
pub mod areas;
pub mod book_again;
pub mod bookings;
pub mod contacts;
pub mod credentials;
pub mod customer_cache;
pub mod customers;
pub mod idempotency;
pub mod inbox;
pub mod notification_settings;
pub mod outbox;
pub mod privacy;
pub mod punch_cards;
pub mod reminders;
pub mod sessions;
pub mod sms;
pub mod sqlite_plans;
pub mod staff;
pub mod subscriptions;
pub mod templates;
pub mod time_entries;
pub mod workspace_config;
pub mod workspaces;

use crate::{
    config::Settings,
    error::{AppError, AppResult},
};
use migration::MigratorTrait;
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, RuntimeErr, SqlErr, Statement,
    sqlx::sqlite::SqliteJournalMode,
};
use std::time::Duration;

pub use sea_orm::{DatabaseConnection as Db, DatabaseTransaction as Tx, TransactionTrait};

/// How long a PostgreSQL connection may sit in the pool before it is pinged
/// again ahead of its next use.
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(1);

/// How long a SQLite connection waits for a lock held by another process
/// (the CLI, a backup) before it gives up with SQLITE_BUSY.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens the database (creating a SQLite file and its folder if needed).
pub async fn connect(settings: &Settings) -> anyhow::Result<DatabaseConnection> {
    let url = settings.database_url();
    if settings.database_url.is_none() {
        std::fs::create_dir_all(&settings.data_dir)?;
    }
    if url.starts_with("sqlite:") {
        let mut opts = sqlite_options(settings, url);
        // SQLite allows one writer at a time. One pooled connection turns
        // contention into queueing instead of SQLITE_BUSY errors; WAL lets the
        // file be read (`connect_reads`, backups, the sqlite3 shell) while
        // the service writes.
        opts.max_connections(1).min_connections(1);
        opts.map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal).busy_timeout(BUSY_TIMEOUT).foreign_keys(true).create_if_missing(true)
        });
        Ok(Database::connect(opts).await?)
    } else {
        let mut opts = options(settings, url);
        opts.max_connections(settings.db_max_connections);
        // A ping before every use costs a round trip per statement. A busy
        // connection has just proved itself (and sqlx pings it again when it
        // is released); only one that sat idle long enough for a restart or a
        // firewall to cut it is checked before use.
        opts.test_before_acquire_if_idle_for(PING_IF_IDLE_FOR);
        Ok(Database::connect(opts).await?)
    }
}

/// What every pool shares: no statement logging, and the acquire timeout
/// that turns a lost database into UNAVAILABLE instead of a hang.
fn options(settings: &Settings, url: String) -> ConnectOptions {
    let mut opts = ConnectOptions::new(url);
    let acquire = Duration::from_millis(settings.db_acquire_timeout_ms);
    opts.sqlx_logging(false).connect_timeout(acquire).acquire_timeout(acquire);
    opts
}

/// What every SQLite connection shares, the writer's and the readers'.
fn sqlite_options(settings: &Settings, url: String) -> ConnectOptions {
    let mut opts = options(settings, url);
    // sqlx pings a connection before every use by default: for an embedded
    // file that is a trip through its worker thread per statement, with
    // nothing that could have dropped the connection.
    opts.test_before_acquire(false);
    opts.map_sqlx_sqlite_pool_opts(|pool| {
        pool.after_connect(|conn, _| Box::pin(async move { sqlite_plans::keep_plans_stable(conn).await }))
    });
    opts
}

/// Opens the pool for reads outside a transaction (`AppState::reads`).
///
/// SQLite in WAL mode lets readers work beside its one writer: each statement
/// reads the last commit, and neither waits for the writer nor holds it up.
/// So reads get their own read-only connections and never queue behind a
/// write (or behind each other) on the writer's one connection. Opened after
/// the migrations, lazily (no idle cost). On PostgreSQL, for an in-memory
/// SQLite (which other connections cannot see), or with
/// `CUSTOMERHUB_SQLITE_READERS=0`, it is `db` itself.
pub async fn connect_reads(settings: &Settings, db: &DatabaseConnection) -> anyhow::Result<DatabaseConnection> {
    let url = settings.database_url();
    let in_memory = url.contains(":memory:") || url.contains("mode=memory");
    if is_postgres(db) || in_memory || settings.sqlite_readers == 0 {
        return Ok(db.clone());
    }
    let mut opts = sqlite_options(settings, url);
    opts.max_connections(settings.sqlite_readers).min_connections(0);
    // The journal mode is the file's (WAL, set by the writer); a read-only
    // connection leaves it alone.
    opts.map_sqlx_sqlite_opts(|o| o.read_only(true).create_if_missing(false).busy_timeout(BUSY_TIMEOUT));
    Ok(Database::connect(opts).await?)
}

/// Applies every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    migration::Migrator::up(db, None).await?;
    Ok(())
}

pub fn is_postgres(db: &impl ConnectionTrait) -> bool {
    db.get_database_backend() == DbBackend::Postgres
}

/// Commits a transaction that changed what a `cache::SharedCache` holds. On
/// PostgreSQL it NOTIFYs `channel` inside the transaction, so every
/// replica's listener forgets exactly when the change is visible; the
/// caller forgets this replica's own entries once it returns.
pub async fn commit_notifying(tx: Tx, channel: &str) -> AppResult<()> {
    notify_on_commit(&tx, channel, "").await?;
    tx.commit().await?;
    Ok(())
}

/// On PostgreSQL, NOTIFYs `channel` with `payload` when `tx` commits (and
/// never if it rolls back); on SQLite, one process, there is nobody to tell.
pub async fn notify_on_commit(tx: &Tx, channel: &str, payload: &str) -> AppResult<()> {
    if is_postgres(tx) {
        tx.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_notify($1, $2)",
            [channel.into(), payload.into()],
        ))
        .await?;
    }
    Ok(())
}

/// A unique index said no: the caller asked for something that exists.
pub fn is_unique_violation(e: &DbErr) -> bool {
    matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

impl From<DbErr> for AppError {
    fn from(e: DbErr) -> Self {
        match &e {
            DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => AppError::Unavailable(e.to_string()),
            DbErr::Query(RuntimeErr::SqlxError(inner)) | DbErr::Exec(RuntimeErr::SqlxError(inner))
                if is_connection_loss(inner) =>
            {
                AppError::Unavailable(e.to_string())
            }
            // A row this write refers to (checked a moment before) was deleted
            // by a request in between: a conflict to retry, not our fault.
            _ if matches!(e.sql_err(), Some(SqlErr::ForeignKeyConstraintViolation(_))) => AppError::Aborted(
                "something this request refers to was deleted meanwhile; read it again and retry".into(),
            ),
            _ => AppError::Unexpected(anyhow::Error::new(e)),
        }
    }
}

/// The database went away under a statement (a restart, a failover, a cut
/// network): worth retrying, not a fault of the request.
fn is_connection_loss(e: &sea_orm::sqlx::Error) -> bool {
    use sea_orm::sqlx::Error;
    match e {
        Error::Io(_) | Error::PoolTimedOut | Error::PoolClosed | Error::Protocol(_) | Error::Tls(_) => true,
        // SQLSTATE class 08 (connection exception), and 57P01..57P03: the
        // server is shutting down, crashed, or is not yet accepting connections.
        Error::Database(db) => db.code().is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
        _ => false,
    }
}

/// The first of `ids` with no row of `E` whose `owner` column is `owner_id`,
/// if any: a bulk change naming one answers NOT_FOUND rather than quietly
/// counting it out.
pub(crate) async fn first_unknown<E: sea_orm::EntityTrait>(
    conn: &impl ConnectionTrait,
    owner: E::Column,
    owner_id: &crate::domain::Id,
    id: E::Column,
    ids: &[crate::domain::Id],
) -> AppResult<Option<crate::domain::Id>> {
    use sea_orm::{ColumnTrait, QueryFilter, QuerySelect};
    let found: Vec<String> = E::find()
        .filter(owner.eq(owner_id.as_str()))
        .filter(id.is_in(ids.iter().map(crate::domain::Id::as_str)))
        .select_only()
        .column(id)
        .into_tuple()
        .all(conn)
        .await?;
    let found: std::collections::HashSet<String> = found.into_iter().collect();
    Ok(ids.iter().find(|id| !found.contains(id.as_str())).cloned())
}
