//! Punch cards (klippekort): balance, derived state, and the threshold rules.
use super::{Id, notification::NotificationKind};
use crate::clock::Timestamp;
use chrono::NaiveDate;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Punches,
    /// Counted in minutes, so fractions of an hour are exact.
    Hours,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Punches => "punches",
            Unit::Hours => "hours",
        }
    }
    pub fn from_stored(s: &str) -> Self {
        if s == "hours" { Unit::Hours } else { Unit::Punches }
    }

    /// The workspace's "punches low" threshold in this unit (X hours for an hours card).
    pub fn threshold(self, punches: i32) -> i64 {
        match self {
            Unit::Punches => punches as i64,
            Unit::Hours => punches as i64 * 60,
        }
    }

    pub fn format(self, amount: i64, locale: super::Locale) -> String {
        match self {
            Unit::Punches => super::format::punches(amount, locale),
            Unit::Hours => super::format::hours(amount, locale),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardState {
    Active,
    UsedUp,
    Overdrawn,
    Expired,
}

/// Which threshold notifications have fired for the current crossing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ThresholdFlags {
    pub low: bool,
    pub used_up: bool,
    pub overdrawn: bool,
}

/// The threshold rules, applied after every balance change under the card's
/// lock. Each notification fires once when its line is crossed downwards and
/// is armed again when the balance rises back above it. When one change
/// crosses several lines, only the most telling is sent (overdrawn over used
/// up over low); the others count as fired, so nobody gets three mails at once.
pub fn evaluate_thresholds(
    remaining: i64,
    low_threshold: i64,
    mut f: ThresholdFlags,
) -> (ThresholdFlags, Vec<NotificationKind>) {
    let mut fire = vec![];
    if remaining < 0 {
        if !f.overdrawn {
            fire.push(NotificationKind::CardOverdrawn);
        }
        f.overdrawn = true;
    } else {
        f.overdrawn = false;
    }
    if remaining <= 0 {
        if !f.used_up && fire.is_empty() {
            fire.push(NotificationKind::CardUsedUp);
        }
        f.used_up = true;
    } else {
        f.used_up = false;
    }
    if remaining <= low_threshold {
        if !f.low && fire.is_empty() {
            fire.push(NotificationKind::PunchesLow);
        }
        f.low = true;
    } else {
        f.low = false;
    }
    (f, fire)
}

#[derive(Debug, Clone)]
pub struct PunchCard {
    pub id: Id,
    pub customer_id: Id,
    pub name: String,
    pub unit: Unit,
    pub total: i64,
    pub used: i64,
    pub start_date: NaiveDate,
    /// The first day the card is no longer valid.
    pub expiry_date: Option<NaiveDate>,
    pub created_by: Option<Id>,
    pub notify: Option<bool>,
    pub flags: ThresholdFlags,
    pub expiring_fired: bool,
    pub expired_fired: bool,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl PunchCard {
    pub fn remaining(&self) -> i64 {
        self.total - self.used
    }

    pub fn is_expired_on(&self, today: NaiveDate) -> bool {
        self.expiry_date.is_some_and(|e| today >= e)
    }

    pub fn state_on(&self, today: NaiveDate) -> CardState {
        match self.remaining() {
            r if r < 0 => CardState::Overdrawn,
            0 => CardState::UsedUp,
            _ if self.is_expired_on(today) => CardState::Expired,
            _ => CardState::Active,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Registration {
    pub id: Id,
    pub punch_card_id: Id,
    pub customer_id: Id,
    pub date: NaiveDate,
    pub description: String,
    pub amount: i64,
    pub registered_by: Option<Id>,
    pub notify: Option<bool>,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;
    use NotificationKind::*;

    fn run(steps: &[i64], x: i64) -> Vec<Vec<NotificationKind>> {
        let mut f = ThresholdFlags::default();
        steps
            .iter()
            .map(|r| {
                let (nf, fire) = evaluate_thresholds(*r, x, f);
                f = nf;
                fire
            })
            .collect()
    }

    #[test]
    fn each_line_fires_once_per_crossing() {
        // 10 → 3 → 2 (low) → 1 → 0 (used up) → -2 (overdrawn) → -3
        assert_eq!(
            run(&[10, 3, 2, 1, 0, -2, -3], 2),
            vec![vec![], vec![], vec![PunchesLow], vec![], vec![CardUsedUp], vec![CardOverdrawn], vec![]]
        );
    }

    #[test]
    fn rising_above_a_line_arms_it_again() {
        // low at 2, back to 5 (re-armed), low again at 1
        assert_eq!(run(&[2, 5, 1], 2), vec![vec![PunchesLow], vec![], vec![PunchesLow]]);
        // used up, corrected back to 1, used up again
        assert_eq!(run(&[0, 1, 0], 0), vec![vec![CardUsedUp], vec![], vec![CardUsedUp]]);
    }

    #[test]
    fn a_jump_over_several_lines_sends_the_most_telling_only() {
        assert_eq!(run(&[10, -1], 2), vec![vec![], vec![CardOverdrawn]]);
        assert_eq!(run(&[10, 0], 2), vec![vec![], vec![CardUsedUp]]);
        // Back to 0 from overdrawn is not a new "used up".
        assert_eq!(run(&[-1, 0], 2), vec![vec![CardOverdrawn], vec![]]);
    }

    #[test]
    fn state_is_derived() {
        let today = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
        let mut c = PunchCard {
            id: Id::generate(),
            customer_id: Id::generate(),
            name: "x".into(),
            unit: Unit::Punches,
            total: 10,
            used: 3,
            start_date: today,
            expiry_date: Some(today),
            created_by: None,
            notify: None,
            flags: ThresholdFlags::default(),
            expiring_fired: false,
            expired_fired: false,
            version: 1,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        };
        assert_eq!(c.state_on(today), CardState::Expired);
        assert_eq!(c.state_on(today.pred_opt().unwrap()), CardState::Active);
        c.used = 10;
        assert_eq!(c.state_on(today), CardState::UsedUp);
        c.used = 11;
        assert_eq!(c.state_on(today), CardState::Overdrawn);
    }
}
