use super::footer::unsubscribe_footer;
use crate::domain::inbox::InboxMessage;
use crate::{
    app::AppState,
    domain::{
        Id,
        caller::CustomerScope,
        contact::Contact,
        customer::Customer,
        inbox::RecipientKind,
        notification::{KindSetting, NotificationKind},
        workspace::Workspace,
    },
    error::AppResult,
    live,
    mail::templates::{Rendered, TemplateSource},
    store::{
        self, Tx,
        inbox::NewInboxMessage,
        outbox::{NewNotification, QUEUED, Recorded, SENT, SUPPRESSED},
    },
};
use std::collections::{BTreeMap, HashSet};

/// Something that happened to a customer that its contacts may hear about.
#[derive(Debug, Clone)]
pub struct CustomerEvent {
    pub kind: NotificationKind,
    pub customer_id: Id,
    /// The single item's choice (card, registration, time entry), if it made one.
    pub per_item: Option<bool>,
    /// The kind's own placeholders, already formatted for the customer's language.
    pub vars: BTreeMap<String, String>,
    /// Where the HUB message points, relative to the HUB base URL (e.g. `/cards/<id>`).
    pub link_path: String,
}

/// What a dispatch wrote, for the caller to announce after commit.
#[derive(Debug, Default)]
pub struct Dispatched {
    /// The HUB messages written, with their recipients.
    pub inbox: Vec<(Id, InboxMessage)>,
    pub emails_queued: usize,
    pub suppressed: usize,
}

impl Dispatched {
    /// Call after the transaction committed: wakes the worker and the streams.
    pub fn announce(&self, state: &AppState) {
        if self.emails_queued > 0 {
            state.outbox_signal.notify_one();
        }
        for (r, m) in &self.inbox {
            state.live.publish_message(r.as_str(), m.clone());
        }
    }
}

/// Why an automatic notification may not reach this contact, if it may not.
pub fn ineligible(customer: &Customer, contact: &Contact, kind: NotificationKind) -> Option<&'static str> {
    if !customer.hub_access {
        Some("customer_has_no_hub_access")
    } else if !contact.hub_access {
        Some("contact_has_no_hub_access")
    } else if contact.welcome_send_count == 0 {
        Some("welcome_mail_not_sent")
    } else if kind.module().is_some_and(|m| !customer.modules.contains(&m)) {
        Some("module_not_enabled")
    } else {
        None
    }
}

/// The customer an event is about, with its contacts: read once per
/// transaction by a caller that dispatches several events or needs the
/// customer's language for the event's own texts.
pub struct Audience {
    pub customer: Customer,
    pub contacts: Vec<Contact>,
    /// `contacts[i]`'s unsubscribe token, for the links in what it is sent.
    tokens: Vec<String>,
}

impl Audience {
    pub async fn read(tx: &Tx, workspace: &Workspace, customer_id: &Id) -> AppResult<Self> {
        let scope = CustomerScope { workspace_id: workspace.id.clone(), areas: None };
        let (customer, read) = store::customers::get_with_contact_tokens(tx, &scope, customer_id).await?;
        Self::from_read(tx, customer, read).await
    }

    /// The audience from a customer and its contacts with their tokens as
    /// read; a contact without a token yet gets one made (first use).
    pub async fn from_read(tx: &Tx, customer: Customer, read: Vec<(Contact, Option<String>)>) -> AppResult<Self> {
        let mut contacts = Vec::with_capacity(read.len());
        let mut tokens = Vec::with_capacity(read.len());
        for (contact, token) in read {
            tokens.push(match token {
                Some(t) => t,
                None => store::subscriptions::token_of(tx, &contact.id).await?,
            });
            contacts.push(contact);
        }
        Ok(Self { customer, contacts, tokens })
    }

    /// The language of the customer's texts.
    pub fn locale(&self, workspace: &Workspace) -> crate::domain::Locale {
        self.customer.locale.unwrap_or(workspace.default_locale)
    }

    /// The contacts' e-mail addresses, for `store::privacy::suppressed_among`.
    pub fn emails(&self) -> impl Iterator<Item = &str> {
        self.contacts.iter().map(|c| c.email.as_str())
    }
}

pub async fn dispatch(state: &AppState, tx: &Tx, workspace: &Workspace, event: CustomerEvent) -> AppResult<Dispatched> {
    let Some(setting) = wanted(state, tx, workspace, &event).await? else {
        return Ok(Dispatched::default());
    };
    let audience = Audience::read(tx, workspace, &event.customer_id).await?;
    dispatch_wanted(state, tx, workspace, &audience, setting, event).await
}

