//! Bookings, book-again SMS reminders, and SMS accounting (ReminderService).
use crate::{both_databases, support::*};
use chrono::{DateTime, Utc};
use customerhub::{grpc::pb, jobs};
use tonic::{Code, Status};

fn at(s: &str) -> DateTime<Utc> {
    s.parse().expect("RFC 3339 time")
}

fn pts(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: t.timestamp(), nanos: t.timestamp_subsec_nanos() as i32 }
}

const BOOKING_URL: &str = "https://boka.example.se/salong";

/// A booking of `customer_id` by Saga Ögren on her mobile.
fn booking(customer_id: &str, external_id: &str, start: DateTime<Utc>) -> pb::Booking {
    pb::Booking {
        external_id: external_id.into(),
        customer_id: customer_id.into(),
        contact_name: "Saga Ögren".into(),
        email: "saga@example.se".into(),
        phone: "+46 70 123 45 67".into(),
        start_time: Some(pts(start)),
        ..Default::default()
    }
}

async fn record(app: &TestApp, b: pb::Booking) -> (pb::Booking, bool) {
    let r = app
        .admin_bookings()
        .record_booking(pb::RecordBookingRequest { booking: Some(b) })
        .await
        .expect("record booking")
        .into_inner();
    (r.booking.unwrap(), r.created)
}

async fn update(app: &TestApp, b: pb::Booking, paths: &[&str]) -> Result<pb::Booking, Status> {
    let req = pb::UpdateBookingRequest { booking: Some(b), update_mask: mask(paths) };
    Ok(app.admin_bookings().update_booking(req).await?.into_inner().booking.unwrap())
}

async fn set(app: &TestApp, booking_id: &str, n: i32, unit: pb::IntervalUnit) -> Result<pb::BookAgainReminder, Status> {
    let req = pb::SetBookAgainReminderRequest {
        booking_id: booking_id.into(),
        interval_count: n,
        interval_unit: unit as i32,
    };
    Ok(app.admin_bookings().set_book_again_reminder(req).await?.into_inner().book_again_reminder.unwrap())
}

async fn reminders_of_booking(app: &TestApp, booking_id: &str) -> Vec<pb::BookAgainReminder> {
    app.admin_bookings()
        .list_book_again_reminders(pb::ListBookAgainRemindersRequest {
            booking_id: booking_id.into(),
            ..Default::default()
        })
        .await
        .expect("list reminders")
        .into_inner()
        .book_again_reminders
}

async fn reminders_of_customer(
    app: &TestApp,
    customer_id: &str,
    state: pb::BookAgainState,
) -> Vec<pb::BookAgainReminder> {
    app.admin_bookings()
        .list_book_again_reminders(pb::ListBookAgainRemindersRequest {
            customer_id: customer_id.into(),
            state: state as i32,
            ..Default::default()
        })
        .await
        .expect("list reminders")
        .into_inner()
        .book_again_reminders
}

/// The one reminder of a booking with its state and cancel reason.
async fn only_reminder(app: &TestApp, booking_id: &str) -> (i32, String) {
    let all = reminders_of_booking(app, booking_id).await;
    assert_eq!(all.len(), 1, "{all:?}");
    (all[0].state, all[0].cancel_reason.clone())
}

async fn sms_deliveries(app: &TestApp, customer_id: &str) -> Vec<pb::Delivery> {
    app.admin_notifications()
        .list_deliveries(pb::ListDeliveriesRequest { customer_id: customer_id.into(), ..Default::default() })
        .await
        .expect("list deliveries")
        .into_inner()
        .deliveries
        .into_iter()
        .filter(|d| d.channel == pb::Channel::Sms as i32)
        .collect()
}

/// A company customer (Swedish, casual), optionally in an area.
async fn customer(app: &TestApp, name: &str, area_id: &str) -> String {
    let mut req = company(name, &[]);
    let c = req.customer.as_mut().unwrap();
    c.area_id = area_id.into();
    c.locale = pb::Locale::Sv as i32;
    c.tone = pb::Tone::Casual as i32;
    app.admin_customers().create_customer(req).await.expect("create customer").into_inner().customer.unwrap().id
}

async fn consent(app: &TestApp, customer_id: &str, granted: bool) {
    app.admin_customers()
        .set_sms_consent(pb::SetSmsConsentRequest {
            customer_id: customer_id.into(),
            granted,
            method: if granted { pb::SmsConsentMethod::InPerson as i32 } else { 0 },
            note: String::new(),
        })
        .await
        .expect("set SMS consent");
}

/// Switches the SMS add-on on, with a booking URL and a price of 0.80 SEK.
async fn enable_sms(app: &TestApp, booking_url: &str) {
    app.admin_workspace()
        .update_workspace(pb::UpdateWorkspaceRequest {
            workspace: Some(pb::Workspace {
                sms_enabled: true,
                booking_url: booking_url.into(),
                sms_price_minor: 80,
                sms_currency: "SEK".into(),
                ..Default::default()
            }),
            update_mask: mask(&["sms_enabled", "booking_url", "sms_price_minor", "sms_currency"]),
        })
        .await
        .expect("enable SMS");
}

/// A customer with SMS consent in a workspace ready to send book-again SMS.
async fn ready_customer(app: &TestApp, name: &str) -> String {
    enable_sms(app, BOOKING_URL).await;
    let c = customer(app, name, "").await;
    consent(app, &c, true).await;
    c
}

