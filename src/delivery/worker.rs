use super::backoff;
use crate::{
    app::AppState,
    domain::{Id, notification::NotificationKind, workspace::Workspace},
    error::AppResult,
    mail::OutgoingMail,
    store::{self, outbox::Claimed},
};
use chrono::Duration as ChronoDuration;
use std::{collections::HashMap, time::Duration};
use tokio::task::JoinSet;
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
    Ok(match execute(state, 1).await? {
        0 => ExecutionOutcome::EmptyQueue,
        _ => ExecutionOutcome::TaskCompleted,
    })
}

/// Claims up to `delivery_concurrency` due notifications in one statement,
/// sends them all at once (over the SMTP pool) and records the results;
/// returns how many were handled (0: nothing is due). A replica killed
/// midway has at most this many mails in hand.
pub async fn try_execute_batch(state: &AppState) -> AppResult<usize> {
    execute(state, state.settings.delivery_concurrency.max(1)).await
}

/// How one send ended.
enum Sent {
    /// Sent; the provider's message id where there is one (SMS).
    Ok(Option<String>),
    Suppressed,
    Err(anyhow::Error),
}

/// One claim statement, one lookup of the workspaces and subscriptions, the
/// sends in parallel, and one statement for everything sent: the database
/// work per mail is a fraction of a statement (BENCHMARKS.md, e-mail).
async fn execute(state: &AppState, limit: usize) -> AppResult<usize> {
    let batch = claim(state, limit, &mut Workspaces::default()).await?;
    let n = batch.len();
    let sends = batch.into_iter().map(|send| send.run(state.clone()));
    let outcomes: Vec<(Claimed, Sent)> = futures::future::join_all(sends).await;
    record(state, outcomes).await?;
    Ok(n)
}

/// Delivers until nothing is due (or `stop`), keeping up to
/// `delivery_concurrency` mails in hand: claimed and not yet recorded. The
/// sends run as their own tasks, so while this loop records finished ones
/// and claims more, the others keep going; the SMTP pool never waits for the
/// slowest mail of a batch or for the database. A replica killed midway has
/// at most `delivery_concurrency` mails in hand, as with `try_execute_batch`.
/// Returns how many were handled.
pub async fn deliver_while_due(state: &AppState, stop: &CancellationToken) -> AppResult<usize> {
    let most = state.settings.delivery_concurrency.max(1);
    // Claims and records go in groups of about half the capacity: one
    // statement per few mails, while the other half keeps the pool busy.
    let group = most.div_ceil(2);
    let mut sending: JoinSet<(Claimed, Sent)> = JoinSet::new();
    let mut workspaces = Workspaces::default();
    let mut handled = 0;
    let mut drained = false;
    // A failed claim (the database is away) stops the topping up, but the
    // mails already in hand are still sent and recorded before it is reported.
    let mut claim_failed = None;
    loop {
        let room = most - sending.len();
        if !drained && !stop.is_cancelled() && (room >= group || sending.is_empty()) {
            match claim(state, room, &mut workspaces).await {
                Ok(batch) => {
                    // A short claim: nothing more is due right now.
                    drained = batch.len() < room;
                    for send in batch {
                        sending.spawn(send.run(state.clone()));
                    }
                }
                Err(e) => {
                    drained = true;
                    claim_failed = Some(e);
                }
            }
        }
        let Some(first) = sending.join_next().await else {
            return match claim_failed {
                Some(e) => Err(e),
                None => Ok(handled),
            };
        };
        let mut done = vec![first.map_err(anyhow::Error::from)?];
        // Gather a group to record in one statement, waiting only briefly: a
        // stuck send must not keep the finished ones in hand.
        let until = tokio::time::Instant::now() + GATHER;
        while done.len() < group {
            match tokio::time::timeout_at(until, sending.join_next()).await {
                Ok(Some(next)) => done.push(next.map_err(anyhow::Error::from)?),
                _ => break,
            }
        }
        handled += done.len();
        record(state, done).await?;
    }
}

/// How long finished sends wait for company before they are recorded.
const GATHER: Duration = Duration::from_millis(2);

/// A claimed notification, ready to go out on its own task.
struct Outgoing {
    task: Claimed,
    workspace: Workspace,
    /// Automatic, and its contact unsubscribed after it was queued.
    suppressed: bool,
}

impl Outgoing {
    async fn run(self, state: AppState) -> (Claimed, Sent) {
        let span = tracing::info_span!(
            "deliver",
            notification = %self.task.id,
            channel = %self.task.channel,
            attempt = self.task.attempts
        );
        async move {
            let outcome = if self.suppressed {
                Sent::Suppressed
            } else {
                match send(&state, &self.workspace, &self.task).await {
                    Ok(id) => Sent::Ok(id),
                    Err(e) => Sent::Err(e),
                }
            };
            (self.task, outcome)
        }
        .instrument(span)
        .await
    }
}

