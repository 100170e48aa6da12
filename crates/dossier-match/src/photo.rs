//! Profile photos: a 64-bit perceptual hash that survives resizing, re-encoding and small
//! crops, compared by Hamming distance.
//!
//! Operatives reuse one edited headshot across personas. Its file bytes change with every
//! re-save (so the SHA-256 of documents does not meet it); its perceptual hash barely does.
//! The hash is the classic pHash: the image in grey, shrunk, its discrete cosine transform,
//! and one bit per low-frequency coefficient (above or below their mean), computed with the
//! `image_hasher` crate (8 × 8 bits, DCT pre-processing, mean). Only the hash is stored and
//! compared: members share `file` objects with `x_dossier_phash` (16 hexadecimal digits),
//! which `dossier photo-hash IMAGE` computes, and the image never needs to leave them.

use std::io::Cursor;

use image_hasher::{HashAlg, HasherConfig};

/// Largest image file hashed, in bytes.
pub const MAX_IMAGE_BYTES: usize = 20 * 1024 * 1024;
/// Largest width or height hashed, in pixels.
pub const MAX_DIMENSION: u32 = 12_000;
/// Hashes at most this far apart (bits of 64) count as one photo edited. Measured on the
/// tests' synthetic portraits (a face in the middle, blobs placed at random): a resize
/// moves 0 bits, a JPEG re-encode at quality 60 at most 1, a 2.5% crop on every side at
/// most 7; two different portraits were at least 11 apart — portraits share their layout,
/// so the margin is small and the weight falls fast with distance.
pub const NEAR: u32 = 8;

/// A perceptual hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PhotoHash(pub u64);

/// Why an image or a hash could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhotoError {
    #[error("the image is {0} bytes, the limit is {MAX_IMAGE_BYTES}")]
    TooLarge(usize),
    #[error("not a JPEG or PNG image dossier can read: {0}")]
    Decode(String),
    #[error("a photo hash is 16 hexadecimal digits (from `dossier photo-hash`)")]
    BadHash,
}

impl PhotoHash {
    /// Parses 16 hexadecimal digits (case, spaces and a `0x` prefix ignored).
    pub fn parse(s: &str) -> Result<Self, PhotoError> {
        let t: String = s.trim().trim_start_matches("0x").chars().filter(|c| !c.is_whitespace()).collect();
        if t.len() != 16 {
            return Err(PhotoError::BadHash);
        }
        u64::from_str_radix(&t, 16).map(PhotoHash).map_err(|_| PhotoError::BadHash)
    }

    /// 16 lower-case hexadecimal digits.
    pub fn hex(self) -> String {
        format!("{:016x}", self.0)
    }

    /// Bits that differ.
    pub fn distance(self, other: PhotoHash) -> u32 {
        (self.0 ^ other.0).count_ones()
    }
}

/// The perceptual hash of a JPEG or PNG image.
pub fn hash_image(bytes: &[u8]) -> Result<PhotoHash, PhotoError> {
    if bytes.len() > MAX_IMAGE_BYTES {
        return Err(PhotoError::TooLarge(bytes.len()));
    }
    let mut reader = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| PhotoError::Decode(e.to_string()))?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_DIMENSION);
    limits.max_image_height = Some(MAX_DIMENSION);
    limits.max_alloc = Some(512 * 1024 * 1024);
    reader.limits(limits);
    let img = reader.decode().map_err(|e| PhotoError::Decode(e.to_string()))?;
    let hasher = HasherConfig::new().hash_size(8, 8).preproc_dct().hash_alg(HashAlg::Mean).to_hasher();
    let h = hasher.hash_image(&img);
    let b = h.as_bytes();
    let mut v = [0u8; 8];
    let n = b.len().min(8);
    v[..n].copy_from_slice(&b[..n]);
    Ok(PhotoHash(u64::from_be_bytes(v)))
}

