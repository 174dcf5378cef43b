//! Small validated values. Each `parse` returns the reason it refused, which
//! becomes the description of a `BadRequest` field violation.
use std::{fmt, str::FromStr};

fn clean(s: &str) -> &str {
    s.trim()
}

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// An e-mail address, lower-cased so logins and imports match however it was typed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        let s = clean(s);
        if s.is_empty() {
            return Err("is required");
        }
        if s.len() > 254 {
            return Err("is longer than 254 characters");
        }
        // Display names and comments are not addresses; demand a domain with a dot
        // or localhost-like single label is refused too, since mail would bounce.
        let parsed = email_address::EmailAddress::from_str(s).map_err(|_| "is not a valid e-mail address")?;
        if parsed.display_part() != "" || s.contains(['<', '>', ' ']) || !parsed.domain().contains('.') {
            return Err("is not a valid e-mail address");
        }
        Ok(Self(s.to_lowercase()))
    }

    pub fn parse_optional(s: &str) -> Result<Option<Self>, &'static str> {
        if clean(s).is_empty() { Ok(None) } else { Self::parse(s).map(Some) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A required, single-line name of at most `max` characters.
fn name(s: &str, max: usize) -> Result<String, String> {
    let s = clean(s);
    if s.is_empty() {
        return Err("is required".into());
    }
    if s.chars().count() > max {
        return Err(format!("is longer than {max} characters"));
    }
    if has_control(s) {
        return Err("contains control characters".into());
    }
    Ok(s.to_string())
}

/// A person's first or last name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    pub fn parse(s: &str) -> Result<Self, String> {
        name(s, 100).map(Self)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A company, workspace, area or similar display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(s: &str) -> Result<Self, String> {
        name(s, 200).map(Self)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Optional free text of bounded length (notes, address lines).
pub fn optional_text(s: &str, max: usize) -> Result<String, String> {
    let s = clean(s);
    if s.chars().count() > max {
        return Err(format!("is longer than {max} characters"));
    }
    if has_control(s) {
        return Err("contains control characters".into());
    }
    Ok(s.to_string())
}

/// A phone number as people write it: digits with spaces, dashes,
/// parentheses and a leading `+`; stored as `+` and digits only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        let s = clean(s);
        if s.is_empty() {
            return Err("is required");
        }
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            match c {
                '+' if i == 0 => out.push('+'),
                '0'..='9' => out.push(c),
                ' ' | '-' | '(' | ')' | '.' => {}
                _ => return Err("may contain only digits, spaces, dashes, parentheses and a leading +"),
            }
        }
        let digits = out.chars().filter(char::is_ascii_digit).count();
        if !(6..=15).contains(&digits) {
            return Err("must have between 6 and 15 digits");
        }
        Ok(Self(out))
    }

    /// Empty means "no phone".
    pub fn parse_optional(s: &str) -> Result<Option<Self>, &'static str> {
        if clean(s).is_empty() { Ok(None) } else { Self::parse(s).map(Some) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Locale {
    Da,
    En,
    Sv,
}

impl Locale {
    pub const ALL: [Locale; 3] = [Locale::Da, Locale::En, Locale::Sv];

    pub fn as_str(self) -> &'static str {
        match self {
            Locale::Da => "da",
            Locale::En => "en",
            Locale::Sv => "sv",
        }
    }

    pub fn from_stored(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tone {
    Formal,
    Casual,
}

impl Tone {
    pub const ALL: [Tone; 2] = [Tone::Formal, Tone::Casual];

    pub fn as_str(self) -> &'static str {
        match self {
            Tone::Formal => "formal",
            Tone::Casual => "casual",
        }
    }

    pub fn from_stored(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// An IANA time zone such as `Europe/Copenhagen`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeZone(pub chrono_tz::Tz);

impl TimeZone {
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        let s = clean(s);
        if s.is_empty() {
            return Err("is required");
        }
        s.parse::<chrono_tz::Tz>().map(Self).map_err(|_| "is not an IANA time zone (e.g. Europe/Copenhagen)")
    }
    pub fn name(&self) -> &'static str {
        self.0.name()
    }
}

/// An absolute http(s) URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl(String);

impl HttpUrl {
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        let s = clean(s);
        if s.is_empty() {
            return Err("is required");
        }
        let u = url::Url::parse(s).map_err(|_| "is not a valid URL")?;
        if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
            return Err("must be an http or https URL");
        }
        Ok(Self(s.trim_end_matches('/').to_string()))
    }
    pub fn parse_optional(s: &str) -> Result<Option<Self>, &'static str> {
        if clean(s).is_empty() { Ok(None) } else { Self::parse(s).map(Some) }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// ISO 3166-1 alpha-2, upper case; empty allowed.
pub fn country_code(s: &str) -> Result<String, &'static str> {
    let s = clean(s).to_uppercase();
    if s.is_empty() || (s.len() == 2 && s.chars().all(|c| c.is_ascii_uppercase())) {
        Ok(s)
    } else {
        Err("must be a two-letter ISO 3166-1 country code")
    }
}

/// ISO 4217, upper case.
pub fn currency_code(s: &str) -> Result<String, &'static str> {
    let s = clean(s).to_uppercase();
    if s.len() == 3 && s.chars().all(|c| c.is_ascii_uppercase()) {
        Ok(s)
    } else {
        Err("must be a three-letter ISO 4217 currency code")
    }
}

/// A reference to the customer in another system.
pub fn external_ref(s: &str) -> Result<Option<String>, &'static str> {
    let s = clean(s);
    if s.is_empty() {
        Ok(None)
    } else if s.chars().count() > 128 {
        Err("is longer than 128 characters")
    } else if has_control(s) {
        Err("contains control characters")
    } else {
        Ok(Some(s.to_string()))
    }
}

