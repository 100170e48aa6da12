//! Index snapshots: the whole index written to a file and read back at start-up, so that a
//! restart needs no rebuild from the store.

use std::io::{self, Read, Write};

use dossier_stix::Tlp;
use smallvec::SmallVec;

use super::*;

/// Bump when anything that shapes the index changes (normalisation, key hashing,
/// signatures, this format): an older snapshot is then rebuilt, never misread.
/// 2: sightings and notes without a resume signature are kept (for the graph and pages).
/// 5: phone numbers stored without a country code are keyed under each valid reading;
/// Skype, Discord, Telegram and WhatsApp accounts in their other forms.
/// 6: copy-paste artefacts, full-width forms and look-alike letters cleaned from stored
/// values; IP and resume weights (one-team addresses, shared templates).
/// 9: how many individuals' names every member sees carry each name part.
/// 13: how many names every member sees, per organization.
const FORMAT: u64 = 13;
const MAGIC: &[u8; 8] = b"DSXIDX01";

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("screening snapshot: {what}"))
}

/// Everything written passes through a checksum, so that a damaged file (a flipped TLP
/// code would be a leak) is refused rather than read.
struct Sum<T>(T, <Fast as BuildHasher>::Hasher);

impl<T: Write> Write for Sum<T> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write_all(buf)?;
        self.1.write(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl<T: Read> Read for Sum<T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read_exact(buf)?;
        self.1.write(buf);
        Ok(buf.len())
    }
}

struct W<'a, T: Write>(&'a mut T);
impl<T: Write> W<'_, T> {
    fn u8(&mut self, v: u8) -> io::Result<()> {
        self.0.write_all(&[v])
    }
    fn u32(&mut self, v: u32) -> io::Result<()> {
        self.0.write_all(&v.to_le_bytes())
    }
    fn u64(&mut self, v: u64) -> io::Result<()> {
        self.0.write_all(&v.to_le_bytes())
    }
    fn i64(&mut self, v: i64) -> io::Result<()> {
        self.0.write_all(&v.to_le_bytes())
    }
    fn len(&mut self, n: usize) -> io::Result<()> {
        self.u64(n as u64)
    }
    fn str(&mut self, s: &str) -> io::Result<()> {
        self.len(s.len())?;
        self.0.write_all(s.as_bytes())
    }
}

struct R<'a, T: Read>(&'a mut T);
impl<T: Read> R<'_, T> {
    fn bytes<const N: usize>(&mut self) -> io::Result<[u8; N]> {
        let mut b = [0u8; N];
        self.0.read_exact(&mut b)?;
        Ok(b)
    }
    fn u8(&mut self) -> io::Result<u8> {
        Ok(self.bytes::<1>()?[0])
    }
    fn u32(&mut self) -> io::Result<u32> {
        Ok(u32::from_le_bytes(self.bytes()?))
    }
    fn u64(&mut self) -> io::Result<u64> {
        Ok(u64::from_le_bytes(self.bytes()?))
    }
    fn i64(&mut self) -> io::Result<i64> {
        Ok(i64::from_le_bytes(self.bytes()?))
    }
    /// A length, refused when absurd (a corrupt file must not allocate terabytes).
    fn len(&mut self, max: usize) -> io::Result<usize> {
        let n = self.u64()?;
        usize::try_from(n).ok().filter(|n| *n <= max).ok_or_else(|| bad("a length is out of range"))
    }
    fn str(&mut self) -> io::Result<String> {
        let n = self.len(1 << 20)?;
        let mut b = vec![0u8; n];
        self.0.read_exact(&mut b)?;
        String::from_utf8(b).map_err(|_| bad("a name is not UTF-8"))
    }
}

const MAX: usize = 1 << 32;

fn ty_of(v: u8) -> io::Result<Ty> {
    const ALL: [Ty; 17] = [
        Ty::ThreatActor,
        Ty::Identity,
        Ty::EmailAddr,
        Ty::PhoneNumber,
        Ty::Wallet,
        Ty::UserAccount,
        Ty::Url,
        Ty::Ipv4,
        Ty::Ipv6,
        Ty::File,
        Ty::Note,
        Ty::Relationship,
        Ty::Sighting,
        Ty::BankAccount,
        Ty::DomainName,
        Ty::IdDocument,
        Ty::Location,
    ];
    ALL.iter().copied().find(|t| *t as u8 == v).ok_or_else(|| bad("unknown object type"))
}

/// A value that changes when key hashing changes (foldhash's fixed seed, our key layout).
fn hash_check() -> u64 {
    key_hash(KeyKind::Email, "snapshot-check@example.org")
}

