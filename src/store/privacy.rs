//! GDPR: what is stored about a person, and its erasure.
use crate::{auth::tokens, clock::Timestamp, domain::Id, error::AppResult};
use entity::{
    book_again_reminder, booking, contact, customer, email_suppression, erasure_audit, inbox_counter, inbox_message,
    notification, sms_consent_event, subscription_event,
};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait, OnConflict},
};
use serde_json::{Value, json};

/// The lower-cased address's SHA-256: enough to recognise it, not to read it.
pub fn email_hash(email: &str) -> String {
    tokens::hash(&email.trim().to_lowercase())
}

pub async fn is_suppressed(conn: &impl ConnectionTrait, workspace_id: &Id, email: &str) -> AppResult<bool> {
    if email.is_empty() {
        return Ok(false);
    }
    Ok(email_suppression::Entity::find_by_id((workspace_id.to_string(), email_hash(email))).one(conn).await?.is_some())
}

/// Which of `emails` were erased in this workspace (one query for a whole dispatch).
pub async fn suppressed_among(
    conn: &impl ConnectionTrait,
    workspace_id: &Id,
    emails: &[&str],
) -> AppResult<std::collections::HashSet<String>> {
    let hashes: Vec<(String, &str)> = emails.iter().filter(|e| !e.is_empty()).map(|e| (email_hash(e), *e)).collect();
    if hashes.is_empty() {
        return Ok(Default::default());
    }
    let found: Vec<String> = email_suppression::Entity::find()
        .filter(email_suppression::Column::WorkspaceId.eq(workspace_id.as_str()))
        .filter(email_suppression::Column::EmailHash.is_in(hashes.iter().map(|(h, _)| h.clone())))
        .select_only()
        .column(email_suppression::Column::EmailHash)
        .into_tuple()
        .all(conn)
        .await?;
    Ok(hashes.into_iter().filter(|(h, _)| found.contains(h)).map(|(_, e)| e.to_string()).collect())
}

fn ts(t: Option<Timestamp>) -> Value {
    t.map(|t| json!(t.to_rfc3339())).unwrap_or(Value::Null)
}

/// Who a contact is across the workspace, as export and erasure both see
/// it: its addresses and phones (a private customer's own too), widened by
/// what the person's bookings carry (found by customer, address or phone), to
/// which their book-again SMS went.
struct Person {
    private: bool,
    customer_id: String,
    addresses: Vec<String>,
    phones: Vec<String>,
}

impl Person {
    async fn read(
        conn: &impl ConnectionTrait,
        workspace_id: &Id,
        c: &contact::Model,
        cust: Option<&customer::Model>,
    ) -> AppResult<Self> {
        let private = cust.is_some_and(|k| k.kind == "private");
        let mut person = Self { private, customer_id: c.customer_id.clone(), addresses: vec![], phones: vec![] };
        person.add(&c.email, &c.phone);
        if private && let Some(k) = cust {
            person.add(&k.email, &k.phone);
        }
        let found: Vec<(String, String)> = booking::Entity::find()
            .select_only()
            .column(booking::Column::Email)
            .column(booking::Column::Phone)
            .filter(booking::Column::WorkspaceId.eq(workspace_id.as_str()))
            .filter(person.bookings())
            .into_tuple()
            .all(conn)
            .await?;
        for (email, phone) in found {
            person.add(&email, &phone);
        }
        Ok(person)
    }

    fn add(&mut self, email: &str, phone: &str) {
        if !email.is_empty() && !self.addresses.iter().any(|a| a == email) {
            self.addresses.push(email.to_string());
        }
        if !phone.is_empty() && !self.phones.iter().any(|p| p == phone) {
            self.phones.push(phone.to_string());
        }
    }

    /// The person's bookings: a private customer's, or by address or phone.
    /// Each condition starts with one that matches nothing, so a person
    /// with neither address nor phone matches no row rather than every row.
    fn bookings(&self) -> Condition {
        let mut any = Condition::any().add(booking::Column::Id.eq("-"));
        if self.private {
            any = any.add(booking::Column::CustomerId.eq(self.customer_id.as_str()));
        }
        for a in &self.addresses {
            any = any.add(booking::Column::Email.eq(a.as_str()));
        }
        for p in &self.phones {
            any = any.add(booking::Column::Phone.eq(p.as_str()));
        }
        any
    }

    /// The book-again reminders that name or text the person.
    fn reminders(&self) -> Condition {
        let mut any = Condition::any().add(book_again_reminder::Column::Id.eq("-"));
        if self.private {
            any = any.add(book_again_reminder::Column::CustomerId.eq(self.customer_id.as_str()));
        }
        for p in &self.phones {
            any = any.add(book_again_reminder::Column::Phone.eq(p.as_str()));
        }
        any
    }

