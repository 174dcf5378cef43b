use super::is_unique_violation;
use crate::{
    clock::Timestamp,
    domain::{
        Id,
        page::{Page, PageRequest, page_from},
        workspace::Area,
    },
    error::{AppError, AppResult},
};
use entity::area::{ActiveModel, Column, Entity, Model};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};

fn to_domain(m: Model) -> Area {
    Area { id: Id::from_stored(m.id), name: m.name, created_at: m.created_at }
}

fn duplicate(name: &str) -> AppError {
    AppError::AlreadyExists { resource: "area", description: format!("an area named {name:?} exists already") }
}

pub async fn insert(
    conn: &impl ConnectionTrait,
    workspace_id: &Id,
    id: &Id,
    name: &str,
    now: Timestamp,
) -> AppResult<Area> {
    let row = ActiveModel {
        id: Set(id.to_string()),
        workspace_id: Set(workspace_id.to_string()),
        name: Set(name.to_string()),
        created_at: Set(now),
    };
    match Entity::insert(row).exec_without_returning(conn).await {
        Ok(_) => get(conn, workspace_id, id).await,
        Err(e) if is_unique_violation(&e) => Err(duplicate(name)),
        Err(e) => Err(e.into()),
    }
}

pub async fn get(conn: &impl ConnectionTrait, workspace_id: &Id, id: &Id) -> AppResult<Area> {
    Entity::find_by_id(id.to_string())
        .filter(Column::WorkspaceId.eq(workspace_id.as_str()))
        .one(conn)
        .await?
        .map(to_domain)
        .ok_or_else(|| AppError::not_found("area", id.as_str()))
}

/// Which of `ids` are areas of this workspace.
pub async fn existing(conn: &impl ConnectionTrait, workspace_id: &Id, ids: &[Id]) -> AppResult<Vec<Id>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let rows = Entity::find()
        .filter(Column::WorkspaceId.eq(workspace_id.as_str()))
        .filter(Column::Id.is_in(ids.iter().map(|i| i.to_string())))
        .all(conn)
        .await?;
    Ok(rows.into_iter().map(|m| Id::from_stored(m.id)).collect())
}

#[derive(Serialize, Deserialize)]
pub struct AreaCursor {
    n: String,
    i: String,
}

pub async fn list(
    conn: &impl ConnectionTrait,
    workspace_id: &Id,
    page: PageRequest<AreaCursor>,
) -> AppResult<Page<Area>> {
    let mut q = Entity::find().filter(Column::WorkspaceId.eq(workspace_id.as_str()));
    if let Some(c) = &page.after {
        q = q.filter(
            Condition::any()
                .add(Column::Name.gt(c.n.as_str()))
                .add(Condition::all().add(Column::Name.eq(c.n.as_str())).add(Column::Id.gt(c.i.as_str()))),
        );
    }
    let rows = q.order_by_asc(Column::Name).order_by_asc(Column::Id).limit(page.size + 1).all(conn).await?;
    Ok(page_from(rows.into_iter().map(to_domain).collect(), page.size, |a: &Area| AreaCursor {
        n: a.name.clone(),
        i: a.id.to_string(),
    }))
}

pub async fn rename(conn: &impl ConnectionTrait, workspace_id: &Id, id: &Id, name: &str) -> AppResult<Area> {
    get(conn, workspace_id, id).await?;
    let res = Entity::update_many()
        .col_expr(Column::Name, sea_orm::sea_query::Expr::value(name.to_string()))
        .filter(Column::Id.eq(id.as_str()))
        .filter(Column::WorkspaceId.eq(workspace_id.as_str()))
        .exec(conn)
        .await;
    match res {
        Ok(_) => get(conn, workspace_id, id).await,
        Err(e) if is_unique_violation(&e) => Err(duplicate(name)),
        Err(e) => Err(e.into()),
    }
}

pub async fn delete(conn: &impl ConnectionTrait, workspace_id: &Id, id: &Id) -> AppResult<()> {
    let res = Entity::delete_many()
        .filter(Column::Id.eq(id.as_str()))
        .filter(Column::WorkspaceId.eq(workspace_id.as_str()))
        .exec(conn)
        .await?;
    if res.rows_affected == 0 {
        return Err(AppError::not_found("area", id.as_str()));
    }
    Ok(())
}
