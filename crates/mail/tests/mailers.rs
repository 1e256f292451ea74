//! The same cases against both mailers: the directory one reads back its
//! files; the SMTP one talks to a minimal SMTP server on loopback that this
//! test runs (it records what it is given, and refuses recipients of a
//! domain, as a real server may).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use confab_core::ports::{Mail, Mailer};
use confab_core::Error;
use confab_mail::{sender, DirectoryMailer, SmtpMailer};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

fn welcome(to: &str) -> Mail {
    Mail {
        to: to.into(),
        subject: "Verify your address".into(),
        body: "Open https://chat.example.test/verify-email?token=abc to verify.\n".into(),
    }
}

/// What a mailer delivered, as the raw messages.
type Delivered = Arc<Mutex<Vec<String>>>;

/// An SMTP server that keeps each message's DATA and refuses recipients
/// at `refused.test`.
async fn smtp_sink() -> (u16, Delivered) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let delivered: Delivered = Arc::default();
    let kept = delivered.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let kept = kept.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 sink ready\r\n").await.unwrap();
                let mut data: Option<String> = None;
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(body) = data.as_mut() {
                        if line == "." {
                            kept.lock().unwrap().push(data.take().unwrap());
                            write.write_all(b"250 kept\r\n").await.unwrap();
                        } else {
                            body.push_str(&line);
                            body.push('\n');
                        }
                        continue;
                    }
                    let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                    let answer: &[u8] = match verb.as_str() {
                        "EHLO" | "HELO" => b"250 sink\r\n",
                        "RCPT" if line.contains("refused.test") => b"550 no such user\r\n",
                        "MAIL" | "RCPT" | "RSET" | "NOOP" => b"250 ok\r\n",
                        "DATA" => {
                            data = Some(String::new());
                            b"354 go on\r\n"
                        }
                        "QUIT" => {
                            write.write_all(b"221 bye\r\n").await.unwrap();
                            break;
                        }
                        _ => b"502 not here\r\n",
                    };
                    write.write_all(answer).await.unwrap();
                }
            });
        }
    });
    (port, delivered)
}

fn assert_is_the_welcome(raw: &str, to: &str) {
    assert!(raw.contains(&format!("To: {to}")), "{raw}");
    assert!(
        raw.contains("From: Confab <confab@chat.example.test>"),
        "{raw}"
    );
    assert!(raw.contains("Subject: Verify your address"), "{raw}");
    assert!(raw.contains("verify-email?token=abc"), "{raw}");
}

#[tokio::test]
async fn the_directory_mailer_writes_whole_messages() {
    let dir = tempfile::tempdir().unwrap();
    let from = sender("Confab <confab@chat.example.test>").unwrap();
    let mailer = DirectoryMailer::new(dir.path().join("outbox"), from).unwrap();
    mailer.send(&welcome("ann@example.test")).await.unwrap();
    mailer.send(&welcome("bob@example.test")).await.unwrap();
    let mut files: Vec<_> = std::fs::read_dir(dir.path().join("outbox"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(files.iter().all(|f| f.extension().unwrap() == "eml"));
    assert_is_the_welcome(
        &std::fs::read_to_string(&files[0]).unwrap(),
        "ann@example.test",
    );
    assert_is_the_welcome(
        &std::fs::read_to_string(&files[1]).unwrap(),
        "bob@example.test",
    );
    // Not an address: refused before anything is written.
    let refused = mailer.send(&welcome("not an address")).await;
    assert!(matches!(refused, Err(Error::Invalid { .. })), "{refused:?}");
    assert_eq!(
        std::fs::read_dir(dir.path().join("outbox"))
            .unwrap()
            .count(),
        2
    );
}

#[tokio::test]
async fn the_smtp_mailer_relays_to_the_server() {
    let (port, delivered) = smtp_sink().await;
    let from = sender("Confab <confab@chat.example.test>").unwrap();
    let url = format!("smtp://127.0.0.1:{port}");
    let mailer = SmtpMailer::new(&url, from.clone(), Duration::from_secs(5)).unwrap();
    mailer.send(&welcome("ann@example.test")).await.unwrap();
    let kept = delivered.lock().unwrap().clone();
    assert_eq!(kept.len(), 1);
    assert_is_the_welcome(&kept[0], "ann@example.test");
    // A recipient the server refuses, and a server that is not there, are
    // errors the caller sees.
    let refused = mailer.send(&welcome("x@refused.test")).await;
    assert!(matches!(refused, Err(Error::Unavailable(_))), "{refused:?}");
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gone = closed.local_addr().unwrap().port();
    drop(closed);
    let nowhere = SmtpMailer::new(
        &format!("smtp://127.0.0.1:{gone}"),
        from,
        Duration::from_secs(2),
    )
    .unwrap();
    assert!(nowhere.send(&welcome("ann@example.test")).await.is_err());
}

#[test]
fn smtp_urls_are_checked() {
    let from = sender("confab@chat.example.test").unwrap();
    let t = Duration::from_secs(1);
    assert!(SmtpMailer::new("smtp://relay.internal", from.clone(), t).is_ok());
    assert!(SmtpMailer::new("smtp://user:secret@relay.internal:587", from.clone(), t).is_ok());
    for bad in [
        "http://relay",
        "smtp://",
        "smtp://relay:port",
        "smtp://user@relay",
    ] {
        assert!(
            matches!(
                SmtpMailer::new(bad, from.clone(), t),
                Err(Error::Invalid { .. })
            ),
            "{bad}"
        );
    }
    assert!(sender("not an address").is_err());
}
