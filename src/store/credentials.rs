//! Resolves a bearer token to the caller it belongs to.
use crate::{
    app::AppState,
    auth::tokens,
    domain::{Caller, HubPrincipal, Id, Role, StaffPrincipal},
    error::AppResult,
};
use entity::{api_key, contact, customer, hub_session, staff_user};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

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

async fn resolve_api_key(state: &AppState, token: &str) -> AppResult<Caller> {
    let db = &state.db;
    let Some(key) = api_key::Entity::find()
        .filter(api_key::Column::SecretHash.eq(tokens::hash(token)))
        .filter(api_key::Column::RevokedAt.is_null())
        .one(db)
        .await?
    else {
        return Ok(Caller::Invalid);
    };
    let Some(user) = staff_user::Entity::find_by_id(key.staff_user_id.clone())
        .filter(staff_user::Column::WorkspaceId.eq(key.workspace_id.as_str()))
        .one(db)
        .await?
    else {
        return Ok(Caller::Invalid);
    };
    let Some(role) = Role::from_stored(&user.role) else {
        return Ok(Caller::Invalid);
    };
    let staff_user_id = Id::from_stored(user.id);
    let area_ids = if role == Role::Admin { vec![] } else { super::staff::area_ids(db, &staff_user_id).await? };
    Ok(Caller::Staff(StaffPrincipal {
        workspace_id: Id::from_stored(key.workspace_id),
        staff_user_id,
        api_key_id: Id::from_stored(key.id),
        role,
        area_ids,
    }))
}

/// A session counts only while it is unexpired and both the contact and its
/// customer still have HUB access.
async fn resolve_hub(state: &AppState, token: &str) -> AppResult<Caller> {
    let db = &state.db;
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
