//! Notification settings, templates and delivery history (staff side).
use super::AppState;
use crate::{
    clock::Timestamp,
    domain::{
        Id, Locale, StaffPrincipal, Tone,
        inbox::Delivery,
        notification::{KindSetting, NotificationKind, NotificationSettings},
        page::{Page, PageRequest},
    },
    error::{AppError, AppResult, Violations},
    mail::templates::{self, Rendered, TemplateSource},
    store::{self, TransactionTrait},
};

pub async fn get_settings(state: &AppState, caller: &StaffPrincipal) -> AppResult<NotificationSettings> {
    caller.require_admin()?;
    store::notification_settings::get(&state.reads, &caller.workspace_id).await
}

pub struct SettingsUpdate {
    pub settings: Vec<KindSetting>,
    pub punches_low_threshold: Option<i32>,
    pub expiring_days_before: Option<i32>,
}

pub async fn update_settings(
    state: &AppState,
    caller: &StaffPrincipal,
    u: SettingsUpdate,
) -> AppResult<NotificationSettings> {
    caller.require_admin()?;
    let mut v = Violations::new();
    for (i, s) in u.settings.iter().enumerate() {
        if !s.kind.is_automatic() {
            v.add(format!("settings[{i}].kind"), format!("{} is not an automatic notification", s.kind.as_str()));
        }
        if u.settings[..i].iter().any(|o| o.kind == s.kind) {
            v.add(format!("settings[{i}].kind"), "appears twice");
        }
    }
    if u.punches_low_threshold.is_some_and(|n| !(0..=10_000).contains(&n)) {
        v.add("punches_low_threshold", "must be between 0 and 10000");
    }
    if u.expiring_days_before.is_some_and(|n| !(1..=365).contains(&n)) {
        v.add("expiring_days_before", "must be between 1 and 365");
    }
    v.into_result()?;
    let tx = state.db.begin().await?;
    for s in &u.settings {
        store::notification_settings::upsert(&tx, &caller.workspace_id, s).await?;
    }
    store::notification_settings::set_thresholds(
        &tx,
        &caller.workspace_id,
        u.punches_low_threshold,
        u.expiring_days_before,
    )
    .await?;
    store::workspace_config::commit_change(state, tx).await?;
    store::notification_settings::get(&state.db, &caller.workspace_id).await
}

/// Which template: all three are required.
pub struct TemplateKey {
    pub kind: Option<NotificationKind>,
    pub locale: Option<Locale>,
    pub tone: Option<Tone>,
}

fn key(k: &TemplateKey, v: &mut Violations) -> Option<(NotificationKind, Locale, Tone)> {
    if k.kind.is_none() {
        v.add("template.kind", "is required");
    }
    if k.locale.is_none() {
        v.add("template.locale", "is required");
    }
    if k.tone.is_none() {
        v.add("template.tone", "is required");
    }
    Some((k.kind?, k.locale?, k.tone?))
}

pub struct TemplateView {
    pub kind: NotificationKind,
    pub locale: Locale,
    pub tone: Tone,
    pub source: TemplateSource,
    pub customized: bool,
    pub placeholders: Vec<&'static str>,
    pub updated_at: Option<Timestamp>,
}

async fn view(
    state: &AppState,
    ws: &Id,
    kind: NotificationKind,
    locale: Locale,
    tone: Tone,
) -> AppResult<TemplateView> {
    let stored = store::templates::get(&state.db, ws, kind, locale, tone).await?;
    let (source, customized, updated_at) = match stored {
        Some(s) => (s.source, true, Some(s.updated_at)),
        None => (TemplateSource::default_for(kind, locale, tone), false, None),
    };
    Ok(TemplateView { kind, locale, tone, source, customized, placeholders: templates::placeholders(kind), updated_at })
}

pub async fn get_template(state: &AppState, caller: &StaffPrincipal, k: TemplateKey) -> AppResult<TemplateView> {
    caller.require_admin()?;
    let mut v = Violations::new();
    let key = key(&k, &mut v);
    v.into_result()?;
    let (kind, locale, tone) = key.expect("checked");
    view(state, &caller.workspace_id, kind, locale, tone).await
}

pub async fn update_template(
    state: &AppState,
    caller: &StaffPrincipal,
    k: TemplateKey,
    source: TemplateSource,
) -> AppResult<TemplateView> {
    caller.require_admin()?;
    let mut v = Violations::new();
    let key = key(&k, &mut v);
    if let Some((kind, _, _)) = key {
        v.extend(state.templates.validate(kind, &source));
    }
    v.into_result()?;
    let (kind, locale, tone) = key.expect("checked");
    let tx = state.db.begin().await?;
    store::templates::save(
        &tx,
        &caller.workspace_id,
        kind,
        locale,
        tone,
        &source,
        &caller.staff_user_id,
        state.clock.now(),
    )
    .await?;
    store::workspace_config::commit_change(state, tx).await?;
    view(state, &caller.workspace_id, kind, locale, tone).await
}

