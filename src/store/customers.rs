use super::is_unique_violation;
use crate::{
    clock::Timestamp,
    domain::{
        Id, Locale, Module, Tone,
        caller::CustomerScope,
        customer::{Address, Customer, CustomerKind, SmsConsent, SmsConsentMethod},
        page::{Page, PageRequest, page_from},
    },
    error::{AppError, AppResult},
};
use entity::{contact, customer, sms_consent_event};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Select,
    sea_query::{Expr, ExprTrait, Func, LikeExpr},
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

fn to_domain(m: customer::Model, contact_count: i64) -> Customer {
    let mut modules = vec![];
    if m.module_punch_cards {
        modules.push(Module::PunchCards);
    }
    if m.module_timesheets {
        modules.push(Module::Timesheets);
    }
    Customer {
        id: Id::from_stored(m.id),
        kind: CustomerKind::from_stored(&m.kind),
        company_name: m.company_name,
        first_name: m.first_name,
        last_name: m.last_name,
        display_name: m.display_name,
        email: m.email,
        phone: m.phone,
        address: Address {
            line1: m.address_line1,
            line2: m.address_line2,
            postal_code: m.postal_code,
            city: m.city,
            country_code: m.country_code,
        },
        area_id: m.area_id.map(Id::from_stored),
        external_ref: m.external_ref,
        hub_access: m.hub_access,
        modules,
        locale: m.locale.as_deref().and_then(Locale::from_stored),
        tone: m.tone.as_deref().and_then(Tone::from_stored),
        sms_consent: SmsConsent {
            granted: m.sms_consent_granted,
            recorded_at: m.sms_consent_at,
            method: m.sms_consent_method.as_deref().and_then(SmsConsentMethod::from_stored),
            note: m.sms_consent_note,
            recorded_by: m.sms_consent_by.map(Id::from_stored),
        },
        contact_count,
        version: m.version,
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

fn to_row(workspace_id: &Id, c: &Customer) -> customer::ActiveModel {
    customer::ActiveModel {
        id: Set(c.id.to_string()),
        workspace_id: Set(workspace_id.to_string()),
        kind: Set(c.kind.as_str().into()),
        company_name: Set(c.company_name.clone()),
        first_name: Set(c.first_name.clone()),
        last_name: Set(c.last_name.clone()),
        display_name: Set(c.display_name.clone()),
        sort_name: Set(c.display_name.to_lowercase()),
        email: Set(c.email.clone()),
        phone: Set(c.phone.clone()),
        address_line1: Set(c.address.line1.clone()),
        address_line2: Set(c.address.line2.clone()),
        postal_code: Set(c.address.postal_code.clone()),
        city: Set(c.address.city.clone()),
        country_code: Set(c.address.country_code.clone()),
        area_id: Set(c.area_id.as_ref().map(Id::to_string)),
        external_ref: Set(c.external_ref.clone()),
        hub_access: Set(c.hub_access),
        module_punch_cards: Set(c.modules.contains(&Module::PunchCards)),
        module_timesheets: Set(c.modules.contains(&Module::Timesheets)),
        locale: Set(c.locale.map(|l| l.as_str().to_string())),
        tone: Set(c.tone.map(|t| t.as_str().to_string())),
        sms_consent_granted: Set(c.sms_consent.granted),
        sms_consent_at: Set(c.sms_consent.recorded_at),
        sms_consent_method: Set(c.sms_consent.method.map(|m| m.as_str().to_string())),
        sms_consent_note: Set(c.sms_consent.note.clone()),
        sms_consent_by: Set(c.sms_consent.recorded_by.as_ref().map(Id::to_string)),
        version: Set(c.version),
        created_at: Set(c.created_at),
        updated_at: Set(c.updated_at),
    }
}

fn duplicate_ref(r: &str) -> AppError {
    AppError::AlreadyExists {
        resource: "customer",
        description: format!("a customer with external_ref {r:?} exists already"),
    }
}

/// Restricts a customer query to what the scope may see.
fn scoped(scope: &CustomerScope) -> Select<customer::Entity> {
    let mut q = customer::Entity::find().filter(customer::Column::WorkspaceId.eq(scope.workspace_id.as_str()));
    if let Some(areas) = &scope.areas {
        q = q.filter(customer::Column::AreaId.is_in(areas.iter().map(Id::to_string)));
    }
    q
}

async fn contact_counts(conn: &impl ConnectionTrait, ids: &[String]) -> AppResult<HashMap<String, i64>> {
    let mut map = HashMap::new();
    if ids.is_empty() {
        return Ok(map);
    }
    let rows: Vec<(String, i64)> = contact::Entity::find()
        .select_only()
        .column(contact::Column::CustomerId)
        .column_as(contact::Column::Id.count(), "n")
        .filter(contact::Column::CustomerId.is_in(ids.iter().cloned()))
        .group_by(contact::Column::CustomerId)
        .into_tuple()
        .all(conn)
        .await?;
    map.extend(rows);
    Ok(map)
}

pub async fn insert(conn: &impl ConnectionTrait, workspace_id: &Id, c: &Customer) -> AppResult<()> {
    match customer::Entity::insert(to_row(workspace_id, c)).exec_without_returning(conn).await {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => Err(duplicate_ref(c.external_ref.as_deref().unwrap_or_default())),
        Err(e) => Err(e.into()),
    }
}

pub async fn get(conn: &impl ConnectionTrait, scope: &CustomerScope, id: &Id) -> AppResult<Customer> {
    let m = scoped(scope)
        .filter(customer::Column::Id.eq(id.as_str()))
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("customer", id.as_str()))?;
    let n = contact::Entity::find().filter(contact::Column::CustomerId.eq(id.as_str())).count(conn).await?;
    Ok(to_domain(m, n as i64))
}

/// Serialises changes to one customer's contacts (two adds of one e-mail
/// must not both pass the check): on PostgreSQL a row lock held until
/// commit; SQLite has one writer at a time already.
pub async fn lock(conn: &impl ConnectionTrait, id: &Id) -> AppResult<()> {
    if super::is_postgres(conn) {
        customer::Entity::find_by_id(id.to_string()).lock_exclusive().one(conn).await?;
    }
    Ok(())
}

/// NOT_FOUND unless the customer exists and `scope` may see it: one query,
/// for the scope check of everything that belongs to a customer.
pub async fn require_visible(conn: &impl ConnectionTrait, scope: &CustomerScope, id: &Id) -> AppResult<()> {
    let found: Option<String> = scoped(scope)
        .filter(customer::Column::Id.eq(id.as_str()))
        .select_only()
        .column(customer::Column::Id)
        .into_tuple()
        .one(conn)
        .await?;
    found.map(|_| ()).ok_or_else(|| AppError::not_found("customer", id.as_str()))
}

/// The little a batched job says about a customer.
#[derive(Debug, Clone)]
pub struct CustomerSummary {
    pub workspace_id: Id,
    pub display_name: String,
    pub area_id: Option<Id>,
}

/// Summaries of many customers in one query, by id; missing ids are absent.
/// Callers compare `workspace_id` with their own before using one.
pub async fn summaries(conn: &impl ConnectionTrait, ids: &[Id]) -> AppResult<HashMap<Id, CustomerSummary>> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(500) {
        let rows: Vec<(String, String, String, Option<String>)> = customer::Entity::find()
            .filter(customer::Column::Id.is_in(chunk.iter().map(Id::to_string)))
            .select_only()
            .column(customer::Column::Id)
            .column(customer::Column::WorkspaceId)
            .column(customer::Column::DisplayName)
            .column(customer::Column::AreaId)
            .into_tuple()
            .all(conn)
            .await?;
        out.extend(rows.into_iter().map(|(id, ws, display_name, area)| {
            let summary =
                CustomerSummary { workspace_id: Id::from_stored(ws), display_name, area_id: area.map(Id::from_stored) };
            (Id::from_stored(id), summary)
        }));
    }
    Ok(out)
}

