//! SMS accounting on the outbox rows: providers' delivery reports, and usage
//! per period. An SMS counts as sent once it was handed to the provider
//! (`sent_at` set); only those reported delivered are billed.
use crate::{
    clock::Timestamp,
    domain::{Id, inbox::DeliveryState},
    error::AppResult,
};
use entity::notification::{Column, Entity};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, sea_query::Expr};

/// The notification a provider's message id names: its id and customer.
pub async fn find_by_provider_id(
    conn: &impl ConnectionTrait,
    workspace_id: &Id,
    provider_message_id: &str,
) -> AppResult<Option<(Id, Option<Id>)>> {
    Ok(Entity::find()
        .filter(Column::WorkspaceId.eq(workspace_id.as_str()))
        .filter(Column::Channel.eq("sms"))
        .filter(Column::ProviderMessageId.eq(provider_message_id))
        .one(conn)
        .await?
        .map(|m| (Id::from_stored(m.id), m.customer_id.map(Id::from_stored))))
}

/// Records the provider's verdict. A later report wins: providers may
/// correct themselves (e.g. failed after a retry window, then delivered).
pub async fn record_report(
    conn: &impl ConnectionTrait,
    id: &Id,
    delivered: bool,
    error: Option<&str>,
    now: Timestamp,
) -> AppResult<()> {
    let (state, error) = match delivered {
        true => (DeliveryState::Delivered, None),
        false => (DeliveryState::Failed, Some(error.unwrap_or("reported failed by the SMS provider").to_string())),
    };
    Entity::update_many()
        .col_expr(Column::State, Expr::value(state.as_str()))
        .col_expr(Column::LastError, Expr::value(error))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::Id.eq(id.as_str()))
        .exec(conn)
        .await?;
    Ok(())
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub sent: i64,
    pub delivered: i64,
    pub failed: i64,
}

/// SMS handed to the provider in `[from, until)`, by what became of them.
pub async fn usage(
    conn: &impl ConnectionTrait,
    workspace_id: &Id,
    from: Timestamp,
    until: Timestamp,
) -> AppResult<Usage> {
    let rows: Vec<(String, i64)> = Entity::find()
        .select_only()
        .column(Column::State)
        .column_as(Column::Id.count(), "n")
        .filter(Column::WorkspaceId.eq(workspace_id.as_str()))
        .filter(Column::Channel.eq("sms"))
        .filter(Column::SentAt.gte(from))
        .filter(Column::SentAt.lt(until))
        .group_by(Column::State)
        .into_tuple()
        .all(conn)
        .await?;
    let mut u = Usage::default();
    for (state, n) in rows {
        // Every one with `sent_at` was handed over; reports then make it delivered or failed.
        u.sent += n;
        match DeliveryState::from_stored(&state) {
            DeliveryState::Delivered => u.delivered += n,
            DeliveryState::Failed => u.failed += n,
            _ => {}
        }
    }
    Ok(u)
}
