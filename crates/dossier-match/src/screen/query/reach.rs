//! How many actors a value reaches, counted so that no one organization's data can make
//! another organization's evidence common.
//!
//! A value tied to many actors is common infrastructure (a VPN exit, a public resume
//! template) and weighs less the more actors it reaches; past a limit it is not followed at
//! all. Counted naively, that lets member B switch off member A's evidence: B ties A's
//! team address to twenty personas of its own and A's match is gone for everyone. So each
//! tie records the organizations whose data it runs through (its [`Chain`]), and the actors
//! counted against a tie are all of them *less those that one other organization's data
//! alone reaches* — the organization, outside the tie's own chain, that reaches the most.
//! Several members' data, or the tie's own organization's, still make a value common.

use dossier_stix::OrgId;

use super::{Group, HashMap, Tie};

/// The organizations whose data a tie runs through: the relationship or note that ties the
/// value, the persona, the relationship to the actor and the actor (at most four).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Chain {
    orgs: [OrgId; 4],
    len: u8,
}

impl Chain {
    /// A chain through one organization's data.
    pub(super) fn of(owner: OrgId) -> Self {
        Self { orgs: [owner; 4], len: 1 }
    }

    /// The chain extended by `owner`'s data.
    pub(super) fn with(mut self, owner: OrgId) -> Self {
        if !self.contains(owner) && usize::from(self.len) < self.orgs.len() {
            self.orgs[usize::from(self.len)] = owner;
            self.len += 1;
        }
        self
    }

    fn iter(&self) -> impl Iterator<Item = OrgId> + '_ {
        self.orgs[..usize::from(self.len)].iter().copied()
    }

    pub(super) fn contains(&self, owner: OrgId) -> bool {
        self.iter().any(|o| o == owner)
    }

    /// The one organization of a chain through one organization's data only.
    pub(super) fn single(&self) -> Option<OrgId> {
        (self.len == 1).then_some(self.orgs[0])
    }

    /// The organizations on both chains.
    pub(super) fn meet(self, other: &Chain) -> Self {
        let mut out = Self { orgs: self.orgs, len: 0 };
        for o in self.iter() {
            if other.contains(o) {
                out.orgs[usize::from(out.len)] = o;
                out.len += 1;
            }
        }
        out
    }
}

/// The actors (and personas tied to no actor) a set of ties reaches, and for each
/// organization how many of them every tie reaches through its data.
#[derive(Debug, Default)]
pub(super) struct Reach {
    groups: usize,
    /// Organizations with the groups only their data reaches, largest first.
    alone: Vec<(OrgId, usize)>,
}

