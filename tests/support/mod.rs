//! The test harness: `spawn_app` boots the real server on a random port
//! against a fresh database (a SQLite file, or a new PostgreSQL database),
//! with a real SMTP server receiving its mail, and hands out real gRPC clients.
#![allow(dead_code)]

pub mod private_pg;
pub mod smtp_sink;

use customerhub::{
    app::{
        AppState,
        bootstrap::{BootstrapInput, bootstrap},
    },
    clock::ManualClock,
    config::Settings,
    delivery::{ExecutionOutcome, try_execute_task},
    domain::Locale,
    grpc::pb::{
        self, customer_service_client::CustomerServiceClient, hub_service_client::HubServiceClient,
        notification_service_client::NotificationServiceClient, punch_card_service_client::PunchCardServiceClient,
        reminder_service_client::ReminderServiceClient, timesheet_service_client::TimesheetServiceClient,
        workspace_service_client::WorkspaceServiceClient,
    },
    startup::Application,
};
use smtp_sink::SmtpSink;
use std::{str::FromStr, sync::Arc};
use tonic::{
    Request, Status,
    metadata::MetadataValue,
    service::{Interceptor, interceptor::InterceptedService},
    transport::Channel,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Where the test PostgreSQL server is; CI starts it (see .ci/run).
fn pg_base_url() -> String {
    std::env::var("CUSTOMERHUB_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// Adds `authorization: Bearer <token>` to every call.
#[derive(Clone)]
pub struct Bearer(Option<MetadataValue<tonic::metadata::Ascii>>);

impl Interceptor for Bearer {
    fn call(&mut self, mut req: Request<()>) -> Result<Request<()>, Status> {
        if let Some(v) = &self.0 {
            req.metadata_mut().insert("authorization", v.clone());
        }
        Ok(req)
    }
}

pub type Authed = InterceptedService<Channel, Bearer>;

pub struct TestApp {
    pub backend: Backend,
    pub addr: std::net::SocketAddr,
    /// The HTTP server (one-click unsubscribe).
    pub http_addr: std::net::SocketAddr,
    pub database_url: String,
    pub state: AppState,
    pub clock: ManualClock,
    pub smtp: SmtpSink,
    pub workspace_id: String,
    /// The bootstrap admin's API key.
    pub admin_key: String,
    pub admin_id: String,
    channel: Channel,
    pg_database: Option<String>,
    _dir: tempfile::TempDir,
    server: tokio::task::JoinHandle<()>,
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, None, |_| {}).await
}

/// Like `spawn_app`, with a PostgreSQL server of its own (`pg_url`, the
/// server's `postgres` database) and settings changed by `tune`.
pub async fn spawn_app_with(backend: Backend, pg_url: Option<String>, tune: impl FnOnce(&mut Settings)) -> TestApp {
    customerhub::telemetry::init("text", "warn");
    let dir = tempfile::tempdir().expect("temp dir");
    let smtp = SmtpSink::start().await;
    let (database_url, pg_database) = match (backend, pg_url) {
        (_, Some(url)) => (url, None),
        (backend, None) => match backend {
            Backend::Sqlite => (format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display()), None),
            Backend::Postgres => {
                let name = format!("customerhub_test_{}", uuid::Uuid::new_v4().simple());
                create_pg_database(&name).await;
                (format!("{}/{name}", pg_base_url()), Some(name))
            }
        },
    };
    let settings = Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        http_listen: "127.0.0.1:0".parse().unwrap(),
        public_http_url: "https://customerhub.example.dk".into(),
        stream_heartbeat_ms: 300,
        database_url: Some(database_url.clone()),
        data_dir: dir.path().to_path_buf(),
        smtp_url: Some(smtp.url()),
        default_hub_url: "https://hub.example.dk".into(),
        default_sender_email: "kontakt@rengoering.example.dk".into(),
        // Tests drive delivery step by step (`deliver_all`).
        run_workers: false,
        delivery_backoff_base_secs: 5,
        delivery_max_attempts: 3,
        db_max_connections: 5,
        ..Settings::default()
    };
    let mut settings = settings;
    tune(&mut settings);
    let clock = ManualClock::new(chrono::Utc::now());
    let app = Application::build_with_clock(settings, Arc::new(clock.clone())).await.expect("build app");
    let addr = app.addr();
    let http_addr = app.http_addr();
    let state = app.state().clone();
    // `shut_down` stops the server the way a signal stops the binary.
    let stop = state.shutdown.clone();
    let server = tokio::spawn(async move {
        app.run_until_stopped(async move { stop.cancelled().await }).await.expect("server");
    });
    let boot = bootstrap(
        &state,
        BootstrapInput {
            workspace_name: "Rengøring A/S".into(),
            admin_email: "admin@rengoering.example.dk".into(),
            admin_name: Some("Anne Admin".into()),
            time_zone: "Europe/Copenhagen".into(),
            locale: Locale::Da,
        },
    )
    .await
    .expect("bootstrap");
    let channel = Channel::from_shared(format!("http://{addr}")).unwrap().connect().await.expect("connect");
    TestApp {
        backend,
        addr,
        http_addr,
        database_url,
        state,
        clock,
        smtp,
        workspace_id: boot.workspace.id.to_string(),
        admin_key: boot.api_key,
        admin_id: boot.admin.id.to_string(),
        channel,
        pg_database,
        _dir: dir,
        server,
    }
}