    /// What was sent (or is queued) to the person, or, for a private
    /// customer, names it (staff reminders about it).
    fn deliveries(&self, contact_id: &str) -> Condition {
        let mut any = Condition::any().add(notification::Column::ContactId.eq(contact_id));
        for r in self.addresses.iter().chain(self.phones.iter()) {
            any = any.add(notification::Column::Recipient.eq(r.as_str()));
        }
        if self.private {
            any = any.add(notification::Column::CustomerId.eq(self.customer_id.as_str()));
        }
        any
    }
}

/// Everything stored about a contact (and a private customer), as JSON.
pub async fn export(conn: &impl ConnectionTrait, workspace_id: &Id, contact_id: &Id) -> AppResult<Value> {
    let c = contact::Entity::find_by_id(contact_id.to_string())
        .filter(contact::Column::WorkspaceId.eq(workspace_id.as_str()))
        .one(conn)
        .await?
        .ok_or_else(|| crate::error::AppError::not_found("contact", contact_id.as_str()))?;
    let cust = customer::Entity::find_by_id(c.customer_id.clone()).one(conn).await?;
    let subs = subscription_event::Entity::find()
        .filter(subscription_event::Column::ContactId.eq(contact_id.as_str()))
        .order_by_asc(subscription_event::Column::Id)
        .all(conn)
        .await?;
    let messages = inbox_message::Entity::find()
        .filter(inbox_message::Column::RecipientId.eq(contact_id.as_str()))
        .order_by_asc(inbox_message::Column::Seq)
        .all(conn)
        .await?;
    let person = Person::read(conn, workspace_id, &c, cust.as_ref()).await?;
    let deliveries = notification::Entity::find()
        .filter(notification::Column::WorkspaceId.eq(workspace_id.as_str()))
        .filter(person.deliveries(contact_id.as_str()))
        .order_by_asc(notification::Column::Id)
        .all(conn)
        .await?;
    let bookings = booking::Entity::find()
        .filter(booking::Column::WorkspaceId.eq(workspace_id.as_str()))
        .filter(person.bookings())
        .order_by_asc(booking::Column::StartTime)
        .all(conn)
        .await?;
    let book_again = book_again_reminder::Entity::find()
        .filter(book_again_reminder::Column::WorkspaceId.eq(workspace_id.as_str()))
        .filter(person.reminders())
        .order_by_asc(book_again_reminder::Column::CreatedAt)
        .all(conn)
        .await?;
    let private = person.private;
    let consents = if private {
        sms_consent_event::Entity::find()
            .filter(sms_consent_event::Column::CustomerId.eq(c.customer_id.as_str()))
            .order_by_asc(sms_consent_event::Column::Id)
            .all(conn)
            .await?
    } else {
        vec![]
    };
    Ok(json!({
        "contact": {
            "id": c.id, "first_name": c.first_name, "last_name": c.last_name, "email": c.email, "phone": c.phone,
            "hub_access": c.hub_access, "subscribed": c.subscribed, "activated": c.password_hash.is_some(),
            "welcome_mail_first_sent": ts(c.welcome_first_sent_at), "welcome_mail_last_sent": ts(c.welcome_last_sent_at),
            "last_login": ts(c.last_login_at), "created": c.created_at.to_rfc3339(),
        },
        "customer": cust.as_ref().map(|k| json!({
            "id": k.id, "kind": k.kind, "name": k.display_name, "email": if private { json!(k.email) } else { Value::Null },
            "phone": if private { json!(k.phone) } else { Value::Null },
            "address": if private { json!({"line1": k.address_line1, "line2": k.address_line2, "postal_code": k.postal_code, "city": k.city, "country_code": k.country_code}) } else { Value::Null },
            "sms_consent": if private { json!({"granted": k.sms_consent_granted, "recorded": ts(k.sms_consent_at), "method": k.sms_consent_method, "note": k.sms_consent_note}) } else { Value::Null },
        })),
        "email_subscription_history": subs.iter().map(|e| json!({
            "subscribed": e.subscribed, "source": e.source, "shown_text": e.shown_text, "at": e.created_at.to_rfc3339(),
        })).collect::<Vec<_>>(),
        "sms_consent_history": consents.iter().map(|e| json!({
            "granted": e.granted, "method": e.method, "note": e.note, "at": e.recorded_at.to_rfc3339(),
        })).collect::<Vec<_>>(),
        "hub_messages": messages.iter().map(|m| json!({
            "sequence": m.seq, "kind": m.kind, "title": m.title, "body": m.body, "created": m.created_at.to_rfc3339(), "read": ts(m.read_at),
        })).collect::<Vec<_>>(),
        "deliveries": deliveries.iter().map(|d| json!({
            "id": d.id, "kind": d.kind, "channel": d.channel, "recipient": d.recipient, "subject": d.subject,
            "state": d.state, "suppress_reason": d.suppress_reason, "attempts": d.attempts, "created": d.created_at.to_rfc3339(), "sent": ts(d.sent_at),
        })).collect::<Vec<_>>(),
        "bookings": bookings.iter().map(|b| json!({
            "id": b.id, "contact_name": b.contact_name, "email": b.email, "phone": b.phone,
            "start": b.start_time.to_rfc3339(), "created": b.created_at.to_rfc3339(),
        })).collect::<Vec<_>>(),
        "book_again_reminders": book_again.iter().map(|r| json!({
            "id": r.id, "booking_id": r.booking_id, "contact_name": r.contact_name, "phone": r.phone,
            "send_date": r.send_date.to_string(), "state": r.state, "message": r.message, "sent": ts(r.sent_at),
        })).collect::<Vec<_>>(),
    }))
}

