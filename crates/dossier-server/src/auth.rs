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

/// Failed authentications per client address and per account within a window.
///
/// Nothing but the window clears a count: a success, with this credential or any other,
/// takes back only its own attempt. Password attempts are counted *before* the password is
/// hashed ([`Throttle::begin`]), so that concurrent guesses cannot all pass the check while
/// the first ones are still being hashed. An account allows [`ACCOUNT_FACTOR`] times the
/// per-address limit: one address guessing is stopped by its own limit while the account's
/// owner, from anywhere else, keeps signing in; many addresses guessing one account make
/// that account back off for the rest of the window, and no other.
pub struct Throttle {
    failures: Mutex<HashMap<Key, (u32, Instant)>>,
    max: u32,
    window: Duration,
}

/// How many more failures an account allows than one address.
pub const ACCOUNT_FACTOR: u32 = 5;

impl Throttle {
    pub fn new(max: u32, window: Duration) -> Self {
        Self { failures: Mutex::new(HashMap::new()), max, window }
    }

    fn limit(&self, key: &Key) -> u32 {
        match key {
            Key::Addr(_) => self.max,
            Key::Account(_) => self.max.saturating_mul(ACCOUNT_FACTOR),
        }
    }

    fn refused(&self, since: Instant) -> ApiError {
        let secs = self.window.saturating_sub(since.elapsed()).as_secs() + 1;
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many failed authentications",
            format!("try again in {secs} seconds"),
        )
        .retry_after(secs)
    }

    /// Refuses `key` when it is at its limit within the window.
    fn admit(&self, map: &HashMap<Key, (u32, Instant)>, key: &Key) -> Result<(), ApiError> {
        match map.get(key) {
            Some((n, since)) if *n >= self.limit(key) && since.elapsed() < self.window => Err(self.refused(*since)),
            _ => Ok(()),
        }
    }

    /// Refuses an address that failed too often recently.
    pub fn check(&self, ip: IpAddr) -> Result<(), ApiError> {
        self.admit(&self.failures.lock().unwrap_or_else(|p| p.into_inner()), &Key::Addr(ip))
    }

    /// Counts an attempt against every key before the credential is checked, or refuses it
    /// when any key is at its limit (then nothing is counted). A successful attempt is then
    /// [`Throttle::refund`]ed.
    pub fn begin(&self, keys: &[Key]) -> Result<(), ApiError> {
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
    pub fn refund(&self, keys: &[Key]) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        for key in keys {
            if let Some(entry) = map.get_mut(key) {
                entry.0 = entry.0.saturating_sub(1);
            }
        }
    }

    /// Counts a failure of a credential checked without [`Throttle::begin`] (API tokens:
    /// a hash lookup, so there is no slow check to race).
    pub fn failed(&self, ip: IpAddr) {
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

    #[test]
    fn a_success_takes_back_only_its_own_attempt() {
        let t = Throttle::new(3, Duration::from_secs(60));
        let ip: IpAddr = [192, 0, 2, 1].into();
        t.failed(ip);
        t.failed(ip);
        t.begin(&[Key::Addr(ip)]).unwrap();
        t.refund(&[Key::Addr(ip)]);
        t.failed(ip);
        assert!(t.check(ip).is_err(), "two failures, a success, a failure: three");
    }

    #[test]
    fn attempts_count_before_they_are_checked_and_accounts_have_their_own_limit() {
        let t = Throttle::new(2, Duration::from_secs(60));
        let account = Key::Account("alice".into());
        let mut passed = 0;
        for i in 0..20u8 {
            let keys = [Key::Addr([198, 51, 100, i / 4].into()), account.clone()];
            if t.begin(&keys).is_ok() {
                passed += 1;
            }
        }
        // Five addresses, two attempts each, until the account's limit of ten.
        assert_eq!(passed, 10);
        let fresh = [Key::Addr([203, 0, 113, 9].into()), Key::Account("bob".into())];
        assert!(t.begin(&fresh).is_ok(), "another account from another address is unaffected");
    }
}
