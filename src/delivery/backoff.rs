//! Exponential backoff with jitter: the n-th retry waits base·2ⁿ⁻¹ capped at
//! `max`, then a random half of it is added or kept ("equal jitter"), so a
//! crowd of failures does not retry in lock-step.
use rand::Rng;
use std::time::Duration;

pub fn delay(attempt: i32, base: Duration, max: Duration) -> Duration {
    let exp = attempt.saturating_sub(1).clamp(0, 30) as u32;
    let full = base.saturating_mul(2u32.saturating_pow(exp)).min(max);
    let half = full / 2;
    half + Duration::from_millis(rand::rng().random_range(0..=half.as_millis() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_and_caps() {
        let base = Duration::from_secs(5);
        let max = Duration::from_secs(3600);
        for attempt in 1..40 {
            let d = delay(attempt, base, max);
            let full = (base * 2u32.pow((attempt - 1).min(20) as u32)).min(max);
            assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d:?}");
        }
        assert!(delay(1, base, max) <= base);
        assert!(delay(30, base, max) <= max);
    }
}