/// Removes or anonymises a contact's personal data everywhere, in `conn`'s transaction.
pub async fn erase(
    conn: &impl ConnectionTrait,
    workspace_id: &Id,
    contact_id: &Id,
    staff_user_id: &Id,
    now: Timestamp,
) -> AppResult<Id> {
    let Some(c) = contact::Entity::find_by_id(contact_id.to_string())
        .filter(contact::Column::WorkspaceId.eq(workspace_id.as_str()))
        .one(conn)
        .await?
    else {
        return Err(crate::error::AppError::not_found("contact", contact_id.as_str()));
    };
    let cust = customer::Entity::find_by_id(c.customer_id.clone()).one(conn).await?;
    let person = Person::read(conn, workspace_id, &c, cust.as_ref()).await?;
    let private = person.private;
    for a in &person.addresses {
        email_suppression::Entity::insert(email_suppression::ActiveModel {
            workspace_id: Set(workspace_id.to_string()),
            email_hash: Set(email_hash(a)),
            created_at: Set(now),
        })
        .on_conflict(
            OnConflict::columns([email_suppression::Column::WorkspaceId, email_suppression::Column::EmailHash])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    }
    // Deliveries keep what billing needs (kind, channel, state, times); queued ones are never sent.
    let who = person.deliveries(contact_id.as_str());
    notification::Entity::update_many()
        .col_expr(notification::Column::State, Expr::value("cancelled"))
        .filter(notification::Column::WorkspaceId.eq(workspace_id.as_str()))
        .filter(notification::Column::State.eq("queued"))
        .filter(who.clone())
        .exec(conn)
        .await?;
    notification::Entity::update_many()
        .col_expr(notification::Column::Recipient, Expr::value("(erased)"))
        .col_expr(notification::Column::Subject, Expr::value(""))
        .col_expr(notification::Column::BodyText, Expr::value(""))
        .col_expr(notification::Column::BodyHtml, Expr::value(Option::<String>::None))
        .col_expr(notification::Column::HeadersJson, Expr::value("[]"))
        .col_expr(notification::Column::LastError, Expr::value(Option::<String>::None))
        .col_expr(notification::Column::ContactId, Expr::value(Option::<String>::None))
        .filter(notification::Column::WorkspaceId.eq(workspace_id.as_str()))
        .filter(who)
        .exec(conn)
        .await?;
    inbox_message::Entity::delete_many()
        .filter(inbox_message::Column::RecipientId.eq(contact_id.as_str()))
        .exec(conn)
        .await?;
    if private {
        // Staff copies about a private customer (reminders) carry its name.
        inbox_message::Entity::update_many()
            .col_expr(inbox_message::Column::Title, Expr::value("(erased)"))
            .col_expr(inbox_message::Column::Body, Expr::value(""))
            .filter(inbox_message::Column::WorkspaceId.eq(workspace_id.as_str()))
            .filter(inbox_message::Column::CustomerId.eq(c.customer_id.as_str()))
            .exec(conn)
            .await?;
    }
    inbox_counter::Entity::delete_by_id(contact_id.to_string()).exec(conn).await?;
    if private && let Some(k) = &cust {
        customer::Entity::update_many()
            .col_expr(customer::Column::CompanyName, Expr::value(""))
            .col_expr(customer::Column::FirstName, Expr::value("(erased)"))
            .col_expr(customer::Column::LastName, Expr::value(""))
            .col_expr(customer::Column::DisplayName, Expr::value("(erased)"))
            .col_expr(customer::Column::SortName, Expr::value("(erased)"))
            .col_expr(customer::Column::Email, Expr::value(""))
            .col_expr(customer::Column::Phone, Expr::value(""))
            .col_expr(customer::Column::AddressLine1, Expr::value(""))
            .col_expr(customer::Column::AddressLine2, Expr::value(""))
            .col_expr(customer::Column::PostalCode, Expr::value(""))
            .col_expr(customer::Column::City, Expr::value(""))
            .col_expr(customer::Column::ExternalRef, Expr::value(Option::<String>::None))
            .col_expr(customer::Column::HubAccess, Expr::value(false))
            .col_expr(customer::Column::SmsConsentGranted, Expr::value(false))
            .col_expr(customer::Column::SmsConsentNote, Expr::value(""))
            .col_expr(customer::Column::UpdatedAt, Expr::value(now))
            // An edit begun before the erasure must not write the data back.
            .col_expr(customer::Column::Version, Expr::col(customer::Column::Version).add(1))
            .filter(customer::Column::Id.eq(k.id.as_str()))
            .exec(conn)
            .await?;
        sms_consent_event::Entity::update_many()
            .col_expr(sms_consent_event::Column::Note, Expr::value(""))
            .filter(sms_consent_event::Column::CustomerId.eq(k.id.as_str()))
            .exec(conn)
            .await?;
    }
    // Bookings carry a name, e-mail and phone of their own.
    booking::Entity::update_many()
        .col_expr(booking::Column::ContactName, Expr::value("(erased)"))
        .col_expr(booking::Column::Email, Expr::value(""))
        .col_expr(booking::Column::Phone, Expr::value(""))
        .filter(booking::Column::WorkspaceId.eq(workspace_id.as_str()))
        .filter(person.bookings())
        .exec(conn)
        .await?;
    // A pending book-again SMS has nobody left to text.
    book_again_reminder::Entity::update_many()
        .col_expr(book_again_reminder::Column::State, Expr::value("cancelled"))
        .col_expr(book_again_reminder::Column::CancelReason, Expr::value("booking_changed"))
        .col_expr(book_again_reminder::Column::UpdatedAt, Expr::value(now))
        .filter(book_again_reminder::Column::WorkspaceId.eq(workspace_id.as_str()))
        .filter(book_again_reminder::Column::State.eq("pending"))
        .filter(person.reminders())
        .exec(conn)
        .await?;
    book_again_reminder::Entity::update_many()
        .col_expr(book_again_reminder::Column::ContactName, Expr::value("(erased)"))
        .col_expr(book_again_reminder::Column::Phone, Expr::value(""))
        .col_expr(book_again_reminder::Column::Message, Expr::value(Option::<String>::None))
        .filter(book_again_reminder::Column::WorkspaceId.eq(workspace_id.as_str()))
        .filter(person.reminders())
        .exec(conn)
        .await?;
    // Sessions and subscription history go with the contact row.
    contact::Entity::delete_by_id(contact_id.to_string()).exec(conn).await?;
    erasure_audit::Entity::insert(erasure_audit::ActiveModel {
        id: Set(Id::generate().to_string()),
        workspace_id: Set(workspace_id.to_string()),
        staff_user_id: Set(Some(staff_user_id.to_string())),
        subject_kind: Set(if private { "private_customer" } else { "contact" }.into()),
        subject_id: Set(if private { c.customer_id.clone() } else { c.id.clone() }),
        erased_at: Set(now),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(Id::from_stored(c.customer_id))
}

/// Whether this is a private customer whose personal data was erased (its
/// row stays, emptied, for what billing and history need).
pub async fn is_erased_customer(conn: &impl ConnectionTrait, customer_id: &Id) -> AppResult<bool> {
    let found = erasure_audit::Entity::find()
        .filter(erasure_audit::Column::SubjectKind.eq("private_customer"))
        .filter(erasure_audit::Column::SubjectId.eq(customer_id.as_str()))
        .one(conn)
        .await?;
    Ok(found.is_some())
}

/// Retention: delivered (or otherwise finished) notifications and HUB
/// messages older than `cutoff` go. SMS records stay: they are billing records.
pub async fn purge_older_than(conn: &impl ConnectionTrait, cutoff: Timestamp) -> AppResult<(u64, u64)> {
    let n = notification::Entity::delete_many()
        .filter(notification::Column::State.is_in(["sent", "delivered", "suppressed", "cancelled"]))
        .filter(notification::Column::Channel.ne("sms"))
        .filter(notification::Column::UpdatedAt.lt(cutoff))
        .exec(conn)
        .await?
        .rows_affected;
    let m = inbox_message::Entity::delete_many()
        .filter(inbox_message::Column::CreatedAt.lt(cutoff))
        .exec(conn)
        .await?
        .rows_affected;
    Ok((n, m))
}
