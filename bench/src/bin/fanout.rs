//! Live fan-out load generator. Opens N server-streaming subscriptions over M
//! HTTP/2 connections, waits until all are live, measures the server's RSS
//! growth per idle stream, then creates K messages one at a time and records,
//! for every stream, the time from just before the create call to the moment
//! that stream received the message. Prints one JSON object.
//!
//! Targets: `customerhub` (HubService/Subscribe with HUB sessions; messages are
//! punch registrations, one HUB message per contact) and `ceiling` (the bare
//! tonic broadcast in `ceiling.rs`; messages are Publish calls).
use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use customerhub::grpc::pb as hub;
use customerhub_bench::pb as ceiling;
use hdrhistogram::Histogram;
use prost::Message as _;
use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};
use tokio::sync::{Semaphore, mpsc};
use tonic::{Request, metadata::MetadataValue, transport::Channel};

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Target {
    Customerhub,
    Ceiling,
}

#[derive(Parser)]
#[command(about = "Live fan-out: N streams, K messages, create-to-receive latency and memory per idle stream")]
struct Args {
    #[arg(long, value_enum)]
    target: Target,
    /// gRPC address, e.g. http://127.0.0.1:50051.
    #[arg(long)]
    addr: String,
    /// The server's process id (its VmRSS is read from /proc).
    #[arg(long)]
    server_pid: u32,
    /// Concurrent streams.
    #[arg(long, default_value_t = 10_000)]
    streams: usize,
    /// Streams per HTTP/2 connection; keep it at or below the server's max concurrent streams.
    #[arg(long, default_value_t = 250)]
    streams_per_conn: usize,
    /// Messages to create, one at a time.
    #[arg(long, default_value_t = 20)]
    messages: usize,
    /// Pause between messages.
    #[arg(long, default_value_t = 250)]
    interval_ms: u64,
    /// Idle time after all streams are live, before RSS is read and messages start.
    #[arg(long, default_value_t = 2000)]
    settle_ms: u64,
    /// Ceiling: pad each published body to this many bytes (e.g. the size of
    /// customerhub's messages, so both send as many bytes).
    #[arg(long, default_value_t = 0)]
    body_bytes: usize,
    /// How long to wait for every stream to receive one message.
    #[arg(long, default_value_t = 15)]
    round_timeout_secs: u64,
    /// customerhub: the seed tool's JSON output (sessions and punch card).
    #[arg(long)]
    seed: Option<std::path::PathBuf>,
    /// customerhub: admin API key, for creating the messages.
    #[arg(long, env = "CUSTOMERHUB_BENCH_KEY")]
    key: Option<String>,
}

/// One received message: which of the stream's measured messages it is, and when.
type Arrival = (usize, Instant);

fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).context("reading the server's status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS line")
}

/// CPU time the server's threads have used so far, in milliseconds (utime +
/// stime from /proc/<pid>/stat, in clock ticks of 10 ms).
fn cpu_ms(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).context("reading the server's stat")?;
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')').context("no command name")?.1.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>()? + fields[12].parse::<u64>()?;
    Ok(ticks as f64 * 10.0)
}

fn bearer(secret: &str) -> anyhow::Result<MetadataValue<tonic::metadata::Ascii>> {
    format!("Bearer {secret}").parse().context("token is not a header value")
}

struct Shared {
    live: AtomicUsize,
    errors: AtomicUsize,
    measuring: AtomicBool,
    /// The largest measured message, as encoded (protobuf bytes).
    message_bytes: AtomicUsize,
    first_error: std::sync::Mutex<Option<String>>,
}

impl Shared {
    fn error(&self, e: impl std::fmt::Display) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut first) = self.first_error.lock()
            && first.is_none()
        {
            *first = Some(e.to_string());
        }
    }
}

