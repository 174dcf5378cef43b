//! One function per operation. Each authorizes the caller, parses its input
//! into domain values (naming every bad field), runs its writes in one
//! transaction and returns domain types. Nothing here knows protobuf.
pub mod book_again;
pub mod bookings;
pub mod bootstrap;
pub mod card_expiry;
pub mod contacts;
pub mod customer_input;
pub mod customers;
pub mod field_mask;
pub mod hub_auth;
pub mod import;
pub mod inbox;
pub mod lost_access;
pub mod notifications;
pub mod privacy;
pub mod punch_cards;
pub mod registration_batch;
pub mod reminder_firing;
pub mod reminders;
pub mod sms;
pub mod staff;
pub mod subscription;
pub mod timesheet_input;
pub mod timesheet_invoicing;
pub mod timesheets;
pub mod welcome;
pub mod workspace;

use crate::{
    auth::password::PasswordHasher,
    clock::Clock,
    config::Settings,
    mail::{Mailer, Templates},
};
use sea_orm::DatabaseConnection;
use std::sync::Arc;
use tokio::sync::Notify;

/// Everything an operation needs, cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Writes, transactions, and reads that must see this process's own
    /// uncommitted work. On SQLite: the one writer connection.
    pub db: DatabaseConnection,
    /// Reads outside a transaction (`store::connect_reads`): on SQLite,
    /// read-only connections beside the writer; on PostgreSQL, `db`.
    pub reads: DatabaseConnection,
    pub clock: Arc<dyn Clock>,
    pub settings: Arc<Settings>,
    pub mailer: Mailer,
    pub sms: crate::sms::SmsProvider,
    pub templates: Arc<Templates>,
    pub passwords: PasswordHasher,
    /// Woken after a commit that queued notifications, so delivery starts at once.
    pub outbox_signal: Arc<Notify>,
    /// Wakes this process's live inbox streams.
    pub live: crate::live::LiveHub,
    /// Staff API keys resolved a moment ago (`auth::credential_cache`).
    pub credentials: Arc<crate::auth::credential_cache::CredentialCache>,
    /// Workspaces, notification settings and templates read a moment ago
    /// (`store::workspace_config`).
    pub workspace_config: Arc<crate::store::workspace_config::WorkspaceConfigCache>,
    /// Customers with their contacts read a moment ago (`store::customer_cache`).
    pub customers: Arc<crate::store::customer_cache::CustomerCache>,
    /// RegisterPunch calls waiting to share a transaction.
    pub registrations: Arc<registration_batch::RegistrationQueue>,
    /// Per-workspace request rate limit.
    pub rate_limiter: crate::auth::rate_limit::RateLimiter,
    pub login_throttle: crate::auth::login_throttle::LoginThrottle,
    /// Names this process's claims in the outbox.
    pub instance_id: String,
    /// Cancelled when the process starts to stop: live streams end (clients
    /// resubscribe elsewhere from their cursor) and the workers wind down.
    pub shutdown: tokio_util::sync::CancellationToken,
}

impl AppState {
    pub fn new(
        db: DatabaseConnection,
        clock: Arc<dyn Clock>,
        settings: Settings,
        mailer: Mailer,
        sms: crate::sms::SmsProvider,
    ) -> Self {
        let passwords = PasswordHasher::new(settings.password_hash_memory_kib, settings.password_hash_iterations);
        let rate_limiter =
            crate::auth::rate_limit::RateLimiter::new(settings.rate_limit_per_second, settings.rate_limit_burst);
        let login_throttle = crate::auth::login_throttle::LoginThrottle::new(settings.login_attempts_per_minute);
        // SQLite is one process: every change is made and heard here.
        // PostgreSQL replicas wait for their listener to hear the others.
        let one_process = !crate::store::is_postgres(&db);
        let credentials = Arc::new(crate::auth::credential_cache::new(one_process));
        let workspace_config = Arc::new(crate::store::workspace_config::WorkspaceConfigCache::new(one_process));
        let customers = Arc::new(crate::store::customer_cache::CustomerCache::new(one_process));
        // SQLite has one writer: a second batch would only wait for it.
        let batches = if one_process { 1 } else { settings.registration_batches };
        let registrations = Arc::new(registration_batch::RegistrationQueue::new(batches));
        Self {
            reads: db.clone(),
            db,
            clock,
            settings: Arc::new(settings),
            mailer,
            sms,
            templates: Arc::new(Templates::new()),
            passwords,
            outbox_signal: Arc::new(Notify::new()),
            live: crate::live::LiveHub::new(),
            credentials,
            workspace_config,
            customers,
            registrations,
            rate_limiter,
            login_throttle,
            instance_id: format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()),
            shutdown: tokio_util::sync::CancellationToken::new(),
        }
    }

    /// The domain in Message-IDs of this service's mails.
    pub fn message_domain(&self) -> &str {
        self.settings.default_sender_email.rsplit('@').next().unwrap_or("customerhub.local")
    }
}

/// How a create with an optional `request_id` starts.
pub enum Begin {
    /// First time: create inside this transaction (the key is already in it).
    Fresh(crate::store::Tx),
    /// A retry: this resource was created by the first call.
    Replay(crate::domain::Id),
}

/// Starts an idempotent create (insert-or-nothing on the key). A concurrent
/// call with the same key waits on the key's unique index, then replays.
pub async fn begin_create(
    state: &AppState,
    workspace_id: &crate::domain::Id,
    operation: &str,
    request: Option<&crate::domain::RequestKey>,
    new_id: &crate::domain::Id,
) -> crate::error::AppResult<Begin> {
    use crate::store::{self, TransactionTrait};
    if let Some(key) = request
        && let Some(existing) = store::idempotency::find(&state.db, workspace_id, operation, &key.id).await?
    {
        return replay(key, existing);
    }
    let tx = state.db.begin().await?;
    if let Some(key) = request
        && let Err(e) = store::idempotency::insert(&tx, workspace_id, operation, key, new_id, state.clock.now()).await
    {
        // Release the transaction (and SQLite's only connection) before looking again.
        tx.rollback().await?;
        if store::is_unique_violation(&e)
            && let Some(existing) = store::idempotency::find(&state.db, workspace_id, operation, &key.id).await?
        {
            return replay(key, existing);
        }
        return Err(e.into());
    }
    Ok(Begin::Fresh(tx))
}

/// A retry gets the first call's resource; the same key with a different
/// request would otherwise be answered OK while writing nothing.
fn replay(
    key: &crate::domain::RequestKey,
    stored: crate::store::idempotency::Stored,
) -> crate::error::AppResult<Begin> {
    if stored.request_hash.as_ref().is_some_and(|h| *h != key.fingerprint) {
        return Err(crate::error::AppError::invalid(
            "request_id",
            "was already used for a different request; a retry must repeat the request unchanged",
        ));
    }
    Ok(Begin::Replay(stored.resource_id))
}