/// Claims up to `limit` due notifications in one statement, which also reads
/// whether their contacts are subscribed; their workspaces come from
/// `workspaces`, read once per claim that meets a new one.
async fn claim(state: &AppState, limit: usize, workspaces: &mut Workspaces) -> AppResult<Vec<Outgoing>> {
    let now = state.clock.now();
    let batch =
        store::outbox::claim_due(&state.db, &state.instance_id, now, lease_until(state, now), limit as u64).await?;
    let mut sends = Vec::with_capacity(batch.len());
    for task in batch {
        let workspace = workspaces.get(state, &task.workspace_id).await?;
        // An automatic mail queued before its contact unsubscribed is not sent.
        let automatic = NotificationKind::from_stored(&task.kind).is_some_and(NotificationKind::is_automatic);
        let suppressed = automatic && task.contact_id.is_some() && !task.contact_subscribed;
        sends.push(Outgoing { task, workspace, suppressed });
    }
    Ok(sends)
}

/// Workspaces (sender name and address) as read at most `WORKSPACE_FRESH` ago.
#[derive(Default)]
struct Workspaces(HashMap<Id, (Workspace, std::time::Instant)>);

/// How stale a workspace's sender may be in a long delivery run.
const WORKSPACE_FRESH: Duration = Duration::from_secs(1);

impl Workspaces {
    async fn get(&mut self, state: &AppState, id: &Id) -> AppResult<Workspace> {
        if let Some((ws, read)) = self.0.get(id)
            && read.elapsed() < WORKSPACE_FRESH
        {
            return Ok(ws.clone());
        }
        let ws = store::workspaces::get(&state.db, id).await?;
        self.0.insert(id.clone(), (ws.clone(), std::time::Instant::now()));
        Ok(ws)
    }
}

/// Records how sends ended: everything sent in one statement; suppressed,
/// retried and failed ones one by one (rare).
async fn record(state: &AppState, outcomes: Vec<(Claimed, Sent)>) -> AppResult<()> {
    let owner = &state.instance_id;
    let now = state.clock.now();
    let mut sent = vec![];
    for (task, outcome) in outcomes {
        let channel = task.channel.clone();
        match outcome {
            Sent::Ok(None) => sent.push(task.id),
            Sent::Ok(Some(provider_id)) => {
                store::outbox::mark_sent(&state.db, &task.id, owner, Some(&provider_id), now).await?;
                metrics::counter!("customerhub_deliveries_total", "channel" => channel, "outcome" => "sent")
                    .increment(1);
            }
            Sent::Suppressed => {
                store::outbox::mark_suppressed(&state.db, &task.id, owner, "unsubscribed", now).await?;
                metrics::counter!("customerhub_deliveries_total", "channel" => channel, "outcome" => "suppressed")
                    .increment(1);
            }
            Sent::Err(e) if task.attempts >= state.settings.delivery_max_attempts => {
                let error = format!("{e:#}");
                tracing::warn!(notification = %task.id, %error, "delivery failed for good");
                metrics::counter!("customerhub_deliveries_total", "channel" => channel, "outcome" => "failed")
                    .increment(1);
                store::outbox::mark_failed(&state.db, &task.id, owner, &error, now).await?;
            }
            Sent::Err(e) => {
                let error = format!("{e:#}");
                let wait = backoff::delay(
                    task.attempts,
                    Duration::from_secs(state.settings.delivery_backoff_base_secs),
                    Duration::from_secs(state.settings.delivery_backoff_max_secs),
                );
                tracing::warn!(notification = %task.id, %error, retry_in = ?wait, "delivery failed; will retry");
                metrics::counter!("customerhub_delivery_retries_total", "channel" => channel).increment(1);
                let at = now + ChronoDuration::from_std(wait).unwrap_or(ChronoDuration::hours(1));
                store::outbox::mark_retry(&state.db, &task.id, owner, &error, at, now).await?;
            }
        }
    }
    if !sent.is_empty() {
        store::outbox::mark_sent_many(&state.db, &sent, owner, now).await?;
        metrics::counter!("customerhub_deliveries_total", "channel" => "email", "outcome" => "sent")
            .increment(sent.len() as u64);
        tracing::debug!(count = sent.len(), "delivered");
    }
    Ok(())
}

fn lease_until(state: &AppState, now: crate::clock::Timestamp) -> crate::clock::Timestamp {
    now + ChronoDuration::from_std(state.settings.lease()).unwrap_or(ChronoDuration::seconds(60))
}

/// Sends one notification; returns the provider's message id where there is one (SMS).
async fn send(state: &AppState, workspace: &Workspace, task: &Claimed) -> anyhow::Result<Option<String>> {
    match task.channel.as_str() {
        "sms" => {
            let id = state
                .sms
                .send(&crate::sms::SmsMessage {
                    id: task.id.clone(),
                    from: workspace.sender_name.clone(),
                    to: task.recipient.clone(),
                    text: task.body_text.clone(),
                })
                .await?;
            Ok(Some(id))
        }
        "email" => {
            let headers: Vec<(String, String)> = serde_json::from_str(&task.headers_json).unwrap_or_default();
            state
                .mailer
                .send(&OutgoingMail {
                    id: task.id.clone(),
                    from_name: workspace.sender_name.clone(),
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

/// Runs `deliver_while_due` until `stop` is cancelled: straight on while work
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
        let step = deliver_while_due(&state, &stop);
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