/// Holds one stream open and reports every message received while measuring.
async fn run_stream(
    target: Target,
    channel: Channel,
    token: Option<MetadataValue<tonic::metadata::Ascii>>,
    opening: Arc<Semaphore>,
    shared: Arc<Shared>,
    arrivals: mpsc::UnboundedSender<Arrival>,
) {
    let mut seen = 0usize;
    let mut note = |shared: &Shared, bytes: usize| {
        if shared.measuring.load(Ordering::Acquire) {
            let _ = arrivals.send((seen, Instant::now()));
            seen += 1;
            shared.message_bytes.fetch_max(bytes, Ordering::Relaxed);
        }
    };
    let permit = opening.acquire_owned().await;
    match target {
        Target::Customerhub => {
            let mut req = Request::new(hub::SubscribeRequest { after_sequence: 0 });
            if let Some(t) = token {
                req.metadata_mut().insert("authorization", t);
            }
            let mut stream = match hub::hub_service_client::HubServiceClient::new(channel).subscribe(req).await {
                Ok(r) => r.into_inner(),
                Err(e) => return shared.error(e),
            };
            drop(permit);
            shared.live.fetch_add(1, Ordering::AcqRel);
            loop {
                match stream.message().await {
                    Ok(Some(
                        m @ hub::SubscribeResponse { event: Some(hub::subscribe_response::Event::Message(_)) },
                    )) => note(&shared, m.encoded_len()),
                    Ok(Some(_)) => {}
                    Ok(None) => return shared.error("stream ended"),
                    Err(e) => return shared.error(e),
                }
            }
        }
        Target::Ceiling => {
            let mut client = ceiling::ceiling_service_client::CeilingServiceClient::new(channel);
            let mut stream = match client.subscribe(ceiling::SubscribeRequest {}).await {
                Ok(r) => r.into_inner(),
                Err(e) => return shared.error(e),
            };
            drop(permit);
            shared.live.fetch_add(1, Ordering::AcqRel);
            loop {
                match stream.message().await {
                    Ok(Some(m)) => note(&shared, m.encoded_len()),
                    Ok(None) => return shared.error("stream ended"),
                    Err(e) => return shared.error(e),
                }
            }
        }
    }
}

struct Creator {
    target: Target,
    channel: Channel,
    key: Option<MetadataValue<tonic::metadata::Ascii>>,
    punch_card_id: String,
    /// Ceiling: the published body is padded to this many bytes.
    body_bytes: usize,
}

impl Creator {
    async fn create(&self, n: usize) -> anyhow::Result<()> {
        match self.target {
            Target::Customerhub => {
                let mut req = Request::new(hub::RegisterPunchRequest {
                    punch_card_id: self.punch_card_id.clone(),
                    description: format!("Vinduespudsning {n}"),
                    amount: 1,
                    ..Default::default()
                });
                if let Some(k) = &self.key {
                    req.metadata_mut().insert("authorization", k.clone());
                }
                hub::punch_card_service_client::PunchCardServiceClient::new(self.channel.clone())
                    .register_punch(req)
                    .await?;
            }
            Target::Ceiling => {
                ceiling::ceiling_service_client::CeilingServiceClient::new(self.channel.clone())
                    .publish(ceiling::PublishRequest { body: format!("event {n:<width$}", width = self.body_bytes) })
                    .await?;
            }
        }
        Ok(())
    }
}

