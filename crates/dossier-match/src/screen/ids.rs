//! The index's big hash tables: object id (type and UUID) to node or relationship
//! ([`IdTable`]), and identifier or name key to its chain of nodes ([`KeyTable`]).
//!
//! Building the index is bound by cache misses on these: every object and both ends of
//! every relationship look an id up, and every identifier its key, at random places in
//! tables of tens of megabytes. A general-purpose map gives no way to load the place of a
//! later lookup ahead of time; these tables do ([`IdTable::touch`], [`KeyTable::touch`]).
//! An id table's slots are plain 8-byte words (a 32-bit tag of
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

/// What both tables are made of: a power-of-two array of slots, kept at most half full.
struct Slots<T> {
    slots: Vec<T>,
    /// 64 − log2(slots.len()): the home slot is the top bits of a hash.
    shift: u32,
    len: usize,
    seed: foldhash::fast::RandomState,
}

impl<T: Copy> Slots<T> {
    /// Room for `n` entries without growing, every slot `empty`.
    fn new(n: usize, empty: T) -> Self {
        let slots = (n.max(8) * 2).next_power_of_two();
        Self {
            slots: vec![empty; slots],
            shift: 64 - slots.trailing_zeros(),
            len: 0,
            seed: foldhash::fast::RandomState::default(),
        }
    }

    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    /// Whether one more entry would make the table more than half full.
    fn must_grow(&self) -> bool {
        (self.len + 1) * 2 > self.slots.len()
    }

    /// Doubles the array (all `empty`) and returns the old slots, to be placed again.
    fn double(&mut self, empty: T) -> Vec<T> {
        let bigger = vec![empty; self.slots.len() * 2];
        self.shift -= 1;
        std::mem::replace(&mut self.slots, bigger)
    }

    fn bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<T>()
    }
}

pub(crate) struct IdTable {
    t: Slots<u64>,
}

impl Default for IdTable {
    fn default() -> Self {
        Self::with_capacity(0)
    }
}

impl IdTable {
    /// A table that holds `n` ids without growing (at most half full).
    pub fn with_capacity(n: usize) -> Self {
        Self { t: Slots::new(n, EMPTY) }
    }

    pub fn len(&self) -> usize {
        self.t.len
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.t.bytes()
    }

    fn hash(&self, ty: Ty, uuid: [u64; 2]) -> u64 {
        self.t.seed.hash_one((ty as u8, uuid))
    }

    fn home(&self, h: u64) -> usize {
        (h >> self.t.shift) as usize
    }

    /// The node of (`ty`, `uuid`).
    pub fn get(&self, ty: Ty, uuid: [u64; 2], nodes: &impl Keyed) -> Option<u32> {
        let h = self.hash(ty, uuid);
        let tag = h as u32;
        let mask = self.t.mask();
        let mut i = self.home(h);
        loop {
            let s = self.t.slots[i];
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
        if self.t.must_grow() {
            self.grow(nodes);
        }
        let h = self.hash(ty, uuid);
        self.place(h, n);
        self.t.len += 1;
    }

    fn place(&mut self, h: u64, n: u32) {
        let mask = self.t.mask();
        let mut i = self.home(h);
        while self.t.slots[i] != EMPTY {
            i = (i + 1) & mask;
        }
        self.t.slots[i] = (h & 0xffff_ffff) << 32 | (u64::from(n) + 1);
    }

    fn grow(&mut self, nodes: &impl Keyed) {
        for s in self.t.double(EMPTY).into_iter().filter(|s| *s != EMPTY) {
            let n = (s as u32).wrapping_sub(1);
            let (ty, uuid) = nodes.key(n);
            self.place(self.hash(ty, uuid), n);
        }
    }

    /// Reads the home slot of (`ty`, `uuid`), so that a lookup soon after finds it in
    /// cache. Touching a few ids in a row, with nothing depending on what is read, lets
    /// the processor wait for all their cache misses at once.
    pub fn touch(&self, ty: Ty, uuid: [u64; 2]) -> u64 {
        self.t.slots[self.home(self.hash(ty, uuid))]
    }
}

/// A key's chain: its first node and how many nodes it has.
pub(crate) type Chain = (u32, u32);

/// Key hash → [`Chain`], for the identifier keys (millions) and the name keys: the same
/// layout as [`IdTable`] with the key and its chain in 16-byte slots, so that the build can
/// read a key's place ahead too. Key hash 0 is the index's "no key", so it marks an empty
/// slot. Keys are removed when their chain empties (backward-shift deletion keeps every
/// probe run unbroken).
pub(crate) struct KeyTable {
    t: Slots<(u64, Chain)>,
}

impl Default for KeyTable {
    fn default() -> Self {
        Self::with_capacity(0)
    }
}

impl KeyTable {
    /// A table that holds `n` keys without growing (at most half full).
    pub fn with_capacity(n: usize) -> Self {
        Self { t: Slots::new(n, (0, (0, 0))) }
    }

