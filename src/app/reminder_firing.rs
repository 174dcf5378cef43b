//! Firing staff reminders. Each occurrence fires exactly once: a row per
//! (reminder, occurrence) is inserted-or-nothing in the firing transaction,
//! so replicas racing for the same occurrence deliver it once, and a restart
//! never repeats one. After downtime only the latest missed occurrence fires;
//! the older ones are recorded as skipped instead of arriving as a storm.
use super::{AppState, reminders::next_after};
use crate::domain::inbox::InboxMessage;
use crate::{
    domain::{
        Id, caller::CustomerScope, format, inbox::RecipientKind, notification::NotificationKind, recurrence,
        reminder::Reminder, workspace::Workspace,
    },
    error::AppResult,
    live,
    mail::templates::TemplateSource,
    store::{
        self, TransactionTrait, Tx,
        inbox::NewInboxMessage,
        outbox::{NewNotification, SUPPRESSED},
        reminders::Receiver,
    },
};
use std::collections::{BTreeMap, HashMap};

const BATCH: u64 = 200;
/// Firings committed together: one commit (and log flush) per this many.
const PER_TRANSACTION: usize = 50;

/// One pass: fires every due reminder, batch after batch while a batch
/// came back full; returns how many occurrences fired.
pub async fn try_run(state: &AppState) -> AppResult<usize> {
    let now = state.clock.now();
    let mut fired = 0;
    let mut workspaces: HashMap<Id, Workspace> = HashMap::new();
    loop {
        let due = store::reminders::due(&state.db, now, BATCH).await?;
        // Read before any transaction: SQLite has one connection.
        for (_, ws_id) in &due {
            if !workspaces.contains_key(ws_id) {
                workspaces.insert(ws_id.clone(), store::workspaces::get(&state.db, ws_id).await?);
            }
        }
        let mut fired_now = 0;
        for chunk in due.chunks(PER_TRANSACTION) {
            let tx = state.db.begin().await?;
            let mut inbox = vec![];
            for (id, ws_id) in chunk {
                if fire_in(state, &tx, id, &workspaces[ws_id], &mut inbox).await? {
                    fired_now += 1;
                }
            }
            tx.commit().await?;
            for (r, m) in inbox {
                state.live.publish_message(r.as_str(), m);
            }
            state.outbox_signal.notify_one();
        }
        fired += fired_now;
        // A short batch was the last; one where nothing fired is being
        // fired by other replicas (their rows were skipped).
        if (due.len() as u64) < BATCH || fired_now == 0 {
            return Ok(fired);
        }
    }
}

/// Fires one reminder inside `tx` if it is still due and no other replica
/// holds it; its HUB messages go to `inbox`, to announce after commit.
async fn fire_in(
    state: &AppState,
    tx: &Tx,
    id: &Id,
    ws: &Workspace,
    inbox: &mut Vec<(Id, InboxMessage)>,
) -> AppResult<bool> {
    let Some(reminder) = store::reminders::claim_for_firing(tx, &ws.id, id).await? else {
        return Ok(false); // deleted meanwhile, or another replica has it
    };
    let now = state.clock.now();
    let Some(due) = reminder.next_fire_at.filter(|t| *t <= now) else {
        return Ok(false); // another replica moved it on
    };
    // Everything due up to now; only the latest is delivered.
    let missed = recurrence::occurrences_between(
        reminder.first_date,
        &reminder.repetition,
        ws.time_zone.0,
        state.settings.reminder_local_hour,
        due - chrono::Duration::seconds(1),
        now,
        10_000,
    )?;
    let latest = missed.last().copied().unwrap_or(due);
    for skipped in missed.iter().filter(|t| **t != latest) {
        store::reminders::record_firing(tx, id, *skipped, "skipped", now).await?;
    }
    let first_time = store::reminders::record_firing(tx, id, latest, "fired", now).await?;
    if first_time {
        inbox.extend(deliver(state, tx, ws, &reminder, latest).await?);
    }
    store::reminders::set_next(tx, id, next_after(state, ws, &reminder, now)?).await?;
    Ok(first_time)
}

