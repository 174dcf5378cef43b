//! Punch cards: create, change, register tasks, and the notifications that
//! follow. Every balance change happens under the card's row lock, with the
//! threshold flags updated in the same transaction, so concurrent
//! registrations never lose an update and each crossing notifies once.
use super::{AppState, Begin, begin_create, field_mask::mask_paths};
use crate::{
    domain::{
        DisplayName, HubPrincipal, Id, Locale, Module, StaffPrincipal,
        caller::CustomerScope,
        format::{self, local_today, parse_date, parse_optional_date},
        notification::NotificationKind,
        optional_text,
        page::{Page, PageRequest},
        punch_card::{CardState, PunchCard, Registration, ThresholdFlags, Unit, evaluate_thresholds},
        workspace::Workspace,
    },
    error::{AppError, AppResult, Violations},
    notify::{self, Audience, CustomerEvent, Dispatched},
    store::{self, TransactionTrait, Tx},
};
use chrono::NaiveDate;
use std::collections::BTreeMap;

const MAX_AMOUNT: i64 = 1_000_000_000;

/// A card as a caller sends it.
#[derive(Debug, Default, Clone)]
pub struct CardFields {
    pub customer_id: String,
    pub name: String,
    pub unit: Option<Unit>,
    pub total: i64,
    pub start_date: String,
    pub expiry_date: String,
    pub notify: Option<bool>,
}

/// The customer's language, for the texts of a notification.
async fn locale_of(tx: &Tx, ws: &Workspace, customer_id: &Id) -> AppResult<Locale> {
    Ok(store::customers::locale(tx, &ws.id, customer_id).await?.unwrap_or(ws.default_locale))
}

fn card_vars(card: &PunchCard, locale: Locale) -> BTreeMap<String, String> {
    let mut v = BTreeMap::new();
    v.insert("card_name".into(), card.name.clone());
    v.insert("card_total".into(), card.unit.format(card.total, locale));
    v.insert("punches_left".into(), card.unit.format(card.remaining().max(0), locale));
    v.insert("start_date".into(), format::date(card.start_date, locale));
    v.insert("expiry_date".into(), card.expiry_date.map(|d| format::date(d, locale)).unwrap_or_default());
    v.insert("overdrawn_by".into(), card.unit.format((-card.remaining()).max(0), locale));
    v
}

fn event(
    kind: NotificationKind,
    card: &PunchCard,
    per_item: Option<bool>,
    vars: BTreeMap<String, String>,
) -> CustomerEvent {
    CustomerEvent {
        kind,
        customer_id: card.customer_id.clone(),
        per_item,
        vars,
        link_path: format!("/punch-cards/{}", card.id),
    }
}

/// Re-evaluates the thresholds after a balance change; dispatches what fired
/// to `audience` (read here when the caller has not read it and one fired).
async fn after_balance_change(
    state: &AppState,
    tx: &Tx,
    ws: &Workspace,
    card: &mut PunchCard,
    audience: Option<&Audience>,
    out: &mut Vec<Dispatched>,
) -> AppResult<()> {
    let fired = cross_thresholds(ws, card);
    if fired.is_empty() {
        return Ok(());
    }
    let read;
    let audience = match audience {
        Some(a) => a,
        None => {
            read = Audience::read(tx, ws, &card.customer_id).await?;
            &read
        }
    };
    let locale = audience.locale(ws);
    for kind in fired {
        out.push(notify::dispatch_to(state, tx, ws, audience, threshold_event(ws, card, kind, locale)).await?);
    }
    Ok(())
}

/// Sets the card's threshold flags for its balance; returns the thresholds
/// this change crossed (each fires once per crossing).
pub(super) fn cross_thresholds(ws: &Workspace, card: &mut PunchCard) -> Vec<NotificationKind> {
    let (flags, fired) =
        evaluate_thresholds(card.remaining(), card.unit.threshold(ws.punches_low_threshold), card.flags);
    card.flags = flags;
    fired
}

/// The notification of a threshold the card crossed.
pub(super) fn threshold_event(
    ws: &Workspace,
    card: &PunchCard,
    kind: NotificationKind,
    locale: Locale,
) -> CustomerEvent {
    let mut vars = card_vars(card, locale);
    vars.insert("booking_link".into(), ws.booking_url.clone());
    event(kind, card, None, vars)
}

pub(super) fn announce(state: &AppState, all: &[Dispatched]) {
    for d in all {
        d.announce(state);
    }
}

fn check_amount(v: &mut Violations, field: &str, n: i64) {
    if n <= 0 {
        v.add(field, "must be more than 0");
    } else if n > MAX_AMOUNT {
        v.add(field, "is too large");
    }
}

