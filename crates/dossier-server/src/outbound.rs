//! The server's one HTTP(S) client, for calls it makes itself: webhooks, and TAXII sync
//! with peers and mirrors. HTTP/1.1 over a fresh connection per request; HTTPS through rustls
//! (ring) with the system's root certificates. Credentials go in headers the caller passes
//! and are never logged here.

use std::net::IpAddr;
use std::sync::Arc;

use axum::body::Bytes;
use http_body_util::BodyExt;
use hyper::{HeaderMap, Method, StatusCode};

/// Where a URL points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    /// The path and query, starting with `/`.
    pub path: String,
}

/// Splits an `http://` or `https://` URL (no user name or password in it).
pub(crate) fn target(url: &str) -> Result<Target, String> {
    let (scheme, rest) = url.split_once("://").ok_or("an http:// or https:// URL")?;
    let tls = match scheme.to_ascii_lowercase().as_str() {
        "https" => true,
        "http" => false,
        _ => return Err("only http:// and https:// URLs".into()),
    };
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], rest[i..].to_owned()),
        None => (rest, "/".to_owned()),
    };
    if authority.is_empty() || authority.contains('@') || url.chars().any(char::is_whitespace) {
        return Err("a host, without user name or password, and no spaces".into());
    }
    let path = if path.starts_with('?') { format!("/{path}") } else { path };
    let (host, port) = if let Some(h) = authority.strip_prefix('[') {
        let (h, after) = h.split_once(']').ok_or("a bracketed IPv6 address")?;
        (h.to_owned(), after.strip_prefix(':').map(str::parse).transpose().map_err(|_| "the port")?)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), Some(p.parse().map_err(|_| "the port")?)),
            None => (authority.to_owned(), None),
        }
    };
    Ok(Target { tls, port: port.unwrap_or(if tls { 443 } else { 80 }), host, path })
}

/// Loopback, private, link-local, unspecified and other non-public addresses.
pub(crate) fn internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            a.is_loopback()
                || a.is_private()
                || a.is_link_local()
                || a.is_unspecified()
                || a.is_broadcast()
                || a.octets()[0] == 100 && (64..128).contains(&a.octets()[1]) // carrier-grade NAT
        }
        IpAddr::V6(a) => {
            a.is_loopback()
                || a.is_unspecified()
                || (a.segments()[0] & 0xfe00) == 0xfc00 // unique local
                || (a.segments()[0] & 0xffc0) == 0xfe80 // link-local
                || a.to_ipv4_mapped().is_some_and(|v4| internal(IpAddr::V4(v4)))
        }
    }
}

fn tls_config() -> Option<Arc<tokio_rustls::rustls::ClientConfig>> {
    static CONFIG: std::sync::OnceLock<Option<Arc<tokio_rustls::rustls::ClientConfig>>> = std::sync::OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let mut roots = tokio_rustls::rustls::RootCertStore::empty();
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                let _ = roots.add(cert);
            }
            if roots.is_empty() {
                tracing::error!("no system root certificates found: https calls cannot be verified");
                return None;
            }
            let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
            let config = tokio_rustls::rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .ok()?
                .with_root_certificates(roots)
                .with_no_client_auth();
            Some(Arc::new(config))
        })
        .clone()
}

/// One request to make.
pub(crate) struct Call<'a> {
    pub method: Method,
    pub url: &'a str,
    pub headers: &'a [(&'a str, String)],
    pub body: Bytes,
    /// Refuse hosts on loopback, private or link-local networks (what members configure).
    pub public_only: bool,
    /// The longest answer body read; a longer one is an error.
    pub max_answer: usize,
    pub user_agent: &'a str,
}