/// `dispatch` to an audience already read (`event.customer_id` must be its customer).
pub async fn dispatch_to(
    state: &AppState,
    tx: &Tx,
    workspace: &Workspace,
    audience: &Audience,
    event: CustomerEvent,
) -> AppResult<Dispatched> {
    let Some(setting) = wanted(state, tx, workspace, &event).await? else {
        return Ok(Dispatched::default());
    };
    dispatch_wanted(state, tx, workspace, audience, setting, event).await
}

/// The workspace's setting for the event's kind, if it wants the event sent
/// at all (its mode, the item's own choice, and at least one channel).
async fn wanted(
    state: &AppState,
    tx: &Tx,
    workspace: &Workspace,
    event: &CustomerEvent,
) -> AppResult<Option<KindSetting>> {
    let setting = store::workspace_config::kind_setting(state, tx, &workspace.id, event.kind).await?;
    Ok((setting.mode.wants(event.per_item) && (setting.email || setting.hub)).then_some(setting))
}

async fn dispatch_wanted(
    state: &AppState,
    tx: &Tx,
    workspace: &Workspace,
    audience: &Audience,
    setting: KindSetting,
    event: CustomerEvent,
) -> AppResult<Dispatched> {
    // One query for the whole customer, not per contact.
    let erased = if setting.email {
        let emails: Vec<&str> = audience.emails().collect();
        store::privacy::suppressed_among(tx, &workspace.id, &emails).await?
    } else {
        Default::default()
    };
    let planned = plan_wanted(state, tx, workspace, audience, setting, event, &erased).await?;
    Ok(write(state, tx, vec![planned]).await?.pop().unwrap_or_default())
}

/// A dispatch decided but not yet written, so that `write` can store
/// several in one statement per table (`app::registration_batch`).
#[derive(Default)]
pub struct Planned<'a> {
    records: Vec<Recorded>,
    messages: Vec<NewInboxMessage<'a>>,
    emails_queued: usize,
    suppressed: usize,
}

/// `dispatch_to` without the writing: `erased` must hold whichever of the
/// audience's addresses are erased (`store::privacy::suppressed_among`).
pub async fn plan<'a>(
    state: &AppState,
    tx: &Tx,
    workspace: &'a Workspace,
    audience: &'a Audience,
    event: CustomerEvent,
    erased: &HashSet<String>,
) -> AppResult<Planned<'a>> {
    let Some(setting) = wanted(state, tx, workspace, &event).await? else {
        return Ok(Planned::default());
    };
    plan_wanted(state, tx, workspace, audience, setting, event, erased).await
}

async fn plan_wanted<'a>(
    state: &AppState,
    tx: &Tx,
    workspace: &'a Workspace,
    audience: &'a Audience,
    setting: KindSetting,
    event: CustomerEvent,
    erased: &HashSet<String>,
) -> AppResult<Planned<'a>> {
    let mut out = Planned::default();
    let (customer, contacts) = (&audience.customer, &audience.contacts);
    let locale = audience.locale(workspace);
    let tone = customer.tone.unwrap_or(workspace.default_tone);
    let source = template_source(state, tx, &workspace.id, event.kind, locale, tone).await?;
    let hub = workspace.hub_base_url.trim_end_matches('/');
    for (contact, token) in contacts.iter().zip(&audience.tokens) {
        let unsubscribe_link = format!("{hub}/unsubscribe?token={token}");
        let mut vars: BTreeMap<String, String> = event.vars.clone();
        vars.insert("business_name".into(), workspace.name.clone());
        vars.insert("contact_name".into(), contact.full_name());
        vars.insert("contact_first_name".into(), contact.first_name.clone());
        vars.insert("customer_name".into(), customer.display_name.clone());
        vars.insert("hub_link".into(), hub.to_string());
        vars.insert("unsubscribe_link".into(), unsubscribe_link.clone());
        let rendered = render(state, event.kind, &source, locale, tone, &vars);
        let base = NewNotification {
            workspace_id: workspace.id.clone(),
            customer_id: Some(customer.id.clone()),
            contact_id: Some(contact.id.clone()),
            kind: event.kind.as_str().into(),
            channel: String::new(),
            recipient: String::new(),
            subject: rendered.subject.clone(),
            body_text: String::new(),
            body_html: None,
            headers_json: "[]".into(),
        };
        let reason = ineligible(customer, contact, event.kind);
        if setting.email {
            let email = NewNotification { channel: "email".into(), recipient: contact.email.clone(), ..base.clone() };
            let skip = reason
                .or((!contact.subscribed).then_some(crate::domain::notification::suppress_reason::UNSUBSCRIBED))
                .or(contact.email.is_empty().then_some("no_email"))
                .or(erased.contains(&contact.email).then_some("address_erased"));
            match skip {
                Some(why) => {
                    out.records.push(Recorded { notification: email, state: SUPPRESSED, suppress_reason: Some(why) });
                    out.suppressed += 1;
                }
                None => {
                    let footer = unsubscribe_footer(locale, &workspace.name, &unsubscribe_link);
                    let text = format!("{}\n\n-- \n{footer}\n", rendered.text.trim_end());
                    let one_click =
                        format!("<{}/unsubscribe/{token}>", state.settings.public_http_url.trim_end_matches('/'));
                    let headers = vec![
                        ("List-Unsubscribe".to_string(), one_click),
                        ("List-Unsubscribe-Post".to_string(), "List-Unsubscribe=One-Click".to_string()),
                        ("Auto-Submitted".to_string(), "auto-generated".to_string()),
                    ];
                    let email = NewNotification {
                        body_html: Some(crate::mail::templates::text_to_html(&text)),
                        body_text: text,
                        headers_json: serde_json::to_string(&headers).map_err(anyhow::Error::from)?,
                        ..email
                    };
                    out.records.push(Recorded { notification: email, state: QUEUED, suppress_reason: None });
                    out.emails_queued += 1;
                }
            }
        }
        if setting.hub {
            // The HUB message itself is written at once; its record says so.
            let record = NewNotification { channel: "hub".into(), recipient: contact.id.to_string(), ..base };
            match reason {
                Some(why) => {
                    out.records.push(Recorded { notification: record, state: SUPPRESSED, suppress_reason: Some(why) });
                    out.suppressed += 1;
                }
                None => {
                    out.records.push(Recorded { notification: record, state: SENT, suppress_reason: None });
                    out.messages.push(NewInboxMessage {
                        workspace_id: &workspace.id,
                        recipient_kind: RecipientKind::Contact,
                        recipient_id: &contact.id,
                        customer_id: Some(&customer.id),
                        kind: event.kind,
                        title: rendered.subject,
                        body: rendered.text,
                        link: event.link_path.clone(),
                    });
                }
            }
        }
    }
    Ok(out)
}

