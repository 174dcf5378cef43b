//! Resolves a bearer token to the caller it belongs to.
use crate::{
    app::AppState,
    auth::{credential_cache, tokens},
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
    let key_hash = tokens::hash(token);
    let now = state.clock.now();
    let ticket = match state.credentials.get(&key_hash, now) {
        Ok(principal) => return Ok(Caller::Staff(principal)),
        Err(ticket) => ticket,
    };
    let caller = read_api_key(&state.reads, &key_hash).await?;
    if let (Some(ticket), Caller::Staff(principal)) = (ticket, &caller) {
        state.credentials.remember(ticket, key_hash, principal.clone(), now);
    }
    Ok(caller)
}

/// Commits a transaction that changed what API keys resolve to (a revoke, a
/// user's role or areas, a deleted user or area); every replica forgets the
/// keys it holds (`store::commit_notifying`). The one way to commit such a change.
pub async fn commit_change(state: &AppState, tx: super::Tx) -> AppResult<()> {
    super::commit_notifying(tx, credential_cache::CHANNEL).await?;
    state.credentials.forget_all();
    Ok(())
}

async fn read_api_key(db: &impl ConnectionTrait, key_hash: &str) -> AppResult<Caller> {
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
        .filter(api_key::Column::SecretHash.eq(key_hash))
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
        return Ok(Caller::Invalid);
    };
    let Some(role) = Role::from_stored(&key.role) else {
        return Ok(Caller::Invalid);
    };
    let staff_user_id = Id::from_stored(key.staff_user_id);
    let area_ids = if role == Role::Admin { vec![] } else { super::staff::area_ids(db, &staff_user_id).await? };
    Ok(Caller::Staff(StaffPrincipal {
        workspace_id: Id::from_stored(key.workspace_id),
        staff_user_id,
        api_key_id: Id::from_stored(key.key_id),
        role,
        area_ids,
    }))
}

/// A session counts only while it is unexpired and both the contact and its
/// customer still have HUB access.
async fn resolve_hub(state: &AppState, token: &str) -> AppResult<Caller> {
    let db = &state.reads;
    let now = state.clock.now();
    let Some(session) = hub_session::Entity::find()
        .filter(hub_session::Column::TokenHash.eq(tokens::hash(token)))
        .filter(hub_session::Column::ExpiresAt.gt(now))
        .one(db)
        .await?
    else {
        return Ok(Caller::Invalid);
    };
    let Some(contact) = contact::Entity::find_by_id(session.contact_id.clone()).one(db).await? else {
        return Ok(Caller::Invalid);
    };
    let Some(customer) = customer::Entity::find_by_id(contact.customer_id.clone()).one(db).await? else {
        return Ok(Caller::Invalid);
    };
    if !contact.hub_access || !customer.hub_access {
        return Ok(Caller::Invalid);
    }
    Ok(Caller::Hub(HubPrincipal {
        workspace_id: Id::from_stored(session.workspace_id),
        customer_id: Id::from_stored(customer.id),
        contact_id: Id::from_stored(contact.id),
        session_id: Id::from_stored(session.id),
    }))
}
