//! Builds the whole service from settings: database (migrated), mail
//! transport, gRPC server with health and reflection, and the delivery
//! worker. Tests build it the same way on port 0.
use crate::{
    app::AppState,
    auth::AuthLayer,
    clock::{Clock, SystemClock},
    config::Settings,
    delivery,
    grpc::{
        customer_api::CustomerApi,
        hub_api::HubApi,
        notification_api::NotificationApi,
        pb::{
            self, customer_service_server::CustomerServiceServer, hub_service_server::HubServiceServer,
            notification_service_server::NotificationServiceServer, punch_card_service_server::PunchCardServiceServer,
            reminder_service_server::ReminderServiceServer, timesheet_service_server::TimesheetServiceServer,
            workspace_service_server::WorkspaceServiceServer,
        },
        punch_card_api::PunchCardApi,
        reminder_api::ReminderApi,
        timesheet_api::TimesheetApi,
        workspace_api::WorkspaceApi,
    },
    mail::Mailer,
    store,
};
use std::{
    future::{Future, IntoFuture},
    net::SocketAddr,
    sync::Arc,
    time::Duration,
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::cors::{AllowOrigin, CorsLayer};

pub struct Application {
    listener: TcpListener,
    addr: SocketAddr,
    http_listener: TcpListener,
    http_addr: SocketAddr,
    state: AppState,
}

/// Starts the PostgreSQL listener (`live::pg_listener`): other replicas'
/// inbox writes and cache changes reach this process through it. The
/// receiver fires once it listens. Only for a PostgreSQL `state`.
pub fn spawn_pg_listener(
    state: &AppState,
    stop: CancellationToken,
) -> (tokio::task::JoinHandle<()>, tokio::sync::oneshot::Receiver<()>) {
    let (ready_tx, ready) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(crate::live::pg_listener::run(
        state.settings.database_url(),
        state.live.clone(),
        crate::live::pg_listener::Caches {
            credentials: state.credentials.clone(),
            workspace_config: state.workspace_config.clone(),
            customers: state.customers.clone(),
        },
        stop,
        ready_tx,
    ));
    (task, ready)
}

/// Opens the database and runs migrations, then assembles the state.
pub async fn build_state(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<AppState> {
    let db = store::connect(&settings).await?;
    store::migrate(&db).await?;
    let mailer =
        Mailer::from_settings(settings.smtp_url.as_deref(), settings.mail_dir(), settings.delivery_concurrency as u32)?;
    let sms = crate::sms::SmsProvider::from_settings(&settings)?;
    let reads = store::connect_reads(&settings, &db).await?;
    Ok(AppState { reads, ..AppState::new(db, clock, settings, mailer, sms) })
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, Arc::new(SystemClock)).await
    }

    pub async fn build_with_clock(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        crate::metrics::handle();
        let listener = TcpListener::bind(settings.listen).await?;
        let addr = listener.local_addr()?;
        let http_listener = TcpListener::bind(settings.http_listen).await?;
        let http_addr = http_listener.local_addr()?;
        let state = build_state(settings, clock).await?;
        Ok(Self { listener, addr, http_listener, http_addr, state })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where the HTTP server (one-click unsubscribe) listens.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then stops taking requests, lets the
    /// ones in flight finish, and lets the worker finish its current delivery.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let state = self.state;
        let stop = state.shutdown.clone();
        let worker =
            state.settings.run_workers.then(|| tokio::spawn(delivery::run_until_stopped(state.clone(), stop.clone())));
        let jobs = state
            .settings
            .run_workers
            .then(|| tokio::spawn(crate::jobs::run_until_stopped(state.clone(), stop.clone())));
        // Other replicas' inbox writes reach this process's streams through PostgreSQL.
        let pg_listener = if store::is_postgres(&state.db) {
            let (task, ready) = spawn_pg_listener(&state, stop.clone());
            // A replica serves once it can hear the others.
            if tokio::time::timeout(Duration::from_secs(10), ready).await.is_err() {
                tracing::warn!("inbox listener not ready after 10 s; serving anyway (streams catch up on heartbeats)");
            }
            Some(task)
        } else {
            None
        };
        // Live streams hear of the shutdown through their own channels.
        let (live, live_stop) = (state.live.clone(), stop.clone());
        tokio::spawn(async move {
            live_stop.cancelled().await;
            live.close();
        });
        let http_stop = stop.clone();
        let http_server = tokio::spawn(
            axum::serve(self.http_listener, crate::http::router(state.clone()))
                .with_graceful_shutdown(async move { http_stop.cancelled().await })
                .into_future(),
        );

        let (health, health_service) = tonic_health::server::health_reporter();
        health.set_serving::<CustomerServiceServer<CustomerApi>>().await;
        health.set_serving::<WorkspaceServiceServer<WorkspaceApi>>().await;
        health.set_serving::<HubServiceServer<HubApi>>().await;
        health.set_serving::<NotificationServiceServer<NotificationApi>>().await;
        health.set_serving::<PunchCardServiceServer<PunchCardApi>>().await;
        health.set_serving::<ReminderServiceServer<ReminderApi>>().await;
        health.set_serving::<TimesheetServiceServer<TimesheetApi>>().await;
        health.set_service_status("", tonic_health::ServingStatus::Serving).await;
        let health_probe = tokio::spawn(probe_database(state.clone(), health.clone(), stop.clone()));

        let descriptor_sets =
            [pb::FILE_DESCRIPTOR_SET, tonic_health::pb::FILE_DESCRIPTOR_SET, tonic_types::pb::FILE_DESCRIPTOR_SET];
        let mut v1 = tonic_reflection::server::Builder::configure();
        let mut v1alpha = tonic_reflection::server::Builder::configure();
        for set in descriptor_sets {
            v1 = v1.register_encoded_file_descriptor_set(set);
            v1alpha = v1alpha.register_encoded_file_descriptor_set(set);
        }

        // Every service refuses messages over the size limit (OUT_OF_RANGE, never a crash).
        let max = state.settings.max_message_bytes;
        macro_rules! limit {
            ($svc:expr) => {
                $svc.max_decoding_message_size(max).max_encoding_message_size(max)
            };
        }
        let server = tonic::transport::Server::builder()
            // Unary calls end by this deadline at the latest; a client's shorter `grpc-timeout` wins.
            .timeout(Duration::from_secs(state.settings.request_timeout_secs))
            .max_concurrent_streams(Some(state.settings.max_concurrent_streams))
            .trace_fn(|req| tracing::info_span!("grpc", method = %req.uri().path()))
            .http2_keepalive_interval(Some(Duration::from_secs(30)))
            .http2_keepalive_timeout(Some(Duration::from_secs(10)))
            // HTTP/1.1 as well as HTTP/2, so browsers can speak gRPC-Web to the
            // same port; CORS (outermost, answers preflights) only when configured.
            .accept_http1(true)
            .layer(tower::util::option_layer(cors_layer(&state.settings.cors_allowed_origins)?))
            .layer(tonic_web::GrpcWebLayer::new())
            .layer(crate::metrics::MetricsLayer)
            .layer(crate::grpc::decode_errors::DecodeErrorLayer)
            .layer(AuthLayer::new(state.clone()))
            .add_service(health_service)
            .add_service(v1.build_v1()?)
            .add_service(v1alpha.build_v1alpha()?)
            .add_service(limit!(WorkspaceServiceServer::new(WorkspaceApi::new(state.clone()))))
            .add_service(limit!(CustomerServiceServer::new(CustomerApi::new(state.clone()))))
            .add_service(limit!(HubServiceServer::new(HubApi::new(state.clone()))))
            .add_service(limit!(NotificationServiceServer::new(NotificationApi::new(state.clone()))))
            .add_service(limit!(PunchCardServiceServer::new(PunchCardApi::new(state.clone()))))
            .add_service(limit!(TimesheetServiceServer::new(TimesheetApi::new(state.clone()))))
            .add_service(limit!(ReminderServiceServer::new(ReminderApi::new(state.clone()))));

        tracing::info!(addr = %self.addr, "customerhub serving");
        let stop_on_shutdown = stop.clone();
        let result = server
            .serve_with_incoming_shutdown(incoming(self.listener), async move {
                shutdown.await;
                tracing::info!("shutting down: finishing requests in flight");
                stop_on_shutdown.cancel();
            })
            .await;
        stop.cancel();
        for task in [worker, jobs].into_iter().flatten() {
            let _ = task.await;
        }
        if let Some(listener) = pg_listener {
            let _ = listener.await;
        }
        let _ = http_server.await;
        let _ = health_probe.await;
        state.db.clone().close().await.ok();
        result?;
        Ok(())
    }
}

