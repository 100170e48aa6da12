//! What a viewer may see of the index, for pages: the associations around one object — for
//! a picture of them: personas and actors linked through the identifiers they share — and
//! the census of everything, by kind. Only what the viewer may see is walked or counted — a
//! hidden relationship or object is neither drawn nor counted, nor followed further.

use dossier_stix::Viewer;
use serde::Serialize;

use super::index::{INDIVIDUAL, IS_TWIN, Index, NOTE_REF, TWIN, Ty, parse_id};

/// How much of the index one viewer may see. The index's own sizes ([`Index::stats`]) count
/// every member's objects, RED ones included, so a page shown to a member uses these.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Census {
    pub actors: usize,
    /// Identities of individuals (personas, stolen identities).
    pub personas: usize,
    /// Emails, phones, wallets, accounts, URLs, IPs, files.
    pub identifiers: usize,
    pub notes: usize,
    pub sightings: usize,
    pub relationships: usize,
    /// Of the objects above, those the viewer's own organization submitted.
    pub own: usize,
}

/// A node of the picture.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct GraphNode {
    pub id: String,
    #[serde(rename = "type")]
    pub ty: &'static str,
    /// The name of an actor or persona ("" for identifiers: the caller looks their values up).
    pub name: String,
    /// Hops from the start.
    pub depth: u8,
}

/// The neighbourhood of one object.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Neighbourhood {
    pub nodes: Vec<GraphNode>,
    /// Pairs of indexes into `nodes`.
    pub edges: Vec<(u32, u32)>,
    /// Whether limits cut the walk short (too many nodes, or a value shared by very many).
    pub truncated: bool,
    /// Notes (analyst text, resume text) on the start and on its direct neighbours.
    pub notes: Vec<String>,
    /// Sightings of the start and of its direct neighbours.
    pub sightings: Vec<String>,
}

/// Limits of a walk.
#[derive(Debug, Clone, Copy)]
pub struct Walk {
    pub max_depth: u8,
    pub max_nodes: usize,
    /// Neighbours followed from one node; an identifier shared by more is drawn but not
    /// expanded beyond this many.
    pub max_fanout: usize,
}

impl Default for Walk {
    fn default() -> Self {
        Self { max_depth: 4, max_nodes: 150, max_fanout: 40 }
    }
}

impl Index {
    /// Counts the live objects `viewer` may see, by kind (the policy is decided once per
    /// distinct access fact, then each node is one table read).
    pub fn census(&self, viewer: &Viewer) -> Census {
        let seen: Vec<(bool, bool)> = (0..self.access.len())
            .map(|a| (self.visible_to(a as u32, viewer), self.access[a].owner == viewer.org))
            .collect();
        let mut c = Census::default();
        for n in &self.nodes {
            if !n.alive() || n.flags & IS_TWIN != 0 {
                continue;
            }
            let (visible, own) = seen[n.access as usize];
            if !visible {
                continue;
            }
            let slot = match n.ty {
                Ty::ThreatActor => &mut c.actors,
                Ty::Identity if n.flags & INDIVIDUAL != 0 => &mut c.personas,
                Ty::Identity => continue,
                Ty::Note => &mut c.notes,
                Ty::Sighting => &mut c.sightings,
                Ty::Relationship => continue,
                _ => &mut c.identifiers,
            };
            *slot += 1;
            c.own += usize::from(own);
        }
        for r in &self.rels {
            if r.alive && seen[r.access as usize].0 {
                c.relationships += 1;
                c.own += usize::from(seen[r.access as usize].1);
            }
        }
        c
    }

    /// Breadth-first from `start` over live relationships the viewer may see, to objects the
    /// viewer may see. `None` when `start` is unknown, gone or hidden from the viewer.
    pub fn neighbourhood(&self, start: &str, viewer: &Viewer, walk: Walk) -> Option<Neighbourhood> {
        let (ty, uuid) = parse_id(start)?;
        let first = self.find_node(ty, uuid)?;
        let first = self.nodes[first as usize].primary(first);
        let node = &self.nodes[first as usize];
        if !node.alive() || !self.visible_to(node.access, viewer) {
            return None;
        }
        let mut out = Neighbourhood::default();
        let mut seen: std::collections::HashMap<u32, u32> = std::collections::HashMap::new();
        let mut queue = std::collections::VecDeque::new();
        seen.insert(first, 0);
        out.nodes.push(self.graph_node(first, 0));
        queue.push_back((first, 0u8));
        let mut edges = std::collections::HashSet::new();
        while let Some((n, depth)) = queue.pop_front() {
            if depth >= walk.max_depth {
                continue;
            }
            let mut followed = 0;
            // In the order of the objects' ids, not of arrival: an index updated in place
            // draws the same picture as one built afresh.
            let mut around: Vec<super::index::Edge> = self.nodes[n as usize].edges.to_vec();
            around.sort_by_key(|e| {
                let o = &self.nodes[e.other as usize];
                (o.ty as u8, o.uuid, e.rel)
            });
            for e in &around {
                if e.rel == NOTE_REF && depth <= 1 {
                    let o = &self.nodes[e.other as usize];
                    if o.alive() && self.visible_to(o.access, viewer) {
                        let list = if o.ty == Ty::Sighting { &mut out.sightings } else { &mut out.notes };
                        if list.len() < 50 {
                            list.push(o.id());
                        }
                    }
                    continue;
                }
                if e.rel == TWIN || e.rel == NOTE_REF {
                    continue;
                }
                let rel = &self.rels[e.rel as usize];
                let other = e.other;
                let o = &self.nodes[other as usize];
                if !rel.alive
                    || !o.alive()
                    || matches!(o.ty, Ty::Note | Ty::Sighting)
                    || !self.visible_to(rel.access, viewer)
                    || !self.visible_to(o.access, viewer)
                {
                    continue;
                }
                let known = seen.get(&other).copied();
                let target = match known {
                    Some(i) => i,
                    None => {
                        if followed >= walk.max_fanout || out.nodes.len() >= walk.max_nodes {
                            out.truncated = true;
                            continue;
                        }
                        followed += 1;
                        let i = out.nodes.len() as u32;
                        seen.insert(other, i);
                        out.nodes.push(self.graph_node(other, depth + 1));
                        queue.push_back((other, depth + 1));
                        i
                    }
                };
                let from = seen[&n];
                let pair = (from.min(target), from.max(target));
                if pair.0 != pair.1 && edges.insert(pair) {
                    out.edges.push(pair);
                }
            }
        }
        Some(out)
    }

