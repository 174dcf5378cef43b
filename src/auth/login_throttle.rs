//! HUB logins per account: a keyed token bucket (`governor`) by workspace
//! and e-mail, so nobody can guess a contact's password at the speed of the
//! network. Checked before the password is hashed, so a flood of guesses
//! costs no Argon2 work either. Per process, like the workspace rate limit:
//! with N replicas behind a balancer an account gets up to N times the rate.
use crate::domain::Id;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::{num::NonZeroU32, sync::Arc};

/// Attempts allowed at once before the per-minute rate applies: enough for
/// a person who mistypes a few times.
pub const LOGIN_ATTEMPT_BURST: u32 = 10;

/// Past this many accounts tracked, the ones back at a full bucket are
/// dropped, so made-up e-mails cannot grow the map without end.
const MOST_TRACKED: usize = 10_000;

#[derive(Clone)]
pub struct LoginThrottle(Option<Arc<DefaultKeyedRateLimiter<(String, String)>>>);

impl LoginThrottle {
    /// `per_minute` 0 turns the throttle off.
    pub fn new(per_minute: u32) -> Self {
        Self(NonZeroU32::new(per_minute).map(|rate| {
            let burst = NonZeroU32::new(LOGIN_ATTEMPT_BURST.max(per_minute)).unwrap_or(rate);
            Arc::new(RateLimiter::keyed(Quota::per_minute(rate).allow_burst(burst)))
        }))
    }

    /// Whether one more login attempt for this account may go ahead now.
    pub fn allows(&self, workspace_id: &Id, email: &str) -> bool {
        let Some(limiter) = &self.0 else { return true };
        if limiter.len() > MOST_TRACKED {
            limiter.retain_recent();
        }
        limiter.check_key(&(workspace_id.to_string(), email.to_lowercase())).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_nothing_for_that_account_alone() {
        let throttle = LoginThrottle::new(1);
        let ws = Id::generate();
        for _ in 0..LOGIN_ATTEMPT_BURST {
            assert!(throttle.allows(&ws, "anna@example.dk"));
        }
        assert!(!throttle.allows(&ws, "ANNA@example.dk"), "the same account, however spelt");
        assert!(throttle.allows(&ws, "bo@example.dk"), "another account");
        assert!(throttle.allows(&Id::generate(), "anna@example.dk"), "the same e-mail in another workspace");
    }

    #[test]
    fn zero_turns_it_off() {
        let throttle = LoginThrottle::new(0);
        let ws = Id::generate();
        assert!((0..100).all(|_| throttle.allows(&ws, "anna@example.dk")));
    }
}
