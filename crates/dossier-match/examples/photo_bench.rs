//! Profile-photo hashing speed: decode and perceptually hash JPEG portraits, as
//! `dossier photo-hash` and the evaluation do.
//!
//! `cargo run --release -p dossier-match --example photo_bench [N] [WIDTH] [HEIGHT]`
//! (defaults: 200 images of 600 × 800 pixels, JPEG quality 85, made in memory first).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a panic is a failure report

use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<u32>().unwrap_or(0));
    let n = args.next().filter(|v| *v > 0).unwrap_or(200);
    let w = args.next().filter(|v| *v > 0).unwrap_or(600);
    let h = args.next().filter(|v| *v > 0).unwrap_or(800);
    let images: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            let img = image::RgbImage::from_fn(w, h, |x, y| {
                let v = (x.wrapping_mul(31 + i) ^ y.wrapping_mul(17 + 3 * i)) as u8;
                let cx = 0.3 + f64::from(i % 7) / 15.0;
                let face = ((x as f64 / w as f64 - cx) / 0.25).powi(2) + ((y as f64 / h as f64 - 0.45) / 0.3).powi(2);
                if face < 1.0 {
                    image::Rgb([220, 180, v / 4 + 120])
                } else {
                    image::Rgb([v, (x / 4) as u8, (y / 4) as u8])
                }
            });
            let mut out = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85).encode_image(&img).expect("encode");
            out
        })
        .collect();
    let bytes: usize = images.iter().map(Vec::len).sum();
    let start = Instant::now();
    let mut seen = std::collections::HashSet::new();
    for img in &images {
        seen.insert(dossier_match::photo::hash_image(img).expect("hash").0);
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{n} JPEG images of {w} x {h} ({:.1} KiB each) hashed in {secs:.2} s: {:.1} images/s on one thread ({} distinct hashes)",
        bytes as f64 / f64::from(n) / 1024.0,
        f64::from(n) / secs,
        seen.len()
    );
}