fn pct(h: &Histogram<u64>, q: f64) -> f64 {
    if h.is_empty() { 0.0 } else { h.value_at_quantile(q) as f64 / 1000.0 }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.streams_per_conn == 0 || args.streams == 0 {
        bail!("--streams and --streams-per-conn must be positive");
    }
    let (tokens, creator_key, punch_card_id) = match args.target {
        Target::Customerhub => {
            let path = args.seed.as_ref().context("--seed is required for customerhub")?;
            let seed: serde_json::Value = serde_json::from_slice(&std::fs::read(path)?)?;
            let tokens = seed["sessions"]
                .as_array()
                .context("seed has no sessions")?
                .iter()
                .map(|s| s["token"].as_str().context("session without token").and_then(bearer))
                .collect::<anyhow::Result<Vec<_>>>()?;
            if tokens.is_empty() {
                bail!("seed has no sessions");
            }
            let key = bearer(args.key.as_deref().context("--key is required for customerhub")?)?;
            let card = seed["punch_card_id"].as_str().context("seed has no punch_card_id")?.to_string();
            (tokens, Some(key), card)
        }
        Target::Ceiling => (vec![], None, String::new()),
    };

    let rss_before = rss_kib(args.server_pid)?;
    let connections = args.streams.div_ceil(args.streams_per_conn);
    let mut channels = Vec::with_capacity(connections);
    for _ in 0..connections {
        // One Channel is one HTTP/2 connection.
        let ch = Channel::from_shared(args.addr.clone())?.connect().await.context("connecting")?;
        channels.push(ch);
    }
    let shared = Arc::new(Shared {
        live: 0.into(),
        errors: 0.into(),
        measuring: false.into(),
        message_bytes: 0.into(),
        first_error: None.into(),
    });
    let opening = Arc::new(Semaphore::new(512));
    let (tx, mut rx) = mpsc::unbounded_channel::<Arrival>();
    let started = Instant::now();
    for i in 0..args.streams {
        let token = (!tokens.is_empty()).then(|| tokens[i % tokens.len()].clone());
        tokio::spawn(run_stream(
            args.target,
            channels[i / args.streams_per_conn].clone(),
            token,
            opening.clone(),
            shared.clone(),
            tx.clone(),
        ));
    }
    drop(tx);
    let open_deadline = Instant::now() + Duration::from_secs(120);
    while shared.live.load(Ordering::Acquire) + shared.errors.load(Ordering::Acquire) < args.streams {
        if Instant::now() > open_deadline {
            bail!("only {} of {} streams live after 120 s", shared.live.load(Ordering::Acquire), args.streams);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let open_secs = started.elapsed().as_secs_f64();
    let live = shared.live.load(Ordering::Acquire);
    if live < args.streams {
        let first = shared.first_error.lock().ok().and_then(|f| f.clone()).unwrap_or_default();
        bail!("{} of {} streams failed to open; first error: {first}", args.streams - live, args.streams);
    }
    // Replayed history (e.g. "card created") arrives now and is not measured.
    tokio::time::sleep(Duration::from_millis(args.settle_ms)).await;
    let rss_after = rss_kib(args.server_pid)?;
    while rx.try_recv().is_ok() {}
    shared.measuring.store(true, Ordering::Release);

    let creator = Creator {
        target: args.target,
        channel: Channel::from_shared(args.addr.clone())?.connect().await?,
        key: creator_key,
        punch_card_id,
        body_bytes: args.body_bytes,
    };
    let mut latency = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
    let mut create_call = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
    let mut sent_at: Vec<Instant> = Vec::with_capacity(args.messages);
    let mut received = vec![0usize; args.messages];
    let mut late_or_extra = 0usize;
    let mut incomplete_rounds = 0usize;
    let mut record = |(round, at): Arrival, sent_at: &[Instant], received: &mut [usize]| -> anyhow::Result<()> {
        match sent_at.get(round) {
            Some(t0) => {
                latency.record(at.saturating_duration_since(*t0).as_micros().max(1) as u64)?;
                received[round] += 1;
            }
            None => late_or_extra += 1,
        }
        Ok(())
    };
    let cpu_before = cpu_ms(args.server_pid)?;
    for k in 0..args.messages {
        let t0 = Instant::now();
        sent_at.push(t0);
        creator.create(k).await.context("creating a message")?;
        create_call.record(t0.elapsed().as_micros().max(1) as u64)?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(args.round_timeout_secs);
        while received[k] < live {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(a)) => record(a, &sent_at, &mut received)?,
                Ok(None) | Err(_) => {
                    incomplete_rounds += 1;
                    break;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(args.interval_ms)).await;
    }
    let cpu_per_message = (cpu_ms(args.server_pid)? - cpu_before) / args.messages as f64;
    // Stragglers of earlier incomplete rounds.
    while let Ok(a) = rx.try_recv() {
        record(a, &sent_at, &mut received)?;
    }
    let expected = live * args.messages;
    let got: usize = received.iter().sum();
    let out = serde_json::json!({
        "target": match args.target { Target::Customerhub => "customerhub", Target::Ceiling => "ceiling" },
        "streams": live,
        "connections": connections,
        "sessions": tokens.len(),
        "open_secs": open_secs,
        "rss_before_kib": rss_before,
        "rss_after_kib": rss_after,
        "bytes_per_stream": (rss_after.saturating_sub(rss_before) * 1024) as f64 / live as f64,
        "messages": args.messages,
        "expected_receipts": expected,
        "receipts": got,
        "missing": expected - got,
        "late_or_extra": late_or_extra,
        "incomplete_rounds": incomplete_rounds,
        "stream_errors": shared.errors.load(Ordering::Acquire),
        "latency_ms": {
            "p50": pct(&latency, 0.5), "p90": pct(&latency, 0.9), "p99": pct(&latency, 0.99),
            "max": latency.max() as f64 / 1000.0,
        },
        "server_cpu_ms_per_message": cpu_per_message,
        "message_bytes": shared.message_bytes.load(Ordering::Relaxed),
        "create_call_ms": { "p50": pct(&create_call, 0.5), "max": create_call.max() as f64 / 1000.0 },
        "rss_end_kib": rss_kib(args.server_pid)?,
    });
    println!("{out}");
    // Tearing down 10,000 streams one by one only costs time.
    std::process::exit(0);
}
