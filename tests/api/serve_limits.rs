//! The local server's own limits: a connection that never finishes its request head is
//! closed, and connections beyond the limit are answered 429 with `Retry-After` instead of
//! being served.

use std::time::Duration;

use scimlet::http::serve::{ServeLimits, serve_with};
use scimlet::store::memory::MemoryStore;
use scimlet::{App, Config};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn spawn_limited(limits: ServeLimits) -> std::net::SocketAddr {
    let store = std::sync::Arc::new(MemoryStore::new());
    let app = App::new(Config::default(), store.clone(), store);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve_with(listener, app, limits, std::future::pending()));
    addr
}

/// Reads until the server closes the connection (bounded, so a server that never closes
/// fails the test instead of hanging it).
async fn read_to_close(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut out))
        .await
        .expect("the server closes the connection")
        .ok();
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn a_request_head_that_never_ends_is_cut_off() {
    let addr = spawn_limited(ServeLimits {
        header_read_timeout: Duration::from_millis(200),
        ..ServeLimits::default()
    })
    .await;
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // The head is never finished: the server closes the connection rather than wait forever.
    let answer = read_to_close(&mut slow).await;
    assert!(!answer.contains("200 OK"), "{answer}");
}

#[tokio::test]
async fn connections_beyond_the_limit_are_told_to_come_back() {
    let addr = spawn_limited(ServeLimits {
        max_connections: 2,
        ..ServeLimits::default()
    })
    .await;
    // Two connections hold both slots (each has sent a complete request, so both are served).
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut c = TcpStream::connect(addr).await.unwrap();
        c.write_all(b"GET /scim/v2/ServiceProviderConfig HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 64];
        let n = c.read(&mut buf).await.unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 401"));
        held.push(c);
    }
    let mut third = TcpStream::connect(addr).await.unwrap();
    third
        .write_all(b"GET /scim/v2/ServiceProviderConfig HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let answer = read_to_close(&mut third).await;
    assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after: 1"),
        "{answer}"
    );
    assert!(
        answer.contains("urn:ietf:params:scim:api:messages:2.0:Error"),
        "{answer}"
    );
    // Once one is closed, connections are served again.
    drop(held.pop());
    let mut next = None;
    for _ in 0..100 {
        let mut c = TcpStream::connect(addr).await.unwrap();
        c.write_all(
            b"GET /scim/v2/ServiceProviderConfig HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await
        .unwrap();
        let answer = read_to_close(&mut c).await;
        if answer.starts_with("HTTP/1.1 401") {
            next = Some(answer);
            break;
        }
        // The closed connection's slot is given back when the server notices the close.
        tokio::task::yield_now().await;
    }
    assert!(next.is_some(), "a slot came free");
}