    fn graph_node(&self, n: u32, depth: u8) -> GraphNode {
        let node = &self.nodes[n as usize];
        GraphNode { id: node.id(), ty: node.ty.as_str(), name: self.label(n).to_owned(), depth }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::screen::Access;
    use dossier_stix::{Role, Tlp};

    fn access(tlp: Tlp, owner: i64) -> Access {
        Access { tlp, owner, recipients: vec![], staff_only: false, confidence: Some(80) }
    }

    fn rel(i: &mut Index, n: u32, src: &str, dst: &str, a: Access) {
        let id = format!("relationship--00000000-0000-4000-8000-{n:012}");
        let json = format!(
            r#"{{"type":"relationship","id":"{id}","relationship_type":"related-to","source_ref":"{src}","target_ref":"{dst}"}}"#
        );
        i.upsert(&id, &json, a);
    }

    #[test]
    fn walks_shared_identifiers_and_hides_red_of_others() {
        let mut i = Index::new();
        let actor = "threat-actor--00000000-0000-4000-8000-000000000001";
        let p1 = "identity--00000000-0000-4000-8000-000000000002";
        let p2 = "identity--00000000-0000-4000-8000-000000000003";
        let email = "email-addr--00000000-0000-5000-8000-000000000004";
        let wallet = "cryptocurrency-wallet--00000000-0000-5000-8000-000000000005";
        let green = access(Tlp::Green, 1);
        let red = access(Tlp::Red, 1);
        i.upsert(actor, &format!(r#"{{"type":"threat-actor","id":"{actor}","name":"Team A"}}"#), green.clone());
        for (p, name) in [(p1, "Kim One"), (p2, "Pak Two")] {
            let json = format!(r#"{{"type":"identity","id":"{p}","name":"{name}","identity_class":"individual"}}"#);
            i.upsert(p, &json, green.clone());
        }
        i.upsert(email, &format!(r#"{{"type":"email-addr","id":"{email}","value":"a@example.com"}}"#), green.clone());
        i.upsert(
            wallet,
            &format!(r#"{{"type":"cryptocurrency-wallet","id":"{wallet}","value":"0xabc"}}"#),
            red.clone(),
        );
        rel(&mut i, 1, p1, actor, green.clone());
        rel(&mut i, 2, p1, email, green.clone());
        rel(&mut i, 3, p2, email, green.clone());
        rel(&mut i, 4, p2, wallet, red.clone());
        let sighting = "sighting--00000000-0000-4000-8000-000000000006";
        i.upsert(
            sighting,
            &format!(r#"{{"type":"sighting","id":"{sighting}","sighting_of_ref":"{p1}"}}"#),
            green.clone(),
        );
        let note = "note--00000000-0000-4000-8000-000000000007";
        i.upsert(
            note,
            &format!(r#"{{"type":"note","id":"{note}","content":"Seen twice.","object_refs":["{actor}"]}}"#),
            red.clone(),
        );
        let owner = Viewer { org: 1, role: Role::Member, isac: false };
        let other = Viewer { org: 2, role: Role::Member, isac: false };
        let g = i.neighbourhood(actor, &owner, Walk::default()).expect("visible");
        let ids: Vec<&str> = g.nodes.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(ids, vec![actor, p1, email, p2, wallet]);
        assert_eq!(g.nodes[1].name, "Kim One");
        assert_eq!(g.edges.len(), 4);
        assert_eq!(g.sightings, vec![sighting]);
        assert_eq!(g.notes, vec![note], "a short analyst note is kept");
        let g = i.neighbourhood(actor, &other, Walk::default()).expect("visible");
        let ids: Vec<&str> = g.nodes.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(ids, vec![actor, p1, email, p2], "RED wallet of org 1 is not shown to org 2");
        assert!(g.notes.is_empty(), "nor its RED note");
        assert_eq!(g.sightings.len(), 1);
        assert!(i.neighbourhood(wallet, &other, Walk::default()).is_none());
        let g = i.neighbourhood(actor, &other, Walk { max_depth: 4, max_nodes: 2, max_fanout: 40 }).expect("visible");
        assert_eq!(g.nodes.len(), 2);
        assert!(g.truncated);
    }
}
