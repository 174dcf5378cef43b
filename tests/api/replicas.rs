//! Three real `customerhub serve` processes on one PostgreSQL, driven at once.
use crate::support::*;
use customerhub::{domain::notification::NotificationKind, grpc::pb};
use sea_orm::{ConnectionTrait, Statement};
use std::{
    collections::HashMap,
    process::{Child, Command, Stdio},
    time::Duration,
};

struct Replica {
    child: Child,
    port: u16,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start_replica(app: &TestApp) -> Replica {
    let port = free_port();
    let dir = app.state.settings.data_dir.join(format!("replica-{port}"));
    std::fs::create_dir_all(&dir).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_customerhub"))
        .arg("serve")
        .env("CUSTOMERHUB_DATABASE_URL", &app.database_url)
        .env("CUSTOMERHUB_DATA_DIR", &dir)
        .env("CUSTOMERHUB_LISTEN", format!("127.0.0.1:{port}"))
        .env("CUSTOMERHUB_HTTP_LISTEN", "127.0.0.1:0")
        .env("CUSTOMERHUB_SMTP_URL", app.smtp.url())
        .env("CUSTOMERHUB_DEFAULT_SENDER_EMAIL", "kontakt@rengoering.example.dk")
        .env("CUSTOMERHUB_DELIVERY_POLL_MS", "50")
        .env("CUSTOMERHUB_DELIVERY_LEASE_SECS", "2")
        .env("CUSTOMERHUB_DELIVERY_CONCURRENCY", SENDS_AT_ONCE.to_string())
        .env("CUSTOMERHUB_DELIVERY_BACKOFF_BASE_SECS", "1")
        .env("CUSTOMERHUB_PASSWORD_HASH_MEMORY_KIB", "1024")
        .env("CUSTOMERHUB_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Replica { child, port }
}

async fn channel(port: u16) -> tonic::transport::Channel {
    for _ in 0..200 {
        if let Ok(c) =
            tonic::transport::Channel::from_shared(format!("http://127.0.0.1:{port}")).unwrap().connect().await
        {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("replica on {port} did not start")
}

async fn queued(app: &TestApp) -> i64 {
    let db = &app.state.db;
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM notifications WHERE state = 'queued'",
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get("", "n").unwrap()
}

/// Mails a replica sends at once. A killed one repeats at most three times
/// this many: those sent or being sent and not yet recorded
/// (`delivery::worker`'s `MOST_UNRECORDED_ROUNDS`).
const SENDS_AT_ONCE: usize = 4;

/// A replica killed with SIGKILL while a thousand mails are in flight: every
/// notification is delivered, duplicates are at most the mails the dead
/// replica had sent and not recorded, and a duplicate carries the same
/// Message-ID.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_of_a_replica_loses_no_notification() {
    let app = spawn_app(Backend::Postgres).await;
    let contacts: Vec<(String, String, String)> =
        (0..50).map(|i| (format!("Kontakt{i}"), "Test".to_string(), format!("k{i}@kill.example.dk"))).collect();
    let refs: Vec<(&str, &str, &str)> = contacts.iter().map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str())).collect();
    let c = app.welcomed_company("Dræbt ApS", &refs).await;
    app.smtp.clear();
    for _ in 0..20 {
        app.fire(NotificationKind::PunchRegistered, &c.id, None).await;
    }
    assert_eq!(queued(&app).await, 1000);

    let mut replicas: Vec<Replica> = (0..3).map(|_| start_replica(&app)).collect();
    for r in &replicas {
        channel(r.port).await;
    }
    // Kill one at a random moment while mail is flowing.
    let kill_after = 100 + (rand::random::<u64>() % 300) as usize;
    for _ in 0..400 {
        if app.smtp.count() >= kill_after {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let victim = replicas.remove(1);
    let received_at_kill = app.smtp.count();
    unsafe_kill_9(victim);
    for _ in 0..600 {
        if queued(&app).await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(queued(&app).await, 0, "everything was delivered");
    let mails = app.smtp.mails();
    let mut by_id: HashMap<String, usize> = HashMap::new();
    for m in &mails {
        *by_id.entry(m.message_id().expect("Message-ID")).or_default() += 1;
    }
    assert_eq!(
        by_id.len(),
        1000,
        "every notification arrived (received {} mails, {received_at_kill} before the kill)",
        mails.len()
    );
    let duplicates: usize = by_id.values().map(|n| n - 1).sum();
    assert!(
        duplicates <= 3 * SENDS_AT_ONCE,
        "at most the {} mails the killed replica had sent and not recorded: {duplicates}",
        3 * SENDS_AT_ONCE
    );
}

/// Sends SIGKILL: no chance to finish or release anything.
fn unsafe_kill_9(mut r: Replica) {
    let pid = r.child.id().to_string();
    assert!(Command::new("kill").args(["-9", &pid]).status().unwrap().success());
    let _ = r.child.wait();
}

/// Registrations through three replicas at once on one card: no lost update,
/// one "punches low", and each replica answers for the same data.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_replicas_share_one_database() {
    let app = spawn_app(Backend::Postgres).await;
    let c = app.welcomed_company("Tre ApS", &[("Tea", "Tre", "tea@tre.example.dk")]).await;
    app.admin_notifications()
        .update_notification_settings(pb::UpdateNotificationSettingsRequest {
            settings: vec![pb::NotificationSetting {
                kind: pb::NotificationKind::PunchRegistered as i32,
                mode: pb::NotificationMode::Off as i32,
                email: true,
                hub: true,
            }],
            ..Default::default()
        })
        .await
        .unwrap();
    let card = app.punch_card(&c.id, "Delt kort", 30).await;
    let replicas: Vec<Replica> = (0..3).map(|_| start_replica(&app)).collect();
    let mut clients = vec![];
    for r in &replicas {
        let ch = channel(r.port).await;
        let bearer: tonic::metadata::MetadataValue<_> = format!("Bearer {}", app.admin_key).parse().unwrap();
        clients.push(pb::punch_card_service_client::PunchCardServiceClient::with_interceptor(
            ch,
            move |mut req: tonic::Request<()>| {
                req.metadata_mut().insert("authorization", bearer.clone());
                Ok(req)
            },
        ));
    }
    let mut tasks = vec![];
    for i in 0..30 {
        let mut client = clients[i % 3].clone();
        let id = card.id.clone();
        tasks.push(tokio::spawn(async move {
            client
                .register_punch(pb::RegisterPunchRequest { punch_card_id: id, amount: 1, ..Default::default() })
                .await
                .map(|_| ())
        }));
    }
    for t in tasks {
        t.await.unwrap().expect("registered through a replica");
    }
    for client in clients.iter_mut() {
        let got = client
            .get_punch_card(pb::GetPunchCardRequest { punch_card_id: card.id.clone() })
            .await
            .unwrap()
            .into_inner()
            .punch_card
            .unwrap();
        assert_eq!((got.used, got.remaining), (30, 0));
    }
    let kinds: Vec<i32> = app
        .admin_notifications()
        .list_deliveries(pb::ListDeliveriesRequest { customer_id: c.id.clone(), page_size: 500, ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .deliveries
        .into_iter()
        .filter(|d| d.channel == pb::Channel::Email as i32 && d.kind != pb::NotificationKind::Welcome as i32)
        .map(|d| d.kind)
        .collect();
    let count = |k: pb::NotificationKind| kinds.iter().filter(|x| **x == k as i32).count();
    assert_eq!((count(pb::NotificationKind::PunchesLow), count(pb::NotificationKind::CardUsedUp)), (1, 1), "{kinds:?}");
    drop(replicas);
}
