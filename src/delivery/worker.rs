use super::backoff;
use crate::{
    app::AppState,
    domain::notification::NotificationKind,
    error::AppResult,
    mail::OutgoingMail,
    store::{self, outbox::Claimed},
};
use chrono::Duration as ChronoDuration;
use futures::StreamExt;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

#[derive(Debug, PartialEq, Eq)]
pub enum ExecutionOutcome {
    /// One notification was handled (sent, rescheduled or failed).
    TaskCompleted,
    /// Nothing is due.
    EmptyQueue,
}

/// Claims one due notification, sends it and records the result.
pub async fn try_execute_task(state: &AppState) -> AppResult<ExecutionOutcome> {
    let now = state.clock.now();
    let Some(task) = store::outbox::claim_next(&state.db, &state.instance_id, now, lease_until(state, now)).await?
    else {
        return Ok(ExecutionOutcome::EmptyQueue);
    };
    handle(state, task).await?;
    Ok(ExecutionOutcome::TaskCompleted)
}

/// Claims up to `delivery_concurrency × 4` due notifications in one statement
/// and sends them `delivery_concurrency` at a time (over the SMTP pool);
/// returns how many were handled (0: nothing is due).
pub async fn try_execute_batch(state: &AppState) -> AppResult<usize> {
    let concurrency = state.settings.delivery_concurrency.max(1);
    let now = state.clock.now();
    let batch =
        store::outbox::claim_due(&state.db, &state.instance_id, now, lease_until(state, now), (concurrency * 4) as u64)
            .await?;
    let n = batch.len();
    let results: Vec<AppResult<()>> =
        futures::stream::iter(batch).map(|task| handle(state, task)).buffer_unordered(concurrency).collect().await;
    // Every claim was handled or keeps its lease; the first error is reported.
    results.into_iter().collect::<AppResult<Vec<()>>>()?;
    Ok(n)
}

fn lease_until(state: &AppState, now: crate::clock::Timestamp) -> crate::clock::Timestamp {
    now + ChronoDuration::from_std(state.settings.lease()).unwrap_or(ChronoDuration::seconds(60))
}

/// Sends one claimed notification and records the result, in its own span
/// (several are in flight at once, so the span follows the future).
async fn handle(state: &AppState, task: Claimed) -> AppResult<()> {
    let span =
        tracing::info_span!("deliver", notification = %task.id, channel = %task.channel, attempt = task.attempts);
    handle_in_span(state, task).instrument(span).await
}

async fn handle_in_span(state: &AppState, task: Claimed) -> AppResult<()> {
    let owner = &state.instance_id;
    // An automatic mail queued before its contact unsubscribed is not sent.
    let automatic = NotificationKind::from_stored(&task.kind).is_some_and(NotificationKind::is_automatic);
    if automatic
        && let Some(contact) = &task.contact_id
        && !store::outbox::still_subscribed(&state.db, contact).await?
    {
        store::outbox::mark_suppressed(&state.db, &task.id, owner, "unsubscribed", state.clock.now()).await?;
        metrics::counter!("customerhub_deliveries_total", "channel" => task.channel.clone(), "outcome" => "suppressed")
            .increment(1);
        return Ok(());
    }
    let result = send(state, &task).await;
    let now = state.clock.now();
    match result {
        Ok(provider_id) => {
            store::outbox::mark_sent(&state.db, &task.id, owner, provider_id.as_deref(), now).await?;
            metrics::counter!("customerhub_deliveries_total", "channel" => task.channel.clone(), "outcome" => "sent")
                .increment(1);
            tracing::info!("delivered");
        }
        Err(e) if task.attempts >= state.settings.delivery_max_attempts => {
            let error = format!("{e:#}");
            tracing::warn!(%error, "delivery failed for good");
            metrics::counter!("customerhub_deliveries_total", "channel" => task.channel.clone(), "outcome" => "failed")
                .increment(1);
            store::outbox::mark_failed(&state.db, &task.id, owner, &error, now).await?;
        }
        Err(e) => {
            let error = format!("{e:#}");
            let wait = backoff::delay(
                task.attempts,
                Duration::from_secs(state.settings.delivery_backoff_base_secs),
                Duration::from_secs(state.settings.delivery_backoff_max_secs),
            );
            tracing::warn!(%error, retry_in = ?wait, "delivery failed; will retry");
            metrics::counter!("customerhub_delivery_retries_total", "channel" => task.channel.clone()).increment(1);
            let at = now + ChronoDuration::from_std(wait).unwrap_or(ChronoDuration::hours(1));
            store::outbox::mark_retry(&state.db, &task.id, owner, &error, at, now).await?;
        }
    }
    Ok(())
}

/// Sends one notification; returns the provider's message id where there is one (SMS).
async fn send(state: &AppState, task: &Claimed) -> anyhow::Result<Option<String>> {
    match task.channel.as_str() {
        "sms" => {
            let workspace = store::workspaces::get(&state.db, &task.workspace_id).await?;
            let id = state
                .sms
                .send(&crate::sms::SmsMessage {
                    id: task.id.clone(),
                    from: workspace.sender_name,
                    to: task.recipient.clone(),
                    text: task.body_text.clone(),
                })
                .await?;
            Ok(Some(id))
        }
        "email" => {
            let workspace = store::workspaces::get(&state.db, &task.workspace_id).await?;
            let headers: Vec<(String, String)> = serde_json::from_str(&task.headers_json).unwrap_or_default();
            state
                .mailer
                .send(&OutgoingMail {
                    id: task.id.clone(),
                    from_name: workspace.sender_name,
                    from_email: workspace.sender_email.to_string(),
                    to: task.recipient.clone(),
                    subject: task.subject.clone(),
                    text: task.body_text.clone(),
                    html: task.body_html.clone(),
                    message_id: task.message_id.clone(),
                    headers,
                })
                .await?;
            Ok(None)
        }
        other => anyhow::bail!("no transport for channel {other:?}"),
    }
}

/// Runs `try_execute_task` until `stop` is cancelled: straight on while work
/// is due, otherwise waiting for a new notification or the poll interval.
/// On `stop` a delivery being sent gets the shutdown grace period to finish;
/// after that it is abandoned and its claim released, so another replica
/// sends it at once instead of waiting for the lease to run out.
pub async fn run_until_stopped(state: AppState, stop: CancellationToken) {
    let poll = Duration::from_millis(state.settings.delivery_poll_ms);
    let grace = state.settings.shutdown_grace();
    loop {
        if stop.is_cancelled() {
            break;
        }
        let step = try_execute_batch(&state);
        tokio::pin!(step);
        let outcome = tokio::select! {
            outcome = &mut step => outcome,
            _ = async { stop.cancelled().await; tokio::time::sleep(grace).await } => {
                match store::outbox::release(&state.db, &state.instance_id, state.clock.now()).await {
                    Ok(n) => tracing::warn!(released = n, "delivery abandoned at shutdown; released for another replica"),
                    Err(e) => tracing::error!(error = %e, "could not release claimed deliveries; their lease will run out"),
                }
                break;
            }
        };
        let idle = match outcome {
            Ok(0) => Some(poll),
            Ok(_) => None,
            Err(e) => {
                tracing::error!(error = %e, "delivery worker step failed");
                Some(poll)
            }
        };
        if let Some(wait) = idle {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = state.outbox_signal.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}
