//! Timesheets (SPEC §5): time entries per customer, their values and totals.
use super::{DisplayName, Id};
use crate::clock::Timestamp;
use chrono::NaiveDate;

/// The most minutes one entry may carry (a year), so sums can never overflow.
pub const MAX_MINUTES: i64 = 366 * 24 * 60;

#[derive(Debug, Clone)]
pub struct TimeEntry {
    pub id: Id,
    pub customer_id: Id,
    pub title: String,
    pub description: String,
    pub performed_on: NaiveDate,
    pub billed_minutes: i64,
    pub actual_minutes: Option<i64>,
    pub billable: bool,
    pub registered_by: Id,
    /// The per-entry notification choice made at registration.
    pub notify: Option<bool>,
    pub invoiced_at: Option<Timestamp>,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl TimeEntry {
    pub fn is_invoiced(&self) -> bool {
        self.invoiced_at.is_some()
    }
}

/// An inclusive range of days; either end may be open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Period {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

/// Which entries a list shows.
#[derive(Debug, Clone, Copy, Default)]
pub struct TimeEntryFilter {
    pub period: Period,
    pub billable: Option<bool>,
    pub invoiced: Option<bool>,
}

/// Sums of billed minutes; `invoiced + not_invoiced == billable`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimesheetTotals {
    pub billable_minutes: i64,
    pub non_billable_minutes: i64,
    pub invoiced_minutes: i64,
    pub not_invoiced_minutes: i64,
    pub entry_count: i64,
}

/// What marking entries invoiced did.
#[derive(Debug, Clone)]
pub struct Invoicing {
    pub invoiced_at: Timestamp,
    pub marked: Vec<TimeEntry>,
    pub already_invoiced: Vec<TimeEntry>,
}

/// A title follows the rules of display names: required, one line, ≤ 200 characters.
pub fn parse_title(s: &str) -> Result<String, String> {
    DisplayName::parse(s).map(|n| n.as_str().to_string())
}

/// Free text of at most 2000 characters; unlike names it may span lines.
pub fn parse_description(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s.chars().count() > 2000 {
        return Err("is longer than 2000 characters".into());
    }
    if s.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err("contains control characters".into());
    }
    Ok(s.to_string())
}

/// Billed time: whole minutes, more than 0.
pub fn parse_billed_minutes(n: i64) -> Result<i64, String> {
    match n {
        n if n <= 0 => Err("must be more than 0 minutes".into()),
        n if n > MAX_MINUTES => Err(format!("must be at most {MAX_MINUTES} minutes")),
        n => Ok(n),
    }
}

/// Actual time: whole minutes, 0 or more, when recorded.
pub fn parse_actual_minutes(n: Option<i64>) -> Result<Option<i64>, String> {
    match n {
        Some(n) if n < 0 => Err("must not be negative".into()),
        Some(n) if n > MAX_MINUTES => Err(format!("must be at most {MAX_MINUTES} minutes")),
        n => Ok(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_checked() {
        assert!(parse_title(" ").is_err());
        assert!(parse_title(&"x".repeat(201)).is_err());
        assert_eq!(parse_title(" Vinduer ").unwrap(), "Vinduer");
        assert_eq!(parse_description("a\nb").unwrap(), "a\nb");
        assert!(parse_description("a\u{7}b").is_err());
        assert!(parse_description(&"x".repeat(2001)).is_err());
        assert!(parse_billed_minutes(0).is_err());
        assert!(parse_billed_minutes(MAX_MINUTES + 1).is_err());
        assert_eq!(parse_billed_minutes(90), Ok(90));
        assert!(parse_actual_minutes(Some(-1)).is_err());
        assert_eq!(parse_actual_minutes(Some(0)), Ok(Some(0)));
        assert_eq!(parse_actual_minutes(None), Ok(None));
    }
}
