//! The index's map from object id (type and UUID) to node, for millions of ids.
//!
//! Building the index is bound by cache misses on this map: every object and both ends of
//! every relationship look an id up, at random places in a table of tens of megabytes. A
//! general-purpose map gives no way to load the place of a later lookup ahead of time;
//! this table does ([`IdTable::touch`]): its slots are plain 8-byte words (a 32-bit tag of
//! the id's hash and the node number plus one; 0 is an empty slot, so a new table is
//! zeroed memory the system hands out lazily) in one array, probed linearly from a home
//! slot the hash gives. The node itself holds the id, so a tag that matches is confirmed
//! there.
//!
//! Ids are never removed (a removed object keeps its node, emptied), which keeps linear
//! probing simple. The hash has a per-process random seed: ids come from members, and the
//! table is rebuilt from the nodes whenever the index is loaded, so its layout is never
//! stored.

use std::hash::BuildHasher;

use super::index::Ty;

const EMPTY: u64 = 0;

/// What the table needs to know of a node: its type and UUID.
pub(crate) trait Keyed {
    fn key(&self, n: u32) -> (Ty, [u64; 2]);
}

pub(crate) struct IdTable {
    slots: Vec<u64>,
    /// 64 − log2(slots.len()): the home slot is the top bits of the hash.
    shift: u32,
    len: usize,
    seed: foldhash::fast::RandomState,
}

impl Default for IdTable {
    fn default() -> Self {
        Self::with_capacity(0)
    }
}

impl IdTable {
    /// A table that holds `n` ids without growing (at most half full).
    pub fn with_capacity(n: usize) -> Self {
        let slots = (n.max(8) * 2).next_power_of_two();
        Self {
            slots: vec![EMPTY; slots],
            shift: 64 - slots.trailing_zeros(),
            len: 0,
            seed: foldhash::fast::RandomState::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.slots.capacity() * 8
    }

    fn hash(&self, ty: Ty, uuid: [u64; 2]) -> u64 {
        self.seed.hash_one((ty as u8, uuid))
    }

    fn home(&self, h: u64) -> usize {
        (h >> self.shift) as usize
    }

    /// The node of (`ty`, `uuid`).
    pub fn get(&self, ty: Ty, uuid: [u64; 2], nodes: &impl Keyed) -> Option<u32> {
        let h = self.hash(ty, uuid);
        let tag = h as u32;
        let mask = self.slots.len() - 1;
        let mut i = self.home(h);
        loop {
            let s = self.slots[i];
            if s == EMPTY {
                return None;
            }
            let n = (s as u32).wrapping_sub(1);
            if (s >> 32) as u32 == tag && nodes.key(n) == (ty, uuid) {
                return Some(n);
            }
            i = (i + 1) & mask;
        }
    }

    /// Records node `n` for (`ty`, `uuid`), which must not be in the table yet.
    pub fn insert(&mut self, ty: Ty, uuid: [u64; 2], n: u32, nodes: &impl Keyed) {
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow(nodes);
        }
        let h = self.hash(ty, uuid);
        self.place(h, n);
        self.len += 1;
    }

    fn place(&mut self, h: u64, n: u32) {
        let mask = self.slots.len() - 1;
        let mut i = self.home(h);
        while self.slots[i] != EMPTY {
            i = (i + 1) & mask;
        }
        self.slots[i] = (h & 0xffff_ffff) << 32 | (u64::from(n) + 1);
    }

    fn grow(&mut self, nodes: &impl Keyed) {
        let bigger = vec![EMPTY; self.slots.len() * 2];
        let old = std::mem::replace(&mut self.slots, bigger);
        self.shift -= 1;
        for s in old.into_iter().filter(|s| *s != EMPTY) {
            let n = (s as u32).wrapping_sub(1);
            let (ty, uuid) = nodes.key(n);
            self.place(self.hash(ty, uuid), n);
        }
    }

    /// Reads the home slot of (`ty`, `uuid`), so that a lookup soon after finds it in
    /// cache. Touching a few ids in a row, with nothing depending on what is read, lets
    /// the processor wait for all their cache misses at once.
    pub fn touch(&self, ty: Ty, uuid: [u64; 2]) -> u64 {
        self.slots[self.home(self.hash(ty, uuid))]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Keys(Vec<(Ty, [u64; 2])>);
    impl Keyed for Keys {
        fn key(&self, n: u32) -> (Ty, [u64; 2]) {
            self.0[n as usize]
        }
    }

    const TYPES: [Ty; 3] = [Ty::Identity, Ty::EmailAddr, Ty::Url];

    proptest::proptest! {
        /// The table answers as a map would, through growth, with ids that share a UUID
        /// across types and UUIDs that differ in one bit.
        #[test]
        fn answers_as_a_map_would(
            ids in proptest::collection::vec((0usize..3, 0u64..64, proptest::prelude::any::<u64>()), 0..400),
            start in 0usize..40,
        ) {
            let mut table = IdTable::with_capacity(start);
            let mut keys = Keys(Vec::new());
            let mut map = HashMap::new();
            for (t, hi, lo) in ids {
                let key = (TYPES[t], [hi, lo & 7]);
                if table.get(key.0, key.1, &keys).is_none() {
                    let n = keys.0.len() as u32;
                    keys.0.push(key);
                    table.insert(key.0, key.1, n, &keys);
                    map.insert(key, n);
                }
            }
            proptest::prop_assert_eq!(table.len(), map.len());
            for (key, n) in &map {
                proptest::prop_assert_eq!(table.get(key.0, key.1, &keys), Some(*n));
            }
            for t in TYPES {
                for hi in 0..64 {
                    let key = (t, [hi, 9]);
                    proptest::prop_assert_eq!(table.get(key.0, key.1, &keys), map.get(&key).copied());
                }
            }
        }
    }

    #[test]
    fn stays_at_most_half_full() {
        let mut table = IdTable::with_capacity(0);
        let mut keys = Keys(Vec::new());
        for i in 0..10_000u64 {
            keys.0.push((Ty::Identity, [i, i.wrapping_mul(31)]));
            table.insert(Ty::Identity, [i, i.wrapping_mul(31)], i as u32, &keys);
            assert!(table.len() * 2 <= table.slots.len());
        }
        assert_eq!(table.get(Ty::Identity, [9_999, 9_999 * 31], &keys), Some(9_999));
        assert_eq!(table.get(Ty::Note, [9_999, 9_999 * 31], &keys), None);
    }
}
