//! Cryptocurrency addresses: chain detection, checksums (EIP-55, base58check, bech32 and
//! bech32m) and a canonical form for matching.

use sha2::{Digest, Sha256};
use sha3::Keccak256;

/// The chains dossier recognises from an address alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Chain {
    /// Ethereum and EVM chains (one address format for all).
    Eth,
    Tron,
    Btc,
}

impl Chain {
    /// The chain a network or token-standard name stands for, as exchanges and members write
    /// them: every EVM network (`Ethereum`, `BSC`, `Polygon`, `Arbitrum`, `Base`, `ERC20`,
    /// `BEP20` …) is [`Chain::Eth`] — one address is one key on all of them.
    pub fn named(name: &str) -> Option<Chain> {
        let n: String =
            name.trim().chars().filter(char::is_ascii_alphanumeric).collect::<String>().to_ascii_lowercase();
        Some(match n.as_str() {
            "eth" | "ethereum" | "evm" | "erc20" | "bsc" | "bnb" | "bnbchain" | "bnbsmartchain"
            | "binancesmartchain" | "bep20" | "polygon" | "matic" | "pol" | "arbitrum" | "arb" | "arbitrumone"
            | "base" | "optimism" | "op" | "avalanche" | "avax" | "avaxc" | "cchain" | "fantom" | "ftm" | "linea"
            | "zksync" | "scroll" | "celo" | "gnosis" | "xdai" | "blast" | "mantle" => Chain::Eth,
            "tron" | "trx" | "trc20" => Chain::Tron,
            "btc" | "bitcoin" | "xbt" => Chain::Btc,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Chain::Eth => "eth",
            Chain::Tron => "tron",
            Chain::Btc => "btc",
        }
    }
}

/// Why an address is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WalletError {
    #[error("not a recognised cryptocurrency address")]
    Unrecognised,
    #[error("an 0x address must have exactly 40 hexadecimal digits")]
    MalformedEvm,
    #[error("EIP-55 checksum does not match (mixed-case address)")]
    Eip55Checksum,
    #[error("base58check checksum does not match")]
    Base58Checksum,
    #[error("invalid bech32 address: {0}")]
    Bech32(String),
}

/// A validated address in canonical form: EVM addresses lower-case with `0x`, bech32
/// lower-case, base58 exactly as given (it is case-sensitive).
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Wallet {
    pub chain: Chain,
    pub canonical: String,
}

