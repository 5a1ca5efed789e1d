//! The e-mail channel's connections: the SMTP sender that drains the outbox. A message stays in the outbox until
//! the SMTP server took it, so a mail server that is down loses nothing; one it refuses for good (a 5xx answer) is
//! given up and logged.

use std::time::Duration;

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use tracing::{info, warn};

use crate::config::{MailTls, Smtp};
use crate::metrics::METRICS;
use crate::store::mail::Outgoing;
use crate::store::{Store, now_ms};

/// The longest the sender sleeps without looking at the outbox.
const LOOK_EVERY: Duration = Duration::from_secs(30);

pub async fn send_loop(store: Store, smtp: Smtp) {
    let woken = store.mail_outbox();
    loop {
        match store.read(|c| c.mail_due(now_ms(), 20)).await {
            Ok(due) => {
                for mail in due {
                    send_one(&store, &smtp, mail).await;
                }
            }
            Err(e) => warn!(error = %e, "cannot read the mail outbox; trying again later"),
        }
        let wait = match store.read(|c| c.next_mail_at()).await {
            Ok(Some(at)) => Duration::from_millis(u64::try_from(at - now_ms()).unwrap_or(0)),
            _ => LOOK_EVERY,
        }
        .clamp(Duration::from_millis(20), LOOK_EVERY);
        tokio::select! {
            () = woken.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}

async fn send_one(store: &Store, smtp: &Smtp, mail: Outgoing) {
    let (id, attempts) = (mail.id, mail.attempts);
    let outcome = match deliver(smtp, &mail).await {
        Ok(()) => Ok(()),
        Err((error, permanent)) => {
            let next = usize::try_from(attempts).ok().and_then(|i| smtp.retry.get(i)).filter(|_| !permanent);
            Err((error, next.map(|wait| now_ms() + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX))))
        }
    };
    let result = match &outcome {
        Ok(()) => "sent",
        Err((_, Some(_))) => "retry",
        Err((_, None)) => "failed",
    };
    match &outcome {
        Ok(()) => info!(mail = id, to = %mail.recipient, "mail sent"),
        Err((error, next)) => warn!(mail = id, to = %mail.recipient, %error, retry = next.is_some(), "mail not sent"),
    }
    METRICS.mail("out", result);
    let recorded = store
        .write(move |c| {
            c.mail_tried(id, outcome.as_ref().map(|_| ()).map_err(|(e, next)| (e.as_str(), *next)), now_ms())
        })
        .await;
    if let Err(e) = recorded {
        // It stays due and is sent again: at least once.
        warn!(mail = id, error = %e, "cannot record a mail attempt");
    }
}

/// Sends one message; on failure, what went wrong and whether the server refused it for good.
async fn deliver(smtp: &Smtp, mail: &Outgoing) -> Result<(), (String, bool)> {
    let parse = |a: &str| a.parse().map_err(|e| (format!("address {a:?}: {e}"), true));
    let envelope =
        Envelope::new(Some(parse(&mail.sender)?), vec![parse(&mail.recipient)?]).map_err(|e| (e.to_string(), true))?;
    let transport = transport(smtp).map_err(|e| (e, false))?;
    match transport.send_raw(&envelope, &mail.raw).await {
        Ok(_) => Ok(()),
        Err(e) => Err((e.to_string(), e.is_permanent())),
    }
}

fn transport(smtp: &Smtp) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let builder = match smtp.tls {
        MailTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host),
        MailTls::Starttls => {
            AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host).map_err(|e| e.to_string())?
        }
        MailTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host).map_err(|e| e.to_string())?,
    };
    let mut builder = builder.port(smtp.port).timeout(Some(Duration::from_secs(30)));
    if let (Some(user), Some(file)) = (&smtp.user, &smtp.password_file) {
        let password = std::fs::read_to_string(file)
            .map_err(|e| format!("cannot read the SMTP password from {}: {e}", file.display()))?;
        builder = builder.credentials(Credentials::new(user.clone(), password.trim_end().to_owned()));
    }
    Ok(builder.build())
}
