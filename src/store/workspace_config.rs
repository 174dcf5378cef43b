//! A workspace's configuration as read a moment ago: the workspace row, its
//! notification settings and its own templates. Nearly every write reads
//! them and hardly anything changes them, so a registration need not spend
//! three of its statements on them (BENCHMARKS.md, fix 17).
//!
//! Every change to them commits through `commit_change` (a `cache::SharedCache`
//! per kind of entry; that module says how replicas hear of a change). A
//! lookup that misses reads through the connection it is given, so inside a
//! transaction it reads in that transaction (on SQLite the one writer is
//! held by it). The functions that change configuration never read through
//! here: what they read must be the locked, current row, and what they write
//! must not be remembered before it commits.
use crate::{
    app::AppState,
    cache::SharedCache,
    domain::{
        Id, Locale, Tone,
        notification::{KindSetting, NotificationKind},
        workspace::Workspace,
    },
    error::AppResult,
    mail::templates::TemplateSource,
};
use sea_orm::ConnectionTrait;
use std::sync::Arc;

/// The PostgreSQL channel that says "workspace configuration changed: forget it".
pub const CHANNEL: &str = "customerhub_workspace_config";

/// How long an entry is trusted at most.
const TTL: chrono::Duration = chrono::Duration::seconds(10);

/// Past this many entries of a kind a cache starts over rather than grow.
const MOST_ENTRIES: usize = 10_000;

type TemplateKey = (Id, NotificationKind, Locale, Tone);

pub struct WorkspaceConfigCache {
    workspaces: SharedCache<Id, Arc<Workspace>>,
    settings: SharedCache<(Id, NotificationKind), KindSetting>,
    /// `None`: the workspace has no template of its own for this key.
    templates: SharedCache<TemplateKey, Option<TemplateSource>>,
}

impl WorkspaceConfigCache {
    /// `serving`: as `SharedCache::new` (true on SQLite; on PostgreSQL the
    /// listener turns it on once it hears other replicas).
    pub fn new(serving: bool) -> Self {
        Self {
            workspaces: SharedCache::new(serving, TTL, MOST_ENTRIES),
            settings: SharedCache::new(serving, TTL, MOST_ENTRIES),
            templates: SharedCache::new(serving, TTL, MOST_ENTRIES),
        }
    }

    pub fn forget_all(&self) {
        self.workspaces.forget_all();
        self.settings.forget_all();
        self.templates.forget_all();
    }

    pub fn set_serving(&self, serving: bool) {
        self.workspaces.set_serving(serving);
        self.settings.set_serving(serving);
        self.templates.set_serving(serving);
    }
}

/// The workspace (`NOT_FOUND` if there is none).
pub async fn workspace(state: &AppState, conn: &impl ConnectionTrait, id: &Id) -> AppResult<Arc<Workspace>> {
    let read = || async { super::workspaces::get(conn, id).await.map(Arc::new) };
    state.workspace_config.workspaces.get_or_read(id.clone(), state.clock.now(), read).await
}

/// The workspace's setting of one kind, else the kind's default.
pub async fn kind_setting(
    state: &AppState,
    conn: &impl ConnectionTrait,
    workspace_id: &Id,
    kind: NotificationKind,
) -> AppResult<KindSetting> {
    let read = || super::notification_settings::of_kind(conn, workspace_id, kind);
    state.workspace_config.settings.get_or_read((workspace_id.clone(), kind), state.clock.now(), read).await
}

/// The workspace's own template of a kind, language and tone, if it has one.
pub async fn own_template(
    state: &AppState,
    conn: &impl ConnectionTrait,
    workspace_id: &Id,
    kind: NotificationKind,
    locale: Locale,
    tone: Tone,
) -> AppResult<Option<TemplateSource>> {
    let read = || async { Ok(super::templates::get(conn, workspace_id, kind, locale, tone).await?.map(|t| t.source)) };
    let key = (workspace_id.clone(), kind, locale, tone);
    state.workspace_config.templates.get_or_read(key, state.clock.now(), read).await
}

/// Commits a transaction that changed a workspace's row, notification
/// settings or templates; every replica forgets what it holds
/// (`store::commit_notifying`). The one way to commit such a change.
pub async fn commit_change(state: &AppState, tx: super::Tx) -> AppResult<()> {
    super::commit_notifying(tx, CHANNEL).await?;
    state.workspace_config.forget_all();
    Ok(())
}