impl Index {
    /// Writes the index; `tag` is the caller's own header (its change-log position and
    /// installation id), returned by [`Index::read_snapshot`].
    pub fn write_snapshot(&self, out: &mut impl Write, tag: &[u8]) -> io::Result<()> {
        let mut sum = Sum(out, Fast::default().build_hasher());
        self.write_body(&mut sum, tag)?;
        let check = sum.1.finish();
        sum.0.write_all(&check.to_le_bytes())
    }

    /// Per-organization counts, by organization.
    fn write_counts(w: &mut W<impl Write>, c: &super::PartCount) -> io::Result<()> {
        let mut by = c.per_org().to_vec();
        by.sort_unstable();
        w.len(by.len())?;
        for (org, n) in by {
            w.i64(org)?;
            w.u32(n)?;
        }
        Ok(())
    }

    fn read_counts(r: &mut R<impl Read>) -> io::Result<super::PartCount> {
        let mut count = super::PartCount::default();
        for _ in 0..r.len(MAX)? {
            let org = r.i64()?;
            count.add_n(org, r.u32()?);
        }
        Ok(count)
    }

    fn write_body(&self, out: &mut impl Write, tag: &[u8]) -> io::Result<()> {
        let mut w = W(out);
        w.0.write_all(MAGIC)?;
        w.u64(FORMAT)?;
        w.u64(hash_check())?;
        w.len(tag.len())?;
        w.0.write_all(tag)?;
        w.len(self.access.len())?;
        for a in &self.access {
            w.u8(a.tlp.code() as u8)?;
            w.i64(a.owner)?;
            w.len(a.recipients.len())?;
            for r in &a.recipients {
                w.i64(*r)?;
            }
            w.u8(u8::from(a.staff_only))?;
            w.u8(a.confidence.map_or(255, |c| c.min(254)))?;
        }
        w.len(self.nodes.len())?;
        for n in &self.nodes {
            w.u64(n.uuid[0])?;
            w.u64(n.uuid[1])?;
            w.u64(n.key)?;
            w.u32(n.access)?;
            w.u32(n.next)?;
            w.u32(n.aux)?;
            w.u8(n.ty as u8)?;
            w.u8(n.flags)?;
            w.len(n.edges.len())?;
            for e in &n.edges {
                w.u32(e.rel)?;
                w.u32(e.other)?;
            }
        }
        w.len(self.rels.len())?;
        for (r, uuid) in self.rels.iter().zip(&self.rel_uuids.0) {
            w.u32(r.access)?;
            w.u32(r.src)?;
            w.u32(r.dst)?;
            w.u8(u8::from(r.alive))?;
            w.u64(uuid[0])?;
            w.u64(uuid[1])?;
        }
        for map in [&self.keys, &self.names] {
            w.len(map.len())?;
            for (h, (head, len)) in map.iter() {
                w.u64(h)?;
                w.u32(head)?;
                w.u32(len)?;
            }
        }
        w.len(self.texts.len())?;
        for t in &self.texts {
            w.str(t)?;
        }
        w.len(self.ranges.len())?;
        for (net, n) in &self.ranges {
            w.str(&net.canonical())?;
            w.u32(*n)?;
        }
        w.len(self.sigs.len())?;
        for s in &self.sigs {
            for v in s {
                w.0.write_all(&v.to_le_bytes())?;
            }
        }
        let mut bands: Vec<(u32, u32)> = self.bands_sorted.clone();
        for (b, notes) in &self.bands_extra {
            bands.extend(notes.iter().map(|n| (*b, *n)));
        }
        bands.sort_unstable();
        w.len(bands.len())?;
        for (b, n) in &bands {
            w.u32(*b)?;
            w.u32(*n)?;
        }
        w.u64(self.unusable as u64)?;
        w.len(self.phones.len())?;
        for p in &self.phones {
            Self::write_counts(&mut w, p)?;
        }
        Self::write_counts(&mut w, &self.named_open)?;
        let mut parts: Vec<(u64, &super::PartCount)> = self.name_parts.iter().map(|(h, c)| (*h, c)).collect();
        parts.sort_unstable_by_key(|(h, _)| *h);
        w.len(parts.len())?;
        for (h, c) in parts {
            w.u64(h)?;
            Self::write_counts(&mut w, c)?;
        }
        let mut fanned: Vec<(&u32, &super::Fanned)> = self.fanned.iter().collect();
        fanned.sort_unstable_by_key(|(n, _)| **n);
        w.len(fanned.len())?;
        for (n, f) in fanned {
            w.u32(*n)?;
            w.i64(f.top)?;
            w.u32(f.alone)?;
            w.u32(f.everyone)?;
            w.u32(f.private_alone)?;
            w.u8(u8::from(f.object_private))?;
            for list in [&f.private, &f.exceptions] {
                w.len(list.len())?;
                for i in list.iter() {
                    w.u32(*i)?;
                }
            }
        }
        w.0.write_all(MAGIC)
    }

