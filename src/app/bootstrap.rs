//! Creates a workspace with its first admin and API key, so a fresh install
//! is usable without touching the database.
use super::AppState;
use crate::{
    domain::{
        DisplayName, EmailAddress, Id, Locale, Role, TimeZone, Tone,
        workspace::{SmsPayer, StaffUser, Workspace},
    },
    error::{AppResult, Violations},
    store::{self, TransactionTrait, staff::NewStaffUser},
};

pub struct BootstrapInput {
    pub workspace_name: String,
    pub admin_email: String,
    pub admin_name: Option<String>,
    pub time_zone: String,
    pub locale: Locale,
}

pub struct Bootstrapped {
    pub workspace: Workspace,
    pub admin: StaffUser,
    pub api_key: String,
}

pub async fn bootstrap(state: &AppState, input: BootstrapInput) -> AppResult<Bootstrapped> {
    let mut v = Violations::new();
    let name = v.check("workspace", DisplayName::parse(&input.workspace_name));
    let email = v.check("admin_email", EmailAddress::parse(&input.admin_email));
    let tz = v.check("time_zone", TimeZone::parse(&input.time_zone));
    let admin_name =
        input.admin_name.clone().unwrap_or_else(|| input.admin_email.split('@').next().unwrap_or("admin").to_string());
    let admin_name = v.check("admin_name", DisplayName::parse(&admin_name));
    v.into_result()?;
    let (Some(name), Some(email), Some(tz), Some(admin_name)) = (name, email, tz, admin_name) else {
        unreachable!("violations are empty")
    };
    let now = state.clock.now();
    let settings = &state.settings;
    let workspace = Workspace {
        id: Id::generate(),
        name: name.as_str().to_string(),
        time_zone: tz,
        default_locale: input.locale,
        default_tone: Tone::Formal,
        sender_name: name.as_str().to_string(),
        sender_email: EmailAddress::parse(&settings.default_sender_email)
            .map_err(|e| anyhow::anyhow!("default sender {e}"))?,
        hub_base_url: settings.default_hub_url.trim_end_matches('/').to_string(),
        booking_url: String::new(),
        sms_enabled: false,
        sms_price_minor: 0,
        sms_currency: if input.locale == Locale::Sv { "SEK" } else { "DKK" }.to_string(),
        book_again_sms_payer: SmsPayer::Business,
        punches_low_threshold: 2,
        expiring_days_before: 30,
        allow_expired_card_registration: false,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    let tx = state.db.begin().await?;
    store::workspaces::insert(&tx, &workspace).await?;
    let admin_id = Id::generate();
    let admin = store::staff::insert(
        &tx,
        &workspace.id,
        &admin_id,
        &NewStaffUser {
            email,
            name: admin_name.as_str().to_string(),
            phone: String::new(),
            role: Role::Admin,
            area_ids: vec![],
        },
        now,
    )
    .await?;
    let (_, api_key) = store::api_keys::create(&tx, &workspace.id, &admin_id, "bootstrap", now).await?;
    tx.commit().await?;
    Ok(Bootstrapped { workspace, admin, api_key })
}
