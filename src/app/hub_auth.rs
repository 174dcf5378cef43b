//! HUB login: activation with the welcome mail's token, password login and
//! logout. Wrong credentials all answer alike, so nobody learns who has an account.
use super::AppState;
use crate::{
    auth::tokens,
    clock::Timestamp,
    domain::{
        EmailAddress, HubPrincipal, Id, Locale, Module, Password, caller::CustomerScope, contact::Contact,
        customer::Customer,
    },
    error::{AppError, AppResult, Violations},
    store::{self, TransactionTrait, customer_cache::Changed},
};
use chrono::Duration;

pub struct HubSession {
    pub token: String,
    pub expires_at: Timestamp,
    pub profile: HubProfile,
}

pub struct HubProfile {
    pub contact: Contact,
    pub customer: Customer,
    pub locale: Locale,
    pub modules: Vec<Module>,
}

/// The contact's profile, read through the customer cache: it is the first
/// call of every HUB page, and read on the writer it queued behind every
/// write on SQLite (BENCHMARKS.md, fix 37). Activation, login and every
/// change to the customer or its contacts commit through the cache's
/// `commit_change`, so what it finds is current.
async fn profile(state: &AppState, workspace_id: &Id, customer_id: &Id, contact_id: &Id) -> AppResult<HubProfile> {
    let scope = CustomerScope { workspace_id: workspace_id.clone(), areas: None };
    let found = store::customer_cache::get(state, &scope, customer_id).await?;
    let contact = found
        .contacts
        .iter()
        .find(|c| c.id == *contact_id)
        .cloned()
        .ok_or_else(|| AppError::not_found("contact", contact_id.as_str()))?;
    let workspace = store::workspace_config::workspace(state, &state.reads, workspace_id).await?;
    let customer = found.customer.clone();
    Ok(HubProfile {
        locale: customer.locale.unwrap_or(workspace.default_locale),
        modules: customer.modules.clone(),
        contact,
        customer,
    })
}

fn bad_link() -> AppError {
    AppError::Unauthenticated("the activation link is unknown, used, replaced by a newer one, or expired".into())
}

pub async fn activate(state: &AppState, token: &str, password: &str) -> AppResult<HubSession> {
    let mut v = Violations::new();
    if token.trim().is_empty() {
        v.add("token", "is required");
    }
    let password = v.check("password", Password::parse(password));
    v.into_result()?;
    let password = password.expect("checked");
    let token_hash = tokens::hash(token.trim());
    let now = state.clock.now();
    let target = store::contacts::find_by_activation(&state.db, &token_hash, now).await?.ok_or_else(bad_link)?;
    let scope = CustomerScope { workspace_id: target.workspace_id.clone(), areas: None };
    let customer = store::customers::get(&state.db, &scope, &target.customer_id).await?;
    if !customer.hub_access || !target.hub_access {
        return Err(AppError::PermissionDenied("HUB access is switched off for this contact".into()));
    }
    let hash = state.passwords.hash(&password).await?;
    let expires_at = now + Duration::hours(state.settings.session_ttl_hours);
    let tx = state.db.begin().await?;
    if !store::contacts::activate(&tx, &target.contact_id, &token_hash, &hash, now).await? {
        return Err(bad_link());
    }
    // A new password (a resent welcome link is how one is reset) ends the
    // sessions made with the old one: on a lost phone, or by whoever knew it.
    store::sessions::delete_for_contact(&tx, &target.contact_id).await?;
    let token = store::sessions::create(&tx, &target.workspace_id, &target.contact_id, now, expires_at).await?;
    store::customer_cache::commit_change(state, tx, Changed::Customer(&target.customer_id)).await?;
    Ok(HubSession {
        token,
        expires_at,
        profile: profile(state, &target.workspace_id, &target.customer_id, &target.contact_id).await?,
    })
}

pub async fn login(
    state: &AppState,
    workspace_id: &str,
    email: &str,
    password: &str,
    customer_id: &str,
) -> AppResult<HubSession> {
    let mut v = Violations::new();
    let ws = v.check("workspace_id", Id::parse(workspace_id));
    let email = v.check("email", EmailAddress::parse(email));
    if password.is_empty() {
        v.add("password", "is required");
    }
    let customer_id = v.check("customer_id", Id::parse_optional(customer_id)).flatten();
    v.into_result()?;
    let (Some(ws), Some(email)) = (ws, email) else { unreachable!("violations are empty") };
    if !state.login_throttle.allows(&ws, email.as_str()) {
        return Err(AppError::ResourceExhausted(
            "too many login attempts for this e-mail; wait a minute and try again".into(),
        ));
    }
    let wrong = || AppError::Unauthenticated("wrong e-mail or password".into());
    let scope = CustomerScope { workspace_id: ws.clone(), areas: None };
    let mut candidates = vec![];
    for c in store::contacts::login_candidates(&state.db, &ws, email.as_str()).await? {
        if customer_id.as_ref().is_some_and(|id| *id != c.customer_id) {
            continue;
        }
        match store::customers::get(&state.db, &scope, &c.customer_id).await {
            Ok(customer) if customer.hub_access => candidates.push(c),
            Ok(_) | Err(AppError::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    if candidates.is_empty() {
        state.passwords.verify_dummy(password).await;
        return Err(wrong());
    }
    let mut matching = vec![];
    for c in candidates {
        if state.passwords.verify(password, &c.password_hash).await? {
            matching.push(c);
        }
    }
    let chosen = match matching.len() {
        0 => return Err(wrong()),
        1 => matching.remove(0),
        _ => {
            return Err(AppError::precondition(
                "SEVERAL_CUSTOMERS",
                "customer_id",
                format!(
                    "this e-mail is a contact of several customers; log in again with customer_id set to one of: {}",
                    matching.iter().map(|c| c.customer_id.to_string()).collect::<Vec<_>>().join(", ")
                ),
            ));
        }
    };
    let now = state.clock.now();
    let expires_at = now + Duration::hours(state.settings.session_ttl_hours);
    let tx = state.db.begin().await?;
    store::contacts::record_login(&tx, &chosen.contact_id, now).await?;
    let token = store::sessions::create(&tx, &ws, &chosen.contact_id, now, expires_at).await?;
    store::customer_cache::commit_change(state, tx, Changed::Customer(&chosen.customer_id)).await?;
    Ok(HubSession { token, expires_at, profile: profile(state, &ws, &chosen.customer_id, &chosen.contact_id).await? })
}

/// Ends the caller's session, on every replica (the session cache is
/// forgotten with its customer).
pub async fn logout(state: &AppState, caller: &HubPrincipal) -> AppResult<()> {
    let tx = state.db.begin().await?;
    store::sessions::delete(&tx, &caller.session_id).await?;
    store::customer_cache::commit_change(state, tx, Changed::Customer(&caller.customer_id)).await
}

pub async fn get_profile(state: &AppState, caller: &HubPrincipal) -> AppResult<HubProfile> {
    profile(state, &caller.workspace_id, &caller.customer_id, &caller.contact_id).await
}
