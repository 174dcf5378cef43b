//! E-mail delivery benchmark.
//!
//! - `mail sink`: a minimal SMTP server that accepts every message and counts
//!   them; `--stats` answers each TCP connection with "messages bytes\n".
//! - `mail queue`: through a running customerhub (workers off), one customer
//!   with `contacts` HUB contacts (welcome mails queued) and `registrations`
//!   punches, each "punch registered" mail going to every contact:
//!   100 + 99 × 100 = 10,000 queued notifications by default.
//! - `mail deliver`: customerhub's own delivery loop (`try_execute_task`, as
//!   `serve` runs it: one worker per process) in this process, against the
//!   same database, sending to the sink; timed until the sink has them all.
//! - `mail lettre`: bare lettre, pooled `AsyncSmtpTransport<Tokio1Executor>`,
//!   sending the same number of mails built from a delivered notification's
//!   content, at the same concurrency, to the same sink.
//!
//! Measurements print one JSON line on stdout.
use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use customerhub::{
    clock::SystemClock,
    config::Settings,
    delivery::deliver_while_due,
    grpc::pb::{
        self, customer_service_client::CustomerServiceClient, notification_service_client::NotificationServiceClient,
        punch_card_service_client::PunchCardServiceClient,
    },
};
use customerhub_bench::Bearer;
use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{
        Mailbox, MultiPart,
        header::{HeaderName, HeaderValue},
    },
    transport::smtp::PoolConfig,
};
use sea_orm::{ConnectionTrait, Statement};
use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream, tcp::OwnedReadHalf},
};
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

#[derive(Parser)]
#[command(about = "E-mail delivery benchmark: SMTP sink, queueing, customerhub delivery, bare lettre")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Runs the counting SMTP sink until killed.
    Sink {
        #[arg(long, default_value = "127.0.0.1:2525")]
        listen: SocketAddr,
        #[arg(long, default_value = "127.0.0.1:2526")]
        stats: SocketAddr,
    },
    /// Queues notifications through a running customerhub (start it with CUSTOMERHUB_RUN_WORKERS=false).
    Queue {
        #[arg(long)]
        addr: String,
        #[arg(long, env = "CUSTOMERHUB_KEY")]
        key: String,
        #[arg(long, default_value_t = 100)]
        contacts: usize,
        #[arg(long, default_value_t = 99)]
        registrations: usize,
    },
    /// Delivers every queued notification with customerhub's worker loop; timed until the sink has them.
    Deliver {
        #[arg(long)]
        database_url: String,
        /// The sink, as customerhub's CUSTOMERHUB_SMTP_URL.
        #[arg(long)]
        smtp_url: String,
        #[arg(long)]
        stats: SocketAddr,
        /// Worker loops (one per `serve` process).
        #[arg(long, default_value_t = 1)]
        workers: usize,
        #[arg(long, default_value_t = 300)]
        timeout_secs: u64,
    },
    /// Sends `count` mails with bare lettre to the sink, content from a delivered notification.
    Lettre {
        #[arg(long)]
        database_url: String,
        #[arg(long)]
        smtp: SocketAddr,
        #[arg(long)]
        stats: SocketAddr,
        #[arg(long, default_value_t = 10_000)]
        count: usize,
        #[arg(long, default_value_t = 1)]
        concurrency: usize,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Cmd::Sink { listen, stats } => sink(listen, stats).await,
        Cmd::Queue { addr, key, contacts, registrations } => queue(&addr, &key, contacts, registrations).await,
        Cmd::Deliver { database_url, smtp_url, stats, workers, timeout_secs } => {
            deliver(&database_url, &smtp_url, stats, workers, timeout_secs).await
        }
        Cmd::Lettre { database_url, smtp, stats, count, concurrency } => {
            bare_lettre(&database_url, smtp, stats, count, concurrency).await
        }
    }
}

// ---------------------------------------------------------------- the sink

