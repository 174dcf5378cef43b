//! Settings: defaults, then an optional TOML file (`--config` or
//! `CUSTOMERHUB_CONFIG`), then `CUSTOMERHUB_*` environment variables. Every
//! setting is listed in the README.
use anyhow::Context;
use serde::Deserialize;
use std::{net::SocketAddr, path::PathBuf, time::Duration};

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// gRPC listen address.
    pub listen: SocketAddr,
    /// `sqlite://…` or `postgres://…`; empty: a SQLite file in `data_dir`.
    pub database_url: Option<String>,
    /// Where the default SQLite file and mail folder live.
    pub data_dir: PathBuf,
    /// Most database connections per process.
    pub db_max_connections: u32,
    /// Read-only SQLite connections beside the one writer, for reads outside
    /// a transaction (0: every statement uses the writer).
    pub sqlite_readers: u32,
    /// How long a request waits for a database connection before it answers
    /// UNAVAILABLE (while the database is away, instead of hanging).
    pub db_acquire_timeout_ms: u64,
    /// lettre SMTP URL (`smtp://host:25`, `smtps://user:pass@host`); empty: `.eml` files in `mail_dir`.
    pub smtp_url: Option<String>,
    /// Folder for `.eml` files when no SMTP server is set; default `data_dir/mail`.
    pub mail_dir: Option<PathBuf>,
    /// HUB base URL given to new workspaces.
    pub default_hub_url: String,
    /// Sender address given to new workspaces.
    pub default_sender_email: String,
    /// How long a welcome-mail activation link works.
    pub activation_ttl_hours: i64,
    /// How long a HUB session lasts.
    pub session_ttl_hours: i64,
    /// Run the background delivery worker in this process.
    pub run_workers: bool,
    /// Sends tried before a notification is failed.
    pub delivery_max_attempts: i32,
    /// First retry delay; doubles per attempt, with jitter.
    pub delivery_backoff_base_secs: u64,
    /// Longest retry delay.
    pub delivery_backoff_max_secs: u64,
    /// How long a claimed delivery is reserved for its worker.
    pub delivery_lease_secs: u64,
    /// How often an idle worker looks for due deliveries.
    pub delivery_poll_ms: u64,
    /// How many notifications one worker sends at once over the SMTP pool,
    /// and claims and records per statement (`delivery::pace` says how many
    /// more wait claimed behind them).
    pub delivery_concurrency: usize,
    /// How many RegisterPunch batches (`app::registration_batch`) one
    /// process writes at once on PostgreSQL; SQLite writes one at a time.
    pub registration_batches: usize,
    /// On shutdown, how long a delivery being sent may take before it is
    /// abandoned and released for another replica.
    pub shutdown_grace_secs: u64,
    /// Argon2id memory in KiB for HUB passwords.
    pub password_hash_memory_kib: u32,
    /// Argon2id iterations for HUB passwords.
    pub password_hash_iterations: u32,
    /// Listen address of the small HTTP server (one-click unsubscribe).
    pub http_listen: SocketAddr,
    /// Public base URL of that HTTP server, as mail clients reach it (https in production).
    pub public_http_url: String,
    /// Folder for SMS when no gateway is configured; default `data_dir/sms`.
    pub sms_dir: Option<PathBuf>,
    /// The local hour (0-23, workspace time zone) at which reminders fire.
    pub reminder_local_hour: u32,
    /// HTTP SMS gateway that messages are POSTed to; unset: the SMS folder.
    pub sms_http_url: Option<String>,
    /// Bearer token for the HTTP SMS gateway (required with `sms_http_url`).
    pub sms_http_token: Option<String>,
    /// How often periodic jobs (card expiry) run.
    pub scheduler_interval_secs: u64,
    /// Sent notifications and HUB messages older than this many days are purged (0: never).
    pub retention_days: u32,
    /// Requests per second per workspace (0: no limit), and the burst allowed above it.
    pub rate_limit_per_second: u32,
    pub rate_limit_burst: u32,
    /// HUB login attempts per minute per e-mail and workspace, after a burst
    /// of `LOGIN_ATTEMPT_BURST` (0: no limit): online password guessing.
    pub login_attempts_per_minute: u32,
    /// Largest request or response message, in bytes.
    pub max_message_bytes: usize,
    /// Longest a unary request may take (a shorter `grpc-timeout` from the client wins).
    pub request_timeout_secs: u64,
    /// Most concurrent HTTP/2 streams per client connection.
    pub max_concurrent_streams: u32,
    /// Longest a live stream stays open before the client must resubscribe.
    pub stream_max_lifetime_secs: u64,
    /// How often the database is probed for the health status.
    pub health_check_interval_ms: u64,
    /// How often an idle live stream sends a heartbeat.
    pub stream_heartbeat_ms: u64,
    /// Browser origins (`https://app.example.dk`) allowed to call the gRPC-Web
    /// endpoint across origins; `*` allows any. Empty: no CORS headers.
    /// Comma-separated in the environment, a string or a list in TOML.
    #[serde(deserialize_with = "comma_separated")]
    pub cors_allowed_origins: Vec<String>,
    /// OTLP/HTTP collector base URL (e.g. `http://localhost:4318`); unset: no trace export.
    pub otlp_endpoint: Option<String>,
    /// `text` or `json`.
    pub log_format: String,
    /// tracing filter, e.g. `info,customerhub=debug`.
    pub log: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            database_url: None,
            data_dir: PathBuf::from("./data"),
            db_max_connections: 10,
            sqlite_readers: 2,
            db_acquire_timeout_ms: 5000,
            smtp_url: None,
            mail_dir: None,
            default_hub_url: "http://localhost:8080".into(),
            default_sender_email: "no-reply@customerhub.local".into(),
            activation_ttl_hours: 7 * 24,
            session_ttl_hours: 30 * 24,
            run_workers: true,
            delivery_max_attempts: 8,
            delivery_backoff_base_secs: 5,
            delivery_backoff_max_secs: 3600,
            delivery_lease_secs: 60,
            delivery_poll_ms: 1000,
            shutdown_grace_secs: 10,
            delivery_concurrency: 8,
            registration_batches: 2,
            // OWASP's recommended Argon2id minimum: 19 MiB, 2 iterations.
            password_hash_memory_kib: 19 * 1024,
            password_hash_iterations: 2,
            http_listen: SocketAddr::from(([127, 0, 0, 1], 8081)),
            public_http_url: "http://127.0.0.1:8081".into(),
            stream_heartbeat_ms: 15_000,
            health_check_interval_ms: 5_000,
            rate_limit_per_second: 200,
            rate_limit_burst: 400,
            login_attempts_per_minute: 5,
            max_message_bytes: 4 * 1024 * 1024,
            request_timeout_secs: 30,
            max_concurrent_streams: 256,
            stream_max_lifetime_secs: 24 * 3600,
            retention_days: 365,
            scheduler_interval_secs: 60,
            reminder_local_hour: 8,
            sms_dir: None,
            sms_http_url: None,
            sms_http_token: None,
            cors_allowed_origins: Vec::new(),
            otlp_endpoint: None,
            log_format: "text".into(),
            log: "info".into(),
        }
    }
}

