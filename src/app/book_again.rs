//! Book-again reminders: staff set one on a booking, it waits for its send
//! date (counted from the day it was set, in the workspace's time zone), and
//! the periodic job sends its one SMS. Cancelling is a conditional update on
//! the pending state, as is sending, so each reminder ends exactly once.
use super::{AppState, customers::parse_customer_id as parse_id};
use crate::{
    domain::{
        Id, StaffPrincipal,
        booking::{BookAgainReminder, BookAgainState, Booking, CancelReason, IntervalUnit, booking_link, first_name},
        caller::CustomerScope,
        customer::Customer,
        format::local_today,
        notification::NotificationKind,
        page::{Page, PageRequest},
        workspace::Workspace,
    },
    error::{AppError, AppResult, Precondition, Violations},
    mail::templates::Rendered,
    notify::dispatch::{render, template_source},
    store::{self, TransactionTrait, Tx, book_again::Pending, book_again::ReminderFilter, outbox::NewNotification},
};
use chrono::{Days, Timelike};
use std::collections::BTreeMap;

pub const MAX_INTERVAL: i32 = 365;

/// What must hold for an SMS to go out; each failure names its subject.
fn unmet(ws: &Workspace, customer: &Customer, booking: &Booking, now: crate::clock::Timestamp) -> Vec<Precondition> {
    let mut out = vec![];
    let mut add = |kind, subject: String, description: &str| {
        out.push(Precondition { kind, subject, description: description.into() })
    };
    if !booking.allows_book_again(now) {
        add("BOOKING_NOT_ELIGIBLE", format!("bookings/{}", booking.id), "a future booking must be paid first");
    }
    if !customer.sms_consent.granted {
        add("SMS_CONSENT", format!("customers/{}", customer.id), "the customer has not given SMS consent");
    }
    if !ws.sms_enabled {
        add("SMS_ADDON", format!("workspaces/{}", ws.id), "the workspace's SMS add-on is off");
    }
    if ws.booking_url.is_empty() {
        add("BOOKING_URL", format!("workspaces/{}", ws.id), "the workspace has no online-booking URL");
    }
    if booking.phone.is_empty() {
        add("BOOKING_PHONE", format!("bookings/{}", booking.id), "the booking has no phone number");
    }
    out
}

pub async fn set(
    state: &AppState,
    caller: &StaffPrincipal,
    booking_id: &str,
    count: i32,
    unit: Option<IntervalUnit>,
) -> AppResult<BookAgainReminder> {
    let mut v = Violations::new();
    let booking_id = v.check("booking_id", Id::parse(booking_id));
    if !(1..=MAX_INTERVAL).contains(&count) {
        v.add("interval_count", format!("must be between 1 and {MAX_INTERVAL}"));
    }
    if unit.is_none() {
        v.add("interval_unit", "is required (DAYS, WEEKS or MONTHS)");
    }
    v.into_result()?;
    let (Some(booking_id), Some(unit)) = (booking_id, unit) else { unreachable!("violations are empty") };
    let scope = caller.scope();
    let ws_id = &caller.workspace_id;
    let now = state.clock.now();
    let tx = state.db.begin().await?;
    // The row lock serialises setting against changes of the booking.
    let booking = store::bookings::get(&tx, &scope, &booking_id, true).await?;
    let customer = store::customers::get(&tx, &scope, &booking.customer_id).await?;
    let ws = store::workspace_config::workspace(state, &tx, ws_id).await?;
    let unmet = unmet(&ws, &customer, &booking, now);
    if !unmet.is_empty() {
        return Err(AppError::FailedPrecondition(unmet));
    }
    let today = local_today(now, ws.time_zone.0);
    let send_date = unit
        .after(today, count as u32)
        .ok_or_else(|| AppError::invalid("interval_count", "lands beyond the calendar"))?;
    store::book_again::cancel(&tx, ws_id, Pending::OfBooking(&booking.id), CancelReason::Replaced, now).await?;
    let reminder = BookAgainReminder {
        id: Id::generate(),
        booking_id: booking.id.clone(),
        customer_id: booking.customer_id.clone(),
        contact_name: booking.contact_name.clone(),
        phone: booking.phone.clone(),
        interval_count: count,
        interval_unit: unit,
        send_date,
        state: BookAgainState::Pending,
        cancel_reason: None,
        token: crate::domain::booking::new_link_token(),
        sent_at: None,
        message: None,
        delivery_id: None,
        created_by: Some(caller.staff_user_id.clone()),
        created_at: now,
        updated_at: now,
    };
    store::book_again::insert(&tx, ws_id, &reminder).await?;
    tx.commit().await?;
    Ok(reminder)
}

