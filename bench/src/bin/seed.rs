//! Seeds a running customerhub for the benchmarks: one company customer with
//! HUB access and the punch-card module, N contacts who got the welcome mail,
//! a punch card, and (optionally) one HUB session per contact. Customers and
//! cards go through the API; the sessions are written straight into the same
//! database with `customerhub::store::sessions::create` (what ActivateAccount
//! does after the Argon2 hash), which spares N welcome-mail round trips.
//! Prints one JSON object: customer_id, punch_card_id, workspace_id, sessions.
use anyhow::Context;
use clap::Parser;
use customerhub::{
    config::Settings,
    domain::Id,
    grpc::pb::{
        self, customer_service_client::CustomerServiceClient, notification_service_client::NotificationServiceClient,
        punch_card_service_client::PunchCardServiceClient, workspace_service_client::WorkspaceServiceClient,
    },
    store,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use tonic::{Request, metadata::MetadataValue, transport::Channel};

#[derive(Parser)]
#[command(about = "Seed a customer, contacts, a punch card and HUB sessions")]
struct Args {
    /// gRPC address of the running customerhub.
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    addr: String,
    /// Admin API key (from `customerhub bootstrap`).
    #[arg(long, env = "CUSTOMERHUB_BENCH_KEY")]
    key: String,
    /// Contacts of the customer (each gets one HUB message per punch).
    #[arg(long, default_value_t = 100)]
    contacts: usize,
    /// Also create one HUB session per contact (needs the server's CUSTOMERHUB_* settings
    /// in the environment to find its database).
    #[arg(long)]
    sessions: bool,
    /// Send punch-registered and card-created notifications to the HUB only (no e-mail).
    #[arg(long)]
    hub_only: bool,
}

fn authed<T>(msg: T, key: &MetadataValue<tonic::metadata::Ascii>) -> Request<T> {
    let mut req = Request::new(msg);
    req.metadata_mut().insert("authorization", key.clone());
    req
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let key: MetadataValue<_> = format!("Bearer {}", args.key).parse().context("API key is not a header value")?;
    let channel = Channel::from_shared(args.addr.clone())?.connect().await.context("connecting")?;
    let workspace = WorkspaceServiceClient::new(channel.clone())
        .get_workspace(authed(pb::GetWorkspaceRequest {}, &key))
        .await?
        .into_inner()
        .workspace
        .context("no workspace in the answer")?;

    if args.hub_only {
        let settings = [pb::NotificationKind::PunchRegistered, pb::NotificationKind::CardCreated]
            .into_iter()
            .map(|kind| pb::NotificationSetting {
                kind: kind as i32,
                mode: pb::NotificationMode::On as i32,
                email: false,
                hub: true,
            })
            .collect();
        NotificationServiceClient::new(channel.clone())
            .update_notification_settings(authed(
                pb::UpdateNotificationSettingsRequest { settings, ..Default::default() },
                &key,
            ))
            .await?;
    }

    let tag = uuid::Uuid::now_v7().simple().to_string();
    let contacts = (0..args.contacts)
        .map(|i| pb::ContactInput {
            first_name: format!("Kontakt{i}"),
            last_name: "Bench".into(),
            email: format!("c{i}.{}@bench.example.dk", &tag[20..]),
            ..Default::default()
        })
        .collect();
    let customer = CustomerServiceClient::new(channel.clone())
        .create_customer(authed(
            pb::CreateCustomerRequest {
                customer: Some(pb::Customer {
                    kind: pb::CustomerKind::Company as i32,
                    company_name: format!("Bager Hansen ApS {}", &tag[20..]),
                    hub_access: true,
                    modules: vec![pb::Module::PunchCards as i32],
                    ..Default::default()
                }),
                contacts,
                send_welcome_mail: true,
                request_id: String::new(),
            },
            &key,
        ))
        .await?
        .into_inner()
        .customer
        .context("no customer in the answer")?;

    let card = PunchCardServiceClient::new(channel.clone())
        .create_punch_card(authed(
            pb::CreatePunchCardRequest {
                punch_card: Some(pb::PunchCard {
                    customer_id: customer.id.clone(),
                    name: "Vinduespudsning".into(),
                    unit: pb::PunchCardUnit::Punches as i32,
                    // Large enough that no threshold ("low", "used up") fires during a run.
                    total: 10_000_000,
                    start_date: chrono::Utc::now().date_naive().format("%Y-%m-%d").to_string(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &key,
        ))
        .await?
        .into_inner()
        .punch_card
        .context("no punch card in the answer")?;

    let mut sessions = vec![];
    if args.sessions {
        let settings = Settings::load(None)?;
        let db = store::connect(&settings).await?;
        let rows = entity::contact::Entity::find()
            .filter(entity::contact::Column::CustomerId.eq(customer.id.as_str()))
            .order_by_asc(entity::contact::Column::Id)
            .all(&db)
            .await?;
        let ws = Id::parse(&workspace.id).map_err(|e| anyhow::anyhow!("workspace id {e}"))?;
        let now = chrono::Utc::now();
        let expires = now + chrono::Duration::days(30);
        for row in rows {
            let contact = Id::parse(&row.id).map_err(|e| anyhow::anyhow!("contact id {e}"))?;
            let token = store::sessions::create(&db, &ws, &contact, now, expires)
                .await
                .map_err(|e| anyhow::anyhow!("creating a session: {e}"))?;
            sessions.push(serde_json::json!({ "contact_id": row.id, "token": token }));
        }
        db.close().await?;
    }
    let out = serde_json::json!({
        "workspace_id": workspace.id,
        "customer_id": customer.id,
        "punch_card_id": card.id,
        "sessions": sessions,
    });
    println!("{out}");
    Ok(())
}