fn preconditions(status: &Status) -> Vec<String> {
    use tonic_types::StatusExt;
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    let mut kinds: Vec<String> = status
        .get_error_details()
        .precondition_failure()
        .map(|p| p.violations.iter().map(|v| v.r#type.clone()).collect())
        .unwrap_or_default();
    kinds.sort();
    kinds
}

async fn bookings_are_recorded_upserted_changed_and_listed(app: TestApp) {
    app.clock.set(at("2026-03-10T09:00:00Z"));
    let c = customer(&app, "Salong Kund AB", "").await;
    let (b1, created) = record(&app, booking(&c, "ext-1", at("2026-03-01T10:00:00Z"))).await;
    assert!(created);
    assert_eq!(
        (b1.external_id.as_str(), b1.phone.as_str(), b1.email.as_str(), b1.paid, b1.via_book_again),
        ("ext-1", "+46701234567", "saga@example.se", false, false)
    );
    assert_eq!(b1.start_time, Some(pts(at("2026-03-01T10:00:00Z"))));
    assert_eq!(b1.create_time, Some(pts(at("2026-03-10T09:00:00Z"))));

    // The booking system sends the same booking again, moved and paid: an update.
    app.clock.advance(chrono::Duration::minutes(5));
    let mut moved = booking(&c, "ext-1", at("2026-03-02T11:00:00Z"));
    moved.paid = true;
    let (b1u, created) = record(&app, moved).await;
    assert!(!created);
    assert_eq!(b1u.id, b1.id);
    assert_eq!((b1u.start_time, b1u.paid), (Some(pts(at("2026-03-02T11:00:00Z"))), true));
    assert_eq!(b1u.update_time, Some(pts(at("2026-03-10T09:05:00Z"))));

    let (b2, _) = record(&app, booking(&c, "", at("2026-04-01T08:00:00Z"))).await;
    let (b3, _) = record(&app, booking(&c, "", at("2026-02-01T08:00:00Z"))).await;
    let (b4, created) = record(&app, booking(&c, "", at("2026-02-01T08:00:00Z"))).await;
    assert!(created, "without an external id every record is a new booking");

    // Newest start first, in pages.
    let mut seen = vec![];
    let mut token = String::new();
    loop {
        let page = app
            .admin_bookings()
            .list_bookings(pb::ListBookingsRequest { customer_id: c.clone(), page_size: 2, page_token: token })
            .await
            .unwrap()
            .into_inner();
        assert!(page.bookings.len() <= 2);
        seen.extend(page.bookings.into_iter().map(|b| b.id));
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    let (older, newer) = if b3.id < b4.id { (&b3.id, &b4.id) } else { (&b4.id, &b3.id) };
    assert_eq!(seen, [b2.id.clone(), b1.id.clone(), newer.clone(), older.clone()]);

    // Only masked fields change.
    let changed = update(
        &app,
        pb::Booking { id: b3.id.clone(), paid: true, contact_name: "Ignored".into(), ..Default::default() },
        &["paid"],
    )
    .await
    .unwrap();
    assert_eq!(
        (changed.paid, changed.contact_name.as_str(), changed.phone.as_str()),
        (true, "Saga Ögren", "+46701234567")
    );
    let changed = update(
        &app,
        pb::Booking {
            id: b3.id.clone(),
            contact_name: " Saga Svensson ".into(),
            email: String::new(),
            start_time: Some(pts(at("2026-02-03T08:00:00Z"))),
            ..Default::default()
        },
        &["contact_name", "email", "start_time"],
    )
    .await
    .unwrap();
    assert_eq!(
        (changed.contact_name.as_str(), changed.email.as_str(), changed.start_time),
        ("Saga Svensson", "", Some(pts(at("2026-02-03T08:00:00Z"))))
    );
    let err = update(&app, pb::Booking { id: b3.id.clone(), ..Default::default() }, &["customer_id", "colour"])
        .await
        .unwrap_err();
    assert_fields(&err, &["update_mask"]);

    app.admin_bookings().delete_booking(pb::DeleteBookingRequest { booking_id: b2.id.clone() }).await.unwrap();
    let err =
        app.admin_bookings().delete_booking(pb::DeleteBookingRequest { booking_id: b2.id.clone() }).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err =
        update(&app, pb::Booking { id: b2.id.clone(), paid: true, ..Default::default() }, &["paid"]).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let left = app
        .admin_bookings()
        .list_bookings(pb::ListBookingsRequest { customer_id: c.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .bookings;
    assert_eq!(left.len(), 3);
}

async fn bad_input_names_every_field(app: TestApp) {
    let c = customer(&app, "Salong Kund AB", "").await;
    let err = app
        .admin_bookings()
        .record_booking(pb::RecordBookingRequest {
            booking: Some(pb::Booking {
                external_id: "x".repeat(129),
                customer_id: "not-an-id".into(),
                contact_name: "  ".into(),
                email: "saga@".into(),
                phone: "070-ABC".into(),
                start_time: None,
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    assert_fields(
        &err,
        &[
            "booking.contact_name",
            "booking.customer_id",
            "booking.email",
            "booking.external_id",
            "booking.phone",
            "booking.start_time",
        ],
    );
    let err = app.admin_bookings().record_booking(pb::RecordBookingRequest { booking: None }).await.unwrap_err();
    assert_fields(&err, &["booking"]);
    let mut bad_time = booking(&c, "", at("2026-03-01T10:00:00Z"));
    bad_time.start_time = Some(prost_types::Timestamp { seconds: i64::MAX, nanos: -1 });
    let err =
        app.admin_bookings().record_booking(pb::RecordBookingRequest { booking: Some(bad_time) }).await.unwrap_err();
    assert_fields(&err, &["booking.start_time"]);
    // A time chrono takes but PostgreSQL cannot store (about 7500 BC).
    let mut ancient = booking(&c, "", at("2026-03-01T10:00:00Z"));
    ancient.start_time = Some(prost_types::Timestamp { seconds: -300_000_000_000, nanos: 0 });
    let err =
        app.admin_bookings().record_booking(pb::RecordBookingRequest { booking: Some(ancient) }).await.unwrap_err();
    assert_fields(&err, &["booking.start_time"]);
    let unknown = booking("0190d4c2-0000-7000-8000-000000000000", "", at("2026-03-01T10:00:00Z"));
    let err =
        app.admin_bookings().record_booking(pb::RecordBookingRequest { booking: Some(unknown) }).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    let (b, _) = record(&app, booking(&c, "", at("2026-03-01T10:00:00Z"))).await;
    let err = update(
        &app,
        pb::Booking {
            id: b.id.clone(),
            contact_name: String::new(),
            email: "nope".into(),
            phone: "1".into(),
            ..Default::default()
        },
        &["contact_name", "email", "phone", "start_time"],
    )
    .await
    .unwrap_err();
    assert_fields(&err, &["booking.contact_name", "booking.email", "booking.phone", "booking.start_time"]);
    let err = update(&app, pb::Booking { id: "x".into(), ..Default::default() }, &["paid"]).await.unwrap_err();
    assert_fields(&err, &["booking.id"]);

    let err = set(&app, "", 0, pb::IntervalUnit::Unspecified).await.unwrap_err();
    assert_fields(&err, &["booking_id", "interval_count", "interval_unit"]);
    let err = set(&app, &b.id, 366, pb::IntervalUnit::Days).await.unwrap_err();
    assert_fields(&err, &["interval_count"]);
    let err = app
        .admin_bookings()
        .set_book_again_reminder(pb::SetBookAgainReminderRequest {
            booking_id: b.id.clone(),
            interval_count: 1,
            interval_unit: 42,
        })
        .await
        .unwrap_err();
    assert_fields(&err, &["interval_unit"]);
    let err =
        app.admin_bookings().list_book_again_reminders(pb::ListBookAgainRemindersRequest::default()).await.unwrap_err();
    assert_fields(&err, &["customer_id"]);
    let err = app
        .admin_bookings()
        .list_book_again_reminders(pb::ListBookAgainRemindersRequest {
            customer_id: "x".into(),
            booking_id: "y".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_fields(&err, &["booking_id", "customer_id"]);
    let err = app
        .admin_bookings()
        .cancel_book_again_reminder(pb::CancelBookAgainReminderRequest { book_again_reminder_id: String::new() })
        .await
        .unwrap_err();
    assert_fields(&err, &["book_again_reminder_id"]);
    let err = app.admin_bookings().report_sms_delivery(pb::ReportSmsDeliveryRequest::default()).await.unwrap_err();
    assert_fields(&err, &["provider_message_id", "status"]);
    let err = app
        .admin_bookings()
        .get_sms_usage(pb::GetSmsUsageRequest { from_date: "2026-13-01".into(), to_date: String::new() })
        .await
        .unwrap_err();
    assert_fields(&err, &["from_date", "to_date"]);
    let err = app
        .admin_bookings()
        .get_sms_usage(pb::GetSmsUsageRequest { from_date: "2026-03-02".into(), to_date: "2026-03-01".into() })
        .await
        .unwrap_err();
    assert_fields(&err, &["to_date"]);
}

async fn a_reminder_needs_an_eligible_booking_consent_sms_and_a_booking_url(app: TestApp) {
    app.clock.set(at("2026-03-10T09:00:00Z"));
    let c = customer(&app, "Salong Kund AB", "").await;
    let (past, _) = record(&app, booking(&c, "past", at("2026-03-01T10:00:00Z"))).await;
    let (future, _) = record(&app, booking(&c, "future", at("2026-04-01T10:00:00Z"))).await;
    let mut no_phone = booking(&c, "no-phone", at("2026-03-01T10:00:00Z"));
    no_phone.phone = String::new();
    let (no_phone, _) = record(&app, no_phone).await;

    // Everything missing at once is named at once.
    let err = set(&app, &past.id, 4, pb::IntervalUnit::Weeks).await.unwrap_err();
    assert_eq!(preconditions(&err), ["BOOKING_URL", "SMS_ADDON", "SMS_CONSENT"]);
    consent(&app, &c, true).await;
    let err = set(&app, &past.id, 4, pb::IntervalUnit::Weeks).await.unwrap_err();
    assert_eq!(preconditions(&err), ["BOOKING_URL", "SMS_ADDON"]);
    enable_sms(&app, "").await;
    let err = set(&app, &past.id, 4, pb::IntervalUnit::Weeks).await.unwrap_err();
    assert_eq!(preconditions(&err), ["BOOKING_URL"]);
    assert!(err.message().contains("the workspace has no online-booking URL"), "{err:?}");
    enable_sms(&app, BOOKING_URL).await;
    let r = set(&app, &past.id, 4, pb::IntervalUnit::Weeks).await.unwrap();
    assert_eq!(r.state, pb::BookAgainState::Pending as i32);

    let err = set(&app, &future.id, 4, pb::IntervalUnit::Weeks).await.unwrap_err();
    assert_eq!(preconditions(&err), ["BOOKING_NOT_ELIGIBLE"]);
    update(&app, pb::Booking { id: future.id.clone(), paid: true, ..Default::default() }, &["paid"]).await.unwrap();
    set(&app, &future.id, 4, pb::IntervalUnit::Weeks).await.expect("a paid future booking qualifies");

    let err = set(&app, &no_phone.id, 4, pb::IntervalUnit::Weeks).await.unwrap_err();
    assert_eq!(preconditions(&err), ["BOOKING_PHONE"]);
    consent(&app, &c, false).await;
    let err = set(&app, &past.id, 4, pb::IntervalUnit::Weeks).await.unwrap_err();
    assert_eq!(preconditions(&err), ["SMS_CONSENT"], "withdrawn consent counts");
    let err = set(&app, "0190d4c2-0000-7000-8000-000000000000", 1, pb::IntervalUnit::Days).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}

/// The send date is counted from the workspace's local date when the
/// reminder is set; the job sends exactly one SMS, however often it runs.
async fn one_sms_on_the_send_date_counted_from_the_day_it_is_set(app: TestApp) {
    // 23:30 UTC on 31 January is already 1 February in Copenhagen.
    app.clock.set(at("2026-01-31T23:30:00Z"));
    let c = ready_customer(&app, "Salong Kund AB").await;
    let (b, _) = record(&app, booking(&c, "", at("2025-11-20T10:00:00Z"))).await;
    let monthly = set(&app, &b.id, 1, pb::IntervalUnit::Months).await.unwrap();
    assert_eq!(monthly.send_date, "2026-03-01");
    assert_eq!((monthly.interval_count, monthly.interval_unit), (1, pb::IntervalUnit::Months as i32));
    assert_eq!(
        (monthly.phone.as_str(), monthly.created_by_staff_user_id.as_str()),
        ("+46701234567", app.admin_id.as_str())
    );
    assert_eq!(set(&app, &b.id, 10, pb::IntervalUnit::Days).await.unwrap().send_date, "2026-02-11");
    let weekly = set(&app, &b.id, 2, pb::IntervalUnit::Weeks).await.unwrap();
    assert_eq!(weekly.send_date, "2026-02-15");
    // Setting again replaced the pending one each time.
    let all = reminders_of_booking(&app, &b.id).await;
    let states: Vec<(i32, &str)> = all.iter().map(|r| (r.state, r.cancel_reason.as_str())).collect();
    let cancelled = pb::BookAgainState::Cancelled as i32;
    assert_eq!(states, [(pb::BookAgainState::Pending as i32, ""), (cancelled, "replaced"), (cancelled, "replaced")]);
    assert_eq!(all[0].id, weekly.id, "newest first");

    // On the send date, at 08:00 local time (CUSTOMERHUB_REMINDER_LOCAL_HOUR),
    // not at midnight: a minute before, nothing goes out.
    app.clock.set(at("2026-02-14T23:00:00Z"));
    assert_eq!(jobs::run_once(&app.state).await.unwrap(), 0, "sent at local midnight");
    app.clock.set(at("2026-02-15T06:59:00Z"));
    assert_eq!(jobs::run_once(&app.state).await.unwrap(), 0);
    app.clock.set(at("2026-02-15T07:00:00Z"));
    let (a, b2) = tokio::join!(jobs::run_once(&app.state), jobs::run_once(&app.state));
    assert_eq!(a.unwrap() + b2.unwrap(), 1, "two passes at once send it once");
    assert_eq!(jobs::run_once(&app.state).await.unwrap(), 0);
    assert_eq!(app.deliver_all().await, 1);
    app.clock.advance(chrono::Duration::days(40));
    assert_eq!(jobs::run_once(&app.state).await.unwrap(), 0);
    assert_eq!(app.deliver_all().await, 0);

    let files = app.sms_files();
    assert_eq!(files.len(), 1, "{files:?}");
    let text = files[0]["text"].as_str().unwrap();
    assert_eq!(files[0]["to"], "+46701234567");
    assert_eq!(files[0]["from"], "Rengøring A/S");
    assert!(text.starts_with("Hej Saga! "), "the booking's first name, in Swedish: {text}");
    assert!(text.contains(&format!("{BOOKING_URL}?ref=")), "{text}");

    let sent = reminders_of_customer(&app, &c, pb::BookAgainState::Sent).await;
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].id.as_str(), sent[0].message.as_str()), (weekly.id.as_str(), text));
    assert_eq!(sent[0].send_time, Some(pts(at("2026-02-15T07:00:00Z"))));
    assert_eq!(sent[0].delivery_id, files[0]["id"].as_str().unwrap());
    let deliveries = sms_deliveries(&app, &c).await;
    assert_eq!(deliveries.len(), 1);
    let d = &deliveries[0];
    assert_eq!(
        (d.id.as_str(), d.kind, d.state),
        (sent[0].delivery_id.as_str(), pb::NotificationKind::BookAgain as i32, pb::DeliveryState::Sent as i32)
    );
    assert_eq!((d.recipient.as_str(), d.subject.as_str()), ("+46701234567", "Boka igen"));
}

/// Changing the booking's name, e-mail or phone, deleting it, or booking
/// again cancels the pending reminder with its reason; none of them sends.
async fn automatic_cancellations_keep_their_reason_and_never_send(app: TestApp) {
    app.clock.set(at("2026-03-10T09:00:00Z"));
    let c = ready_customer(&app, "Salong Kund AB").await;
    let past = at("2026-03-01T10:00:00Z");
    let mut ids = vec![];
    for ext in ["name", "email", "phone", "deleted"] {
        let (b, _) = record(&app, booking(&c, ext, past)).await;
        set(&app, &b.id, 3, pb::IntervalUnit::Days).await.unwrap();
        ids.push(b.id);
    }
    let pending = (pb::BookAgainState::Pending as i32, String::new());
    let cancelled = |why: &str| (pb::BookAgainState::Cancelled as i32, why.to_string());

    // The same details, written differently, and other fields change nothing.
    let mut same = booking(&c, "name", past);
    same.phone = "+46 (70) 123-45-67".into();
    same.email = "SAGA@example.se".into();
    same.paid = true;
    record(&app, same).await;
    let untouched =
        pb::Booking { id: ids[0].clone(), start_time: Some(pts(at("2026-03-02T10:00:00Z"))), ..Default::default() };
    update(&app, untouched, &["start_time"]).await.unwrap();
    assert_eq!(only_reminder(&app, &ids[0]).await, pending);

    update(
        &app,
        pb::Booking { id: ids[0].clone(), contact_name: "Saga Lind".into(), ..Default::default() },
        &["contact_name"],
    )
    .await
    .unwrap();
    assert_eq!(only_reminder(&app, &ids[0]).await, cancelled("booking_changed"));
    let mut new_email = booking(&c, "email", past);
    new_email.email = "saga.ogren@example.se".into();
    record(&app, new_email).await;
    assert_eq!(only_reminder(&app, &ids[1]).await, cancelled("booking_changed"));
    update(
        &app,
        pb::Booking { id: ids[2].clone(), phone: "+46 70 999 99 99".into(), ..Default::default() },
        &["phone"],
    )
    .await
    .unwrap();
    assert_eq!(only_reminder(&app, &ids[2]).await, cancelled("booking_changed"));
    app.admin_bookings().delete_booking(pb::DeleteBookingRequest { booking_id: ids[3].clone() }).await.unwrap();
    let history = reminders_of_booking(&app, &ids[3]).await;
    assert_eq!(history.len(), 1, "a deleted booking's reminder stays as history");
    assert_eq!((history[0].state, history[0].cancel_reason.clone()), cancelled("booking_deleted"));
    assert_eq!((history[0].booking_id.as_str(), history[0].phone.as_str()), (ids[3].as_str(), "+46701234567"));

    // Another customer books again: a past booking is no new visit, a future one is.
    let c2 = customer(&app, "Stamkund AB", "").await;
    consent(&app, &c2, true).await;
    let (b2, _) = record(&app, booking(&c2, "", past)).await;
    let r2 = set(&app, &b2.id, 1, pb::IntervalUnit::Months).await.unwrap();
    record(&app, booking(&c2, "", at("2026-03-05T10:00:00Z"))).await;
    assert_eq!(only_reminder(&app, &b2.id).await, pending);
    let (upcoming, _) = record(&app, booking(&c2, "", at("2026-04-20T10:00:00Z"))).await;
    assert_eq!(only_reminder(&app, &b2.id).await, cancelled("booked_again"));
    assert!(reminders_of_booking(&app, &upcoming.id).await.is_empty());
    assert_eq!(reminders_of_customer(&app, &c2, pb::BookAgainState::Cancelled).await[0].id, r2.id);

    app.clock.advance(chrono::Duration::days(60));
    assert_eq!(jobs::run_once(&app.state).await.unwrap(), 0);
    assert_eq!(app.deliver_all().await, 0);
    assert!(app.sms_files().is_empty());
    assert!(sms_deliveries(&app, &c).await.is_empty());
}

async fn staff_cancel_only_pending_reminders_and_lists_filter_by_state(app: TestApp) {
    app.clock.set(at("2026-03-10T09:00:00Z"));
    let c = ready_customer(&app, "Salong Kund AB").await;
    let (b, _) = record(&app, booking(&c, "", at("2026-03-01T10:00:00Z"))).await;
    let first = set(&app, &b.id, 1, pb::IntervalUnit::Days).await.unwrap();
    let cancel = |id: String| {
        let mut client = app.admin_bookings();
        async move {
            client
                .cancel_book_again_reminder(pb::CancelBookAgainReminderRequest { book_again_reminder_id: id })
                .await
                .map(|r| r.into_inner().book_again_reminder.unwrap())
        }
    };
    let done = cancel(first.id.clone()).await.unwrap();
    assert_eq!((done.state, done.cancel_reason.as_str()), (pb::BookAgainState::Cancelled as i32, "cancelled_by_staff"));
    assert_eq!(preconditions(&cancel(first.id.clone()).await.unwrap_err()), ["REMINDER_NOT_PENDING"]);

    let second = set(&app, &b.id, 1, pb::IntervalUnit::Days).await.unwrap();
    app.clock.advance(chrono::Duration::days(1));
    assert_eq!(jobs::run_once(&app.state).await.unwrap(), 1);
    assert_eq!(preconditions(&cancel(second.id.clone()).await.unwrap_err()), ["REMINDER_NOT_PENDING"]);
    let err = cancel("0190d4c2-0000-7000-8000-000000000000".into()).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    let ids = |rs: Vec<pb::BookAgainReminder>| rs.into_iter().map(|r| r.id).collect::<Vec<String>>();
    assert_eq!(
        ids(reminders_of_customer(&app, &c, pb::BookAgainState::Unspecified).await),
        [second.id.as_str(), first.id.as_str()]
    );
    assert_eq!(ids(reminders_of_customer(&app, &c, pb::BookAgainState::Sent).await), [second.id.as_str()]);
    assert_eq!(ids(reminders_of_customer(&app, &c, pb::BookAgainState::Cancelled).await), [first.id.as_str()]);
    assert!(reminders_of_customer(&app, &c, pb::BookAgainState::Pending).await.is_empty());
    let page = app
        .admin_bookings()
        .list_book_again_reminders(pb::ListBookAgainRemindersRequest {
            booking_id: b.id.clone(),
            page_size: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ids(page.book_again_reminders), [second.id.as_str()]);
    let rest = app
        .admin_bookings()
        .list_book_again_reminders(pb::ListBookAgainRemindersRequest {
            booking_id: b.id.clone(),
            page_size: 1,
            page_token: page.next_page_token,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ids(rest.book_again_reminders), [first.id.as_str()]);
    assert!(rest.next_page_token.is_empty());

    // Consent withdrawn after the reminder was set: it is cancelled, not sent.
    let third = set(&app, &b.id, 1, pb::IntervalUnit::Days).await.unwrap();
    consent(&app, &c, false).await;
    app.clock.advance(chrono::Duration::days(1));
    assert_eq!(jobs::run_once(&app.state).await.unwrap(), 0);
    let r = &reminders_of_customer(&app, &c, pb::BookAgainState::Cancelled).await[0];
    assert_eq!((r.id.as_str(), r.cancel_reason.as_str()), (third.id.as_str(), "sms_consent_withdrawn"));
}

/// A booking made through the SMS's link is marked as coming from it. The
/// SMS uses the workspace's own template where it has one.
async fn a_booking_made_with_the_link_token_is_attributed(app: TestApp) {
    app.clock.set(at("2026-03-10T09:00:00Z"));
    let c = ready_customer(&app, "Salong Kund AB").await;
    app.admin_notifications()
        .update_template(pb::UpdateTemplateRequest {
            template: Some(pb::Template {
                kind: pb::NotificationKind::BookAgain as i32,
                locale: pb::Locale::Sv as i32,
                tone: pb::Tone::Casual as i32,
                subject: "Boka igen".into(),
                body: "{{ customer_name }}, dags för klippning hos {{ business_name }}? {{ booking_link }}".into(),
                ..Default::default()
            }),
        })
        .await
        .expect("save the workspace's template");
    let (b, _) = record(&app, booking(&c, "", at("2026-03-01T10:00:00Z"))).await;
    set(&app, &b.id, 2, pb::IntervalUnit::Days).await.unwrap();
    app.clock.advance(chrono::Duration::days(2));
    assert_eq!(jobs::run_once(&app.state).await.unwrap(), 1);
    app.deliver_all().await;
    let text = app.sms_files()[0]["text"].as_str().unwrap().to_string();
    let token = text.split("?ref=").nth(1).unwrap().split_whitespace().next().unwrap().to_string();
    assert_eq!(text, format!("Saga, dags för klippning hos Rengøring A/S? {BOOKING_URL}?ref={token}"));

    let mut via = booking(&c, "web-1", at("2026-04-01T10:00:00Z"));
    via.book_again_token = token.clone();
    let (made, created) = record(&app, via).await;
    assert!(created && made.via_book_again);
    assert!(made.book_again_token.is_empty(), "the token is input only");
    let listed = app
        .admin_bookings()
        .list_bookings(pb::ListBookingsRequest { customer_id: c.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .bookings;
    assert_eq!(listed.iter().map(|b| b.via_book_again).collect::<Vec<_>>(), [true, false]);
    // Re-sent by the booking system without the token, it stays attributed.
    let (again, _) = record(&app, booking(&c, "web-1", at("2026-04-01T10:00:00Z"))).await;
    assert!(again.via_book_again);

    let mut unknown = booking(&c, "", at("2026-04-02T10:00:00Z"));
    unknown.book_again_token = "not-a-token".into();
    assert!(!record(&app, unknown).await.0.via_book_again);
    // Another workspace's booking with this workspace's token is not attributed.
    let (_, other_key) = app.other_workspace().await;
    let other_customer = app
        .customers(&other_key)
        .create_customer(company("Annan AB", &[]))
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap()
        .id;
    let mut foreign = booking(&other_customer, "", at("2026-04-01T10:00:00Z"));
    foreign.book_again_token = token;
    let made = app
        .bookings(&other_key)
        .record_booking(pb::RecordBookingRequest { booking: Some(foreign) })
        .await
        .unwrap()
        .into_inner()
        .booking
        .unwrap();
    assert!(!made.via_book_again);
}

/// Queues one book-again SMS for a fresh booking of `customer`, a day
/// after now (and delivers it, if asked); returns the delivery id.
async fn send_one(app: &TestApp, customer: &str, deliver: bool) -> String {
    let (b, _) = record(app, booking(customer, "", at("2026-03-01T10:00:00Z"))).await;
    set(app, &b.id, 1, pb::IntervalUnit::Days).await.unwrap();
    app.clock.advance(chrono::Duration::days(1));
    assert_eq!(jobs::run_once(&app.state).await.unwrap(), 1);
    if deliver {
        assert_eq!(app.deliver_all().await, 1);
    }
    reminders_of_booking(app, &b.id).await[0].delivery_id.clone()
}

async fn only_sms(app: &TestApp, customer: &str) -> pb::Delivery {
    let mut all = sms_deliveries(app, customer).await;
    assert_eq!(all.len(), 1, "{all:?}");
    all.remove(0)
}

/// Delivery reports flip the history; usage bills only delivered SMS.
async fn delivery_reports_and_usage_bill_only_delivered(app: TestApp) {
    app.clock.set(at("2026-03-10T09:00:00Z"));
    let c = ready_customer(&app, "Salong Kund AB").await;
    let delivered = send_one(&app, &c, true).await;
    let failed = send_one(&app, &c, true).await;
    let sent = send_one(&app, &c, true).await;
    // Queued but not yet handed to the provider: not counted.
    send_one(&app, &c, false).await;
    // The folder provider's message id is the notification id.
    let report = |id: &str, status: pb::SmsDeliveryStatus, error: &str| pb::ReportSmsDeliveryRequest {
        provider_message_id: id.into(),
        status: status as i32,
        error: error.into(),
    };
    let r = app.admin_bookings().report_sms_delivery(report(&delivered, pb::SmsDeliveryStatus::Delivered, "")).await;
    assert_eq!(r.unwrap().into_inner().delivery_id, delivered);
    app.admin_bookings()
        .report_sms_delivery(report(&failed, pb::SmsDeliveryStatus::Failed, "absent subscriber"))
        .await
        .unwrap();
    let err = app
        .admin_bookings()
        .report_sms_delivery(report("no-such-message", pb::SmsDeliveryStatus::Delivered, ""))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    let history = sms_deliveries(&app, &c).await;
    let state_of = |id: &str| history.iter().find(|d| d.id == id).map(|d| (d.state, d.last_error.clone())).unwrap();
    assert_eq!(state_of(&delivered), (pb::DeliveryState::Delivered as i32, String::new()));
    assert_eq!(state_of(&failed), (pb::DeliveryState::Failed as i32, "absent subscriber".to_string()));
    assert_eq!(state_of(&sent), (pb::DeliveryState::Sent as i32, String::new()));

    let usage = |from: &str, to: &str| {
        let mut client = app.admin_bookings();
        let req = pb::GetSmsUsageRequest { from_date: from.into(), to_date: to.into() };
        async move { client.get_sms_usage(req).await.map(|r| r.into_inner()) }
    };
    // The SMS went out on 11-13 March, local time.
    let u = usage("2026-03-11", "2026-03-13").await.unwrap();
    assert_eq!((u.sent_count, u.delivered_count, u.failed_count), (3, 1, 1));
    assert_eq!((u.price_minor, u.cost_minor, u.currency.as_str()), (80, 80, "SEK"));
    let u = usage("2026-03-12", "2026-03-12").await.unwrap();
    assert_eq!((u.sent_count, u.delivered_count, u.failed_count, u.cost_minor), (1, 0, 1, 0));
    let u = usage("2026-03-01", "2026-03-10").await.unwrap();
    assert_eq!((u.sent_count, u.cost_minor), (0, 0));

    let nord = app.area("Nord").await;
    let (_, sup) = app.staff_with_key("sup@rengoering.example.dk", pb::StaffRole::Supervisor, vec![nord]).await;
    let err = app
        .bookings(&sup)
        .get_sms_usage(pb::GetSmsUsageRequest { from_date: "2026-03-11".into(), to_date: "2026-03-13".into() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    // Not the supervisor's customer, nor another workspace's message.
    let err = app.bookings(&sup).report_sms_delivery(report(&sent, pb::SmsDeliveryStatus::Delivered, "")).await;
    assert_eq!(err.unwrap_err().code(), Code::NotFound);
    let (_, other_key) = app.other_workspace().await;
    let err = app.bookings(&other_key).report_sms_delivery(report(&sent, pb::SmsDeliveryStatus::Delivered, "")).await;
    assert_eq!(err.unwrap_err().code(), Code::NotFound);
    let still = sms_deliveries(&app, &c).await.into_iter().find(|d| d.id == sent).unwrap();
    assert_eq!(still.state, pb::DeliveryState::Sent as i32);
}

/// What a fake SMS gateway saw: the authorization header and the JSON body.
type Seen = std::sync::Arc<std::sync::Mutex<Vec<(String, serde_json::Value)>>>;

/// A real HTTP server on 127.0.0.1 answering with `answers` in turn.
async fn fake_gateway(answers: Vec<(u16, &'static str)>) -> (String, Seen) {
    use axum::{extract::State, http::HeaderMap, routing::post};
    use std::sync::{Arc, Mutex};
    type Shared = (Seen, Arc<Mutex<std::collections::VecDeque<(u16, &'static str)>>>);
    async fn handle(
        State((seen, answers)): State<Shared>,
        headers: HeaderMap,
        body: String,
    ) -> (axum::http::StatusCode, String) {
        let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        seen.lock().unwrap().push((auth, serde_json::from_str(&body).unwrap_or_default()));
        let (code, text) = answers.lock().unwrap().pop_front().unwrap_or((503, "no more answers"));
        (axum::http::StatusCode::from_u16(code).unwrap(), text.to_string())
    }
    let seen: Seen = Arc::default();
    let shared: Shared = (seen.clone(), Arc::new(Mutex::new(answers.into())));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1/sms", listener.local_addr().unwrap());
    let router = axum::Router::new().route("/v1/sms", post(handle)).with_state(shared);
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (url, seen)
}

/// The HTTP provider against a real server: the request it makes, and that
/// an error answer or a bad body is retried with backoff until it is accepted.
async fn http_gateway_sends_retries_and_reports(app: TestApp) {
    use customerhub::{
        app::AppState,
        delivery::{ExecutionOutcome, try_execute_task},
        sms::{HttpGateway, SmsProvider},
    };
    let (url, seen) =
        fake_gateway(vec![(500, "overloaded"), (200, "<html>ok</html>"), (200, r#"{"message_id":"gw-42"}"#)]).await;
    let state = AppState { sms: SmsProvider::Http(HttpGateway::new(&url, "gw-secret").unwrap()), ..app.state.clone() };
    app.clock.set(at("2026-03-10T09:00:00Z"));
    let c = ready_customer(&app, "Salong Kund AB").await;
    let delivery = send_one(&app, &c, false).await;

    assert_eq!(try_execute_task(&state).await.unwrap(), ExecutionOutcome::TaskCompleted);
    let d = only_sms(&app, &c).await;
    assert_eq!((d.state, d.attempts), (pb::DeliveryState::Queued as i32, 1));
    assert!(d.last_error.contains("500"), "{d:?}");
    assert_eq!(try_execute_task(&state).await.unwrap(), ExecutionOutcome::EmptyQueue, "backing off");
    app.clock.advance(chrono::Duration::hours(1));
    assert_eq!(try_execute_task(&state).await.unwrap(), ExecutionOutcome::TaskCompleted);
    let d = only_sms(&app, &c).await;
    assert_eq!((d.state, d.attempts), (pb::DeliveryState::Queued as i32, 2));
    assert!(d.last_error.contains("message_id"), "{d:?}");
    app.clock.advance(chrono::Duration::hours(1));
    assert_eq!(try_execute_task(&state).await.unwrap(), ExecutionOutcome::TaskCompleted);
    assert_eq!(only_sms(&app, &c).await.state, pb::DeliveryState::Sent as i32);

    let requests = seen.lock().unwrap().clone();
    assert_eq!(requests.len(), 3);
    let message = reminders_of_customer(&app, &c, pb::BookAgainState::Sent).await.remove(0).message;
    for (auth, body) in &requests {
        assert_eq!(auth, "Bearer gw-secret");
        assert_eq!(body["id"], delivery.as_str(), "the same id on every retry");
        assert_eq!((body["to"].as_str(), body["from"].as_str()), (Some("+46701234567"), Some("Rengøring A/S")));
        assert_eq!(body["text"], message.as_str());
    }
    // The gateway's id names the message in its delivery report.
    let r = app
        .admin_bookings()
        .report_sms_delivery(pb::ReportSmsDeliveryRequest {
            provider_message_id: "gw-42".into(),
            status: pb::SmsDeliveryStatus::Delivered as i32,
            error: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.delivery_id, delivery);
    assert_eq!(only_sms(&app, &c).await.state, pb::DeliveryState::Delivered as i32);
    assert!(app.sms_files().is_empty(), "nothing went to the folder");
}

/// A gateway that refuses the message itself (4xx) fails it at once; a rate
/// limit (429) is tried again.
async fn http_gateway_refusal_fails_at_once(app: TestApp) {
    use customerhub::{
        app::AppState,
        delivery::{ExecutionOutcome, try_execute_task},
        sms::{HttpGateway, SmsProvider},
    };
    let (url, seen) = fake_gateway(vec![(429, "slow down"), (400, r#"{"error":"invalid number"}"#)]).await;
    let state = AppState { sms: SmsProvider::Http(HttpGateway::new(&url, "gw-secret").unwrap()), ..app.state.clone() };
    app.clock.set(at("2026-03-10T09:00:00Z"));
    let c = ready_customer(&app, "Salong Avvisad AB").await;
    send_one(&app, &c, false).await;

    assert_eq!(try_execute_task(&state).await.unwrap(), ExecutionOutcome::TaskCompleted);
    assert_eq!(only_sms(&app, &c).await.state, pb::DeliveryState::Queued as i32, "429 waits and tries again");
    app.clock.advance(chrono::Duration::hours(1));
    assert_eq!(try_execute_task(&state).await.unwrap(), ExecutionOutcome::TaskCompleted);
    let d = only_sms(&app, &c).await;
    assert_eq!((d.state, d.attempts), (pb::DeliveryState::Failed as i32, 2), "{d:?}");
    assert!(d.last_error.contains("400") && d.last_error.contains("invalid number"), "{d:?}");
    app.clock.advance(chrono::Duration::hours(1));
    assert_eq!(try_execute_task(&state).await.unwrap(), ExecutionOutcome::EmptyQueue);
    assert_eq!(seen.lock().unwrap().len(), 2);
}

/// Consent withdrawn while a book-again SMS waits in the queue (the gateway
/// was down, say): it is not sent, and the history says why.
async fn withdrawn_consent_stops_a_queued_sms(app: TestApp) {
    app.clock.set(at("2026-03-10T09:00:00Z"));
    let c = ready_customer(&app, "Salong Ångrar AB").await;
    send_one(&app, &c, false).await;
    consent(&app, &c, false).await;
    assert_eq!(app.deliver_all().await, 0);
    let d = only_sms(&app, &c).await;
    assert_eq!((d.state, d.suppress_reason.as_str()), (pb::DeliveryState::Suppressed as i32, "sms_consent_withdrawn"));
    assert!(app.sms_files().is_empty());
}

/// Erasing a contact reaches a booking found by the contact's e-mail even
/// when it was made with another phone: its pending book-again SMS is
/// cancelled, not sent to that phone, and the phone and name are gone.
async fn erasure_cancels_the_book_again_sms_of_the_persons_bookings(app: TestApp) {
    app.clock.set(at("2026-03-10T09:00:00Z"));
    let c = ready_customer(&app, "Salong Radera AB").await;
    let contact = app.add_contact(&c, "Saga", "Ögren", "saga@example.se").await;
    // The booking has the contact's e-mail and a phone the contact has not.
    let (b, _) = record(&app, booking(&c, "", at("2026-03-01T10:00:00Z"))).await;
    set(&app, &b.id, 1, pb::IntervalUnit::Days).await.unwrap();
    // The export shows what the erasure will reach.
    let export = pb::ExportPersonalDataRequest { contact_id: contact.id.clone() };
    let json = app.admin_customers().export_personal_data(export).await.unwrap().into_inner().json;
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["bookings"][0]["phone"], "+46701234567", "{doc}");
    assert_eq!(doc["book_again_reminders"][0]["state"], "pending", "{doc}");
    let erase = pb::ErasePersonalDataRequest { contact_id: contact.id };
    app.admin_customers().erase_personal_data(erase).await.unwrap();
    app.clock.advance(chrono::Duration::days(1));
    assert_eq!(jobs::run_once(&app.state).await.unwrap(), 0, "nothing to send");
    assert_eq!(app.deliver_all().await, 0);
    let r = reminders_of_booking(&app, &b.id).await.remove(0);
    assert_eq!(r.state, pb::BookAgainState::Cancelled as i32, "{r:?}");
    let phone: i64 = app.scalar("SELECT COUNT(*) FROM book_again_reminders WHERE phone LIKE '%701234567%'").await;
    let name: i64 = app.scalar("SELECT COUNT(*) FROM book_again_reminders WHERE contact_name LIKE 'Saga%'").await;
    assert_eq!((phone, name), (0, 0));
}

/// Supervisors work only on bookings of their areas' customers; workspaces are apart.
async fn supervisors_and_workspaces_see_only_their_own(app: TestApp) {
    app.clock.set(at("2026-03-10T09:00:00Z"));
    enable_sms(&app, BOOKING_URL).await;
    let (nord, syd) = (app.area("Nord").await, app.area("Syd").await);
    let (_, sup) = app.staff_with_key("sup@rengoering.example.dk", pb::StaffRole::Supervisor, vec![nord.clone()]).await;
    let c_nord = customer(&app, "Nord AB", &nord).await;
    let c_syd = customer(&app, "Syd AB", &syd).await;
    consent(&app, &c_nord, true).await;
    consent(&app, &c_syd, true).await;
    let past = at("2026-03-01T10:00:00Z");
    let (b_syd, _) = record(&app, booking(&c_syd, "shared-ext", past)).await;
    let r_syd = set(&app, &b_syd.id, 1, pb::IntervalUnit::Days).await.unwrap();

    let mut s = app.bookings(&sup);
    let b_nord = s
        .record_booking(pb::RecordBookingRequest { booking: Some(booking(&c_nord, "", past)) })
        .await
        .unwrap()
        .into_inner()
        .booking
        .unwrap();
    let r_nord = s
        .set_book_again_reminder(pb::SetBookAgainReminderRequest {
            booking_id: b_nord.id.clone(),
            interval_count: 1,
            interval_unit: pb::IntervalUnit::Days as i32,
        })
        .await
        .unwrap()
        .into_inner()
        .book_again_reminder
        .unwrap();
    assert_eq!(r_nord.state, pb::BookAgainState::Pending as i32);

    /// Every booking call of `key` about `(customer, booking, reminder)` is NOT_FOUND.
    async fn all_not_found(app: &TestApp, key: &str, customer: &str, booking_id: &str, reminder: &str) {
        let mut s = app.bookings(key);
        let codes = [
            s.record_booking(pb::RecordBookingRequest {
                booking: Some(booking(customer, "", at("2026-03-01T10:00:00Z"))),
            })
            .await
            .map(drop),
            s.list_bookings(pb::ListBookingsRequest { customer_id: customer.into(), ..Default::default() })
                .await
                .map(drop),
            s.update_booking(pb::UpdateBookingRequest {
                booking: Some(pb::Booking { id: booking_id.into(), paid: true, ..Default::default() }),
                update_mask: mask(&["paid"]),
            })
            .await
            .map(drop),
            s.set_book_again_reminder(pb::SetBookAgainReminderRequest {
                booking_id: booking_id.into(),
                interval_count: 1,
                interval_unit: pb::IntervalUnit::Days as i32,
            })
            .await
            .map(drop),
            s.cancel_book_again_reminder(pb::CancelBookAgainReminderRequest {
                book_again_reminder_id: reminder.into(),
            })
            .await
            .map(drop),
            s.list_book_again_reminders(pb::ListBookAgainRemindersRequest {
                customer_id: customer.into(),
                ..Default::default()
            })
            .await
            .map(drop),
            s.list_book_again_reminders(pb::ListBookAgainRemindersRequest {
                booking_id: booking_id.into(),
                ..Default::default()
            })
            .await
            .map(drop),
            s.delete_booking(pb::DeleteBookingRequest { booking_id: booking_id.into() }).await.map(drop),
        ]
        .map(|r| r.map_err(|e| e.code()).err());
        assert_eq!(codes, [Some(Code::NotFound); 8]);
    }
    all_not_found(&app, &sup, &c_syd, &b_syd.id, &r_syd.id).await;
    // An external id already used by a booking outside the supervisor's
    // areas: answered as for an admin, naming nothing of that booking.
    let err = s
        .record_booking(pb::RecordBookingRequest { booking: Some(booking(&c_nord, "shared-ext", past)) })
        .await
        .unwrap_err();
    assert_fields(&err, &["booking.customer_id"]);
    assert!(!format!("{err:?}").contains(&b_syd.id), "names the other area's booking: {err:?}");
    assert_eq!(only_reminder(&app, &b_syd.id).await, (pb::BookAgainState::Pending as i32, String::new()));

    let (_, other) = app.other_workspace().await;
    all_not_found(&app, &other, &c_nord, &b_nord.id, &r_nord.id).await;
    // The same external id in another workspace is another booking.
    let theirs = app
        .customers(&other)
        .create_customer(company("Annan AB", &[]))
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap()
        .id;
    let r = app
        .bookings(&other)
        .record_booking(pb::RecordBookingRequest { booking: Some(booking(&theirs, "shared-ext", past)) })
        .await
        .unwrap()
        .into_inner();
    assert!(r.created);
    assert_ne!(r.booking.unwrap().id, b_syd.id);
    // Nothing of this workspace changed meanwhile.
    assert_eq!(only_reminder(&app, &b_nord.id).await, (pb::BookAgainState::Pending as i32, String::new()));
}

both_databases!(
    bookings_are_recorded_upserted_changed_and_listed,
    bad_input_names_every_field,
    a_reminder_needs_an_eligible_booking_consent_sms_and_a_booking_url,
    one_sms_on_the_send_date_counted_from_the_day_it_is_set,
    automatic_cancellations_keep_their_reason_and_never_send,
    staff_cancel_only_pending_reminders_and_lists_filter_by_state,
    a_booking_made_with_the_link_token_is_attributed,
    delivery_reports_and_usage_bill_only_delivered,
    http_gateway_sends_retries_and_reports,
    http_gateway_refusal_fails_at_once,
    withdrawn_consent_stops_a_queued_sms,
    erasure_cancels_the_book_again_sms_of_the_persons_bookings,
    supervisors_and_workspaces_see_only_their_own,
);
