use super::is_unique_violation;
use crate::{
    clock::Timestamp,
    domain::{
        EmailAddress, Id, Role,
        page::{Page, PageRequest, page_from},
        workspace::StaffUser,
    },
    error::{AppError, AppResult},
};
use entity::{api_key, staff_user, staff_user_area};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

fn to_domain(m: staff_user::Model, area_ids: Vec<Id>) -> AppResult<StaffUser> {
    Ok(StaffUser {
        id: Id::from_stored(m.id),
        email: EmailAddress::parse(&m.email).map_err(|e| anyhow::anyhow!("stored staff e-mail {e}"))?,
        name: m.name,
        phone: m.phone,
        role: Role::from_stored(&m.role).ok_or_else(|| anyhow::anyhow!("stored role {:?}", m.role))?,
        area_ids,
        version: m.version,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

fn duplicate(email: &EmailAddress) -> AppError {
    AppError::AlreadyExists {
        resource: "staff user",
        description: format!("a staff user with e-mail {email} exists already"),
    }
}

/// Area ids per staff user, for the given users.
async fn areas_of(conn: &impl ConnectionTrait, user_ids: &[String]) -> AppResult<HashMap<String, Vec<Id>>> {
    let mut map: HashMap<String, Vec<Id>> = HashMap::new();
    if user_ids.is_empty() {
        return Ok(map);
    }
    let rows = staff_user_area::Entity::find()
        .filter(staff_user_area::Column::StaffUserId.is_in(user_ids.iter().cloned()))
        .order_by_asc(staff_user_area::Column::AreaId)
        .all(conn)
        .await?;
    for r in rows {
        map.entry(r.staff_user_id).or_default().push(Id::from_stored(r.area_id));
    }
    Ok(map)
}

pub async fn area_ids(conn: &impl ConnectionTrait, user_id: &Id) -> AppResult<Vec<Id>> {
    Ok(areas_of(conn, &[user_id.to_string()]).await?.remove(user_id.as_str()).unwrap_or_default())
}

async fn set_areas(conn: &impl ConnectionTrait, workspace_id: &Id, user_id: &Id, areas: &[Id]) -> AppResult<()> {
    staff_user_area::Entity::delete_many()
        .filter(staff_user_area::Column::StaffUserId.eq(user_id.as_str()))
        .exec(conn)
        .await?;
    if areas.is_empty() {
        return Ok(());
    }
    staff_user_area::Entity::insert_many(areas.iter().map(|a| staff_user_area::ActiveModel {
        staff_user_id: Set(user_id.to_string()),
        area_id: Set(a.to_string()),
        workspace_id: Set(workspace_id.to_string()),
    }))
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

pub struct NewStaffUser {
    pub email: EmailAddress,
    pub name: String,
    pub phone: String,
    pub role: Role,
    pub area_ids: Vec<Id>,
}

pub async fn insert(
    conn: &impl ConnectionTrait,
    workspace_id: &Id,
    id: &Id,
    u: &NewStaffUser,
    now: Timestamp,
) -> AppResult<StaffUser> {
    let row = staff_user::ActiveModel {
        id: Set(id.to_string()),
        workspace_id: Set(workspace_id.to_string()),
        email: Set(u.email.to_string()),
        name: Set(u.name.clone()),
        phone: Set(u.phone.clone()),
        role: Set(u.role.as_str().into()),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    };
    match staff_user::Entity::insert(row).exec_without_returning(conn).await {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => return Err(duplicate(&u.email)),
        Err(e) => return Err(e.into()),
    }
    set_areas(conn, workspace_id, id, &u.area_ids).await?;
    get(conn, workspace_id, id).await
}

pub async fn get(conn: &impl ConnectionTrait, workspace_id: &Id, id: &Id) -> AppResult<StaffUser> {
    let m = staff_user::Entity::find_by_id(id.to_string())
        .filter(staff_user::Column::WorkspaceId.eq(workspace_id.as_str()))
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("staff user", id.as_str()))?;
    let areas = area_ids(conn, id).await?;
    to_domain(m, areas)
}

#[derive(Serialize, Deserialize)]
pub struct StaffCursor {
    e: String,
    i: String,
}

pub async fn list(
    conn: &impl ConnectionTrait,
    workspace_id: &Id,
    role: Option<Role>,
    area: Option<&Id>,
    page: PageRequest<StaffCursor>,
) -> AppResult<Page<StaffUser>> {
    let mut q = staff_user::Entity::find().filter(staff_user::Column::WorkspaceId.eq(workspace_id.as_str()));
    if let Some(r) = role {
        q = q.filter(staff_user::Column::Role.eq(r.as_str()));
    }
    if let Some(a) = area {
        let members: Vec<String> = staff_user_area::Entity::find()
            .filter(staff_user_area::Column::AreaId.eq(a.as_str()))
            .filter(staff_user_area::Column::WorkspaceId.eq(workspace_id.as_str()))
            .all(conn)
            .await?
            .into_iter()
            .map(|r| r.staff_user_id)
            .collect();
        q = q.filter(staff_user::Column::Id.is_in(members));
    }
    if let Some(c) = &page.after {
        q = q.filter(
            Condition::any().add(staff_user::Column::Email.gt(c.e.as_str())).add(
                Condition::all()
                    .add(staff_user::Column::Email.eq(c.e.as_str()))
                    .add(staff_user::Column::Id.gt(c.i.as_str())),
            ),
        );
    }
    let rows = q
        .order_by_asc(staff_user::Column::Email)
        .order_by_asc(staff_user::Column::Id)
        .limit(page.size + 1)
        .all(conn)
        .await?;
    let mut areas = areas_of(conn, &rows.iter().map(|r| r.id.clone()).collect::<Vec<_>>()).await?;
    let users = rows
        .into_iter()
        .map(|m| {
            let a = areas.remove(&m.id).unwrap_or_default();
            to_domain(m, a)
        })
        .collect::<AppResult<Vec<_>>>()?;
    Ok(page_from(users, page.size, |u: &StaffUser| StaffCursor { e: u.email.to_string(), i: u.id.to_string() }))
}

/// Writes `u` if the stored version is still `u.version`.
pub async fn update(
    conn: &impl ConnectionTrait,
    workspace_id: &Id,
    u: &StaffUser,
    now: Timestamp,
) -> AppResult<StaffUser> {
    let res = staff_user::Entity::update_many()
        .set(staff_user::ActiveModel {
            email: Set(u.email.to_string()),
            name: Set(u.name.clone()),
            phone: Set(u.phone.clone()),
            role: Set(u.role.as_str().into()),
            version: Set(u.version + 1),
            updated_at: Set(now),
            ..Default::default()
        })
        .filter(staff_user::Column::Id.eq(u.id.as_str()))
        .filter(staff_user::Column::WorkspaceId.eq(workspace_id.as_str()))
        .filter(staff_user::Column::Version.eq(u.version))
        .exec(conn)
        .await;
    match res {
        Ok(r) if r.rows_affected == 0 => {
            return Err(AppError::Aborted("the staff user was changed meanwhile; read it again".into()));
        }
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => return Err(duplicate(&u.email)),
        Err(e) => return Err(e.into()),
    }
    let areas = if u.role == Role::Admin { vec![] } else { u.area_ids.clone() };
    set_areas(conn, workspace_id, &u.id, &areas).await?;
    get(conn, workspace_id, &u.id).await
}

pub async fn delete(conn: &impl ConnectionTrait, workspace_id: &Id, id: &Id) -> AppResult<()> {
    let res = staff_user::Entity::delete_many()
        .filter(staff_user::Column::Id.eq(id.as_str()))
        .filter(staff_user::Column::WorkspaceId.eq(workspace_id.as_str()))
        .exec(conn)
        .await?;
    if res.rows_affected == 0 {
        return Err(AppError::not_found("staff user", id.as_str()));
    }
    Ok(())
}

/// Whether the workspace has an admin who can act (one with an active API
/// key) besides `except_user`, and with `except_key` revoked: an admin
/// without a key cannot create one, and there is no other way back in.
pub async fn another_admin_can_act(
    conn: &impl ConnectionTrait,
    workspace_id: &Id,
    except_user: Option<&Id>,
    except_key: Option<&Id>,
) -> AppResult<bool> {
    use sea_orm::PaginatorTrait;
    let mut admins = staff_user::Entity::find()
        .select_only()
        .column(staff_user::Column::Id)
        .filter(staff_user::Column::WorkspaceId.eq(workspace_id.as_str()))
        .filter(staff_user::Column::Role.eq(Role::Admin.as_str()));
    if let Some(u) = except_user {
        admins = admins.filter(staff_user::Column::Id.ne(u.as_str()));
    }
    let admins: Vec<String> = admins.into_tuple().all(conn).await?;
    if admins.is_empty() {
        return Ok(false);
    }
    let mut keys = api_key::Entity::find()
        .filter(api_key::Column::StaffUserId.is_in(admins))
        .filter(api_key::Column::RevokedAt.is_null());
    if let Some(k) = except_key {
        keys = keys.filter(api_key::Column::Id.ne(k.as_str()));
    }
    Ok(keys.count(conn).await? > 0)
}
