//! Syslog listeners: UDP (one datagram, one record) and streams over TCP or
//! TLS (LF or octet-counted frames, see `wire::framing`).
//!
//! A stream connection reads, frames, and hands the complete records to the
//! log; it reads on only once they are durable, which is the only
//! acknowledgement syslog over TCP has. While the pipeline is behind it
//! stops reading, so the sender's socket buffer fills and the sender blocks.
//! UDP has no way to push back: datagrams that arrive while the pipeline is
//! behind are dropped and counted on the source.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use engine::{Ingest, Refused};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::Semaphore;
use wal::Batch;
use wire::framing::Framer;

use crate::budget::Budget;
use crate::config::Syslog;

/// Who records from one listener are attributed to.
#[derive(Clone)]
pub(crate) struct Origin {
    pub(crate) tenant: String,
    pub(crate) source: String,
    pub(crate) format: String,
}

impl Origin {
    pub(crate) fn of(config: &Syslog) -> Origin {
        Origin {
            tenant: config.tenant.clone(),
            source: config.source.clone(),
            format: config.format.as_str().to_string(),
        }
    }

    fn batch(&self, records: Vec<String>) -> Batch {
        Batch {
            received: jiff::Timestamp::now().as_nanosecond() as i64,
            tenant: self.tenant.clone(),
            source: self.source.clone(),
            format: self.format.clone(),
            records,
        }
    }
}

const BUSY_WAIT: Duration = Duration::from_millis(50);

pub(crate) async fn serve_udp(socket: UdpSocket, ingest: Ingest, origin: Origin) {
    // Batches waiting for the log at once; beyond that, datagrams are dropped
    // (and counted) rather than queued without bound.
    let in_flight = Arc::new(Semaphore::new(64));
    let mut buf = vec![0u8; 65_536];
    loop {
        let mut records = Vec::new();
        match socket.recv_from(&mut buf).await {
            Ok((n, _)) => records.push(wire::text(&buf[..n])),
            Err(e) => {
                tracing::warn!(error = %e, "syslog udp receive failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        }
        // Whatever else has already arrived goes in the same batch.
        while records.len() < 1024 {
            match socket.try_recv_from(&mut buf) {
                Ok((n, _)) => records.push(wire::text(&buf[..n])),
                Err(_) => break,
            }
        }
        records.retain(|r| !r.trim().is_empty());
        if records.is_empty() {
            continue;
        }
        let permit = match in_flight.clone().try_acquire_owned() {
            Ok(p) if !ingest.busy_for(&origin.tenant) => p,
            _ => {
                ingest.dropped(&origin.tenant, &origin.source, records.len() as u64);
                continue;
            }
        };
        let (ingest, origin, batch) = (ingest.clone(), origin.clone(), origin.batch(records));
        tokio::spawn(async move {
            let n = batch.records.len() as u64;
            if ingest.submit(batch).await.is_err() {
                ingest.dropped(&origin.tenant, &origin.source, n);
            }
            drop(permit);
        });
    }
}

/// How a syslog stream listener serves its connections.
pub(crate) struct Stream {
    /// TLS, or plain TCP.
    pub(crate) tls: Option<tokio_rustls::TlsAcceptor>,
    pub(crate) budget: Arc<Budget>,
    /// A stream that sends nothing for this long is closed.
    pub(crate) idle: Duration,
}

/// Serves syslog streams on `listener`.
pub(crate) async fn serve_stream(listener: TcpListener, how: Stream, ingest: Ingest, origin: Origin) {
    let kind = if how.tls.is_some() { "tls" } else { "tcp" };
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Out of descriptors and the like: wait, do not spin.
                tracing::warn!(error = %e, kind, "syslog accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(slot) = how.budget.admit(peer.ip()) else {
            tracing::debug!(%peer, kind, "syslog: over the connection budget; closed");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (tls, idle, ingest, origin) = (how.tls.clone(), how.idle, ingest.clone(), origin.clone());
        tokio::spawn(async move {
            let _slot = slot;
            let Some(acceptor) = tls else { return read_stream(stream, peer, idle, ingest, origin).await };
            // A client that never finishes the handshake must not hold
            // the task forever.
            match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await {
                Ok(Ok(tls)) => read_stream(tls, peer, idle, ingest, origin).await,
                Ok(Err(e)) => tracing::info!(%peer, error = %e, "syslog tls handshake failed"),
                Err(_) => tracing::info!(%peer, "syslog tls handshake timed out"),
            }
        });
    }
}

/// Reads one syslog stream to its end.
pub(crate) async fn read_stream<S: AsyncRead + Unpin>(
    mut stream: S,
    peer: SocketAddr,
    idle: Duration,
    ingest: Ingest,
    origin: Origin,
) {
    let mut framer = Framer::new();
    // Small: the connection budget allows thousands of streams, most of them
    // quiet; a busy one reads often.
    let mut buf = vec![0u8; 16 << 10];
    loop {
        while ingest.busy_for(&origin.tenant) {
            tokio::time::sleep(BUSY_WAIT).await;
        }
        let n = match tokio::time::timeout(idle, stream.read(&mut buf)).await {
            Ok(Ok(n)) => n,
            Ok(Err(e)) => {
                tracing::info!(%peer, error = %e, "syslog stream read failed");
                0
            }
            Err(_) => {
                tracing::debug!(%peer, "syslog stream idle; closing it");
                0
            }
        };
        let mut records = Vec::new();
        let mut broken = None;
        if n == 0 {
            records.extend(framer.finish().map(|b| wire::text(&b)));
        } else {
            framer.push(&buf[..n]);
            while let Some(frame) = framer.next_frame() {
                match frame {
                    Ok(b) => records.push(wire::text(&b)),
                    Err(e) => {
                        broken = Some(e.0);
                        break;
                    }
                }
            }
        }
        if !records.is_empty() && !deliver(&ingest, &origin, records).await {
            return;
        }
        if let Some(reason) = broken {
            // The rest of the stream cannot be framed: keep what was read as
            // a record the parser will refuse, so it is in the dead letter.
            let rest = framer.finish().map(|b| wire::text(&b)).unwrap_or_default();
            tracing::warn!(%peer, %reason, "syslog stream cannot be framed; closing it");
            let reject = Origin { format: format!("reject:syslog framing: {reason}"), ..origin.clone() };
            deliver(&ingest, &reject, vec![rest]).await;
            return;
        }
        if n == 0 {
            return;
        }
    }
}

/// Hands records to the log, waiting while the pipeline is behind. `false`
/// when the log failed and the connection should close.
async fn deliver(ingest: &Ingest, origin: &Origin, records: Vec<String>) -> bool {
    let batch = origin.batch(records);
    loop {
        match ingest.submit(batch.clone()).await {
            Ok(_) => return true,
            Err(Refused::Busy | Refused::Stopped(_)) => tokio::time::sleep(BUSY_WAIT).await,
            Err(Refused::Failed(e)) => {
                tracing::error!(error = %e, "syslog: the write-ahead log refused records");
                return false;
            }
        }
    }
}
