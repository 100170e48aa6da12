//! IP addresses and CIDR ranges in canonical form (`std::net` parsing: IPv4 dotted quad,
//! IPv6 compressed lower-case; an IPv4-mapped IPv6 address is the IPv4 address).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::NormalizeError;

/// A single address or a network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Net {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Net {
    pub fn is_single(&self) -> bool {
        self.prefix == if self.addr.is_ipv4() { 32 } else { 128 }
    }

    /// `203.0.113.7` or `198.51.100.0/24`.
    pub fn canonical(&self) -> String {
        if self.is_single() { self.addr.to_string() } else { format!("{}/{}", self.addr, self.prefix) }
    }

    /// Does this network contain `ip`?
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => mask4(a, self.prefix) == u32::from(n),
            (IpAddr::V6(n), IpAddr::V6(a)) => mask6(a, self.prefix) == u128::from(n),
            _ => false,
        }
    }
}

fn mask4(a: Ipv4Addr, prefix: u8) -> u32 {
    if prefix == 0 { 0 } else { u32::from(a) & (u32::MAX << (32 - u32::from(prefix))) }
}

fn mask6(a: Ipv6Addr, prefix: u8) -> u128 {
    if prefix == 0 { 0 } else { u128::from(a) & (u128::MAX << (128 - u32::from(prefix))) }
}

/// Parses an address or a CIDR range; the network part of a range is masked
/// (`10.1.2.3/8` is `10.0.0.0/8`).
pub fn normalize(input: &str) -> Result<Net, NormalizeError> {
    let (cleaned, _) = super::clean::clean(input);
    let s = cleaned.trim().trim_start_matches('[').trim_end_matches(']');
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p.parse::<u8>().map_err(|_| NormalizeError::Ip)?)),
        None => (s, None),
    };
    let mut ip: IpAddr = addr.parse().map_err(|_| NormalizeError::Ip)?;
    let mut prefix = prefix;
    if let IpAddr::V6(v6) = ip
        && let Some(v4) = v6.to_ipv4_mapped()
    {
        ip = IpAddr::V4(v4);
        prefix = prefix.map(|p| p.saturating_sub(96));
    }
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let prefix = prefix.unwrap_or(max);
    if prefix > max {
        return Err(NormalizeError::Ip);
    }
    let addr = match ip {
        IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(mask4(a, prefix))),
        IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(mask6(a, prefix))),
    };
    Ok(Net { addr, prefix })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms_and_membership() {
        assert_eq!(normalize(" 203.0.113.7 ").unwrap().canonical(), "203.0.113.7");
        assert_eq!(normalize("2001:DB8:0:0::1").unwrap().canonical(), "2001:db8::1");
        assert_eq!(normalize("::ffff:203.0.113.7").unwrap().canonical(), "203.0.113.7");
        assert_eq!(normalize("10.1.2.3/8").unwrap().canonical(), "10.0.0.0/8");
        let net = normalize("198.51.100.0/24").unwrap();
        assert!(net.contains("198.51.100.77".parse().unwrap()));
        assert!(!net.contains("198.51.101.1".parse().unwrap()));
        assert!(!net.contains("2001:db8::1".parse().unwrap()));
        for bad in ["", "300.1.1.1", "1.2.3", "1.2.3.4/33", "example.com", "::1/129"] {
            assert!(normalize(bad).is_err(), "{bad}");
        }
    }
}
