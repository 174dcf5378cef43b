use crate::{
    domain::{
        Id,
        notification::{KindSetting, Mode, NotificationKind, NotificationSettings},
    },
    error::{AppError, AppResult},
};
use entity::{notification_setting, workspace};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, sea_query::OnConflict};

pub async fn get(conn: &impl ConnectionTrait, workspace_id: &Id) -> AppResult<NotificationSettings> {
    let ws = workspace::Entity::find_by_id(workspace_id.to_string())
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("workspace", workspace_id.as_str()))?;
    let rows = notification_setting::Entity::find()
        .filter(notification_setting::Column::WorkspaceId.eq(workspace_id.as_str()))
        .all(conn)
        .await?;
    let settings = NotificationKind::AUTOMATIC
        .into_iter()
        .map(|kind| {
            rows.iter()
                .find(|r| r.kind == kind.as_str())
                .and_then(|r| Some(KindSetting { kind, mode: Mode::from_stored(&r.mode)?, email: r.email, hub: r.hub }))
                .unwrap_or_else(|| kind.default_setting())
        })
        .collect();
    Ok(NotificationSettings {
        settings,
        punches_low_threshold: ws.punches_low_threshold,
        expiring_days_before: ws.expiring_days_before,
    })
}

/// The setting of one kind (the workspace's row, else the kind's default):
/// one query, for dispatching a notification.
pub async fn of_kind(conn: &impl ConnectionTrait, workspace_id: &Id, kind: NotificationKind) -> AppResult<KindSetting> {
    let row = notification_setting::Entity::find_by_id((workspace_id.to_string(), kind.as_str().to_string()))
        .one(conn)
        .await?;
    Ok(row
        .and_then(|r| Some(KindSetting { kind, mode: Mode::from_stored(&r.mode)?, email: r.email, hub: r.hub }))
        .unwrap_or_else(|| kind.default_setting()))
}

pub async fn upsert(conn: &impl ConnectionTrait, workspace_id: &Id, s: &KindSetting) -> AppResult<()> {
    notification_setting::Entity::insert(notification_setting::ActiveModel {
        workspace_id: Set(workspace_id.to_string()),
        kind: Set(s.kind.as_str().into()),
        mode: Set(s.mode.as_str().into()),
        email: Set(s.email),
        hub: Set(s.hub),
    })
    .on_conflict(
        OnConflict::columns([notification_setting::Column::WorkspaceId, notification_setting::Column::Kind])
            .update_columns([
                notification_setting::Column::Mode,
                notification_setting::Column::Email,
                notification_setting::Column::Hub,
            ])
            .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

pub async fn set_thresholds(
    conn: &impl ConnectionTrait,
    workspace_id: &Id,
    punches_low: Option<i32>,
    expiring_days: Option<i32>,
) -> AppResult<()> {
    let mut q = workspace::Entity::update_many().filter(workspace::Column::Id.eq(workspace_id.as_str()));
    if let Some(n) = punches_low {
        q = q.col_expr(workspace::Column::PunchesLowThreshold, sea_orm::sea_query::Expr::value(n));
    }
    if let Some(n) = expiring_days {
        q = q.col_expr(workspace::Column::ExpiringDaysBefore, sea_orm::sea_query::Expr::value(n));
    }
    if punches_low.is_some() || expiring_days.is_some() {
        q.exec(conn).await?;
    }
    Ok(())
}