async fn create_pg_database(name: &str) {
    use sea_orm::{ConnectionTrait, Database};
    let admin = Database::connect(format!("{}/postgres", pg_base_url()))
        .await
        .expect("PostgreSQL must run on 127.0.0.1:5432 for the tests (.ci/run starts it)");
    admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create test database");
    admin.close().await.ok();
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
        if let Some(name) = self.pg_database.take() {
            // Dropping needs async I/O; do it on a runtime of its own.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                rt.block_on(async {
                    use sea_orm::{ConnectionTrait, Database};
                    if let Ok(admin) = Database::connect(format!("{}/postgres", pg_base_url())).await {
                        let _ = admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
                        admin.close().await.ok();
                    }
                });
            })
            .join();
        }
    }
}

/// A CreatePunchCard request: `total` punches, started 2026-01-01.
pub fn card(customer_id: &str, name: &str, total: i64) -> pb::CreatePunchCardRequest {
    pb::CreatePunchCardRequest {
        punch_card: Some(pb::PunchCard {
            customer_id: customer_id.into(),
            name: name.into(),
            unit: pb::PunchCardUnit::Punches as i32,
            total,
            start_date: "2026-01-01".into(),
            ..Default::default()
        }),
        request_id: String::new(),
    }
}

impl TestApp {
    fn bearer(token: &str) -> Bearer {
        Bearer(Some(MetadataValue::from_str(&format!("Bearer {token}")).expect("ascii token")))
    }

    pub fn customers(&self, token: &str) -> CustomerServiceClient<Authed> {
        CustomerServiceClient::with_interceptor(self.channel.clone(), Self::bearer(token))
    }

    pub fn workspace(&self, token: &str) -> WorkspaceServiceClient<Authed> {
        WorkspaceServiceClient::with_interceptor(self.channel.clone(), Self::bearer(token))
    }

    pub fn hub(&self, token: &str) -> HubServiceClient<Authed> {
        HubServiceClient::with_interceptor(self.channel.clone(), Self::bearer(token))
    }

    pub fn notifications(&self, token: &str) -> NotificationServiceClient<Authed> {
        NotificationServiceClient::with_interceptor(self.channel.clone(), Self::bearer(token))
    }

    pub fn cards(&self, token: &str) -> PunchCardServiceClient<Authed> {
        PunchCardServiceClient::with_interceptor(self.channel.clone(), Self::bearer(token))
    }

    pub fn admin_cards(&self) -> PunchCardServiceClient<Authed> {
        self.cards(&self.admin_key)
    }

    pub fn reminders(&self, token: &str) -> ReminderServiceClient<Authed> {
        ReminderServiceClient::with_interceptor(self.channel.clone(), Self::bearer(token))
    }

    pub fn admin_reminders(&self) -> ReminderServiceClient<Authed> {
        self.reminders(&self.admin_key)
    }

    /// ReminderService: staff reminders, bookings and book-again SMS.
    pub fn bookings(&self, token: &str) -> ReminderServiceClient<Authed> {
        ReminderServiceClient::with_interceptor(self.channel.clone(), Self::bearer(token))
    }

    pub fn admin_bookings(&self) -> ReminderServiceClient<Authed> {
        self.bookings(&self.admin_key)
    }

