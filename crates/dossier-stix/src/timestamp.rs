//! STIX timestamps: `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, always UTC.
//!
//! A [`Timestamp`] keeps the exact string it was parsed from (STIX round trips must never
//! re-format a timestamp) and derives a sort key so versions compare as instants, not as
//! strings: `2020-01-01T00:00:00.1Z` and `2020-01-01T00:00:00.100Z` are the same instant.

use std::cmp::Ordering;
use std::fmt;

/// Why a string is not a STIX timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimestampError {
    #[error("not an RFC 3339 UTC timestamp of the form YYYY-MM-DDTHH:MM:SS[.s]Z")]
    Format,
    #[error("not a real calendar date or time")]
    Calendar,
    #[error("needs at least millisecond precision (3 fractional digits)")]
    Precision,
}

/// A validated STIX timestamp that remembers its original text.
#[derive(Clone, Debug)]
pub struct Timestamp {
    raw: String,
    /// `YYYYMMDDHHMMSS` digits followed by the fraction padded to 9 digits, with any
    /// further digits kept (trailing zeros beyond the 9th trimmed). Lexicographic order of
    /// keys is chronological order.
    key: String,
}

impl Timestamp {
    /// Parses a STIX timestamp (any number of fractional digits).
    pub fn parse(s: &str) -> Result<Self, TimestampError> {
        let key = sort_key(s)?;
        Ok(Self { raw: s.to_owned(), key })
    }

    /// Parses a timestamp that must carry at least millisecond precision, as STIX requires
    /// for `created` and `modified`.
    pub fn parse_millis(s: &str) -> Result<Self, TimestampError> {
        let t = Self::parse(s)?;
        if t.fraction_digits() < 3 {
            return Err(TimestampError::Precision);
        }
        Ok(t)
    }

    /// Checks that `s` is a STIX timestamp without allocating.
    pub fn check(s: &str) -> Result<(), TimestampError> {
        parts(s).map(|_| ())
    }

    /// Like [`Timestamp::check`], also requiring millisecond precision.
    pub fn check_millis(s: &str) -> Result<(), TimestampError> {
        match parts(s)? {
            frac if frac.len() >= 3 => Ok(()),
            _ => Err(TimestampError::Precision),
        }
    }

    /// A timestamp from microseconds since the Unix epoch, formatted with 6 fractional digits.
    pub fn from_unix_micros(micros: i64) -> Self {
        let raw = format_micros(micros);
        let key = sort_key(&raw).unwrap_or_default();
        Self { raw, key }
    }

    /// The original text.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// A string whose byte order is the chronological order of the instants.
    pub fn sort_key(&self) -> &str {
        &self.key
    }

    /// The number of digits after the decimal point in the original text.
    pub fn fraction_digits(&self) -> usize {
        match self.raw.find('.') {
            Some(dot) => self.raw.len() - dot - 2,
            None => 0,
        }
    }

