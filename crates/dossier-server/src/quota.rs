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

/// How many screening batches may run at once: per organization and in all. A batch holds a
/// thread while it screens; these bounds keep clients that upload and then stop reading
/// from piling them up (each gives up after the request time limit anyway).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    pub per_org: usize,
    pub global: usize,
}

impl Default for BatchLimits {
    fn default() -> Self {
        Self { per_org: 2, global: 8 }
    }
}

/// The batches running now.
pub struct Batches {
    limits: BatchLimits,
    running: std::sync::Arc<Mutex<HashMap<OrgId, usize>>>,
}

/// A running batch's place; given back when dropped.
pub struct BatchPermit {
    org: OrgId,
    running: std::sync::Arc<Mutex<HashMap<OrgId, usize>>>,
}

impl Drop for BatchPermit {
    fn drop(&mut self) {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = running.get_mut(&self.org) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                running.remove(&self.org);
            }
        }
    }
}

impl Batches {
    pub fn new(limits: BatchLimits) -> Self {
        Self { limits, running: Default::default() }
    }

    /// A place for one more batch of `org`, or 429 with `Retry-After`.
    pub fn admit(&self, org: OrgId) -> Result<BatchPermit, ApiError> {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        let total: usize = running.values().sum();
        let mine = running.get(&org).copied().unwrap_or(0);
        let refuse =
            |what: String| Err(ApiError::new(StatusCode::TOO_MANY_REQUESTS, "Too many batches", what).retry_after(5));
        if mine >= self.limits.per_org.max(1) {
            return refuse(format!(
                "your organization already runs {mine} screening batches, the most it may run at once; send the next when one has finished"
            ));
        }
        if total >= self.limits.global.max(1) {
            return refuse(format!("the server already runs {total} screening batches; try again in a few seconds"));
        }
        *running.entry(org).or_insert(0) += 1;
        Ok(BatchPermit { org, running: self.running.clone() })
    }
}

#[cfg(test)]
mod batch_tests {
    use super::*;

    #[test]
    fn batches_are_bounded_per_organization_and_in_all() {
        let b = Batches::new(BatchLimits { per_org: 2, global: 3 });
        let a1 = b.admit(1).expect("first");
        let _a2 = b.admit(1).expect("second");
        assert_eq!(b.admit(1).err().map(|e| e.status), Some(StatusCode::TOO_MANY_REQUESTS));
        let _b1 = b.admit(2).expect("another organization");
        let e = b.admit(3).err().expect("global limit");
        assert_eq!(e.retry_after, Some(5));
        drop(a1);
        assert!(b.admit(1).is_ok(), "a finished batch gives its place back");
    }
}
