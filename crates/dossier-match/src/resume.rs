//! Near-duplicate resumes: MinHash over word shingles.
//!
//! Operatives reuse a team's resume with small edits (a new name, a few words swapped, a
//! line dropped, sections re-ordered, a scan run through OCR); legitimate applicants share
//! stock phrases but not whole documents. A MinHash signature estimates the Jaccard
//! similarity of two texts' 3-word shingles; LSH bands give index keys so that candidates
//! are found without comparing every pair. Hashing is fixed (no per-process seed), so
//! signatures can be stored (in index snapshots) and compared later.
//!
//! OCR confusions are folded on both sides (`0` reads as `o`, `1` as `l`, and `m` as `rn`),
//! so a scanned copy compares with its source. Shingles do span sentence ends: keeping them
//! inside sentences made re-ordered copies no closer (measured on the independent
//! generator) but made innocent resumes assembled from the same stock sentences look like
//! copies of each other (7 innocents of 19,022 sent to review on `dossier generate`'s data).

/// Permutations in a signature.
pub const SIGNATURE_LEN: usize = 128;
/// LSH bands of 4 rows (32 × 4 = 128 slots). A pair with Jaccard similarity `s`
/// shares a band with probability `s⁴`; a candidate must share two (see the index): 98.5%
/// of pairs at 0.65, 43% at 0.46 (a reworked copy; a team's other personas' copies are
/// further chances), almost none at 0.14. Bands of 3 rows found 92% at 0.46 but made the
/// bands that stock phrases share crowded: screening at 100,000 actors ran 4 times slower.
pub const BANDS: usize = 32;
const ROWS: usize = 4;
/// Texts with fewer words than this are too short to compare meaningfully.
pub const MIN_WORDS: usize = 20;
const SHINGLE: usize = 3;

/// A MinHash signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature(pub [u32; SIGNATURE_LEN]);

/// SplitMix64: the output for state `z` (the state then advances by the same constant).
pub(crate) fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0100_0000_01b3;

#[cfg(test)]
fn fnv1a(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(FNV_OFFSET, |h, b| (h ^ u64::from(b)).wrapping_mul(FNV_PRIME))
}

/// The hash of each word: lower-cased, transliterated, OCR confusions folded, punctuation
/// as separator.
fn word_hashes(text: &str) -> Vec<u64> {
    let folded;
    let text = if text.is_ascii() {
        text
    } else {
        folded = deunicode::deunicode(text);
        folded.as_str()
    };
    // One pass over the bytes (the text is ASCII here): FNV-1a of each run of letters and
    // digits, lower-cased and OCR-folded — the same values as hashing each split-out word.
    // A table gives each byte's folded form, or 0 for a separator.
    static FOLD: [u8; 256] = {
        let mut t = [0u8; 256];
        let mut b = 0;
        while b < 256 {
            let c = b as u8;
            if c.is_ascii_alphanumeric() {
                t[b] = match c.to_ascii_lowercase() {
                    b'0' => b'o',
                    b'1' => b'l',
                    l => l,
                };
            }
            b += 1;
        }
        t
    };
    let mut out = Vec::with_capacity(text.len() / 6);
    let mut h = FNV_OFFSET;
    let mut in_word = false;
    for &b in text.as_bytes() {
        let c = FOLD[usize::from(b)];
        if c == b'm' {
            // `m` and OCR's `rn` hash alike.
            h = (h ^ u64::from(b'r')).wrapping_mul(FNV_PRIME);
            h = (h ^ u64::from(b'n')).wrapping_mul(FNV_PRIME);
            in_word = true;
        } else if c != 0 {
            h = (h ^ u64::from(c)).wrapping_mul(FNV_PRIME);
            in_word = true;
        } else if in_word {
            out.push(h);
            h = FNV_OFFSET;
            in_word = false;
        }
    }
    if in_word {
        out.push(h);
    }
    out
}

