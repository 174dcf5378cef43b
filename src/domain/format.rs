//! Dates, amounts and durations as a customer reads them in a notification,
//! and ISO dates as the API carries them.
use super::Locale;
use chrono::{NaiveDate, Utc};

/// Parses an API date (`YYYY-MM-DD`).
pub fn parse_date(s: &str) -> Result<NaiveDate, &'static str> {
    let s = s.trim();
    if s.is_empty() {
        return Err("is required (YYYY-MM-DD)");
    }
    // Four-digit years only: chrono's `%Y` also takes "+12026" and "-2026",
    // which nothing downstream (RRULE, the databases) is meant to see.
    if s.len() != 10 || !s.as_bytes()[0].is_ascii_digit() {
        return Err("is not a date of the form YYYY-MM-DD");
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| "is not a date of the form YYYY-MM-DD")
}

/// Like `parse_date`, but empty means "none".
pub fn parse_optional_date(s: &str) -> Result<Option<NaiveDate>, &'static str> {
    if s.trim().is_empty() { Ok(None) } else { parse_date(s).map(Some) }
}

/// Parses an API timestamp (seconds and nanoseconds since the epoch),
/// truncated to microseconds so it reads back equal on both databases.
/// Years 0001–9999 only, as `google.protobuf.Timestamp` itself defines:
/// PostgreSQL stores no earlier time, and would answer with an error.
pub fn timestamp(seconds: i64, nanos: i32) -> Result<chrono::DateTime<Utc>, &'static str> {
    use chrono::SubsecRound;
    /// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z.
    const RANGE: std::ops::RangeInclusive<i64> = -62_135_596_800..=253_402_300_799;
    if !RANGE.contains(&seconds) {
        return Err("is outside the years 0001 to 9999");
    }
    let nanos = u32::try_from(nanos).map_err(|_| "has negative nanoseconds")?;
    chrono::DateTime::from_timestamp(seconds, nanos).map(|t| t.trunc_subsecs(6)).ok_or("is not a valid time")
}

/// The UTC instant a local date begins in `tz` (the first instant of the
/// day where daylight saving skips or repeats midnight).
pub fn local_day_start(d: NaiveDate, tz: chrono_tz::Tz) -> chrono::DateTime<Utc> {
    use chrono::TimeZone;
    let midnight = d.and_time(chrono::NaiveTime::MIN);
    (0..=3)
        .find_map(|h| tz.from_local_datetime(&(midnight + chrono::Duration::hours(h))).earliest())
        .map_or_else(|| midnight.and_utc(), |t| t.with_timezone(&Utc))
}

pub fn api_date(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// Today in the workspace's time zone.
pub fn local_today(now: chrono::DateTime<Utc>, tz: chrono_tz::Tz) -> NaiveDate {
    now.with_timezone(&tz).date_naive()
}

/// A date as people write it: 24.12.2026 (da), 24 Dec 2026 (en), 2026-12-24 (sv).
pub fn date(d: NaiveDate, locale: Locale) -> String {
    match locale {
        Locale::Da => d.format("%-d.%-m.%Y").to_string(),
        Locale::En => d.format("%-d %b %Y").to_string(),
        Locale::Sv => d.format("%Y-%m-%d").to_string(),
    }
}

/// A number of minutes as a duration: "1 t 30 min", "1 h 30 min", "45 min".
pub fn duration(minutes: i64, locale: Locale) -> String {
    let sign = if minutes < 0 { "-" } else { "" };
    let m = minutes.abs();
    let (h, rest) = (m / 60, m % 60);
    let hour = match locale {
        Locale::Da => "t",
        Locale::En | Locale::Sv => "h",
    };
    match (h, rest) {
        (0, r) => format!("{sign}{r} min"),
        (h, 0) => format!("{sign}{h} {hour}"),
        (h, r) => format!("{sign}{h} {hour} {r} min"),
    }
}

/// Punches with their word: "1 klip", "3 klip", "1 punch", "3 punches", "1 klipp".
pub fn punches(n: i64, locale: Locale) -> String {
    let word = match (locale, n.abs() == 1) {
        (Locale::Da, _) => "klip",
        (Locale::En, true) => "punch",
        (Locale::En, false) => "punches",
        (Locale::Sv, _) => "klipp",
    };
    format!("{n} {word}")
}

/// Hours from minutes, with a decimal comma where the language has one:
/// "1,5 timer", "1.5 hours", "1,5 timmar"; whole hours without decimals.
pub fn hours(minutes: i64, locale: Locale) -> String {
    let whole = minutes % 60 == 0;
    let value = if whole {
        format!("{}", minutes / 60)
    } else {
        let s = format!("{:.2}", minutes as f64 / 60.0);
        let s = s.trim_end_matches('0').to_string();
        if locale == Locale::En { s } else { s.replace('.', ",") }
    };
    let one = minutes == 60;
    let word = match (locale, one) {
        (Locale::Da, true) => "time",
        (Locale::Da, false) => "timer",
        (Locale::En, true) => "hour",
        (Locale::En, false) => "hours",
        (Locale::Sv, true) => "timme",
        (Locale::Sv, false) => "timmar",
    };
    format!("{value} {word}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let d = NaiveDate::from_ymd_opt(2026, 12, 4).unwrap();
        assert_eq!(date(d, Locale::Da), "4.12.2026");
        assert_eq!(date(d, Locale::En), "4 Dec 2026");
        assert_eq!(date(d, Locale::Sv), "2026-12-04");
        assert_eq!(duration(90, Locale::Da), "1 t 30 min");
        assert_eq!(duration(45, Locale::En), "45 min");
        assert_eq!(duration(120, Locale::Sv), "2 h");
        assert_eq!(punches(1, Locale::En), "1 punch");
        assert_eq!(punches(3, Locale::Da), "3 klip");
        assert_eq!(hours(90, Locale::Da), "1,5 timer");
        assert_eq!(hours(90, Locale::En), "1.5 hours");
        assert_eq!(hours(60, Locale::Sv), "1 timme");
        assert_eq!(hours(100, Locale::Da), "1,67 timer");
        assert_eq!(parse_date("2026-02-29"), Err("is not a date of the form YYYY-MM-DD"));
        assert_eq!(parse_date("2028-02-29").unwrap(), NaiveDate::from_ymd_opt(2028, 2, 29).unwrap());
    }
}