/// The scope check for a row that belongs to a customer, the row already
/// read within the scope's workspace. Such a row's customer is in the same
/// workspace (set on insert, deleted with it by cascade), so an unrestricted
/// scope (admins) needs no query; an area-restricted one checks the area.
pub async fn require_owner_visible(conn: &impl ConnectionTrait, scope: &CustomerScope, id: &Id) -> AppResult<()> {
    if scope.areas.is_none() {
        return Ok(());
    }
    require_visible(conn, scope, id).await
}

/// The customer's own language, if it has one (one column: the write paths
/// need only this to format their texts).
pub async fn locale(conn: &impl ConnectionTrait, workspace_id: &Id, id: &Id) -> AppResult<Option<Locale>> {
    let found: Option<Option<String>> = customer::Entity::find()
        .filter(customer::Column::WorkspaceId.eq(workspace_id.as_str()))
        .filter(customer::Column::Id.eq(id.as_str()))
        .select_only()
        .column(customer::Column::Locale)
        .into_tuple()
        .one(conn)
        .await?;
    let stored = found.ok_or_else(|| AppError::not_found("customer", id.as_str()))?;
    Ok(stored.as_deref().and_then(Locale::from_stored))
}

/// The customer with its contacts, in two queries (its contact count is
/// theirs; the read path of GetCustomer, measured in BENCHMARKS.md).
pub async fn get_with_contacts(
    conn: &impl ConnectionTrait,
    scope: &CustomerScope,
    id: &Id,
) -> AppResult<(Customer, Vec<crate::domain::contact::Contact>)> {
    let (customer, contacts) = get_with_contact_tokens(conn, scope, id).await?;
    Ok((customer, contacts.into_iter().map(|(c, _)| c).collect()))
}

