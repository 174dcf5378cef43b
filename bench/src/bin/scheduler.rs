//! Scheduler benchmark (PostgreSQL only).
//!
//! - `scheduler seed`: through a running customerhub (workers off) creates one
//!   customer and one one-off staff reminder (in the staff list only, to the
//!   admins), then copies it in SQL to `count` reminders, all due: first date
//!   two days ago, `next_fire_at` at midnight UTC of that day, as a reminder
//!   looks whose 08:00 occurrence has passed unfired.
//! - `scheduler run`: starts `replicas` `customerhub serve` processes on that
//!   database with a short scheduler interval and polls until every reminder
//!   has a `fired` row in `reminder_firings` (or the timeout), then stops them
//!   and checks exactly-once: one firing row and one staff-inbox message per
//!   reminder, no duplicates, nothing left due.
//!
//! Measurements print one JSON line on stdout.
use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use customerhub::{
    config::Settings,
    grpc::pb::{self, customer_service_client::CustomerServiceClient, reminder_service_client::ReminderServiceClient},
};
use customerhub_bench::Bearer;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use std::{
    path::PathBuf,
    process::Stdio,
    time::{Duration, Instant},
};
use tokio::process::{Child, Command};
use tonic::transport::Channel;

#[derive(Parser)]
#[command(about = "Scheduler benchmark: seed due reminders, fire them with 1..n replicas")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Creates `count` due reminders (needs a running customerhub on the database for the first one).
    Seed {
        #[arg(long)]
        addr: String,
        #[arg(long, env = "CUSTOMERHUB_KEY")]
        key: String,
        #[arg(long)]
        database_url: String,
        #[arg(long, default_value_t = 100_000)]
        count: i64,
    },
    /// Starts the replicas and measures until every reminder fired once.
    Run {
        /// The customerhub binary.
        #[arg(long)]
        bin: PathBuf,
        #[arg(long)]
        database_url: String,
        #[arg(long, default_value_t = 1)]
        replicas: usize,
        #[arg(long, default_value_t = 1)]
        interval_secs: u64,
        #[arg(long, default_value_t = 40)]
        timeout_secs: u64,
        /// Also reports how many had fired this many seconds in (the target).
        #[arg(long, default_value_t = 30)]
        target_secs: u64,
        /// Where the replicas' data folders and logs go.
        #[arg(long)]
        work_dir: PathBuf,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Cmd::Seed { addr, key, database_url, count } => seed(&addr, &key, &database_url, count).await,
        Cmd::Run { bin, database_url, replicas, interval_secs, timeout_secs, target_secs, work_dir } => {
            run(&bin, &database_url, replicas, interval_secs, timeout_secs, target_secs, &work_dir).await
        }
    }
}

async fn connect(url: &str) -> anyhow::Result<DatabaseConnection> {
    if !url.starts_with("postgres") {
        bail!("the scheduler benchmark runs on PostgreSQL only");
    }
    let settings = Settings { database_url: Some(url.to_string()), db_max_connections: 2, ..Default::default() };
    customerhub::store::connect(&settings).await
}

async fn scalar(db: &DatabaseConnection, sql: &str) -> anyhow::Result<i64> {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql.to_string()))
        .await?
        .with_context(|| format!("no row from {sql}"))?;
    Ok(row.try_get_by_index::<i64>(0)?)
}

