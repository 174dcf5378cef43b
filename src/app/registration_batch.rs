//! RegisterPunch calls that arrive together share one transaction (group
//! commit). A registration is a dozen round trips to the database, almost
//! all of them the same for one registration as for sixty, so calls queue
//! here and a runner writes whatever has queued in one transaction with one
//! statement per table: the cards locked, their customers and contacts, the
//! erased addresses, the registrations, the notifications, the balances.
//!
//! The rules are `punch_cards`'s own (expiry, thresholds, the notifications),
//! applied to each registration in arrival order; several on one card see
//! each other's balance as if they had come one by one. A registration that
//! fails on its own (its card unseen or expired) is answered and left out;
//! the others go on. Should the transaction itself fail, nothing of it is
//! written and every registration in it is tried again alone, so one that
//! the database refuses cannot fail the others.
//!
//! Runners are tasks of their own, so a caller that goes away does not
//! cancel the others' transaction. At most `registration_batches` run at
//! once (one on SQLite); a registration that finds them all busy waits for
//! the next batch.
use super::{
    AppState,
    punch_cards::{
        NewRegistration, Registered, announce, check_not_expired, cross_thresholds, register_one, registered_event,
        registration, threshold_event,
    },
};
use crate::{
    domain::{Id, StaffPrincipal, format::local_today, punch_card::PunchCard, workspace::Workspace},
    error::{AppError, AppResult},
    notify::{self, Audience},
    store::{self, TransactionTrait},
};
use futures::FutureExt;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::{
    Arc, Mutex,
    atomic::{AtomicUsize, Ordering},
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

/// Most registrations in one transaction.
const MOST_PER_BATCH: usize = 64;

pub struct RegistrationQueue {
    waiting: Mutex<VecDeque<Pending>>,
    runners: Arc<Semaphore>,
    /// Registrations taken by a runner and not yet answered.
    in_batches: AtomicUsize,
    largest_batch: AtomicUsize,
}

struct Pending {
    caller: StaffPrincipal,
    input: NewRegistration,
    reply: oneshot::Sender<AppResult<Registered>>,
}

impl RegistrationQueue {
    pub fn new(runners: usize) -> Self {
        Self {
            waiting: Mutex::new(VecDeque::new()),
            runners: Arc::new(Semaphore::new(runners.max(1))),
            in_batches: AtomicUsize::new(0),
            largest_batch: AtomicUsize::new(0),
        }
    }

    /// Registrations queued for the next batch.
    pub fn waiting(&self) -> usize {
        self.lock().len()
    }

    /// Registrations in batches being written.
    pub fn in_batches(&self) -> usize {
        self.in_batches.load(Ordering::SeqCst)
    }

    /// The most registrations one transaction has held in this process.
    pub fn largest_batch(&self) -> usize {
        self.largest_batch.load(Ordering::SeqCst)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Pending>> {
        // A panic elsewhere cannot leave the queue half-changed: push and drain are single calls.
        self.waiting.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn take(&self) -> Vec<Pending> {
        let mut waiting = self.lock();
        let n = waiting.len().min(MOST_PER_BATCH);
        let batch: Vec<Pending> = waiting.drain(..n).collect();
        self.in_batches.fetch_add(batch.len(), Ordering::SeqCst);
        batch
    }
}

/// Queues a checked registration and waits for its batch's answer.
pub(super) async fn submit(state: &AppState, caller: &StaffPrincipal, input: NewRegistration) -> AppResult<Registered> {
    let (reply, answer) = oneshot::channel();
    let queue = &state.registrations;
    queue.lock().push_back(Pending { caller: caller.clone(), input, reply });
    if let Ok(permit) = queue.runners.clone().try_acquire_owned() {
        tokio::spawn(run(state.clone(), permit));
    }
    answer
        .await
        .map_err(|_| AppError::Unexpected(anyhow::anyhow!("the registration's batch ended without an answer")))?
}

/// Writes batches while registrations wait.
async fn run(state: AppState, mut permit: OwnedSemaphorePermit) {
    loop {
        let batch = state.registrations.take();
        if batch.is_empty() {
            drop(permit);
            // One queued while this runner held the last permit found none
            // free, so it is this runner's to write, unless another runner
            // has taken it or is starting.
            if state.registrations.waiting() == 0 {
                return;
            }
            match state.registrations.runners.clone().try_acquire_owned() {
                Ok(p) => permit = p,
                Err(_) => return,
            }
            continue;
        }
        let n = batch.len();
        state.registrations.largest_batch.fetch_max(n, Ordering::SeqCst);
        metrics::histogram!("customerhub_registration_batch_size").record(n as f64);
        // A panic (a bug) answers this batch's callers INTERNAL, as their
        // dropped replies say, and must not strand the ones queued behind it.
        if AssertUnwindSafe(write_batch(&state, batch)).catch_unwind().await.is_err() {
            tracing::error!(registrations = n, "a registration batch panicked; its calls were answered INTERNAL");
        }
        state.registrations.in_batches.fetch_sub(n, Ordering::SeqCst);
    }
}

async fn write_batch(state: &AppState, batch: Vec<Pending>) {
    let items: Vec<(&StaffPrincipal, &NewRegistration)> = batch.iter().map(|p| (&p.caller, &p.input)).collect();
    match register_many(state, &items).await {
        Ok(answers) => {
            for (p, answer) in batch.into_iter().zip(answers) {
                let _ = p.reply.send(answer);
            }
        }
        // The database is away: alone, each would only wait for it again.
        Err(AppError::Unavailable(why)) => {
            for p in batch {
                let _ = p.reply.send(Err(AppError::Unavailable(why.clone())));
            }
        }
        // Alone already: its own error is its answer.
        Err(e) if batch.len() == 1 => {
            if let Some(p) = batch.into_iter().next() {
                let _ = p.reply.send(Err(e));
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, registrations = batch.len(), "registration batch failed; registering each alone");
            for p in batch {
                let answer = register_one(state, &p.caller, p.input, None).await;
                let _ = p.reply.send(answer);
            }
        }
    }
}

/// Registers `items` in one transaction, in order. The outer error is the
/// transaction's (nothing was written); the inner ones are registrations
/// refused on their own.
async fn register_many(
    state: &AppState,
    items: &[(&StaffPrincipal, &NewRegistration)],
) -> AppResult<Vec<AppResult<Registered>>> {
    let tx = state.db.begin().await?;
    let card_ids: Vec<&Id> = items.iter().map(|(_, r)| &r.card_id).collect::<BTreeSet<_>>().into_iter().collect();
    // Card id -> (its workspace, the card as the batch has changed it so far).
    let mut cards: HashMap<Id, (Id, PunchCard)> = store::punch_cards::lock_many(&tx, &card_ids)
        .await?
        .into_iter()
        .map(|(ws, card)| (card.id.clone(), (ws, card)))
        .collect();
    let customer_ids: Vec<&Id> =
        cards.values().map(|(_, c)| &c.customer_id).collect::<BTreeSet<_>>().into_iter().collect();
    // Customer id -> (its workspace, its audience).
    let mut audiences: HashMap<Id, (Id, Audience)> = HashMap::new();
    for (ws, customer, read) in store::customers::get_many_with_contact_tokens(&tx, &customer_ids).await? {
        audiences.insert(customer.id.clone(), (ws, Audience::from_read(&tx, customer, read).await?));
    }
    let mut workspaces: HashMap<Id, Arc<Workspace>> = HashMap::new();
    for (caller, _) in items {
        if !workspaces.contains_key(&caller.workspace_id) {
            let ws = store::workspace_config::workspace(state, &tx, &caller.workspace_id).await?;
            workspaces.insert(caller.workspace_id.clone(), ws);
        }
    }
    // One query per workspace for every address the batch may mail.
    let mut emails: BTreeMap<&Id, Vec<&str>> = BTreeMap::new();
    for (ws, audience) in audiences.values() {
        emails.entry(ws).or_default().extend(audience.emails());
    }
    let mut erased: HashMap<&Id, HashSet<String>> = HashMap::new();
    for (ws, emails) in emails {
        erased.insert(ws, store::privacy::suppressed_among(&tx, ws, &emails).await?);
    }
    let no_erased = HashSet::new();

    let now = state.clock.now();
    let mut answers = Vec::with_capacity(items.len());
    let mut registrations = vec![];
    let mut plans = vec![];
    let mut changed: BTreeSet<Id> = BTreeSet::new();
    for (caller, input) in items {
        let not_found = || Err(AppError::not_found("punch card", input.card_id.as_str()));
        // Within the caller's workspace and areas, as `punch_cards::get` sees it.
        let Some((card_ws, card)) = cards.get_mut(&input.card_id).filter(|(ws, _)| *ws == caller.workspace_id) else {
            answers.push(not_found());
            continue;
        };
        let Some((_, audience)) = audiences.get(&card.customer_id) else {
            answers.push(not_found());
            continue;
        };
        if !caller.scope().allows_area(audience.customer.area_id.as_ref()) {
            answers.push(not_found());
            continue;
        }
        let ws = &workspaces[&caller.workspace_id];
        let today = local_today(now, ws.time_zone.0);
        if let Err(e) = check_not_expired(ws, card, today) {
            answers.push(Err(e));
            continue;
        }
        let reg = registration(caller, (*input).clone(), card, today, now);
        card.used += reg.amount;
        let locale = audience.locale(ws);
        let erased = erased.get(card_ws).unwrap_or(&no_erased);
        plans.push(
            notify::dispatch::plan(state, &tx, ws, audience, registered_event(card, &reg, locale), erased).await?,
        );
        for kind in cross_thresholds(ws, card) {
            plans.push(
                notify::dispatch::plan(state, &tx, ws, audience, threshold_event(ws, card, kind, locale), erased)
                    .await?,
            );
        }
        card.version += 1;
        card.updated_at = now;
        changed.insert(card.id.clone());
        answers.push(Ok(Registered { registration: reg.clone(), card: card.clone(), today }));
        registrations.push((card_ws.clone(), reg));
    }
    let regs: Vec<(&Id, &_)> = registrations.iter().map(|(ws, r)| (ws, r)).collect();
    store::punch_cards::insert_registrations(&tx, &regs).await?;
    let dispatched = notify::dispatch::write(state, &tx, plans).await?;
    let saved: Vec<(&Id, &PunchCard)> = changed.iter().map(|id| (&cards[id].0, &cards[id].1)).collect();
    store::punch_cards::save_balances(&tx, &saved).await?;
    tx.commit().await?;
    announce(state, &dispatched);
    Ok(answers)
}