/// `get_with_contacts` with each contact's unsubscribe token, if it has one.
pub async fn get_with_contact_tokens(
    conn: &impl ConnectionTrait,
    scope: &CustomerScope,
    id: &Id,
) -> AppResult<(Customer, Vec<(crate::domain::contact::Contact, Option<String>)>)> {
    // Two statements: one LEFT JOIN measured slower (BENCHMARKS.md, fix 16).
    let m = scoped(scope)
        .filter(customer::Column::Id.eq(id.as_str()))
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("customer", id.as_str()))?;
    let contacts = super::contacts::all_of_customer_with_tokens(conn, id).await?;
    Ok((to_domain(m, contacts.len() as i64), contacts))
}

/// A customer with its workspace, and its contacts with their unsubscribe tokens.
pub type CustomerWithTokens = (Id, Customer, Vec<(crate::domain::contact::Contact, Option<String>)>);

/// Customers by id with their workspaces and contacts, whatever the caller:
/// a registration batch (`app::registration_batch`) checks each caller's
/// scope itself. Two statements for the whole batch.
pub async fn get_many_with_contact_tokens(
    conn: &impl ConnectionTrait,
    ids: &[&Id],
) -> AppResult<Vec<CustomerWithTokens>> {
    let customers =
        customer::Entity::find().filter(customer::Column::Id.is_in(ids.iter().map(|id| id.as_str()))).all(conn).await?;
    let mut contacts = super::contacts::all_of_customers_with_tokens(conn, ids).await?;
    Ok(customers
        .into_iter()
        .map(|m| {
            let read = contacts.remove(&m.id).unwrap_or_default();
            (Id::from_stored(m.workspace_id.clone()), to_domain(m, read.len() as i64), read)
        })
        .collect())
}

/// The customer with this external reference, whatever the caller's areas.
pub async fn find_by_external_ref(conn: &impl ConnectionTrait, workspace_id: &Id, r: &str) -> AppResult<Option<Id>> {
    Ok(customer::Entity::find()
        .filter(customer::Column::WorkspaceId.eq(workspace_id.as_str()))
        .filter(customer::Column::ExternalRef.eq(r))
        .one(conn)
        .await?
        .map(|m| Id::from_stored(m.id)))
}

#[derive(Debug, Default)]
pub struct CustomerFilter {
    pub query: Option<String>,
    pub area_id: Option<Id>,
    pub kind: Option<CustomerKind>,
}

#[derive(Serialize, Deserialize)]
pub struct CustomerCursor {
    n: String,
    i: String,
}

