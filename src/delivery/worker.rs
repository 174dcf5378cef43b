use super::{backoff, pace::Pace, permanent};
use crate::{
    app::AppState,
    domain::{Id, notification::NotificationKind, workspace::Workspace},
    error::AppResult,
    mail::OutgoingMail,
    store::{self, outbox::Claimed},
};
use chrono::Duration as ChronoDuration;
use futures::future::BoxFuture;
use std::{
    collections::{HashMap, VecDeque},
    sync::Arc,
    time::Duration,
};
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
    /// Not sent, and why (`no_longer_allowed`).
    Suppressed(&'static str),
    Err(anyhow::Error),
    /// Not sent: too little of its lease was left (`Outgoing::has_time`).
    GivenBack,
}

/// One claim statement, one lookup of the workspaces and subscriptions, the
/// sends in parallel, and one statement for everything sent: the database
/// work per mail is a fraction of a statement (BENCHMARKS.md, e-mail).
async fn execute(state: &AppState, limit: usize) -> AppResult<usize> {
    let batch = claim(state, limit).await?;
    let n = batch.len();
    let sends = batch.into_iter().map(|send| send.run(state.clone()));
    let outcomes: Vec<(Claimed, Sent)> = futures::future::join_all(sends).await;
    record(state, &outcomes).await?;
    Ok(n)
}

/// Delivers until nothing is due (or `stop`); returns how many were handled.
///
/// A pipeline with three stages that overlap: claiming, sending and
/// recording. `delivery_concurrency` mails are sent at once, each on its own
/// task, and more wait claimed behind them (`pace`), so the SMTP pool does
/// not wait for the database: claims and records go in groups of
/// `delivery_concurrency`, one statement (one commit) per group, while the
/// sends go on. A send that hangs holds back nothing else.
///
/// What a crash leaves: mails claimed and not yet sent are sent by another
/// replica once their lease runs out; mails sent (or being sent) and not yet
/// recorded, at most `MOST_UNRECORDED_ROUNDS` times `delivery_concurrency`,
/// are sent again, with the same Message-ID.
pub async fn deliver_while_due(state: &AppState, stop: &CancellationToken) -> AppResult<usize> {
    let at_once = state.settings.delivery_concurrency.max(1);
    let group = at_once;
    let lease = state.settings.lease();
    let mut pace = Pace::default();
    let mut waiting: VecDeque<Outgoing> = VecDeque::new();
    let mut sending: JoinSet<((Claimed, Sent), Duration)> = JoinSet::new();
    let mut done: Vec<(Claimed, Sent)> = vec![];
    // When the oldest unrecorded send finished: it waits at most `GATHER` for company.
    let mut done_since = tokio::time::Instant::now();
    let mut claiming: Option<BoxFuture<'_, Claim>> = None;
    let mut recording: Option<BoxFuture<'_, Recording>> = None;
    // A record the database refused is tried again (it is idempotent) before
    // the loop gives up: sent mails dropped unrecorded would go out again.
    let mut record_failures = 0u32;
    let mut record_again_at: Option<tokio::time::Instant> = None;
    let mut being_recorded = 0;
    // Whether the batch being recorded gives mails back, and how many
    // recorded batches did: a claim that ran meanwhile may have missed them.
    let mut gives_back = false;
    let mut given_back: u64 = 0;
    let mut handled = 0;
    let mut drained = false;
    // A failed claim (the database is away) stops the topping up, but the
    // mails already in hand are still sent and recorded before it is reported.
    let mut claim_failed = None;
    loop {
        // Sent or being sent, and not yet recorded: what a crash would repeat.
        while sending.len() < at_once
            && sending.len() + done.len() + being_recorded < MOST_UNRECORDED_ROUNDS * at_once
            && let Some(next) = waiting.pop_front()
        {
            if !next.has_time(state.clock.now(), lease) {
                if done.is_empty() {
                    done_since = tokio::time::Instant::now();
                }
                done.push((next.task, Sent::GivenBack));
                continue;
            }
            let state = state.clone();
            sending.spawn(async move {
                let started = std::time::Instant::now();
                (next.run(state).await, started.elapsed())
            });
        }
        let in_hand = waiting.len() + sending.len() + done.len() + being_recorded;
        let capacity = at_once + pace.most_waiting(at_once, lease);
        let room = capacity.saturating_sub(waiting.len() + sending.len());
        // Claims wait until half the capacity is free: fewer, larger claim
        // statements, while the other half still keeps the sends busy.
        let claim_from = group.max(capacity / 2);
        if claiming.is_none() && !drained && !stop.is_cancelled() && (room >= claim_from || in_hand == 0) {
            let since = given_back;
            claiming = Some(Box::pin(async move { (room, since, claim(state, room).await) }));
        }
        let idle = sending.is_empty() && waiting.is_empty() && claiming.is_none();
        let may_record = record_again_at.is_none_or(|at| tokio::time::Instant::now() >= at);
        if recording.is_none()
            && may_record
            && !done.is_empty()
            && (done.len() >= group || done_since.elapsed() >= GATHER || idle)
        {
            let batch = std::mem::take(&mut done);
            being_recorded = batch.len();
            gives_back = batch.iter().any(|(_, sent)| matches!(sent, Sent::GivenBack));
            recording = Some(Box::pin(async move {
                let result = record(state, &batch).await;
                (batch, result)
            }));
        }
        if idle && recording.is_none() && done.is_empty() {
            return match claim_failed {
                Some(e) => Err(e),
                None => Ok(handled),
            };
        }
        tokio::select! {
            Some(finished) = sending.join_next(), if !sending.is_empty() => {
                if done.is_empty() {
                    done_since = tokio::time::Instant::now();
                }
                let (finished, took) = finished.map_err(anyhow::Error::from)?;
                pace.record(took);
                done.push(finished);
            }
            (asked, since, claimed) = async { claiming.as_mut().expect("checked").await }, if claiming.is_some() => {
                claiming = None;
                match claimed {
                    Ok(batch) => {
                        // A short claim: nothing more is due right now, unless
                        // mails were given back while it ran.
                        drained = batch.len() < asked && since == given_back;
                        waiting.extend(batch);
                    }
                    Err(e) => {
                        drained = true;
                        claim_failed = Some(e);
                    }
                }
            }
            (batch, recorded) = async { recording.as_mut().expect("checked").await }, if recording.is_some() => {
                recording = None;
                being_recorded = 0;
                match recorded {
                    Ok(n) => {
                        handled += n;
                        record_failures = 0;
                        record_again_at = None;
                        // What was given back is due again, with a fresh lease to claim.
                        if std::mem::take(&mut gives_back) {
                            given_back += 1;
                            drained = false;
                        }
                    }
                    Err(e) if record_failures + 1 >= RECORD_TRIES => return Err(e),
                    Err(e) => {
                        record_failures += 1;
                        let wait = RECORD_RETRY * 2u32.pow(record_failures - 1);
                        tracing::warn!(error = %e, retry_in = ?wait, "recording deliveries failed; will try again");
                        // Claim nothing more while the database is away; what
                        // is in hand is sent and recorded when it is back.
                        drained = true;
                        record_again_at = Some(tokio::time::Instant::now() + wait);
                        if done.is_empty() {
                            done_since = tokio::time::Instant::now();
                        }
                        done.extend(batch);
                    }
                }
            }
            _ = tokio::time::sleep_until((done_since + GATHER).max(record_again_at.unwrap_or(done_since))),
                if recording.is_none() && !done.is_empty() => {}
        }
    }
}

