use crate::{
    clock::Timestamp,
    domain::{
        Id,
        caller::CustomerScope,
        contact::Contact,
        page::{Page, PageRequest, page_from},
    },
    error::{AppError, AppResult},
};
use entity::contact::{ActiveModel, Column, Entity, Model};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait},
};

fn to_domain(m: Model) -> Contact {
    Contact {
        id: Id::from_stored(m.id),
        customer_id: Id::from_stored(m.customer_id),
        first_name: m.first_name,
        last_name: m.last_name,
        email: m.email,
        phone: m.phone,
        hub_access: m.hub_access,
        primary: m.is_primary,
        subscribed: m.subscribed,
        welcome_first_sent_at: m.welcome_first_sent_at,
        welcome_last_sent_at: m.welcome_last_sent_at,
        welcome_send_count: m.welcome_send_count,
        activated: m.password_hash.is_some(),
        last_login_at: m.last_login_at,
        version: m.version,
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

/// A contact to insert; names and e-mail are validated already.
#[derive(Debug, Clone)]
pub struct NewContact {
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub phone: String,
    pub hub_access: bool,
    pub primary: bool,
}

pub async fn insert(
    conn: &impl ConnectionTrait,
    workspace_id: &Id,
    customer_id: &Id,
    id: &Id,
    c: &NewContact,
    now: Timestamp,
) -> AppResult<Contact> {
    let row = ActiveModel {
        id: Set(id.to_string()),
        workspace_id: Set(workspace_id.to_string()),
        customer_id: Set(customer_id.to_string()),
        first_name: Set(c.first_name.clone()),
        last_name: Set(c.last_name.clone()),
        email: Set(c.email.clone()),
        phone: Set(c.phone.clone()),
        hub_access: Set(c.hub_access),
        is_primary: Set(c.primary),
        subscribed: Set(true),
        welcome_first_sent_at: Set(None),
        welcome_last_sent_at: Set(None),
        welcome_send_count: Set(0),
        activation_token_hash: Set(None),
        activation_expires_at: Set(None),
        password_hash: Set(None),
        activated_at: Set(None),
        last_login_at: Set(None),
        unsubscribe_token: Set(Some(crate::auth::tokens::new_activation_token())),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    };
    Entity::insert(row).exec_without_returning(conn).await?;
    get_unscoped(conn, workspace_id, id).await
}

pub async fn get_unscoped(conn: &impl ConnectionTrait, workspace_id: &Id, id: &Id) -> AppResult<Contact> {
    Entity::find_by_id(id.to_string())
        .filter(Column::WorkspaceId.eq(workspace_id.as_str()))
        .one(conn)
        .await?
        .map(to_domain)
        .ok_or_else(|| AppError::not_found("contact", id.as_str()))
}

/// A contact whose customer the scope may see; anything else is not found.
pub async fn get(conn: &impl ConnectionTrait, scope: &CustomerScope, id: &Id) -> AppResult<Contact> {
    let contact = get_unscoped(conn, &scope.workspace_id, id).await?;
    match super::customers::require_owner_visible(conn, scope, &contact.customer_id).await {
        Ok(_) => Ok(contact),
        Err(AppError::NotFound { .. }) => Err(AppError::not_found("contact", id.as_str())),
        Err(e) => Err(e),
    }
}

pub async fn all_of_customer(conn: &impl ConnectionTrait, customer_id: &Id) -> AppResult<Vec<Contact>> {
    Ok(all_of_customer_with_tokens(conn, customer_id).await?.into_iter().map(|(c, _)| c).collect())
}

/// The customer's contacts with their unsubscribe tokens (`None`: not made
/// yet; `subscriptions::token_of` makes one), read in the same statement.
pub async fn all_of_customer_with_tokens(
    conn: &impl ConnectionTrait,
    customer_id: &Id,
) -> AppResult<Vec<(Contact, Option<String>)>> {
    Ok(Entity::find()
        .filter(Column::CustomerId.eq(customer_id.as_str()))
        .order_by_asc(Column::Id)
        .all(conn)
        .await?
        .into_iter()
        .map(with_token)
        .collect())
}

/// The contacts of several customers with their tokens, by customer id,
/// each customer's in the order `all_of_customer_with_tokens` gives.
pub async fn all_of_customers_with_tokens(
    conn: &impl ConnectionTrait,
    customer_ids: &[&Id],
) -> AppResult<std::collections::HashMap<String, Vec<(Contact, Option<String>)>>> {
    let mut out: std::collections::HashMap<String, Vec<(Contact, Option<String>)>> = Default::default();
    let rows = Entity::find()
        .filter(Column::CustomerId.is_in(customer_ids.iter().map(|id| id.as_str())))
        .order_by_asc(Column::Id)
        .all(conn)
        .await?;
    for m in rows {
        out.entry(m.customer_id.clone()).or_default().push(with_token(m));
    }
    Ok(out)
}

/// A stored contact and its unsubscribe token, if it has one.
fn with_token(mut m: Model) -> (Contact, Option<String>) {
    let token = m.unsubscribe_token.take();
    (to_domain(m), token)
}

pub async fn list(
    conn: &impl ConnectionTrait,
    customer_id: &Id,
    page: PageRequest<String>,
) -> AppResult<Page<Contact>> {
    let mut q = Entity::find().filter(Column::CustomerId.eq(customer_id.as_str()));
    if let Some(after) = &page.after {
        q = q.filter(Column::Id.gt(after.as_str()));
    }
    let rows = q.order_by_asc(Column::Id).limit(page.size + 1).all(conn).await?;
    Ok(page_from(rows.into_iter().map(to_domain).collect(), page.size, |c: &Contact| c.id.to_string()))
}

/// Writes the editable fields if the stored version is still `c.version`.
pub async fn update(conn: &impl ConnectionTrait, workspace_id: &Id, c: &Contact, now: Timestamp) -> AppResult<Contact> {
    let res = Entity::update_many()
        .set(ActiveModel {
            first_name: Set(c.first_name.clone()),
            last_name: Set(c.last_name.clone()),
            email: Set(c.email.clone()),
            phone: Set(c.phone.clone()),
            hub_access: Set(c.hub_access),
            version: Set(c.version + 1),
            updated_at: Set(now),
            ..Default::default()
        })
        .filter(Column::Id.eq(c.id.as_str()))
        .filter(Column::WorkspaceId.eq(workspace_id.as_str()))
        .filter(Column::Version.eq(c.version))
        .exec(conn)
        .await?;
    if res.rows_affected == 0 {
        return Err(AppError::Aborted("the contact was changed meanwhile; read it again".into()));
    }
    get_unscoped(conn, workspace_id, &c.id).await
}

pub async fn delete(conn: &impl ConnectionTrait, workspace_id: &Id, id: &Id) -> AppResult<()> {
    Entity::delete_many()
        .filter(Column::Id.eq(id.as_str()))
        .filter(Column::WorkspaceId.eq(workspace_id.as_str()))
        .exec(conn)
        .await?;
    Ok(())
}

/// Stores a fresh activation token (replacing, and so voiding, any earlier
/// one) and counts the welcome mail as sent.
pub async fn record_welcome_sent(
    conn: &impl ConnectionTrait,
    id: &Id,
    token_hash: &str,
    expires_at: Timestamp,
    now: Timestamp,
) -> AppResult<()> {
    Entity::update_many()
        .col_expr(Column::ActivationTokenHash, Expr::value(token_hash.to_string()))
        .col_expr(Column::ActivationExpiresAt, Expr::value(expires_at))
        .col_expr(Column::WelcomeFirstSentAt, Expr::col(Column::WelcomeFirstSentAt).if_null(now))
        .col_expr(Column::WelcomeLastSentAt, Expr::value(now))
        .col_expr(Column::WelcomeSendCount, Expr::col(Column::WelcomeSendCount).add(1))
        .col_expr(Column::Version, Expr::col(Column::Version).add(1))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::Id.eq(id.as_str()))
        .exec(conn)
        .await?;
    Ok(())
}

/// The contact an unexpired activation token belongs to.
pub struct ActivationTarget {
    pub workspace_id: Id,
    pub contact_id: Id,
    pub customer_id: Id,
    pub hub_access: bool,
}

pub async fn find_by_activation(
    conn: &impl ConnectionTrait,
    token_hash: &str,
    now: Timestamp,
) -> AppResult<Option<ActivationTarget>> {
    let m = Entity::find()
        .filter(Column::ActivationTokenHash.eq(token_hash))
        .filter(Column::ActivationExpiresAt.gt(now))
        .one(conn)
        .await?;
    Ok(m.map(|m| ActivationTarget {
        workspace_id: Id::from_stored(m.workspace_id),
        contact_id: Id::from_stored(m.id),
        customer_id: Id::from_stored(m.customer_id),
        hub_access: m.hub_access,
    }))
}

/// Sets the password and uses up the token, if the token is still the current one.
pub async fn activate(
    conn: &impl ConnectionTrait,
    id: &Id,
    token_hash: &str,
    password_hash: &str,
    now: Timestamp,
) -> AppResult<bool> {
    let res = Entity::update_many()
        .col_expr(Column::PasswordHash, Expr::value(password_hash.to_string()))
        .col_expr(Column::ActivationTokenHash, Expr::value(Option::<String>::None))
        .col_expr(Column::ActivationExpiresAt, Expr::value(Option::<Timestamp>::None))
        .col_expr(Column::ActivatedAt, Expr::value(now))
        .col_expr(Column::LastLoginAt, Expr::value(now))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::Id.eq(id.as_str()))
        .filter(Column::ActivationTokenHash.eq(token_hash))
        .exec(conn)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Contacts of a workspace that may log in with this e-mail.
pub struct LoginCandidate {
    pub contact_id: Id,
    pub customer_id: Id,
    pub password_hash: String,
}

pub async fn login_candidates(
    conn: &impl ConnectionTrait,
    workspace_id: &Id,
    email: &str,
) -> AppResult<Vec<LoginCandidate>> {
    Ok(Entity::find()
        .filter(Column::WorkspaceId.eq(workspace_id.as_str()))
        .filter(Column::Email.eq(email))
        .filter(Column::HubAccess.eq(true))
        .filter(Column::PasswordHash.is_not_null())
        .all(conn)
        .await?
        .into_iter()
        .filter_map(|m| {
            Some(LoginCandidate {
                contact_id: Id::from_stored(m.id),
                customer_id: Id::from_stored(m.customer_id),
                password_hash: m.password_hash?,
            })
        })
        .collect())
}

pub async fn record_login(conn: &impl ConnectionTrait, id: &Id, now: Timestamp) -> AppResult<()> {
    Entity::update_many()
        .col_expr(Column::LastLoginAt, Expr::value(now))
        .filter(Column::Id.eq(id.as_str()))
        .exec(conn)
        .await?;
    Ok(())
}

/// Whether another contact of this customer has this e-mail: one person is
/// one contact per customer, else their login could not tell them apart.
pub async fn email_taken(conn: &impl ConnectionTrait, customer_id: &Id, email: &str, except: &Id) -> AppResult<bool> {
    let found = Entity::find()
        .filter(Column::CustomerId.eq(customer_id.as_str()))
        .filter(Column::Email.eq(email))
        .filter(Column::Id.ne(except.as_str()))
        .one(conn)
        .await?;
    Ok(found.is_some())
}

/// A contact's login e-mail changed: the password set for the old address
/// and any welcome link sent to it no longer count, so whoever read the old
/// address (a typo, a former employee) cannot get in. A new welcome mail,
/// to the new address, starts over.
pub async fn forget_login(conn: &impl ConnectionTrait, id: &Id) -> AppResult<()> {
    forget_login_where(conn, Column::Id.eq(id.as_str())).await
}

/// As `forget_login`, for a private customer's own contact (its login is
/// the customer's e-mail).
pub async fn forget_primary_login(conn: &impl ConnectionTrait, customer_id: &Id) -> AppResult<()> {
    forget_login_where(conn, Column::CustomerId.eq(customer_id.as_str()).and(Column::IsPrimary.eq(true))).await
}

async fn forget_login_where(conn: &impl ConnectionTrait, which: sea_orm::sea_query::SimpleExpr) -> AppResult<()> {
    Entity::update_many()
        .col_expr(Column::ActivationTokenHash, Expr::value(Option::<String>::None))
        .col_expr(Column::ActivationExpiresAt, Expr::value(Option::<Timestamp>::None))
        .col_expr(Column::PasswordHash, Expr::value(Option::<String>::None))
        .col_expr(Column::ActivatedAt, Expr::value(Option::<Timestamp>::None))
        .filter(which)
        .exec(conn)
        .await?;
    Ok(())
}

/// A private customer's implicit contact mirrors the customer's name,
/// e-mail, phone and HUB access.
pub async fn sync_primary(
    conn: &impl ConnectionTrait,
    customer: &crate::domain::customer::Customer,
    now: Timestamp,
) -> AppResult<()> {
    Entity::update_many()
        .col_expr(Column::FirstName, Expr::value(customer.first_name.clone()))
        .col_expr(Column::LastName, Expr::value(customer.last_name.clone()))
        .col_expr(Column::Email, Expr::value(customer.email.clone()))
        .col_expr(Column::Phone, Expr::value(customer.phone.clone()))
        .col_expr(Column::HubAccess, Expr::value(customer.hub_access))
        .col_expr(Column::Version, Expr::col(Column::Version).add(1))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::CustomerId.eq(customer.id.as_str()))
        .filter(Column::IsPrimary.eq(true))
        .exec(conn)
        .await?;
    Ok(())
}
