//! Notification texts: a default per kind × locale × tone shipped in
//! `defaults/<kind>/<locale>-<tone>.txt` (first line `Subject: …`, a blank
//! line, then the plain-text body), optionally overridden per workspace, and
//! rendered by minijinja with strict undefined variables, so a misspelt
//! placeholder is refused when saved instead of vanishing from a mail.
//! The HTML part is derived from the plain text, so both always agree.
use crate::{
    domain::{Locale, Tone, notification::NotificationKind},
    error::Violations,
};
use anyhow::{Context, anyhow};
use minijinja::{Environment, UndefinedBehavior, Value};
use std::{
    collections::{BTreeMap, HashMap},
    sync::{PoisonError, RwLock},
};

const COMMON: &[&str] = &["business_name", "contact_name", "contact_first_name", "customer_name", "hub_link"];

/// The placeholders a template of this kind may use.
pub fn placeholders(kind: NotificationKind) -> Vec<&'static str> {
    use NotificationKind::*;
    let extra: &[&str] = match kind {
        Welcome => &["activation_link", "login_email", "link_valid_days"],
        CardCreated => &["card_name", "card_total", "start_date", "expiry_date", "punches_left", "unsubscribe_link"],
        PunchRegistered => &[
            "card_name",
            "registration_date",
            "registration_description",
            "registration_amount",
            "punches_left",
            "unsubscribe_link",
        ],
        TimeRegistered => &["entry_title", "entry_date", "entry_duration", "entry_description", "unsubscribe_link"],
        PunchesLow => &["card_name", "punches_left", "booking_link", "unsubscribe_link"],
        CardUsedUp => &["card_name", "card_total", "booking_link", "unsubscribe_link"],
        CardExpiring => &["card_name", "punches_left", "expiry_date", "days_left", "unsubscribe_link"],
        CardExpired => &["card_name", "punches_left", "expiry_date", "unsubscribe_link"],
        CardOverdrawn => &["card_name", "card_total", "overdrawn_by", "unsubscribe_link"],
        StaffReminder => {
            return vec![
                "business_name",
                "staff_name",
                "customer_name",
                "reminder_name",
                "reminder_type",
                "reminder_text",
                "occurrence_date",
            ];
        }
        BookAgain => return vec!["business_name", "customer_name", "booking_link"],
    };
    COMMON.iter().chain(extra).copied().collect()
}

/// Values a preview fills in.
pub fn sample_vars(kind: NotificationKind) -> Value {
    let samples: BTreeMap<&str, &str> = [
        ("business_name", "Rengøring A/S"),
        ("contact_name", "Anna Jensen"),
        ("contact_first_name", "Anna"),
        ("customer_name", "Bager Hansen ApS"),
        ("hub_link", "https://hub.example.dk"),
        ("unsubscribe_link", "https://hub.example.dk/unsubscribe?token=sample"),
        ("activation_link", "https://hub.example.dk/activate?token=sample"),
        ("login_email", "anna@example.dk"),
        ("link_valid_days", "7"),
        ("card_name", "Vinduespudsning 2026"),
        ("card_total", "10 klip"),
        ("start_date", "1.3.2026"),
        ("expiry_date", "28.2.2027"),
        ("punches_left", "3 klip"),
        ("registration_date", "12.5.2026"),
        ("registration_description", "Vinduespudsning, stueetage"),
        ("registration_amount", "1 klip"),
        ("entry_title", "Kontorrengøring"),
        ("entry_date", "12.5.2026"),
        ("entry_duration", "1 t 30 min"),
        ("entry_description", "Ekstra rengøring af køkken"),
        ("booking_link", "https://book.example.dk/?ref=sample"),
        ("days_left", "30"),
        ("overdrawn_by", "2 klip"),
        ("staff_name", "Sune Supervisor"),
        ("reminder_name", "Forny kontrakt"),
        ("reminder_type", "Kontrakt"),
        ("reminder_text", "Kontrakten udløber ved årets udgang."),
        ("occurrence_date", "1.12.2026"),
    ]
    .into_iter()
    .collect();
    let map: BTreeMap<&str, &str> =
        placeholders(kind).into_iter().map(|p| (p, samples.get(p).copied().unwrap_or("…"))).collect();
    Value::from_serialize(map)
}

