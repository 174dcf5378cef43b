//! In-process SMTP sink for integration tests.
//!
//! A small, real ESMTP server (plain TCP, no TLS, no AUTH) bound to
//! `127.0.0.1:<random port>` that records every message it receives, so tests
//! can assert on what the service actually sent through lettre.
//!
//! ```ignore
//! let sink = SmtpSink::start().await;
//! // configure the service with `sink.url()` ...
//! let mails = sink.wait_for(1).await;
//! assert_eq!(mails[0].subject(), "Welcome");
//! ```
//!
//! Notes:
//! * lettre URL: `smtp://127.0.0.1:PORT` **without** a `?tls=` query parameter.
//!   In lettre 0.11 (`transport/smtp/connection_url.rs`) the pair
//!   `("smtp", no tls param)` only sets the port and leaves `SmtpInfo::tls` at
//!   its default `Tls::None`: no implicit TLS and no STARTTLS (not even
//!   opportunistic). `?tls=required` / `?tls=opportunistic` would request
//!   STARTTLS and `smtps://` means implicit TLS; none of these work here.
//!   (`AsyncSmtpTransport::from_url` itself is only compiled when one of
//!   lettre's TLS features is enabled; without one, use
//!   `AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1").port(port)`.)
//! * `wait_for` uses a real-time `tokio::time::timeout`; do not use it from a
//!   test runtime with a paused clock (`start_paused = true`), where the
//!   auto-advancing clock would fire the timeout while waiting on real I/O.
//! * Dropping the [`SmtpSink`] aborts the accept loop and every open session.
//! * lettre quirks seen through this sink (lettre 0.11.23): a `SinglePart`
//!   body gets a trailing CRLF appended (so `html_body()` of
//!   `SinglePart::html("<h1>Hi</h1>")` is `"<h1>Hi</h1>\n"`); no `Message-ID`
//!   is added unless `.message_id(..)` is called on the builder; a pooled
//!   connection is returned to the pool by a spawned task after `send`
//!   returns, so back-to-back sends may open a second connection; after a
//!   4xx/5xx reply lettre aborts (QUITs) that connection.
#![allow(dead_code)]

use std::borrow::Cow;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use mail_parser::{HeaderForm, HeaderValue, MessageParser, PartType};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// Default bound for [`SmtpSink::wait_for`].
pub const DEFAULT_WAIT: Duration = Duration::from_secs(10);

/// Upper bound for a single message accepted by the sink (guards against a
/// runaway client filling memory).
const MAX_MESSAGE_BYTES: usize = 32 * 1024 * 1024;
/// Upper bound for a single command line.
const MAX_LINE_BYTES: usize = 64 * 1024;

/// One message as received over SMTP.
#[derive(Clone, PartialEq, Eq)]
pub struct ReceivedMail {
    /// Envelope sender (`MAIL FROM:<...>`), without angle brackets; empty for
    /// the null reverse-path `<>`.
    pub mail_from: String,
    /// Envelope recipients (`RCPT TO:<...>`), without angle brackets, in order.
    /// Includes Bcc recipients, which never appear in the headers.
    pub rcpt_to: Vec<String>,
    /// The message as transferred in DATA: dot-stuffing undone, the
    /// `<CRLF>.<CRLF>` terminator removed (including its leading CRLF), CRLF
    /// line endings preserved. For lettre this equals `Message::formatted()`.
    pub raw: Vec<u8>,
}