async fn seed(addr: &str, key: &str, url: &str, count: i64) -> anyhow::Result<()> {
    let ch = Channel::from_shared(addr.to_string())?.connect().await.with_context(|| format!("connecting {addr}"))?;
    let auth = Bearer::new(key)?;
    let mut customers = CustomerServiceClient::with_interceptor(ch.clone(), auth.clone());
    let mut reminders = ReminderServiceClient::with_interceptor(ch, auth);
    let customer = customers
        .create_customer(pb::CreateCustomerRequest {
            customer: Some(pb::Customer {
                kind: pb::CustomerKind::Company as i32,
                company_name: "Bager Hansen ApS".into(),
                locale: pb::Locale::Da as i32,
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .context("CreateCustomer")?
        .into_inner()
        .customer
        .context("no customer")?;
    let reminder = reminders
        .create_reminder(pb::CreateReminderRequest {
            reminder: Some(pb::Reminder {
                customer_id: customer.id,
                name: "Forny aftalen".into(),
                first_date: "2030-01-01".into(),
                text: "Ring og forny serviceaftalen for næste år.".into(),
                repetition: Some(pb::Repetition { frequency: pb::Frequency::Never as i32, ..Default::default() }),
                delivery: pb::ReminderDelivery::SystemOnly as i32,
                receivers: pb::ReminderReceivers::Admins as i32,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .context("CreateReminder")?
        .into_inner()
        .reminder
        .context("no reminder")?;
    let db = connect(url).await?;
    let columns = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT string_agg(quote_ident(column_name), ', ' ORDER BY ordinal_position) FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = 'reminders' AND column_name <> 'id'"
                .to_string(),
        ))
        .await?
        .context("no reminders table")?
        .try_get_by_index::<String>(0)?;
    let started = Instant::now();
    db.execute_unprepared(&format!(
        "INSERT INTO reminders (id, {columns}) SELECT gen_random_uuid()::text, {columns} \
         FROM reminders CROSS JOIN generate_series(2, {count}) WHERE id = '{}'",
        reminder.id
    ))
    .await?;
    db.execute_unprepared(
        "UPDATE reminders SET first_date = current_date - 2, \
         next_fire_at = (current_date - 2)::timestamp AT TIME ZONE 'UTC'",
    )
    .await?;
    db.execute_unprepared("ANALYZE reminders").await?;
    let due = scalar(&db, "SELECT COUNT(*) FROM reminders WHERE next_fire_at <= now()").await?;
    if due != count {
        bail!("{due} reminders due, expected {count}");
    }
    eprintln!("seeded {due} due reminders in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn spawn_replica(bin: &PathBuf, url: &str, interval: u64, dir: &std::path::Path) -> anyhow::Result<Child> {
    std::fs::create_dir_all(dir)?;
    let log = std::fs::File::create(dir.join("serve.log"))?;
    let child = Command::new(bin)
        .arg("serve")
        .env("CUSTOMERHUB_DATABASE_URL", url)
        .env("CUSTOMERHUB_DATA_DIR", dir)
        .env("CUSTOMERHUB_LISTEN", format!("127.0.0.1:{}", free_port()?))
        .env("CUSTOMERHUB_HTTP_LISTEN", format!("127.0.0.1:{}", free_port()?))
        .env("CUSTOMERHUB_SCHEDULER_INTERVAL_SECS", interval.to_string())
        .env("CUSTOMERHUB_RATE_LIMIT_PER_SECOND", "0")
        .env("CUSTOMERHUB_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    Ok(child)
}

const FIRED: &str = "SELECT COUNT(*) FROM reminder_firings WHERE outcome = 'fired'";

async fn run(
    bin: &PathBuf,
    url: &str,
    replicas: usize,
    interval: u64,
    timeout_secs: u64,
    target_secs: u64,
    work_dir: &std::path::Path,
) -> anyhow::Result<()> {
    let db = connect(url).await?;
    let expect = scalar(&db, "SELECT COUNT(*) FROM reminders WHERE next_fire_at <= now()").await?;
    let already = scalar(&db, FIRED).await?;
    if expect == 0 || already != 0 {
        bail!("{expect} due reminders and {already} firings: seed a fresh database");
    }
    let started = Instant::now();
    let mut children = vec![];
    for i in 0..replicas {
        children.push(spawn_replica(bin, url, interval, &work_dir.join(format!("replica{i}")))?);
    }
    let mut at_target: Option<i64> = None;
    let mut done_secs: Option<f64> = None;
    let mut fired;
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        fired = scalar(&db, FIRED).await?;
        let t = started.elapsed();
        if at_target.is_none() && t >= Duration::from_secs(target_secs) {
            at_target = Some(fired);
        }
        if fired >= expect {
            done_secs = Some(t.as_secs_f64());
            break;
        }
        if t >= Duration::from_secs(timeout_secs) {
            break;
        }
        for c in &mut children {
            if let Some(status) = c.try_wait()? {
                bail!("a replica exited early ({status}); see {}", work_dir.display());
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    for c in &mut children {
        c.start_kill().ok();
    }
    for c in &mut children {
        c.wait().await.ok();
    }
    // Exactly once: the firing key forbids a second row per occurrence; check
    // that no reminder has two occurrences and that the inbox got one message each.
    let fired_final = scalar(&db, FIRED).await?;
    let duplicate_reminders = scalar(
        &db,
        "SELECT COUNT(*) FROM (SELECT reminder_id FROM reminder_firings WHERE outcome = 'fired' \
         GROUP BY reminder_id HAVING COUNT(*) > 1) d",
    )
    .await?;
    let skipped = scalar(&db, "SELECT COUNT(*) FROM reminder_firings WHERE outcome <> 'fired'").await?;
    let inbox = scalar(&db, "SELECT COUNT(*) FROM inbox_messages WHERE kind = 'staff_reminder'").await?;
    let duplicate_inbox = scalar(
        &db,
        "SELECT COUNT(*) FROM (SELECT link FROM inbox_messages WHERE kind = 'staff_reminder' \
         GROUP BY recipient_id, link HAVING COUNT(*) > 1) d",
    )
    .await?;
    let still_due = scalar(&db, "SELECT COUNT(*) FROM reminders WHERE next_fire_at IS NOT NULL").await?;
    let out = serde_json::json!({
        "kind": "scheduler",
        "replicas": replicas,
        "interval_secs": interval,
        "reminders": expect,
        "fired": fired_final,
        "all_fired_secs": done_secs,
        "fired_at_target": at_target.unwrap_or(fired),
        "target_secs": target_secs,
        "elapsed_secs": elapsed,
        "per_second": fired as f64 / elapsed,
        "duplicate_reminders": duplicate_reminders,
        "skipped": skipped,
        "inbox_messages": inbox,
        "duplicate_inbox_messages": duplicate_inbox,
        "still_due": still_due,
        "exactly_once": duplicate_reminders == 0 && duplicate_inbox == 0 && inbox == fired_final,
    });
    println!("{out}");
    Ok(())
}