    /// The SMS the folder provider wrote, as JSON documents (`id`, `from`, `to`, `text`).
    pub fn sms_files(&self) -> Vec<serde_json::Value> {
        let Ok(dir) = std::fs::read_dir(self.state.settings.sms_dir()) else { return vec![] };
        let mut docs: Vec<serde_json::Value> = dir
            .filter_map(|e| e.ok())
            .filter(|e| {
                e.file_name().to_string_lossy().ends_with(".json") && !e.file_name().to_string_lossy().starts_with('.')
            })
            .map(|e| serde_json::from_slice(&std::fs::read(e.path()).expect("read SMS file")).expect("SMS JSON"))
            .collect();
        docs.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
        docs
    }

    pub fn admin_notifications(&self) -> NotificationServiceClient<Authed> {
        self.notifications(&self.admin_key)
    }

    pub fn timesheets(&self, token: &str) -> TimesheetServiceClient<Authed> {
        TimesheetServiceClient::with_interceptor(self.channel.clone(), Self::bearer(token))
    }

    pub fn admin_timesheets(&self) -> TimesheetServiceClient<Authed> {
        self.timesheets(&self.admin_key)
    }

    pub fn admin_customers(&self) -> CustomerServiceClient<Authed> {
        self.customers(&self.admin_key)
    }

    pub fn admin_workspace(&self) -> WorkspaceServiceClient<Authed> {
        self.workspace(&self.admin_key)
    }

    /// Clients with no credentials at all.
    pub fn anonymous_hub(&self) -> HubServiceClient<Authed> {
        HubServiceClient::with_interceptor(self.channel.clone(), Bearer(None))
    }

    pub fn anonymous_customers(&self) -> CustomerServiceClient<Authed> {
        CustomerServiceClient::with_interceptor(self.channel.clone(), Bearer(None))
    }

    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    /// Runs the delivery worker until nothing is due; returns how many it handled.
    pub async fn deliver_all(&self) -> usize {
        let mut n = 0;
        while try_execute_task(&self.state).await.expect("delivery step") == ExecutionOutcome::TaskCompleted {
            n += 1;
            assert!(n < 10_000, "delivery does not settle");
        }
        n
    }

    /// Runs one statement straight on the database, behind the service's back.
    pub async fn execute(&self, sql: &str) {
        use sea_orm::{ConnectionTrait, Statement};
        let backend = self.state.db.get_database_backend();
        self.state.db.execute_raw(Statement::from_string(backend, sql.to_string())).await.expect(sql);
    }

    /// The first column of the first row of `sql`.
    async fn first_value<T: sea_orm::TryGetable>(&self, sql: &str) -> T {
        use sea_orm::{ConnectionTrait, Statement};
        let backend = self.state.db.get_database_backend();
        let row = self.state.db.query_one_raw(Statement::from_string(backend, sql.to_string())).await;
        row.expect(sql).unwrap_or_else(|| panic!("no row from {sql}")).try_get_by_index::<T>(0).expect(sql)
    }

    /// The first column of the first row of `sql` (a count, say) as i64.
    pub async fn scalar(&self, sql: &str) -> i64 {
        self.first_value(sql).await
    }

    /// The one text value `sql` selects.
    pub async fn scalar_text(&self, sql: &str) -> String {
        self.first_value(sql).await
    }

    /// Creates an area and returns its id.
    pub async fn area(&self, name: &str) -> String {
        self.admin_workspace()
            .create_area(pb::CreateAreaRequest { name: name.into(), request_id: String::new() })
            .await
            .expect("create area")
            .into_inner()
            .area
            .unwrap()
            .id
    }

    /// A punch card of `total` punches, started 2026-01-01, on the customer.
    pub async fn punch_card(&self, customer_id: &str, name: &str, total: i64) -> pb::PunchCard {
        self.admin_cards()
            .create_punch_card(card(customer_id, name, total))
            .await
            .expect("create punch card")
            .into_inner()
            .punch_card
            .unwrap()
    }

