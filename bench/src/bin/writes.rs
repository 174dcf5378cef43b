//! Write-path load: concurrent `PunchCardService/RegisterPunch` calls against a
//! running customerhub, and the SeaORM single-row insert ceiling beside it.
//!
//! `writes setup` prepares customers (one HUB contact each, welcome mail queued),
//! one punch card each with a total that never runs out, and "punch registered"
//! notifications on by e-mail, so every registration writes an outbox row.
//! `writes grpc` then registers punches for a fixed time; `writes seaorm`
//! inserts single rows through SeaORM with the pool customerhub would use.
//! Each measurement prints one JSON line on stdout.
use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use customerhub::grpc::pb::{
    self, customer_service_client::CustomerServiceClient, notification_service_client::NotificationServiceClient,
    punch_card_service_client::PunchCardServiceClient,
};
use customerhub_bench::Bearer;
use hdrhistogram::Histogram;
use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};
use std::{
    collections::BTreeMap,
    path::PathBuf,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};
use tonic::{service::interceptor::InterceptedService, transport::Channel};

#[derive(Parser)]
#[command(about = "Write-path load generator and SeaORM insert ceiling")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Creates customers with a contact and a punch card each; writes the card ids, one a line.
    Setup {
        #[arg(long)]
        addr: String,
        #[arg(long, env = "CUSTOMERHUB_KEY")]
        key: String,
        /// How many customers (each with one card).
        #[arg(long, default_value_t = 64)]
        cards: usize,
        #[arg(long)]
        out: PathBuf,
    },
    /// Registers punches from `concurrency` clients for `duration` seconds (after a warm-up).
    Grpc {
        #[arg(long)]
        addr: String,
        #[arg(long, env = "CUSTOMERHUB_KEY")]
        key: String,
        #[arg(long)]
        cards_file: PathBuf,
        /// Use only the first N cards (1: every client punches the same card).
        #[arg(long)]
        use_cards: Option<usize>,
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        #[arg(long, default_value_t = 10.0)]
        duration: f64,
        #[arg(long, default_value_t = 1.0)]
        warmup: f64,
    },
    /// Inserts single rows with SeaORM from `concurrency` tasks (pool as customerhub builds it).
    Seaorm {
        #[arg(long)]
        database_url: String,
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Pool size on PostgreSQL (SQLite always has one connection, as in customerhub).
        #[arg(long, default_value_t = 10)]
        max_connections: u32,
        #[arg(long, default_value_t = 10.0)]
        duration: f64,
        #[arg(long, default_value_t = 1.0)]
        warmup: f64,
    },
}

type Authed = InterceptedService<Channel, Bearer>;

async fn channel(addr: &str) -> anyhow::Result<Channel> {
    Channel::from_shared(addr.to_string())?.connect().await.with_context(|| format!("connecting to {addr}"))
}

fn bearer(key: &str) -> anyhow::Result<Bearer> {
    Bearer::new(key)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Cmd::Setup { addr, key, cards, out } => setup(&addr, &key, cards, &out).await,
        Cmd::Grpc { addr, key, cards_file, use_cards, concurrency, duration, warmup } => {
            let mut cards: Vec<String> =
                std::fs::read_to_string(&cards_file)?.lines().map(str::to_string).filter(|l| !l.is_empty()).collect();
            if let Some(n) = use_cards {
                cards.truncate(n);
            }
            if cards.is_empty() {
                bail!("no cards in {}", cards_file.display());
            }
            grpc_load(&addr, &key, cards, concurrency, duration, warmup).await
        }
        Cmd::Seaorm { database_url, concurrency, max_connections, duration, warmup } => {
            seaorm_load(&database_url, concurrency, max_connections, duration, warmup).await
        }
    }
}