macro_rules! defaults {
    ($($kind:ident => $dir:literal),* $(,)?) => {
        fn default_source(kind: NotificationKind, locale: Locale, tone: Tone) -> &'static str {
            match (kind, locale, tone) {
                $(
                    (NotificationKind::$kind, Locale::Da, Tone::Formal) => include_str!(concat!("defaults/", $dir, "/da-formal.txt")),
                    (NotificationKind::$kind, Locale::Da, Tone::Casual) => include_str!(concat!("defaults/", $dir, "/da-casual.txt")),
                    (NotificationKind::$kind, Locale::En, Tone::Formal) => include_str!(concat!("defaults/", $dir, "/en-formal.txt")),
                    (NotificationKind::$kind, Locale::En, Tone::Casual) => include_str!(concat!("defaults/", $dir, "/en-casual.txt")),
                    (NotificationKind::$kind, Locale::Sv, Tone::Formal) => include_str!(concat!("defaults/", $dir, "/sv-formal.txt")),
                    (NotificationKind::$kind, Locale::Sv, Tone::Casual) => include_str!(concat!("defaults/", $dir, "/sv-casual.txt")),
                )*
            }
        }
    };
}

defaults!(
    Welcome => "welcome",
    CardCreated => "card_created",
    PunchRegistered => "punch_registered",
    TimeRegistered => "time_registered",
    PunchesLow => "punches_low",
    CardUsedUp => "card_used_up",
    CardExpiring => "card_expiring",
    CardExpired => "card_expired",
    CardOverdrawn => "card_overdrawn",
    StaffReminder => "staff_reminder",
    BookAgain => "book_again",
);

/// A template's subject and body sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateSource {
    pub subject: String,
    pub body: String,
}

impl TemplateSource {
    pub fn default_for(kind: NotificationKind, locale: Locale, tone: Tone) -> Self {
        split(default_source(kind, locale, tone)).expect("shipped templates are well-formed (tested)")
    }
}

fn split(source: &str) -> anyhow::Result<TemplateSource> {
    let (first, rest) = source.split_once('\n').ok_or_else(|| anyhow!("template has no body"))?;
    let subject = first.strip_prefix("Subject:").ok_or_else(|| anyhow!("template must start with `Subject:`"))?;
    Ok(TemplateSource { subject: subject.trim().to_string(), body: rest.trim_start_matches(['\r', '\n']).to_string() })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
}

impl Rendered {
    /// The text as HTML (`text_to_html`), made only where a caller sends
    /// this text as it is: the notification engine adds a footer first.
    pub fn html(&self) -> String {
        text_to_html(&self.text)
    }
}

pub struct Templates {
    /// For checking sources (`validate`), never holds a template.
    env: Environment<'static>,
    /// Sources compiled once and kept, for `render`.
    compiled: RwLock<Compiled>,
}

/// A render compiled its template from source every time, twice per
/// notification (BENCHMARKS.md, fix 28). A workspace has a few dozen
/// templates, so they are kept compiled, keyed by their source, so that an
/// edited template is compiled anew and never confused with the old one.
struct Compiled {
    env: Environment<'static>,
    names: HashMap<String, String>,
}

/// More distinct sources than this (many workspaces, many edits) and the
/// cache starts over, so it cannot grow without bound.
const MOST_COMPILED: usize = 2048;

fn new_env() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // Plain text: nothing is HTML-escaped here; the HTML part escapes itself.
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

impl Templates {
    pub fn new() -> Self {
        Self { env: new_env(), compiled: RwLock::new(Compiled { env: new_env(), names: HashMap::new() }) }
    }

    /// Renders `source`, compiled on its first use and kept.
    fn render_source(&self, source: &str, vars: &Value) -> Result<String, minijinja::Error> {
        {
            let compiled = self.compiled.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(name) = compiled.names.get(source) {
                return compiled.env.get_template(name)?.render(vars);
            }
        }
        let mut compiled = self.compiled.write().unwrap_or_else(PoisonError::into_inner);
        let Compiled { env, names } = &mut *compiled;
        if !names.contains_key(source) {
            if names.len() >= MOST_COMPILED {
                env.clear_templates();
                names.clear();
            }
            let name = format!("template {}", names.len() + 1);
            // A source that does not compile is not kept: it fails here each time.
            env.add_template_owned(name.clone(), source.to_owned())?;
            names.insert(source.to_owned(), name);
        }
        env.get_template(&names[source])?.render(vars)
    }

    pub fn render_default(
        &self,
        kind: NotificationKind,
        locale: Locale,
        tone: Tone,
        vars: Value,
    ) -> anyhow::Result<Rendered> {
        self.render(&TemplateSource::default_for(kind, locale, tone), vars)
            .with_context(|| format!("default {} template {}-{}", kind.as_str(), locale.as_str(), tone.as_str()))
    }

