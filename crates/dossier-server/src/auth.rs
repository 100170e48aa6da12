//! Authentication: API tokens as HTTP Basic passwords (what TAXII clients send) or Bearer
//! tokens. Failed attempts are counted per client address and throttled.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode, header};
use base64::Engine;
use dossier_stix::Viewer;
use dossier_store::{Org, TokenInfo};

use crate::error::ApiError;

/// Who is calling: the token, its organization and what the policy needs.
#[derive(Clone, Debug)]
pub struct Caller {
    pub token: TokenInfo,
    pub org: Org,
    pub viewer: Viewer,
}

/// The secret a request presents, if any.
pub fn presented_secret(headers: &HeaderMap) -> Option<(Option<String>, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    match scheme.to_ascii_lowercase().as_str() {
        "bearer" => Some((None, rest.trim().to_owned())),
        "basic" => {
            let decoded = base64::engine::general_purpose::STANDARD.decode(rest.trim()).ok()?;
            let text = String::from_utf8(decoded).ok()?;
            let (user, password) = text.split_once(':')?;
            Some((Some(user.to_owned()), password.to_owned()))
        }
        _ => None,
    }
}

/// What a sign-in attempt is counted against.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Key {
    /// The client address.
    Addr(IpAddr),
    /// A web user's account (its name, lower-cased), wherever the attempts come from.
    Account(String),
}

impl Key {
    /// The key as the store keeps it.
    fn stored(&self) -> String {
        match self {
            Key::Addr(ip) => format!("addr:{ip}"),
            Key::Account(name) => format!("account:{name}"),
        }
    }
}

/// Failed authentications per client address and per account within a window.
///
/// Nothing but the window clears a count: a success, with this credential or any other,
/// takes back only its own attempt. Password attempts are counted *before* the password is
/// hashed ([`Throttle::begin`]), so that concurrent guesses cannot all pass the check while
/// the first ones are still being hashed. An account allows [`ACCOUNT_FACTOR`] times the
/// per-address limit: one address guessing is stopped by its own limit while the account's
/// owner, from anywhere else, keeps signing in; many addresses guessing one account make
/// that account back off for the rest of the window, and no other.
///
/// A store that several nodes share ([`dossier_store::Throttles::shares_throttle`]) keeps
/// the counts, so that the nodes throttle together; otherwise they are kept in memory.
pub struct Throttle {
    failures: Mutex<HashMap<Key, (u32, Instant)>>,
    max: u32,
    window: Duration,
    shared: Option<std::sync::Arc<dyn crate::Store>>,
}

/// How many more failures an account allows than one address.
pub const ACCOUNT_FACTOR: u32 = 5;

impl Throttle {
    /// Counts in memory.
    pub fn new(max: u32, window: Duration) -> Self {
        Self { failures: Mutex::new(HashMap::new()), max, window, shared: None }
    }

    /// Counts in `store` when it is shared by several nodes, else in memory.
    pub fn for_store(max: u32, window: Duration, store: std::sync::Arc<dyn crate::Store>) -> Self {
        let shared = store.shares_throttle().then_some(store);
        Self { shared, ..Self::new(max, window) }
    }

    fn limit(&self, key: &Key) -> u32 {
        match key {
            Key::Addr(_) => self.max,
            Key::Account(_) => self.max.saturating_mul(ACCOUNT_FACTOR),
        }
    }

