//! A per-workspace request rate limit (a keyed token bucket from `governor`),
//! so one busy tenant cannot starve the others. Per process: with N replicas
//! behind a balancer a workspace gets up to N times the rate.
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter as Governor};
use std::{num::NonZeroU32, sync::Arc};

#[derive(Clone)]
pub struct RateLimiter(Option<Arc<DefaultKeyedRateLimiter<String>>>);

impl RateLimiter {
    /// `per_second` 0 turns the limit off.
    pub fn new(per_second: u32, burst: u32) -> Self {
        match NonZeroU32::new(per_second) {
            None => Self(None),
            Some(rate) => {
                let burst = NonZeroU32::new(burst.max(per_second)).unwrap_or(rate);
                Self(Some(Arc::new(Governor::keyed(Quota::per_second(rate).allow_burst(burst)))))
            }
        }
    }

    pub fn allows(&self, workspace_id: &str) -> bool {
        match &self.0 {
            None => true,
            Some(l) => l.check_key(&workspace_id.to_string()).is_ok(),
        }
    }
}