    /// Creates a staff user and an API key for it; returns (user id, key).
    pub async fn staff_with_key(&self, email: &str, role: pb::StaffRole, area_ids: Vec<String>) -> (String, String) {
        let mut ws = self.admin_workspace();
        let user = ws
            .create_staff_user(pb::CreateStaffUserRequest {
                staff_user: Some(pb::StaffUser {
                    email: email.into(),
                    name: "Staff Member".into(),
                    role: role as i32,
                    area_ids,
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .expect("create staff user")
            .into_inner()
            .staff_user
            .unwrap();
        let key = ws
            .create_api_key(pb::CreateApiKeyRequest { staff_user_id: user.id.clone(), name: "test".into() })
            .await
            .expect("create api key")
            .into_inner()
            .secret;
        (user.id, key)
    }

    /// A second, unrelated workspace with its own admin key.
    pub async fn other_workspace(&self) -> (String, String) {
        let boot = bootstrap(
            &self.state,
            BootstrapInput {
                workspace_name: "Frisør Fie".into(),
                admin_email: "fie@frisor.example.se".into(),
                admin_name: None,
                time_zone: "Europe/Stockholm".into(),
                locale: Locale::Sv,
            },
        )
        .await
        .expect("bootstrap other");
        (boot.workspace.id.to_string(), boot.api_key)
    }
}

/// A company customer request with the given contacts (first, last, email).
pub fn company(name: &str, contacts: &[(&str, &str, &str)]) -> pb::CreateCustomerRequest {
    pb::CreateCustomerRequest {
        customer: Some(pb::Customer {
            kind: pb::CustomerKind::Company as i32,
            company_name: name.into(),
            hub_access: true,
            modules: vec![pb::Module::PunchCards as i32],
            ..Default::default()
        }),
        contacts: contacts
            .iter()
            .map(|(f, l, e)| pb::ContactInput {
                first_name: f.to_string(),
                last_name: l.to_string(),
                email: e.to_string(),
                ..Default::default()
            })
            .collect(),
        send_welcome_mail: false,
        request_id: String::new(),
    }
}

/// Reads a server stream until it ends: its status, or `None` if it is
/// still open after `within` (what it sends before, heartbeats included, is
/// skipped). A stream that ends without a status fails the test.
pub async fn ended_within<T>(stream: &mut tonic::Streaming<T>, within: std::time::Duration) -> Option<Status> {
    tokio::time::timeout(within, async {
        loop {
            match stream.message().await {
                Ok(Some(_)) => {}
                Ok(None) => panic!("ended without a status"),
                Err(status) => return status,
            }
        }
    })
    .await
    .ok()
}

/// A private customer (its own contact) with this name and e-mail.
pub fn private_customer(first: &str, last: &str, email: &str, hub_access: bool) -> pb::CreateCustomerRequest {
    pb::CreateCustomerRequest {
        customer: Some(pb::Customer {
            kind: pb::CustomerKind::Private as i32,
            first_name: first.into(),
            last_name: last.into(),
            email: email.into(),
            hub_access,
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// An update mask of these paths.
pub fn mask(paths: &[&str]) -> Option<prost_types::FieldMask> {
    Some(prost_types::FieldMask { paths: paths.iter().map(|p| p.to_string()).collect() })
}

/// The field violations in an INVALID_ARGUMENT status, as (field, description).
pub fn violations(status: &Status) -> Vec<(String, String)> {
    use tonic_types::StatusExt;
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "expected INVALID_ARGUMENT, got {status:?}");
    status
        .get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| (v.field.clone(), v.description.clone())).collect())
        .unwrap_or_default()
}

/// Asserts the status is INVALID_ARGUMENT naming exactly these fields.
pub fn assert_fields(status: &Status, expected: &[&str]) {
    let mut got: Vec<String> = violations(status).into_iter().map(|(f, _)| f).collect();
    got.sort();
    got.dedup();
    let mut want: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(got, want, "violations of {status:?}");
}

/// The activation token in a welcome mail's link.
pub fn activation_token(mail: &smtp_sink::ReceivedMail) -> String {
    let text = mail.text_body();
    let start = text.find("activate?token=").expect("activation link in mail") + "activate?token=".len();
    text[start..].split_whitespace().next().unwrap().to_string()
}

/// Runs one test body against SQLite and against PostgreSQL.
#[macro_export]
macro_rules! both_databases {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::support::spawn_app($crate::support::Backend::Sqlite).await).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::support::spawn_app($crate::support::Backend::Postgres).await).await;
                }
            }
        )*
    };
}

