//! Keyed hashes: HMAC-SHA-256 (RFC 2104), for values that must be compared but never kept
//! in the clear — identity-document numbers in the store, screened identifiers in the audit
//! log.

use sha2::{Digest, Sha256};

/// HMAC-SHA-256 of `text` under `key`.
pub fn hmac_sha256(key: &[u8], text: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(text);
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// The first `bytes` bytes of [`hmac_sha256`] in lower-case hex.
pub fn hmac_hex(key: &[u8], text: &[u8], bytes: usize) -> String {
    hmac_sha256(key, text)[..bytes.min(32)].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_is_hmac_sha256() {
        // RFC 4231 test cases 2 and 6 (a key longer than the block).
        assert_eq!(
            hmac_hex(b"Jefe", b"what do ya want for nothing?", 32),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hmac_hex(&[0xaa; 131], b"Test Using Larger Than Block-Size Key - Hash Key First", 32),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }
}
