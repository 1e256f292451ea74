//! Outgoing mail. The embedded shape writes each message as an `.eml` file
//! into a directory (an operator's outbox to read or hand to a mail
//! server); a deployment with a mail server relays over SMTP. Both format
//! the message the same way.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use confab_core::ports::{Mail, Mailer};
use confab_core::{Error, Result};
use lettre::message::{header::ContentType, Mailbox, Message};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

/// The message `mail` becomes, from `from`.
fn message(from: &Mailbox, mail: &Mail) -> Result<Message> {
    let to: Mailbox = mail
        .to
        .parse()
        .map_err(|e| Error::invalid("email", format!("cannot be mailed: {e}")))?;
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(mail.subject.clone())
        .header(ContentType::TEXT_PLAIN)
        .body(mail.body.clone())
        .map_err(|e| Error::Internal(format!("building a mail: {e}")))
}

/// Parse the sender address of the configuration.
pub fn sender(from: &str) -> Result<Mailbox> {
    from.parse()
        .map_err(|e| Error::invalid("mail.from", format!("is not an address: {e}")))
}

/// Writes each mail as `{time}-{id}.eml` into a directory.
pub struct DirectoryMailer {
    dir: PathBuf,
    from: Mailbox,
}

impl DirectoryMailer {
    /// Mail into `dir` (created if missing).
    pub fn new(dir: impl Into<PathBuf>, from: Mailbox) -> Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::Internal(format!("cannot create {}: {e}", dir.display())))?;
        Ok(Self { dir, from })
    }
}

#[async_trait]
impl Mailer for DirectoryMailer {
    async fn send(&self, mail: &Mail) -> Result<()> {
        let bytes = message(&self.from, mail)?.formatted();
        let name = uuid::Uuid::now_v7().simple().to_string();
        // Written aside, then renamed: a reader never sees half a message.
        let partial = self.dir.join(format!(".{name}.partial"));
        let done = self.dir.join(format!("{name}.eml"));
        let io = |e: std::io::Error| Error::Unavailable(format!("writing a mail: {e}"));
        tokio::fs::write(&partial, bytes).await.map_err(io)?;
        tokio::fs::rename(&partial, &done).await.map_err(io)
    }

    fn backend(&self) -> &'static str {
        "directory"
    }
}

/// Relays mail to an SMTP server: `smtp://[user:password@]host[:port]`.
/// The connection is not encrypted: relay through a local mail server
/// (which handles TLS onward) or a trusted network.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpMailer {
    /// A mailer for the server at `url`, waiting at most `timeout` for it.
    pub fn new(url: &str, from: Mailbox, timeout: Duration) -> Result<Self> {
        let bad = |message: &str| Error::invalid("mail.smtp_url", message.to_owned());
        let rest = url
            .strip_prefix("smtp://")
            .ok_or_else(|| bad("must start with smtp://"))?;
        let rest = rest.trim_end_matches('/');
        let (credentials, host) = match rest.rsplit_once('@') {
            Some((user, host)) => {
                let (name, password) = user
                    .split_once(':')
                    .ok_or_else(|| bad("credentials are user:password"))?;
                (Some(Credentials::new(name.into(), password.into())), host)
            }
            None => (None, rest),
        };
        let (host, port) = match host.rsplit_once(':') {
            Some((host, port)) => (host, port.parse().map_err(|_| bad("bad port"))?),
            None => (host, 25),
        };
        if host.is_empty() {
            return Err(bad("names no host"));
        }
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(port)
            .timeout(Some(timeout));
        if let Some(credentials) = credentials {
            builder = builder.credentials(credentials);
        }
        Ok(Self {
            transport: builder.build(),
            from,
        })
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, mail: &Mail) -> Result<()> {
        let message = message(&self.from, mail)?;
        self.transport
            .send(message)
            .await
            .map(drop)
            .map_err(|e| Error::Unavailable(format!("the mail server refused or failed: {e}")))
    }

    fn backend(&self) -> &'static str {
        "smtp"
    }
}