/// A create's `request_id` as the caller sent it, with a fingerprint of the
/// whole request, made where the request's encoding is known (`grpc`).
#[derive(Debug, Clone, Default)]
pub struct RequestKeyInput {
    pub id: String,
    pub fingerprint: String,
}

/// A client-chosen idempotency key and the fingerprint of the request it
/// came with: the same key with another request is a mistake, not a retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestKey {
    pub id: String,
    pub fingerprint: String,
}

impl RequestKey {
    /// Empty means "not idempotent".
    pub fn parse(input: &RequestKeyInput) -> Result<Option<Self>, &'static str> {
        let s = clean(&input.id);
        if s.is_empty() {
            Ok(None)
        } else if s.len() > 128 || has_control(s) {
            Err("must be at most 128 printable characters")
        } else {
            Ok(Some(Self { id: s.to_string(), fingerprint: input.fingerprint.clone() }))
        }
    }
}

/// A HUB password: long enough to resist guessing, short enough to hash.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub const MIN_CHARS: usize = 10;

    pub fn parse(s: &str) -> Result<Self, String> {
        let n = s.chars().count();
        if n < Self::MIN_CHARS {
            return Err(format!("must be at least {} characters", Self::MIN_CHARS));
        }
        if s.len() > 256 {
            return Err("must be at most 256 bytes".into());
        }
        Ok(Self(s.to_string()))
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// Modules a customer can have enabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Module {
    PunchCards,
    Timesheets,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_lowercased_and_checked() {
        assert_eq!(EmailAddress::parse(" Anna@Example.DK ").unwrap().as_str(), "anna@example.dk");
        for bad in ["", "anna", "anna@", "@example.dk", "anna@localhost", "Anna <anna@example.dk>", "a b@example.dk"] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn phone_is_normalised() {
        assert_eq!(Phone::parse("+45 12 34-56 78").unwrap().as_str(), "+4512345678");
        assert!(Phone::parse("12a45678").is_err());
        assert!(Phone::parse("123").is_err());
        assert!(Phone::parse("45+12345678").is_err());
    }

    #[test]
    fn names_are_required_and_single_line() {
        assert!(PersonName::parse("  ").is_err());
        assert!(PersonName::parse("An\nna").is_err());
        assert_eq!(PersonName::parse(" Anna ").unwrap().as_str(), "Anna");
        assert!(PersonName::parse(&"x".repeat(101)).is_err());
    }

    #[test]
    fn time_zone_and_urls() {
        assert!(TimeZone::parse("Europe/Copenhagen").is_ok());
        assert!(TimeZone::parse("Mars/Olympus").is_err());
        assert_eq!(HttpUrl::parse("https://hub.example.dk/").unwrap().as_str(), "https://hub.example.dk");
        assert!(HttpUrl::parse("ftp://x.dk").is_err());
        assert!(HttpUrl::parse("not a url").is_err());
    }

    #[test]
    fn codes() {
        assert_eq!(country_code("dk").unwrap(), "DK");
        assert!(country_code("DNK").is_err());
        assert_eq!(currency_code("sek").unwrap(), "SEK");
        assert!(currency_code("kr").is_err());
    }
}

#[cfg(test)]
mod properties {
    //! Parsing never panics on any input, and what it accepts is normalised
    //! for good: parsing the stored form again gives the same value.
    use super::*;
    use crate::domain::{Id, format};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn email_parse_is_total_and_idempotent(s in "\\PC{0,80}|[a-zA-Z0-9._%+-]{1,20}@[a-z0-9-]{1,20}\\.[a-z]{2,6}") {
            if let Ok(e) = EmailAddress::parse(&s) {
                prop_assert_eq!(EmailAddress::parse(e.as_str()).unwrap(), e.clone());
                prop_assert_eq!(e.as_str(), e.as_str().to_lowercase());
            }
        }

        #[test]
        fn phone_parse_is_total_and_idempotent(s in "\\PC{0,40}|\\+?[0-9 ()-]{0,25}") {
            if let Ok(p) = Phone::parse(&s) {
                prop_assert_eq!(Phone::parse(p.as_str()).unwrap(), p.clone());
                prop_assert!(p.as_str().chars().all(|c| c.is_ascii_digit() || c == '+'));
            }
        }

        #[test]
        fn names_and_text_are_total(s in "\\PC{0,300}") {
            if let Ok(n) = PersonName::parse(&s) {
                prop_assert_eq!(PersonName::parse(n.as_str()).unwrap(), n.clone());
                prop_assert!(!n.as_str().is_empty() && n.as_str().chars().count() <= 100);
            }
            let _ = DisplayName::parse(&s);
            let _ = optional_text(&s, 200);
            let _ = external_ref(&s);
            let _ = RequestKey::parse(&RequestKeyInput { id: s.clone(), fingerprint: String::new() });
            let _ = country_code(&s);
            let _ = currency_code(&s);
            let _ = HttpUrl::parse(&s);
            let _ = TimeZone::parse(&s);
            let _ = Password::parse(&s);
            let _ = Id::parse(&s);
            let _ = format::parse_date(&s);
        }

        #[test]
        fn page_tokens_never_panic(size in any::<i32>(), token in "\\PC{0,60}") {
            let _ = crate::domain::page::PageRequest::<String>::parse(size, &token);
            let _ = crate::domain::page::PageRequest::<i64>::parse(size, &token);
        }
    }
}