/// The signature of `text`, or `None` when it has fewer than [`MIN_WORDS`] words.
///
/// One-permutation hashing with optimal densification (Shrivastava, ICML 2017): each
/// shingle is hashed once; the top bits pick one of the 128 bins and the low 32 bits
/// compete for its minimum; a bin no shingle fell into borrows the value of the first
/// non-empty bin along its own fixed probe sequence. Two texts agree in a bin with
/// probability equal to their shingles' Jaccard similarity, as with 128 independent
/// permutations, at 1/128 of the cost (a few hundred nanoseconds per resume).
pub fn signature(text: &str) -> Option<Signature> {
    let words = word_hashes(text);
    if words.len() < MIN_WORDS {
        return None;
    }
    let mut bins = [u32::MAX; SIGNATURE_LEN];
    let mut filled = [false; SIGNATURE_LEN];
    for w in words.windows(SHINGLE) {
        let h = splitmix(w[0] ^ splitmix(w[1] ^ splitmix(w[2])));
        let bin = (h >> 57) as usize;
        let v = h as u32;
        filled[bin] = true;
        bins[bin] = bins[bin].min(v);
    }
    let mut sig = bins;
    for i in 0..SIGNATURE_LEN {
        if filled[i] {
            continue;
        }
        let mut attempt = 0u64;
        loop {
            attempt += 1;
            let j = (splitmix(((i as u64) << 32) | attempt) >> 57) as usize;
            if filled[j] {
                sig[i] = bins[j];
                break;
            }
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

    /// The low 16 bits of each slot: half the memory, and a similarity estimate biased
    /// by at most 1/65536 (b-bit minwise hashing).
    pub fn compact(&self) -> [u16; SIGNATURE_LEN] {
        self.0.map(|v| v as u16)
    }

    /// Estimated similarity of this signature with a compact one.
    pub fn similarity_compact(&self, other: &[u16; SIGNATURE_LEN]) -> f64 {
        let same = self.0.iter().zip(other.iter()).filter(|(a, b)| **a as u16 == **b).count();
        same as f64 / SIGNATURE_LEN as f64
    }

    /// LSH band keys: two texts sharing any key are candidates.
    pub fn bands(&self) -> [u64; BANDS] {
        let mut out = [0u64; BANDS];
        for (b, chunk) in self.0.chunks_exact(ROWS).take(BANDS).enumerate() {
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

    /// The single-pass hashing gives the values of hashing each split-out word (OCR-folded),
    /// so that signatures (and snapshots) do not change with it.
    #[test]
    fn word_hashes_match_the_split_definition() {
        for text in [
            "",
            "  ",
            "Built DeFi lending; audited 12 protocols.",
            "--C++ / Rust,  Go!!",
            "x",
            "Ünïcödé Résumé naïve café",
            "a1b2 C3-d4\nE5",
        ] {
            let folded = deunicode::deunicode(text);
            let want: Vec<u64> = folded
                .split(|c: char| !c.is_ascii_alphanumeric())
                .filter(|w| !w.is_empty())
                .map(|w| {
                    let w = w.to_ascii_lowercase().replace('0', "o").replace('1', "l").replace('m', "rn");
                    fnv1a(w.bytes())
                })
                .collect();
            assert_eq!(word_hashes(text), want, "{text:?}");
        }
    }

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
    fn a_scanned_copy_stays_a_near_duplicate() {
        let a = signature(TEAM).unwrap();
        // OCR: `rn` for `m`, `1` for `l`, `0` for `o`.
        let scanned =
            TEAM.replace("millions", "rnillions").replace("scalable", "sca1able").replace("focused", "f0cused");
        assert!(a.similarity(&signature(&scanned).unwrap()) > 0.9);
    }

    #[test]
    fn resumes_sharing_stock_phrases_are_not() {
        let other = "Emily Young\n3 years of professional experience.\nSenior full-stack engineer with a passion for building scalable web applications.\nMigrated a monolith to microservices on Kubernetes, cutting costs by 40%.\nBuilt data pipelines with Kafka, Spark and Airflow.\nMentored junior developers and ran weekly code reviews.\nImplemented CI/CD pipelines with GitHub Actions, Docker and Terraform.\nPreviously at Orbit Exchange and Apex Web Studio.";
        let s = signature(TEAM).unwrap().similarity(&signature(other).unwrap());
        assert!(s < 0.25, "{s}");
    }

    #[test]
    fn the_estimate_tracks_the_true_jaccard_similarity() {
        // Texts of 150 distinct words; the second keeps a prefix of the first and replaces the rest.
        let base: Vec<String> = (0..150).map(|i| format!("w{i}")).collect();
        for keep in [20usize, 60, 100, 140] {
            let other: Vec<String> =
                base.iter().enumerate().map(|(i, w)| if i < keep { w.clone() } else { format!("x{i}") }).collect();
            let shingles =
                |v: &[String]| -> std::collections::HashSet<String> { v.windows(3).map(|w| w.join(" ")).collect() };
            let (a, b) = (shingles(&base), shingles(&other));
            let truth = a.intersection(&b).count() as f64 / a.union(&b).count() as f64;
            let est = signature(&base.join(" ")).unwrap().similarity(&signature(&other.join(" ")).unwrap());
            assert!((est - truth).abs() < 0.12, "keep {keep}: estimate {est}, true {truth}");
        }
    }

    #[test]
    fn short_texts_have_no_signature_and_hashing_is_pinned() {
        assert!(signature("too short to compare").is_none());
        // Signatures are stored in index snapshots: these values change only with the
        // snapshot format's number.
        let text = "the quick brown fox jumps over the lazy dog while the senior engineer builds scalable web applications with react typescript and rust every day";
        assert_eq!(signature(text).unwrap().0[..4], [3_377_507_035, 1_860_582_438, 539_717_467, 4_202_207_680]);
    }
}