/// EIP-55 mixed-case checksum encoding of 20 bytes.
pub fn eip55(address: &[u8; 20]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let hex: String = address
        .iter()
        .flat_map(|b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 0xf)]])
        .map(char::from)
        .collect();
    let hash = Keccak256::digest(hex.as_bytes());
    let mut out = String::with_capacity(42);
    out.push_str("0x");
    for (i, c) in hex.chars().enumerate() {
        let nibble = (hash[i / 2] >> (if i % 2 == 0 { 4 } else { 0 })) & 0x0f;
        if c.is_ascii_alphabetic() && nibble >= 8 {
            out.push(c.to_ascii_uppercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn checksum4(payload: &[u8]) -> [u8; 4] {
    let h = Sha256::digest(Sha256::digest(payload));
    [h[0], h[1], h[2], h[3]]
}

/// base58check encoding of `version ‖ payload`.
pub fn base58check(version: u8, payload: &[u8]) -> String {
    let mut data = Vec::with_capacity(payload.len() + 5);
    data.push(version);
    data.extend_from_slice(payload);
    let sum = checksum4(&data);
    data.extend_from_slice(&sum);
    bs58::encode(data).into_string()
}

/// Decodes base58check into `version ‖ payload` after verifying the checksum.
pub fn base58check_decode(s: &str) -> Result<Vec<u8>, WalletError> {
    let data = bs58::decode(s).into_vec().map_err(|_| WalletError::Unrecognised)?;
    if data.len() < 5 {
        return Err(WalletError::Unrecognised);
    }
    let (body, sum) = data.split_at(data.len() - 4);
    if checksum4(body) != sum {
        return Err(WalletError::Base58Checksum);
    }
    Ok(body.to_vec())
}

/// A TRON address (version byte 0x41) for a 20-byte account id.
pub fn tron_address(account: &[u8; 20]) -> String {
    base58check(0x41, account)
}

/// A native segwit v0 (P2WPKH) Bitcoin address for a 20-byte key hash.
pub fn btc_p2wpkh(key_hash: &[u8; 20]) -> String {
    bech32::segwit::encode_v0(bech32::hrp::BC, key_hash).unwrap_or_default()
}

/// A legacy P2PKH Bitcoin address for a 20-byte key hash.
pub fn btc_p2pkh(key_hash: &[u8; 20]) -> String {
    base58check(0x00, key_hash)
}

/// Validates `address` and returns its chain and canonical form.
pub fn parse(address: &str) -> Result<Wallet, WalletError> {
    let (cleaned, _) = crate::normalize::clean::clean(address);
    let a = cleaned.trim();
    // TRON in its hex form (`41` and 20 bytes, as TRON's APIs and explorers also show it):
    // the same account as its base58 address, so the same key.
    let tron_hex = a.strip_prefix("0x").or_else(|| a.strip_prefix("0X")).unwrap_or(a);
    if tron_hex.len() == 42 && tron_hex.starts_with("41") && tron_hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        let mut bytes = [0u8; 20];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = u8::from_str_radix(&tron_hex[2 + 2 * i..4 + 2 * i], 16).map_err(|_| WalletError::Unrecognised)?;
        }
        return Ok(Wallet { chain: Chain::Tron, canonical: base58check(0x41, &bytes) });
    }
    if let Some(hex) = a.strip_prefix("0x").or_else(|| a.strip_prefix("0X")) {
        if hex.len() == 40 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            let lower = hex.to_ascii_lowercase();
            let mixed = hex.bytes().any(|b| b.is_ascii_lowercase()) && hex.bytes().any(|b| b.is_ascii_uppercase());
            if mixed {
                let mut bytes = [0u8; 20];
                for (i, chunk) in lower.as_bytes().chunks(2).enumerate() {
                    let s = std::str::from_utf8(chunk).map_err(|_| WalletError::Unrecognised)?;
                    bytes[i] = u8::from_str_radix(s, 16).map_err(|_| WalletError::Unrecognised)?;
                }
                if eip55(&bytes)[2..] != *hex {
                    return Err(WalletError::Eip55Checksum);
                }
            }
            return Ok(Wallet { chain: Chain::Eth, canonical: ["0x", &*lower].concat() });
        }
        return Err(WalletError::MalformedEvm);
    }
    let lower = a.to_ascii_lowercase();
    if lower.starts_with("bc1") || lower.starts_with("tb1") {
        return match bech32::segwit::decode(a) {
            Ok(_) => Ok(Wallet { chain: Chain::Btc, canonical: lower }),
            Err(e) => Err(WalletError::Bech32(e.to_string())),
        };
    }
    if a.starts_with('T') && a.len() == 34 {
        let body = base58check_decode(a)?;
        if body.len() == 21 && body[0] == 0x41 {
            return Ok(Wallet { chain: Chain::Tron, canonical: a.to_owned() });
        }
        return Err(WalletError::Unrecognised);
    }
    if (a.starts_with('1') || a.starts_with('3')) && (26..=35).contains(&a.len()) {
        let body = base58check_decode(a)?;
        if body.len() == 21 && (body[0] == 0x00 || body[0] == 0x05) {
            return Ok(Wallet { chain: Chain::Btc, canonical: a.to_owned() });
        }
    }
    Err(WalletError::Unrecognised)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tron_address_in_hex_is_its_base58_address() {
        let b58 = "TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7";
        let body = base58check_decode(b58).unwrap();
        let hex: String = body.iter().map(|b| format!("{b:02x}")).collect();
        assert!(hex.starts_with("41") && hex.len() == 42);
        assert_eq!(parse(&hex).unwrap(), parse(b58).unwrap());
        assert_eq!(parse(&format!("0x{}", hex.to_uppercase())).unwrap().canonical, b58);
    }

    #[test]
    fn eip55_matches_the_eip_test_vectors() {
        for want in [
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
            "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
            "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
        ] {
            let w = parse(want).unwrap();
            let mut bytes = [0u8; 20];
            for (i, b) in bytes.iter_mut().enumerate() {
                *b = u8::from_str_radix(&w.canonical[2 + 2 * i..4 + 2 * i], 16).unwrap();
            }
            assert_eq!(eip55(&bytes), want);
        }
        assert_eq!(parse("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"), Err(WalletError::Eip55Checksum));
        assert_eq!(parse("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed").unwrap().chain, Chain::Eth);
    }

    #[test]
    fn known_btc_and_tron_addresses_validate() {
        assert_eq!(parse("1KFHE7w8BhaENAswwryaoccDb6qcT6DbYY").unwrap().chain, Chain::Btc);
        assert_eq!(parse("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4").unwrap().chain, Chain::Btc);
        assert_eq!(parse("TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7").unwrap().chain, Chain::Tron);
        assert!(parse("1KFHE7w8BhaENAswwryaoccDb6qcT6DbYZ").is_err());
        let k = [7u8; 20];
        assert_eq!(parse(&tron_address(&k)).unwrap().chain, Chain::Tron);
        assert_eq!(parse(&btc_p2wpkh(&k)).unwrap().chain, Chain::Btc);
        assert_eq!(parse(&btc_p2pkh(&k)).unwrap().chain, Chain::Btc);
    }
}
