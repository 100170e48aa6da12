//! How the store reaches PostgreSQL: without TLS, or with TLS as libpq's `sslmode` asks.
//!
//! The driver itself knows `sslmode=disable|prefer|require` only and refuses libpq's other
//! parameters, so the URL's `sslmode` and `sslrootcert` are read here, taken out, and the
//! TLS settings built from them:
//!
//! - absent, `disable`, `allow` or `prefer`: no TLS (a local socket or a private network;
//!   `prefer` does not try TLS first, so a server with a self-signed certificate on the
//!   same host keeps working);
//! - `require`: TLS; the server's certificate is checked against `sslrootcert` when one is
//!   given (as libpq does), else not checked at all — encryption against eavesdroppers,
//!   not against someone in the middle;
//! - `verify-ca`: TLS, the certificate chain checked against `sslrootcert` (else the
//!   system's roots), not the host name;
//! - `verify-full`: TLS, the chain and the host name checked.
//!
//! `sslcert` and `sslkey` (PEM files; the key PKCS#8, SEC1 or PKCS#1) give the client
//! certificate a server that authenticates by certificate (`cert` in `pg_hba.conf`) asks
//! for. As libpq, the key must not be readable by others (mode 0600, or 0640 owned by root);
//! unlike libpq, they need TLS to be asked for (`sslmode=require` or stricter) rather than
//! being ignored without it.

use std::sync::Arc;

use postgres::{Client, NoTls};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::StoreError;

/// What `sslmode` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Plain,
    Require,
    VerifyCa,
    VerifyFull,
}

/// A URL with the TLS settings it names.
#[derive(Clone)]
pub(crate) struct Connector {
    /// The URL handed to the driver (`sslmode` set as it understands it, `sslrootcert`
    /// taken out).
    url: String,
    /// The URL as given, for messages (its password hidden when shown).
    given: String,
    tls: Option<MakeRustlsConnect>,
    pub(crate) mode: Mode,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector").field("url", &crate::redact(&self.given)).field("mode", &self.mode).finish()
    }
}

fn invalid(url: &str, what: impl std::fmt::Display) -> StoreError {
    StoreError::Invalid(format!("{}: {what}", crate::redact(url)))
}

/// `%XX` escapes decoded (a path given in a URL's query).
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

