//! Punch cards and their registrations.
use crate::{
    clock::Timestamp,
    domain::{
        Id,
        caller::CustomerScope,
        page::{Page, PageRequest, page_from},
        punch_card::{CardState, PunchCard, Registration, ThresholdFlags, Unit},
    },
    error::{AppError, AppResult},
};
use chrono::NaiveDate;
use entity::{punch_card as card, punch_registration as reg};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait},
};

fn card_out(m: card::Model) -> PunchCard {
    PunchCard {
        id: Id::from_stored(m.id),
        customer_id: Id::from_stored(m.customer_id),
        name: m.name,
        unit: Unit::from_stored(&m.unit),
        total: m.total,
        used: m.used,
        start_date: m.start_date,
        expiry_date: m.expiry_date,
        created_by: m.created_by.map(Id::from_stored),
        notify: m.notify,
        flags: ThresholdFlags { low: m.low_fired, used_up: m.used_up_fired, overdrawn: m.overdrawn_fired },
        expiring_fired: m.expiring_fired,
        expired_fired: m.expired_fired,
        version: m.version,
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

fn card_row(workspace_id: &Id, c: &PunchCard) -> card::ActiveModel {
    card::ActiveModel {
        id: Set(c.id.to_string()),
        workspace_id: Set(workspace_id.to_string()),
        customer_id: Set(c.customer_id.to_string()),
        name: Set(c.name.clone()),
        unit: Set(c.unit.as_str().into()),
        total: Set(c.total),
        used: Set(c.used),
        start_date: Set(c.start_date),
        expiry_date: Set(c.expiry_date),
        created_by: Set(c.created_by.as_ref().map(Id::to_string)),
        notify: Set(c.notify),
        low_fired: Set(c.flags.low),
        used_up_fired: Set(c.flags.used_up),
        overdrawn_fired: Set(c.flags.overdrawn),
        expiring_fired: Set(c.expiring_fired),
        expired_fired: Set(c.expired_fired),
        version: Set(c.version),
        created_at: Set(c.created_at),
        updated_at: Set(c.updated_at),
    }
}

fn reg_out(m: reg::Model) -> Registration {
    Registration {
        id: Id::from_stored(m.id),
        punch_card_id: Id::from_stored(m.punch_card_id),
        customer_id: Id::from_stored(m.customer_id),
        date: m.performed_on,
        description: m.description,
        amount: m.amount,
        registered_by: m.registered_by.map(Id::from_stored),
        notify: m.notify,
        version: m.version,
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

pub async fn insert(conn: &impl ConnectionTrait, workspace_id: &Id, c: &PunchCard) -> AppResult<()> {
    card::Entity::insert(card_row(workspace_id, c)).exec_without_returning(conn).await?;
    Ok(())
}

/// A card of a customer the scope may see; `lock` takes the row lock
/// (PostgreSQL) that serialises balance changes on one card.
pub async fn get(conn: &impl ConnectionTrait, scope: &CustomerScope, id: &Id, lock: bool) -> AppResult<PunchCard> {
    let mut q =
        card::Entity::find_by_id(id.to_string()).filter(card::Column::WorkspaceId.eq(scope.workspace_id.as_str()));
    if lock && super::is_postgres(conn) {
        q = q.lock_exclusive();
    }
    let c = q.one(conn).await?.map(card_out).ok_or_else(|| AppError::not_found("punch card", id.as_str()))?;
    match super::customers::require_owner_visible(conn, scope, &c.customer_id).await {
        Ok(_) => Ok(c),
        Err(AppError::NotFound { .. }) => Err(AppError::not_found("punch card", id.as_str())),
        Err(e) => Err(e),
    }
}

/// Writes the card if the stored version is still `c.version`; bumps it.
pub async fn save(
    conn: &impl ConnectionTrait,
    workspace_id: &Id,
    c: &PunchCard,
    now: Timestamp,
) -> AppResult<PunchCard> {
    let mut row = card_row(workspace_id, c);
    row.version = Set(c.version + 1);
    row.updated_at = Set(now);
    row.created_at = NotSet;
    // The stored card comes back from the UPDATE itself (RETURNING).
    let saved = card::Entity::update_many()
        .set(row)
        .filter(card::Column::Id.eq(c.id.as_str()))
        .filter(card::Column::WorkspaceId.eq(workspace_id.as_str()))
        .filter(card::Column::Version.eq(c.version))
        .exec_with_returning(conn)
        .await?;
    saved
        .into_iter()
        .next()
        .map(card_out)
        .ok_or_else(|| AppError::Aborted("the punch card was changed meanwhile; read it again".into()))
}

pub async fn delete(conn: &impl ConnectionTrait, workspace_id: &Id, id: &Id) -> AppResult<()> {
    card::Entity::delete_many()
        .filter(card::Column::Id.eq(id.as_str()))
        .filter(card::Column::WorkspaceId.eq(workspace_id.as_str()))
        .exec(conn)
        .await?;
    Ok(())
}

/// A customer's cards, newest first, optionally only those in `state` on `today`.
pub async fn list(
    conn: &impl ConnectionTrait,
    customer_id: &Id,
    state: Option<CardState>,
    today: NaiveDate,
    page: PageRequest<String>,
) -> AppResult<Page<PunchCard>> {
    let mut q = card::Entity::find().filter(card::Column::CustomerId.eq(customer_id.as_str()));
    let used = Expr::col(card::Column::Used);
    let total = Expr::col(card::Column::Total);
    let not_expired = Condition::any().add(card::Column::ExpiryDate.is_null()).add(card::Column::ExpiryDate.gt(today));
    q = match state {
        None => q,
        Some(CardState::Overdrawn) => q.filter(used.gt(total)),
        Some(CardState::UsedUp) => q.filter(used.eq(total)),
        Some(CardState::Expired) => q.filter(used.lt(total)).filter(card::Column::ExpiryDate.lte(today)),
        Some(CardState::Active) => q.filter(used.lt(total)).filter(not_expired),
    };
    if let Some(before) = &page.after {
        q = q.filter(card::Column::Id.lt(before.as_str()));
    }
    let rows = q.order_by_desc(card::Column::Id).limit(page.size + 1).all(conn).await?;
    Ok(page_from(rows.into_iter().map(card_out).collect(), page.size, |c: &PunchCard| c.id.to_string()))
}

/// Cards of a workspace whose expiring or expired notification may be due on `today`.
pub async fn expiry_candidates(
    conn: &impl ConnectionTrait,
    workspace_id: &Id,
    horizon: NaiveDate,
) -> AppResult<Vec<PunchCard>> {
    Ok(card::Entity::find()
        .filter(card::Column::WorkspaceId.eq(workspace_id.as_str()))
        .filter(card::Column::ExpiryDate.lte(horizon))
        .filter(Condition::any().add(card::Column::ExpiringFired.eq(false)).add(card::Column::ExpiredFired.eq(false)))
        .filter(Expr::col(card::Column::Used).lt(Expr::col(card::Column::Total)))
        .all(conn)
        .await?
        .into_iter()
        .map(card_out)
        .collect())
}

/// Sets an expiry flag if it is still unset; true when this call set it.
/// The conditional update is the exactly-once guarantee across replicas.
pub async fn claim_expiry_flag(conn: &impl ConnectionTrait, id: &Id, expired: bool) -> AppResult<bool> {
    let col = if expired { card::Column::ExpiredFired } else { card::Column::ExpiringFired };
    let res = card::Entity::update_many()
        .col_expr(col, Expr::value(true))
        .filter(card::Column::Id.eq(id.as_str()))
        .filter(col.eq(false))
        .exec(conn)
        .await?;
    Ok(res.rows_affected == 1)
}

pub async fn insert_registration(conn: &impl ConnectionTrait, workspace_id: &Id, r: &Registration) -> AppResult<()> {
    insert_registrations(conn, &[(workspace_id, r)]).await
}

/// Registrations of any workspaces, in one statement.
pub async fn insert_registrations(conn: &impl ConnectionTrait, regs: &[(&Id, &Registration)]) -> AppResult<()> {
    if regs.is_empty() {
        return Ok(());
    }
    reg::Entity::insert_many(regs.iter().map(|(workspace_id, r)| registration_row(workspace_id, r)))
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

fn registration_row(workspace_id: &Id, r: &Registration) -> reg::ActiveModel {
    reg::ActiveModel {
        id: Set(r.id.to_string()),
        workspace_id: Set(workspace_id.to_string()),
        punch_card_id: Set(r.punch_card_id.to_string()),
        customer_id: Set(r.customer_id.to_string()),
        performed_on: Set(r.date),
        description: Set(r.description.clone()),
        amount: Set(r.amount),
        registered_by: Set(r.registered_by.as_ref().map(Id::to_string)),
        notify: Set(r.notify),
        version: Set(r.version),
        created_at: Set(r.created_at),
        updated_at: Set(r.updated_at),
    }
}

pub async fn get_registration(conn: &impl ConnectionTrait, workspace_id: &Id, id: &Id) -> AppResult<Registration> {
    reg::Entity::find_by_id(id.to_string())
        .filter(reg::Column::WorkspaceId.eq(workspace_id.as_str()))
        .one(conn)
        .await?
        .map(reg_out)
        .ok_or_else(|| AppError::not_found("registration", id.as_str()))
}

pub async fn list_registrations(
    conn: &impl ConnectionTrait,
    card_id: &Id,
    page: PageRequest<String>,
) -> AppResult<Page<Registration>> {
    let mut q = reg::Entity::find().filter(reg::Column::PunchCardId.eq(card_id.as_str()));
    if let Some(before) = &page.after {
        q = q.filter(reg::Column::Id.lt(before.as_str()));
    }
    let rows = q.order_by_desc(reg::Column::Id).limit(page.size + 1).all(conn).await?;
    Ok(page_from(rows.into_iter().map(reg_out).collect(), page.size, |r: &Registration| r.id.to_string()))
}

pub async fn save_registration(
    conn: &impl ConnectionTrait,
    workspace_id: &Id,
    r: &Registration,
    now: Timestamp,
) -> AppResult<Registration> {
    let res = reg::Entity::update_many()
        .col_expr(reg::Column::PerformedOn, Expr::value(r.date))
        .col_expr(reg::Column::Description, Expr::value(r.description.clone()))
        .col_expr(reg::Column::Amount, Expr::value(r.amount))
        .col_expr(reg::Column::Version, Expr::value(r.version + 1))
        .col_expr(reg::Column::UpdatedAt, Expr::value(now))
        .filter(reg::Column::Id.eq(r.id.as_str()))
        .filter(reg::Column::WorkspaceId.eq(workspace_id.as_str()))
        .filter(reg::Column::Version.eq(r.version))
        .exec(conn)
        .await?;
    if res.rows_affected == 0 {
        return Err(AppError::Aborted("the registration was changed meanwhile; read it again".into()));
    }
    get_registration(conn, workspace_id, &r.id).await
}

pub async fn delete_registration(conn: &impl ConnectionTrait, workspace_id: &Id, id: &Id) -> AppResult<()> {
    reg::Entity::delete_many()
        .filter(reg::Column::Id.eq(id.as_str()))
        .filter(reg::Column::WorkspaceId.eq(workspace_id.as_str()))
        .exec(conn)
        .await?;
    Ok(())
}

/// Cards by id with their workspace, whatever the caller: a registration
/// batch (`app::registration_batch`) checks each caller's scope itself. On
/// PostgreSQL the rows are locked in id order, so two batches cannot
/// deadlock on each other's cards.
pub async fn lock_many(conn: &impl ConnectionTrait, ids: &[&Id]) -> AppResult<Vec<(Id, PunchCard)>> {
    let mut q = card::Entity::find()
        .filter(card::Column::Id.is_in(ids.iter().map(|id| id.as_str())))
        .order_by_asc(card::Column::Id);
    if super::is_postgres(conn) {
        q = q.lock_exclusive();
    }
    Ok(q.all(conn).await?.into_iter().map(|m| (Id::from_stored(m.workspace_id.clone()), card_out(m))).collect())
}

/// Writes the balances and flags of cards locked by `lock_many`, each with
/// its version and `updated_at` already advanced: one statement for all of
/// them (an upsert whose rows all exist, so every row is an update).
pub async fn save_balances(conn: &impl ConnectionTrait, cards: &[(&Id, &PunchCard)]) -> AppResult<()> {
    if cards.is_empty() {
        return Ok(());
    }
    let rows = cards.iter().map(|(ws, c)| card_row(ws, c));
    card::Entity::insert_many(rows)
        .on_conflict(
            sea_orm::sea_query::OnConflict::column(card::Column::Id)
                .update_columns([
                    card::Column::Used,
                    card::Column::LowFired,
                    card::Column::UsedUpFired,
                    card::Column::OverdrawnFired,
                    card::Column::Version,
                    card::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}