/// A list given as `"a, b"` (environment, TOML string) or `["a", "b"]` (TOML);
/// blanks are dropped.
fn comma_separated<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    let items = match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(s) => s.split(',').map(str::to_owned).collect(),
        OneOrMany::Many(v) => v,
    };
    Ok(items.into_iter().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect())
}

/// `scheme://host[:port]` with nothing after it, as browsers send in `Origin`.
fn valid_origin(origin: &str) -> bool {
    match url::Url::parse(origin) {
        Ok(url) => {
            matches!(url.scheme(), "http" | "https")
                && url.host_str().is_some()
                && origin == url.origin().ascii_serialization()
        }
        Err(_) => false,
    }
}

impl Settings {
    pub fn load(file: Option<PathBuf>) -> anyhow::Result<Self> {
        let file = file.or_else(|| std::env::var_os("CUSTOMERHUB_CONFIG").map(PathBuf::from));
        let mut builder = config::Config::builder();
        if let Some(path) = &file {
            builder = builder.add_source(config::File::from(path.as_path()).required(true));
        }
        let settings: Settings = builder
            .add_source(config::Environment::with_prefix("CUSTOMERHUB").try_parsing(true).ignore_empty(true))
            .build()
            .context("reading configuration")?
            .try_deserialize()
            .context("invalid configuration")?;
        settings.validate()?;
        Ok(settings)
    }

