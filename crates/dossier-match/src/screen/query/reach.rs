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

    /// Whether the chains share an organization.
    pub(super) fn meets(&self, other: &Chain) -> bool {
        self.iter().any(|o| other.contains(o))
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
    /// Ties not walked (see `Index::fanned`): every one runs through the data of the
    /// organizations of the chain, and at least this many actors count against each.
    floors: Vec<(Chain, usize)>,
}

impl Reach {
    /// Counts `ties` (lone objects are not actors and are not counted).
    pub(super) fn of<'a>(ties: impl Iterator<Item = &'a Tie>) -> Self {
        let mut common: HashMap<Group, Chain> = HashMap::default();
        for t in ties.filter(|t| !matches!(t.group, Group::Lone(_))) {
            common.entry(t.group).and_modify(|c| *c = c.meet(&t.chain)).or_insert(t.chain);
        }
        let mut alone: HashMap<OrgId, usize> = HashMap::default();
        for c in common.values() {
            for o in c.iter() {
                *alone.entry(o).or_default() += 1;
            }
        }
        let mut alone: Vec<(OrgId, usize)> = alone.into_iter().collect();
        alone.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        Self { groups: common.len(), alone, floors: Vec::new() }
    }

    /// The count with ties that were not walked: `floors` (see [`Reach::floors`]).
    pub(super) fn with_floors(mut self, floors: &[(Chain, usize)]) -> Self {
        self.floors = floors.to_vec();
        self
    }

    /// The organization outside `chain` whose data alone reaches the most groups, and how many.
    fn largest_other(&self, chain: &Chain) -> Option<(OrgId, usize)> {
        self.alone.iter().copied().find(|(o, _)| !chain.contains(*o))
    }

    /// The groups counted against evidence that runs through `chain` (at least 1): with
    /// ties not walked, at least as many as those count against evidence that runs through
    /// the data of one of their organizations.
    pub(super) fn for_chain(&self, chain: &Chain) -> usize {
        let walked = (self.groups - self.largest_other(chain).map_or(0, |(_, n)| n)).max(1);
        self.floors.iter().filter(|(c, _)| c.meets(chain)).map(|(_, n)| *n).fold(walked, usize::max)
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

    /// More than `limit` groups for every chain (see [`Reach::for_everyone`]): common for
    /// everyone, whatever ties are still to come.
    pub(super) fn beyond(&self, limit: usize) -> bool {
        self.for_everyone() > limit
    }

    /// The organizations every tie counted runs through (none when there is none).
    pub(super) fn common<'a>(ties: impl Iterator<Item = &'a Tie>) -> Option<Chain> {
        ties.map(|t| t.chain).reduce(|a, b| a.meet(&b))
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
        assert!(c.meets(&Chain::of(4)) && !m.meets(&Chain::of(4)));
    }

    #[test]
    fn ties_not_walked_count_for_evidence_through_their_organizations() {
        // Organization 1's thousand actors behind a summary; one more tie of its own and
        // one of organization 2's, walked.
        let ties = [tie(1, &[1]), tie(2, &[2])];
        let r = Reach::of(ties.iter()).with_floors(&[(Chain::of(1), 1000)]);
        assert_eq!(r.for_chain(&Chain::of(1)), 1000);
        assert_eq!(r.for_chain(&Chain::of(2)), 1);
        assert_eq!(r.for_chain(&Chain::of(2).with(1)), 1000);
    }
}