pub async fn list(
    conn: &impl ConnectionTrait,
    scope: &CustomerScope,
    filter: &CustomerFilter,
    page: PageRequest<CustomerCursor>,
) -> AppResult<Page<Customer>> {
    let mut q = scoped(scope);
    if let Some(area) = &filter.area_id {
        q = q.filter(customer::Column::AreaId.eq(area.as_str()));
    }
    if let Some(kind) = filter.kind {
        q = q.filter(customer::Column::Kind.eq(kind.as_str()));
    }
    if let Some(text) = &filter.query {
        // sort_name is lower-cased already, and so are e-mails (at parse
        // time); references are compared lower-cased on both sides, as
        // PostgreSQL's LIKE minds case. A query typed like a phone number
        // ("12 34 56 78") is matched without its spaces and dashes, as
        // phones are stored ("+4512345678").
        let text = text.to_lowercase();
        let digits: String = text.chars().filter(|c| c.is_ascii_digit() || *c == '+').collect();
        let phone_like = text.chars().all(|c| c.is_ascii_digit() || " +-()".contains(c));
        let phone = if phone_like && digits.chars().any(|c| c.is_ascii_digit()) { digits } else { text.clone() };
        let contains = |t: &str| {
            let escaped = t.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
            // SQLite has no escape character unless told.
            LikeExpr::new(format!("%{escaped}%")).escape('\\')
        };
        q = q.filter(
            Condition::any()
                .add(customer::Column::SortName.like(contains(&text)))
                .add(customer::Column::Email.like(contains(&text)))
                .add(customer::Column::Phone.like(contains(&phone)))
                .add(Expr::expr(Func::lower(Expr::col(customer::Column::ExternalRef))).like(contains(&text))),
        );
    }
    if let Some(c) = &page.after {
        q = q.filter(
            Condition::any().add(customer::Column::SortName.gt(c.n.as_str())).add(
                Condition::all()
                    .add(customer::Column::SortName.eq(c.n.as_str()))
                    .add(customer::Column::Id.gt(c.i.as_str())),
            ),
        );
    }
    let rows = q
        .order_by_asc(customer::Column::SortName)
        .order_by_asc(customer::Column::Id)
        .limit(page.size + 1)
        .all(conn)
        .await?;
    let counts = contact_counts(conn, &rows.iter().map(|r| r.id.clone()).collect::<Vec<_>>()).await?;
    let items = rows
        .into_iter()
        .map(|m| {
            let n = counts.get(&m.id).copied().unwrap_or(0);
            to_domain(m, n)
        })
        .collect();
    Ok(page_from(items, page.size, |c: &Customer| CustomerCursor {
        n: c.display_name.to_lowercase(),
        i: c.id.to_string(),
    }))
}

/// Writes `c` if the stored version is still `c.version`; bumps the version.
pub async fn update(
    conn: &impl ConnectionTrait,
    scope: &CustomerScope,
    c: &Customer,
    now: Timestamp,
) -> AppResult<Customer> {
    let mut row = to_row(&scope.workspace_id, c);
    row.version = Set(c.version + 1);
    row.updated_at = Set(now);
    row.created_at = sea_orm::ActiveValue::NotSet;
    let res = customer::Entity::update_many()
        .set(row)
        .filter(customer::Column::Id.eq(c.id.as_str()))
        .filter(customer::Column::WorkspaceId.eq(scope.workspace_id.as_str()))
        .filter(customer::Column::Version.eq(c.version))
        .exec(conn)
        .await;
    match res {
        Ok(r) if r.rows_affected == 0 => {
            Err(AppError::Aborted("the customer was changed meanwhile; read it again".into()))
        }
        Ok(_) => get(conn, &CustomerScope { workspace_id: scope.workspace_id.clone(), areas: None }, &c.id).await,
        Err(e) if is_unique_violation(&e) => Err(duplicate_ref(c.external_ref.as_deref().unwrap_or_default())),
        Err(e) => Err(e.into()),
    }
}

pub async fn delete(conn: &impl ConnectionTrait, scope: &CustomerScope, id: &Id) -> AppResult<()> {
    get(conn, scope, id).await?;
    customer::Entity::delete_many()
        .filter(customer::Column::Id.eq(id.as_str()))
        .filter(customer::Column::WorkspaceId.eq(scope.workspace_id.as_str()))
        .exec(conn)
        .await?;
    Ok(())
}

/// Appends to the consent history (kept for GDPR export).
pub async fn record_consent_event(
    conn: &impl ConnectionTrait,
    workspace_id: &Id,
    customer_id: &Id,
    consent: &SmsConsent,
    now: Timestamp,
) -> AppResult<()> {
    sms_consent_event::Entity::insert(sms_consent_event::ActiveModel {
        id: Set(Id::generate().to_string()),
        workspace_id: Set(workspace_id.to_string()),
        customer_id: Set(customer_id.to_string()),
        granted: Set(consent.granted),
        method: Set(consent.method.map(|m| m.as_str().to_string())),
        note: Set(consent.note.clone()),
        staff_user_id: Set(consent.recorded_by.as_ref().map(Id::to_string)),
        recorded_at: Set(now),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}