/// Writes planned dispatches, in their order, with one statement per table
/// for all of them; returns what each wrote, for announcing after commit.
pub async fn write(state: &AppState, tx: &Tx, plans: Vec<Planned<'_>>) -> AppResult<Vec<Dispatched>> {
    let now = state.clock.now();
    let mut outs = Vec::with_capacity(plans.len());
    let mut records = vec![];
    let mut messages = vec![];
    let mut owners = vec![];
    for (i, p) in plans.into_iter().enumerate() {
        records.extend(p.records);
        owners.extend(std::iter::repeat_n(i, p.messages.len()));
        messages.extend(p.messages);
        outs.push(Dispatched { inbox: vec![], emails_queued: p.emails_queued, suppressed: p.suppressed });
    }
    if !records.is_empty() {
        store::outbox::record_many(tx, records, state.message_domain(), now).await?;
    }
    if !messages.is_empty() {
        let stored = store::inbox::append_many(tx, &messages, now).await?;
        for ((m, stored), i) in messages.iter().zip(stored).zip(owners) {
            live::notify_in_tx(tx, m.recipient_id, stored.seq).await?;
            outs[i].inbox.push((m.recipient_id.clone(), stored));
        }
    }
    Ok(outs)
}

/// The workspace's own template of a kind, language and tone, else the shipped default.
pub(crate) async fn template_source(
    state: &AppState,
    tx: &Tx,
    workspace_id: &Id,
    kind: NotificationKind,
    locale: crate::domain::Locale,
    tone: crate::domain::Tone,
) -> AppResult<TemplateSource> {
    Ok(match store::workspace_config::own_template(state, tx, workspace_id, kind, locale, tone).await? {
        Some(source) => source,
        None => TemplateSource::default_for(kind, locale, tone),
    })
}

/// Renders the workspace's template; should it fail (it was validated when
/// saved, so it should not), the shipped default is used and the error logged.
pub(crate) fn render(
    state: &AppState,
    kind: NotificationKind,
    source: &TemplateSource,
    locale: crate::domain::Locale,
    tone: crate::domain::Tone,
    vars: &BTreeMap<String, String>,
) -> Rendered {
    let value = minijinja::Value::from_serialize(vars);
    state.templates.render(source, value.clone()).unwrap_or_else(|e| {
        tracing::error!(error = %e, kind = kind.as_str(), "workspace template failed; using the default");
        state
            .templates
            .render_default(kind, locale, tone, value)
            .unwrap_or_else(|_| Rendered { subject: kind.as_str().into(), text: String::new() })
    })
}
