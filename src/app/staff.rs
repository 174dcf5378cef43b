use super::{AppState, Begin, begin_create};
use crate::{
    domain::{
        DisplayName, EmailAddress, Id, Phone, Role, StaffPrincipal,
        page::{Page, PageRequest},
        workspace::{ApiKeyInfo, StaffUser},
    },
    error::{AppError, AppResult, Violations},
    store::{self, TransactionTrait, staff::NewStaffUser},
};

/// A staff user as a caller sends it; on update `None` leaves a field alone.
#[derive(Debug, Default)]
pub struct StaffFields {
    pub email: Option<String>,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub role: Option<Option<Role>>,
    pub area_ids: Option<Vec<String>>,
}

/// Checks that every area exists in the workspace; names the bad ones.
async fn parse_areas(
    conn: &impl sea_orm::ConnectionTrait,
    ws: &Id,
    raw: &[String],
    v: &mut Violations,
) -> AppResult<Vec<Id>> {
    let mut ids = vec![];
    for (i, a) in raw.iter().enumerate() {
        if let Some(id) = v.check(format!("staff_user.area_ids[{i}]"), Id::parse(a))
            && !ids.contains(&id)
        {
            ids.push(id);
        }
    }
    let existing = store::areas::existing(conn, ws, &ids).await?;
    for (i, a) in raw.iter().enumerate() {
        if let Ok(id) = Id::parse(a)
            && !existing.contains(&id)
        {
            v.add(format!("staff_user.area_ids[{i}]"), "is not an area of this workspace");
        }
    }
    Ok(ids)
}

pub async fn create(
    state: &AppState,
    caller: &StaffPrincipal,
    f: StaffFields,
    request: &crate::domain::RequestKeyInput,
) -> AppResult<StaffUser> {
    caller.require_admin()?;
    let ws = &caller.workspace_id;
    let mut v = Violations::new();
    let email = v.check("staff_user.email", EmailAddress::parse(f.email.as_deref().unwrap_or_default()));
    let name = v.check("staff_user.name", DisplayName::parse(f.name.as_deref().unwrap_or_default()));
    let phone = v.check("staff_user.phone", Phone::parse_optional(f.phone.as_deref().unwrap_or_default()));
    let role = f.role.flatten();
    if role.is_none() {
        v.add("staff_user.role", "is required (ADMIN or SUPERVISOR)");
    }
    let raw_areas = f.area_ids.unwrap_or_default();
    if role == Some(Role::Admin) && !raw_areas.is_empty() {
        v.add("staff_user.area_ids", "only supervisors have areas");
    }
    let areas = parse_areas(&state.db, ws, &raw_areas, &mut v).await?;
    let request_id = v.check("request_id", crate::domain::RequestKey::parse(request)).flatten();
    v.into_result()?;
    let (Some(email), Some(name), Some(phone), Some(role)) = (email, name, phone, role) else {
        unreachable!("violations are empty")
    };
    let id = Id::generate();
    let tx = match begin_create(state, ws, "CreateStaffUser", request_id.as_ref(), &id).await? {
        Begin::Replay(existing) => return store::staff::get(&state.db, ws, &existing).await,
        Begin::Fresh(tx) => tx,
    };
    let user = NewStaffUser {
        email,
        name: name.as_str().to_string(),
        phone: phone.map(|p| p.as_str().to_string()).unwrap_or_default(),
        role,
        area_ids: areas,
    };
    let created = store::staff::insert(&tx, ws, &id, &user, state.clock.now()).await?;
    tx.commit().await?;
    Ok(created)
}

pub async fn get(state: &AppState, caller: &StaffPrincipal, id: &str) -> AppResult<StaffUser> {
    let id = Id::parse(id).map_err(|e| AppError::invalid("staff_user_id", e))?;
    store::staff::get(&state.reads, &caller.workspace_id, &id).await
}

pub async fn list(
    state: &AppState,
    caller: &StaffPrincipal,
    role: Option<Role>,
    area_id: &str,
    page: PageRequest<store::staff::StaffCursor>,
) -> AppResult<Page<StaffUser>> {
    let area = Id::parse_optional(area_id).map_err(|e| AppError::invalid("area_id", e))?;
    store::staff::list(&state.reads, &caller.workspace_id, role, area.as_ref(), page).await
}

