//! The welcome mail: a fresh one-time activation link, queued in the outbox
//! in the same transaction that records it, so the link that is stored is
//! exactly the link that is mailed, and a resend voids the earlier one.
use super::AppState;
use crate::{
    auth::tokens,
    domain::notification::NotificationKind,
    domain::{Id, StaffPrincipal, contact::Contact, customer::Customer, workspace::Workspace},
    error::{AppError, AppResult, Precondition},
    notify::dispatch,
    store::{self, TransactionTrait, Tx, customer_cache::Changed, outbox::NewNotification},
};
use chrono::Duration;
use std::collections::BTreeMap;

/// What must hold before a contact may get a welcome mail.
pub fn preconditions(customer: &Customer, contact: &Contact) -> Vec<Precondition> {
    let mut unmet = vec![];
    if !customer.hub_access {
        unmet.push(Precondition {
            kind: "HUB_ACCESS",
            subject: format!("customers/{}", customer.id),
            description: "the customer has no HUB access".into(),
        });
    }
    if !contact.hub_access {
        unmet.push(Precondition {
            kind: "HUB_ACCESS",
            subject: format!("contacts/{}", contact.id),
            description: "the contact has no HUB access".into(),
        });
    }
    if contact.email.is_empty() {
        unmet.push(Precondition {
            kind: "EMAIL",
            subject: format!("contacts/{}", contact.id),
            description: "the contact has no e-mail address".into(),
        });
    }
    unmet
}

/// Stores a new activation token and queues the mail carrying it.
pub(crate) async fn queue(
    state: &AppState,
    tx: &Tx,
    workspace: &Workspace,
    customer: &Customer,
    contact: &Contact,
) -> AppResult<()> {
    let unmet = preconditions(customer, contact);
    if !unmet.is_empty() {
        return Err(AppError::FailedPrecondition(unmet));
    }
    if store::privacy::is_suppressed(tx, &workspace.id, &contact.email).await? {
        return Err(AppError::precondition(
            "ADDRESS_ERASED",
            format!("contacts/{}", contact.id),
            "this e-mail address belonged to a person whose data was erased; it is never mailed again",
        ));
    }
    let now = state.clock.now();
    let ttl_hours = state.settings.activation_ttl_hours;
    let token = tokens::new_activation_token();
    store::contacts::record_welcome_sent(tx, &contact.id, &tokens::hash(&token), now + Duration::hours(ttl_hours), now)
        .await?;
    let locale = customer.locale.unwrap_or(workspace.default_locale);
    let tone = customer.tone.unwrap_or(workspace.default_tone);
    let hub = workspace.hub_base_url.trim_end_matches('/');
    // The workspace's own welcome text if it has one, as for every kind.
    let kind = NotificationKind::Welcome;
    let source = dispatch::template_source(state, tx, &workspace.id, kind, locale, tone).await?;
    let vars: BTreeMap<String, String> = [
        ("business_name", workspace.name.clone()),
        ("contact_name", contact.full_name()),
        ("contact_first_name", contact.first_name.clone()),
        ("customer_name", customer.display_name.clone()),
        ("activation_link", format!("{hub}/activate?token={token}")),
        ("hub_link", hub.to_string()),
        ("login_email", contact.email.clone()),
        ("link_valid_days", ((ttl_hours + 23) / 24).to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let rendered = dispatch::render(state, kind, &source, locale, tone, &vars);
    let html = rendered.html();
    store::outbox::enqueue(
        tx,
        NewNotification {
            workspace_id: workspace.id.clone(),
            customer_id: Some(customer.id.clone()),
            contact_id: Some(contact.id.clone()),
            kind: NotificationKind::Welcome.as_str().into(),
            channel: "email".into(),
            recipient: contact.email.clone(),
            subject: rendered.subject,
            body_html: Some(html),
            body_text: rendered.text,
            headers_json: "[]".into(),
        },
        state.message_domain(),
        now,
    )
    .await?;
    Ok(())
}

/// SendWelcomeMail: send or resend to one contact.
pub async fn send(state: &AppState, caller: &StaffPrincipal, contact_id: &str) -> AppResult<Contact> {
    let id = Id::parse(contact_id).map_err(|e| AppError::invalid("contact_id", e))?;
    let scope = caller.scope();
    let tx = state.db.begin().await?;
    let contact = store::contacts::get(&tx, &scope, &id).await?;
    let customer = store::customers::get(&tx, &scope, &contact.customer_id).await?;
    let workspace = store::workspace_config::workspace(state, &tx, &caller.workspace_id).await?;
    queue(state, &tx, &workspace, &customer, &contact).await?;
    store::customer_cache::commit_change(state, tx, Changed::Customer(&customer.id)).await?;
    state.outbox_signal.notify_one();
    store::contacts::get_unscoped(&state.db, &caller.workspace_id, &id).await
}