/// A reminder whose customer the caller may see.
async fn scoped(tx: &Tx, scope: &CustomerScope, id: &Id) -> AppResult<BookAgainReminder> {
    let r = store::book_again::get(tx, &scope.workspace_id, id).await?;
    match store::customers::get(tx, scope, &r.customer_id).await {
        Ok(_) => Ok(r),
        Err(AppError::NotFound { .. }) => Err(AppError::not_found("book-again reminder", id.as_str())),
        Err(e) => Err(e),
    }
}

pub async fn cancel(state: &AppState, caller: &StaffPrincipal, id: &str) -> AppResult<BookAgainReminder> {
    let id = parse_id("book_again_reminder_id", id)?;
    let tx = state.db.begin().await?;
    let r = scoped(&tx, &caller.scope(), &id).await?;
    let now = state.clock.now();
    let which = Pending::One(&id);
    if store::book_again::cancel(&tx, &caller.workspace_id, which, CancelReason::CancelledByStaff, now).await? == 0 {
        return Err(AppError::precondition(
            "REMINDER_NOT_PENDING",
            format!("book-again-reminders/{id}"),
            format!("only a pending reminder can be cancelled; this one is {}", r.state.as_str()),
        ));
    }
    let r = store::book_again::get(&tx, &caller.workspace_id, &id).await?;
    tx.commit().await?;
    Ok(r)
}

pub async fn list(
    state: &AppState,
    caller: &StaffPrincipal,
    customer_id: &str,
    booking_id: &str,
    filter: Option<BookAgainState>,
    page: PageRequest<String>,
) -> AppResult<Page<BookAgainReminder>> {
    let mut v = Violations::new();
    let customer_id = v.check("customer_id", Id::parse_optional(customer_id)).flatten();
    let booking_id = v.check("booking_id", Id::parse_optional(booking_id)).flatten();
    if v.is_empty() && customer_id.is_none() && booking_id.is_none() {
        v.add("customer_id", "is required unless booking_id is set");
    }
    v.into_result()?;
    let ws = &caller.workspace_id;
    let owner = match (&customer_id, &booking_id) {
        (Some(c), _) => c.clone(),
        (None, Some(b)) => owner_of_booking(state, ws, b).await?,
        (None, None) => unreachable!("checked above"),
    };
    match store::customers::get(&state.reads, &caller.scope(), &owner).await {
        Err(AppError::NotFound { .. }) if customer_id.is_none() => {
            return Err(AppError::not_found("booking", booking_id.map(Id::into_string).unwrap_or_default()));
        }
        r => r?,
    };
    let f = ReminderFilter { workspace_id: ws.clone(), customer_id, booking_id, state: filter };
    store::book_again::list(&state.reads, &f, page).await
}

/// The customer of a booking, or of a deleted one's reminders: a deleted
/// booking's reminders stay its history, scoped by their customer.
async fn owner_of_booking(state: &AppState, ws: &Id, booking_id: &Id) -> AppResult<Id> {
    let unscoped = CustomerScope { workspace_id: ws.clone(), areas: None };
    match store::bookings::get(&state.db, &unscoped, booking_id, false).await {
        Ok(b) => Ok(b.customer_id),
        Err(AppError::NotFound { .. }) => store::book_again::customer_of_booking(&state.db, ws, booking_id)
            .await?
            .ok_or_else(|| AppError::not_found("booking", booking_id.as_str())),
        Err(e) => Err(e),
    }
}

