use crate::{both_databases, support::*};
use customerhub::{domain::notification::NotificationKind, grpc::pb};
use std::time::Duration;
use tonic::Code;

/// The value of one metric line (exact name with labels), 0 when absent.
fn metric(text: &str, series: &str) -> f64 {
    text.lines().find_map(|l| l.strip_prefix(series).and_then(|rest| rest.trim().parse().ok())).unwrap_or(0.0)
}

/// Metrics move with real traffic and are scraped over HTTP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_scraped_after_real_traffic() {
    let app = spawn_app(Backend::Sqlite).await;
    let before = http_get(app.http_addr, "/metrics").await;
    let ok = r#"customerhub_grpc_requests_total{method="/customerhub.v1.CustomerService/ListCustomers",code="Ok"}"#;
    let bad = r#"customerhub_grpc_requests_total{method="/customerhub.v1.CustomerService/GetCustomer",code="InvalidArgument"}"#;
    for _ in 0..3 {
        app.admin_customers().list_customers(pb::ListCustomersRequest::default()).await.unwrap();
    }
    app.admin_customers().get_customer(pb::GetCustomerRequest { customer_id: "x".into() }).await.unwrap_err();
    let c = app.welcomed_company("Måling ApS", &[("Mette", "Måling", "mette@maaling.example.dk")]).await;
    app.fire(NotificationKind::PunchRegistered, &c.id, None).await;
    let queued = http_get(app.http_addr, "/metrics").await;
    assert!(queued.starts_with("HTTP/1.1 200"));
    assert!(metric(&queued, r#"customerhub_outbox_depth{channel="email"}"#) >= 1.0, "{queued}");
    app.deliver_all().await;
    let after = http_get(app.http_addr, "/metrics").await;
    assert!(metric(&after, ok) >= metric(&before, ok) + 3.0, "{after}");
    assert!(metric(&after, bad) >= metric(&before, bad) + 1.0);
    let sent = r#"customerhub_deliveries_total{channel="email",outcome="sent"}"#;
    assert!(metric(&after, sent) >= metric(&before, sent) + 2.0, "welcome + punch registered");
    assert_eq!(metric(&after, r#"customerhub_outbox_depth{channel="email"}"#), 0.0);
    assert!(after.contains("customerhub_grpc_request_duration_seconds_bucket"));
    assert!(after.contains("customerhub_live_streams"));
    assert!(after.contains("customerhub_scheduler_lag_seconds"));
}

/// Health turns NOT_SERVING while PostgreSQL is down and back when it is up;
/// calls meanwhile fail with UNAVAILABLE, and the service recovers by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_follows_the_database() {
    use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient};
    let pg = private_pg::PrivatePg::start();
    let app = spawn_app_with(Backend::Postgres, Some(pg.url()), |s| s.health_check_interval_ms = 100).await;
    let health = HealthClient::new(app.channel());
    let status = |h: tonic::Response<tonic_health::pb::HealthCheckResponse>| h.into_inner().status;
    let wait_for = |want: ServingStatus| {
        let mut health = health.clone();
        async move {
            for _ in 0..150 {
                if status(health.check(HealthCheckRequest { service: String::new() }).await.unwrap()) == want as i32 {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            panic!("health never became {want:?}");
        }
    };
    assert_eq!(
        status(health.clone().check(HealthCheckRequest { service: String::new() }).await.unwrap()),
        ServingStatus::Serving as i32
    );
    app.admin_customers().create_customer(company("Før ApS", &[])).await.unwrap();
    pg.down();
    wait_for(ServingStatus::NotServing).await;
    let err = app.admin_customers().list_customers(pb::ListCustomersRequest::default()).await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    pg.up();
    wait_for(ServingStatus::Serving).await;
    let mut recovered = false;
    for _ in 0..50 {
        if let Ok(r) = app.admin_customers().list_customers(pb::ListCustomersRequest::default()).await {
            assert_eq!(r.into_inner().customers.len(), 1, "the write before the outage is kept");
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "the service did not recover without a restart");
}

/// The customer's delivery that is queued now.
async fn queued_delivery(app: &TestApp, customer_id: &str) -> pb::Delivery {
    let req = pb::ListDeliveriesRequest { customer_id: customer_id.into(), ..Default::default() };
    let deliveries = app.admin_notifications().list_deliveries(req).await.unwrap().into_inner().deliveries;
    deliveries.into_iter().find(|d| d.state == pb::DeliveryState::Queued as i32).expect("a queued delivery")
}

/// Failed deliveries are listed with their error and retried (RPC and CLI);
/// queued ones can be cancelled.
async fn failed_deliveries_are_retried_and_queued_ones_cancelled(app: TestApp) {
    let c = app.welcomed_company("Fejl ApS", &[("Finn", "Fejl", "finn@fejl.example.dk")]).await;
    app.smtp.set_accepting(false);
    app.fire(NotificationKind::PunchRegistered, &c.id, None).await;
    for _ in 0..3 {
        app.deliver_all().await;
        app.clock.advance(chrono::Duration::hours(2));
    }
    let failed = app
        .admin_notifications()
        .list_failed_deliveries(pb::ListFailedDeliveriesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .deliveries;
    assert_eq!(failed.len(), 1);
    assert!(!failed[0].last_error.is_empty());
    assert_eq!(failed[0].state, pb::DeliveryState::Failed as i32);
    app.smtp.set_accepting(true);
    let err = app.admin_notifications().retry_deliveries(pb::RetryDeliveriesRequest::default()).await.unwrap_err();
    assert_fields(&err, &["delivery_ids"]);
    let n = app
        .admin_notifications()
        .retry_deliveries(pb::RetryDeliveriesRequest { delivery_ids: vec![failed[0].id.clone()], all_failed: false })
        .await
        .unwrap()
        .into_inner()
        .retried_count;
    assert_eq!(n, 1);
    assert_eq!(app.deliver_all().await, 1);
    assert_eq!(app.smtp.wait_for(1).await[0].rcpt_to, ["finn@fejl.example.dk"]);

    // Cancel a queued one: it is never sent.
    app.fire(NotificationKind::CardUsedUp, &c.id, None).await;
    let queued = queued_delivery(&app, &c.id).await;
    let n = app
        .admin_notifications()
        .cancel_deliveries(pb::CancelDeliveriesRequest { delivery_ids: vec![queued.id.clone()] })
        .await
        .unwrap()
        .into_inner()
        .cancelled_count;
    assert_eq!(n, 1);
    assert_eq!(app.deliver_all().await, 0);

    // A delivery that is not the workspace's is NOT_FOUND, and nothing named with it changes.
    app.fire(NotificationKind::CardExpiring, &c.id, None).await;
    let queued = queued_delivery(&app, &c.id).await;
    let unknown = "0190c6f2-0000-7000-8000-00000000beef".to_string();
    let err = app
        .admin_notifications()
        .cancel_deliveries(pb::CancelDeliveriesRequest { delivery_ids: vec![queued.id.clone(), unknown.clone()] })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    assert!(err.message().contains(&unknown), "{err:?}");
    let err = app
        .admin_notifications()
        .retry_deliveries(pb::RetryDeliveriesRequest { delivery_ids: vec![unknown], all_failed: false })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    let (_, other_admin) = app.other_workspace().await;
    let err = app
        .notifications(&other_admin)
        .cancel_deliveries(pb::CancelDeliveriesRequest { delivery_ids: vec![queued.id.clone()] })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "another workspace's delivery: {err:?}");
    assert_eq!(app.deliver_all().await, 1, "the queued delivery was not cancelled");

    let nord = app.area("Nord").await;
    let (_, sup) = app.staff_with_key("sup@rengoering.example.dk", pb::StaffRole::Supervisor, vec![nord]).await;
    let err =
        app.notifications(&sup).list_failed_deliveries(pb::ListFailedDeliveriesRequest::default()).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    // A support engineer does the same from the command line.
    app.smtp.set_accepting(false);
    app.fire(NotificationKind::CardExpired, &c.id, None).await;
    for _ in 0..3 {
        app.deliver_all().await;
        app.clock.advance(chrono::Duration::hours(2));
    }
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_customerhub"))
            .args(args)
            .env("CUSTOMERHUB_DATABASE_URL", &app.database_url)
            .env("CUSTOMERHUB_DATA_DIR", app.state.settings.data_dir.clone())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let listed = cli(&["deliveries", "failed", "--workspace-id", &app.workspace_id]);
    assert!(listed.contains("finn@fejl.example.dk"), "{listed}");
    let out = cli(&["deliveries", "retry", "--workspace-id", &app.workspace_id, "--all"]);
    assert_eq!(out.trim(), "queued again: 1");
    app.smtp.set_accepting(true);
    app.smtp.clear();
    assert_eq!(app.deliver_all().await, 1);
    app.smtp.wait_for(1).await;
}

/// Export holds every kind of record; erasure leaves no trace of the person
/// (scanned in every table), keeps what billing needs, and is audited.
async fn export_and_erasure(app: TestApp) {
    let c = app
        .welcomed_company(
            "Slet ApS",
            &[("Zyxwvut", "Qponmlk", "zyxwvut.qponmlk@erase.example.dk"), ("Bo", "Bliver", "bo@erase.example.dk")],
        )
        .await;
    let z = c.contacts.iter().find(|x| x.first_name == "Zyxwvut").unwrap().id.clone();
    app.admin_customers()
        .update_contact(pb::UpdateContactRequest {
            contact: Some(pb::Contact { id: z.clone(), phone: "+45 99 88 77 66".into(), ..Default::default() }),
            update_mask: Some(prost_types::FieldMask { paths: vec!["phone".into()] }),
        })
        .await
        .unwrap();
    app.fire(NotificationKind::PunchRegistered, &c.id, None).await;
    app.deliver_all().await;
    app.admin_notifications()
        .set_contact_subscription(pb::SetContactSubscriptionRequest {
            contact_id: z.clone(),
            subscribed: false,
            note: "asked by phone".into(),
        })
        .await
        .unwrap();
    app.fire(NotificationKind::CardUsedUp, &c.id, None).await; // suppressed for Z, queued for Bo

    let json = app
        .admin_customers()
        .export_personal_data(pb::ExportPersonalDataRequest { contact_id: z.clone() })
        .await
        .unwrap()
        .into_inner()
        .json;
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["contact"]["email"], "zyxwvut.qponmlk@erase.example.dk");
    assert_eq!(doc["contact"]["phone"], "+4599887766");
    assert_eq!(doc["email_subscription_history"].as_array().unwrap().len(), 1);
    assert!(doc["hub_messages"].as_array().unwrap().len() >= 2);
    let kinds: Vec<&str> = doc["deliveries"].as_array().unwrap().iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert!(
        kinds.contains(&"welcome") && kinds.contains(&"punch_registered") && kinds.contains(&"card_used_up"),
        "{kinds:?}"
    );

    let deliveries_before = app
        .admin_notifications()
        .list_deliveries(pb::ListDeliveriesRequest { customer_id: c.id.clone(), page_size: 500, ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .deliveries
        .len();
    // The scan finds the person before erasure (so its silence afterwards means something).
    let before = scan_database(&app, "zyxwvut").await;
    assert!(
        before.iter().any(|h| h == "contacts.email") && before.iter().any(|h| h == "notifications.recipient"),
        "{before:?}"
    );
    app.admin_customers().erase_personal_data(pb::ErasePersonalDataRequest { contact_id: z.clone() }).await.unwrap();
    for needle in ["zyxwvut", "qponmlk", "4599887766"] {
        let hits = scan_database(&app, needle).await;
        assert!(hits.is_empty(), "{needle:?} still stored in {hits:?}");
    }
    let after = app
        .admin_notifications()
        .list_deliveries(pb::ListDeliveriesRequest { customer_id: c.id.clone(), page_size: 500, ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .deliveries;
    assert_eq!(after.len(), deliveries_before, "delivery counts are kept");
    assert_eq!(
        app.admin_customers().get_contact(pb::GetContactRequest { contact_id: z }).await.unwrap_err().code(),
        Code::NotFound
    );
    // The address is never mailed again, even as a new contact.
    let again = app
        .admin_customers()
        .create_contact(pb::CreateContactRequest {
            customer_id: c.id.clone(),
            contact: Some(pb::ContactInput {
                first_name: "Ny".into(),
                last_name: "Kontakt".into(),
                email: "zyxwvut.qponmlk@erase.example.dk".into(),
                ..Default::default()
            }),
            send_welcome_mail: true,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
    // Audited: who and when (the audit itself holds no personal data; the scan above covered it).
    let audits = count_rows(&app, "erasure_audits").await;
    assert_eq!(audits, 1);
}

/// Retention purges delivered notifications and HUB messages older than the
/// configured age, and nothing newer.
async fn retention_purges_only_what_is_old(app: TestApp) {
    let c = app.welcomed_company("Gammel ApS", &[("Gitte", "Gammel", "gitte@gammel.example.dk")]).await;
    app.fire(NotificationKind::PunchRegistered, &c.id, None).await;
    app.deliver_all().await;
    let old_count = count_rows(&app, "notifications").await;
    assert!(old_count >= 3);
    app.clock.advance(chrono::Duration::days(366));
    app.fire(NotificationKind::CardUsedUp, &c.id, None).await;
    app.deliver_all().await;
    customerhub::jobs::run_once(&app.state).await.unwrap();
    let left = app
        .admin_notifications()
        .list_deliveries(pb::ListDeliveriesRequest { customer_id: c.id.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .deliveries;
    assert!(!left.is_empty());
    assert!(left.iter().all(|d| d.kind == pb::NotificationKind::CardUsedUp as i32), "{left:?}");
    let session = app.hub_session_for(&c.contacts[0].id).await;
    let inbox =
        app.hub(&session).list_messages(pb::ListMessagesRequest::default()).await.unwrap().into_inner().messages;
    assert_eq!(inbox.iter().map(|m| m.kind).collect::<Vec<_>>(), [pb::NotificationKind::CardUsedUp as i32]);
}

/// An erased private customer keeps an emptied row for billing. An edit
/// begun before the erasure (its etag) cannot write the data back, and no
/// later edit can either: each is refused, naming why.
async fn an_erased_private_customer_stays_erased(app: TestApp) {
    let req = private_customer("Ebbe", "Slet", "ebbe@slet.example.dk", false);
    let c = app.admin_customers().create_customer(req).await.unwrap().into_inner().customer.unwrap();
    let erase = pb::ErasePersonalDataRequest { contact_id: c.contacts[0].id.clone() };
    app.admin_customers().erase_personal_data(erase).await.unwrap();

    let form = pb::Customer { id: c.id.clone(), etag: c.etag, first_name: "Ebbe".into(), ..Default::default() };
    let stale = pb::UpdateCustomerRequest { customer: Some(form), update_mask: mask(&["first_name"]) };
    let err = app.admin_customers().update_customer(stale).await.unwrap_err();
    assert_eq!(err.code(), Code::Aborted, "an edit from before the erasure went through: {err:?}");

    let now = app.customer(&c.id).await;
    let later = pb::Customer { id: c.id.clone(), etag: now.etag, area_id: String::new(), ..Default::default() };
    let err = app
        .admin_customers()
        .update_customer(pb::UpdateCustomerRequest { customer: Some(later), update_mask: mask(&["area_id"]) })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(err.message().contains("erased"), "{err:?}");
    assert_eq!(app.customer(&c.id).await.display_name, "(erased)");
}

/// Erasing a private customer also empties the staff's copies that name it:
/// fired reminders in the staff inbox and their mails.
async fn erasure_reaches_the_staffs_copies(app: TestApp) {
    use chrono::TimeZone;
    app.clock.set(chrono::Utc.with_ymd_and_hms(2026, 3, 2, 6, 0, 0).unwrap());
    let req = private_customer("Ebbe", "Zyxwvut", "ebbe@zyxwvut.example.dk", false);
    let c = app.admin_customers().create_customer(req).await.unwrap().into_inner().customer.unwrap();
    let reminder = pb::Reminder {
        customer_id: c.id.clone(),
        name: "Forny kontrakt".into(),
        first_date: "2026-03-02".into(),
        text: "Kontrakten udløber".into(),
        repetition: Some(pb::Repetition { frequency: pb::Frequency::Never as i32, ..Default::default() }),
        delivery: pb::ReminderDelivery::Email as i32,
        receivers: pb::ReminderReceivers::Admins as i32,
        ..Default::default()
    };
    let req = pb::CreateReminderRequest { reminder: Some(reminder), request_id: String::new() };
    app.admin_reminders().create_reminder(req).await.unwrap();
    app.clock.advance(chrono::Duration::hours(2));
    assert_eq!(customerhub::jobs::run_once(&app.state).await.unwrap(), 1);
    assert!(!scan_database(&app, "zyxwvut").await.is_empty(), "the staff's copies name the customer");

    let erase = pb::ErasePersonalDataRequest { contact_id: c.contacts[0].id.clone() };
    app.admin_customers().erase_personal_data(erase).await.unwrap();
    assert_eq!(scan_database(&app, "zyxwvut").await, Vec::<String>::new());
    assert_eq!(app.deliver_all().await, 0, "the queued reminder mail went with it");
}

both_databases!(
    erasure_reaches_the_staffs_copies,
    failed_deliveries_are_retried_and_queued_ones_cancelled,
    export_and_erasure,
    retention_purges_only_what_is_old,
    an_erased_private_customer_stays_erased
);

async fn count_rows(app: &TestApp, table: &str) -> i64 {
    app.scalar(&format!("SELECT COUNT(*) FROM {table}")).await
}

/// Every (table, column) whose text contains `needle`, case-insensitively.
async fn scan_database(app: &TestApp, needle: &str) -> Vec<String> {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    let db = &app.state.db;
    let backend = db.get_database_backend();
    let columns: Vec<(String, String)> = match backend {
        DbBackend::Postgres => db
            .query_all_raw(Statement::from_string(
                backend,
                "SELECT table_name::text AS t, column_name::text AS c FROM information_schema.columns \
                 WHERE table_schema = 'public' AND data_type IN ('text', 'character varying')",
            ))
            .await
            .unwrap()
            .into_iter()
            .map(|r| (r.try_get("", "t").unwrap(), r.try_get("", "c").unwrap()))
            .collect(),
        _ => {
            let tables: Vec<String> = db
                .query_all_raw(Statement::from_string(backend, "SELECT name FROM sqlite_master WHERE type = 'table'"))
                .await
                .unwrap()
                .into_iter()
                .map(|r| r.try_get("", "name").unwrap())
                .collect();
            let mut cols = vec![];
            for t in tables {
                for r in
                    db.query_all_raw(Statement::from_string(backend, format!("PRAGMA table_info({t})"))).await.unwrap()
                {
                    cols.push((t.clone(), r.try_get::<String>("", "name").unwrap()));
                }
            }
            cols
        }
    };
    let mut hits = vec![];
    for (t, c) in columns {
        let sql = format!(
            "SELECT COUNT(*) AS n FROM \"{t}\" WHERE LOWER(CAST(\"{c}\" AS TEXT)) LIKE '%{}%'",
            needle.to_lowercase()
        );
        let n: i64 =
            db.query_one_raw(Statement::from_string(backend, sql)).await.unwrap().unwrap().try_get("", "n").unwrap();
        if n > 0 {
            hits.push(format!("{t}.{c}"));
        }
    }
    hits
}
