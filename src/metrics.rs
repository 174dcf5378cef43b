//! Prometheus metrics, served at `GET /metrics` on the HTTP listener. Counters
//! and histograms are recorded where things happen (RPCs, deliveries); gauges
//! about the database (outbox depth and age, scheduler lag) are read at scrape
//! time, so every replica reports the shared truth.
use crate::{app::AppState, store};
use futures::future::BoxFuture;
use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::{
    collections::HashMap,
    sync::{Mutex, OnceLock},
    task::{Context, Poll},
    time::Instant,
};
use tower::{Layer, Service};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide recorder once and returns its handle.
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("customerhub_grpc_request_duration_seconds".into()),
                &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0],
            )
            .expect("valid buckets")
            .install_recorder()
            .expect("the metrics recorder is installed once per process")
    })
}

/// Refreshes the database gauges, then renders the exposition text.
pub async fn render(state: &AppState) -> String {
    let handle = handle();
    let now = state.clock.now();
    match store::outbox::queue_stats(&state.db).await {
        Ok(stats) => {
            for channel in ["email", "sms"] {
                let (depth, oldest) = stats.iter().find(|s| s.0 == channel).map(|s| (s.1, s.2)).unwrap_or((0, None));
                metrics::gauge!("customerhub_outbox_depth", "channel" => channel).set(depth as f64);
                let age = oldest.map(|t| (now - t).num_milliseconds() as f64 / 1000.0).unwrap_or(0.0);
                metrics::gauge!("customerhub_outbox_oldest_age_seconds", "channel" => channel).set(age.max(0.0));
            }
        }
        Err(e) => tracing::warn!(error = %e, "outbox metrics unavailable"),
    }
    match store::reminders::oldest_due(&state.db, now).await {
        Ok(oldest) => {
            let lag = oldest.map(|t| (now - t).num_milliseconds() as f64 / 1000.0).unwrap_or(0.0);
            metrics::gauge!("customerhub_scheduler_lag_seconds").set(lag.max(0.0));
        }
        Err(e) => tracing::warn!(error = %e, "scheduler metrics unavailable"),
    }
    metrics::gauge!("customerhub_live_streams").set(state.live.listeners() as f64);
    handle.render()
}

/// Counts every gRPC call by method and status code, with its latency.
#[derive(Clone, Default)]
pub struct MetricsLayer;

impl<S> Layer<S> for MetricsLayer {
    type Service = MetricsService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        MetricsService { inner }
    }
}

#[derive(Clone)]
pub struct MetricsService<S> {
    inner: S,
}

impl<S, B, RB> Service<http::Request<B>> for MetricsService<S>
where
    S: Service<http::Request<B>, Response = http::Response<RB>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        // A cheap handle on the request's URI (its bytes are shared).
        let uri = req.uri().clone();
        let start = Instant::now();
        Box::pin(async move {
            let res = inner.call(req).await;
            // An error status arrives in the headers (trailers-only); success in trailers.
            let failure = match &res {
                Ok(r) => r
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<i32>().ok())
                    .map(|c| format!("{:?}", tonic::Code::from_i32(c))),
                Err(_) => Some("Transport".into()),
            };
            record(uri.path(), failure, start.elapsed().as_secs_f64());
            res
        })
    }
}

/// The metrics of a successful call of each method, kept so that a call
/// records them without building label sets and looking them up again.
/// Only methods that answered OK are kept: they are the service's own, so
/// the map cannot grow with whatever paths clients send.
fn ok_handles() -> &'static Mutex<HashMap<String, (Counter, Histogram)>> {
    static HANDLES: OnceLock<Mutex<HashMap<String, (Counter, Histogram)>>> = OnceLock::new();
    HANDLES.get_or_init(Default::default)
}

fn duration_of(method: &str) -> Histogram {
    metrics::histogram!("customerhub_grpc_request_duration_seconds", "method" => method.to_owned())
}

fn requests_of(method: &str, code: String) -> Counter {
    metrics::counter!("customerhub_grpc_requests_total", "method" => method.to_owned(), "code" => code)
}

/// Counts one call by method and code (`None`: OK) and records its latency.
fn record(method: &str, failure: Option<String>, seconds: f64) {
    let (requests, duration) = match failure {
        Some(code) => (requests_of(method, code), duration_of(method)),
        None => ok_metrics_of(method),
    };
    requests.increment(1);
    duration.record(seconds);
}

fn ok_metrics_of(method: &str) -> (Counter, Histogram) {
    // The data are metric handles: a panic elsewhere leaves nothing to repair.
    let mut handles = ok_handles().lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(kept) = handles.get(method) {
        return kept.clone();
    }
    let made = (requests_of(method, "Ok".into()), duration_of(method));
    // Handles taken before the recorder is installed record nowhere.
    if HANDLE.get().is_some() {
        handles.insert(method.to_owned(), made.clone());
    }
    made
}
