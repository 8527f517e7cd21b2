//! The local front door: an HTTP/1.1 server on hyper, used by `scimlet serve` and by the
//! end-to-end tests (which bind port 0 and call the very same [`serve`]).
//!
//! Bodies are capped while they are read (`Limited` also bounds chunked bodies, which a
//! `Content-Length` check cannot), so an oversized request gets a 413 SCIM error before any
//! JSON parsing. On shutdown the server stops accepting, lets in-flight requests finish for
//! up to five seconds, and returns.

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use super::response::error_response;
use crate::app::App;
use crate::error::ScimError;

/// Serves `app` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    app: App,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
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
        let app = app.clone();
        let service = service_fn(move |req| {
            let app = app.clone();
            async move { Ok::<_, Infallible>(handle(&app, req).await) }
        });
        let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(err) = conn.await {
                tracing::debug!(error = %err, "connection closed with an error");
            }
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
