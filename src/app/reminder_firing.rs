//! Firing staff reminders. Each occurrence fires exactly once: a row per
//! (reminder, occurrence) is inserted-or-nothing in the firing transaction,
//! so replicas racing for the same occurrence deliver it once, and a restart
//! never repeats one. After downtime every missed occurrence fires, late and
//! dated, at most `CATCH_UP` of one reminder per batch so a long outage is
//! worked off in bounded transactions.
//!
//! Firing is set-based: one transaction claims a batch of due reminders and
//! fires them all with a handful of multi-row statements, so 100,000
//! reminders due at once (a workspace's yearly renewals, say) are a few
//! hundred transactions, not a million statements.
use super::{AppState, reminders::next_after};
use crate::{
    clock::Timestamp,
    domain::{
        Id, format,
        inbox::{InboxMessage, RecipientKind},
        notification::NotificationKind,
        recurrence,
        reminder::{Receivers, Reminder},
        workspace::Workspace,
    },
    error::AppResult,
    live,
    mail::templates::TemplateSource,
    notify::dispatch::{render, template_source},
    store::{
        self, TransactionTrait, Tx,
        customers::CustomerSummary,
        inbox::NewInboxMessage,
        outbox::{NewNotification, QUEUED, Recorded, SUPPRESSED},
        reminders::{FiringOutcome, Receiver},
    },
};
use std::{
    collections::{BTreeMap, HashMap, hash_map::Entry},
    sync::Arc,
};

/// Reminders claimed and fired in one transaction.
const BATCH: u64 = 200;

/// Missed occurrences of one reminder fired in one batch; the rest stay due
/// and the next batch goes on with them.
const CATCH_UP: usize = 50;

/// One pass: fires every due reminder, batch after batch while a batch came
/// back full or left a reminder with missed occurrences still due; returns
/// how many occurrences fired. Every claimed reminder leaves the batch moved
/// on (past now, to none, or past the occurrences it fired), so each batch
/// makes progress, and a reminder other replicas hold is skipped.
pub async fn try_run(state: &AppState) -> AppResult<usize> {
    let mut fired = 0;
    loop {
        let batch = fire_batch(state).await?;
        fired += batch.fired;
        if batch.claimed < BATCH as usize && !batch.still_due {
            return Ok(fired);
        }
    }
}

/// What one batch did.
struct BatchOutcome {
    claimed: usize,
    fired: usize,
    /// A reminder had more missed occurrences than `CATCH_UP`.
    still_due: bool,
}

