//! Time-entry input as a client sends it, and its parsing into checked
//! values. Every bad field is collected with its API path.
use super::field_mask::mask_paths;
use crate::{
    domain::{
        format::{parse_date, parse_optional_date},
        timesheet::{Period, parse_actual_minutes, parse_billed_minutes, parse_description, parse_title},
    },
    error::{AppError, Violations},
};
use chrono::NaiveDate;

/// A time entry's writable fields, unchecked.
#[derive(Debug, Clone, Default)]
pub struct TimeEntryFields {
    pub title: String,
    pub description: String,
    pub performed_on: String,
    pub billed_minutes: i64,
    pub actual_minutes: Option<i64>,
    pub billable: Option<bool>,
    pub notify: Option<bool>,
}

pub const TIME_ENTRY_MASK_PATHS: &[&str] =
    &["title", "description", "performed_on", "billed_minutes", "actual_minutes", "billable"];

/// Output-only fields, and `notify`, which only matters at registration.
const IMMUTABLE_PATHS: &[&str] = &[
    "id",
    "customer_id",
    "registered_by_staff_user_id",
    "notify",
    "invoice_time",
    "create_time",
    "update_time",
    "etag",
];

/// Checked values of a new entry; `performed_on` is `None` for "today".
#[derive(Debug, Clone)]
pub struct NewEntryValues {
    pub title: String,
    pub description: String,
    pub performed_on: Option<NaiveDate>,
    pub billed_minutes: i64,
    pub actual_minutes: Option<i64>,
    pub billable: bool,
    pub notify: Option<bool>,
}

pub fn parse_new(f: &TimeEntryFields, prefix: &str, v: &mut Violations) -> Option<NewEntryValues> {
    let title = v.check(format!("{prefix}.title"), parse_title(&f.title));
    let description = v.check(format!("{prefix}.description"), parse_description(&f.description));
    let performed_on = v.check(format!("{prefix}.performed_on"), parse_optional_date(&f.performed_on));
    let billed = v.check(format!("{prefix}.billed_minutes"), parse_billed_minutes(f.billed_minutes));
    let actual = v.check(format!("{prefix}.actual_minutes"), parse_actual_minutes(f.actual_minutes));
    Some(NewEntryValues {
        title: title?,
        description: description?,
        performed_on: performed_on?,
        billed_minutes: billed?,
        actual_minutes: actual?,
        billable: f.billable.unwrap_or(true),
        notify: f.notify,
    })
}

/// One masked field's new value.
#[derive(Debug, Clone)]
pub enum Change {
    Title(String),
    Description(String),
    PerformedOn(NaiveDate),
    BilledMinutes(i64),
    ActualMinutes(Option<i64>),
    Billable(bool),
}

/// Checks the mask and the value of every field it names. A masked optional
/// field left unset takes its default, as on create.
pub fn parse_changes(f: &TimeEntryFields, mask: &[String], prefix: &str, v: &mut Violations) -> Vec<Change> {
    let paths = match mask_paths(mask, TIME_ENTRY_MASK_PATHS, IMMUTABLE_PATHS) {
        Ok(paths) => paths,
        Err(AppError::InvalidArgument(bad)) => {
            v.extend(bad);
            return vec![];
        }
        // `mask_paths` refuses only with field violations; nothing else to report.
        Err(_) => return vec![],
    };
    let field = |name: &str| format!("{prefix}.{name}");
    paths
        .iter()
        .filter_map(|p| match p.as_str() {
            "title" => v.check(field(p), parse_title(&f.title)).map(Change::Title),
            "description" => v.check(field(p), parse_description(&f.description)).map(Change::Description),
            "performed_on" => v.check(field(p), parse_date(&f.performed_on)).map(Change::PerformedOn),
            "billed_minutes" => v.check(field(p), parse_billed_minutes(f.billed_minutes)).map(Change::BilledMinutes),
            "actual_minutes" => v.check(field(p), parse_actual_minutes(f.actual_minutes)).map(Change::ActualMinutes),
            "billable" => Some(Change::Billable(f.billable.unwrap_or(true))),
            _ => None,
        })
        .collect()
}

/// An inclusive period from two optional API dates; `to` may not precede `from`.
pub fn parse_period(from: &str, to: &str, v: &mut Violations) -> Period {
    let from = v.check("from", parse_optional_date(from)).flatten();
    let to = v.check("to", parse_optional_date(to)).flatten();
    if let (Some(f), Some(t)) = (from, to)
        && t < f
    {
        v.add("to", "is before `from`");
    }
    Period { from, to }
}
