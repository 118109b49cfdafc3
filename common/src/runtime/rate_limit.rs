//! Client-side rate limiting of Kubernetes API requests (`--kube-api-qps`, `--kube-api-burst`):
//! a token bucket as client-go's, as a tower layer on the kube client.

use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tower_layer::Layer;
use tower_service::Service;

/// A token bucket: `burst` tokens, refilled at `qps` per second (pure; the clock is passed in).
#[derive(Clone, Debug)]
pub struct TokenBucket {
    qps: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket at `now`.
    pub fn new(qps: f32, burst: u32, now: Instant) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            qps: f64::from(qps).max(f64::MIN_POSITIVE),
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// Takes a token at `now` and returns how long the caller must wait before using it
    /// (zero when a token was available). Waiting callers queue up in order.
    pub fn reserve(&mut self, now: Instant) -> Duration {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now.max(self.last);
        self.tokens = (self.tokens + elapsed * self.qps).min(self.burst) - 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.qps)
        }
    }
}

/// A client for `config` whose requests are limited to `qps` per second with bursts of
/// `burst` (each client has its own bucket, as each client-go client has its own limiter),
/// resolving names in Rust ([`crate::dns`]).
pub fn rate_limited_client(
    config: kube::Config,
    qps: f32,
    burst: u32,
) -> Result<kube::Client, kube::Error> {
    let builder = crate::dns::kube_client_builder(config)?;
    Ok(builder.with_layer(&RateLimitLayer::new(qps, burst)).build())
}

/// The layer that rate-limits every request of a client.
#[derive(Clone, Debug)]
pub struct RateLimitLayer {
    bucket: Arc<Mutex<TokenBucket>>,
}

impl RateLimitLayer {
    /// A limiter of `qps` requests per second with bursts of `burst`.
    pub fn new(qps: f32, burst: u32) -> Self {
        Self {
            bucket: Arc::new(Mutex::new(TokenBucket::new(qps, burst, Instant::now()))),
        }
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimit {
            inner,
            bucket: self.bucket.clone(),
            wait: None,
            ready: false,
        }
    }
}

/// A service that waits for a token before each request.
pub struct RateLimit<S> {
    inner: S,
    bucket: Arc<Mutex<TokenBucket>>,
    wait: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
    ready: bool,
}

impl<S, R> Service<R> for RateLimit<S>
where
    S: Service<R>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        if !self.ready {
            if self.wait.is_none() {
                let delay = self
                    .bucket
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .reserve(Instant::now());
                // A token at hand needs no timer: even an elapsed sleep waits for the timer
                // wheel's next millisecond tick, and kube's client reserves one request at a
                // time, so that tick would cap every client at 1,000 requests a second.
                if !delay.is_zero() {
                    self.wait = Some(Box::pin(tokio::time::sleep(delay)));
                }
            }
            if let Some(wait) = self.wait.as_mut() {
                if wait.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                self.wait = None;
            }
            self.ready = true;
        }
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        self.ready = false;
        self.inner.call(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_paces_at_qps() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(10.0, 3, start);
        let waits: Vec<Duration> = (0..5).map(|_| bucket.reserve(start)).collect();
        assert_eq!(&waits[..3], &[Duration::ZERO; 3]);
        assert_eq!(waits[3], Duration::from_millis(100));
        assert_eq!(waits[4], Duration::from_millis(200));
        // A second later the debt is paid and 8 tokens came back (capped at the burst of 3).
        let later = start + Duration::from_secs(1);
        let waits: Vec<Duration> = (0..4).map(|_| bucket.reserve(later)).collect();
        assert_eq!(&waits[..3], &[Duration::ZERO; 3]);
        assert_eq!(waits[3], Duration::from_millis(100));
    }

    #[test]
    fn an_idle_bucket_never_holds_more_than_its_burst() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(1000.0, 2, start);
        let later = start + Duration::from_secs(3600);
        assert_eq!(bucket.reserve(later), Duration::ZERO);
        assert_eq!(bucket.reserve(later), Duration::ZERO);
        assert_eq!(bucket.reserve(later), Duration::from_millis(1));
    }
}