/// One pass of the periodic job: sends every reminder whose send date has
/// reached `CUSTOMERHUB_REMINDER_LOCAL_HOUR` in its workspace's time zone
/// (a text to a customer at midnight would be unwelcome); returns how many
/// SMS it queued.
pub async fn send_due(state: &AppState) -> AppResult<usize> {
    let mut sent = 0;
    for ws in store::workspaces::all(&state.db).await? {
        let local = state.clock.now().with_timezone(&ws.time_zone.0);
        let today = local.date_naive();
        let through = if local.hour() >= state.settings.reminder_local_hour { today } else { today - Days::new(1) };
        for r in store::book_again::due(&state.db, &ws.id, through).await? {
            match send_one(state, &ws, &r).await {
                Ok(true) => sent += 1,
                Ok(false) => {}
                Err(e @ AppError::Unavailable(_)) => return Err(e),
                // One reminder that cannot be sent must not hold back the others; it stays due.
                Err(e) => {
                    tracing::error!(reminder = %r.id, error = %e, "book-again SMS not queued; next round retries")
                }
            }
        }
    }
    if sent > 0 {
        state.outbox_signal.notify_one();
    }
    Ok(sent)
}

/// Queues one reminder's SMS and marks it sent, in one transaction; false
/// when another replica sent it first or it was cancelled meanwhile.
async fn send_one(state: &AppState, ws: &Workspace, r: &BookAgainReminder) -> AppResult<bool> {
    let now = state.clock.now();
    let tx = state.db.begin().await?;
    let scope = CustomerScope { workspace_id: ws.id.clone(), areas: None };
    let customer = store::customers::get(&tx, &scope, &r.customer_id).await?;
    // What was true when it was set may not be any longer; sending anyway would break consent.
    let gone = if !customer.sms_consent.granted {
        Some(CancelReason::SmsConsentWithdrawn)
    } else if !ws.sms_enabled {
        Some(CancelReason::SmsDisabled)
    } else if ws.booking_url.is_empty() {
        Some(CancelReason::NoBookingUrl)
    } else {
        None
    };
    if let Some(reason) = gone {
        store::book_again::cancel(&tx, &ws.id, Pending::One(&r.id), reason, now).await?;
        tx.commit().await?;
        return Ok(false);
    }
    let sms = message(state, &tx, ws, &customer, r).await?;
    let delivery_id = store::outbox::enqueue(
        &tx,
        NewNotification {
            workspace_id: ws.id.clone(),
            customer_id: Some(r.customer_id.clone()),
            contact_id: None,
            kind: NotificationKind::BookAgain.as_str().into(),
            channel: "sms".into(),
            recipient: r.phone.clone(),
            subject: sms.subject,
            body_text: sms.text.clone(),
            body_html: None,
            headers_json: "[]".into(),
        },
        state.message_domain(),
        now,
    )
    .await?;
    if !store::book_again::mark_sent(&tx, &r.id, &sms.text, &delivery_id, now).await? {
        // Lost the race: the rollback takes the queued SMS back with it.
        tx.rollback().await?;
        return Ok(false);
    }
    tx.commit().await?;
    Ok(true)
}

/// The SMS (a short label and its text) from the book-again template in the
/// customer's language and tone.
async fn message(
    state: &AppState,
    tx: &Tx,
    ws: &Workspace,
    customer: &Customer,
    r: &BookAgainReminder,
) -> AppResult<Rendered> {
    let kind = NotificationKind::BookAgain;
    let locale = customer.locale.unwrap_or(ws.default_locale);
    let tone = customer.tone.unwrap_or(ws.default_tone);
    let source = template_source(state, tx, &ws.id, kind, locale, tone).await?;
    let name = first_name(&r.contact_name).unwrap_or(&customer.display_name);
    let vars = BTreeMap::from([
        ("business_name".to_string(), ws.name.clone()),
        ("customer_name".to_string(), name.to_string()),
        ("booking_link".to_string(), booking_link(&ws.booking_url, &r.token)),
    ]);
    let rendered = render(state, kind, &source, locale, tone, &vars);
    Ok(Rendered { text: rendered.text.trim().to_string(), ..rendered })
}
