//! Notification texts: a default per kind × locale × tone shipped in
//! `defaults/<kind>/<locale>-<tone>.txt` (first line `Subject: …`, a blank
//! line, then the plain-text body), rendered by minijinja with strict
//! undefined variables, so a misspelt placeholder fails instead of vanishing.
//! The HTML part is derived from the plain text, so both always agree.
use crate::domain::{Locale, Tone};
use anyhow::{Context, anyhow};
use minijinja::{Environment, UndefinedBehavior, Value};

/// Which notification a template writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TemplateKind {
    Welcome,
}

impl TemplateKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TemplateKind::Welcome => "welcome",
        }
    }

    /// The placeholders a template of this kind may use.
    pub fn placeholders(self) -> &'static [&'static str] {
        match self {
            TemplateKind::Welcome => &[
                "business_name",
                "contact_name",
                "contact_first_name",
                "customer_name",
                "activation_link",
                "hub_link",
                "login_email",
                "link_valid_days",
            ],
        }
    }
}

fn default_source(kind: TemplateKind, locale: Locale, tone: Tone) -> &'static str {
    use Locale::*;
    use Tone::*;
    match (kind, locale, tone) {
        (TemplateKind::Welcome, Da, Formal) => include_str!("defaults/welcome/da-formal.txt"),
        (TemplateKind::Welcome, Da, Casual) => include_str!("defaults/welcome/da-casual.txt"),
        (TemplateKind::Welcome, En, Formal) => include_str!("defaults/welcome/en-formal.txt"),
        (TemplateKind::Welcome, En, Casual) => include_str!("defaults/welcome/en-casual.txt"),
        (TemplateKind::Welcome, Sv, Formal) => include_str!("defaults/welcome/sv-formal.txt"),
        (TemplateKind::Welcome, Sv, Casual) => include_str!("defaults/welcome/sv-casual.txt"),
    }
}

/// A template split into its subject and body sources.
pub struct TemplateSource<'a> {
    pub subject: &'a str,
    pub body: &'a str,
}

fn split(source: &str) -> anyhow::Result<TemplateSource<'_>> {
    let (first, rest) = source.split_once('\n').ok_or_else(|| anyhow!("template has no body"))?;
    let subject = first.strip_prefix("Subject:").ok_or_else(|| anyhow!("template must start with `Subject:`"))?;
    Ok(TemplateSource { subject: subject.trim(), body: rest.trim_start_matches(['\r', '\n']) })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

pub struct Templates {
    env: Environment<'static>,
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

impl Templates {
    pub fn new() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // Plain text: nothing is HTML-escaped here; the HTML part escapes itself.
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        Self { env }
    }

    pub fn render_default(
        &self,
        kind: TemplateKind,
        locale: Locale,
        tone: Tone,
        vars: Value,
    ) -> anyhow::Result<Rendered> {
        let source = split(default_source(kind, locale, tone))?;
        self.render(&source, vars)
            .with_context(|| format!("default {} template {}-{}", kind.as_str(), locale.as_str(), tone.as_str()))
    }

    pub fn render(&self, source: &TemplateSource<'_>, vars: Value) -> anyhow::Result<Rendered> {
        let subject = self.env.render_str(source.subject, &vars)?;
        let text = self.env.render_str(source.body, &vars)?;
        // A subject is one line, whatever a placeholder held.
        let subject = subject.split_whitespace().collect::<Vec<_>>().join(" ");
        let html = text_to_html(&text);
        Ok(Rendered { subject, text, html })
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Paragraphs become `<p>`, line breaks `<br>`, and URLs links.
pub fn text_to_html(text: &str) -> String {
    let mut html = String::from(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head>\n\
         <body style=\"font-family: sans-serif; line-height: 1.5; color: #222;\">\n",
    );
    for para in text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
        let lines: Vec<String> = para.lines().map(linkify).collect();
        html.push_str("<p>");
        html.push_str(&lines.join("<br>\n"));
        html.push_str("</p>\n");
    }
    html.push_str("</body></html>\n");
    html
}

fn linkify(line: &str) -> String {
    line.split(' ')
        .map(|word| {
            if word.starts_with("https://") || word.starts_with("http://") {
                let url = escape(word);
                format!("<a href=\"{url}\">{url}</a>")
            } else {
                escape(word)
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use minijinja::context;

    fn vars() -> Value {
        context! {
            business_name => "Rengøring A/S", contact_name => "Anna Jensen", contact_first_name => "Anna",
            customer_name => "Bager Hansen", activation_link => "https://hub.example.dk/activate?token=abc",
            hub_link => "https://hub.example.dk", login_email => "anna@example.dk", link_valid_days => 7,
        }
    }

    #[test]
    fn every_default_welcome_renders_with_the_link() {
        let t = Templates::new();
        for locale in Locale::ALL {
            for tone in Tone::ALL {
                let r = t.render_default(TemplateKind::Welcome, locale, tone, vars()).unwrap();
                assert!(r.text.contains("https://hub.example.dk/activate?token=abc"), "{locale:?} {tone:?}");
                assert!(r.html.contains("<a href=\"https://hub.example.dk/activate?token=abc\">"));
                assert!(!r.subject.is_empty() && !r.subject.contains('\n'));
            }
        }
    }

    #[test]
    fn strict_undefined_refuses_unknown_placeholders() {
        let t = Templates::new();
        let src = TemplateSource { subject: "Hi", body: "{{ no_such_thing }}" };
        assert!(t.render(&src, vars()).is_err());
    }

    #[test]
    fn html_part_escapes_text() {
        assert!(text_to_html("a <b> & c").contains("a &lt;b&gt; &amp; c"));
    }
}