fn check_dates(v: &mut Violations, start: Option<NaiveDate>, expiry: Option<NaiveDate>) {
    if let (Some(s), Some(e)) = (start, expiry)
        && e <= s
    {
        v.add("punch_card.expiry_date", "must be after the start date");
    }
}

pub async fn create(
    state: &AppState,
    caller: &StaffPrincipal,
    f: CardFields,
    request: &crate::domain::RequestKeyInput,
) -> AppResult<PunchCard> {
    let mut v = Violations::new();
    let customer_id = v.check("punch_card.customer_id", Id::parse(&f.customer_id));
    let name = v.check("punch_card.name", DisplayName::parse(&f.name));
    if f.unit.is_none() {
        v.add("punch_card.unit", "is required (PUNCHES or HOURS)");
    }
    check_amount(&mut v, "punch_card.total", f.total);
    let start = v.check("punch_card.start_date", parse_date(&f.start_date));
    let expiry = v.check("punch_card.expiry_date", parse_optional_date(&f.expiry_date)).flatten();
    check_dates(&mut v, start, expiry);
    let request_id = v.check("request_id", crate::domain::RequestKey::parse(request)).flatten();
    v.into_result()?;
    let (Some(customer_id), Some(name), Some(unit), Some(start)) = (customer_id, name, f.unit, start) else {
        unreachable!("violations are empty")
    };
    let ws_id = &caller.workspace_id;
    let scope = caller.scope();
    store::customers::get(&state.db, &scope, &customer_id).await?;
    let id = Id::generate();
    let tx = match begin_create(state, ws_id, "CreatePunchCard", request_id.as_ref(), &id).await? {
        Begin::Replay(existing) => return store::punch_cards::get(&state.db, &scope, &existing, false).await,
        Begin::Fresh(tx) => tx,
    };
    let now = state.clock.now();
    let card = PunchCard {
        id: id.clone(),
        customer_id,
        name: name.as_str().to_string(),
        unit,
        total: f.total,
        used: 0,
        start_date: start,
        expiry_date: expiry,
        created_by: Some(caller.staff_user_id.clone()),
        notify: f.notify,
        flags: ThresholdFlags::default(),
        expiring_fired: false,
        expired_fired: false,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    store::punch_cards::insert(&tx, ws_id, &card).await?;
    let ws = store::workspace_config::workspace(state, &tx, ws_id).await?;
    let locale = locale_of(&tx, &ws, &card.customer_id).await?;
    let d = notify::dispatch(
        state,
        &tx,
        &ws,
        event(NotificationKind::CardCreated, &card, card.notify, card_vars(&card, locale)),
    )
    .await?;
    tx.commit().await?;
    d.announce(state);
    store::punch_cards::get(&state.db, &scope, &id, false).await
}

fn card_id(field: &str, raw: &str) -> AppResult<Id> {
    Id::parse(raw).map_err(|e| AppError::invalid(field, e))
}

pub async fn get(state: &AppState, caller: &StaffPrincipal, id: &str) -> AppResult<PunchCard> {
    store::punch_cards::get(&state.reads, &caller.scope(), &card_id("punch_card_id", id)?, false).await
}

/// Today in the workspace's time zone: what "expired" is measured against.
pub async fn today(state: &AppState, workspace_id: &Id) -> AppResult<NaiveDate> {
    let ws = store::workspace_config::workspace(state, &state.reads, workspace_id).await?;
    Ok(local_today(state.clock.now(), ws.time_zone.0))
}

pub async fn list(
    state: &AppState,
    caller: &StaffPrincipal,
    customer_id: &str,
    filter: Option<CardState>,
    page: PageRequest<String>,
) -> AppResult<Page<PunchCard>> {
    let customer_id = card_id("customer_id", customer_id)?;
    store::customers::get(&state.reads, &caller.scope(), &customer_id).await?;
    let today = today(state, &caller.workspace_id).await?;
    store::punch_cards::list(&state.reads, &customer_id, filter, today, page).await
}

pub const CARD_MASK_PATHS: &[&str] = &["name", "total", "start_date", "expiry_date"];

pub async fn update(
    state: &AppState,
    caller: &StaffPrincipal,
    id: &str,
    f: CardFields,
    mask: &[String],
    etag: Option<i64>,
) -> AppResult<PunchCard> {
    let id = card_id("punch_card.id", id)?;
    let paths =
        mask_paths(mask, CARD_MASK_PATHS, &["id", "customer_id", "unit", "used", "remaining", "state", "notify"])?;
    let tx = state.db.begin().await?;
    let mut card = store::punch_cards::get(&tx, &caller.scope(), &id, true).await?;
    if etag.is_some_and(|e| e != card.version) {
        return Err(AppError::Aborted("etag does not match: the punch card was changed meanwhile".into()));
    }
    let mut v = Violations::new();
    let (old_total, old_expiry) = (card.total, card.expiry_date);
    for p in &paths {
        match p.as_str() {
            "name" => {
                if let Some(n) = v.check("punch_card.name", DisplayName::parse(&f.name)) {
                    card.name = n.as_str().to_string();
                }
            }
            "total" => {
                check_amount(&mut v, "punch_card.total", f.total);
                card.total = f.total;
            }
            "start_date" => {
                if let Some(d) = v.check("punch_card.start_date", parse_date(&f.start_date)) {
                    card.start_date = d;
                }
            }
            "expiry_date" => {
                if let Some(d) = v.check("punch_card.expiry_date", parse_optional_date(&f.expiry_date)) {
                    card.expiry_date = d;
                }
            }
            _ => {}
        }
    }
    check_dates(&mut v, Some(card.start_date), card.expiry_date);
    v.into_result()?;
    if card.expiry_date != old_expiry {
        // A new expiry date is a new countdown.
        card.expiring_fired = false;
        card.expired_fired = false;
    }
    let ws = store::workspace_config::workspace(state, &tx, &caller.workspace_id).await?;
    let mut dispatched = vec![];
    if card.total != old_total {
        after_balance_change(state, &tx, &ws, &mut card, None, &mut dispatched).await?;
    }
    let saved = store::punch_cards::save(&tx, &caller.workspace_id, &card, state.clock.now()).await?;
    tx.commit().await?;
    announce(state, &dispatched);
    Ok(saved)
}

pub async fn delete(state: &AppState, caller: &StaffPrincipal, id: &str) -> AppResult<()> {
    let id = card_id("punch_card_id", id)?;
    let tx = state.db.begin().await?;
    store::punch_cards::get(&tx, &caller.scope(), &id, true).await?;
    store::punch_cards::delete(&tx, &caller.workspace_id, &id).await?;
    tx.commit().await?;
    Ok(())
}

/// A registration as a caller sends it.
#[derive(Debug, Default, Clone)]
pub struct RegistrationFields {
    pub date: String,
    pub description: String,
    pub amount: i64,
    pub notify: Option<bool>,
}

/// A registration with its card after it, and the workspace's local date
/// (the card's state in the answer depends on it).
pub struct Registered {
    pub registration: Registration,
    pub card: PunchCard,
    pub today: NaiveDate,
}

pub async fn register(
    state: &AppState,
    caller: &StaffPrincipal,
    card_id_raw: &str,
    f: RegistrationFields,
    request: &crate::domain::RequestKeyInput,
) -> AppResult<Registered> {
    let mut v = Violations::new();
    let id = v.check("punch_card_id", Id::parse(card_id_raw));
    let date = v.check("date", parse_optional_date(&f.date)).flatten();
    let description = v.check("description", optional_text(&f.description, 2000));
    check_amount(&mut v, "amount", f.amount);
    let request_id = v.check("request_id", crate::domain::RequestKey::parse(request)).flatten();
    v.into_result()?;
    let (Some(card_id), Some(description)) = (id, description) else { unreachable!("violations are empty") };
    let input = NewRegistration { id: Id::generate(), card_id, date, description, amount: f.amount, notify: f.notify };
    match request_id {
        // Registrations arriving together share one transaction.
        None => super::registration_batch::submit(state, caller, input).await,
        // The key row decides replays, so a keyed registration goes alone.
        Some(request_id) => register_one(state, caller, input, Some(&request_id)).await,
    }
}

/// A registration checked and ready to write.
#[derive(Debug, Clone)]
pub(super) struct NewRegistration {
    pub id: Id,
    pub card_id: Id,
    pub date: Option<NaiveDate>,
    pub description: String,
    pub amount: i64,
    pub notify: Option<bool>,
}

/// One registration in a transaction of its own.
pub(super) async fn register_one(
    state: &AppState,
    caller: &StaffPrincipal,
    input: NewRegistration,
    request_id: Option<&crate::domain::RequestKey>,
) -> AppResult<Registered> {
    let ws_id = &caller.workspace_id;
    let scope = caller.scope();
    let id = &input.card_id;
    // A card the caller cannot see is NOT_FOUND whatever the request_id: a
    // replay checks it first; a fresh registration finds out in its
    // transaction, which then writes nothing (not even the request_id).
    let tx = match begin_create(state, ws_id, "RegisterPunch", request_id, &input.id).await? {
        Begin::Replay(existing) => {
            store::punch_cards::get(&state.db, &scope, id, false).await?;
            let r = store::punch_cards::get_registration(&state.db, ws_id, &existing).await?;
            let card = store::punch_cards::get(&state.db, &scope, &r.punch_card_id, false).await?;
            return Ok(Registered { registration: r, card, today: today(state, ws_id).await? });
        }
        Begin::Fresh(tx) => tx,
    };
    let mut card = store::punch_cards::get(&tx, &scope, id, true).await?;
    let ws = store::workspace_config::workspace(state, &tx, ws_id).await?;
    let today = local_today(state.clock.now(), ws.time_zone.0);
    check_not_expired(&ws, &card, today)?;
    let now = state.clock.now();
    let reg = registration(caller, input, &card, today, now);
    store::punch_cards::insert_registration(&tx, ws_id, &reg).await?;
    card.used += reg.amount;
    // Read once for the registration's texts and for every notification it causes.
    let audience = Audience::read(&tx, &ws, &card.customer_id).await?;
    let registered = registered_event(&card, &reg, audience.locale(&ws));
    let mut dispatched = vec![notify::dispatch_to(state, &tx, &ws, &audience, registered).await?];
    after_balance_change(state, &tx, &ws, &mut card, Some(&audience), &mut dispatched).await?;
    let card = store::punch_cards::save(&tx, ws_id, &card, now).await?;
    tx.commit().await?;
    announce(state, &dispatched);
    Ok(Registered { registration: reg, card, today })
}

/// Refuses a registration on an expired card unless the workspace allows it.
pub(super) fn check_not_expired(ws: &Workspace, card: &PunchCard, today: NaiveDate) -> AppResult<()> {
    if card.is_expired_on(today) && !ws.allow_expired_card_registration {
        return Err(AppError::precondition(
            "CARD_EXPIRED",
            format!("punch-cards/{}", card.id),
            format!(
                "the card expired on {}; the workspace does not allow registering on expired cards",
                card.expiry_date.map(format::api_date).unwrap_or_default()
            ),
        ));
    }
    Ok(())
}

/// The registration as stored; its date defaults to the workspace's today.
pub(super) fn registration(
    caller: &StaffPrincipal,
    input: NewRegistration,
    card: &PunchCard,
    today: NaiveDate,
    now: crate::clock::Timestamp,
) -> Registration {
    Registration {
        id: input.id,
        punch_card_id: input.card_id,
        customer_id: card.customer_id.clone(),
        date: input.date.unwrap_or(today),
        description: input.description,
        amount: input.amount,
        registered_by: Some(caller.staff_user_id.clone()),
        notify: input.notify,
        version: 1,
        created_at: now,
        updated_at: now,
    }
}

/// The "registered" notification; `card` already includes the registration.
pub(super) fn registered_event(card: &PunchCard, reg: &Registration, locale: Locale) -> CustomerEvent {
    let mut vars = card_vars(card, locale);
    vars.insert("registration_date".into(), format::date(reg.date, locale));
    vars.insert("registration_description".into(), reg.description.clone());
    vars.insert("registration_amount".into(), card.unit.format(reg.amount, locale));
    event(NotificationKind::PunchRegistered, card, reg.notify, vars)
}

pub async fn list_registrations(
    state: &AppState,
    caller: &StaffPrincipal,
    card: &str,
    page: PageRequest<String>,
) -> AppResult<Page<Registration>> {
    let id = card_id("punch_card_id", card)?;
    store::punch_cards::get(&state.reads, &caller.scope(), &id, false).await?;
    store::punch_cards::list_registrations(&state.reads, &id, page).await
}

pub const REGISTRATION_MASK_PATHS: &[&str] = &["date", "description", "amount"];

/// Loads a registration and locks its card, both within the caller's scope.
/// The registration is read again once the card is locked: a change queued
/// behind another on the same card must see what that one left (a second
/// delete finds nothing; a delete after a correction takes back the
/// corrected amount).
async fn locked(tx: &Tx, caller: &StaffPrincipal, id: &Id) -> AppResult<(Registration, PunchCard)> {
    let r = store::punch_cards::get_registration(tx, &caller.workspace_id, id).await?;
    let card = match store::punch_cards::get(tx, &caller.scope(), &r.punch_card_id, true).await {
        Ok(card) => card,
        Err(AppError::NotFound { .. }) => return Err(AppError::not_found("registration", id.as_str())),
        Err(e) => return Err(e),
    };
    Ok((store::punch_cards::get_registration(tx, &caller.workspace_id, id).await?, card))
}

pub async fn update_registration(
    state: &AppState,
    caller: &StaffPrincipal,
    id: &str,
    f: RegistrationFields,
    mask: &[String],
    etag: Option<i64>,
) -> AppResult<(Registration, PunchCard)> {
    let id = card_id("registration.id", id)?;
    let paths = mask_paths(mask, REGISTRATION_MASK_PATHS, &["id", "punch_card_id", "notify"])?;
    let tx = state.db.begin().await?;
    let (mut reg, mut card) = locked(&tx, caller, &id).await?;
    if etag.is_some_and(|e| e != reg.version) {
        return Err(AppError::Aborted("etag does not match: the registration was changed meanwhile".into()));
    }
    let mut v = Violations::new();
    let old_amount = reg.amount;
    for p in &paths {
        match p.as_str() {
            "date" => {
                if let Some(d) = v.check("registration.date", parse_date(&f.date)) {
                    reg.date = d;
                }
            }
            "description" => {
                if let Some(d) = v.check("registration.description", optional_text(&f.description, 2000)) {
                    reg.description = d;
                }
            }
            "amount" => {
                check_amount(&mut v, "registration.amount", f.amount);
                reg.amount = f.amount;
            }
            _ => {}
        }
    }
    v.into_result()?;
    let now = state.clock.now();
    let reg = store::punch_cards::save_registration(&tx, &caller.workspace_id, &reg, now).await?;
    let mut dispatched = vec![];
    if reg.amount != old_amount {
        let ws = store::workspace_config::workspace(state, &tx, &caller.workspace_id).await?;
        // Raising an amount uses more of the card, as a registration does;
        // lowering one (a correction in the customer's favour) is always allowed.
        if reg.amount > old_amount {
            check_not_expired(&ws, &card, local_today(now, ws.time_zone.0))?;
        }
        card.used += reg.amount - old_amount;
        after_balance_change(state, &tx, &ws, &mut card, None, &mut dispatched).await?;
    }
    let card = store::punch_cards::save(&tx, &caller.workspace_id, &card, now).await?;
    tx.commit().await?;
    announce(state, &dispatched);
    Ok((reg, card))
}

pub async fn delete_registration(state: &AppState, caller: &StaffPrincipal, id: &str) -> AppResult<PunchCard> {
    let id = card_id("registration_id", id)?;
    let tx = state.db.begin().await?;
    let (reg, mut card) = locked(&tx, caller, &id).await?;
    store::punch_cards::delete_registration(&tx, &caller.workspace_id, &id).await?;
    card.used -= reg.amount;
    let ws = store::workspace_config::workspace(state, &tx, &caller.workspace_id).await?;
    let mut dispatched = vec![];
    after_balance_change(state, &tx, &ws, &mut card, None, &mut dispatched).await?;
    let card = store::punch_cards::save(&tx, &caller.workspace_id, &card, state.clock.now()).await?;
    tx.commit().await?;
    announce(state, &dispatched);
    Ok(card)
}

/// The HUB shows cards only to customers with the punch-card module.
async fn hub_scope(state: &AppState, caller: &HubPrincipal) -> AppResult<CustomerScope> {
    let scope = CustomerScope { workspace_id: caller.workspace_id.clone(), areas: None };
    let customer = store::customers::get(&state.db, &scope, &caller.customer_id).await?;
    if !customer.modules.contains(&Module::PunchCards) {
        return Err(AppError::PermissionDenied("the punch-card module is not enabled for this customer".into()));
    }
    Ok(scope)
}

pub async fn hub_list(
    state: &AppState,
    caller: &HubPrincipal,
    page: PageRequest<String>,
) -> AppResult<Page<PunchCard>> {
    hub_scope(state, caller).await?;
    let today = today(state, &caller.workspace_id).await?;
    store::punch_cards::list(&state.reads, &caller.customer_id, None, today, page).await
}

pub async fn hub_registrations(
    state: &AppState,
    caller: &HubPrincipal,
    card: &str,
    page: PageRequest<String>,
) -> AppResult<Page<Registration>> {
    let scope = hub_scope(state, caller).await?;
    let id = card_id("punch_card_id", card)?;
    let c = store::punch_cards::get(&state.db, &scope, &id, false).await?;
    if c.customer_id != caller.customer_id {
        return Err(AppError::not_found("punch card", id.as_str()));
    }
    store::punch_cards::list_registrations(&state.db, &id, page).await
}