/// A record in flight: the outcomes (kept to try again) and how it went.
type Recording = (Vec<(Claimed, Sent)>, AppResult<usize>);

/// How often a refused record is tried (waiting 100 ms, then twice as long
/// each time: about 6 s in all, well within a lease) before the loop gives up.
const RECORD_TRIES: u32 = 7;
const RECORD_RETRY: Duration = Duration::from_millis(100);

/// A claim in flight: how many it asked for, how many give-backs had been
/// recorded when it started, and what it got.
type Claim = (usize, u64, AppResult<Vec<Outgoing>>);

/// Sends start only while fewer than this many rounds of
/// `delivery_concurrency` mails are sent and unrecorded: rounds are recorded
/// while the next are sent, and a crash repeats at most this many rounds.
/// Two rounds gave about a fifth fewer mails a second than three
/// (BENCHMARKS.md, fix 13).
const MOST_UNRECORDED_ROUNDS: usize = 3;

/// How long finished sends wait for company before they are recorded.
const GATHER: Duration = Duration::from_millis(2);

/// A claimed notification, ready to go out on its own task.
struct Outgoing {
    task: Claimed,
    /// Until when no other worker takes it.
    lease_until: crate::clock::Timestamp,
    workspace: Arc<Workspace>,
    /// Why it may no longer go out (`no_longer_allowed`), if so.
    suppressed: Option<&'static str>,
}

impl Outgoing {
    /// A send starts only with at least half its lease left, and is given up
    /// after half a lease (`run`), so it ends before another worker may take
    /// the mail. One that waited here too long (the relay slowed down after
    /// it was claimed) is given back unsent instead.
    fn has_time(&self, now: crate::clock::Timestamp, lease: Duration) -> bool {
        let half = ChronoDuration::from_std(lease / 2).unwrap_or(ChronoDuration::seconds(30));
        now + half <= self.lease_until
    }