pub async fn update(
    state: &AppState,
    caller: &StaffPrincipal,
    id: &str,
    f: StaffFields,
    etag: Option<i64>,
) -> AppResult<StaffUser> {
    caller.require_admin()?;
    let ws = &caller.workspace_id;
    let id = Id::parse(id).map_err(|e| AppError::invalid("staff_user.id", e))?;
    let tx = state.db.begin().await?;
    store::workspaces::lock(&tx, ws).await?;
    let mut user = store::staff::get(&tx, ws, &id).await?;
    if let Some(etag) = etag
        && etag != user.version
    {
        return Err(AppError::Aborted("etag does not match: the staff user was changed meanwhile".into()));
    }
    let mut v = Violations::new();
    if let Some(s) = f.email
        && let Some(e) = v.check("staff_user.email", EmailAddress::parse(&s))
    {
        user.email = e;
    }
    if let Some(s) = f.name
        && let Some(n) = v.check("staff_user.name", DisplayName::parse(&s))
    {
        user.name = n.as_str().to_string();
    }
    if let Some(s) = f.phone
        && let Some(p) = v.check("staff_user.phone", Phone::parse_optional(&s))
    {
        user.phone = p.map(|p| p.as_str().to_string()).unwrap_or_default();
    }
    match f.role {
        Some(Some(r)) => {
            if user.role == Role::Admin
                && r != Role::Admin
                && !store::staff::another_admin_can_act(&tx, ws, Some(&user.id), None).await?
            {
                return Err(AppError::precondition(
                    "LAST_ADMIN",
                    "staff_user.role",
                    "the workspace must keep at least one admin with an active API key",
                ));
            }
            user.role = r;
        }
        Some(None) => v.add("staff_user.role", "is required (ADMIN or SUPERVISOR)"),
        None => {}
    }
    match f.area_ids {
        Some(raw) => user.area_ids = parse_areas(&tx, ws, &raw, &mut v).await?,
        // Promoted to admin without naming areas: admins have none.
        None if user.role == Role::Admin => user.area_ids.clear(),
        None => {}
    }
    if user.role == Role::Admin && !user.area_ids.is_empty() {
        v.add("staff_user.area_ids", "only supervisors have areas");
    }
    v.into_result()?;
    let updated = store::staff::update(&tx, ws, &user, state.clock.now()).await?;
    // Role and areas are part of what the user's keys resolve to.
    store::credentials::commit_change(state, tx).await?;
    Ok(updated)
}

pub async fn delete(state: &AppState, caller: &StaffPrincipal, id: &str) -> AppResult<()> {
    caller.require_admin()?;
    let ws = &caller.workspace_id;
    let id = Id::parse(id).map_err(|e| AppError::invalid("staff_user_id", e))?;
    if id == caller.staff_user_id {
        return Err(AppError::precondition("SELF", "staff_user_id", "you cannot delete yourself"));
    }
    let tx = state.db.begin().await?;
    store::workspaces::lock(&tx, ws).await?;
    let user = store::staff::get(&tx, ws, &id).await?;
    if user.role == Role::Admin && !store::staff::another_admin_can_act(&tx, ws, Some(&user.id), None).await? {
        return Err(AppError::precondition(
            "LAST_ADMIN",
            "staff_user_id",
            "the workspace must keep at least one admin with an active API key",
        ));
    }
    store::staff::delete(&tx, ws, &id).await?;
    store::credentials::commit_change(state, tx).await
}

pub async fn create_api_key(
    state: &AppState,
    caller: &StaffPrincipal,
    staff_user_id: &str,
    name: &str,
) -> AppResult<(ApiKeyInfo, String)> {
    caller.require_admin()?;
    let mut v = Violations::new();
    let user_id = v.check("staff_user_id", Id::parse(staff_user_id));
    let name = v.check("name", DisplayName::parse(name));
    v.into_result()?;
    let (Some(user_id), Some(name)) = (user_id, name) else { unreachable!("violations are empty") };
    let ws = &caller.workspace_id;
    store::staff::get(&state.db, ws, &user_id).await?;
    store::api_keys::create(&state.db, ws, &user_id, name.as_str(), state.clock.now()).await
}

pub async fn list_api_keys(
    state: &AppState,
    caller: &StaffPrincipal,
    staff_user_id: &str,
    page: PageRequest<String>,
) -> AppResult<Page<ApiKeyInfo>> {
    let filter = Id::parse_optional(staff_user_id).map_err(|e| AppError::invalid("staff_user_id", e))?;
    // Non-admins see only their own keys.
    let filter = if caller.is_admin() { filter } else { Some(caller.staff_user_id.clone()) };
    store::api_keys::list(&state.reads, &caller.workspace_id, filter.as_ref(), page).await
}

pub async fn revoke_api_key(state: &AppState, caller: &StaffPrincipal, id: &str) -> AppResult<ApiKeyInfo> {
    let id = Id::parse(id).map_err(|e| AppError::invalid("api_key_id", e))?;
    let key = store::api_keys::get(&state.db, &caller.workspace_id, &id).await?;
    if !caller.is_admin() && key.staff_user_id != caller.staff_user_id {
        return Err(AppError::not_found("api key", id.as_str()));
    }
    let tx = state.db.begin().await?;
    // As demoting or deleting an admin: someone must be left who can act.
    store::workspaces::lock(&tx, &caller.workspace_id).await?;
    let owner = store::staff::get(&tx, &caller.workspace_id, &key.staff_user_id).await?;
    if owner.role == Role::Admin
        && key.revoked_at.is_none()
        && !store::staff::another_admin_can_act(&tx, &caller.workspace_id, None, Some(&id)).await?
    {
        return Err(AppError::precondition(
            "LAST_ADMIN_KEY",
            "api_key_id",
            "this is the last active key of the workspace's admins; create another admin key first",
        ));
    }
    let revoked = store::api_keys::revoke(&tx, &caller.workspace_id, &id, state.clock.now()).await?;
    store::credentials::commit_change(state, tx).await?;
    Ok(revoked)
}
