use crate::{
    clock::Timestamp,
    domain::{
        EmailAddress, Id, Locale, TimeZone, Tone,
        workspace::{SmsPayer, Workspace},
    },
    error::{AppError, AppResult},
};
use entity::workspace::{ActiveModel, Column, Entity, Model};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

fn to_domain(m: Model) -> AppResult<Workspace> {
    Ok(Workspace {
        id: Id::from_stored(m.id),
        name: m.name,
        time_zone: TimeZone::parse(&m.time_zone).map_err(|e| anyhow::anyhow!("stored time zone {e}"))?,
        default_locale: Locale::from_stored(&m.default_locale).unwrap_or(Locale::Da),
        default_tone: Tone::from_stored(&m.default_tone).unwrap_or(Tone::Formal),
        sender_name: m.sender_name,
        sender_email: EmailAddress::parse(&m.sender_email).map_err(|e| anyhow::anyhow!("stored sender {e}"))?,
        hub_base_url: m.hub_base_url,
        booking_url: m.booking_url,
        sms_enabled: m.sms_enabled,
        sms_price_minor: m.sms_price_minor,
        sms_currency: m.sms_currency,
        book_again_sms_payer: SmsPayer::from_stored(&m.book_again_sms_payer),
        punches_low_threshold: m.punches_low_threshold,
        expiring_days_before: m.expiring_days_before,
        allow_expired_card_registration: m.allow_expired_card_registration,
        version: m.version,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

fn to_row(w: &Workspace) -> ActiveModel {
    ActiveModel {
        id: Set(w.id.to_string()),
        name: Set(w.name.clone()),
        time_zone: Set(w.time_zone.name().to_string()),
        default_locale: Set(w.default_locale.as_str().into()),
        default_tone: Set(w.default_tone.as_str().into()),
        sender_name: Set(w.sender_name.clone()),
        sender_email: Set(w.sender_email.to_string()),
        hub_base_url: Set(w.hub_base_url.clone()),
        booking_url: Set(w.booking_url.clone()),
        sms_enabled: Set(w.sms_enabled),
        sms_price_minor: Set(w.sms_price_minor),
        sms_currency: Set(w.sms_currency.clone()),
        book_again_sms_payer: Set(w.book_again_sms_payer.as_str().into()),
        punches_low_threshold: Set(w.punches_low_threshold),
        expiring_days_before: Set(w.expiring_days_before),
        allow_expired_card_registration: Set(w.allow_expired_card_registration),
        version: Set(w.version),
        created_at: Set(w.created_at),
        updated_at: Set(w.updated_at),
    }
}

pub async fn insert(conn: &impl ConnectionTrait, w: &Workspace) -> AppResult<()> {
    Entity::insert(to_row(w)).exec_without_returning(conn).await?;
    Ok(())
}

pub async fn get(conn: &impl ConnectionTrait, id: &Id) -> AppResult<Workspace> {
    let m = Entity::find_by_id(id.to_string())
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("workspace", id.as_str()))?;
    to_domain(m)
}

/// Writes `w` if the stored version is still `expected_version`.
pub async fn update(
    conn: &impl ConnectionTrait,
    w: &Workspace,
    expected_version: i64,
    now: Timestamp,
) -> AppResult<Workspace> {
    let mut row = to_row(w);
    row.version = Set(expected_version + 1);
    row.updated_at = Set(now);
    let res = Entity::update_many()
        .set(row)
        .filter(Column::Id.eq(w.id.as_str()))
        .filter(Column::Version.eq(expected_version))
        .exec(conn)
        .await?;
    if res.rows_affected == 0 {
        return Err(AppError::Aborted("the workspace was changed meanwhile; read it again".into()));
    }
    get(conn, &w.id).await
}

/// Serialises changes that must see a consistent workspace (e.g. "keep at
/// least one admin"): on PostgreSQL a row lock held until commit; SQLite has
/// one writer at a time already.
pub async fn lock(conn: &impl ConnectionTrait, id: &Id) -> AppResult<()> {
    use sea_orm::QuerySelect;
    if super::is_postgres(conn) {
        Entity::find_by_id(id.to_string()).lock_exclusive().one(conn).await?;
    }
    Ok(())
}

/// Every workspace, for background jobs that work per workspace.
pub async fn all(conn: &impl ConnectionTrait) -> AppResult<Vec<Workspace>> {
    Entity::find().all(conn).await?.into_iter().map(to_domain).collect()
}