/// Accepted connections with TCP_NODELAY: without it a response's small
/// trailers frame waits for the client's delayed ACK (~40 ms per call, found
/// by the unary benchmark), and TCP keepalive so dead peers are dropped.
fn incoming(listener: TcpListener) -> tonic::transport::server::TcpIncoming {
    tonic::transport::server::TcpIncoming::from(listener)
        .with_nodelay(Some(true))
        .with_keepalive(Some(Duration::from_secs(60)))
}

/// CORS for gRPC-Web from browsers on other origins: the gRPC headers a
/// browser client sends and must be able to read. `None` without origins.
fn cors_layer(origins: &[String]) -> anyhow::Result<Option<CorsLayer>> {
    use http::{HeaderName, HeaderValue, Method, header};
    if origins.is_empty() {
        return Ok(None);
    }
    let allow_origin = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        let list =
            origins.iter().map(|o| HeaderValue::from_str(o)).collect::<Result<Vec<_>, _>>().map_err(|_| {
                anyhow::anyhow!("CUSTOMERHUB_CORS_ALLOWED_ORIGINS holds a value that is no header value")
            })?;
        AllowOrigin::list(list)
    };
    Ok(Some(
        CorsLayer::new()
            .allow_origin(allow_origin)
            .allow_methods([Method::POST, Method::OPTIONS])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                HeaderName::from_static("x-grpc-web"),
                HeaderName::from_static("x-user-agent"),
                HeaderName::from_static("grpc-timeout"),
            ])
            .expose_headers([
                HeaderName::from_static("grpc-status"),
                HeaderName::from_static("grpc-message"),
                HeaderName::from_static("grpc-status-details-bin"),
            ])
            .max_age(Duration::from_secs(24 * 60 * 60)),
    ))
}

/// Health that means something: NOT_SERVING while the database cannot be
/// reached, SERVING again once it can.
async fn probe_database(state: AppState, health: tonic_health::server::HealthReporter, stop: CancellationToken) {
    let every = Duration::from_millis(state.settings.health_check_interval_ms);
    let mut serving = true;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        let ok = tokio::time::timeout(Duration::from_secs(5), state.db.ping()).await.is_ok_and(|r| r.is_ok());
        if ok != serving {
            serving = ok;
            let status =
                if ok { tonic_health::ServingStatus::Serving } else { tonic_health::ServingStatus::NotServing };
            if ok {
                tracing::info!("database reachable again: SERVING");
            } else {
                tracing::error!("database unreachable: NOT_SERVING");
            }
            health.set_service_status("", status).await;
            for service in SERVICES {
                health.set_service_status(*service, status).await;
            }
        }
    }
}

const SERVICES: &[&str] = &[
    "customerhub.v1.CustomerService",
    "customerhub.v1.WorkspaceService",
    "customerhub.v1.HubService",
    "customerhub.v1.NotificationService",
    "customerhub.v1.PunchCardService",
    "customerhub.v1.TimesheetService",
    "customerhub.v1.ReminderService",
];

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
