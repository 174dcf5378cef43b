//! The command line: `serve`, `migrate`, and admin commands.
use crate::{
    app::bootstrap::{BootstrapInput, bootstrap},
    clock::SystemClock,
    config::Settings,
    domain::Locale,
    startup::{Application, build_state, shutdown_signal},
    store,
};
use clap::{Parser, Subcommand};
use std::{path::PathBuf, sync::Arc};

#[derive(Parser)]
#[command(name = "customerhub", version, about = "Keeps a service business's customers informed.")]
pub struct Cli {
    /// TOML settings file (also CUSTOMERHUB_CONFIG).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the gRPC service (migrates the database first).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Create a workspace with its first admin; prints the admin's API key as the last line.
    Bootstrap {
        /// The business's name.
        #[arg(long)]
        workspace: String,
        /// The first admin's e-mail.
        #[arg(long)]
        admin_email: String,
        /// The first admin's name (default: the e-mail's local part).
        #[arg(long)]
        admin_name: Option<String>,
        /// IANA time zone of the business.
        #[arg(long, default_value = "Europe/Copenhagen")]
        time_zone: String,
        /// Default language: da, en or sv.
        #[arg(long, default_value = "da")]
        locale: String,
    },
    /// Inspect and act on deliveries (for support engineers).
    #[command(subcommand)]
    Deliveries(DeliveriesCommand),
}

#[derive(Subcommand)]
pub enum DeliveriesCommand {
    /// List a workspace's failed deliveries with their last error.
    Failed {
        #[arg(long)]
        workspace_id: String,
    },
    /// Queue failed deliveries again (the given ids, or --all).
    Retry {
        #[arg(long)]
        workspace_id: String,
        #[arg(long = "id")]
        ids: Vec<String>,
        #[arg(long)]
        all: bool,
    },
    /// Cancel queued deliveries.
    Cancel {
        #[arg(long)]
        workspace_id: String,
        #[arg(long = "id", required = true)]
        ids: Vec<String>,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::load(cli.config)?;
    // Kept to the end of `run`: dropping it flushes buffered spans.
    let _telemetry =
        crate::telemetry::init_with_otlp(&settings.log_format, &settings.log, settings.otlp_endpoint.as_deref());
    match cli.command {
        Command::Serve => {
            let app = Application::build(settings).await?;
            app.run_until_stopped(shutdown_signal()).await
        }
        Command::Migrate => {
            let db = store::connect(&settings).await?;
            store::migrate(&db).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Bootstrap { workspace, admin_email, admin_name, time_zone, locale } => {
            let locale =
                Locale::from_stored(&locale).ok_or_else(|| anyhow::anyhow!("--locale must be da, en or sv"))?;
            let state = build_state(settings, Arc::new(SystemClock)).await?;
            let done = bootstrap(
                &state,
                BootstrapInput { workspace_name: workspace, admin_email, admin_name, time_zone, locale },
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("workspace id: {}", done.workspace.id);
            println!("admin id: {}", done.admin.id);
            println!("API key (shown once; send as `authorization: Bearer <key>`):");
            println!("{}", done.api_key);
            Ok(())
        }
        Command::Deliveries(cmd) => deliveries(settings, cmd).await,
    }
}

async fn deliveries(settings: Settings, cmd: DeliveriesCommand) -> anyhow::Result<()> {
    use crate::domain::{Id, page::PageRequest};
    let db = store::connect(&settings).await?;
    store::migrate(&db).await?;
    let ws = |raw: &str| Id::parse(raw).map_err(|e| anyhow::anyhow!("--workspace-id {e}"));
    let ids = |raw: &[String]| -> anyhow::Result<Vec<Id>> {
        raw.iter().map(|s| Id::parse(s).map_err(|e| anyhow::anyhow!("--id {s:?} {e}"))).collect()
    };
    let now = chrono::Utc::now();
    match cmd {
        DeliveriesCommand::Failed { workspace_id } => {
            let ws = ws(&workspace_id)?;
            let mut token = String::new();
            loop {
                let page = store::outbox::failed(&db, &ws, PageRequest::parse(500, &token)?).await?;
                for d in &page.items {
                    println!(
                        "{}\t{}\t{}\t{} attempts\t{}",
                        d.id,
                        d.channel,
                        d.recipient,
                        d.attempts,
                        d.last_error.as_deref().unwrap_or("")
                    );
                }
                if page.next_page_token.is_empty() {
                    break;
                }
                token = page.next_page_token;
            }
        }
        DeliveriesCommand::Retry { workspace_id, ids: raw, all } => {
            if all != raw.is_empty() {
                anyhow::bail!("give either --all or one or more --id");
            }
            let list = ids(&raw)?;
            let n = store::outbox::retry_failed(&db, &ws(&workspace_id)?, (!all).then_some(&list[..]), now).await?;
            println!("queued again: {n}");
        }
        DeliveriesCommand::Cancel { workspace_id, ids: raw } => {
            let n = store::outbox::cancel_queued(&db, &ws(&workspace_id)?, &ids(&raw)?, now).await?;
            println!("cancelled: {n}");
        }
    }
    Ok(())
}
