//! An HTTP SMS gateway: `POST <url>` with `authorization: Bearer <token>` and
//! the JSON body `{"id", "from", "to", "text"}`; a 2xx answer carries
//! `{"message_id": "..."}`. A 4xx answer (but 408 and 429) fails the SMS for
//! good; anything else is an error the outbox retries.
use super::SmsMessage;
use crate::delivery::permanent::Permanent;
use anyhow::{Context, bail};
use serde::Deserialize;
use std::time::Duration;

/// Longest wait for a gateway; a hung one must not hold a delivery lease forever.
const TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Clone)]
pub struct HttpGateway {
    client: reqwest::Client,
    url: String,
    token: String,
}

#[derive(Deserialize)]
struct Accepted {
    message_id: String,
}

impl HttpGateway {
    pub fn new(url: &str, token: &str) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .build()
            .context("building the SMS gateway client")?;
        Ok(Self { client, url: url.to_string(), token: token.trim().to_string() })
    }

    pub async fn send(&self, m: &SmsMessage) -> anyhow::Result<String> {
        let body = serde_json::json!({ "id": m.id, "from": m.from, "to": m.to, "text": m.text });
        let response = self
            .client
            .post(&self.url)
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .context("SMS gateway unreachable")?;
        let status = response.status();
        let text = response.text().await.context("reading the SMS gateway's answer")?;
        if !status.is_success() {
            let error = anyhow::anyhow!("SMS gateway answered {status}: {}", snippet(&text));
            // A 4xx is the gateway refusing this message (a bad number, say);
            // only a timeout or a rate limit may pass on a later try.
            let refused = status.is_client_error()
                && status != reqwest::StatusCode::REQUEST_TIMEOUT
                && status != reqwest::StatusCode::TOO_MANY_REQUESTS;
            return Err(if refused { error.context(Permanent) } else { error });
        }
        let accepted: Accepted = serde_json::from_str(&text)
            .with_context(|| format!("SMS gateway answered {status} without a message_id: {}", snippet(&text)))?;
        if accepted.message_id.trim().is_empty() {
            bail!("SMS gateway answered {status} with an empty message_id");
        }
        tracing::info!(to = %m.to, id = %m.id, provider_id = %accepted.message_id, "SMS handed to the gateway");
        Ok(accepted.message_id)
    }
}

fn snippet(s: &str) -> String {
    s.chars().take(200).collect()
}