    /// Refuses settings that would make a half-working service.
    pub fn validate(&self) -> anyhow::Result<()> {
        if let Some(url) = &self.database_url
            && !(url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://"))
        {
            anyhow::bail!("CUSTOMERHUB_DATABASE_URL must start with sqlite:, postgres:// or postgresql://");
        }
        crate::domain::EmailAddress::parse(&self.default_sender_email)
            .map_err(|e| anyhow::anyhow!("CUSTOMERHUB_DEFAULT_SENDER_EMAIL {e}"))?;
        crate::domain::HttpUrl::parse(&self.default_hub_url)
            .map_err(|e| anyhow::anyhow!("CUSTOMERHUB_DEFAULT_HUB_URL {e}"))?;
        let public = url::Url::parse(&self.public_http_url)
            .map_err(|_| anyhow::anyhow!("CUSTOMERHUB_PUBLIC_HTTP_URL is not a URL"))?;
        let local = matches!(public.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
        if public.scheme() != "https" && !local {
            anyhow::bail!(
                "CUSTOMERHUB_PUBLIC_HTTP_URL must be https (mail clients require it for one-click unsubscribe)"
            );
        }
        if self.sqlite_readers > 64 {
            anyhow::bail!("CUSTOMERHUB_SQLITE_READERS must be between 0 and 64");
        }
        if self.delivery_concurrency == 0 || self.delivery_concurrency > 256 {
            anyhow::bail!("CUSTOMERHUB_DELIVERY_CONCURRENCY must be between 1 and 256");
        }
        if self.registration_batches == 0 || self.registration_batches > 64 {
            anyhow::bail!("CUSTOMERHUB_REGISTRATION_BATCHES must be between 1 and 64");
        }
        if self.db_acquire_timeout_ms == 0 {
            anyhow::bail!("CUSTOMERHUB_DB_ACQUIRE_TIMEOUT_MS must be at least 1");
        }
        if self.reminder_local_hour > 23 {
            anyhow::bail!("CUSTOMERHUB_REMINDER_LOCAL_HOUR must be between 0 and 23");
        }
        if let Some(url) = &self.sms_http_url {
            crate::domain::HttpUrl::parse(url).map_err(|e| anyhow::anyhow!("CUSTOMERHUB_SMS_HTTP_URL {e}"))?;
            if self.sms_http_token.as_deref().is_none_or(|t| t.trim().is_empty()) {
                anyhow::bail!("CUSTOMERHUB_SMS_HTTP_TOKEN is required with CUSTOMERHUB_SMS_HTTP_URL");
            }
        }
        if self.scheduler_interval_secs < 1 {
            anyhow::bail!("CUSTOMERHUB_SCHEDULER_INTERVAL_SECS must be at least 1");
        }
        if self.stream_heartbeat_ms < 10 {
            anyhow::bail!("CUSTOMERHUB_STREAM_HEARTBEAT_MS must be at least 10");
        }
        if let Some(e) = &self.otlp_endpoint {
            crate::domain::HttpUrl::parse(e).map_err(|err| anyhow::anyhow!("CUSTOMERHUB_OTLP_ENDPOINT {err}"))?;
        }
        if self.delivery_max_attempts < 1 {
            anyhow::bail!("CUSTOMERHUB_DELIVERY_MAX_ATTEMPTS must be at least 1");
        }
        for origin in &self.cors_allowed_origins {
            if origin != "*" && !valid_origin(origin) {
                anyhow::bail!(
                    "CUSTOMERHUB_CORS_ALLOWED_ORIGINS: {origin:?} is not an origin like https://app.example.dk (or *)"
                );
            }
        }
        if !matches!(self.log_format.as_str(), "text" | "json") {
            anyhow::bail!("CUSTOMERHUB_LOG_FORMAT must be text or json");
        }
        if self.activation_ttl_hours < 1 || self.session_ttl_hours < 1 {
            anyhow::bail!("CUSTOMERHUB_ACTIVATION_TTL_HOURS and CUSTOMERHUB_SESSION_TTL_HOURS must be at least 1");
        }
        Ok(())
    }

    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}?mode=rwc", self.data_dir.join("customerhub.db").display()),
        }
    }

    pub fn mail_dir(&self) -> PathBuf {
        self.mail_dir.clone().unwrap_or_else(|| self.data_dir.join("mail"))
    }

    pub fn sms_dir(&self) -> PathBuf {
        self.sms_dir.clone().unwrap_or_else(|| self.data_dir.join("sms"))
    }

    pub fn lease(&self) -> Duration {
        Duration::from_secs(self.delivery_lease_secs)
    }

    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_toml(text: &str) -> anyhow::Result<Settings> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("customerhub.toml");
        std::fs::write(&path, text).unwrap();
        Settings::load(Some(path))
    }

    #[test]
    fn cors_origins_come_as_a_comma_separated_string_or_a_list() {
        let s = load_toml("cors_allowed_origins = \"https://app.example.dk, http://localhost:5173,\"\n").unwrap();
        assert_eq!(s.cors_allowed_origins, ["https://app.example.dk", "http://localhost:5173"]);
        let s = load_toml("cors_allowed_origins = [\"*\"]\n").unwrap();
        assert_eq!(s.cors_allowed_origins, ["*"]);
        assert!(Settings::default().cors_allowed_origins.is_empty());
    }

    #[test]
    fn a_cors_origin_must_be_a_bare_origin() {
        for bad in ["app.example.dk", "https://app.example.dk/", "https://app.example.dk/path", "ftp://x.example"] {
            let err = load_toml(&format!("cors_allowed_origins = \"{bad}\"\n")).unwrap_err();
            assert!(format!("{err:#}").contains("CUSTOMERHUB_CORS_ALLOWED_ORIGINS"), "{bad}: {err:#}");
        }
    }
}