impl Reach {
    /// Counts `ties` (lone objects are not actors and are not counted).
    pub(super) fn of<'a>(ties: impl Iterator<Item = &'a Tie>) -> Self {
        // Most values reach one actor or a few: a list searched in place, until it is long.
        let mut few: Vec<(Group, Chain)> = Vec::new();
        let mut many: HashMap<Group, Chain> = HashMap::default();
        for t in ties.filter(|t| !matches!(t.group, Group::Lone(_))) {
            if many.is_empty() {
                if let Some(e) = few.iter_mut().find(|(g, _)| *g == t.group) {
                    e.1 = e.1.meet(&t.chain);
                } else if few.len() < 32 {
                    few.push((t.group, t.chain));
                } else {
                    many.extend(few.drain(..));
                    many.insert(t.group, t.chain);
                }
            } else {
                many.entry(t.group).and_modify(|c| *c = c.meet(&t.chain)).or_insert(t.chain);
            }
        }
        let groups = few.len() + many.len();
        let mut alone: Vec<(OrgId, usize)> = Vec::new();
        for c in few.iter().map(|(_, c)| c).chain(many.values()) {
            for o in c.iter() {
                match alone.iter_mut().find(|(a, _)| *a == o) {
                    Some(e) => e.1 += 1,
                    None => alone.push((o, 1)),
                }
            }
        }
        alone.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        Self { groups, alone }
    }

    /// The count with ties that were not walked (see `Index::fanned`): for each, an
    /// organization and how many actors ties through its data alone reach.
    pub(super) fn with_unwalked(mut self, unwalked: &[(OrgId, usize)]) -> Self {
        if unwalked.is_empty() {
            return self;
        }
        for (org, n) in unwalked {
            self.groups += n;
            match self.alone.iter_mut().find(|(o, _)| o == org) {
                Some(e) => e.1 += n,
                None => self.alone.push((*org, *n)),
            }
        }
        self.alone.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        self
    }

    /// The organization outside `chain` whose data alone reaches the most groups, and how many.
    fn largest_other(&self, chain: &Chain) -> Option<(OrgId, usize)> {
        self.alone.iter().copied().find(|(o, _)| !chain.contains(*o))
    }

    /// The groups counted against evidence that runs through `chain` (at least 1).
    pub(super) fn for_chain(&self, chain: &Chain) -> usize {
        (self.groups - self.largest_other(chain).map_or(0, |(_, n)| n)).max(1)
    }

    /// How many groups one other organization's data alone adds for `chain` (not counted).
    pub(super) fn set_aside(&self, chain: &Chain) -> usize {
        self.largest_other(chain).map_or(0, |(_, n)| n)
    }

    /// The groups counted for every chain, even without the groups of the one organization
    /// that reaches the most alone.
    pub(super) fn for_everyone(&self) -> usize {
        self.groups - self.alone.first().map_or(0, |(_, n)| *n)
    }

    /// The organizations for whose data alone (a chain of that organization only) more
    /// than `limit` groups count: any tie through their data counts at least as many.
    pub(super) fn past(&self, limit: usize) -> Vec<OrgId> {
        self.alone.iter().map(|(o, _)| *o).filter(|o| self.for_chain(&Chain::of(*o)) > limit).collect()
    }

    /// More than `limit` groups for every chain (see [`Reach::for_everyone`]): common for
    /// everyone, whatever ties are still to come.
    pub(super) fn beyond(&self, limit: usize) -> bool {
        self.for_everyone() > limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dossier_stix::Tlp;

    fn tie(actor: u32, orgs: &[OrgId]) -> Tie {
        let mut chain = Chain::of(orgs[0]);
        for o in &orgs[1..] {
            chain = chain.with(*o);
        }
        Tie { group: Group::Actor(actor), persona: None, visible: true, confidence: None, tlp: Tlp::Green, chain }
    }

    #[test]
    fn another_organizations_groups_are_set_aside() {
        // A's own actor 1; B ties the value to twenty actors of its own.
        let mut ties = vec![tie(1, &[1])];
        ties.extend((0..20).map(|i| tie(100 + i, &[2])));
        let r = Reach::of(ties.iter());
        assert_eq!(r.for_chain(&Chain::of(1)), 1);
        assert_eq!(r.set_aside(&Chain::of(1)), 20);
        // B's own ties see A's one group set aside, not theirs.
        assert_eq!(r.for_chain(&Chain::of(2)), 20);
        assert!(!r.beyond(10));
    }

    #[test]
    fn a_tie_through_the_organizations_data_is_its_own() {
        // B ties A's persona to twenty actors: the ties run through A's data too (the value's
        // relationship), but every one through B's, so they are B's alone.
        let mut ties = vec![tie(1, &[1])];
        ties.extend((0..20).map(|i| tie(100 + i, &[1, 2])));
        let r = Reach::of(ties.iter());
        assert_eq!(r.for_chain(&Chain::of(1)), 1);
        // A group that also has a tie without B's data counts for everyone.
        ties.push(tie(100, &[3]));
        let r = Reach::of(ties.iter());
        assert_eq!(r.for_chain(&Chain::of(1)), 2);
    }

    #[test]
    fn several_organizations_or_ones_own_make_a_value_common() {
        let mut ties: Vec<Tie> = (0..20).map(|i| tie(i, &[1])).collect();
        assert_eq!(Reach::of(ties.iter()).for_chain(&Chain::of(1)), 20);
        assert!(!Reach::of(ties.iter()).beyond(10), "one organization's alone is not common for others");
        ties.extend((0..15).map(|i| tie(100 + i, &[2])));
        ties.extend((0..15).map(|i| tie(200 + i, &[3])));
        let r = Reach::of(ties.iter());
        // For organization 4, organization 1's twenty are set aside: 30 remain.
        assert_eq!(r.for_chain(&Chain::of(4)), 30);
        assert_eq!(r.for_chain(&Chain::of(1)), 35);
        assert!(r.beyond(29) && !r.beyond(30));
    }

    #[test]
    fn chains_hold_four_organizations_and_meet() {
        let c = Chain::of(1).with(2).with(2).with(3).with(4).with(5);
        assert_eq!(c.iter().collect::<Vec<_>>(), vec![1, 2, 3, 4]);
        let m = c.meet(&Chain::of(3).with(1));
        assert_eq!(m.iter().collect::<Vec<_>>(), vec![1, 3]);
        assert!(!m.contains(2));
        assert_eq!((c.single(), Chain::of(3).single()), (None, Some(3)));
    }

    #[test]
    fn ties_not_walked_count_as_their_organizations_actors() {
        // Organization 1's thousand actors behind a summary; one more tie of its own and
        // one of organization 2's, walked.
        let ties = [tie(1, &[1]), tie(2, &[2])];
        let r = Reach::of(ties.iter()).with_unwalked(&[(1, 1000)]);
        assert_eq!(r.for_chain(&Chain::of(1)), 1001);
        assert_eq!(r.for_chain(&Chain::of(2)), 1);
        assert_eq!(r.for_chain(&Chain::of(2).with(1)), 1002);
        assert_eq!(r.for_everyone(), 1);
    }
}
