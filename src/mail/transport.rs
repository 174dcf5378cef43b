//! Sends mail through a pooled SMTP transport, or, with no SMTP server
//! configured, writes each mail as `<notification id>.eml` into a folder.
//! Both are idempotent per notification: the Message-ID is stable across
//! retries and a rewritten file replaces the earlier one.
use crate::delivery::permanent::Permanent;
use anyhow::Context;
use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{
        Mailbox, MultiPart, SinglePart,
        header::{HeaderName, HeaderValue},
    },
};
use std::path::PathBuf;

#[derive(Clone)]
pub enum Mailer {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Folder(PathBuf),
}

/// A mail ready to go out.
#[derive(Debug, Clone)]
pub struct OutgoingMail {
    /// Names the `.eml` file; the notification id.
    pub id: String,
    pub from_name: String,
    pub from_email: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    pub message_id: String,
    /// Extra headers (List-Unsubscribe, Auto-Submitted, ...).
    pub headers: Vec<(String, String)>,
}

impl Mailer {
    /// `sends_at_once`: how many mails the delivery worker sends at once.
    ///
    /// The pool keeps twice that many connections. lettre hands a finished
    /// connection back to its pool on a spawned task, so the send that takes
    /// the freed slot often finds the pool empty and opens a new connection;
    /// with room for only `sends_at_once`, the surplus was closed again on
    /// its return, and about one mail in fifteen paid for a new SMTP session
    /// (BENCHMARKS.md, fix 24).
    pub fn from_settings(smtp_url: Option<&str>, folder: PathBuf, sends_at_once: u32) -> anyhow::Result<Self> {
        match smtp_url {
            Some(url) => Ok(Mailer::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .context("CUSTOMERHUB_SMTP_URL is not a valid lettre SMTP URL")?
                    .pool_config(lettre::transport::smtp::PoolConfig::new().max_size(sends_at_once.max(1) * 2))
                    .build(),
            )),
            None => {
                std::fs::create_dir_all(&folder)
                    .with_context(|| format!("creating mail folder {}", folder.display()))?;
                Ok(Mailer::Folder(folder))
            }
        }
    }

    pub async fn send(&self, mail: &OutgoingMail) -> anyhow::Result<()> {
        let message = build(mail).context(Permanent)?;
        match self {
            Mailer::Smtp(transport) => match transport.send(message).await {
                Ok(_) => {}
                Err(e) if e.is_permanent() => return Err(anyhow::Error::new(e).context(Permanent)),
                Err(e) => return Err(e.into()),
            },
            Mailer::Folder(dir) => {
                let tmp = dir.join(format!(".{}.eml.tmp", mail.id));
                let path = dir.join(format!("{}.eml", mail.id));
                tokio::fs::write(&tmp, message.formatted()).await?;
                tokio::fs::rename(&tmp, &path).await?;
            }
        }
        Ok(())
    }
}

fn build(mail: &OutgoingMail) -> anyhow::Result<Message> {
    let from = Mailbox::new(Some(mail.from_name.clone()), mail.from_email.parse().context("sender address")?);
    let to: Mailbox = mail.to.parse().context("recipient address")?;
    let mut builder = Message::builder()
        .from(from)
        .to(to)
        .subject(mail.subject.clone())
        .message_id(Some(format!("<{}>", mail.message_id)));
    for (name, value) in &mail.headers {
        let name = HeaderName::new_from_ascii(name.clone()).map_err(|e| anyhow::anyhow!("header {name}: {e}"))?;
        builder = builder.raw_header(HeaderValue::new(name, value.clone()));
    }
    let message = match &mail.html {
        Some(html) => builder.multipart(MultiPart::alternative_plain_html(mail.text.clone(), html.clone()))?,
        None => builder.singlepart(SinglePart::plain(mail.text.clone()))?,
    };
    Ok(message)
}
