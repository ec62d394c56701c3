//! The load generator of the HTTP bench: fixed-rate, open-loop requests over keep-alive
//! HTTP/1.1 connections (hyper's client), and latency percentiles from every sample.

use super::Prepared;
use http_body_util::BodyExt;
use hyper::StatusCode;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// What one connection saw.
#[derive(Default)]
struct ConnStats {
    latencies_us: Vec<u32>,
    service_us: Vec<u32>,
    unexpected: Vec<u16>,
    held_back: u64,
    errors: Vec<String>,
}

/// Sends `requests[i]` for `i = index, index + step, ...` at `start + i / rate` on one
/// keep-alive connection.
async fn connection(
    addr: SocketAddr,
    requests: Arc<Vec<Prepared>>,
    expect: StatusCode,
    (index, step): (usize, usize),
    start: Instant,
    interval: Duration,
) -> ConnStats {
    let mut stats = ConnStats::default();
    let stream = match TcpStream::connect(addr).await {
        Ok(s) => s,
        Err(e) => {
            stats.errors.push(format!("connect: {e}"));
            return stats;
        }
    };
    let _ = stream.set_nodelay(true);
    let (mut sender, conn) = match hyper::client::conn::http1::handshake(TokioIo::new(stream)).await
    {
        Ok(pair) => pair,
        Err(e) => {
            stats.errors.push(format!("handshake: {e}"));
            return stats;
        }
    };
    tokio::spawn(conn);
    let mut previous_done = start;
    for i in (index..requests.len()).step_by(step) {
        let scheduled = start + interval.mul_f64(i as f64);
        tokio::time::sleep_until(scheduled.into()).await;
        let sent = Instant::now();
        let answer = async {
            sender.ready().await?;
            let response = sender.send_request(requests[i].request()).await?;
            let status = response.status();
            response.into_body().collect().await?;
            Ok::<_, hyper::Error>(status)
        }
        .await;
        let done = Instant::now();
        let from = if previous_done > scheduled {
            stats.held_back += 1;
            scheduled
        } else {
            sent
        };
        previous_done = done;
        match answer {
            Ok(status) => {
                if status != expect {
                    stats.unexpected.push(status.as_u16());
                }
                let us = done.duration_since(from).as_micros();
                stats.latencies_us.push(us.min(u32::MAX as u128) as u32);
                let own = done.duration_since(sent).as_micros();
                stats.service_us.push(own.min(u32::MAX as u128) as u32);
            }
            Err(e) => {
                stats.errors.push(e.to_string());
                break;
            }
        }
    }
    stats
}

/// The result of one phase.
pub struct Phase {
    sent: usize,
    elapsed: Duration,
    latencies_us: Vec<u32>,
    service_us: Vec<u32>,
    /// Statuses other than the expected one.
    pub unexpected: Vec<u16>,
    held_back: u64,
    /// Connection and protocol errors.
    pub errors: Vec<String>,
    /// When request 0 was due; request `i` was due `i` intervals later.
    pub start: Instant,
    /// The time between two scheduled sends.
    pub interval: Duration,
}

/// Sends every request at `rate` per second over `connections` connections.
pub async fn load(
    addr: SocketAddr,
    requests: Vec<Prepared>,
    expect: StatusCode,
    rate: u64,
    connections: usize,
) -> Phase {
    let requests = Arc::new(requests);
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    // A little ahead, so every connection is open before its first request is due.
    let start = Instant::now() + Duration::from_millis(50);
    let tasks: Vec<_> = (0..connections)
        .map(|c| {
            let requests = requests.clone();
            tokio::spawn(connection(
                addr,
                requests,
                expect,
                (c, connections),
                start,
                interval,
            ))
        })
        .collect();
    let mut phase = Phase {
        sent: requests.len(),
        elapsed: Duration::ZERO,
        latencies_us: Vec::with_capacity(requests.len()),
        service_us: Vec::with_capacity(requests.len()),
        unexpected: Vec::new(),
        held_back: 0,
        errors: Vec::new(),
        start,
        interval,
    };
    for task in tasks {
        let stats = task.await.expect("a connection task");
        phase.latencies_us.extend(stats.latencies_us);
        phase.service_us.extend(stats.service_us);
        phase.unexpected.extend(stats.unexpected);
        phase.held_back += stats.held_back;
        phase.errors.extend(stats.errors);
    }
    phase.elapsed = start.elapsed();
    phase
}

/// The value at quantile `q` of sorted samples (nearest rank).
pub fn quantile(sorted: &[u32], q: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

pub fn ms(us: u32) -> String {
    format!("{:.2} ms", us as f64 / 1000.0)
}

impl Phase {
    /// One line of figures (println!: this is the bench's report).
    pub fn report(&mut self, name: &str, target_rate: u64) {
        self.latencies_us.sort_unstable();
        self.service_us.sort_unstable();
        let done = self.latencies_us.len();
        let s = &self.latencies_us;
        println!(
            "{name:<18} target {target_rate:>5}/s  achieved {:>7.0}/s  n={done:<6} p50 {}  p90 {}  p99 {}  p99.9 {}  max {}",
            done as f64 / self.elapsed.as_secs_f64(),
            ms(quantile(s, 0.50)),
            ms(quantile(s, 0.90)),
            ms(quantile(s, 0.99)),
            ms(quantile(s, 0.999)),
            ms(s.last().copied().unwrap_or(0)),
        );
        let own = &self.service_us;
        println!(
            "  send to answer (no schedule wait): p50 {}  p99 {}  max {}",
            ms(quantile(own, 0.50)),
            ms(quantile(own, 0.99)),
            ms(own.last().copied().unwrap_or(0)),
        );
        if done < self.sent {
            println!(
                "  {} of {} requests got no answer",
                self.sent - done,
                self.sent
            );
        }
        if self.held_back > 0 {
            println!(
                "  {} requests waited for the previous answer on their connection (timed from their schedule)",
                self.held_back
            );
        }
        if !self.unexpected.is_empty() {
            let mut codes = self.unexpected.clone();
            codes.sort_unstable();
            codes.dedup();
            println!(
                "  {} answers with an unexpected status: {codes:?}",
                self.unexpected.len()
            );
        }
        for e in self.errors.iter().take(3) {
            println!("  error: {e}");
        }
    }
}
