//! Per-organization write quotas: objects and bytes per minute, so that one member's token
//! (or a stolen one) cannot flood the exchange. A token bucket per organization and measure:
//! full at the per-minute allowance, refilled continuously at that rate; a write takes what
//! it stores, and is refused with 429 and `Retry-After` when the bucket holds too little.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use dossier_stix::OrgId;

use crate::error::ApiError;

/// What one organization may write per minute (0: no limit on that measure).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteQuota {
    pub objects_per_minute: u64,
    pub bytes_per_minute: u64,
}

impl Default for WriteQuota {
    /// Generous: a member importing its history in 10 MiB requests is not held back by
    /// much, while a runaway script is.
    fn default() -> Self {
        Self { objects_per_minute: 100_000, bytes_per_minute: 256 * 1024 * 1024 }
    }
}

struct Bucket {
    objects: f64,
    bytes: f64,
    at: Instant,
}

/// The buckets of every organization that wrote recently.
pub struct Quotas {
    quota: WriteQuota,
    buckets: Mutex<HashMap<OrgId, Bucket>>,
}

impl Quotas {
    pub fn new(quota: WriteQuota) -> Self {
        Self { quota, buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes `objects` objects and `bytes` bytes from `org`'s allowance, or refuses the
    /// write (taking nothing) with the time after which it would pass.
    pub fn take(&self, org: OrgId, objects: u64, bytes: u64) -> Result<(), ApiError> {
        let q = self.quota;
        for (asked, per_minute, what) in
            [(objects, q.objects_per_minute, "objects"), (bytes, q.bytes_per_minute, "bytes")]
        {
            if per_minute > 0 && asked > per_minute {
                return Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "Request above the write quota",
                    format!(
                        "this request holds {asked} {what}, more than an organization may write in a minute ({per_minute}); split it"
                    ),
                ));
            }
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > 10_000 {
            // Full buckets carry no information: forget them.
            buckets.retain(|_, b| now.duration_since(b.at) < Duration::from_secs(60));
        }
        let b = buckets.entry(org).or_insert(Bucket {
            objects: q.objects_per_minute as f64,
            bytes: q.bytes_per_minute as f64,
            at: now,
        });
        let minutes = now.duration_since(b.at).as_secs_f64() / 60.0;
        b.objects = (b.objects + minutes * q.objects_per_minute as f64).min(q.objects_per_minute as f64);
        b.bytes = (b.bytes + minutes * q.bytes_per_minute as f64).min(q.bytes_per_minute as f64);
        b.at = now;
        let mut wait: f64 = 0.0;
        for (have, asked, per_minute) in
            [(b.objects, objects, q.objects_per_minute), (b.bytes, bytes, q.bytes_per_minute)]
        {
            if per_minute > 0 && (asked as f64) > have {
                wait = wait.max((asked as f64 - have) / per_minute as f64 * 60.0);
            }
        }
        if wait > 0.0 {
            let secs = wait.ceil().max(1.0) as u64;
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "Write quota exceeded",
                format!(
                    "your organization may write {} objects and {} bytes per minute; try again in {secs} s",
                    q.objects_per_minute, q.bytes_per_minute
                ),
            )
            .retry_after(secs));
        }
        if q.objects_per_minute > 0 {
            b.objects -= objects as f64;
        }
        if q.bytes_per_minute > 0 {
            b.bytes -= bytes as f64;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_refuses_what_exceeds_it_and_refills_over_time() {
        let q = Quotas::new(WriteQuota { objects_per_minute: 60, bytes_per_minute: 0 });
        assert!(q.take(1, 50, 10).is_ok());
        let e = q.take(1, 20, 10).expect_err("only 10 left");
        assert_eq!(e.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(e.retry_after.is_some_and(|s| (1..=11).contains(&s)), "{:?}", e.retry_after);
        // Another organization has its own bucket; the refused write took nothing.
        assert!(q.take(2, 60, 0).is_ok());
        assert!(q.take(1, 10, 0).is_ok());
        // A request larger than a minute's allowance can never pass: said at once.
        assert_eq!(q.take(3, 61, 0).expect_err("too big").status, StatusCode::PAYLOAD_TOO_LARGE);
    }
}