/// The weight of a photo at Hamming distance `d`: 4.0 for the same photo (≤ 3 bits), 3.0 to
/// 6 bits, 2.0 to [`NEAR`]; nothing beyond.
pub fn weight(d: u32) -> f64 {
    match d {
        0..=3 => 4.0,
        4..=6 => 3.0,
        7..=NEAR => 2.0,
        _ => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageFormat, RgbImage};

    /// A synthetic "headshot": a background gradient, an ellipse and a few blobs placed by
    /// `seed`, so that images of different seeds differ as photos of different people do.
    fn picture(seed: u64, w: u32, h: u32) -> RgbImage {
        let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        let blobs: Vec<(f64, f64, f64, [u8; 3])> = (0..6)
            .map(|_| {
                let v = next();
                (
                    (v % 1000) as f64 / 1000.0,
                    ((v >> 10) % 1000) as f64 / 1000.0,
                    0.05 + ((v >> 20) % 200) as f64 / 1000.0,
                    [(v >> 30) as u8, (v >> 38) as u8, (v >> 46) as u8],
                )
            })
            .collect();
        let tilt = (next() % 100) as f64 / 100.0;
        RgbImage::from_fn(w, h, |x, y| {
            let (fx, fy) = (f64::from(x) / f64::from(w), f64::from(y) / f64::from(h));
            let mut px = [(fx * 200.0 * tilt) as u8, (fy * 180.0) as u8, 90];
            let face = ((fx - 0.5) / 0.25).powi(2) + ((fy - 0.45) / 0.33).powi(2);
            if face < 1.0 {
                px = [220, 180, 150];
            }
            for (bx, by, r, c) in &blobs {
                if (fx - bx).powi(2) + (fy - by).powi(2) < r * r {
                    px = *c;
                }
            }
            image::Rgb(px)
        })
    }

    fn encode(img: &RgbImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    fn jpeg(img: &RgbImage, quality: u8) -> Vec<u8> {
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality).encode_image(img).unwrap();
        out
    }

    #[test]
    fn an_edited_copy_stays_near_and_other_photos_do_not() {
        let mut worst_same = [0u32; 3];
        let mut best_other = 64;
        let hashes: Vec<PhotoHash> =
            (1..=8u64).map(|s| hash_image(&encode(&picture(s, 200, 250), ImageFormat::Png)).unwrap()).collect();
        for (i, h) in hashes.iter().enumerate() {
            let original = picture(i as u64 + 1, 200, 250);
            let resized = image::imageops::resize(&original, 120, 150, image::imageops::FilterType::Triangle);
            // 2.5% off each side.
            let cropped = image::imageops::crop_imm(&original, 5, 6, 190, 238).to_image();
            for (k, edited) in
                [encode(&resized, ImageFormat::Png), jpeg(&original, 60), jpeg(&cropped, 85)].iter().enumerate()
            {
                worst_same[k] = worst_same[k].max(h.distance(hash_image(edited).unwrap()));
            }
            for o in hashes.iter().skip(i + 1) {
                best_other = best_other.min(h.distance(*o));
            }
        }
        eprintln!("resize / JPEG 60 / crop: at most {worst_same:?} bits; other pictures at least {best_other}");
        assert!(worst_same.iter().all(|d| *d <= 8), "an edited copy moved {worst_same:?} bits");
        assert!(best_other > NEAR, "two different pictures only {best_other} bits apart");
    }

    #[test]
    fn hashes_parse_and_bad_input_is_refused() {
        let h = PhotoHash::parse(" 0x00FF00ff00ff00FF ").unwrap();
        assert_eq!(h.hex(), "00ff00ff00ff00ff");
        assert!(PhotoHash::parse("00ff").is_err());
        assert!(PhotoHash::parse("zzzzzzzzzzzzzzzz").is_err());
        assert!(matches!(hash_image(b"not an image at all"), Err(PhotoError::Decode(_))));
        assert!(matches!(hash_image(&vec![0u8; MAX_IMAGE_BYTES + 1]), Err(PhotoError::TooLarge(_))));
        assert_eq!(weight(0), 4.0);
        assert_eq!(weight(NEAR + 1), 0.0);
    }
}