async fn setup(addr: &str, key: &str, cards: usize, out: &PathBuf) -> anyhow::Result<()> {
    let ch = channel(addr).await?;
    let auth = bearer(key)?;
    let mut notifications = NotificationServiceClient::with_interceptor(ch.clone(), auth.clone());
    let mut customers = CustomerServiceClient::with_interceptor(ch.clone(), auth.clone());
    let mut punch_cards = PunchCardServiceClient::with_interceptor(ch, auth);
    notifications
        .update_notification_settings(pb::UpdateNotificationSettingsRequest {
            settings: vec![pb::NotificationSetting {
                kind: pb::NotificationKind::PunchRegistered as i32,
                mode: pb::NotificationMode::On as i32,
                email: true,
                hub: false,
            }],
            punches_low_threshold: None,
            expiring_days_before: None,
        })
        .await
        .context("UpdateNotificationSettings")?;
    let mut ids = String::new();
    for i in 0..cards {
        let customer = customers
            .create_customer(pb::CreateCustomerRequest {
                customer: Some(pb::Customer {
                    kind: pb::CustomerKind::Company as i32,
                    company_name: format!("Bench Kunde {i} ApS"),
                    hub_access: true,
                    modules: vec![pb::Module::PunchCards as i32],
                    locale: pb::Locale::Da as i32,
                    ..Default::default()
                }),
                contacts: vec![pb::ContactInput {
                    first_name: "Anna".into(),
                    last_name: format!("Jensen {i}"),
                    email: format!("anna{i}@bench.example.dk"),
                    ..Default::default()
                }],
                send_welcome_mail: true,
                request_id: String::new(),
            })
            .await
            .context("CreateCustomer")?
            .into_inner()
            .customer
            .context("no customer")?;
        let card = punch_cards
            .create_punch_card(pb::CreatePunchCardRequest {
                punch_card: Some(pb::PunchCard {
                    customer_id: customer.id,
                    name: "Vinduespudsning".into(),
                    unit: pb::PunchCardUnit::Punches as i32,
                    total: 1_000_000_000,
                    start_date: "2026-01-01".into(),
                    notify: Some(false),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .context("CreatePunchCard")?
            .into_inner()
            .punch_card
            .context("no card")?;
        ids.push_str(&card.id);
        ids.push('\n');
    }
    std::fs::write(out, ids)?;
    eprintln!("created {cards} customers with a card each");
    Ok(())
}

/// What every load task records, merged at the end.
#[derive(Default)]
struct Tally {
    ok: u64,
    errors: BTreeMap<String, u64>,
    first_error: Option<String>,
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

fn report(kind: &str, concurrency: usize, extra: serde_json::Value, tally: &Tally, hist: &Histogram<u64>, secs: f64) {
    let mut out = serde_json::json!({
        "kind": kind,
        "concurrency": concurrency,
        "seconds": secs,
        "ok": tally.ok,
        "errors": tally.errors.values().sum::<u64>(),
        "error_codes": tally.errors,
        "first_error": tally.first_error,
        "per_second": tally.ok as f64 / secs,
        "p50_ms": hist.value_at_quantile(0.5) as f64 / 1000.0,
        "p99_ms": hist.value_at_quantile(0.99) as f64 / 1000.0,
    });
    if let (Some(o), serde_json::Value::Object(e)) = (out.as_object_mut(), extra) {
        o.extend(e);
    }
    println!("{out}");
}

async fn grpc_load(
    addr: &str,
    key: &str,
    cards: Vec<String>,
    concurrency: usize,
    duration: f64,
    warmup: f64,
) -> anyhow::Result<()> {
    let auth = bearer(key)?;
    // A few HTTP/2 connections, as several backends would open.
    let mut clients: Vec<PunchCardServiceClient<Authed>> = vec![];
    for _ in 0..concurrency.clamp(1, 8) {
        clients.push(PunchCardServiceClient::with_interceptor(channel(addr).await?, auth.clone()));
    }
    let start = Instant::now() + Duration::from_secs_f64(warmup);
    let end = start + Duration::from_secs_f64(duration);
    let shared = Arc::new(Mutex::new((Tally::default(), histogram())));
    let mut tasks = vec![];
    for i in 0..concurrency {
        let mut client = clients[i % clients.len()].clone();
        let card = cards[i % cards.len()].clone();
        let shared = shared.clone();
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            let mut hist = histogram();
            loop {
                let t0 = Instant::now();
                if t0 >= end {
                    break;
                }
                let res = client
                    .register_punch(pb::RegisterPunchRequest {
                        punch_card_id: card.clone(),
                        description: "Vinduespudsning, alle sider".into(),
                        amount: 1,
                        ..Default::default()
                    })
                    .await;
                let t1 = Instant::now();
                if t0 < start || t1 > end {
                    continue;
                }
                match res {
                    Ok(_) => {
                        tally.ok += 1;
                        hist.record(t1.duration_since(t0).as_micros().max(1) as u64).ok();
                    }
                    Err(s) => {
                        *tally.errors.entry(format!("{:?}", s.code())).or_default() += 1;
                        tally.first_error.get_or_insert_with(|| format!("{:?}: {}", s.code(), s.message()));
                    }
                }
            }
            let mut g = shared.lock().expect("tally lock");
            g.0.ok += tally.ok;
            for (k, v) in tally.errors {
                *g.0.errors.entry(k).or_default() += v;
            }
            if g.0.first_error.is_none() {
                g.0.first_error = tally.first_error;
            }
            g.1.add(&hist).ok();
        }));
    }
    for t in tasks {
        t.await?;
    }
    let g = shared.lock().expect("tally lock");
    report("grpc_register_punch", concurrency, serde_json::json!({ "cards": cards.len() }), &g.0, &g.1, duration);
    Ok(())
}

/// The ceiling's one table: a row like a registration, without the service around it.
mod bench_row {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "bench_inserts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub card_id: String,
        pub description: String,
        pub amount: i64,
        pub created_at: DateTimeWithTimeZone,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

async fn seaorm_load(
    url: &str,
    concurrency: usize,
    max_connections: u32,
    duration: f64,
    warmup: f64,
) -> anyhow::Result<()> {
    let settings = customerhub::config::Settings {
        database_url: Some(url.to_string()),
        db_max_connections: max_connections,
        ..Default::default()
    };
    let db = customerhub::store::connect(&settings).await?;
    let ts = if url.starts_with("sqlite:") { "TEXT" } else { "TIMESTAMPTZ" };
    db.execute_unprepared("DROP TABLE IF EXISTS bench_inserts").await?;
    db.execute_unprepared(&format!(
        "CREATE TABLE bench_inserts (id VARCHAR(36) PRIMARY KEY, card_id VARCHAR(36) NOT NULL, \
         description TEXT NOT NULL, amount BIGINT NOT NULL, created_at {ts} NOT NULL)"
    ))
    .await?;
    let start = Instant::now() + Duration::from_secs_f64(warmup);
    let end = start + Duration::from_secs_f64(duration);
    let shared = Arc::new(Mutex::new((Tally::default(), histogram())));
    let mut tasks = vec![];
    for i in 0..concurrency {
        let db = db.clone();
        let shared = shared.clone();
        let card = uuid::Uuid::now_v7().to_string();
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            let mut hist = histogram();
            loop {
                let t0 = Instant::now();
                if t0 >= end {
                    break;
                }
                let row = bench_row::ActiveModel {
                    id: Set(uuid::Uuid::now_v7().to_string()),
                    card_id: Set(card.clone()),
                    description: Set(format!("Vinduespudsning, klient {i}")),
                    amount: Set(1),
                    created_at: Set(chrono::Utc::now().fixed_offset()),
                };
                let res = row.insert(&db).await;
                let t1 = Instant::now();
                if t0 < start || t1 > end {
                    continue;
                }
                match res {
                    Ok(_) => {
                        tally.ok += 1;
                        hist.record(t1.duration_since(t0).as_micros().max(1) as u64).ok();
                    }
                    Err(e) => {
                        *tally.errors.entry("db".into()).or_default() += 1;
                        tally.first_error.get_or_insert_with(|| e.to_string());
                    }
                }
            }
            let mut g = shared.lock().expect("tally lock");
            g.0.ok += tally.ok;
            for (k, v) in tally.errors {
                *g.0.errors.entry(k).or_default() += v;
            }
            if g.0.first_error.is_none() {
                g.0.first_error = tally.first_error;
            }
            g.1.add(&hist).ok();
        }));
    }
    for t in tasks {
        t.await?;
    }
    db.execute_unprepared("DROP TABLE IF EXISTS bench_inserts").await?;
    let g = shared.lock().expect("tally lock");
    let backend = if url.starts_with("sqlite:") { "sqlite" } else { "postgres" };
    report(
        "seaorm_insert",
        concurrency,
        serde_json::json!({ "backend": backend, "max_connections": max_connections }),
        &g.0,
        &g.1,
        duration,
    );
    Ok(())
}
