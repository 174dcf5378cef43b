//! A workspace's own notification texts.
use crate::{
    clock::Timestamp,
    domain::{Id, Locale, Tone, notification::NotificationKind},
    error::AppResult,
    mail::templates::TemplateSource,
};
use entity::notification_template::{ActiveModel, Column, Entity};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, sea_query::OnConflict};

pub struct StoredTemplate {
    pub source: TemplateSource,
    pub updated_at: Timestamp,
}

pub async fn get(
    conn: &impl ConnectionTrait,
    workspace_id: &Id,
    kind: NotificationKind,
    locale: Locale,
    tone: Tone,
) -> AppResult<Option<StoredTemplate>> {
    Ok(Entity::find_by_id((
        workspace_id.to_string(),
        kind.as_str().to_string(),
        locale.as_str().to_string(),
        tone.as_str().to_string(),
    ))
    .one(conn)
    .await?
    .map(|m| StoredTemplate { source: TemplateSource { subject: m.subject, body: m.body }, updated_at: m.updated_at }))
}

#[allow(clippy::too_many_arguments)]
pub async fn save(
    conn: &impl ConnectionTrait,
    workspace_id: &Id,
    kind: NotificationKind,
    locale: Locale,
    tone: Tone,
    source: &TemplateSource,
    by: &Id,
    now: Timestamp,
) -> AppResult<()> {
    Entity::insert(ActiveModel {
        workspace_id: Set(workspace_id.to_string()),
        kind: Set(kind.as_str().into()),
        locale: Set(locale.as_str().into()),
        tone: Set(tone.as_str().into()),
        subject: Set(source.subject.clone()),
        body: Set(source.body.clone()),
        updated_by: Set(Some(by.to_string())),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([Column::WorkspaceId, Column::Kind, Column::Locale, Column::Tone])
            .update_columns([Column::Subject, Column::Body, Column::UpdatedBy, Column::UpdatedAt])
            .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

pub async fn delete(
    conn: &impl ConnectionTrait,
    workspace_id: &Id,
    kind: NotificationKind,
    locale: Locale,
    tone: Tone,
) -> AppResult<()> {
    Entity::delete_many()
        .filter(Column::WorkspaceId.eq(workspace_id.as_str()))
        .filter(Column::Kind.eq(kind.as_str()))
        .filter(Column::Locale.eq(locale.as_str()))
        .filter(Column::Tone.eq(tone.as_str()))
        .exec(conn)
        .await?;
    Ok(())
}
