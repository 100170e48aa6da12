//! Near-duplicate resumes: MinHash over word shingles.
//!
//! Operatives reuse a team's resume with small edits (a new name, a few words swapped, a
//! line dropped); legitimate applicants share stock phrases but not whole documents. A
//! MinHash signature estimates the Jaccard similarity of two texts' 3-word shingles; LSH
//! bands give index keys so that candidates are found without comparing every pair.
//! Hashing is fixed (no per-process seed), so signatures can be stored and compared later.

/// Permutations in a signature.
pub const SIGNATURE_LEN: usize = 128;
/// LSH bands (rows per band = SIGNATURE_LEN / BANDS). 32 bands of 4 rows find pairs with
/// Jaccard ≈ 0.5 or more with high probability.
pub const BANDS: usize = 32;
const ROWS: usize = SIGNATURE_LEN / BANDS;
/// Texts with fewer words than this are too short to compare meaningfully.
pub const MIN_WORDS: usize = 20;
const SHINGLE: usize = 3;

/// A MinHash signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature(pub [u32; SIGNATURE_LEN]);

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn fnv1a(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// The hash of each word: lower-cased, transliterated, punctuation as separator.
fn word_hashes(text: &str) -> Vec<u64> {
    let folded;
    let text = if text.is_ascii() {
        text
    } else {
        folded = deunicode::deunicode(text);
        folded.as_str()
    };
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| fnv1a(w.bytes().map(|b| b.to_ascii_lowercase())))
        .collect()
}

/// Multiply-add-shift hash family (Dietzfelbinger): `(a·x + b) >> 32` over 32-bit keys with
/// 64-bit odd `a`. One (a, b) pair per permutation, fixed for all time.
fn family() -> &'static [(u64, u64); SIGNATURE_LEN] {
    static FAMILY: std::sync::OnceLock<[(u64, u64); SIGNATURE_LEN]> = std::sync::OnceLock::new();
    FAMILY.get_or_init(|| {
        let mut f = [(0u64, 0u64); SIGNATURE_LEN];
        for (i, slot) in f.iter_mut().enumerate() {
            *slot = (splitmix(2 * i as u64 + 1) | 1, splitmix(2 * i as u64 + 2));
        }
        f
    })
}

/// The signature of `text`, or `None` when it has fewer than [`MIN_WORDS`] words. Each
/// word is hashed once and each shingle once; the 128 permutations are one multiply-add
/// each, so a one-page resume takes a few microseconds.
pub fn signature(text: &str) -> Option<Signature> {
    let words = word_hashes(text);
    if words.len() < MIN_WORDS {
        return None;
    }
    let family = family();
    let mut sig = [u32::MAX; SIGNATURE_LEN];
    for w in words.windows(SHINGLE) {
        let h = splitmix(w[0] ^ splitmix(w[1] ^ splitmix(w[2])));
        let x = (h ^ (h >> 32)) & 0xffff_ffff;
        for (slot, (a, b)) in sig.iter_mut().zip(family.iter()) {
            let v = (a.wrapping_mul(x).wrapping_add(*b) >> 32) as u32;
            *slot = (*slot).min(v);
        }
    }
    Some(Signature(sig))
}

impl Signature {
    /// Estimated Jaccard similarity of the two texts' shingles (0–1).
    pub fn similarity(&self, other: &Signature) -> f64 {
        let same = self.0.iter().zip(other.0.iter()).filter(|(a, b)| a == b).count();
        same as f64 / SIGNATURE_LEN as f64
    }

    /// LSH band keys: two texts sharing any key are candidates.
    pub fn bands(&self) -> [u64; BANDS] {
        let mut out = [0u64; BANDS];
        for (b, chunk) in self.0.chunks(ROWS).enumerate() {
            let mut h = splitmix(b as u64);
            for v in chunk {
                h = splitmix(h ^ u64::from(*v));
            }
            out[b] = h;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEAM: &str = "Kim Chol-su\n8 years of professional experience.\nSenior full-stack engineer with a passion for building scalable web applications.\nExperienced blockchain developer focused on DeFi protocols and smart contract security.\nDesigned and implemented RESTful APIs serving millions of requests per day.\nBuilt decentralized exchange front ends with React, TypeScript and ethers.js.\nLed a team of five engineers delivering a cross-chain bridge on schedule.\nComfortable working remotely across time zones with distributed teams.\nPreviously at Blockwave Labs and Nimbus Pay.";

    #[test]
    fn an_edited_copy_is_a_near_duplicate() {
        let edited = TEAM
            .replace("Kim Chol-su", "Daniel Park")
            .replace("passion", "strong passion")
            .replace("Led a team of five engineers delivering a cross-chain bridge on schedule.\n", "")
            .replace("millions", "thousands");
        let a = signature(TEAM).unwrap();
        let b = signature(&edited).unwrap();
        assert!(a.similarity(&b) > 0.55, "{}", a.similarity(&b));
        assert!(a.bands().iter().zip(b.bands().iter()).any(|(x, y)| x == y), "found as a candidate");
        assert_eq!(a.similarity(&signature(TEAM).unwrap()), 1.0);
    }

    #[test]
    fn resumes_sharing_stock_phrases_are_not() {
        let other = "Emily Young\n3 years of professional experience.\nSenior full-stack engineer with a passion for building scalable web applications.\nMigrated a monolith to microservices on Kubernetes, cutting costs by 40%.\nBuilt data pipelines with Kafka, Spark and Airflow.\nMentored junior developers and ran weekly code reviews.\nImplemented CI/CD pipelines with GitHub Actions, Docker and Terraform.\nPreviously at Orbit Exchange and Apex Web Studio.";
        let s = signature(TEAM).unwrap().similarity(&signature(other).unwrap());
        assert!(s < 0.25, "{s}");
    }

    #[test]
    fn short_texts_have_no_signature_and_hashing_is_pinned() {
        assert!(signature("too short to compare").is_none());
        // Signatures are stored: these values must never change between releases.
        let text = "the quick brown fox jumps over the lazy dog while the senior engineer builds scalable web applications with react typescript and rust every day";
        assert_eq!(signature(text).unwrap().0[..4], [149_783_568, 179_290_879, 263_065_136, 202_849_618]);
    }
}