    fn refused(&self, elapsed: Duration) -> ApiError {
        let secs = self.window.saturating_sub(elapsed).as_secs() + 1;
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many failed authentications",
            format!("try again in {secs} seconds"),
        )
        .retry_after(secs)
    }

    fn window_micros(&self) -> i64 {
        i64::try_from(self.window.as_micros()).unwrap_or(i64::MAX)
    }

    /// Runs `f` on the shared store off the async threads; a store that cannot answer
    /// refuses (an unanswered throttle must not let guesses through).
    async fn on_store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn crate::Store) -> Result<T, dossier_store::StoreError> + Send + 'static,
    ) -> Result<Option<T>, ApiError> {
        let Some(store) = self.shared.clone() else { return Ok(None) };
        match tokio::task::spawn_blocking(move || f(store.as_ref())).await {
            Ok(Ok(v)) => Ok(Some(v)),
            Ok(Err(e)) => Err(ApiError::internal("authentication throttle", e)),
            Err(e) => Err(ApiError::internal("authentication throttle", e)),
        }
    }

    /// A refusal for a key refused since `since` (unix µs).
    fn refused_at(&self, since: i64) -> ApiError {
        let elapsed = dossier_stix::timestamp::now_micros().saturating_sub(since).max(0);
        self.refused(Duration::from_micros(u64::try_from(elapsed).unwrap_or(0)))
    }

    /// Refuses `key` when it is at its limit within the window.
    fn admit(&self, map: &HashMap<Key, (u32, Instant)>, key: &Key) -> Result<(), ApiError> {
        match map.get(key) {
            Some((n, since)) if *n >= self.limit(key) && since.elapsed() < self.window => {
                Err(self.refused(since.elapsed()))
            }
            _ => Ok(()),
        }
    }

    /// Refuses an address that failed too often recently.
    pub async fn check(&self, ip: IpAddr) -> Result<(), ApiError> {
        let key = Key::Addr(ip);
        let (stored, limit, window) = (key.stored(), self.limit(&key), self.window_micros());
        let now = dossier_stix::timestamp::now_micros();
        match self.on_store(move |s| s.refused_since(&stored, limit, window, now)).await? {
            Some(Some(since)) => Err(self.refused_at(since)),
            Some(None) => Ok(()),
            None => self.admit(&self.failures.lock().unwrap_or_else(|p| p.into_inner()), &key),
        }
    }

    /// Counts an attempt against every key before the credential is checked, or refuses it
    /// when any key is at its limit (then nothing is counted). A successful attempt is then
    /// [`Throttle::refund`]ed.
    pub async fn begin(&self, keys: &[Key]) -> Result<(), ApiError> {
        if self.shared.is_some() {
            let stored: Vec<(String, u32)> = keys.iter().map(|k| (k.stored(), self.limit(k))).collect();
            let (window, now) = (self.window_micros(), dossier_stix::timestamp::now_micros());
            let refused = self
                .on_store(move |s| {
                    let keys: Vec<(&str, u32)> = stored.iter().map(|(k, l)| (k.as_str(), *l)).collect();
                    s.attempt(&keys, window, now)
                })
                .await?;
            return match refused.flatten() {
                Some(since) => Err(self.refused_at(since)),
                None => Ok(()),
            };
        }
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        for key in keys {
            self.admit(&map, key)?;
        }
        for key in keys {
            self.count(&mut map, key.clone());
        }
        Ok(())
    }

    /// Takes back one attempt counted by [`Throttle::begin`] that succeeded.
    pub async fn refund(&self, keys: &[Key]) {
        if self.shared.is_some() {
            let stored: Vec<String> = keys.iter().map(Key::stored).collect();
            let done = self.on_store(move |s| s.refund(&stored.iter().map(String::as_str).collect::<Vec<_>>())).await;
            if let Err(e) = done {
                tracing::warn!(error = ?e, "taking back a sign-in attempt failed");
            }
            return;
        }
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        for key in keys {
            if let Some(entry) = map.get_mut(key) {
                entry.0 = entry.0.saturating_sub(1);
            }
        }
    }

    /// Counts a failure of a credential checked without [`Throttle::begin`] (API tokens:
    /// a hash lookup, so there is no slow check to race).
    pub async fn failed(&self, ip: IpAddr) {
        if self.shared.is_some() {
            // Counted even at the limit: u32::MAX never refuses.
            let key = Key::Addr(ip).stored();
            let (window, now) = (self.window_micros(), dossier_stix::timestamp::now_micros());
            if let Err(e) = self.on_store(move |s| s.attempt(&[(key.as_str(), u32::MAX)], window, now)).await {
                tracing::warn!(error = ?e, "counting a failed authentication failed");
            }
            return;
        }
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        self.count(&mut map, Key::Addr(ip));
    }

    fn count(&self, map: &mut HashMap<Key, (u32, Instant)>, key: Key) {
        let entry = map.entry(key).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= self.window {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
        if map.len() > 100_000 {
            let window = self.window;
            map.retain(|_, (_, since)| since.elapsed() < window);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_success_takes_back_only_its_own_attempt() {
        let t = Throttle::new(3, Duration::from_secs(60));
        let ip: IpAddr = [192, 0, 2, 1].into();
        t.failed(ip).await;
        t.failed(ip).await;
        t.begin(&[Key::Addr(ip)]).await.unwrap();
        t.refund(&[Key::Addr(ip)]).await;
        t.failed(ip).await;
        assert!(t.check(ip).await.is_err(), "two failures, a success, a failure: three");
    }

    #[tokio::test]
    async fn attempts_count_before_they_are_checked_and_accounts_have_their_own_limit() {
        let t = Throttle::new(2, Duration::from_secs(60));
        let account = Key::Account("alice".into());
        let mut passed = 0;
        for i in 0..20u8 {
            let keys = [Key::Addr([198, 51, 100, i / 4].into()), account.clone()];
            if t.begin(&keys).await.is_ok() {
                passed += 1;
            }
        }
        // Five addresses, two attempts each, until the account's limit of ten.
        assert_eq!(passed, 10);
        let fresh = [Key::Addr([203, 0, 113, 9].into()), Key::Account("bob".into())];
        assert!(t.begin(&fresh).await.is_ok(), "another account from another address is unaffected");
    }
}