/// An answer.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Why a call failed; `transient` when trying again later may succeed (the network), not
/// when the request itself is wrong (a bad header value, a refused address).
#[derive(Debug, Clone)]
pub(crate) struct CallError {
    pub transient: bool,
    pub message: String,
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Makes one request and reads the whole answer (up to `max_answer` bytes).
pub(crate) async fn call(c: Call<'_>) -> Result<Answer, CallError> {
    let fixed = |message: String| CallError { transient: false, message };
    let t = target(c.url).map_err(fixed)?;
    if c.headers.iter().any(|(_, v)| hyper::header::HeaderValue::from_str(v).is_err()) {
        return Err(fixed("a header value holds characters HTTP does not allow (a line break?)".into()));
    }
    call_target(c, t).await.map_err(|message| CallError { transient: true, message })
}

async fn call_target(c: Call<'_>, t: Target) -> Result<Answer, String> {
    let addrs: Vec<std::net::SocketAddr> = tokio::net::lookup_host((t.host.as_str(), t.port))
        .await
        .map_err(|e| format!("resolving {}: {e}", t.host))?
        .collect();
    let addr = *addrs.first().ok_or_else(|| format!("{} has no address", t.host))?;
    if c.public_only && addrs.iter().any(|a| internal(a.ip())) {
        return Err(format!("{} is on a loopback, private or link-local network: refused", t.host));
    }
    let stream = tokio::net::TcpStream::connect(addr).await.map_err(|e| format!("connecting: {e}"))?;
    let host = if (t.tls && t.port == 443) || (!t.tls && t.port == 80) {
        t.host.clone()
    } else if t.host.contains(':') {
        format!("[{}]:{}", t.host, t.port)
    } else {
        format!("{}:{}", t.host, t.port)
    };
    let mut req = hyper::Request::builder()
        .method(c.method)
        .uri(t.path.as_str())
        .header(hyper::header::HOST, host)
        .header(hyper::header::USER_AGENT, c.user_agent);
    for (k, v) in c.headers {
        req = req.header(*k, v.as_str());
    }
    let req = req.body(http_body_util::Full::new(c.body)).map_err(|e| format!("the request: {e}"))?;
    if t.tls {
        let config = tls_config().ok_or("no system root certificates")?;
        let name = tokio_rustls::rustls::pki_types::ServerName::try_from(t.host.clone())
            .map_err(|_| format!("{} is not a host name", t.host))?;
        let tls =
            tokio_rustls::TlsConnector::from(config).connect(name, stream).await.map_err(|e| format!("TLS: {e}"))?;
        send(hyper_util::rt::TokioIo::new(tls), req, c.max_answer).await
    } else {
        send(hyper_util::rt::TokioIo::new(stream), req, c.max_answer).await
    }
}

async fn send<IO>(io: IO, req: hyper::Request<http_body_util::Full<Bytes>>, max: usize) -> Result<Answer, String>
where
    IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(io).await.map_err(|e| format!("HTTP handshake: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let resp = sender.send_request(req).await.map_err(|e| format!("sending: {e}"))?;
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = http_body_util::Limited::new(resp.into_body(), max)
        .collect()
        .await
        .map_err(|e| format!("reading the answer (at most {max} bytes): {e}"))?
        .to_bytes();
    Ok(Answer { status, headers, body })
}

/// GETs `url` (http or https, system roots) and returns the body, refusing answers over
/// `max_bytes` or other than 2xx: for the command line's fetches (MISP feeds).
pub async fn fetch(url: &str, max_bytes: usize) -> Result<Vec<u8>, String> {
    let answer = call(Call {
        method: hyper::Method::GET,
        url,
        headers: &[("accept", "application/json".to_owned())],
        body: Bytes::new(),
        public_only: false,
        max_answer: max_bytes,
        user_agent: "dossier",
    })
    .await
    .map_err(|e| format!("{url}: {e}"))?;
    if !answer.status.is_success() {
        return Err(format!("{url}: answered {}", answer.status));
    }
    Ok(answer.body.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_host_port_and_path() {
        let t = target("http://[::1]:8080/hook?x=1").unwrap();
        assert_eq!((t.tls, t.host.as_str(), t.port, t.path.as_str()), (false, "::1", 8080, "/hook?x=1"));
        let t = target("https://example.com").unwrap();
        assert_eq!((t.tls, t.host.as_str(), t.port, t.path.as_str()), (true, "example.com", 443, "/"));
        assert!(target("https://user:pw@example.com/").is_err());
        assert!(target("ftp://example.com/").is_err());
    }

    #[test]
    fn internal_addresses_are_recognised() {
        for ip in ["127.0.0.1", "10.1.2.3", "192.168.0.1", "169.254.1.1", "100.64.0.1", "::1", "fd00::1", "fe80::1"] {
            assert!(internal(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "2001:4860::8888"] {
            assert!(!internal(ip.parse().unwrap()), "{ip}");
        }
    }
}
