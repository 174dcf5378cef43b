use crate::{
    auth::tokens,
    clock::Timestamp,
    domain::{
        Id,
        page::{Page, PageRequest, page_from},
        workspace::ApiKeyInfo,
    },
    error::{AppError, AppResult},
};
use entity::api_key::{ActiveModel, Column, Entity, Model};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

fn to_domain(m: Model) -> ApiKeyInfo {
    ApiKeyInfo {
        id: Id::from_stored(m.id),
        staff_user_id: Id::from_stored(m.staff_user_id),
        name: m.name,
        prefix: m.prefix,
        created_at: m.created_at,
        revoked_at: m.revoked_at,
    }
}

/// Stores a new key and returns it with its secret, which is not kept.
pub async fn create(
    conn: &impl ConnectionTrait,
    workspace_id: &Id,
    staff_user_id: &Id,
    name: &str,
    now: Timestamp,
) -> AppResult<(ApiKeyInfo, String)> {
    let secret = tokens::new_api_key();
    let id = Id::generate();
    let row = ActiveModel {
        id: Set(id.to_string()),
        workspace_id: Set(workspace_id.to_string()),
        staff_user_id: Set(staff_user_id.to_string()),
        name: Set(name.to_string()),
        prefix: Set(tokens::display_prefix(&secret)),
        secret_hash: Set(tokens::hash(&secret)),
        created_at: Set(now),
        revoked_at: Set(None),
    };
    Entity::insert(row).exec_without_returning(conn).await?;
    Ok((get(conn, workspace_id, &id).await?, secret))
}

pub async fn get(conn: &impl ConnectionTrait, workspace_id: &Id, id: &Id) -> AppResult<ApiKeyInfo> {
    Entity::find_by_id(id.to_string())
        .filter(Column::WorkspaceId.eq(workspace_id.as_str()))
        .one(conn)
        .await?
        .map(to_domain)
        .ok_or_else(|| AppError::not_found("api key", id.as_str()))
}

pub async fn list(
    conn: &impl ConnectionTrait,
    workspace_id: &Id,
    staff_user_id: Option<&Id>,
    page: PageRequest<String>,
) -> AppResult<Page<ApiKeyInfo>> {
    let mut q = Entity::find().filter(Column::WorkspaceId.eq(workspace_id.as_str()));
    if let Some(u) = staff_user_id {
        q = q.filter(Column::StaffUserId.eq(u.as_str()));
    }
    if let Some(after) = &page.after {
        q = q.filter(Column::Id.gt(after.as_str()));
    }
    let rows = q.order_by_asc(Column::Id).limit(page.size + 1).all(conn).await?;
    Ok(page_from(rows.into_iter().map(to_domain).collect(), page.size, |k: &ApiKeyInfo| k.id.to_string()))
}

pub async fn revoke(conn: &impl ConnectionTrait, workspace_id: &Id, id: &Id, now: Timestamp) -> AppResult<ApiKeyInfo> {
    Entity::update_many()
        .col_expr(Column::RevokedAt, sea_orm::sea_query::Expr::value(now))
        .filter(Column::Id.eq(id.as_str()))
        .filter(Column::WorkspaceId.eq(workspace_id.as_str()))
        .filter(Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    get(conn, workspace_id, id).await
}