    async fn run(self, state: AppState) -> (Claimed, Sent) {
        let span = tracing::info_span!(
            "deliver",
            notification = %self.task.id,
            channel = %self.task.channel,
            attempt = self.task.attempts
        );
        async move {
            let outcome = if let Some(why) = self.suppressed {
                Sent::Suppressed(why)
            } else {
                let most = state.settings.lease() / 2;
                match tokio::time::timeout(most, send(&state, &self.workspace, &self.task)).await {
                    Ok(Ok(id)) => Sent::Ok(id),
                    Ok(Err(e)) => Sent::Err(e),
                    Err(_) => Sent::Err(anyhow::anyhow!("no answer within {most:?} (half the delivery lease)")),
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
/// `store::workspace_config`, read again only after a change.
async fn claim(state: &AppState, limit: usize) -> AppResult<Vec<Outgoing>> {
    let now = state.clock.now();
    let until = lease_until(state, now);
    let batch = store::outbox::claim_due(&state.db, &state.instance_id, now, until, limit as u64).await?;
    let mut sends = Vec::with_capacity(batch.len());
    // Once per claim even while the cache is off (its listener reconnecting).
    let mut workspaces: HashMap<Id, Arc<Workspace>> = HashMap::new();
    for task in batch {
        let workspace = match workspaces.get(&task.workspace_id) {
            Some(w) => w.clone(),
            None => {
                let w = store::workspace_config::workspace(state, &state.reads, &task.workspace_id).await?;
                workspaces.insert(task.workspace_id.clone(), w.clone());
                w
            }
        };
        let suppressed = no_longer_allowed(&task);
        sends.push(Outgoing { task, lease_until: until, workspace, suppressed });
    }
    Ok(sends)
}

/// Why a claimed notification may no longer go out, checked right before it
/// would: whether it was allowed was decided when it was queued, and a mail
/// can wait long after (an SMTP outage, a retry of failed deliveries). A
/// mail to a contact (automatic or welcome) needs the contact still there,
/// with HUB access and the same address, and automatic ones a subscription;
/// a book-again SMS needs the customer's SMS consent.
fn no_longer_allowed(task: &Claimed) -> Option<&'static str> {
    use crate::domain::notification::suppress_reason::*;
    let kind = NotificationKind::from_stored(&task.kind)?;
    if kind == NotificationKind::BookAgain {
        return (!task.sms_consent).then_some(SMS_CONSENT_WITHDRAWN);
    }
    let automatic = kind.is_automatic();
    if task.channel != "email" || !(automatic || kind == NotificationKind::Welcome) {
        return None;
    }
    let Some(contact) = &task.contact_now else { return Some(CONTACT_DELETED) };
    if !contact.hub_access {
        Some(NO_HUB_ACCESS)
    } else if !contact.email.eq_ignore_ascii_case(&task.recipient) {
        Some(EMAIL_CHANGED)
    } else if automatic && !contact.subscribed {
        Some(UNSUBSCRIBED)
    } else {
        None
    }
}

/// Records how sends ended: everything sent in one statement; suppressed,
/// retried, failed and given-back ones one by one (rare). Returns how many
/// were handled (given back is not).
///
/// Recording an outcome twice changes nothing the second time (every update
/// requires the lease this worker held), so a refused record is tried again whole.
async fn record(state: &AppState, outcomes: &[(Claimed, Sent)]) -> AppResult<usize> {
    let n = outcomes.iter().filter(|(_, s)| !matches!(s, Sent::GivenBack)).count();
    let owner = &state.instance_id;
    let now = state.clock.now();
    let mut sent = vec![];
    for (task, outcome) in outcomes {
        let channel = task.channel.clone();
        match outcome {
            Sent::Ok(None) => sent.push(task.id.clone()),
            Sent::Ok(Some(provider_id)) => {
                store::outbox::mark_sent(&state.db, &task.id, owner, Some(provider_id), now).await?;
                metrics::counter!("customerhub_deliveries_total", "channel" => channel, "outcome" => "sent")
                    .increment(1);
            }
            Sent::GivenBack => {
                tracing::info!(notification = %task.id, "lease nearly over before the send; given back");
                metrics::counter!("customerhub_deliveries_given_back_total", "channel" => channel).increment(1);
                store::outbox::give_back(&state.db, &task.id, owner, now).await?;
            }
            Sent::Suppressed(why) => {
                store::outbox::mark_suppressed(&state.db, &task.id, owner, why, now).await?;
                metrics::counter!("customerhub_deliveries_total", "channel" => channel, "outcome" => "suppressed")
                    .increment(1);
            }
            Sent::Err(e) if permanent::is_permanent(e) || task.attempts >= state.settings.delivery_max_attempts => {
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
    Ok(n)
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
