use super::AppState;
use crate::{
    domain::{
        DisplayName, EmailAddress, HttpUrl, Id, Locale, StaffPrincipal, TimeZone, Tone, currency_code,
        page::{Page, PageRequest},
        workspace::{Area, SmsPayer, Workspace},
    },
    error::{AppError, AppResult, Violations},
    store::{self, TransactionTrait, customer_cache::Changed},
};

pub async fn get(state: &AppState, caller: &StaffPrincipal) -> AppResult<Workspace> {
    store::workspaces::get(&state.reads, &caller.workspace_id).await
}

/// Workspace settings as a caller sends them; `None` leaves a field alone.
#[derive(Debug, Default)]
pub struct WorkspacePatch {
    pub name: Option<String>,
    pub time_zone: Option<String>,
    pub default_locale: Option<Option<Locale>>,
    pub default_tone: Option<Option<Tone>>,
    pub sender_name: Option<String>,
    pub sender_email: Option<String>,
    pub hub_base_url: Option<String>,
    pub booking_url: Option<String>,
    pub sms_enabled: Option<bool>,
    pub sms_price_minor: Option<i64>,
    pub sms_currency: Option<String>,
    pub book_again_sms_payer: Option<SmsPayer>,
    pub allow_expired_card_registration: Option<bool>,
    pub etag: Option<i64>,
}

pub async fn update(state: &AppState, caller: &StaffPrincipal, patch: WorkspacePatch) -> AppResult<Workspace> {
    caller.require_admin()?;
    let tx = state.db.begin().await?;
    let mut w = store::workspaces::get(&tx, &caller.workspace_id).await?;
    if let Some(etag) = patch.etag
        && etag != w.version
    {
        return Err(AppError::Aborted("etag does not match: the workspace was changed meanwhile".into()));
    }
    let expected = w.version;
    let old_time_zone = w.time_zone.0;
    let mut v = Violations::new();
    let f = |n: &str| format!("workspace.{n}");
    if let Some(s) = patch.name {
        w.name = v.check(f("name"), DisplayName::parse(&s)).map(|n| n.as_str().to_string()).unwrap_or_default();
    }
    if let Some(s) = patch.time_zone
        && let Some(tz) = v.check(f("time_zone"), TimeZone::parse(&s))
    {
        w.time_zone = tz;
    }
    match patch.default_locale {
        Some(Some(l)) => w.default_locale = l,
        Some(None) => v.add(f("default_locale"), "is required"),
        None => {}
    }
    match patch.default_tone {
        Some(Some(t)) => w.default_tone = t,
        Some(None) => v.add(f("default_tone"), "is required"),
        None => {}
    }
    if let Some(s) = patch.sender_name {
        w.sender_name =
            v.check(f("sender_name"), DisplayName::parse(&s)).map(|n| n.as_str().to_string()).unwrap_or_default();
    }
    if let Some(s) = patch.sender_email
        && let Some(e) = v.check(f("sender_email"), EmailAddress::parse(&s))
    {
        w.sender_email = e;
    }
    if let Some(s) = patch.hub_base_url
        && let Some(u) = v.check(f("hub_base_url"), HttpUrl::parse(&s))
    {
        w.hub_base_url = u.as_str().to_string();
    }
    if let Some(s) = patch.booking_url
        && let Some(u) = v.check(f("booking_url"), HttpUrl::parse_optional(&s))
    {
        w.booking_url = u.map(|u| u.as_str().to_string()).unwrap_or_default();
    }
    if let Some(b) = patch.sms_enabled {
        w.sms_enabled = b;
    }
    if let Some(p) = patch.sms_price_minor {
        if p < 0 {
            v.add(f("sms_price_minor"), "must not be negative");
        }
        w.sms_price_minor = p;
    }
    if let Some(s) = patch.sms_currency
        && let Some(c) = v.check(f("sms_currency"), currency_code(&s))
    {
        w.sms_currency = c;
    }
    if let Some(p) = patch.book_again_sms_payer {
        w.book_again_sms_payer = p;
    }
    if let Some(b) = patch.allow_expired_card_registration {
        w.allow_expired_card_registration = b;
    }
    v.into_result()?;
    let now = state.clock.now();
    let updated = store::workspaces::update(&tx, &w, expected, now).await?;
    if updated.time_zone.0 != old_time_zone {
        super::reminders::follow_time_zone(state, &tx, &updated, old_time_zone).await?;
    }
    store::workspace_config::commit_change(state, tx).await?;
    Ok(updated)
}

pub async fn create_area(
    state: &AppState,
    caller: &StaffPrincipal,
    name: &str,
    request: &crate::domain::RequestKeyInput,
) -> AppResult<Area> {
    caller.require_admin()?;
    let mut v = Violations::new();
    let name = v.check("name", DisplayName::parse(name));
    let request_id = v.check("request_id", crate::domain::RequestKey::parse(request)).flatten();
    v.into_result()?;
    let name = name.expect("checked");
    let ws = &caller.workspace_id;
    let id = Id::generate();
    let tx = match super::begin_create(state, ws, "CreateArea", request_id.as_ref(), &id).await? {
        super::Begin::Replay(existing) => return store::areas::get(&state.db, ws, &existing).await,
        super::Begin::Fresh(tx) => tx,
    };
    let now = state.clock.now();
    let area = store::areas::insert(&tx, ws, &id, name.as_str(), now).await?;
    tx.commit().await?;
    Ok(area)
}

pub async fn list_areas(
    state: &AppState,
    caller: &StaffPrincipal,
    page: PageRequest<store::areas::AreaCursor>,
) -> AppResult<Page<Area>> {
    store::areas::list(&state.reads, &caller.workspace_id, page).await
}

pub async fn rename_area(state: &AppState, caller: &StaffPrincipal, id: &str, name: &str) -> AppResult<Area> {
    caller.require_admin()?;
    let mut v = Violations::new();
    let id = v.check("area_id", Id::parse(id));
    let name = v.check("name", DisplayName::parse(name));
    v.into_result()?;
    store::areas::rename(&state.db, &caller.workspace_id, &id.expect("checked"), name.expect("checked").as_str()).await
}

pub async fn delete_area(state: &AppState, caller: &StaffPrincipal, id: &str) -> AppResult<()> {
    caller.require_admin()?;
    let id = Id::parse(id).map_err(|e| AppError::invalid("area_id", e))?;
    let tx = state.db.begin().await?;
    store::areas::delete(&tx, &caller.workspace_id, &id).await?;
    // Its customers move out of it (the foreign key sets their area to none).
    store::customer_cache::announce(&tx, &Changed::All).await?;
    // Supervisors of the area lose it from what their keys resolve to.
    store::credentials::commit_change(state, tx).await?;
    state.customers.forget(&Changed::All);
    Ok(())
}
