use crate::{both_databases, support::*};
use customerhub::grpc::pb;
use tonic::Code;

async fn register(app: &TestApp, card_id: &str, amount: i64) -> pb::RegisterPunchResponse {
    app.admin_cards()
        .register_punch(pb::RegisterPunchRequest {
            punch_card_id: card_id.into(),
            description: "Vinduespudsning".into(),
            amount,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
}

/// Kinds of the e-mails recorded for a customer, oldest first.
async fn email_kinds(app: &TestApp, customer_id: &str) -> Vec<i32> {
    let mut kinds: Vec<(String, i32)> = app
        .admin_notifications()
        .list_deliveries(pb::ListDeliveriesRequest {
            customer_id: customer_id.into(),
            page_size: 500,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .deliveries
        .into_iter()
        .filter(|d| d.channel == pb::Channel::Email as i32 && d.kind != pb::NotificationKind::Welcome as i32)
        .map(|d| (d.id, d.kind))
        .collect();
    kinds.sort();
    kinds.into_iter().map(|(_, k)| k).collect()
}

async fn set_mode(app: &TestApp, kind: pb::NotificationKind, mode: pb::NotificationMode) {
    app.admin_notifications()
        .update_notification_settings(pb::UpdateNotificationSettingsRequest {
            settings: vec![pb::NotificationSetting { kind: kind as i32, mode: mode as i32, email: true, hub: true }],
            ..Default::default()
        })
        .await
        .unwrap();
}

async fn cards_crud_and_states(app: TestApp) {
    let c =
        app.admin_customers().create_customer(company("Kort ApS", &[])).await.unwrap().into_inner().customer.unwrap();
    let mut req = card(&c.id, "Vinduespudsning 2026", 10);
    req.request_id = "card-1".into();
    let created = app.admin_cards().create_punch_card(req.clone()).await.unwrap().into_inner().punch_card.unwrap();
    assert_eq!((created.total, created.used, created.remaining), (10, 0, 10));
    assert_eq!(created.state, pb::PunchCardState::Active as i32);
    assert_eq!(created.created_by_staff_user_id, app.admin_id);
    let again = app.admin_cards().create_punch_card(req).await.unwrap().into_inner().punch_card.unwrap();
    assert_eq!(again.id, created.id, "idempotent by request_id");

    let hours = app
        .admin_cards()
        .create_punch_card(pb::CreatePunchCardRequest {
            punch_card: Some(pb::PunchCard {
                customer_id: c.id.clone(),
                name: "Konsulenttimer".into(),
                unit: pb::PunchCardUnit::Hours as i32,
                total: 600,
                start_date: "2026-01-01".into(),
                expiry_date: "2026-01-02".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .punch_card
        .unwrap();
    assert_eq!(hours.state, pb::PunchCardState::Expired as i32, "past its expiry date");

    let list = |state: pb::PunchCardState| pb::ListPunchCardsRequest {
        customer_id: c.id.clone(),
        state: state as i32,
        ..Default::default()
    };
    let all = app
        .admin_cards()
        .list_punch_cards(list(pb::PunchCardState::Unspecified))
        .await
        .unwrap()
        .into_inner()
        .punch_cards;
    assert_eq!(all.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), [hours.id.as_str(), created.id.as_str()]);
    let expired =
        app.admin_cards().list_punch_cards(list(pb::PunchCardState::Expired)).await.unwrap().into_inner().punch_cards;
    assert_eq!(expired.len(), 1);
    register(&app, &created.id, 10).await;
    let used_up =
        app.admin_cards().list_punch_cards(list(pb::PunchCardState::UsedUp)).await.unwrap().into_inner().punch_cards;
    assert_eq!(used_up.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), [created.id.as_str()]);
    assert!(
        app.admin_cards()
            .list_punch_cards(list(pb::PunchCardState::Active))
            .await
            .unwrap()
            .into_inner()
            .punch_cards
            .is_empty()
    );

    let updated = app
        .admin_cards()
        .update_punch_card(pb::UpdatePunchCardRequest {
            punch_card: Some(pb::PunchCard {
                id: created.id.clone(),
                total: 15,
                name: "Ignored".into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask { paths: vec!["total".into()] }),
        })
        .await
        .unwrap()
        .into_inner()
        .punch_card
        .unwrap();
    assert_eq!((updated.total, updated.remaining, updated.name.as_str()), (15, 5, "Vinduespudsning 2026"));
    assert_eq!(updated.state, pb::PunchCardState::Active as i32);
    let err = app
        .admin_cards()
        .update_punch_card(pb::UpdatePunchCardRequest {
            punch_card: Some(pb::PunchCard {
                id: created.id.clone(),
                unit: pb::PunchCardUnit::Hours as i32,
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask { paths: vec!["unit".into()] }),
        })
        .await
        .unwrap_err();
    assert_fields(&err, &["update_mask"]);

    app.admin_cards()
        .delete_punch_card(pb::DeletePunchCardRequest { punch_card_id: created.id.clone() })
        .await
        .unwrap();
    let err =
        app.admin_cards().get_punch_card(pb::GetPunchCardRequest { punch_card_id: created.id }).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}

async fn bad_card_and_registration_input(app: TestApp) {
    let c =
        app.admin_customers().create_customer(company("Fejl ApS", &[])).await.unwrap().into_inner().customer.unwrap();
    let err = app
        .admin_cards()
        .create_punch_card(pb::CreatePunchCardRequest {
            punch_card: Some(pb::PunchCard {
                customer_id: "nope".into(),
                name: " ".into(),
                unit: 0,
                total: 0,
                start_date: "1/1/2026".into(),
                expiry_date: "2026-13-01".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_fields(
        &err,
        &[
            "punch_card.customer_id",
            "punch_card.name",
            "punch_card.unit",
            "punch_card.total",
            "punch_card.start_date",
            "punch_card.expiry_date",
        ],
    );
    let mut req = card(&c.id, "Baglæns", 5);
    req.punch_card.as_mut().unwrap().expiry_date = "2025-12-31".into();
    assert_fields(&app.admin_cards().create_punch_card(req).await.unwrap_err(), &["punch_card.expiry_date"]);
    let mut req = card(&c.id, "Ukendt enhed", 5);
    req.punch_card.as_mut().unwrap().unit = 9;
    assert_fields(&app.admin_cards().create_punch_card(req).await.unwrap_err(), &["punch_card.unit"]);
    let missing =
        app.admin_cards().create_punch_card(card(&uuid::Uuid::now_v7().to_string(), "X", 5)).await.unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);

    let k = app.admin_cards().create_punch_card(card(&c.id, "Ok", 5)).await.unwrap().into_inner().punch_card.unwrap();
    let err = app
        .admin_cards()
        .register_punch(pb::RegisterPunchRequest {
            punch_card_id: k.id.clone(),
            date: "tomorrow".into(),
            amount: -1,
            description: "x".repeat(2001),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_fields(&err, &["date", "amount", "description"]);
    let err = app
        .admin_cards()
        .register_punch(pb::RegisterPunchRequest { punch_card_id: String::new(), amount: 1, ..Default::default() })
        .await
        .unwrap_err();
    assert_fields(&err, &["punch_card_id"]);
    let got = app
        .admin_cards()
        .get_punch_card(pb::GetPunchCardRequest { punch_card_id: k.id })
        .await
        .unwrap()
        .into_inner()
        .punch_card
        .unwrap();
    assert_eq!(got.used, 0, "nothing was registered");
}

/// Registering, correcting and deleting move the balance; hours count minutes.
async fn registrations_move_the_balance(app: TestApp) {
    let c =
        app.admin_customers().create_customer(company("Timer ApS", &[])).await.unwrap().into_inner().customer.unwrap();
    let hours = app
        .admin_cards()
        .create_punch_card(pb::CreatePunchCardRequest {
            punch_card: Some(pb::PunchCard {
                customer_id: c.id.clone(),
                name: "Timer".into(),
                unit: pb::PunchCardUnit::Hours as i32,
                total: 600,
                start_date: "2026-01-01".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .punch_card
        .unwrap();
    let r = app
        .admin_cards()
        .register_punch(pb::RegisterPunchRequest {
            punch_card_id: hours.id.clone(),
            date: "2026-03-02".into(),
            description: "Møde".into(),
            amount: 90,
            notify: Some(false),
            request_id: "r-1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((r.punch_card.as_ref().unwrap().used, r.punch_card.as_ref().unwrap().remaining), (90, 510));
    let reg = r.registration.unwrap();
    assert_eq!((reg.date.as_str(), reg.amount, reg.notify), ("2026-03-02", 90, Some(false)));
    assert_eq!(reg.registered_by_staff_user_id, app.admin_id);
    // A retried registration is not counted twice.
    let again = app
        .admin_cards()
        .register_punch(pb::RegisterPunchRequest {
            punch_card_id: hours.id.clone(),
            date: "2026-03-02".into(),
            description: "Møde".into(),
            amount: 90,
            notify: Some(false),
            request_id: "r-1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.registration.unwrap().id, reg.id);
    assert_eq!(again.punch_card.unwrap().used, 90);

    let corrected = app
        .admin_cards()
        .update_registration(pb::UpdateRegistrationRequest {
            registration: Some(pb::Registration {
                id: reg.id.clone(),
                amount: 120,
                etag: reg.etag.clone(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask { paths: vec!["amount".into()] }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(corrected.punch_card.unwrap().used, 120);
    assert_eq!(corrected.registration.as_ref().unwrap().description, "Møde");
    let stale = app
        .admin_cards()
        .update_registration(pb::UpdateRegistrationRequest {
            registration: Some(pb::Registration {
                id: reg.id.clone(),
                amount: 1,
                etag: reg.etag.clone(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask { paths: vec!["amount".into()] }),
        })
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    let err = app
        .admin_cards()
        .update_registration(pb::UpdateRegistrationRequest {
            registration: Some(pb::Registration {
                id: reg.id.clone(),
                amount: 0,
                date: "x".into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask { paths: vec!["amount".into(), "date".into()] }),
        })
        .await
        .unwrap_err();
    assert_fields(&err, &["registration.amount", "registration.date"]);

    let regs = app
        .admin_cards()
        .list_registrations(pb::ListRegistrationsRequest { punch_card_id: hours.id.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .registrations;
    assert_eq!(regs.len(), 1);
    let after = app
        .admin_cards()
        .delete_registration(pb::DeleteRegistrationRequest { registration_id: reg.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(after.punch_card.unwrap().used, 0);
    let err = app
        .admin_cards()
        .delete_registration(pb::DeleteRegistrationRequest { registration_id: reg.id })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}

/// An expired card refuses registrations unless the workspace allows them.
async fn expired_cards_refuse_registrations(app: TestApp) {
    let c = app
        .admin_customers()
        .create_customer(company("Udløbet ApS", &[]))
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    let mut req = card(&c.id, "Gammelt kort", 10);
    req.punch_card.as_mut().unwrap().expiry_date = "2026-02-01".into();
    let k = app.admin_cards().create_punch_card(req).await.unwrap().into_inner().punch_card.unwrap();
    let err = app
        .admin_cards()
        .register_punch(pb::RegisterPunchRequest { punch_card_id: k.id.clone(), amount: 1, ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("2026-02-01"), "{err:?}");
    app.admin_workspace()
        .update_workspace(pb::UpdateWorkspaceRequest {
            workspace: Some(pb::Workspace { allow_expired_card_registration: true, ..Default::default() }),
            update_mask: Some(prost_types::FieldMask { paths: vec!["allow_expired_card_registration".into()] }),
        })
        .await
        .unwrap();
    let r = register(&app, &k.id, 2).await;
    assert_eq!(r.punch_card.unwrap().used, 2);

    // Allowed no more: a correction may lower what was registered, not raise it.
    app.admin_workspace()
        .update_workspace(pb::UpdateWorkspaceRequest {
            workspace: Some(pb::Workspace { allow_expired_card_registration: false, ..Default::default() }),
            update_mask: Some(prost_types::FieldMask { paths: vec!["allow_expired_card_registration".into()] }),
        })
        .await
        .unwrap();
    let reg_id = r.registration.unwrap().id;
    let correct = |amount: i64| pb::UpdateRegistrationRequest {
        registration: Some(pb::Registration { id: reg_id.clone(), amount, ..Default::default() }),
        update_mask: mask(&["amount"]),
    };
    let err = app.admin_cards().update_registration(correct(5)).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    let lowered = app.admin_cards().update_registration(correct(1)).await.unwrap().into_inner();
    assert_eq!(lowered.punch_card.unwrap().used, 1);
}

/// Card created and punch registered: by e-mail and in the HUB, in the
/// customer's language and tone, following the mode and the item's choice.
async fn created_and_registered_notifications(app: TestApp) {
    let c = app.welcomed_company("Bager Hansen ApS", &[("Anna", "Jensen", "anna@bager.example.dk")]).await;
    let mut req = card(&c.id, "Vinduespudsning 2026", 10);
    req.punch_card.as_mut().unwrap().expiry_date = "2027-01-01".into();
    let k = app.admin_cards().create_punch_card(req).await.unwrap().into_inner().punch_card.unwrap();
    assert_eq!(app.deliver_all().await, 1);
    let mail = app.smtp.wait_for(1).await.remove(0);
    app.smtp.clear();
    let text = mail.text_body();
    assert!(text.contains("Vinduespudsning 2026") && text.contains("10 klip") && text.contains("1.1.2027"), "{text}");
    assert!(text.contains("Kære Anna Jensen") || text.contains("Anna"), "{text}");

    // notify: false on the registration keeps quiet under ON.
    app.admin_cards()
        .register_punch(pb::RegisterPunchRequest {
            punch_card_id: k.id.clone(),
            amount: 1,
            notify: Some(false),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(app.deliver_all().await, 0);
    app.admin_cards()
        .register_punch(pb::RegisterPunchRequest {
            punch_card_id: k.id.clone(),
            description: "Vinduer, 1. sal".into(),
            amount: 2,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(app.deliver_all().await, 1);
    let mail = app.smtp.wait_for(1).await.remove(0);
    app.smtp.clear();
    assert!(
        mail.text_body().contains("Vinduer, 1. sal") && mail.text_body().contains("7 klip"),
        "{}",
        mail.text_body()
    );

    // ON_DEFAULT_OFF: only a card that asks is announced.
    set_mode(&app, pb::NotificationKind::CardCreated, pb::NotificationMode::OnDefaultOff).await;
    app.admin_cards().create_punch_card(card(&c.id, "Stille kort", 5)).await.unwrap();
    assert_eq!(app.deliver_all().await, 0);
    let mut loud = card(&c.id, "Højt kort", 5);
    loud.punch_card.as_mut().unwrap().notify = Some(true);
    app.admin_cards().create_punch_card(loud).await.unwrap();
    assert_eq!(app.deliver_all().await, 1);

    // English, casual.
    app.admin_customers()
        .update_customer(pb::UpdateCustomerRequest {
            customer: Some(pb::Customer {
                id: c.id.clone(),
                locale: pb::Locale::En as i32,
                tone: pb::Tone::Casual as i32,
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask { paths: vec!["locale".into(), "tone".into()] }),
        })
        .await
        .unwrap();
    app.smtp.clear();
    app.admin_cards()
        .register_punch(pb::RegisterPunchRequest { punch_card_id: k.id.clone(), amount: 1, ..Default::default() })
        .await
        .unwrap();
    app.deliver_all().await;
    let mail = app.smtp.wait_for(1).await.remove(0);
    assert!(mail.text_body().starts_with("Hi Anna"), "{}", mail.text_body());
    assert!(mail.text_body().contains("6 punches"), "{}", mail.text_body());

    // The HUB shows the cards, the registrations and the messages.
    let session = app.hub_session_for(&c.contacts[0].id).await;
    let mut hub = app.hub(&session);
    let cards =
        hub.list_hub_punch_cards(pb::ListHubPunchCardsRequest::default()).await.unwrap().into_inner().punch_cards;
    assert_eq!(cards.len(), 3);
    let regs = hub
        .list_hub_registrations(pb::ListHubRegistrationsRequest { punch_card_id: k.id.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .registrations;
    assert_eq!(regs.len(), 3);
    let inbox = hub.list_messages(pb::ListMessagesRequest::default()).await.unwrap().into_inner().messages;
    let kinds: Vec<i32> = inbox.iter().map(|m| m.kind).collect();
    assert!(
        kinds.contains(&(pb::NotificationKind::CardCreated as i32))
            && kinds.contains(&(pb::NotificationKind::PunchRegistered as i32))
    );
}

/// Each threshold fires once per crossing, and again after the balance rose above it.
async fn thresholds_fire_once_and_rearm(app: TestApp) {
    let c = app.welcomed_company("Tærskel ApS", &[("Tea", "Tærskel", "tea@taerskel.example.dk")]).await;
    set_mode(&app, pb::NotificationKind::PunchRegistered, pb::NotificationMode::Off).await;
    set_mode(&app, pb::NotificationKind::CardCreated, pb::NotificationMode::Off).await;
    let k = app.admin_cards().create_punch_card(card(&c.id, "Kort", 5)).await.unwrap().into_inner().punch_card.unwrap();
    let low = pb::NotificationKind::PunchesLow as i32;
    let used_up = pb::NotificationKind::CardUsedUp as i32;
    let overdrawn = pb::NotificationKind::CardOverdrawn as i32;
    let first = register(&app, &k.id, 2).await; // 3 left
    assert_eq!(email_kinds(&app, &c.id).await, Vec::<i32>::new());
    register(&app, &k.id, 1).await; // 2 left: low
    assert_eq!(email_kinds(&app, &c.id).await, [low]);
    register(&app, &k.id, 1).await; // 1 left: still low, no second mail
    assert_eq!(email_kinds(&app, &c.id).await, [low]);
    let last = register(&app, &k.id, 1).await; // 0: used up
    assert_eq!(email_kinds(&app, &c.id).await, [low, used_up]);
    let over = register(&app, &k.id, 2).await; // -2: overdrawn
    assert_eq!(over.punch_card.unwrap().state, pb::PunchCardState::Overdrawn as i32);
    assert_eq!(email_kinds(&app, &c.id).await, [low, used_up, overdrawn]);
    // Deleting registrations lifts the balance above every line: all re-armed.
    app.admin_cards()
        .delete_registration(pb::DeleteRegistrationRequest { registration_id: over.registration.unwrap().id })
        .await
        .unwrap();
    app.admin_cards()
        .delete_registration(pb::DeleteRegistrationRequest { registration_id: last.registration.unwrap().id })
        .await
        .unwrap();
    app.admin_cards()
        .delete_registration(pb::DeleteRegistrationRequest { registration_id: first.registration.unwrap().id })
        .await
        .unwrap(); // 3 left
    assert_eq!(email_kinds(&app, &c.id).await, [low, used_up, overdrawn]);
    register(&app, &k.id, 1).await; // 2 left: low again
    assert_eq!(email_kinds(&app, &c.id).await, [low, used_up, overdrawn, low]);
    // Raising the total re-arms too; lowering it can cross a line.
    let shrunk = app
        .admin_cards()
        .update_punch_card(pb::UpdatePunchCardRequest {
            punch_card: Some(pb::PunchCard { id: k.id.clone(), total: 3, ..Default::default() }),
            update_mask: Some(prost_types::FieldMask { paths: vec!["total".into()] }),
        })
        .await
        .unwrap()
        .into_inner()
        .punch_card
        .unwrap();
    assert_eq!(shrunk.remaining, 0);
    assert_eq!(email_kinds(&app, &c.id).await, [low, used_up, overdrawn, low, used_up]);
    assert_eq!(app.deliver_all().await, 5);
    assert_eq!(app.smtp.wait_for(5).await.len(), 5);
}

/// "Expiring" X days before and "expired" on the expiry date, each once, on
/// the workspace's local date (Pacific/Auckland is a day ahead of UTC).
async fn expiry_notifications_follow_the_local_date(app: TestApp) {
    use chrono::TimeZone;
    app.admin_workspace()
        .update_workspace(pb::UpdateWorkspaceRequest {
            workspace: Some(pb::Workspace { time_zone: "Pacific/Auckland".into(), ..Default::default() }),
            update_mask: Some(prost_types::FieldMask { paths: vec!["time_zone".into()] }),
        })
        .await
        .unwrap();
    app.admin_notifications()
        .update_notification_settings(pb::UpdateNotificationSettingsRequest {
            expiring_days_before: Some(10),
            ..Default::default()
        })
        .await
        .unwrap();
    // 2026-11-30 10:00 UTC is 2026-11-30 23:00 in Auckland (NZDT, +13).
    app.clock.set(chrono::Utc.with_ymd_and_hms(2026, 11, 30, 10, 0, 0).unwrap());
    let c = app.welcomed_company("Udløb ApS", &[("Ulf", "Udløb", "ulf@udloeb.example.dk")]).await;
    set_mode(&app, pb::NotificationKind::CardCreated, pb::NotificationMode::Off).await;
    let mut req = card(&c.id, "Sæsonkort", 10);
    req.punch_card.as_mut().unwrap().expiry_date = "2026-12-11".into();
    app.admin_cards().create_punch_card(req).await.unwrap();
    let expiring = pb::NotificationKind::CardExpiring as i32;
    let expired = pb::NotificationKind::CardExpired as i32;

    assert_eq!(customerhub::jobs::run_once(&app.state).await.unwrap(), 0, "11 days before, locally");
    // 11:00 UTC = 2026-12-01 00:00 in Auckland: 10 days before.
    app.clock.set(chrono::Utc.with_ymd_and_hms(2026, 11, 30, 11, 0, 0).unwrap());
    assert_eq!(customerhub::jobs::run_once(&app.state).await.unwrap(), 1);
    assert_eq!(customerhub::jobs::run_once(&app.state).await.unwrap(), 0, "never twice");
    assert_eq!(email_kinds(&app, &c.id).await, [expiring]);
    app.deliver_all().await;
    let mail = app.smtp.wait_for(1).await.remove(0);
    assert!(mail.text_body().contains("10"), "days left: {}", mail.text_body());

    // 2026-12-10 10:59 UTC is still 2026-12-10 in Auckland... 23:59; then midnight.
    app.clock.set(chrono::Utc.with_ymd_and_hms(2026, 12, 10, 10, 59, 0).unwrap());
    assert_eq!(customerhub::jobs::run_once(&app.state).await.unwrap(), 0);
    app.clock.set(chrono::Utc.with_ymd_and_hms(2026, 12, 10, 11, 0, 0).unwrap());
    assert_eq!(customerhub::jobs::run_once(&app.state).await.unwrap(), 1);
    // Days later (downtime, restarts): still only once.
    app.clock.advance(chrono::Duration::days(3));
    assert_eq!(customerhub::jobs::run_once(&app.state).await.unwrap(), 0);
    assert_eq!(email_kinds(&app, &c.id).await, [expiring, expired]);

    // A used-up card does not get "expired".
    let mut req = card(&c.id, "Brugt op", 1);
    req.punch_card.as_mut().unwrap().expiry_date = "2026-12-15".into();
    let k = app.admin_cards().create_punch_card(req).await.unwrap().into_inner().punch_card.unwrap();
    register(&app, &k.id, 1).await;
    let before = email_kinds(&app, &c.id).await.len();
    app.clock.advance(chrono::Duration::days(5));
    customerhub::jobs::run_once(&app.state).await.unwrap();
    let after = email_kinds(&app, &c.id).await;
    assert_eq!(after.iter().filter(|k| **k == expired).count(), 1, "{after:?} (had {before})");
}

/// A supervisor works only on cards of customers in its areas; tenants are apart.
async fn cards_are_scoped(app: TestApp) {
    let nord = app.area("Nord").await;
    let (_, sup) = app.staff_with_key("sup@rengoering.example.dk", pb::StaffRole::Supervisor, vec![nord.clone()]).await;
    let outside =
        app.admin_customers().create_customer(company("Udenfor", &[])).await.unwrap().into_inner().customer.unwrap();
    let mut inside_req = company("Indenfor", &[]);
    inside_req.customer.as_mut().unwrap().area_id = nord;
    let inside = app.admin_customers().create_customer(inside_req).await.unwrap().into_inner().customer.unwrap();
    let out_card = app
        .admin_cards()
        .create_punch_card(card(&outside.id, "Ude", 5))
        .await
        .unwrap()
        .into_inner()
        .punch_card
        .unwrap();
    let mut sup_cards = app.cards(&sup);
    sup_cards.create_punch_card(card(&inside.id, "Inde", 5)).await.unwrap();
    assert_eq!(sup_cards.create_punch_card(card(&outside.id, "Nej", 5)).await.unwrap_err().code(), Code::NotFound);
    assert_eq!(
        sup_cards
            .get_punch_card(pb::GetPunchCardRequest { punch_card_id: out_card.id.clone() })
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    assert_eq!(
        sup_cards
            .register_punch(pb::RegisterPunchRequest {
                punch_card_id: out_card.id.clone(),
                amount: 1,
                ..Default::default()
            })
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    let (_, other) = app.other_workspace().await;
    let mut foreign = app.cards(&other);
    assert_eq!(
        foreign
            .get_punch_card(pb::GetPunchCardRequest { punch_card_id: out_card.id.clone() })
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    assert_eq!(
        foreign
            .delete_punch_card(pb::DeletePunchCardRequest { punch_card_id: out_card.id.clone() })
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    assert_eq!(
        foreign
            .list_punch_cards(pb::ListPunchCardsRequest { customer_id: outside.id.clone(), ..Default::default() })
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    let still = app
        .admin_cards()
        .get_punch_card(pb::GetPunchCardRequest { punch_card_id: out_card.id })
        .await
        .unwrap()
        .into_inner()
        .punch_card
        .unwrap();
    assert_eq!(still.used, 0);
}

/// The HUB shows only the contact's own customer's cards, and only with the module.
async fn hub_sees_own_cards_with_the_module(app: TestApp) {
    let mine = app.welcomed_company("Min ApS", &[("Mie", "Min", "mie@min.example.dk")]).await;
    let theirs =
        app.admin_customers().create_customer(company("Deres ApS", &[])).await.unwrap().into_inner().customer.unwrap();
    let their_card = app
        .admin_cards()
        .create_punch_card(card(&theirs.id, "Deres", 5))
        .await
        .unwrap()
        .into_inner()
        .punch_card
        .unwrap();
    let my_card = app.admin_cards().create_punch_card(card(&mine.id, "Mit", 5)).await.unwrap().into_inner();
    let my_card = my_card.punch_card.unwrap();
    register(&app, &my_card.id, 1).await;
    let session = app.hub_session_for(&mine.contacts[0].id).await;
    let mut hub = app.hub(&session);
    let cards =
        hub.list_hub_punch_cards(pb::ListHubPunchCardsRequest::default()).await.unwrap().into_inner().punch_cards;
    assert_eq!(cards.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["Mit"]);
    assert_eq!(cards[0].created_by_staff_user_id, "", "staff ids are the business's");
    let regs = hub
        .list_hub_registrations(pb::ListHubRegistrationsRequest { punch_card_id: my_card.id, ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .registrations;
    assert_eq!((regs.len(), regs[0].registered_by_staff_user_id.as_str()), (1, ""));
    let err = hub
        .list_hub_registrations(pb::ListHubRegistrationsRequest { punch_card_id: their_card.id, ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    app.admin_customers()
        .update_customer(pb::UpdateCustomerRequest {
            customer: Some(pb::Customer {
                id: mine.id.clone(),
                modules: vec![pb::Module::Timesheets as i32],
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask { paths: vec!["modules".into()] }),
        })
        .await
        .unwrap();
    let err = hub.list_hub_punch_cards(pb::ListHubPunchCardsRequest::default()).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

/// A registration's key with another card is refused, not answered with the
/// first registration while nothing is written on this card.
async fn a_request_id_belongs_to_one_request(app: TestApp) {
    let c = app.admin_customers().create_customer(company("Nøgle ApS", &[])).await.unwrap().into_inner();
    let c = c.customer.unwrap();
    let created = app.admin_cards().create_punch_card(card(&c.id, "Kort", 10)).await.unwrap().into_inner();
    let created = created.punch_card.unwrap();

    let other = app.admin_cards().create_punch_card(card(&c.id, "Andet kort", 10)).await.unwrap().into_inner();
    let other = other.punch_card.unwrap();
    let keyed = |card_id: &str| pb::RegisterPunchRequest {
        punch_card_id: card_id.into(),
        amount: 2,
        request_id: "klip-1".into(),
        ..Default::default()
    };
    let first = app.admin_cards().register_punch(keyed(&created.id)).await.unwrap().into_inner();
    let retry = app.admin_cards().register_punch(keyed(&created.id)).await.unwrap().into_inner();
    assert_eq!(retry.registration.unwrap().id, first.registration.unwrap().id);
    let err = app.admin_cards().register_punch(keyed(&other.id)).await.unwrap_err();
    assert_fields(&err, &["request_id"]);
    let used = |id: &str| {
        let req = pb::GetPunchCardRequest { punch_card_id: id.into() };
        let mut cards = app.admin_cards();
        async move { cards.get_punch_card(req).await.unwrap().into_inner().punch_card.unwrap().used }
    };
    assert_eq!((used(&created.id).await, used(&other.id).await), (2, 0));
}

both_databases!(
    cards_crud_and_states,
    a_request_id_belongs_to_one_request,
    bad_card_and_registration_input,
    registrations_move_the_balance,
    expired_cards_refuse_registrations,
    created_and_registered_notifications,
    thresholds_fire_once_and_rearm,
    expiry_notifications_follow_the_local_date,
    cards_are_scoped,
    hub_sees_own_cards_with_the_module,
);

/// Many registrations at once on one card (PostgreSQL, real concurrency): no
/// lost update, and exactly one "punches low" and one "used up".
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_registrations_lose_nothing_and_notify_once() {
    let app = spawn_app(Backend::Postgres).await;
    let c = app.welcomed_company("Samtidig ApS", &[("Sam", "Tidig", "sam@samtidig.example.dk")]).await;
    set_mode(&app, pb::NotificationKind::PunchRegistered, pb::NotificationMode::Off).await;
    set_mode(&app, pb::NotificationKind::CardCreated, pb::NotificationMode::Off).await;
    let k = app
        .admin_cards()
        .create_punch_card(card(&c.id, "Travlt kort", 40))
        .await
        .unwrap()
        .into_inner()
        .punch_card
        .unwrap();
    let mut tasks = vec![];
    for _ in 0..40 {
        let mut client = app.admin_cards();
        let id = k.id.clone();
        tasks.push(tokio::spawn(async move {
            client
                .register_punch(pb::RegisterPunchRequest { punch_card_id: id, amount: 1, ..Default::default() })
                .await
                .map(|_| ())
        }));
    }
    for t in tasks {
        t.await.unwrap().expect("every registration succeeds");
    }
    let got = app
        .admin_cards()
        .get_punch_card(pb::GetPunchCardRequest { punch_card_id: k.id })
        .await
        .unwrap()
        .into_inner()
        .punch_card
        .unwrap();
    assert_eq!((got.used, got.remaining), (40, 0));
    let kinds = email_kinds(&app, &c.id).await;
    assert_eq!(kinds, [pb::NotificationKind::PunchesLow as i32, pb::NotificationKind::CardUsedUp as i32]);
}

/// Waits until `n` of the app database's sessions wait for a row lock.
async fn until_lock_waiters(app: &TestApp, n: i64) {
    for _ in 0..2_000 {
        let waiting: i64 = app
            .scalar(
                "SELECT COUNT(*) FROM pg_stat_activity \
                 WHERE datname = current_database() AND wait_event_type = 'Lock'",
            )
            .await;
        if waiting >= n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    panic!("{n} requests never came to wait for the card");
}

/// Changes to one registration that queue behind each other on its card
/// (PostgreSQL; SQLite has one writer) each act on what the one before left:
/// a second delete finds nothing, and a delete after a correction takes back
/// the corrected amount.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn queued_changes_to_a_registration_see_each_other() {
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let app = spawn_app(Backend::Postgres).await;
    let c = app.admin_customers().create_customer(company("Kø ApS", &[])).await.unwrap().into_inner();
    let k = app.admin_cards().create_punch_card(card(&c.customer.unwrap().id, "Kort", 10)).await.unwrap();
    let k = k.into_inner().punch_card.unwrap();
    let hold = || async {
        let held = app.state.db.begin().await.unwrap();
        held.execute_unprepared(&format!("SELECT id FROM punch_cards WHERE id = '{}' FOR UPDATE", k.id)).await.unwrap();
        held
    };
    let delete = |id: String| {
        let mut client = app.admin_cards();
        tokio::spawn(async move {
            client
                .delete_registration(pb::DeleteRegistrationRequest { registration_id: id })
                .await
                .map(|r| r.into_inner())
        })
    };
    let used = || async {
        let req = pb::GetPunchCardRequest { punch_card_id: k.id.clone() };
        app.admin_cards().get_punch_card(req).await.unwrap().into_inner().punch_card.unwrap().used
    };

    // Two deletes of one registration.
    let reg = register(&app, &k.id, 3).await.registration.unwrap();
    let held = hold().await;
    let (first, second) = (delete(reg.id.clone()), delete(reg.id.clone()));
    until_lock_waiters(&app, 2).await;
    held.rollback().await.unwrap();
    let answers = [first.await.unwrap(), second.await.unwrap()];
    assert_eq!(answers.iter().filter(|a| a.is_ok()).count(), 1, "{answers:?}");
    assert!(answers.iter().any(|a| a.as_ref().is_err_and(|e| e.code() == Code::NotFound)), "{answers:?}");
    assert_eq!(used().await, 0, "taken back once");

    // A correction, then a delete that read the registration before it.
    let reg = register(&app, &k.id, 3).await.registration.unwrap();
    let held = hold().await;
    let mut client = app.admin_cards();
    let corrected = pb::Registration { id: reg.id.clone(), amount: 5, ..Default::default() };
    let correction = tokio::spawn(async move {
        let req = pb::UpdateRegistrationRequest { registration: Some(corrected), update_mask: mask(&["amount"]) };
        client.update_registration(req).await
    });
    until_lock_waiters(&app, 1).await;
    let deleted = delete(reg.id.clone());
    until_lock_waiters(&app, 2).await;
    held.rollback().await.unwrap();
    correction.await.unwrap().expect("the correction");
    deleted.await.unwrap().expect("the delete");
    assert_eq!(used().await, 0, "the corrected amount is taken back");
}

/// The expiry job decides on the card as it is when it takes it (PostgreSQL):
/// an expiry date moved while the job waited for the card sends no
/// "expiring" for the old date, and the notice for the new one still comes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_expiry_job_decides_on_the_card_as_it_is() {
    use chrono::TimeZone;
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let app = spawn_app(Backend::Postgres).await;
    app.clock.set(chrono::Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap());
    let c = app.welcomed_company("Flyt ApS", &[("Frede", "Flyt", "frede@flyt.example.dk")]).await;
    set_mode(&app, pb::NotificationKind::CardCreated, pb::NotificationMode::Off).await;
    let mut req = card(&c.id, "Sæsonkort", 10);
    req.punch_card.as_mut().unwrap().expiry_date = "2026-12-11".into();
    let k = app.admin_cards().create_punch_card(req).await.unwrap().into_inner().punch_card.unwrap();

    // Staff move the expiry date to next year while the job is on its way.
    let held = app.state.db.begin().await.unwrap();
    held.execute_unprepared(&format!("UPDATE punch_cards SET expiry_date = '2027-12-31' WHERE id = '{}'", k.id))
        .await
        .unwrap();
    let state = app.state.clone();
    let job = tokio::spawn(async move { customerhub::jobs::run_once(&state).await });
    until_lock_waiters(&app, 1).await;
    held.commit().await.unwrap();
    assert_eq!(job.await.unwrap().unwrap(), 0, "nothing is expiring on 2026-12-11 any more");
    assert!(email_kinds(&app, &c.id).await.is_empty());

    app.clock.set(chrono::Utc.with_ymd_and_hms(2027, 12, 25, 12, 0, 0).unwrap());
    assert_eq!(customerhub::jobs::run_once(&app.state).await.unwrap(), 1);
    assert_eq!(email_kinds(&app, &c.id).await, [pb::NotificationKind::CardExpiring as i32]);
}
