//! Resolves a bearer token to the caller it belongs to.
use crate::{
    app::AppState,
    auth::{credential_cache, tokens},
    clock::Timestamp,
    domain::{Caller, HubPrincipal, Id, Role, StaffPrincipal},
    error::AppResult,
};
use entity::{api_key, contact, customer, hub_session, staff_user};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, JoinType, QueryFilter, QuerySelect,
    sea_query::{Expr, ExprTrait},
};

pub async fn resolve(state: &AppState, token: &str) -> Caller {
    let result = if token.starts_with(tokens::HUB_SESSION_PREFIX) {
        resolve_hub(state, token).await
    } else if token.starts_with(tokens::API_KEY_PREFIX) {
        resolve_api_key(state, token).await
    } else {
        Ok(Caller::Invalid)
    };
    result.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "could not check credentials");
        Caller::Unavailable
    })
}

/// An active key with its staff user, read in one query: every staff call
/// starts here, so it is on the path measured in BENCHMARKS.md.
#[derive(FromQueryResult)]
struct ActiveKey {
    key_id: String,
    workspace_id: String,
    staff_user_id: String,
    role: String,
}

async fn resolve_api_key(state: &AppState, token: &str) -> AppResult<Caller> {
    Ok(match resolve_api_key_hash(state, tokens::hash(token)).await? {
        Some(principal) => Caller::Staff(principal),
        None => Caller::Invalid,
    })
}

/// The staff caller of the active key whose secret hashes to `key_hash`.
/// Keys that resolve are kept a moment (`auth::credential_cache`); every
/// staff call and every staff stream's heartbeat asks here.
pub async fn resolve_api_key_hash(state: &AppState, key_hash: String) -> AppResult<Option<StaffPrincipal>> {
    let now = state.clock.now();
    let ticket = match state.credentials.get(&key_hash, now) {
        Ok(principal) => return Ok(Some(principal)),
        Err(ticket) => ticket,
    };
    let principal = read_api_key(&state.reads, key_hash).await?;
    if let (Some(ticket), Some(principal)) = (ticket, &principal) {
        state.credentials.remember(ticket, principal.key_hash.clone(), principal.clone(), now);
    }
    Ok(principal)
}

/// Commits a transaction that changed what API keys resolve to (a revoke, a
/// user's role or areas, a deleted user or area); every replica forgets the
/// keys it holds (`store::commit_notifying`). The one way to commit such a change.
pub async fn commit_change(state: &AppState, tx: super::Tx) -> AppResult<()> {
    super::commit_notifying(tx, credential_cache::CHANNEL).await?;
    state.credentials.forget_all();
    Ok(())
}

async fn read_api_key(db: &impl ConnectionTrait, key_hash: String) -> AppResult<Option<StaffPrincipal>> {
    let Some(key) = api_key::Entity::find()
        .select_only()
        .column_as(api_key::Column::Id, "key_id")
        .column(api_key::Column::WorkspaceId)
        .column(api_key::Column::StaffUserId)
        .column_as(staff_user::Column::Role, "role")
        .join(
            JoinType::InnerJoin,
            api_key::Entity::belongs_to(staff_user::Entity)
                .from(api_key::Column::StaffUserId)
                .to(staff_user::Column::Id)
                .into(),
        )
        .filter(api_key::Column::SecretHash.eq(key_hash.as_str()))
        .filter(api_key::Column::RevokedAt.is_null())
        // The user must be of the key's workspace.
        .filter(
            Expr::col((staff_user::Entity, staff_user::Column::WorkspaceId))
                .equals((api_key::Entity, api_key::Column::WorkspaceId)),
        )
        .into_model::<ActiveKey>()
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let Some(role) = Role::from_stored(&key.role) else {
        return Ok(None);
    };
    let staff_user_id = Id::from_stored(key.staff_user_id);
    let area_ids = if role == Role::Admin { vec![] } else { super::staff::area_ids(db, &staff_user_id).await? };
    Ok(Some(StaffPrincipal {
        workspace_id: Id::from_stored(key.workspace_id),
        staff_user_id,
        api_key_id: Id::from_stored(key.key_id),
        role,
        area_ids,
        key_hash,
    }))
}

async fn resolve_hub(state: &AppState, token: &str) -> AppResult<Caller> {
    Ok(match resolve_hub_session(state, tokens::hash(token)).await? {
        Some(principal) => Caller::Hub(principal),
        None => Caller::Invalid,
    })
}

/// The session whose token hashes to `token_hash`, if it counts: unexpired,
/// and both the contact and its customer still have HUB access. Sessions
/// that count are kept a moment (`auth::hub_session_cache`, inside
/// `CustomerCache`); every HUB call and every live stream's heartbeat asks here.
pub async fn resolve_hub_session(state: &AppState, token_hash: String) -> AppResult<Option<HubPrincipal>> {
    let now = state.clock.now();
    let sessions = state.customers.hub_sessions();
    let ticket = match sessions.get(&token_hash, now) {
        Ok(principal) => return Ok(Some(principal)),
        Err(ticket) => ticket,
    };
    let Some(session) = read_hub_session(&state.reads, &token_hash, now).await? else {
        return Ok(None);
    };
    let expires_at = session.expires_at;
    let principal = HubPrincipal {
        workspace_id: Id::from_stored(session.workspace_id),
        customer_id: Id::from_stored(session.customer_id),
        contact_id: Id::from_stored(session.contact_id),
        session_id: Id::from_stored(session.session_id),
        token_hash,
    };
    if let Some(ticket) = ticket {
        sessions.remember(ticket, principal.token_hash.clone(), principal.clone(), expires_at, now);
    }
    Ok(Some(principal))
}

/// A session that counts, with whose it is, read in one query.
#[derive(FromQueryResult)]
struct ActiveSession {
    session_id: String,
    workspace_id: String,
    contact_id: String,
    customer_id: String,
    expires_at: Timestamp,
}

async fn read_hub_session(
    db: &impl ConnectionTrait,
    token_hash: &str,
    now: Timestamp,
) -> AppResult<Option<ActiveSession>> {
    Ok(hub_session::Entity::find()
        .select_only()
        .column_as(hub_session::Column::Id, "session_id")
        .column(hub_session::Column::WorkspaceId)
        .column(hub_session::Column::ContactId)
        .column_as(contact::Column::CustomerId, "customer_id")
        .column(hub_session::Column::ExpiresAt)
        .join(
            JoinType::InnerJoin,
            hub_session::Entity::belongs_to(contact::Entity)
                .from(hub_session::Column::ContactId)
                .to(contact::Column::Id)
                .into(),
        )
        .join(
            JoinType::InnerJoin,
            contact::Entity::belongs_to(customer::Entity)
                .from(contact::Column::CustomerId)
                .to(customer::Column::Id)
                .into(),
        )
        .filter(hub_session::Column::TokenHash.eq(token_hash))
        .filter(hub_session::Column::ExpiresAt.gt(now))
        .filter(contact::Column::HubAccess.eq(true))
        .filter(customer::Column::HubAccess.eq(true))
        .into_model::<ActiveSession>()
        .one(db)
        .await?)
}