async fn sink(listen: SocketAddr, stats: SocketAddr) -> anyhow::Result<()> {
    let messages = Arc::new(AtomicU64::new(0));
    let bytes = Arc::new(AtomicU64::new(0));
    let smtp = TcpListener::bind(listen).await.with_context(|| format!("binding {listen}"))?;
    let stats_listener = TcpListener::bind(stats).await.with_context(|| format!("binding {stats}"))?;
    eprintln!("sink: smtp on {listen}, stats on {stats}");
    {
        let (messages, bytes) = (messages.clone(), bytes.clone());
        tokio::spawn(async move {
            while let Ok((mut s, _)) = stats_listener.accept().await {
                let line = format!("{} {}\n", messages.load(Ordering::SeqCst), bytes.load(Ordering::SeqCst));
                let _ = s.write_all(line.as_bytes()).await;
            }
        });
    }
    loop {
        let (stream, _) = smtp.accept().await?;
        stream.set_nodelay(true).ok();
        let (messages, bytes) = (messages.clone(), bytes.clone());
        tokio::spawn(async move {
            if let Err(e) = smtp_session(stream, &messages, &bytes).await {
                eprintln!("sink: session ended: {e:#}");
            }
        });
    }
}

/// Speaks just enough SMTP for lettre: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT.
///
/// lettre writes a message's body and its closing `.` in two writes on a socket
/// without TCP_NODELAY, so Nagle holds the `.` until the body is acknowledged;
/// with Linux's delayed ACK that costs ~40 ms per mail. The sink acknowledges at
/// once (TCP_QUICKACK, re-armed after every read) so it measures the senders, not that stall.
async fn smtp_session(stream: TcpStream, messages: &AtomicU64, bytes: &AtomicU64) -> anyhow::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::with_capacity(64 * 1024, read);
    write.write_all(b"220 bench-sink ESMTP\r\n").await?;
    let mut line = Vec::with_capacity(1024);
    loop {
        line.clear();
        if read.read_until(b'\n', &mut line).await? == 0 {
            return Ok(());
        }
        quickack(&read);
        let verb: String = line.iter().take(4).map(|b| b.to_ascii_uppercase() as char).collect();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-bench-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n",
            "HELO" => b"250 bench-sink\r\n",
            "MAIL" | "RCPT" | "RSET" | "NOOP" => b"250 OK\r\n",
            "QUIT" => {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            }
            "DATA" => {
                write.write_all(b"354 go ahead\r\n").await?;
                let mut size = 0u64;
                loop {
                    line.clear();
                    if read.read_until(b'\n', &mut line).await? == 0 {
                        bail!("connection closed inside DATA");
                    }
                    if read.buffer().is_empty() {
                        quickack(&read);
                    }
                    if line == b".\r\n" || line == b".\n" {
                        break;
                    }
                    size += line.len() as u64;
                }
                messages.fetch_add(1, Ordering::SeqCst);
                bytes.fetch_add(size, Ordering::SeqCst);
                b"250 OK queued\r\n"
            }
            _ => b"502 not implemented\r\n",
        };
        write.write_all(reply).await?;
    }
}

/// Asks the kernel to acknowledge what was received at once (it falls back to delayed ACKs by itself).
fn quickack(read: &BufReader<OwnedReadHalf>) {
    let _ = AsRef::<TcpStream>::as_ref(read.get_ref()).set_quickack(true);
}

async fn sink_count(stats: SocketAddr) -> anyhow::Result<(u64, u64)> {
    let mut s = TcpStream::connect(stats).await.with_context(|| format!("sink stats at {stats}"))?;
    let mut text = String::new();
    s.read_to_string(&mut text).await?;
    let mut it = text.split_whitespace().map(str::parse::<u64>);
    match (it.next(), it.next()) {
        (Some(Ok(m)), Some(Ok(b))) => Ok((m, b)),
        _ => bail!("bad stats answer {text:?}"),
    }
}