/// Claims one batch and fires it in one transaction.
async fn fire_batch(state: &AppState) -> AppResult<BatchOutcome> {
    let now = state.clock.now();
    let started = std::time::Instant::now();
    let tx = state.db.begin().await?;
    let due = store::reminders::claim_due(&tx, now, BATCH).await?;
    let claimed_in = started.elapsed();
    if due.is_empty() {
        tx.commit().await?;
        return Ok(BatchOutcome { claimed: 0, fired: 0, still_due: false });
    }
    let mut workspaces: HashMap<Id, Arc<Workspace>> = HashMap::new();
    for (ws_id, _) in &due {
        if !workspaces.contains_key(ws_id) {
            workspaces.insert(ws_id.clone(), store::workspace_config::workspace(state, &tx, ws_id).await?);
        }
    }
    let mut firings = vec![];
    let mut nexts = vec![];
    let mut still_due = false;
    for (ws_id, reminder) in &due {
        match plan(state, &workspaces[ws_id], reminder, now) {
            Ok(p) => {
                firings.extend(p.fire.into_iter().map(|at| (reminder.id.clone(), at, FiringOutcome::Fired)));
                still_due |= p.next.is_some_and(|next| next <= now);
                nexts.push((reminder.id.clone(), p.next));
            }
            Err(e) => {
                // One broken schedule must not hold back the batch, nor be
                // claimed again every pass: record it and stop it.
                tracing::error!(reminder_id = %reminder.id, error = %e, "reminder schedule failed; it stops firing");
                let at = reminder.next_fire_at.unwrap_or(now);
                firings.push((reminder.id.clone(), at, FiringOutcome::Failed));
                nexts.push((reminder.id.clone(), None));
            }
        }
    }
    let first_time = store::reminders::record_firings(&tx, &firings, now).await?;
    let by_id: HashMap<&Id, (&Workspace, &Reminder)> =
        due.iter().map(|(ws_id, r)| (&r.id, (&*workspaces[ws_id], r))).collect();
    // In the order planned: a reminder's occurrences oldest first.
    let to_deliver: Vec<(&Workspace, &Reminder, Timestamp)> = firings
        .iter()
        .filter(|(id, at, _)| first_time.contains(&(id.clone(), *at)))
        .map(|(id, at, _)| (by_id[id].0, by_id[id].1, *at))
        .collect();
    let fired = to_deliver.len();
    let inbox = deliver(state, &tx, &to_deliver, now).await?;
    store::reminders::set_next_many(&tx, &nexts).await?;
    // Last: the inbox counters stay locked until commit.
    let inbox = append_to_inboxes(&tx, inbox, now).await?;
    let written_in = started.elapsed();
    tx.commit().await?;
    tracing::debug!(
        claimed = due.len(),
        fired,
        claim_ms = claimed_in.as_secs_f64() * 1e3,
        write_ms = written_in.as_secs_f64() * 1e3,
        total_ms = started.elapsed().as_secs_f64() * 1e3,
        "reminder batch"
    );
    for (recipient, message) in inbox {
        state.live.publish_message(recipient.as_str(), message);
    }
    state.outbox_signal.notify_one();
    Ok(BatchOutcome { claimed: due.len(), fired, still_due })
}

/// Which occurrences of a due reminder fire in this batch, and what is next.
struct Plan {
    /// Oldest first; never empty.
    fire: Vec<Timestamp>,
    /// Past now when every missed occurrence fired; else the first one
    /// left for the next batch.
    next: Option<Timestamp>,
}

fn plan(state: &AppState, ws: &Workspace, reminder: &Reminder, now: Timestamp) -> AppResult<Plan> {
    let due = reminder.next_fire_at.unwrap_or(now);
    // Everything due up to now, and one more to tell whether any are left.
    let mut fire = recurrence::occurrences_between(
        reminder.first_date,
        &reminder.repetition,
        ws.time_zone.0,
        state.settings.reminder_local_hour,
        due - chrono::Duration::seconds(1),
        now,
        CATCH_UP + 1,
    )?;
    if fire.len() > CATCH_UP {
        let left = fire.split_off(CATCH_UP);
        return Ok(Plan { fire, next: left.first().copied() });
    }
    if fire.is_empty() {
        // The stored time is no occurrence of the rule (it cannot be made
        // so through the API); fire it as stored rather than lose it.
        fire.push(due);
    }
    Ok(Plan { fire, next: next_after(state, ws, reminder, now)? })
}

/// A HUB message for a staff member, before it has its sequence number.
struct PendingMessage {
    workspace_id: Id,
    recipient_id: Id,
    customer_id: Id,
    title: String,
    body: String,
    link: String,
}

/// Everything the batch needs besides the reminders, read once per batch:
/// customers, type names, receivers and templates.
struct Lookups {
    customers: HashMap<Id, CustomerSummary>,
    type_names: HashMap<Id, (Id, String)>,
    receivers: HashMap<(Id, Receivers, Option<Id>), Vec<Receiver>>,
    templates: HashMap<Id, TemplateSource>,
}