    /// Microseconds since the Unix epoch (fraction beyond microseconds truncated).
    pub fn unix_micros(&self) -> i64 {
        let k = self.key.as_bytes();
        let num = |a: usize, b: usize| -> i64 { k[a..b].iter().fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0')) };
        let (y, mo, d) = (num(0, 4), num(4, 6), num(6, 8));
        let (h, mi, s) = (num(8, 10), num(10, 12), num(12, 14));
        let micros = num(14, 20);
        let days = days_from_civil(y, mo, d);
        ((days * 86_400 + h * 3_600 + mi * 60 + s) * 1_000_000) + micros
    }
}

impl PartialEq for Timestamp {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl Eq for Timestamp {}
impl PartialOrd for Timestamp {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Timestamp {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key.cmp(&other.key)
    }
}
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0')))
}

/// Validates `s` and returns its fractional digits.
fn parts(s: &str) -> Result<&[u8], TimestampError> {
    let b = s.as_bytes();
    if b.len() < 20 || b[b.len() - 1] != b'Z' {
        return Err(TimestampError::Format);
    }
    let sep_ok = b[4] == b'-' && b[7] == b'-' && b[10] == b'T' && b[13] == b':' && b[16] == b':';
    if !sep_ok {
        return Err(TimestampError::Format);
    }
    let year = digits(&b[0..4]).ok_or(TimestampError::Format)?;
    let month = digits(&b[5..7]).ok_or(TimestampError::Format)?;
    let day = digits(&b[8..10]).ok_or(TimestampError::Format)?;
    let hour = digits(&b[11..13]).ok_or(TimestampError::Format)?;
    let minute = digits(&b[14..16]).ok_or(TimestampError::Format)?;
    let second = digits(&b[17..19]).ok_or(TimestampError::Format)?;
    let frac: &[u8] = match b[19] {
        b'Z' if b.len() == 20 => &[],
        b'.' => {
            let f = &b[20..b.len() - 1];
            if f.is_empty() || !f.iter().all(u8::is_ascii_digit) {
                return Err(TimestampError::Format);
            }
            f
        }
        _ => return Err(TimestampError::Format),
    };
    if year == 0 || !(1..=12).contains(&month) || hour > 23 || minute > 59 || second > 60 {
        return Err(TimestampError::Calendar);
    }
    if day == 0 || day > days_in_month(year, month) {
        return Err(TimestampError::Calendar);
    }
    // A leap second is only ever the last second of a UTC day.
    if second == 60 && !(hour == 23 && minute == 59) {
        return Err(TimestampError::Calendar);
    }
    Ok(frac)
}

fn sort_key(s: &str) -> Result<String, TimestampError> {
    let frac = parts(s)?;
    let mut key = String::with_capacity(24 + frac.len());
    key.push_str(&s[0..4]);
    key.push_str(&s[5..7]);
    key.push_str(&s[8..10]);
    key.push_str(&s[11..13]);
    key.push_str(&s[14..16]);
    key.push_str(&s[17..19]);
    let mut f: Vec<u8> = frac.to_vec();
    while f.len() > 9 && f.last() == Some(&b'0') {
        f.pop();
    }
    while f.len() < 9 {
        f.push(b'0');
    }
    key.push_str(std::str::from_utf8(&f).map_err(|_| TimestampError::Format)?);
    Ok(key)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (inverse of `days_from_civil`).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn format_micros(micros: i64) -> String {
    let secs = micros.div_euclid(1_000_000);
    let frac = micros.rem_euclid(1_000_000);
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    format!("{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{frac:06}Z", sod / 3_600, (sod / 60) % 60, sod % 60)
}

/// Microseconds since the Unix epoch of the system clock.
pub fn now_micros() -> i64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(now.as_micros()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_original_text_and_orders_by_instant() {
        let a = Timestamp::parse("2020-01-01T00:00:00.1Z").unwrap();
        let b = Timestamp::parse("2020-01-01T00:00:00.100Z").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.as_str(), "2020-01-01T00:00:00.1Z");
        let c = Timestamp::parse("2020-01-01T00:00:00.1000000001Z").unwrap();
        assert!(c > a);
    }

    #[test]
    fn rejects_bad_forms() {
        for bad in [
            "2020-01-01T00:00:00",
            "2020-01-01 00:00:00Z",
            "2020-01-01T00:00:00+00:00",
            "2020-02-30T00:00:00Z",
            "2021-02-29T00:00:00Z",
            "2020-13-01T00:00:00Z",
            "2020-01-01T24:00:00Z",
            "2020-01-01T00:00:00.Z",
            "2020-01-01T12:00:60Z",
            "0000-01-01T00:00:00Z",
            "20-01-01T00:00:00Z",
        ] {
            assert!(Timestamp::parse(bad).is_err(), "{bad} should be rejected");
        }
        assert!(Timestamp::parse("2020-02-29T23:59:60Z").is_ok());
        assert_eq!(Timestamp::parse_millis("2020-01-01T00:00:00Z").unwrap_err(), TimestampError::Precision);
    }

    #[test]
    fn micros_round_trip() {
        let t = Timestamp::from_unix_micros(1_700_000_000_123_456);
        assert_eq!(t.as_str(), "2023-11-14T22:13:20.123456Z");
        assert_eq!(t.unix_micros(), 1_700_000_000_123_456);
    }
}