async fn wait_for_sink(stats: SocketAddr, target: u64, deadline: Instant) -> anyhow::Result<(u64, u64)> {
    loop {
        let (m, b) = sink_count(stats).await?;
        if m >= target {
            return Ok((m, b));
        }
        if Instant::now() > deadline {
            bail!("sink has {m} messages, expected {target}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

// ---------------------------------------------------------------- queueing

async fn queue(addr: &str, key: &str, contacts: usize, registrations: usize) -> anyhow::Result<()> {
    let ch = Channel::from_shared(addr.to_string())?.connect().await.with_context(|| format!("connecting {addr}"))?;
    let auth = Bearer::new(key)?;
    let mut notifications = NotificationServiceClient::with_interceptor(ch.clone(), auth.clone());
    let mut customers = CustomerServiceClient::with_interceptor(ch.clone(), auth.clone());
    let mut cards = PunchCardServiceClient::with_interceptor(ch, auth);
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
        .await?;
    let customer = customers
        .create_customer(pb::CreateCustomerRequest {
            customer: Some(pb::Customer {
                kind: pb::CustomerKind::Company as i32,
                company_name: "Bager Hansen ApS".into(),
                hub_access: true,
                modules: vec![pb::Module::PunchCards as i32],
                locale: pb::Locale::Da as i32,
                ..Default::default()
            }),
            contacts: (0..contacts)
                .map(|i| pb::ContactInput {
                    first_name: "Anna".into(),
                    last_name: format!("Jensen {i}"),
                    email: format!("anna{i}@bager.example.dk"),
                    ..Default::default()
                })
                .collect(),
            send_welcome_mail: true,
            request_id: String::new(),
        })
        .await
        .context("CreateCustomer")?
        .into_inner()
        .customer
        .context("no customer")?;
    let card = cards
        .create_punch_card(pb::CreatePunchCardRequest {
            punch_card: Some(pb::PunchCard {
                customer_id: customer.id,
                name: "Vinduespudsning 2026".into(),
                unit: pb::PunchCardUnit::Punches as i32,
                total: 1_000_000,
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
    for i in 0..registrations {
        cards
            .register_punch(pb::RegisterPunchRequest {
                punch_card_id: card.id.clone(),
                description: format!("Vinduespudsning, besøg {i}"),
                amount: 1,
                ..Default::default()
            })
            .await
            .context("RegisterPunch")?;
    }
    eprintln!("queued: {contacts} welcome mails + {registrations} registrations × {contacts} contacts");
    Ok(())
}

// ---------------------------------------------------------------- delivery

async fn count(db: &impl ConnectionTrait, sql: &str) -> anyhow::Result<i64> {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql.to_string()))
        .await?
        .context("no row")?;
    Ok(row.try_get_by_index::<i64>(0)?)
}

async fn deliver(
    url: &str,
    smtp_url: &str,
    stats: SocketAddr,
    workers: usize,
    timeout_secs: u64,
) -> anyhow::Result<()> {
    let scratch = tempfile::tempdir()?;
    let settings = Settings {
        database_url: Some(url.to_string()),
        smtp_url: Some(smtp_url.to_string()),
        data_dir: scratch.path().to_path_buf(),
        ..Default::default()
    };
    let state = customerhub::startup::build_state(settings, Arc::new(SystemClock)).await?;
    // As in `serve`: on PostgreSQL the workspace cache serves once the listener hears the others.
    let listening = CancellationToken::new();
    if customerhub::store::is_postgres(&state.db) {
        let (_task, ready) = customerhub::startup::spawn_pg_listener(&state, listening.clone());
        tokio::time::timeout(Duration::from_secs(10), ready).await??;
    }
    let _stop_listening = listening.drop_guard();
    let queued = count(&state.db, "SELECT COUNT(*) FROM notifications WHERE state = 'queued'").await?;
    if queued == 0 {
        bail!("nothing queued");
    }
    let (before, bytes_before) = sink_count(stats).await?;
    let deadline = Instant::now() + Duration::from_secs(timeout_secs);
    let started = Instant::now();
    let mut loops = vec![];
    for _ in 0..workers {
        let state = state.clone();
        // `run_until_stopped`'s busy phase: deliver while anything is due.
        loops.push(tokio::spawn(async move {
            let stop = CancellationToken::new();
            let delivering = deliver_while_due(&state, &stop);
            match tokio::time::timeout_at(deadline.into(), delivering).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(anyhow::anyhow!("delivery failed: {e}")),
                Err(_) => bail!("delivery not done within {timeout_secs} s"),
            }
        }));
    }
    let (after, bytes_after) = wait_for_sink(stats, before + queued as u64, deadline).await?;
    let secs = started.elapsed().as_secs_f64();
    for l in loops {
        l.await??;
    }
    let sent = count(&state.db, "SELECT COUNT(*) FROM notifications WHERE state = 'sent'").await?;
    let still_queued = count(&state.db, "SELECT COUNT(*) FROM notifications WHERE state = 'queued'").await?;
    let delivered = after - before;
    let out = serde_json::json!({
        "kind": "customerhub_delivery",
        "backend": if url.starts_with("sqlite:") { "sqlite" } else { "postgres" },
        "workers": workers,
        "queued": queued,
        "delivered": delivered,
        "sent_rows": sent,
        "still_queued": still_queued,
        "seconds": secs,
        "per_second": delivered as f64 / secs,
        "avg_bytes": (bytes_after - bytes_before) as f64 / delivered.max(1) as f64,
    });
    println!("{out}");
    if delivered != queued as u64 || still_queued != 0 {
        bail!("delivered {delivered} of {queued}; {still_queued} still queued");
    }
    Ok(())
}

// ---------------------------------------------------------------- bare lettre

async fn bare_lettre(
    url: &str,
    smtp: SocketAddr,
    stats: SocketAddr,
    n: usize,
    concurrency: usize,
) -> anyhow::Result<()> {
    let settings = Settings { database_url: Some(url.to_string()), ..Default::default() };
    let db = customerhub::store::connect(&settings).await?;
    // A real "punch registered" mail as customerhub rendered it.
    let sample = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT n.recipient, n.subject, n.body_text, n.body_html, n.headers_json, w.sender_name, w.sender_email \
             FROM notifications n JOIN workspaces w ON w.id = n.workspace_id \
             WHERE n.channel = 'email' AND n.kind = 'punch_registered' ORDER BY n.id LIMIT 1",
        ))
        .await?
        .context("no punch_registered notification to copy")?;
    let recipient: String = sample.try_get_by_index(0)?;
    let subject: String = sample.try_get_by_index(1)?;
    let text: String = sample.try_get_by_index(2)?;
    let html: Option<String> = sample.try_get_by_index(3)?;
    let headers: Vec<(String, String)> = serde_json::from_str(&sample.try_get_by_index::<String>(4)?)?;
    let sender_name: String = sample.try_get_by_index(5)?;
    let sender_email: String = sample.try_get_by_index(6)?;
    let from = Mailbox::new(Some(sender_name), sender_email.parse()?);
    let to: Mailbox = recipient.parse()?;
    let html = html.unwrap_or_default();

    let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(smtp.ip().to_string())
        .port(smtp.port())
        .pool_config(PoolConfig::new())
        .build();
    let (before, bytes_before) = sink_count(stats).await?;
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = vec![];
    for _ in 0..concurrency {
        let (transport, next, from, to) = (transport.clone(), next.clone(), from.clone(), to.clone());
        let (subject, text, html, headers) = (subject.clone(), text.clone(), html.clone(), headers.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= n as u64 {
                    return anyhow::Ok(());
                }
                // Built per mail, as customerhub builds each from its row.
                let mut builder = Message::builder()
                    .from(from.clone())
                    .to(to.clone())
                    .subject(subject.clone())
                    .message_id(Some(format!("<{}@bench.example.dk>", uuid::Uuid::now_v7())));
                for (name, value) in &headers {
                    let name = HeaderName::new_from_ascii(name.clone()).map_err(|e| anyhow::anyhow!("{e}"))?;
                    builder = builder.raw_header(HeaderValue::new(name, value.clone()));
                }
                let message = builder.multipart(MultiPart::alternative_plain_html(text.clone(), html.clone()))?;
                transport.send(message).await?;
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    let (after, bytes_after) =
        wait_for_sink(stats, before + n as u64, Instant::now() + Duration::from_secs(10)).await?;
    let secs = started.elapsed().as_secs_f64();
    let delivered = after - before;
    let out = serde_json::json!({
        "kind": "bare_lettre",
        "concurrency": concurrency,
        "delivered": delivered,
        "seconds": secs,
        "per_second": delivered as f64 / secs,
        "avg_bytes": (bytes_after - bytes_before) as f64 / delivered.max(1) as f64,
    });
    println!("{out}");
    Ok(())
}
