//! Sending SMS through a provider. By default messages are written to files
//! (one JSON document per message), so a fresh install works without a
//! gateway; an HTTP gateway is configured with `CUSTOMERHUB_SMS_HTTP_URL`.
//! Sending returns the provider's message id, which its delivery reports
//! name (ReminderService.ReportSmsDelivery). An error makes the outbox retry
//! with backoff; the message's `id` stays the same across retries, so a
//! gateway can drop a duplicate.
mod http;

use crate::config::Settings;
use anyhow::Context;
use std::path::PathBuf;

pub use http::HttpGateway;

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
    /// POSTs each message to an SMS gateway.
    Http(HttpGateway),
}

impl SmsProvider {
    /// The gateway when one is configured, else the folder.
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Self> {
        match (&settings.sms_http_url, &settings.sms_http_token) {
            (Some(url), Some(token)) => Ok(SmsProvider::Http(HttpGateway::new(url, token)?)),
            (Some(_), None) => anyhow::bail!("CUSTOMERHUB_SMS_HTTP_TOKEN is required with CUSTOMERHUB_SMS_HTTP_URL"),
            (None, _) => Self::folder(settings.sms_dir()),
        }
    }

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
            SmsProvider::Http(gateway) => gateway.send(m).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gateway_needs_its_url_and_token_else_the_folder_is_used() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Settings { data_dir: dir.path().to_path_buf(), ..Settings::default() };
        assert!(matches!(SmsProvider::from_settings(&s).unwrap(), SmsProvider::Folder(_)));
        s.sms_http_url = Some("https://sms.example.se/v1/send".into());
        assert!(s.validate().unwrap_err().to_string().contains("CUSTOMERHUB_SMS_HTTP_TOKEN"));
        assert!(SmsProvider::from_settings(&s).is_err());
        s.sms_http_token = Some("secret".into());
        s.validate().unwrap();
        assert!(matches!(SmsProvider::from_settings(&s).unwrap(), SmsProvider::Http(_)));
        s.sms_http_url = Some("ftp://sms.example.se".into());
        assert!(s.validate().unwrap_err().to_string().contains("CUSTOMERHUB_SMS_HTTP_URL"));
    }
}