    pub fn render(&self, source: &TemplateSource, vars: Value) -> anyhow::Result<Rendered> {
        let subject = self.render_source(&source.subject, &vars)?;
        let text = self.render_source(&source.body, &vars)?;
        // A subject is one line, whatever a placeholder held.
        let subject = subject.split_whitespace().collect::<Vec<_>>().join(" ");
        Ok(Rendered { subject, text })
    }

    /// Checks syntax and placeholders, naming `template.subject` or
    /// `template.body` and the offending placeholder.
    pub fn validate(&self, kind: NotificationKind, source: &TemplateSource) -> Violations {
        let allowed = placeholders(kind);
        let mut v = Violations::new();
        for (field, text, max) in [("template.subject", &source.subject, 300), ("template.body", &source.body, 20_000)]
        {
            if text.trim().is_empty() {
                v.add(field, "is required");
                continue;
            }
            if text.chars().count() > max {
                v.add(field, format!("is longer than {max} characters"));
                continue;
            }
            match self.env.template_from_str(text) {
                Err(e) => v.add(field, format!("has a syntax error: {}", e.detail().unwrap_or("invalid template"))),
                Ok(t) => {
                    let mut unknown: Vec<String> =
                        t.undeclared_variables(false).into_iter().filter(|n| !allowed.contains(&n.as_str())).collect();
                    unknown.sort();
                    for name in unknown {
                        v.add(
                            field,
                            format!("uses the unknown placeholder {{{{ {name} }}}}; allowed: {}", allowed.join(", ")),
                        );
                    }
                }
            }
        }
        v
    }
}

/// Appends `s` with `& < > "` escaped, in one pass.
fn push_escaped(out: &mut String, s: &str) {
    let mut rest = s;
    while let Some(i) = rest.find(['&', '<', '>', '"']) {
        out.push_str(&rest[..i]);
        out.push_str(match rest.as_bytes()[i] {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            _ => "&quot;",
        });
        rest = &rest[i + 1..];
    }
    out.push_str(rest);
}

/// Paragraphs become `<p>`, line breaks `<br>`, and URLs links. Written in
/// one pass into one string: every notification e-mail is made with it.
pub fn text_to_html(text: &str) -> String {
    const HEAD: &str = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head>\n\
         <body style=\"font-family: sans-serif; line-height: 1.5; color: #222;\">\n";
    let mut html = String::with_capacity(HEAD.len() + text.len() * 5 / 4 + 64);
    html.push_str(HEAD);
    for para in text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
        html.push_str("<p>");
        for (n, line) in para.lines().enumerate() {
            if n > 0 {
                html.push_str("<br>\n");
            }
            push_linkified(&mut html, line);
        }
        html.push_str("</p>\n");
    }
    html.push_str("</body></html>\n");
    html
}

