//! The one visibility policy: who may see an object is a pure function of the
//! viewer, the object's TLP level, its owner and the organizations the owner named. Every
//! read path — store queries, TAXII, search, screening, web pages — calls [`may_see`]; none
//! decides on its own.

use crate::tlp::Tlp;

/// An organization's numeric id in the store.
pub type OrgId = i64;

/// What a viewer may do beyond being a member.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Member,
    Analyst,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Analyst => "analyst",
            Role::Admin => "admin",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "member" => Some(Role::Member),
            "analyst" => Some(Role::Analyst),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// Who is looking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Viewer {
    pub org: OrgId,
    pub role: Role,
    /// `true` when the viewer's organization is the ISAC itself.
    pub isac: bool,
}

impl Viewer {
    /// ISAC analysts (and admins) see everything inside the ISAC.
    pub fn is_isac_staff(&self) -> bool {
        self.isac && self.role >= Role::Analyst
    }
}

/// What the policy needs to know about one object version.
#[derive(Clone, Copy, Debug)]
pub struct Access<'a> {
    pub tlp: Tlp,
    pub owner: OrgId,
    /// Organizations the owner named as recipients of RED data.
    pub recipients: &'a [OrgId],
}

/// May `viewer` see the object? CLEAR, GREEN, AMBER and AMBER+STRICT: every member. RED:
/// the owner, ISAC analysts and the named recipients.
pub fn may_see(viewer: &Viewer, access: &Access<'_>) -> bool {
    match access.tlp {
        Tlp::Clear | Tlp::Green | Tlp::Amber | Tlp::AmberStrict => true,
        Tlp::Red => viewer.org == access.owner || viewer.is_isac_staff() || access.recipients.contains(&viewer.org),
    }
}

/// May the object leave the ISAC (public exports, federated peers)? AMBER+STRICT and RED
/// never do; AMBER only to the members' own organizations, which is not outside.
pub fn may_leave_isac(tlp: Tlp) -> bool {
    matches!(tlp, Tlp::Clear | Tlp::Green)
}

/// May `viewer` learn which organization really submitted an object? Only the submitter,
/// ISAC staff, or anyone when the submitter chose to be named.
pub fn may_see_submitter(viewer: &Viewer, owner: OrgId, named: bool) -> bool {
    named || viewer.org == owner || viewer.is_isac_staff()
}

impl serde::Serialize for Role {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn red_is_seen_by_owner_recipients_and_isac_staff_only() {
        let owner = Viewer { org: 1, role: Role::Member, isac: false };
        let other = Viewer { org: 2, role: Role::Admin, isac: false };
        let named = Viewer { org: 3, role: Role::Member, isac: false };
        let analyst = Viewer { org: 9, role: Role::Analyst, isac: true };
        let isac_member = Viewer { org: 9, role: Role::Member, isac: true };
        let red = Access { tlp: Tlp::Red, owner: 1, recipients: &[3] };
        assert!(may_see(&owner, &red));
        assert!(!may_see(&other, &red));
        assert!(may_see(&named, &red));
        assert!(may_see(&analyst, &red));
        assert!(!may_see(&isac_member, &red));
        for tlp in [Tlp::Clear, Tlp::Green, Tlp::Amber, Tlp::AmberStrict] {
            assert!(may_see(&other, &Access { tlp, owner: 1, recipients: &[] }));
        }
    }
}