/// Staff list always; e-mail and SMS as the reminder says. Returns the inbox recipients.
async fn deliver(
    state: &AppState,
    tx: &Tx,
    ws: &Workspace,
    r: &Reminder,
    at: chrono::DateTime<chrono::Utc>,
) -> AppResult<Vec<(Id, InboxMessage)>> {
    let scope = CustomerScope { workspace_id: ws.id.clone(), areas: None };
    let customer = store::customers::get(tx, &scope, &r.customer_id).await?;
    let receivers = store::reminders::receivers(tx, &ws.id, r.receivers, customer.area_id.as_ref()).await?;
    let type_name = match &r.reminder_type_id {
        Some(t) => store::reminders::get_type(tx, &ws.id, t).await.map(|t| t.name).unwrap_or_default(),
        None => String::new(),
    };
    let locale = ws.default_locale;
    let date = format::date(at.with_timezone(&ws.time_zone.0).date_naive(), locale);
    let source =
        match store::templates::get(tx, &ws.id, NotificationKind::StaffReminder, locale, ws.default_tone).await? {
            Some(t) => t.source,
            None => TemplateSource::default_for(NotificationKind::StaffReminder, locale, ws.default_tone),
        };
    let now = state.clock.now();
    let mut inbox = vec![];
    for staff in &receivers {
        let vars: BTreeMap<&str, String> = [
            ("business_name", ws.name.clone()),
            ("staff_name", staff.name.clone()),
            ("customer_name", customer.display_name.clone()),
            ("reminder_name", r.name.clone()),
            ("reminder_type", type_name.clone()),
            ("reminder_text", r.text.clone()),
            ("occurrence_date", date.clone()),
        ]
        .into_iter()
        .collect();
        let rendered = state.templates.render(&source, minijinja::Value::from_serialize(&vars)).or_else(|_| {
            state.templates.render(
                &TemplateSource::default_for(NotificationKind::StaffReminder, locale, ws.default_tone),
                minijinja::Value::from_serialize(&vars),
            )
        })?;
        let message = store::inbox::append(
            tx,
            NewInboxMessage {
                workspace_id: &ws.id,
                recipient_kind: RecipientKind::Staff,
                recipient_id: &staff.id,
                customer_id: Some(&customer.id),
                kind: NotificationKind::StaffReminder,
                title: format!("{}: {}", r.name, customer.display_name),
                body: r.text.clone(),
                link: format!("/customers/{}/reminders/{}", customer.id, r.id),
            },
            now,
        )
        .await?;
        live::notify_in_tx(tx, &staff.id, message.seq).await?;
        inbox.push((staff.id.clone(), message));
        let base = NewNotification {
            workspace_id: ws.id.clone(),
            customer_id: Some(customer.id.clone()),
            contact_id: None,
            kind: NotificationKind::StaffReminder.as_str().into(),
            channel: String::new(),
            recipient: String::new(),
            subject: rendered.subject.clone(),
            body_text: rendered.text.clone(),
            body_html: Some(rendered.html.clone()),
            headers_json: "[]".into(),
        };
        if r.delivery.email() {
            let n = NewNotification { channel: "email".into(), recipient: staff.email.clone(), ..base.clone() };
            store::outbox::enqueue(tx, n, state.message_domain(), now).await?;
        }
        if r.delivery.sms() {
            sms(state, tx, ws, staff, base, r, &customer.display_name).await?;
        }
    }
    Ok(inbox)
}

async fn sms(
    state: &AppState,
    tx: &Tx,
    ws: &Workspace,
    staff: &Receiver,
    base: NewNotification,
    r: &Reminder,
    customer: &str,
) -> AppResult<()> {
    let now = state.clock.now();
    let text: String = format!("{}: {} – {}", r.name, customer, r.text).chars().take(300).collect();
    let n = NewNotification {
        channel: "sms".into(),
        recipient: staff.phone.clone(),
        body_text: text,
        body_html: None,
        ..base
    };
    let skip = if !ws.sms_enabled {
        Some("sms_addon_disabled")
    } else if staff.phone.is_empty() {
        Some("no_phone")
    } else {
        None
    };
    match skip {
        Some(why) => {
            store::outbox::record_final(tx, n, SUPPRESSED, Some(why), state.message_domain(), now).await.map(|_| ())
        }
        None => store::outbox::enqueue(tx, n, state.message_domain(), now).await.map(|_| ()),
    }
}