impl ReceivedMail {
    /// Parses the raw message with mail-parser.
    ///
    /// Panics if the message cannot be parsed at all (no headers).
    pub fn parsed(&self) -> mail_parser::Message<'_> {
        MessageParser::default().parse(&self.raw).unwrap_or_else(|| {
            panic!(
                "SmtpSink: received mail is not a parseable RFC 5322 message:\n{}",
                String::from_utf8_lossy(&self.raw)
            )
        })
    }

    /// The raw message as (lossy) UTF-8 text.
    pub fn raw_str(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.raw)
    }

    /// Decoded `Subject` header (RFC 2047 encoded words decoded); empty if absent.
    pub fn subject(&self) -> String {
        self.parsed().subject().unwrap_or_default().to_owned()
    }

    /// The first `text/plain` body part, transfer-decoded and charset-decoded,
    /// with CRLF line endings normalised to `\n`.
    ///
    /// Returns an empty string when the message has no `text/plain` body part
    /// (an HTML-only message is *not* converted to text).
    pub fn text_body(&self) -> String {
        let msg = self.parsed();
        msg.text_bodies()
            .find_map(|part| match &part.body {
                PartType::Text(text) => Some(normalize_newlines(text)),
                _ => None,
            })
            .unwrap_or_default()
    }

    /// The first `text/html` body part, decoded, with CRLF normalised to `\n`.
    ///
    /// `None` when the message has no real `text/html` part (a text-only
    /// message is *not* converted to HTML).
    pub fn html_body(&self) -> Option<String> {
        let msg = self.parsed();
        msg.html_bodies().find_map(|part| match &part.body {
            PartType::Html(html) => Some(normalize_newlines(html)),
            _ => None,
        })
    }

    /// Value of the first header called `name` (case-insensitive), as a mail
    /// client would display it: unfolded, RFC 2047 encoded words decoded,
    /// surrounding whitespace trimmed. Works for any header, including
    /// structured ones (`To`, `Content-Type`, ...) and custom `X-...` ones.
    ///
    /// `None` if the header is absent; `Some("")` if present but empty.
    pub fn header(&self, name: &str) -> Option<String> {
        self.header_all(name).into_iter().next()
    }

    /// All values of header `name` (case-insensitive), in message order,
    /// formatted like [`ReceivedMail::header`].
    pub fn header_all(&self, name: &str) -> Vec<String> {
        let msg = self.parsed();
        msg.header_as(name, HeaderForm::Text)
            .into_iter()
            .map(|value| match value {
                HeaderValue::Text(text) => text.trim().to_owned(),
                HeaderValue::TextList(list) => list.join(", ").trim().to_owned(),
                _ => String::new(),
            })
            .collect()
    }

    /// `Message-ID` without the surrounding angle brackets.
    pub fn message_id(&self) -> Option<String> {
        self.parsed().message_id().map(str::to_owned)
    }

    /// True if `addr` is one of the envelope recipients (case-insensitive).
    pub fn is_for(&self, addr: &str) -> bool {
        self.rcpt_to.iter().any(|r| r.eq_ignore_ascii_case(addr))
    }
}

impl fmt::Debug for ReceivedMail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReceivedMail")
            .field("mail_from", &self.mail_from)
            .field("rcpt_to", &self.rcpt_to)
            .field("raw", &self.raw_str())
            .finish()
    }
}

fn normalize_newlines(s: &str) -> String {
    s.replace("\r\n", "\n")
}

