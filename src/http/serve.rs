//! The local front door: an HTTP/1.1 server on hyper, used by `scimlet serve` and by the
//! end-to-end tests (which bind port 0 and call the very same [`serve`]).
//!
//! Bodies are capped while they are read (`Limited` also bounds chunked bodies, which a
//! `Content-Length` check cannot), so an oversized request gets a 413 SCIM error before any
//! JSON parsing. A connection that does not send its request head within
//! [`ServeLimits::header_read_timeout`] is closed (slow-header clients cannot hold it), and
//! beyond [`ServeLimits::max_connections`] open connections a new one is answered 429 with
//! `Retry-After` and closed. On shutdown the server stops accepting, lets in-flight requests
//! finish for up to five seconds, and returns.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::response::error_response;
use crate::app::App;
use crate::error::ScimError;

/// Limits of the local server's connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeLimits {
    /// How long a connection may take to send a request head.
    pub header_read_timeout: Duration,
    /// How many connections may be open at once.
    pub max_connections: usize,
}

impl Default for ServeLimits {
    fn default() -> Self {
        ServeLimits {
            header_read_timeout: Duration::from_secs(10),
            max_connections: 512,
        }
    }
}

/// Serves `app` on `listener` until `shutdown` completes, with the default limits.
pub async fn serve(
    listener: TcpListener,
    app: App,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    serve_with(listener, app, ServeLimits::default(), shutdown).await
}

/// Serves `app` on `listener` until `shutdown` completes, within `limits`.
pub async fn serve_with(
    listener: TcpListener,
    app: App,
    limits: ServeLimits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(err) => {
                    // Transient accept failures (e.g. too many open files) must not end the server.
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout);
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            // Full: answer this connection's request with 429 and close it.
            builder.keep_alive(false);
            let busy = service_fn(|_req| async {
                let busy = ScimError::Throttled {
                    retry_after_secs: 1,
                };
                Ok::<_, Infallible>(error_response(&busy).map(Full::new))
            });
            let conn = builder.serve_connection(TokioIo::new(stream), busy);
            tokio::spawn(async move {
                if let Err(err) = conn.await {
                    tracing::debug!(error = %err, "connection closed with an error");
                }
            });
            continue;
        };
        let app = app.clone();
        let service = service_fn(move |req| {
            let app = app.clone();
            async move { Ok::<_, Infallible>(handle(&app, req).await) }
        });
        let conn = builder.serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(err) = conn.await {
                tracing::debug!(error = %err, "connection closed with an error");
            }
            drop(slot);
        });
    }
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(Duration::from_secs(5)) => {
            tracing::warn!("in-flight requests did not finish within 5 s");
        }
    }
    Ok(())
}

async fn handle(app: &App, req: hyper::Request<Incoming>) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let limit = app.config().max_body_bytes;
    let response = match Limited::new(body, limit).collect().await {
        Ok(collected) => {
            app.handle(http::Request::from_parts(parts, collected.to_bytes()))
                .await
        }
        Err(err) if err.is::<LengthLimitError>() => error_response(&ScimError::PayloadTooLarge(
            format!("the request body exceeds {limit} bytes"),
        )),
        Err(_) => error_response(&ScimError::BadRequest(
            "the request body could not be read".into(),
        )),
    };
    response.map(Full::new)
}
