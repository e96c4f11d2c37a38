//! Connection limits of `sigil_server::serve`: slow clients are cut off, the connection bound
//! holds, and shutdown has a deadline. Time is controlled by short configured limits.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use axum::routing::get;
use sigil_server::ServeLimits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const REQUEST: &[u8] = b"GET /ip HTTP/1.1\r\nHost: sigil.test\r\n\r\n";
const PARTIAL: &[u8] = b"GET /ip HTTP/1.1\r\nHost: sig";

fn limits() -> ServeLimits {
    ServeLimits {
        header_read_timeout: Duration::from_secs(30),
        max_connections: 100,
        keep_alive_timeout: Duration::from_secs(30),
        request_timeout: Duration::from_secs(30),
        shutdown_timeout: Duration::from_secs(30),
    }
}

struct Running {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    done: JoinHandle<std::io::Result<()>>,
}

async fn start(limits: ServeLimits) -> Running {
    let app = Router::new()
        .route(
            "/ip",
            get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }),
        )
        .route(
            "/echo",
            axum::routing::post(|body: String| async move { body }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(500)).await;
                "done"
            }),
        );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let done = tokio::spawn(sigil_server::serve(listener, app, limits, async {
        let _ = stopped.await;
    }));
    Running { addr, stop, done }
}

/// One response (head and `content-length` body), or `None` when the server closed first.
async fn response(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        let text = String::from_utf8_lossy(&buf).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap())
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                return Some(text);
            }
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Whether the server closes the connection within `within` (reading nothing more).
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut byte = [0u8; 1];
    matches!(
        tokio::time::timeout(within, stream.read(&mut byte)).await,
        Ok(Ok(0) | Err(_))
    )
}

/// A complete head whose body never comes (or whose responses are never read) does not hold the
/// connection past the request timeout.
#[tokio::test]
async fn a_request_whose_body_never_comes_is_cut_off_after_the_request_timeout() {
    let server = start(ServeLimits {
        request_timeout: Duration::from_secs(1),
        ..limits()
    })
    .await;
    let mut stalled = TcpStream::connect(server.addr).await.unwrap();
    stalled
        .write_all(b"POST /echo HTTP/1.1\r\nHost: sigil.test\r\nContent-Length: 100\r\n\r\nab")
        .await
        .unwrap();
    let started = Instant::now();
    assert!(
        closed_within(&mut stalled, Duration::from_secs(3)).await,
        "a client that never finishes its body keeps its connection"
    );
    assert!(started.elapsed() >= Duration::from_millis(800));
}

#[tokio::test]
async fn a_partial_request_head_is_cut_off_after_the_header_read_timeout() {
    let server = start(ServeLimits {
        header_read_timeout: Duration::from_secs(1),
        ..limits()
    })
    .await;
    let mut slow = TcpStream::connect(server.addr).await.unwrap();
    slow.write_all(PARTIAL).await.unwrap();
    let started = Instant::now();
    assert!(
        closed_within(&mut slow, Duration::from_secs(3)).await,
        "a client that never finishes its head keeps its connection"
    );
    assert!(started.elapsed() >= Duration::from_millis(800));

    // A client that does finish is served, and its address reaches the app.
    let mut ok = TcpStream::connect(server.addr).await.unwrap();
    ok.write_all(REQUEST).await.unwrap();
    let answer = response(&mut ok).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer.ends_with(&ok.local_addr().unwrap().to_string()),
        "ConnectInfo is the peer: {answer}"
    );
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_keep_alive_timeout() {
    let server = start(ServeLimits {
        header_read_timeout: Duration::from_secs(1),
        keep_alive_timeout: Duration::from_secs(2),
        ..limits()
    })
    .await;
    let mut client = TcpStream::connect(server.addr).await.unwrap();
    client.write_all(REQUEST).await.unwrap();
    assert!(response(&mut client).await.is_some());
    // Idle longer than the head deadline: the idle limit applies, not the head's.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    client.write_all(REQUEST).await.unwrap();
    assert!(response(&mut client).await.is_some());
    let idle = Instant::now();
    assert!(closed_within(&mut client, Duration::from_secs(4)).await);
    assert!(idle.elapsed() >= Duration::from_millis(1800));
}

#[tokio::test]
async fn beyond_max_connections_a_client_waits_for_a_free_slot() {
    let server = start(ServeLimits {
        max_connections: 2,
        ..limits()
    })
    .await;
    let mut first = TcpStream::connect(server.addr).await.unwrap();
    let mut second = TcpStream::connect(server.addr).await.unwrap();
    for idle in [&mut first, &mut second] {
        idle.write_all(REQUEST).await.unwrap();
        assert!(response(idle).await.is_some());
    }
    // The third connects (the kernel queues it) but is not served while both slots are held.
    let mut third = TcpStream::connect(server.addr).await.unwrap();
    third.write_all(REQUEST).await.unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(700), response(&mut third))
            .await
            .is_err(),
        "a third connection was served while two held the slots"
    );
    drop(first);
    let answer = tokio::time::timeout(Duration::from_secs(2), response(&mut third))
        .await
        .expect("served once a slot is free")
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn a_stalled_client_does_not_hold_shutdown_beyond_its_deadline() {
    let server = start(ServeLimits {
        shutdown_timeout: Duration::from_secs(1),
        ..limits()
    })
    .await;
    let mut stalled = TcpStream::connect(server.addr).await.unwrap();
    stalled.write_all(PARTIAL).await.unwrap();
    // A request in flight at the signal still gets its answer.
    let mut busy = TcpStream::connect(server.addr).await.unwrap();
    busy.write_all(b"GET /slow HTTP/1.1\r\nHost: sigil.test\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let signalled = Instant::now();
    server.stop.send(()).unwrap();
    let answer = response(&mut busy).await.unwrap();
    assert!(answer.ends_with("done"), "{answer}");
    tokio::time::timeout(Duration::from_secs(3), server.done)
        .await
        .expect("serve returns by the shutdown deadline")
        .unwrap()
        .unwrap();
    assert!(signalled.elapsed() < Duration::from_secs(3));
    assert!(closed_within(&mut stalled, Duration::from_millis(500)).await);
    assert!(
        TcpStream::connect(server.addr).await.is_err(),
        "no longer listening"
    );
}

/// Log lines written while the test thread's subscriber is set.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

/// A full server warns once when it fills up, not once per waiting client.
#[tokio::test] // one thread: the subscriber below sees the server's tasks
async fn a_full_server_warns_once() {
    let logs = Captured::default();
    let _subscriber = tracing::subscriber::set_default(
        tracing_subscriber::fmt()
            .with_writer(logs.clone())
            .with_ansi(false)
            .finish(),
    );
    let server = start(ServeLimits {
        max_connections: 1,
        ..limits()
    })
    .await;
    let mut holder = TcpStream::connect(server.addr).await.unwrap();
    holder.write_all(REQUEST).await.unwrap();
    assert!(response(&mut holder).await.is_some());
    let mut waiting = Vec::new();
    for _ in 0..3 {
        let mut client = TcpStream::connect(server.addr).await.unwrap();
        client
            .write_all(b"GET /ip HTTP/1.1\r\nHost: sigil.test\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        waiting.push(client);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(holder);
    for client in &mut waiting {
        let answer = tokio::time::timeout(Duration::from_secs(2), response(client))
            .await
            .unwrap()
            .unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert_eq!(
        text.matches("connection limit reached").count(),
        1,
        "{text}"
    );
    assert!(text.contains("WARN"), "{text}");
}