pub async fn reset_template(state: &AppState, caller: &StaffPrincipal, k: TemplateKey) -> AppResult<TemplateView> {
    caller.require_admin()?;
    let mut v = Violations::new();
    let key = key(&k, &mut v);
    v.into_result()?;
    let (kind, locale, tone) = key.expect("checked");
    let tx = state.db.begin().await?;
    store::templates::delete(&tx, &caller.workspace_id, kind, locale, tone).await?;
    store::workspace_config::commit_change(state, tx).await?;
    view(state, &caller.workspace_id, kind, locale, tone).await
}

/// Renders the given text (checked like a save) or the template in use, with sample data.
pub async fn preview(
    state: &AppState,
    caller: &StaffPrincipal,
    k: TemplateKey,
    source: Option<TemplateSource>,
) -> AppResult<Rendered> {
    // Templates are the admins' (GetTemplate): a preview of the one in use
    // shows its text too.
    caller.require_admin()?;
    let mut v = Violations::new();
    let key = key(&k, &mut v);
    if let (Some((kind, _, _)), Some(s)) = (key, &source) {
        v.extend(state.templates.validate(kind, s));
    }
    v.into_result()?;
    let (kind, locale, tone) = key.expect("checked");
    let source = match source {
        Some(s) => s,
        None => view(state, &caller.workspace_id, kind, locale, tone).await?.source,
    };
    state
        .templates
        .render(&source, templates::sample_vars(kind))
        .map_err(|e| AppError::invalid("template.body", format!("does not render: {e}")))
}

pub async fn list_deliveries(
    state: &AppState,
    caller: &StaffPrincipal,
    customer_id: &str,
    contact_id: &str,
    page: PageRequest<String>,
) -> AppResult<Page<Delivery>> {
    let mut v = Violations::new();
    let customer = v.check("customer_id", Id::parse(customer_id));
    let contact = v.check("contact_id", Id::parse_optional(contact_id)).flatten();
    v.into_result()?;
    let customer = customer.expect("checked");
    store::customers::require_visible(&state.reads, &caller.scope(), &customer).await?;
    store::outbox::history(&state.reads, &caller.workspace_id, &customer, contact.as_ref(), page).await
}

pub async fn failed_deliveries(
    state: &AppState,
    caller: &StaffPrincipal,
    page: PageRequest<String>,
) -> AppResult<Page<Delivery>> {
    caller.require_admin()?;
    store::outbox::failed(&state.db, &caller.workspace_id, page).await
}

fn parse_ids(ids: &[String]) -> AppResult<Vec<Id>> {
    let mut v = Violations::new();
    let parsed =
        ids.iter().enumerate().filter_map(|(i, s)| v.check(format!("delivery_ids[{i}]"), Id::parse(s))).collect();
    v.into_result()?;
    Ok(parsed)
}

/// Queues failed deliveries again; the worker is woken at once.
pub async fn retry_deliveries(state: &AppState, caller: &StaffPrincipal, ids: &[String], all: bool) -> AppResult<u64> {
    caller.require_admin()?;
    let n = if all {
        store::outbox::retry_failed(&state.db, &caller.workspace_id, None, state.clock.now()).await?
    } else {
        if ids.is_empty() {
            return Err(AppError::invalid("delivery_ids", "name at least one delivery, or set `all_failed`"));
        }
        let ids = parse_ids(ids)?;
        let tx = state.db.begin().await?;
        require_known(&tx, caller, &ids).await?;
        let n = store::outbox::retry_failed(&tx, &caller.workspace_id, Some(&ids), state.clock.now()).await?;
        tx.commit().await?;
        n
    };
    state.outbox_signal.notify_one();
    Ok(n)
}

pub async fn cancel_deliveries(state: &AppState, caller: &StaffPrincipal, ids: &[String]) -> AppResult<u64> {
    caller.require_admin()?;
    if ids.is_empty() {
        return Err(AppError::invalid("delivery_ids", "name at least one delivery"));
    }
    let ids = parse_ids(ids)?;
    let tx = state.db.begin().await?;
    require_known(&tx, caller, &ids).await?;
    let n = store::outbox::cancel_queued(&tx, &caller.workspace_id, &ids, state.clock.now()).await?;
    tx.commit().await?;
    Ok(n)
}

/// Every named delivery is the workspace's (else NOT_FOUND, nothing changed);
/// one that is in another state is merely not counted.
async fn require_known(tx: &crate::store::Tx, caller: &StaffPrincipal, ids: &[Id]) -> AppResult<()> {
    match store::outbox::first_unknown(tx, &caller.workspace_id, ids).await? {
        Some(id) => Err(AppError::not_found("delivery", id.as_str())),
        None => Ok(()),
    }
}
