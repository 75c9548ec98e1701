//! HTTP and HTTPS connections, served by hand so that each has a budget:
//! a [`Slot`] of the process's connection budget (or it is closed at
//! once), a deadline for the TLS handshake, and a deadline for each
//! request's header that also ends a kept-alive connection left idle.
//! Request bodies have their own deadline where they are read
//! ([`crate::ingest::Upload`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::budget::{Budget, Slot};

/// How long a client may take to finish its TLS handshake.
const HANDSHAKE: Duration = Duration::from_secs(10);

/// The client's address, for the login limiter, over TCP or TLS.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Peer(pub(crate) SocketAddr);

/// Serves `router` on `listener` (over TLS with `tls`) until the process
/// ends. `header` bounds the wait for each request's header, the first
/// and every one after on a kept-alive connection.
pub(crate) async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    router: axum::Router,
    budget: Arc<Budget>,
    header: Duration,
) {
    let local = listener.local_addr().map_or_else(|_| "?".to_string(), |a| a.to_string());
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Out of descriptors and the like: wait, do not spin.
                tracing::warn!(address = %local, error = %e, "http accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Some(slot) = budget.admit(peer.ip()) else {
            tracing::debug!(%peer, "http: over the connection budget; closed");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (tls, router) = (tls.clone(), router.clone());
        tokio::spawn(async move {
            match tls {
                None => connection(stream, peer, router, slot, header).await,
                Some(acceptor) => match tokio::time::timeout(HANDSHAKE, acceptor.accept(stream)).await {
                    Ok(Ok(stream)) => connection(stream, peer, router, slot, header).await,
                    Ok(Err(e)) => tracing::debug!(%peer, error = %e, "https handshake failed"),
                    Err(_) => tracing::debug!(%peer, "https handshake timed out"),
                },
            }
        });
    }
}

/// One connection, HTTP/1.1, until the client or a deadline ends it.
async fn connection<S>(stream: S, peer: SocketAddr, router: axum::Router, slot: Slot, header: Duration)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = router.map_request(move |mut req: axum::extract::Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(ConnectInfo(Peer(peer)));
        req
    });
    let served = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header)
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
        .await;
    if let Err(e) = served {
        tracing::debug!(%peer, error = %e, "http connection ended");
    }
    drop(slot);
}
