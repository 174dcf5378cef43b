//! Reminder repetition as RFC 5545 recurrence rules, computed by the `rrule`
//! crate in the workspace's time zone at a fixed local hour.
//!
//! Decisions (tested below, documented in the README):
//! - Occurrences are at `hour`:00 local time. Across daylight-saving changes
//!   the local hour stays and the UTC instant moves (08:00 is 07:00 UTC in
//!   Copenhagen winter, 06:00 UTC in summer).
//! - Days that do not exist are skipped, as RFC 5545 says: "monthly on the
//!   31st" fires only in months with 31 days; "yearly on 29 February" only in
//!   leap years. (Callers who want the month's end use "last <weekday>".)
//! - "Never" means once, on the first date.
use super::format::api_date;
use chrono::{DateTime, NaiveDate, TimeZone, Utc, Weekday};
use rrule::RRuleSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frequency {
    Never,
    Daily,
    Weekly,
    Monthly,
    Yearly,
}

impl Frequency {
    pub fn as_str(self) -> &'static str {
        match self {
            Frequency::Never => "never",
            Frequency::Daily => "daily",
            Frequency::Weekly => "weekly",
            Frequency::Monthly => "monthly",
            Frequency::Yearly => "yearly",
        }
    }
    pub fn from_stored(s: &str) -> Self {
        match s {
            "daily" => Frequency::Daily,
            "weekly" => Frequency::Weekly,
            "monthly" => Frequency::Monthly,
            "yearly" => Frequency::Yearly,
            _ => Frequency::Never,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MonthlyBy {
    DayOfMonth,
    /// The n-th (1..=4) or last (-1) weekday of the month.
    Weekday {
        nth: i8,
        weekday: Weekday,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repetition {
    pub frequency: Frequency,
    pub interval: u16,
    /// Weekly: the days; empty means the first date's weekday.
    pub weekdays: Vec<Weekday>,
    pub monthly_by: MonthlyBy,
    /// The last date an occurrence may fall on.
    pub until: Option<NaiveDate>,
}

impl Repetition {
    pub fn never() -> Self {
        Self {
            frequency: Frequency::Never,
            interval: 1,
            weekdays: vec![],
            monthly_by: MonthlyBy::DayOfMonth,
            until: None,
        }
    }
}

pub fn weekday_code(w: Weekday) -> &'static str {
    match w {
        Weekday::Mon => "MO",
        Weekday::Tue => "TU",
        Weekday::Wed => "WE",
        Weekday::Thu => "TH",
        Weekday::Fri => "FR",
        Weekday::Sat => "SA",
        Weekday::Sun => "SU",
    }
}

pub fn weekday_from_code(s: &str) -> Option<Weekday> {
    [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri, Weekday::Sat, Weekday::Sun]
        .into_iter()
        .find(|w| weekday_code(*w) == s)
}

/// The RFC 5545 text for this repetition (DTSTART with TZID, then RRULE).
pub fn rule_text(first: NaiveDate, rep: &Repetition, tz: chrono_tz::Tz, hour: u32) -> String {
    let start = format!("DTSTART;TZID={}:{}T{:02}0000", tz.name(), first.format("%Y%m%d"), hour);
    let mut parts = vec![];
    match rep.frequency {
        Frequency::Never => parts.push("FREQ=DAILY;COUNT=1".to_string()),
        Frequency::Daily => parts.push("FREQ=DAILY".into()),
        Frequency::Weekly => {
            parts.push("FREQ=WEEKLY".into());
            let days: Vec<&str> = if rep.weekdays.is_empty() {
                vec![weekday_code(chrono::Datelike::weekday(&first))]
            } else {
                rep.weekdays.iter().map(|w| weekday_code(*w)).collect()
            };
            parts.push(format!("BYDAY={}", days.join(",")));
        }
        Frequency::Monthly => {
            parts.push("FREQ=MONTHLY".into());
            match rep.monthly_by {
                MonthlyBy::DayOfMonth => parts.push(format!("BYMONTHDAY={}", chrono::Datelike::day(&first))),
                MonthlyBy::Weekday { nth, weekday } => parts.push(format!("BYDAY={}{}", nth, weekday_code(weekday))),
            }
        }
        Frequency::Yearly => {
            parts.push("FREQ=YEARLY".into());
            parts.push(format!("BYMONTH={}", chrono::Datelike::month(&first)));
            parts.push(format!("BYMONTHDAY={}", chrono::Datelike::day(&first)));
        }
    }
    if rep.frequency != Frequency::Never {
        parts.push(format!("INTERVAL={}", rep.interval.max(1)));
        if let Some(until) = rep.until {
            // UNTIL is inclusive and, with a TZID start, given in UTC: the end of that local day.
            let end = tz
                .from_local_datetime(&until.and_hms_opt(23, 59, 59).expect("valid time"))
                .latest()
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_else(|| Utc.from_utc_datetime(&until.and_hms_opt(23, 59, 59).expect("valid time")));
            parts.push(format!("UNTIL={}", end.format("%Y%m%dT%H%M%SZ")));
        }
    }
    format!("{start}\nRRULE:{}", parts.join(";"))
}

/// Up to `count` occurrences strictly after `after`, in order.
pub fn occurrences_after(
    first: NaiveDate,
    rep: &Repetition,
    tz: chrono_tz::Tz,
    hour: u32,
    after: DateTime<Utc>,
    count: usize,
) -> anyhow::Result<Vec<DateTime<Utc>>> {
    let set: RRuleSet = rule_text(first, rep, tz, hour).parse().map_err(|e| anyhow::anyhow!("recurrence rule: {e}"))?;
    let mut out = Vec::with_capacity(count);
    // Iterating from the start is cheap (a daily rule over ten years is ~3,650 steps)
    // and avoids the library's exclusive/inclusive `after` subtleties.
    for dt in &set {
        let utc = dt.with_timezone(&Utc);
        if utc > after {
            out.push(utc);
            if out.len() >= count {
                break;
            }
        }
    }
    Ok(out)
}

/// Every occurrence in `(from, to]`, at most `limit`.
pub fn occurrences_between(
    first: NaiveDate,
    rep: &Repetition,
    tz: chrono_tz::Tz,
    hour: u32,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: usize,
) -> anyhow::Result<Vec<DateTime<Utc>>> {
    let set: RRuleSet = rule_text(first, rep, tz, hour).parse().map_err(|e| anyhow::anyhow!("recurrence rule: {e}"))?;
    let mut out = vec![];
    for dt in &set {
        let utc = dt.with_timezone(&Utc);
        if utc > to {
            break;
        }
        if utc > from {
            out.push(utc);
            if out.len() >= limit {
                break;
            }
        }
    }
    Ok(out)
}

/// The local date of an occurrence, for display.
pub fn local_date(t: DateTime<Utc>, tz: chrono_tz::Tz) -> String {
    api_date(t.with_timezone(&tz).date_naive())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::{America::New_York, Europe::Copenhagen};

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn dates(first: NaiveDate, rep: Repetition, tz: chrono_tz::Tz, n: usize) -> Vec<String> {
        let before_start = tz.from_local_datetime(&first.and_hms_opt(0, 0, 0).unwrap()).unwrap().with_timezone(&Utc);
        occurrences_after(first, &rep, tz, 8, before_start, n).unwrap().into_iter().map(|t| local_date(t, tz)).collect()
    }

    fn rep(frequency: Frequency) -> Repetition {
        Repetition { frequency, ..Repetition::never() }
    }

    #[test]
    fn never_is_once() {
        assert_eq!(dates(d(2026, 3, 1), Repetition::never(), Copenhagen, 5), ["2026-03-01"]);
    }

    #[test]
    fn daily_every_n_and_until() {
        let r = Repetition { interval: 3, until: Some(d(2026, 1, 10)), ..rep(Frequency::Daily) };
        assert_eq!(dates(d(2026, 1, 1), r, Copenhagen, 10), ["2026-01-01", "2026-01-04", "2026-01-07", "2026-01-10"]);
    }

    #[test]
    fn weekly_on_chosen_days_every_other_week() {
        // 2026-01-05 is a Monday.
        let r = Repetition { interval: 2, weekdays: vec![Weekday::Mon, Weekday::Thu], ..rep(Frequency::Weekly) };
        assert_eq!(
            dates(d(2026, 1, 5), r, Copenhagen, 5),
            ["2026-01-05", "2026-01-08", "2026-01-19", "2026-01-22", "2026-02-02"]
        );
        // No days given: the first date's weekday (Wednesday 2026-01-07).
        assert_eq!(
            dates(d(2026, 1, 7), rep(Frequency::Weekly), Copenhagen, 3),
            ["2026-01-07", "2026-01-14", "2026-01-21"]
        );
    }

    #[test]
    fn monthly_on_the_31st_skips_short_months() {
        assert_eq!(
            dates(d(2026, 1, 31), rep(Frequency::Monthly), Copenhagen, 4),
            ["2026-01-31", "2026-03-31", "2026-05-31", "2026-07-31"]
        );
    }

    #[test]
    fn monthly_on_nth_and_last_weekday() {
        let second_tuesday =
            Repetition { monthly_by: MonthlyBy::Weekday { nth: 2, weekday: Weekday::Tue }, ..rep(Frequency::Monthly) };
        assert_eq!(dates(d(2026, 1, 1), second_tuesday, Copenhagen, 3), ["2026-01-13", "2026-02-10", "2026-03-10"]);
        let last_friday =
            Repetition { monthly_by: MonthlyBy::Weekday { nth: -1, weekday: Weekday::Fri }, ..rep(Frequency::Monthly) };
        assert_eq!(
            dates(d(2026, 1, 1), last_friday, Copenhagen, 4),
            ["2026-01-30", "2026-02-27", "2026-03-27", "2026-04-24"]
        );
        let every_third_month_4th_monday = Repetition {
            interval: 3,
            monthly_by: MonthlyBy::Weekday { nth: 4, weekday: Weekday::Mon },
            ..rep(Frequency::Monthly)
        };
        assert_eq!(
            dates(d(2026, 1, 1), every_third_month_4th_monday, Copenhagen, 3),
            ["2026-01-26", "2026-04-27", "2026-07-27"]
        );
    }

    #[test]
    fn yearly_on_29_february_only_in_leap_years() {
        assert_eq!(
            dates(d(2028, 2, 29), rep(Frequency::Yearly), Copenhagen, 3),
            ["2028-02-29", "2032-02-29", "2036-02-29"]
        );
        assert_eq!(
            dates(d(2026, 6, 15), Repetition { interval: 2, ..rep(Frequency::Yearly) }, Copenhagen, 2),
            ["2026-06-15", "2028-06-15"]
        );
    }

    #[test]
    fn local_hour_is_kept_across_daylight_saving_changes() {
        // Copenhagen: summer time from 2026-03-29 and winter time from 2026-10-25.
        let first = d(2026, 3, 28);
        let before = Copenhagen.from_local_datetime(&first.and_hms_opt(0, 0, 0).unwrap()).unwrap().with_timezone(&Utc);
        let got = occurrences_after(first, &rep(Frequency::Daily), Copenhagen, 8, before, 2).unwrap();
        assert_eq!(got[0].to_rfc3339(), "2026-03-28T07:00:00+00:00");
        assert_eq!(got[1].to_rfc3339(), "2026-03-29T06:00:00+00:00");
        let first = d(2026, 10, 24);
        let before = Copenhagen.from_local_datetime(&first.and_hms_opt(0, 0, 0).unwrap()).unwrap().with_timezone(&Utc);
        let got = occurrences_after(first, &rep(Frequency::Daily), Copenhagen, 8, before, 2).unwrap();
        assert_eq!(got[0].to_rfc3339(), "2026-10-24T06:00:00+00:00");
        assert_eq!(got[1].to_rfc3339(), "2026-10-25T07:00:00+00:00");
        // New York: 2026-03-08 spring forward, 2026-11-01 fall back.
        let first = d(2026, 3, 7);
        let before = New_York.from_local_datetime(&first.and_hms_opt(0, 0, 0).unwrap()).unwrap().with_timezone(&Utc);
        let got = occurrences_after(first, &rep(Frequency::Daily), New_York, 8, before, 2).unwrap();
        assert_eq!(got[0].to_rfc3339(), "2026-03-07T13:00:00+00:00");
        assert_eq!(got[1].to_rfc3339(), "2026-03-08T12:00:00+00:00");
        let first = d(2026, 10, 31);
        let before = New_York.from_local_datetime(&first.and_hms_opt(0, 0, 0).unwrap()).unwrap().with_timezone(&Utc);
        let got = occurrences_after(first, &rep(Frequency::Daily), New_York, 8, before, 2).unwrap();
        assert_eq!(got[0].to_rfc3339(), "2026-10-31T12:00:00+00:00");
        assert_eq!(got[1].to_rfc3339(), "2026-11-01T13:00:00+00:00");
    }

    #[test]
    fn between_lists_what_was_missed() {
        let first = d(2026, 1, 1);
        let from = Utc.with_ymd_and_hms(2026, 1, 2, 12, 0, 0).unwrap();
        let to = Utc.with_ymd_and_hms(2026, 1, 5, 12, 0, 0).unwrap();
        let got = occurrences_between(first, &rep(Frequency::Daily), Copenhagen, 8, from, to, 100).unwrap();
        assert_eq!(got.len(), 3, "Jan 3, 4, 5 at 08:00 local");
    }
}
