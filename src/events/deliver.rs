//! Local delivery of change events, for `scimlet serve --events …`: a developer sees what
//! their application will receive from the EventBridge bus in AWS. Events are delivered one
//! at a time, in the order the store applied the writes:
//!
//! - [`Sink::Stdout`]: one JSON event per line on standard output;
//! - [`Sink::Url`]: an HTTP(S) `POST` of the event, `Content-Type: application/json`, with
//!   `Scimlet-Event-Id` and a signature header `Scimlet-Signature: t=<unix seconds>,v1=<hex
//!   HMAC-SHA256 of "<t>.<body>" under the secret>`, retried on a connection failure or a
//!   non-2xx answer (5 attempts, 0.5 s doubling up to 8 s), then logged as lost (its id and
//!   type, never its content).

use std::time::Duration;

use bytes::Bytes;
use hmac::{Hmac, KeyInit, Mac};
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use sha2::Sha256;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc::UnboundedReceiver;

use super::{Event, from_change};
use crate::schema::registry::Registry;
use crate::store::Change;

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "scimlet-signature";
/// The header carrying the event id.
pub const EVENT_ID_HEADER: &str = "scimlet-event-id";

/// How many times an event is sent before it is given up.
const ATTEMPTS: u32 = 5;
/// How long one attempt may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where events go.
#[derive(Debug, Clone)]
pub enum Sink {
    /// Printed, one JSON object per line.
    Stdout,
    /// POSTed to a URL, signed with the secret.
    Url {
        /// `http://` or `https://` URL.
        url: http::Uri,
        /// The HMAC-SHA256 key.
        secret: Vec<u8>,
    },
}

/// The signature header's value for `body` sent at `t` (Unix seconds): a receiver recomputes
/// `HMAC-SHA256(secret, "<t>.<body>")`, compares in constant time, and rejects old `t`.
pub fn signature(secret: &[u8], t: i64, body: &[u8]) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mac) => mac,
        // HMAC takes keys of any length; this arm cannot be reached.
        Err(_) => return format!("t={t},v1="),
    };
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    format!("t={t},v1={}", crate::secret::hex(&digest))
}

/// Delivers the events of `changes` to `sink` until the channel closes.
pub async fn run(mut changes: UnboundedReceiver<Change>, registry: &'static Registry, sink: Sink) {
    let client = match &sink {
        Sink::Url { .. } => match client() {
            Ok(client) => Some(client),
            Err(e) => {
                tracing::error!(error = %e, "events: no TLS client; events are not delivered");
                return;
            }
        },
        Sink::Stdout => None,
    };
    let mut stdout = tokio::io::stdout();
    while let Some(change) = changes.recv().await {
        let Some(event) = from_change(&change, registry) else {
            continue;
        };
        let Ok(body) = serde_json::to_vec(&event) else {
            continue;
        };
        match (&sink, &client) {
            (Sink::Url { url, secret }, Some(client)) => {
                send(client, url, secret, &event, body).await;
            }
            _ => {
                let mut line = body;
                line.push(b'\n');
                if stdout.write_all(&line).await.is_err() || stdout.flush().await.is_err() {
                    tracing::warn!("events: standard output is closed; stopping delivery");
                    return;
                }
            }
        }
    }
}

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The HTTP(S) client: rustls on ring with the system's root certificates.
fn client() -> Result<HttpsClient, rustls::Error> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(connector))
}

async fn send(client: &HttpsClient, url: &http::Uri, secret: &[u8], event: &Event, body: Vec<u8>) {
    let body = Bytes::from(body);
    let mut wait = Duration::from_millis(500);
    for attempt in 1..=ATTEMPTS {
        let t = crate::clock::now_unix();
        let request = http::Request::post(url.clone())
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(EVENT_ID_HEADER, event.id.as_str())
            .header(SIGNATURE_HEADER, signature(secret, t, &body))
            .body(Full::new(body.clone()));
        let Ok(request) = request else {
            tracing::error!(event_id = %event.id, "events: could not build the request");
            return;
        };
        let outcome = tokio::time::timeout(ATTEMPT_TIMEOUT, client.request(request)).await;
        let failure = match outcome {
            Ok(Ok(response)) if response.status().is_success() => return,
            Ok(Ok(response)) => format!("answered {}", response.status().as_u16()),
            Ok(Err(e)) => format!("not reached: {e}"),
            Err(_) => "no answer within 10 s".to_owned(),
        };
        if attempt == ATTEMPTS {
            tracing::error!(
                event_id = %event.id,
                event_type = %event.event_type,
                %failure,
                "events: delivery failed {ATTEMPTS} times; event dropped"
            );
            return;
        }
        tracing::warn!(event_id = %event.id, %failure, attempt, "events: delivery failed; retrying");
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(8));
    }
}