impl Lookups {
    async fn read(state: &AppState, tx: &Tx, batch: &[(&Workspace, &Reminder, Timestamp)]) -> AppResult<Self> {
        let customer_ids: Vec<Id> = batch.iter().map(|(_, r, _)| r.customer_id.clone()).collect();
        let customers = store::customers::summaries(tx, &customer_ids).await?;
        let type_ids: Vec<Id> = batch.iter().filter_map(|(_, r, _)| r.reminder_type_id.clone()).collect();
        let type_names = store::reminders::type_names(tx, &type_ids).await?;
        let mut receivers = HashMap::new();
        let mut templates = HashMap::new();
        for (ws, r, _) in batch {
            let Some(customer) = customers.get(&r.customer_id).filter(|c| c.workspace_id == ws.id) else {
                continue;
            };
            let key = (ws.id.clone(), r.receivers, customer.area_id.clone());
            if let Entry::Vacant(slot) = receivers.entry(key) {
                slot.insert(store::reminders::receivers(tx, &ws.id, r.receivers, customer.area_id.as_ref()).await?);
            }
            if (r.delivery.email() || r.delivery.sms()) && !templates.contains_key(&ws.id) {
                let kind = NotificationKind::StaffReminder;
                let source = template_source(state, tx, &ws.id, kind, ws.default_locale, ws.default_tone).await?;
                templates.insert(ws.id.clone(), source);
            }
        }
        Ok(Self { customers, type_names, receivers, templates })
    }
}

/// Staff list always; e-mail and SMS as each reminder says. Queues the
/// e-mails and SMS in `tx` and returns the HUB messages to append.
async fn deliver(
    state: &AppState,
    tx: &Tx,
    batch: &[(&Workspace, &Reminder, Timestamp)],
    now: Timestamp,
) -> AppResult<Vec<PendingMessage>> {
    let lookups = Lookups::read(state, tx, batch).await?;
    let mut inbox = vec![];
    let mut outbox = vec![];
    for (ws, r, at) in batch {
        // Reminders go with their customer; one that is gone has nothing to say.
        let Some(customer) = lookups.customers.get(&r.customer_id).filter(|c| c.workspace_id == ws.id) else {
            continue;
        };
        let type_name = r
            .reminder_type_id
            .as_ref()
            .and_then(|t| lookups.type_names.get(t))
            .filter(|(type_ws, _)| *type_ws == ws.id)
            .map(|(_, name)| name.clone())
            .unwrap_or_default();
        let receivers = &lookups.receivers[&(ws.id.clone(), r.receivers, customer.area_id.clone())];
        for staff in receivers {
            inbox.push(PendingMessage {
                workspace_id: ws.id.clone(),
                recipient_id: staff.id.clone(),
                customer_id: r.customer_id.clone(),
                title: title(ws, r, customer, *at, now),
                body: r.text.clone(),
                link: format!("/customers/{}/reminders/{}", r.customer_id, r.id),
            });
            if !(r.delivery.email() || r.delivery.sms()) {
                continue;
            }
            let message = Message { ws, reminder: r, customer, type_name: &type_name, at: *at };
            let base = message.rendered(state, staff, &lookups.templates[&ws.id]);
            if r.delivery.email() {
                let n = NewNotification { channel: "email".into(), recipient: staff.email.clone(), ..base.clone() };
                outbox.push(Recorded { notification: n, state: QUEUED, suppress_reason: None });
            }
            if r.delivery.sms() {
                outbox.push(message.sms(staff, base));
            }
        }
    }
    store::outbox::record_many(tx, outbox, state.message_domain(), now).await?;
    Ok(inbox)
}

/// "Name: Customer", and the occurrence's date when it fires on a later day
/// (after downtime), so that caught-up occurrences tell which day they were.
fn title(ws: &Workspace, r: &Reminder, customer: &CustomerSummary, at: Timestamp, now: Timestamp) -> String {
    let tz = ws.time_zone.0;
    let day = at.with_timezone(&tz).date_naive();
    if day == now.with_timezone(&tz).date_naive() {
        format!("{}: {}", r.name, customer.display_name)
    } else {
        format!("{}: {} ({})", r.name, customer.display_name, format::date(day, ws.default_locale))
    }
}