fn push_linkified(out: &mut String, line: &str) {
    for (n, word) in line.split(' ').enumerate() {
        if n > 0 {
            out.push(' ');
        }
        if word.starts_with("https://") || word.starts_with("http://") {
            out.push_str("<a href=\"");
            push_escaped(out, word);
            out.push_str("\">");
            push_escaped(out, word);
            out.push_str("</a>");
        } else {
            push_escaped(out, word);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(subject: &str, body: &str) -> TemplateSource {
        TemplateSource { subject: subject.into(), body: body.into() }
    }

    fn vars(name: &str) -> Value {
        Value::from_serialize(BTreeMap::from([("contact_first_name", name)]))
    }

    fn kept(t: &Templates) -> usize {
        t.compiled.read().unwrap().names.len()
    }

    #[test]
    fn a_template_is_compiled_once_and_rendered_with_each_call_s_values() {
        let t = Templates::new();
        let s = source("Hej {{ contact_first_name }}", "Kære {{ contact_first_name }}");
        let first = t.render(&s, vars("Anna")).unwrap();
        let second = t.render(&s, vars("Bo")).unwrap();
        assert_eq!((first.subject.as_str(), first.text.as_str()), ("Hej Anna", "Kære Anna"));
        assert_eq!((second.subject.as_str(), second.text.as_str()), ("Hej Bo", "Kære Bo"));
        assert_eq!(kept(&t), 2, "the subject and the body, each once");
    }

    #[test]
    fn an_edited_template_renders_as_edited() {
        let t = Templates::new();
        t.render(&source("Hej {{ contact_first_name }}", "Før"), vars("Anna")).unwrap();
        let edited = t.render(&source("Hej {{ contact_first_name }}", "Efter"), vars("Anna")).unwrap();
        assert_eq!(edited.text, "Efter");
        assert_eq!(kept(&t), 3);
    }

    #[test]
    fn a_template_that_does_not_compile_fails_each_time_and_is_not_kept() {
        let t = Templates::new();
        let broken = source("Hej", "{% if %}");
        assert!(t.render(&broken, vars("Anna")).is_err());
        assert!(t.render(&broken, vars("Anna")).is_err());
        assert_eq!(kept(&t), 1, "only the subject");
        // A missing value fails the render, not the compiled template.
        let strict = source("Hej", "{{ unknown }}");
        assert!(t.render(&strict, vars("Anna")).is_err());
        assert_eq!(t.render(&source("Hej", "Kære {{ contact_first_name }}"), vars("Bo")).unwrap().text, "Kære Bo");
    }

    #[test]
    fn the_cache_starts_over_instead_of_growing_without_bound() {
        let t = Templates::new();
        for i in 0..MOST_COMPILED + 10 {
            let r =
                t.render(&source("Hej", &format!("nr. {i} til {{{{ contact_first_name }}}}")), vars("Anna")).unwrap();
            assert_eq!(r.text, format!("nr. {i} til Anna"));
        }
        assert!(kept(&t) <= MOST_COMPILED, "{}", kept(&t));
        assert_eq!(
            t.render(&source("Hej", "nr. 3 til {{ contact_first_name }}"), vars("Bo")).unwrap().text,
            "nr. 3 til Bo"
        );
    }

    #[test]
    fn every_default_is_valid_and_renders_with_samples() {
        let t = Templates::new();
        for kind in NotificationKind::ALL {
            for locale in Locale::ALL {
                for tone in Tone::ALL {
                    let source = TemplateSource::default_for(kind, locale, tone);
                    let v = t.validate(kind, &source);
                    assert!(v.is_empty(), "{kind:?} {locale:?} {tone:?}: {v:?}");
                    let r = t.render(&source, sample_vars(kind)).unwrap();
                    assert!(!r.subject.is_empty() && !r.text.is_empty(), "{kind:?} {locale:?} {tone:?}");
                }
            }
        }
    }

    #[test]
    fn html_has_paragraphs_breaks_links_and_escapes() {
        let html = text_to_html("Hej & <du>\nSe https://x.dk/?a=1&b=\"2\"\n\n  Næste  \n\n\n");
        let body = html.split_once("\">\n").unwrap().1;
        assert_eq!(
            body,
            "<p>Hej &amp; &lt;du&gt;<br>\nSe <a href=\"https://x.dk/?a=1&amp;b=&quot;2&quot;\">\
             https://x.dk/?a=1&amp;b=&quot;2&quot;</a></p>\n<p>Næste</p>\n</body></html>\n"
        );
        assert!(html.starts_with("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head>\n<body style="));
    }

    #[test]
    fn welcome_carries_the_activation_link() {
        let t = Templates::new();
        for locale in Locale::ALL {
            for tone in Tone::ALL {
                let r =
                    t.render_default(NotificationKind::Welcome, locale, tone, sample_vars(NotificationKind::Welcome));
                let r = r.unwrap();
                assert!(r.text.contains("https://hub.example.dk/activate?token=sample"), "{locale:?} {tone:?}");
                assert!(r.html().contains("<a href=\"https://hub.example.dk/activate?token=sample\">"));
            }
        }
    }

    #[test]
    fn validation_names_unknown_placeholders_and_syntax_errors() {
        let t = Templates::new();
        let bad = TemplateSource {
            subject: "Hej {{ contact_name }}".into(),
            body: "{{ card_nme }} {{ punches_left }}".into(),
        };
        let v = t.validate(NotificationKind::PunchesLow, &bad);
        assert_eq!(v.items().len(), 1);
        assert_eq!(v.items()[0].field, "template.body");
        assert!(v.items()[0].description.contains("card_nme"));
        let broken = TemplateSource { subject: "{% if %}".into(), body: "ok".into() };
        let v = t.validate(NotificationKind::PunchesLow, &broken);
        assert_eq!(v.items()[0].field, "template.subject");
        assert!(v.items()[0].description.contains("syntax"));
    }

    #[test]
    fn html_part_escapes_text() {
        assert!(text_to_html("a <b> & c").contains("a &lt;b&gt; &amp; c"));
    }
}