struct Shared {
    mails: Mutex<Vec<ReceivedMail>>,
    /// Number of mails received so far (mirrors `mails.len()`).
    count: watch::Sender<usize>,
    accepting: AtomicBool,
    connections: AtomicUsize,
    /// How many of the next messages hang after DATA, never answered.
    stall_next: AtomicUsize,
    /// How many messages are hanging now.
    stalled: watch::Sender<usize>,
    /// How long each message waits after DATA before it is answered (a slow relay), in ms.
    answer_after_ms: AtomicUsize,
    /// Recipients refused for good at RCPT (`550 5.1.1`), lowercase.
    rejected: Mutex<Vec<String>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Vec<ReceivedMail>> {
        // A panicking test thread must not poison the sink for everyone else.
        self.mails.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn accepting(&self) -> bool {
        self.accepting.load(Ordering::SeqCst)
    }

    fn push(&self, mail: ReceivedMail) {
        let mut mails = self.lock();
        mails.push(mail);
        self.count.send_replace(mails.len());
    }
}

/// An in-process SMTP server recording every received message.
pub struct SmtpSink {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept_task: JoinHandle<()>,
}

impl SmtpSink {
    /// Binds `127.0.0.1:0` and starts accepting connections in a spawned task.
    pub async fn start() -> SmtpSink {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("SmtpSink: failed to bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("SmtpSink: failed to read local address");
        let shared = Arc::new(Shared {
            mails: Mutex::new(Vec::new()),
            count: watch::Sender::new(0),
            accepting: AtomicBool::new(true),
            connections: AtomicUsize::new(0),
            stall_next: AtomicUsize::new(0),
            stalled: watch::Sender::new(0),
            answer_after_ms: AtomicUsize::new(0),
            rejected: Mutex::new(Vec::new()),
        });
        let accept_task = tokio::spawn(accept_loop(listener, Arc::clone(&shared)));
        SmtpSink { addr, shared, accept_task }
    }

    /// `smtp://127.0.0.1:PORT` — plain SMTP, no TLS, no STARTTLS, no AUTH.
    /// Suitable for `AsyncSmtpTransport::<Tokio1Executor>::from_url`.
    pub fn url(&self) -> String {
        format!("smtp://{}:{}", self.addr.ip(), self.addr.port())
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn host(&self) -> String {
        self.addr.ip().to_string()
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Snapshot of all mails received so far, in arrival order.
    pub fn mails(&self) -> Vec<ReceivedMail> {
        self.shared.lock().clone()
    }

    /// Mails whose envelope recipients include `addr` (case-insensitive).
    pub fn mails_to(&self, addr: &str) -> Vec<ReceivedMail> {
        self.shared.lock().iter().filter(|m| m.is_for(addr)).cloned().collect()
    }

    /// Number of mails received so far.
    pub fn count(&self) -> usize {
        self.shared.lock().len()
    }

    /// Forgets all mails received so far (the count restarts at 0).
    pub fn clear(&self) {
        let mut mails = self.shared.lock();
        mails.clear();
        self.shared.count.send_replace(0);
    }

    /// Number of TCP connections accepted so far (including refused ones
    /// while not accepting).
    pub fn connection_count(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Waits until at least `n` mails have arrived and returns a snapshot of
    /// all of them. Panics after [`DEFAULT_WAIT`] (10 s).
    pub async fn wait_for(&self, n: usize) -> Vec<ReceivedMail> {
        self.wait_for_within(n, DEFAULT_WAIT).await
    }

    /// Like [`SmtpSink::wait_for`] with a custom bound.
    pub async fn wait_for_within(&self, n: usize, timeout: Duration) -> Vec<ReceivedMail> {
        let mut rx = self.shared.count.subscribe();
        let outcome = tokio::time::timeout(timeout, rx.wait_for(|count| *count >= n)).await;
        match outcome {
            Ok(Ok(_)) => self.mails(),
            // The sender lives in `self.shared`, so it cannot be closed while we hold `&self`.
            Ok(Err(_)) => unreachable!("SmtpSink: mail counter closed"),
            Err(_) => {
                let mails = self.mails();
                let summary: Vec<String> =
                    mails.iter().map(|m| format!("  to {:?}: {:?}", m.rcpt_to, m.subject())).collect();
                panic!(
                    "SmtpSink: timed out after {timeout:?} waiting for {n} mail(s); \
                     received {} so far (accepting: {}, connections: {}):\n{}",
                    mails.len(),
                    self.shared.accepting(),
                    self.connection_count(),
                    summary.join("\n")
                );
            }
        }
    }

    /// Simulates an outage. While `false`, new connections get
    /// `421 service not available` and are closed, and already open sessions
    /// answer `451` to `MAIL FROM`. `true` restores normal service.
    /// Refuses `addr` for good from now on: `550 5.1.1 user unknown` at RCPT.
    pub fn reject_recipient(&self, addr: &str) {
        self.shared.rejected.lock().unwrap_or_else(|e| e.into_inner()).push(addr.to_lowercase());
    }

    pub fn set_accepting(&self, accept: bool) {
        self.shared.accepting.store(accept, Ordering::SeqCst);
    }

    /// The next `n` messages hang after their content is sent: no answer
    /// ever comes, and they are not recorded (a server that froze).
    pub fn stall_next(&self, n: usize) {
        self.shared.stall_next.store(n, Ordering::SeqCst);
    }

    /// From now on every message is answered only `delay` after its
    /// content arrives: a slow relay.
    pub fn answer_after(&self, delay: Duration) {
        self.shared.answer_after_ms.store(delay.as_millis() as usize, Ordering::SeqCst);
    }

    /// Waits until `n` messages are hanging.
    pub async fn wait_for_stalled(&self, n: usize) {
        let mut rx = self.shared.stalled.subscribe();
        tokio::time::timeout(Duration::from_secs(30), rx.wait_for(|v| *v >= n))
            .await
            .expect("SmtpSink: no message stalled in 30 s")
            .expect("SmtpSink: stalled counter closed");
    }

    pub fn is_accepting(&self) -> bool {
        self.shared.accepting()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        // Dropping the accept task also drops its JoinSet, aborting all sessions.
        self.accept_task.abort();
    }
}

impl fmt::Debug for SmtpSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSink")
            .field("addr", &self.addr)
            .field("mails", &self.count())
            .field("accepting", &self.is_accepting())
            .finish()
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut sessions = JoinSet::new();
    loop {
        match listener.accept().await {
            Ok((stream, _peer)) => {
                // Reap finished sessions so the set does not grow unbounded.
                while sessions.try_join_next().is_some() {}
                shared.connections.fetch_add(1, Ordering::SeqCst);
                let shared = Arc::clone(&shared);
                sessions.spawn(async move {
                    // I/O errors just end the session (client went away).
                    let _ = session(stream, shared).await;
                });
            }
            // Per-connection accept errors (e.g. ECONNABORTED, EMFILE): back off briefly.
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

struct Transaction {
    mail_from: String,
    rcpt_to: Vec<String>,
}

async fn reply<W: AsyncWrite + Unpin>(w: &mut W, text: &str) -> std::io::Result<()> {
    w.write_all(text.as_bytes()).await?;
    w.flush().await
}

/// Reads one line (up to and including `\n`) into `buf`. Returns `false` on EOF.
async fn read_line<R: AsyncBufReadExt + Unpin>(r: &mut R, buf: &mut Vec<u8>) -> std::io::Result<bool> {
    buf.clear();
    let n = r.read_until(b'\n', buf).await?;
    Ok(n > 0)
}

async fn session(stream: TcpStream, shared: Arc<Shared>) -> std::io::Result<()> {
    let (rd, mut wr) = stream.into_split();
    let mut rd = BufReader::new(rd);

    if !shared.accepting() {
        reply(&mut wr, "421 localhost service not available\r\n").await?;
        wr.shutdown().await?;
        return Ok(());
    }
    reply(&mut wr, "220 localhost ESMTP customerhub test sink ready\r\n").await?;

    let mut tx: Option<Transaction> = None;
    let mut line = Vec::new();
    loop {
        if !read_line(&mut rd, &mut line).await? {
            return Ok(());
        }
        if line.len() > MAX_LINE_BYTES {
            reply(&mut wr, "500 line too long\r\n").await?;
            continue;
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        let (verb, arg) = match text.split_once(' ') {
            Some((verb, arg)) => (verb, arg.trim()),
            None => (text, ""),
        };

        match verb.to_ascii_uppercase().as_str() {
            "EHLO" => {
                tx = None;
                // Multi-line reply: every line but the last uses "250-".
                reply(&mut wr, "250-localhost\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 PIPELINING\r\n").await?;
            }
            "HELO" => {
                tx = None;
                reply(&mut wr, "250 localhost\r\n").await?;
            }
            "MAIL" => {
                if !shared.accepting() {
                    reply(&mut wr, "451 4.3.2 service temporarily unavailable\r\n").await?;
                } else if tx.is_some() {
                    reply(&mut wr, "503 5.5.1 nested MAIL command\r\n").await?;
                } else {
                    match parse_path(arg, "FROM:") {
                        Some(from) => {
                            tx = Some(Transaction { mail_from: from, rcpt_to: Vec::new() });
                            reply(&mut wr, "250 2.1.0 OK\r\n").await?;
                        }
                        None => reply(&mut wr, "501 5.5.4 syntax: MAIL FROM:<address>\r\n").await?,
                    }
                }
            }
            "RCPT" => match tx.as_mut() {
                None => reply(&mut wr, "503 5.5.1 need MAIL before RCPT\r\n").await?,
                Some(t) => match parse_path(arg, "TO:") {
                    Some(to)
                        if shared.rejected.lock().unwrap_or_else(|e| e.into_inner()).contains(&to.to_lowercase()) =>
                    {
                        reply(&mut wr, "550 5.1.1 user unknown\r\n").await?
                    }
                    Some(to) if !to.is_empty() => {
                        t.rcpt_to.push(to);
                        reply(&mut wr, "250 2.1.5 OK\r\n").await?;
                    }
                    _ => reply(&mut wr, "501 5.5.4 syntax: RCPT TO:<address>\r\n").await?,
                },
            },
            "DATA" => match tx.take() {
                None => reply(&mut wr, "503 5.5.1 need MAIL before DATA\r\n").await?,
                Some(t) if t.rcpt_to.is_empty() => {
                    tx = Some(t);
                    reply(&mut wr, "554 5.5.1 no valid recipients\r\n").await?
                }
                Some(t) => {
                    reply(&mut wr, "354 end data with <CR><LF>.<CR><LF>\r\n").await?;
                    let Some(raw) = read_data(&mut rd, &mut line).await? else {
                        // Message too large; the terminator has been consumed.
                        reply(&mut wr, "552 5.3.4 message too big\r\n").await?;
                        continue;
                    };
                    let stall = shared
                        .stall_next
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                        .is_ok();
                    if stall {
                        shared.stalled.send_modify(|n| *n += 1);
                        // Hang until the client gives up and closes the connection.
                        let mut rest = vec![];
                        let _ = rd.read_to_end(&mut rest).await;
                        shared.stalled.send_modify(|n| *n -= 1);
                        return Ok(());
                    }
                    let delay = shared.answer_after_ms.load(Ordering::SeqCst);
                    if delay > 0 {
                        tokio::time::sleep(Duration::from_millis(delay as u64)).await;
                    }
                    shared.push(ReceivedMail { mail_from: t.mail_from, rcpt_to: t.rcpt_to, raw });
                    reply(&mut wr, "250 2.0.0 OK queued\r\n").await?;
                }
            },
            "RSET" => {
                tx = None;
                reply(&mut wr, "250 2.0.0 OK\r\n").await?;
            }
            "NOOP" => reply(&mut wr, "250 2.0.0 OK\r\n").await?,
            "QUIT" => {
                reply(&mut wr, "221 2.0.0 bye\r\n").await?;
                wr.shutdown().await?;
                return Ok(());
            }
            _ => reply(&mut wr, "502 5.5.2 command not implemented\r\n").await?,
        }
    }
}

/// Reads DATA content up to the `.` line, undoing dot-stuffing.
/// Returns `Ok(None)` if the message exceeded [`MAX_MESSAGE_BYTES`]
/// (the rest is still consumed up to the terminator).
async fn read_data<R: AsyncBufReadExt + Unpin>(rd: &mut R, line: &mut Vec<u8>) -> std::io::Result<Option<Vec<u8>>> {
    let mut raw = Vec::new();
    let mut too_big = false;
    loop {
        if !read_line(rd, line).await? {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed during DATA"));
        }
        if line == b".\r\n" || line == b".\n" {
            if too_big {
                return Ok(None);
            }
            // The terminator is `<CRLF>.<CRLF>`: its leading CRLF ended the last
            // content line. Drop it so `raw` is byte-for-byte what the client
            // handed over (lettre always appends "\r\n.\r\n" to the formatted
            // message, so this makes `raw == Message::formatted()`).
            if raw.ends_with(b"\r\n") {
                raw.truncate(raw.len() - 2);
            } else if raw.ends_with(b"\n") {
                raw.truncate(raw.len() - 1);
            }
            return Ok(Some(raw));
        }
        if too_big {
            continue;
        }
        let content = line.strip_prefix(b".").unwrap_or(line);
        raw.extend_from_slice(content);
        if raw.len() > MAX_MESSAGE_BYTES {
            too_big = true;
            raw = Vec::new();
        }
    }
}

/// Parses `FROM:<addr> [params]` / `TO:<addr> [params]` (keyword matched
/// case-insensitively, optional space after the colon). Returns the address
/// without angle brackets (`""` for `<>`).
fn parse_path(arg: &str, keyword: &str) -> Option<String> {
    let head = arg.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = arg[keyword.len()..].trim_start();
    if let Some(inner) = rest.strip_prefix('<') {
        let end = inner.find('>')?;
        Some(inner[..end].to_owned())
    } else {
        // Lenient: bare address without brackets.
        let addr = rest.split_whitespace().next()?;
        Some(addr.to_owned())
    }
}