impl TestApp {
    /// Fires an automatic notification through the real engine, the way the
    /// punch-card and timesheet services do: inside a transaction, announced
    /// after commit. Every placeholder of the kind is filled with `<name>`.
    pub async fn fire(
        &self,
        kind: customerhub::domain::notification::NotificationKind,
        customer_id: &str,
        per_item: Option<bool>,
    ) -> customerhub::notify::Dispatched {
        use customerhub::{domain::Id, notify, store, store::TransactionTrait};
        let tx = self.state.db.begin().await.unwrap();
        let ws = store::workspaces::get(&tx, &Id::parse(&self.workspace_id).unwrap()).await.unwrap();
        let vars = customerhub::mail::templates::placeholders(kind)
            .into_iter()
            .map(|p| (p.to_string(), format!("<{p}>")))
            .collect();
        let event = notify::CustomerEvent {
            kind,
            customer_id: Id::parse(customer_id).unwrap(),
            per_item,
            vars,
            link_path: "/cards/sample".into(),
        };
        let d = notify::dispatch(&self.state, &tx, &ws, event).await.expect("dispatch");
        tx.commit().await.unwrap();
        d.announce(&self.state);
        d
    }

    /// A company whose contacts (all with HUB access) got their welcome mail,
    /// so automatic notifications reach them. The welcome mails are delivered
    /// and then forgotten by the SMTP sink. Returns the customer.
    /// Adds a contact (no welcome mail) to a customer as the admin.
    pub async fn add_contact(&self, customer_id: &str, first: &str, last: &str, email: &str) -> pb::Contact {
        let contact = pb::ContactInput {
            first_name: first.into(),
            last_name: last.into(),
            email: email.into(),
            ..Default::default()
        };
        let req =
            pb::CreateContactRequest { customer_id: customer_id.into(), contact: Some(contact), ..Default::default() };
        self.admin_customers().create_contact(req).await.unwrap().into_inner().contact.unwrap()
    }

    pub async fn welcomed_company(&self, name: &str, contacts: &[(&str, &str, &str)]) -> pb::Customer {
        let mut req = company(name, contacts);
        req.send_welcome_mail = true;
        let c = self.admin_customers().create_customer(req).await.unwrap().into_inner().customer.unwrap();
        self.deliver_all().await;
        self.smtp.wait_for(contacts.len()).await;
        self.smtp.clear();
        c
    }

    /// Logs a contact in through its welcome mail's link; returns the session token.
    pub async fn hub_session_for(&self, contact_id: &str) -> String {
        self.smtp.clear();
        self.admin_customers()
            .send_welcome_mail(pb::SendWelcomeMailRequest { contact_id: contact_id.into() })
            .await
            .unwrap();
        self.deliver_all().await;
        // Other mail may have been due as well; take the welcome mail.
        let mail = self
            .smtp
            .wait_for(1)
            .await
            .into_iter()
            .find(|m| m.text_body().contains("activate?token="))
            .expect("a welcome mail");
        self.smtp.clear();
        self.activate(&mail).await
    }

    /// Activates the HUB account a welcome mail is for; returns the session token.
    pub async fn activate(&self, welcome: &smtp_sink::ReceivedMail) -> String {
        self.anonymous_hub()
            .activate_account(pb::ActivateAccountRequest {
                token: activation_token(welcome),
                password: "a-good-long-password".into(),
            })
            .await
            .unwrap()
            .into_inner()
            .session_token
    }
}

impl TestApp {
    /// Starts a graceful shutdown, as SIGTERM does.
    pub fn begin_shutdown(&self) {
        self.state.shutdown.cancel();
    }

    /// Waits until the server has stopped (at most `within`); false if it did not.
    pub async fn stopped_within(&mut self, within: std::time::Duration) -> bool {
        tokio::time::timeout(within, &mut self.server).await.is_ok()
    }

    /// GetCustomer as the admin; the customer must exist.
    pub async fn customer(&self, id: &str) -> pb::Customer {
        self.admin_customers()
            .get_customer(pb::GetCustomerRequest { customer_id: id.into() })
            .await
            .unwrap()
            .into_inner()
            .customer
            .unwrap()
    }

    pub fn clock_now(&self) -> chrono::DateTime<chrono::Utc> {
        use customerhub::clock::Clock;
        self.clock.now()
    }
}

/// A plain HTTP GET over a real socket; the whole response, status line first.
pub async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}
