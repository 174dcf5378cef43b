//! Footprint of one `customerhub serve`: spawns it (with this process's
//! environment, so CUSTOMERHUB_* settings pass through), polls
//! grpc.health.v1.Health/Check every 5 ms until it answers SERVING, then lets
//! it idle and reads its VmRSS. Prints one JSON object.
use anyhow::{Context, bail};
use clap::Parser;
use std::{
    path::PathBuf,
    process::Stdio,
    time::{Duration, Instant},
};
use tonic::transport::Endpoint;
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient};

#[derive(Parser)]
#[command(about = "Start-to-SERVING time and idle RSS of customerhub serve")]
struct Args {
    /// The customerhub binary.
    #[arg(long)]
    bin: PathBuf,
    /// gRPC address the server listens on (as CUSTOMERHUB_LISTEN), e.g. http://127.0.0.1:50051.
    #[arg(long)]
    addr: String,
    /// Idle time after SERVING before RSS is read.
    #[arg(long, default_value_t = 2000)]
    idle_ms: u64,
    /// Give up after this long.
    #[arg(long, default_value_t = 30)]
    timeout_secs: u64,
}

fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).context("reading the server's status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS line")
}

async fn serving(endpoint: &Endpoint) -> bool {
    let Ok(channel) = endpoint.connect().await else { return false };
    let mut client = HealthClient::new(channel);
    match client.check(HealthCheckRequest { service: String::new() }).await {
        Ok(r) => r.into_inner().status == ServingStatus::Serving as i32,
        Err(_) => false,
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let endpoint = Endpoint::from_shared(args.addr.clone())?.connect_timeout(Duration::from_millis(100));
    let started = Instant::now();
    let mut child = tokio::process::Command::new(&args.bin)
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", args.bin.display()))?;
    let pid = child.id().context("the server exited at once")?;
    let deadline = started + Duration::from_secs(args.timeout_secs);
    let mut ticker = tokio::time::interval(Duration::from_millis(5));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let ready = loop {
        ticker.tick().await;
        if serving(&endpoint).await {
            break started.elapsed();
        }
        if let Some(status) = child.try_wait()? {
            bail!("the server exited with {status} before it was SERVING");
        }
        if Instant::now() > deadline {
            bail!("not SERVING after {} s", args.timeout_secs);
        }
    };
    let rss_at_serving = rss_kib(pid)?;
    tokio::time::sleep(Duration::from_millis(args.idle_ms)).await;
    let rss_idle = rss_kib(pid)?;
    child.kill().await?;
    let out = serde_json::json!({
        "start_to_serving_ms": ready.as_secs_f64() * 1000.0,
        "rss_at_serving_kib": rss_at_serving,
        "rss_idle_kib": rss_idle,
    });
    println!("{out}");
    Ok(())
}
