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

/// Failed authentications per client address within a sliding window.
pub struct Throttle {
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
    max: u32,
    window: Duration,
}

impl Throttle {
    pub fn new(max: u32, window: Duration) -> Self {
        Self { failures: Mutex::new(HashMap::new()), max, window }
    }

    /// Refuses an address that failed too often recently.
    pub fn check(&self, ip: IpAddr) -> Result<(), ApiError> {
        let map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((n, since)) = map.get(&ip)
            && *n >= self.max
            && since.elapsed() < self.window
        {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many failed authentications",
                format!("try again in {} seconds", self.window.saturating_sub(since.elapsed()).as_secs() + 1),
            ));
        }
        Ok(())
    }

    pub fn failed(&self, ip: IpAddr) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let entry = map.entry(ip).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= self.window {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
        if map.len() > 100_000 {
            let window = self.window;
            map.retain(|_, (_, since)| since.elapsed() < window);
        }
    }

    pub fn succeeded(&self, ip: IpAddr) {
        self.failures.lock().unwrap_or_else(|p| p.into_inner()).remove(&ip);
    }
}