impl Connector {
    /// Reads `url`'s TLS settings; a mode it does not know, or a root certificate file
    /// that cannot be read, is an error that names it.
    pub(crate) fn parse(url: &str) -> Result<Self, StoreError> {
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut kept = Vec::new();
        let (mut mode, mut root, mut cert, mut private) = (Mode::Plain, None, None, None);
        let path = |name: &str, value: &str| {
            percent_decode(value).ok_or_else(|| invalid(url, format!("{name} is not a valid path")))
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "sslmode" => {
                    mode = match value {
                        "disable" | "allow" | "prefer" => Mode::Plain,
                        "require" => Mode::Require,
                        "verify-ca" => Mode::VerifyCa,
                        "verify-full" => Mode::VerifyFull,
                        other => {
                            return Err(invalid(
                                url,
                                format!(
                                    "sslmode={other} is not one of disable, allow, prefer, require, verify-ca, verify-full"
                                ),
                            ));
                        }
                    }
                }
                "sslrootcert" => root = Some(path("sslrootcert", value)?),
                "sslcert" => cert = Some(path("sslcert", value)?),
                "sslkey" => private = Some(path("sslkey", value)?),
                _ => kept.push(pair),
            }
        }
        let client = match (cert, private) {
            (None, None) => None,
            (Some(_), None) | (None, Some(_)) => {
                return Err(invalid(url, "sslcert and sslkey go together: the certificate and its private key"));
            }
            (Some(_), Some(_)) if mode == Mode::Plain => {
                return Err(invalid(url, "sslcert and sslkey need sslmode=require, verify-ca or verify-full"));
            }
            (Some(cert), Some(key)) => Some(client_certificate(url, &cert, &key)?),
        };
        if mode != Mode::Plain {
            kept.push("sslmode=require");
        }
        let driver_url = if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) };
        let tls = match mode {
            Mode::Plain => None,
            _ => Some(MakeRustlsConnect::new(client_config(url, mode, root.as_deref(), client)?)),
        };
        Ok(Self { url: driver_url, given: url.to_owned(), tls, mode })
    }

    /// A new connection; a failure names the URL (its password hidden) and, for TLS, what
    /// was checked.
    pub(crate) fn connect(&self) -> Result<Client, StoreError> {
        let connected = match &self.tls {
            Some(tls) => Client::connect(&self.url, tls.clone()),
            None => Client::connect(&self.url, NoTls),
        };
        connected.map_err(|e| {
            // The driver's message for a failed handshake is only "error performing TLS
            // handshake": what failed (an unknown issuer, a name that does not match) is in
            // its sources.
            let mut why = String::new();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                why.push_str(&format!(": {s}"));
                source = s.source();
            }
            let mut err = StoreError::from(e);
            if let StoreError::Database { message, .. } = &mut err {
                if !message.contains(why.trim_start_matches(": ")) {
                    message.push_str(&why);
                }
                let how = match self.mode {
                    Mode::Plain => "",
                    Mode::Require => " (TLS)",
                    Mode::VerifyCa => " (TLS, certificate chain verified)",
                    Mode::VerifyFull => " (TLS, certificate chain and host name verified)",
                };
                *message = format!("connecting to {}{how}: {message}", crate::redact(&self.given));
            }
            err
        })
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The certificates of PEM file `path` (at least one), named by its parameter in errors.
fn certificates(url: &str, param: &str, path: &str) -> Result<Vec<CertificateDer<'static>>, StoreError> {
    let failed = |e: rustls::pki_types::pem::Error| invalid(url, format!("{param} {path}: {e}"));
    let certs = CertificateDer::pem_file_iter(path).map_err(failed)?.collect::<Result<Vec<_>, _>>().map_err(failed)?;
    if certs.is_empty() {
        return Err(invalid(url, format!("{param} {path}: no certificate in the file")));
    }
    Ok(certs)
}

/// A client certificate chain and its key.
type ClientCertificate = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

/// Reads `sslcert` and `sslkey`, refusing a key that others may read (as libpq does).
fn client_certificate(url: &str, cert: &str, key: &str) -> Result<ClientCertificate, StoreError> {
    let chain = certificates(url, "sslcert", cert)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(key).map_err(|e| invalid(url, format!("sslkey {key}: {e}")))?;
        let mode = meta.mode() & 0o777;
        // Group read is allowed for a key owned by root (shared with a service group).
        let allowed = if meta.uid() == 0 { 0o040 } else { 0 };
        if mode & 0o077 & !allowed != 0 {
            return Err(invalid(
                url,
                format!(
                    "sslkey {key}: the private key may be read by others (mode {mode:o}); it must have mode 0600 or \
                     less (0640 if owned by root)"
                ),
            ));
        }
    }
    let private = PrivateKeyDer::from_pem_file(key).map_err(|e| invalid(url, format!("sslkey {key}: {e}")))?;
    Ok((chain, private))
}