    /// Reads an index written by [`Index::write_snapshot`]; returns it with the
    /// caller's tag. Any inconsistency is an error (the caller then rebuilds).
    pub fn read_snapshot(input: &mut impl Read) -> io::Result<(Index, Vec<u8>)> {
        let mut sum = Sum(input, Fast::default().build_hasher());
        let result = Self::read_body(&mut sum)?;
        let mut check = [0u8; 8];
        sum.0.read_exact(&mut check)?;
        if u64::from_le_bytes(check) != sum.1.finish() {
            return Err(bad("checksum mismatch (the file is damaged)"));
        }
        Ok(result)
    }

    fn read_body(input: &mut impl Read) -> io::Result<(Index, Vec<u8>)> {
        let mut r = R(input);
        if &r.bytes::<8>()? != MAGIC {
            return Err(bad("not a snapshot"));
        }
        if r.u64()? != FORMAT {
            return Err(bad("written by another version"));
        }
        if r.u64()? != hash_check() {
            return Err(bad("key hashing differs"));
        }
        let n = r.len(1 << 16)?;
        let mut tag = vec![0u8; n];
        r.0.read_exact(&mut tag)?;
        let mut ix = Index::new();
        let n = r.len(MAX)?;
        for _ in 0..n {
            let tlp = Tlp::from_code(i64::from(r.u8()?)).ok_or_else(|| bad("TLP"))?;
            let owner = r.i64()?;
            let k = r.len(1 << 16)?;
            let recipients = (0..k).map(|_| r.i64()).collect::<io::Result<Vec<_>>>()?;
            let staff_only = r.u8()? != 0;
            let confidence = Some(r.u8()?).filter(|c| *c != 255);
            let access = Access { tlp, owner, recipients, staff_only, confidence };
            ix.access_ids.insert(access.clone(), ix.access.len() as u32);
            ix.access.push(access);
        }
        let n = r.len(MAX)?;
        ix.nodes.reserve_exact(n);
        for _ in 0..n {
            let uuid = [r.u64()?, r.u64()?];
            let key = r.u64()?;
            let access = r.u32()?;
            let next = r.u32()?;
            let aux = r.u32()?;
            let ty = ty_of(r.u8()?)?;
            let flags = r.u8()?;
            let k = r.len(MAX)?;
            let mut edges = SmallVec::new();
            for _ in 0..k {
                edges.push(Edge { rel: r.u32()?, other: r.u32()? });
            }
            ix.nodes.push(Node { uuid, key, access, next, aux, ty, flags, edges });
        }
        ix.photos = (0..ix.nodes.len() as u32).filter(|i| ix.nodes[*i as usize].flags & PHOTO != 0).collect();
        for &n in &ix.photos {
            ix.photo_chunks.insert(ix.nodes[n as usize].key, n);
        }
        // The id table follows from the nodes (twins are reached through their primary).
        ix.ids = IdTable::with_capacity(ix.nodes.len());
        for (i, node) in ix.nodes.iter().enumerate() {
            if node.flags & IS_TWIN == 0 {
                ix.ids.insert(node.ty, node.uuid, i as u32, &ix.nodes);
            }
        }
        let n = r.len(MAX)?;
        ix.rels.reserve_exact(n);
        ix.rel_uuids.0.reserve_exact(n);
        for _ in 0..n {
            ix.rels.push(Rel { access: r.u32()?, src: r.u32()?, dst: r.u32()?, alive: r.u8()? != 0 });
            ix.rel_uuids.0.push([r.u64()?, r.u64()?]);
        }
        ix.rel_ids = IdTable::with_capacity(n);
        for (i, uuid) in ix.rel_uuids.0.iter().enumerate() {
            ix.rel_ids.insert(Ty::Relationship, *uuid, i as u32, &ix.rel_uuids);
        }
        for names in [false, true] {
            let n = r.len(MAX)?;
            // Sized once: growing a table of millions of keys rehashes it again and again.
            *if names { &mut ix.names } else { &mut ix.keys } = KeyTable::with_capacity(n);
            for _ in 0..n {
                let h = r.u64()?;
                let v = (r.u32()?, r.u32()?);
                if h == 0 {
                    return Err(bad("a key hash of 0"));
                }
                if names { &mut ix.names } else { &mut ix.keys }.set(h, v);
            }
        }
        let n = r.len(MAX)?;
        for _ in 0..n {
            ix.texts.push(r.str()?.into_boxed_str());
        }
        let n = r.len(MAX)?;
        for _ in 0..n {
            let net = ip::normalize(&r.str()?).map_err(|_| bad("a range"))?;
            ix.ranges.push((net, r.u32()?));
        }
        let n = r.len(MAX)?;
        ix.sigs.reserve_exact(n);
        for _ in 0..n {
            let mut s = [0u16; resume::SIGNATURE_LEN];
            for v in s.iter_mut() {
                *v = u16::from_le_bytes(r.bytes()?);
            }
            ix.sigs.push(s);
        }
        let n = r.len(MAX)?;
        let mut bands = Vec::with_capacity(n);
        for _ in 0..n {
            bands.push((r.u32()?, r.u32()?));
        }
        ix.bands_sorted = bands;
        ix.unusable = r.u64()? as usize;
        let n = r.len(1 << 10)?;
        ix.phones = (0..n).map(|_| Self::read_counts(&mut r)).collect::<io::Result<_>>()?;
        if ix.phones.len() != super::super::score::PHONE_BUCKETS {
            return Err(bad("phone buckets differ"));
        }
        ix.named_open = Self::read_counts(&mut r)?;
        let n = r.len(MAX)?;
        ix.name_parts.reserve(n);
        for _ in 0..n {
            let h = r.u64()?;
            ix.name_parts.insert(h, Self::read_counts(&mut r)?);
        }
        let n = r.len(MAX)?;
        let mut fanned = Vec::with_capacity(n);
        for _ in 0..n {
            let node = r.u32()?;
            let (top, alone, everyone, private_alone) = (r.i64()?, r.u32()?, r.u32()?, r.u32()?);
            let object_private = r.u8()? != 0;
            let mut lists = [Vec::new(), Vec::new()];
            for list in &mut lists {
                let k = r.len(MAX)?;
                *list = (0..k).map(|_| r.u32()).collect::<io::Result<_>>()?;
            }
            let [private, exceptions] = lists;
            let f = super::Fanned {
                top,
                alone,
                everyone,
                private_alone,
                object_private,
                private: private.into(),
                exceptions: exceptions.into(),
            };
            fanned.push((node, f));
        }
        if &r.bytes::<8>()? != MAGIC {
            return Err(bad("truncated"));
        }
        // Every index must point inside its table.
        let (nodes, rels, texts, sigs, access) =
            (ix.nodes.len(), ix.rels.len(), ix.texts.len(), ix.sigs.len(), ix.access.len());
        let node_ok = |n: u32| (n as usize) < nodes || n == NONE;
        for node in &ix.nodes {
            let aux_ok = match node.ty {
                Ty::ThreatActor | Ty::Identity => node.aux == NONE || (node.aux as usize) < texts,
                Ty::Note => node.aux == NONE || (node.aux as usize) < sigs,
                _ => true,
            };
            let edges_ok =
                node.edges.iter().all(|e| (e.other as usize) < nodes && (e.rel >= TWIN || (e.rel as usize) < rels));
            if !node_ok(node.next) || (node.access as usize) >= access.max(1) || !aux_ok || !edges_ok {
                return Err(bad("a node points outside the index"));
            }
        }
        for rel in &ix.rels {
            if (rel.src as usize) >= nodes || (rel.dst as usize) >= nodes || (rel.access as usize) >= access.max(1) {
                return Err(bad("a relationship points outside the index"));
            }
        }
        if ix.keys.iter().chain(ix.names.iter()).any(|(_, (head, _))| !node_ok(head))
            || ix.bands_sorted.iter().any(|(_, n)| (*n as usize) >= nodes)
            || ix.ranges.iter().any(|(_, n)| (*n as usize) >= nodes)
        {
            return Err(bad("a key points outside the index"));
        }
        // Edge positions must be inside their object's edges.
        for (n, f) in &fanned {
            let edges = ix.nodes.get(*n as usize).map_or(0, |node| node.edges.len());
            if (*n as usize) >= nodes || f.private.iter().chain(f.exceptions.iter()).any(|i| (*i as usize) >= edges) {
                return Err(bad("a summary points outside the index"));
            }
        }
        // The summaries were counted when the snapshot was written.
        ix.finish(false);
        ix.fanned.extend(fanned);
        Ok((ix, tag))
    }
}
