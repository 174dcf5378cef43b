//! RegisterPunch calls that arrive together share one transaction
//! (`app::registration_batch`). The tests hold the batches' way to the
//! database (SQLite's one writer; on PostgreSQL a lock on the first card),
//! queue registrations behind them, then let go: what queued is written as
//! one batch, and must come out as if each had come alone.
use crate::{both_databases, support::*};
use customerhub::grpc::pb;
use sea_orm::{ConnectionTrait, DatabaseTransaction, TransactionTrait};
use std::collections::BTreeMap;
use tokio::task::JoinHandle;
use tonic::Code;

type Answer = Result<pb::RegisterPunchResponse, tonic::Status>;

fn send(app: &TestApp, card_id: &str, description: &str) -> JoinHandle<Answer> {
    let mut client = app.admin_cards();
    let req = pb::RegisterPunchRequest {
        punch_card_id: card_id.into(),
        description: description.into(),
        amount: 1,
        ..Default::default()
    };
    tokio::spawn(async move { client.register_punch(req).await.map(|r| r.into_inner()) })
}

/// Waits (without a deadline of its own: the test's timeout is the bound)
/// until the queue holds what the test expects.
async fn until(app: &TestApp, what: &str, done: impl Fn(&TestApp) -> bool) {
    for _ in 0..2_000 {
        if done(app) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    panic!("the registration queue never reached: {what}");
}

/// Occupies every batch runner with a registration on `card` that cannot
/// reach the database until the returned transaction ends, so that what is
/// sent next waits in the queue.
async fn hold_runners(app: &TestApp, card: &str) -> (DatabaseTransaction, Vec<JoinHandle<Answer>>) {
    let held = app.state.db.begin().await.unwrap();
    if app.backend == Backend::Postgres {
        held.execute_unprepared(&format!("SELECT id FROM punch_cards WHERE id = '{card}' FOR UPDATE")).await.unwrap();
    }
    let mut blocked = vec![];
    for n in 1..=runners(app) {
        blocked.push(send(app, card, "blokeret"));
        until(app, "a runner blocked", |a| a.state.registrations.in_batches() == n).await;
    }
    (held, blocked)
}

/// How many batches the app writes at once.
fn runners(app: &TestApp) -> usize {
    if app.backend == Backend::Postgres { app.state.settings.registration_batches } else { 1 }
}

async fn create_card(app: &TestApp, customer_id: &str, total: i64, expiry: &str) -> pb::PunchCard {
    let mut req = card(customer_id, "Kort", total);
    req.punch_card.as_mut().unwrap().expiry_date = expiry.into();
    app.admin_cards().create_punch_card(req).await.unwrap().into_inner().punch_card.unwrap()
}

async fn get_card(app: &TestApp, id: &str) -> pb::PunchCard {
    let req = pb::GetPunchCardRequest { punch_card_id: id.into() };
    app.admin_cards().get_punch_card(req).await.unwrap().into_inner().punch_card.unwrap()
}

/// How many e-mails of each kind were recorded for a customer.
async fn email_counts(app: &TestApp, customer_id: &str) -> BTreeMap<i32, usize> {
    let req = pb::ListDeliveriesRequest { customer_id: customer_id.into(), page_size: 500, ..Default::default() };
    let mut counts = BTreeMap::new();
    for d in app.admin_notifications().list_deliveries(req).await.unwrap().into_inner().deliveries {
        let about_the_card =
            ![pb::NotificationKind::Welcome as i32, pb::NotificationKind::CardCreated as i32].contains(&d.kind);
        if d.channel == pb::Channel::Email as i32 && about_the_card {
            *counts.entry(d.kind).or_default() += 1;
        }
    }
    counts
}

async fn registrations_arriving_together_share_a_transaction(app: TestApp) {
    use pb::NotificationKind as K;
    app.admin_notifications()
        .update_notification_settings(pb::UpdateNotificationSettingsRequest {
            settings: vec![pb::NotificationSetting {
                kind: K::PunchRegistered as i32,
                mode: pb::NotificationMode::On as i32,
                email: true,
                hub: true,
            }],
            ..Default::default()
        })
        .await
        .unwrap();
    let anna = app.welcomed_company("Anna ApS", &[("Anna", "Holm", "anna@holm.example.dk")]).await;
    let bo = app.welcomed_company("Bo ApS", &[("Bo", "Lund", "bo@lund.example.dk")]).await;
    // The held registrations and the 9 queued on it overdraw it by one.
    let a = create_card(&app, &anna.id, 9 + runners(&app) as i64 - 1, "").await;
    let b = create_card(&app, &bo.id, 100, "").await;
    let expired = create_card(&app, &bo.id, 100, "2026-02-01").await;
    let before = get_card(&app, &a.id).await;

    let (held, blocked) = hold_runners(&app, &a.id).await;
    let mut queued = vec![];
    for _ in 0..9 {
        queued.push(send(&app, &a.id, "Vinduespudsning"));
    }
    queued.push(send(&app, &b.id, "Vinduespudsning"));
    let unknown = send(&app, "0190c6f2-0000-7000-8000-00000000beef", "Vinduespudsning");
    let refused = send(&app, &expired.id, "Vinduespudsning");
    until(&app, "12 waiting", |a| a.state.registrations.waiting() == 12).await;
    held.rollback().await.unwrap();

    let mut used_after = vec![];
    for t in blocked.into_iter().chain(queued) {
        let r = t.await.unwrap().expect("registered");
        let card = r.punch_card.unwrap();
        assert_eq!(r.registration.unwrap().punch_card_id, card.id);
        if card.id == a.id {
            used_after.push(card.used);
        } else {
            assert_eq!(card.used, 1, "the other card sees only its own registration");
        }
    }
    assert_eq!(unknown.await.unwrap().unwrap_err().code(), Code::NotFound);
    assert_eq!(refused.await.unwrap().unwrap_err().code(), Code::FailedPrecondition);
    assert_eq!(app.state.registrations.largest_batch(), 12, "what queued went in one transaction");

    // Each registration on the shared card saw the balance after itself, as if alone.
    used_after.sort();
    let runners = used_after.len() - 9;
    assert_eq!(used_after, (1..=9 + runners as i64).collect::<Vec<_>>());
    let after = get_card(&app, &a.id).await;
    assert_eq!(after.used, 9 + runners as i64);
    let version = |c: &pb::PunchCard| c.etag.parse::<i64>().unwrap();
    assert_eq!(version(&after), version(&before) + 9 + runners as i64);
    assert_eq!(after.state, pb::PunchCardState::Overdrawn as i32);
    assert_eq!(get_card(&app, &b.id).await.used, 1);
    assert_eq!(get_card(&app, &expired.id).await.used, 0, "the refused registration wrote nothing");
    let listed = app
        .admin_cards()
        .list_registrations(pb::ListRegistrationsRequest {
            punch_card_id: a.id.clone(),
            page_size: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .registrations;
    assert_eq!(listed.len(), 9 + runners);

    // One receipt per registration; each threshold crossed once, notified once.
    let expected: BTreeMap<i32, usize> = [
        (K::PunchRegistered as i32, 9 + runners),
        (K::PunchesLow as i32, 1),
        (K::CardUsedUp as i32, 1),
        (K::CardOverdrawn as i32, 1),
    ]
    .into();
    assert_eq!(email_counts(&app, &anna.id).await, expected);
    assert_eq!(email_counts(&app, &bo.id).await, [(K::PunchRegistered as i32, 1)].into());
}

async fn a_batch_the_database_refuses_is_written_one_by_one(app: TestApp) {
    let c = app.welcomed_company("Nej ApS", &[("Ni", "Els", "ni@els.example.dk")]).await;
    let k = create_card(&app, &c.id, 100, "").await;
    // A registration the database refuses, as a constraint or a failing disk might.
    let refuse = match app.backend {
        Backend::Sqlite => vec![
            "CREATE TRIGGER refuse_registration BEFORE INSERT ON punch_registrations \
             WHEN NEW.description = 'afvist' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
        ],
        Backend::Postgres => vec![
            "CREATE FUNCTION refuse_registration() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
             IF NEW.description = 'afvist' THEN RAISE EXCEPTION 'refused by the test'; END IF; RETURN NEW; END $$",
            "CREATE TRIGGER refuse_registration BEFORE INSERT ON punch_registrations \
             FOR EACH ROW EXECUTE FUNCTION refuse_registration()",
        ],
    };
    for sql in refuse {
        app.state.db.execute_unprepared(sql).await.unwrap();
    }

    let (held, blocked) = hold_runners(&app, &k.id).await;
    let runners = blocked.len() as i64;
    let mut fine = vec![send(&app, &k.id, "ok"), send(&app, &k.id, "ok")];
    let refused = send(&app, &k.id, "afvist");
    fine.extend([send(&app, &k.id, "ok"), send(&app, &k.id, "ok")]);
    until(&app, "5 waiting", |a| a.state.registrations.waiting() == 5).await;
    held.rollback().await.unwrap();

    for t in blocked.into_iter().chain(fine) {
        t.await.unwrap().expect("the others are registered");
    }
    let err = refused.await.unwrap().unwrap_err();
    assert_eq!(err.code(), Code::Internal, "{err:?}");
    assert_eq!(app.state.registrations.largest_batch(), 5);
    assert_eq!(get_card(&app, &k.id).await.used, runners + 4);
}

both_databases!(
    registrations_arriving_together_share_a_transaction,
    a_batch_the_database_refuses_is_written_one_by_one
);