fn client_config(
    url: &str,
    mode: Mode,
    root: Option<&str>,
    client: Option<ClientCertificate>,
) -> Result<rustls::ClientConfig, StoreError> {
    let provider = provider();
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(url, format!("TLS: {e}")))?;
    let roots = || -> Result<RootCertStore, StoreError> {
        let mut store = RootCertStore::empty();
        match root {
            Some(path) => {
                for c in certificates(url, "sslrootcert", path)? {
                    store.add(c).map_err(|e| invalid(url, format!("sslrootcert {path}: {e}")))?;
                }
            }
            None => {
                for c in rustls_native_certs::load_native_certs().certs {
                    // A system root this TLS library cannot use is skipped, as browsers do.
                    let _ = store.add(c);
                }
            }
        }
        Ok(store)
    };
    let builder = match mode {
        Mode::VerifyFull => builder.with_root_certificates(roots()?),
        Mode::VerifyCa | Mode::Require => {
            let chain = if mode == Mode::Require && root.is_none() {
                None
            } else {
                Some(
                    rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots()?), provider.clone())
                        .build()
                        .map_err(|e| invalid(url, format!("TLS: {e}")))?,
                )
            };
            let lenient = Lenient { chain, provider };
            builder.dangerous().with_custom_certificate_verifier(Arc::new(lenient))
        }
        Mode::Plain => return Err(invalid(url, "no TLS asked for")),
    };
    match client {
        None => Ok(builder.with_no_client_auth()),
        Some((chain, key)) => {
            builder.with_client_auth_cert(chain, key).map_err(|e| invalid(url, format!("sslcert and sslkey: {e}")))
        }
    }
}

/// `verify-ca` (`chain`: the chain must lead to a trusted root, the name in the certificate
/// need not be the host's) and `require` without a root (`chain` is `None`: any certificate,
/// libpq's meaning). Either way the handshake's signatures are checked, so the session key
/// belongs to the certificate shown.
#[derive(Debug)]
struct Lenient {
    chain: Option<Arc<rustls::client::WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else { return Ok(ServerCertVerified::assertion()) };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libpq_tls_parameters_are_read_and_taken_out() {
        let c = Connector::parse("postgres://u:p@db.example:5432/d").unwrap();
        assert_eq!((c.mode, c.url.as_str()), (Mode::Plain, "postgres://u:p@db.example:5432/d"));
        let c = Connector::parse("postgres://u@h/d?connect_timeout=5&sslmode=prefer").unwrap();
        assert_eq!((c.mode, c.url.as_str()), (Mode::Plain, "postgres://u@h/d?connect_timeout=5"));
        let c = Connector::parse("postgres://u@h/d?sslmode=require&application_name=x").unwrap();
        assert_eq!((c.mode, c.url.as_str()), (Mode::Require, "postgres://u@h/d?application_name=x&sslmode=require"));
        let c = Connector::parse("postgres://u@h/d?sslmode=verify-full").unwrap();
        assert_eq!(c.mode, Mode::VerifyFull);
        let err = Connector::parse("postgres://u:secret@h/d?sslmode=verify-everything").unwrap_err().to_string();
        assert!(err.contains("sslmode=verify-everything is not one of") && !err.contains("secret"), "{err}");
        let err = Connector::parse("postgres://u@h/d?sslmode=verify-ca&sslrootcert=%2Fno%2Fsuch.pem").unwrap_err();
        assert!(err.to_string().contains("sslrootcert /no/such.pem"), "{err}");
        // As libpq: only %XX is decoded ('+' is a plus sign in a path).
        let err = Connector::parse("postgres://u@h/d?sslmode=verify-ca&sslrootcert=%2Fa+b.pem").unwrap_err();
        assert!(err.to_string().contains("sslrootcert /a+b.pem"), "{err}");
        // A client certificate: both files, and TLS asked for.
        let err = Connector::parse("postgres://u@h/d?sslmode=require&sslcert=%2Fc.pem").unwrap_err().to_string();
        assert!(err.contains("sslcert and sslkey go together"), "{err}");
        let err = Connector::parse("postgres://u@h/d?sslkey=%2Fk.pem&sslcert=%2Fc.pem").unwrap_err().to_string();
        assert!(err.contains("need sslmode=require"), "{err}");
        let err = Connector::parse("postgres://u@h/d?sslmode=require&sslcert=%2Fno%2Fc.pem&sslkey=%2Fk.pem")
            .unwrap_err()
            .to_string();
        assert!(err.contains("sslcert /no/c.pem"), "{err}");
    }
}