/// One reminder's occurrence, as told to one staff member.
struct Message<'a> {
    ws: &'a Workspace,
    reminder: &'a Reminder,
    customer: &'a CustomerSummary,
    type_name: &'a str,
    at: Timestamp,
}

impl Message<'_> {
    /// The e-mail, rendered from the workspace's template (or the default
    /// when that one fails), as the base of both e-mail and SMS.
    fn rendered(&self, state: &AppState, staff: &Receiver, source: &TemplateSource) -> NewNotification {
        let (ws, r) = (self.ws, self.reminder);
        let locale = ws.default_locale;
        let date = format::date(self.at.with_timezone(&ws.time_zone.0).date_naive(), locale);
        let vars: BTreeMap<String, String> = [
            ("business_name", ws.name.clone()),
            ("staff_name", staff.name.clone()),
            ("customer_name", self.customer.display_name.clone()),
            ("reminder_name", r.name.clone()),
            ("reminder_type", self.type_name.to_string()),
            ("reminder_text", r.text.clone()),
            ("occurrence_date", date),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let rendered = render(state, NotificationKind::StaffReminder, source, locale, ws.default_tone, &vars);
        let html = rendered.html();
        NewNotification {
            workspace_id: ws.id.clone(),
            customer_id: Some(r.customer_id.clone()),
            contact_id: None,
            kind: NotificationKind::StaffReminder.as_str().into(),
            channel: String::new(),
            recipient: String::new(),
            subject: rendered.subject,
            body_html: Some(html),
            body_text: rendered.text,
            headers_json: "[]".into(),
        }
    }

    /// The SMS: queued, or recorded as suppressed with the reason it cannot go.
    fn sms(&self, staff: &Receiver, base: NewNotification) -> Recorded {
        let r = self.reminder;
        let text: String =
            format!("{}: {} – {}", r.name, self.customer.display_name, r.text).chars().take(300).collect();
        let notification = NewNotification {
            channel: "sms".into(),
            recipient: staff.phone.clone(),
            body_text: text,
            body_html: None,
            ..base
        };
        let skip = if !self.ws.sms_enabled {
            Some("sms_addon_disabled")
        } else if staff.phone.is_empty() {
            Some("no_phone")
        } else {
            None
        };
        match skip {
            Some(why) => Recorded { notification, state: SUPPRESSED, suppress_reason: Some(why) },
            None => Recorded { notification, state: QUEUED, suppress_reason: None },
        }
    }
}

/// Appends the HUB messages and NOTIFYs each recipient once, with its
/// latest sequence number (a stream re-reads everything after its cursor).
async fn append_to_inboxes(
    tx: &Tx,
    pending: Vec<PendingMessage>,
    now: Timestamp,
) -> AppResult<Vec<(Id, InboxMessage)>> {
    let new: Vec<NewInboxMessage> = pending
        .iter()
        .map(|m| NewInboxMessage {
            workspace_id: &m.workspace_id,
            recipient_kind: RecipientKind::Staff,
            recipient_id: &m.recipient_id,
            customer_id: Some(&m.customer_id),
            kind: NotificationKind::StaffReminder,
            title: m.title.clone(),
            body: m.body.clone(),
            link: m.link.clone(),
        })
        .collect();
    let stored = store::inbox::append_many(tx, &new, now).await?;
    let mut latest: BTreeMap<&Id, i64> = BTreeMap::new();
    for (m, s) in pending.iter().zip(&stored) {
        let seq = latest.entry(&m.recipient_id).or_default();
        *seq = (*seq).max(s.seq);
    }
    for (recipient, seq) in latest {
        live::notify_in_tx(tx, recipient, seq).await?;
    }
    Ok(pending.into_iter().map(|m| m.recipient_id).zip(stored).collect())
}