    pub fn len(&self) -> usize {
        self.t.len
    }

    pub fn bytes(&self) -> usize {
        self.t.bytes()
    }

    /// The home slot: the key hash hashed again with this process's seed, since key
    /// hashes are fixed and the values behind them chosen by members.
    fn home(&self, h: u64) -> usize {
        (self.t.seed.hash_one(h) >> self.t.shift) as usize
    }

    /// The slot holding `h`, or the empty slot where it would go.
    fn slot(&self, h: u64) -> usize {
        let mask = self.t.mask();
        let mut i = self.home(h);
        while self.t.slots[i].0 != 0 && self.t.slots[i].0 != h {
            i = (i + 1) & mask;
        }
        i
    }

    pub fn get(&self, h: u64) -> Option<Chain> {
        let s = self.t.slots[self.slot(h)];
        (s.0 != 0).then_some(s.1)
    }

    /// The chain of `h`, created empty (`(none, 0)`) when absent. `h` must not be 0.
    pub fn entry(&mut self, h: u64, none: u32) -> &mut Chain {
        debug_assert!(h != 0, "key hash 0 means no key");
        if self.t.must_grow() {
            self.grow();
        }
        let i = self.slot(h);
        if self.t.slots[i].0 == 0 {
            self.t.slots[i] = (h, (none, 0));
            self.t.len += 1;
        }
        &mut self.t.slots[i].1
    }

    /// Sets the chain of `h` (inserting it when absent).
    pub fn set(&mut self, h: u64, chain: Chain) {
        *self.entry(h, chain.0) = chain;
    }

    pub fn remove(&mut self, h: u64) {
        let mask = self.t.mask();
        let mut i = self.slot(h);
        if self.t.slots[i].0 == 0 {
            return;
        }
        self.t.len -= 1;
        // Pull back any later entry of the run that may sit at or before the hole.
        let mut j = i;
        loop {
            j = (j + 1) & mask;
            let key = self.t.slots[j].0;
            if key == 0 {
                break;
            }
            let home = self.home(key);
            // Whether `home` lies cyclically in (i, j]: then the entry stays.
            let stays = if i <= j { i < home && home <= j } else { i < home || home <= j };
            if !stays {
                self.t.slots[i] = self.t.slots[j];
                i = j;
            }
        }
        self.t.slots[i] = (0, (0, 0));
    }

    fn grow(&mut self) {
        for (h, chain) in self.t.double((0, (0, 0))).into_iter().filter(|s| s.0 != 0) {
            let i = self.slot(h);
            self.t.slots[i] = (h, chain);
        }
    }

    /// Every key and its chain, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, Chain)> + '_ {
        self.t.slots.iter().copied().filter(|s| s.0 != 0)
    }

    /// Reads the home slot of `h` ahead of a lookup (see [`IdTable::touch`]).
    pub fn touch(&self, h: u64) -> u64 {
        self.t.slots[self.home(h)].0
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
            assert!(table.len() * 2 <= table.t.slots.len());
        }
        assert_eq!(table.get(Ty::Identity, [9_999, 9_999 * 31], &keys), Some(9_999));
        assert_eq!(table.get(Ty::Note, [9_999, 9_999 * 31], &keys), None);
    }

    proptest::proptest! {
        /// Inserting, updating and removing keys answers as a map would, through growth
        /// and removals in the middle of probe runs (keys from a small range collide often
        /// in a small table).
        #[test]
        fn the_key_table_answers_as_a_map_would(
            ops in proptest::collection::vec((0u8..3, 1u64..200, proptest::prelude::any::<u32>()), 0..600),
        ) {
            let mut table = KeyTable::with_capacity(0);
            let mut map: HashMap<u64, Chain> = HashMap::new();
            for (op, h, v) in ops {
                match op {
                    0 => {
                        let e = table.entry(h, u32::MAX);
                        let m = map.entry(h).or_insert((u32::MAX, 0));
                        proptest::prop_assert_eq!(*e, *m);
                        *e = (v, e.1 + 1);
                        *m = (v, m.1 + 1);
                    }
                    1 => {
                        table.set(h, (v, 7));
                        map.insert(h, (v, 7));
                    }
                    _ => {
                        table.remove(h);
                        map.remove(&h);
                    }
                }
                proptest::prop_assert_eq!(table.len(), map.len());
            }
            for h in 0..200 {
                proptest::prop_assert_eq!(table.get(h), map.get(&h).copied());
            }
            let mut all: Vec<(u64, Chain)> = table.iter().collect();
            all.sort_unstable();
            let mut want: Vec<(u64, Chain)> = map.into_iter().collect();
            want.sort_unstable();
            proptest::prop_assert_eq!(all, want);
        }
    }
}
