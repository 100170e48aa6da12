//! Typed, borrowed views of the well-known object types. The [`crate::StixObject`] stays the
//! source of truth; these views only read from it, so nothing is lost by using them.

use serde::Deserialize;
use std::collections::BTreeMap;

use crate::StixObject;

/// Properties every domain and relationship object may carry.
#[derive(Debug, Deserialize)]
#[serde(bound(deserialize = "'de: 'a"))]
pub struct Common<'a> {
    pub id: &'a str,
    pub created: Option<&'a str>,
    pub modified: Option<&'a str>,
    pub created_by_ref: Option<&'a str>,
    pub confidence: Option<u8>,
    #[serde(default)]
    pub labels: Vec<&'a str>,
    #[serde(default)]
    pub object_marking_refs: Vec<&'a str>,
    pub revoked: Option<bool>,
}

macro_rules! view {
    ($(#[$m:meta])* $name:ident { $($field:ident : $ty:ty),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Deserialize)]
        #[serde(bound(deserialize = "'de: 'a"))]
        pub struct $name<'a> {
            #[serde(flatten)]
            pub common: Common<'a>,
            $(#[serde(default)] pub $field: $ty,)*
        }
    };
}

view!(ThreatActor { name: &'a str, description: Option<&'a str>, threat_actor_types: Vec<&'a str>, aliases: Vec<&'a str>, first_seen: Option<&'a str>, last_seen: Option<&'a str>, roles: Vec<&'a str> });
view!(Identity { name: &'a str, description: Option<&'a str>, identity_class: Option<&'a str>, roles: Vec<&'a str>, sectors: Vec<&'a str>, contact_information: Option<&'a str> });
view!(IntrusionSet { name: &'a str, description: Option<&'a str>, aliases: Vec<&'a str>, first_seen: Option<&'a str>, last_seen: Option<&'a str> });
view!(Indicator { name: Option<&'a str>, pattern: &'a str, pattern_type: &'a str, valid_from: &'a str, valid_until: Option<&'a str>, indicator_types: Vec<&'a str> });
view!(Relationship { relationship_type: &'a str, source_ref: &'a str, target_ref: &'a str, description: Option<&'a str> });
view!(Sighting { sighting_of_ref: &'a str, first_seen: Option<&'a str>, last_seen: Option<&'a str>, count: Option<u32>, where_sighted_refs: Vec<&'a str>, observed_data_refs: Vec<&'a str> });
view!(Note { content: &'a str, r#abstract: Option<&'a str>, authors: Vec<&'a str>, object_refs: Vec<&'a str> });
view!(Report { name: &'a str, published: &'a str, description: Option<&'a str>, object_refs: Vec<&'a str> });
view!(Location { name: Option<&'a str>, region: Option<&'a str>, country: Option<&'a str>, city: Option<&'a str>, latitude: Option<f64>, longitude: Option<f64> });
view!(ObservedData { first_observed: &'a str, last_observed: &'a str, number_observed: u32, object_refs: Vec<&'a str> });
view!(MarkingDefinition { name: Option<&'a str>, definition_type: Option<&'a str> });
view!(ExtensionDefinition { name: &'a str, schema: &'a str, version: &'a str, extension_types: Vec<&'a str> });

/// Properties every cyber-observable may carry.
#[derive(Debug, Deserialize)]
#[serde(bound(deserialize = "'de: 'a"))]
pub struct ScoCommon<'a> {
    pub id: &'a str,
    #[serde(default)]
    pub object_marking_refs: Vec<&'a str>,
}

macro_rules! sco {
    ($(#[$m:meta])* $name:ident { $($field:ident : $ty:ty),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Deserialize)]
        #[serde(bound(deserialize = "'de: 'a"))]
        pub struct $name<'a> {
            #[serde(flatten)]
            pub common: ScoCommon<'a>,
            $(#[serde(default)] pub $field: $ty,)*
        }
    };
}

sco!(EmailAddr { value: &'a str, display_name: Option<&'a str>, belongs_to_ref: Option<&'a str> });
sco!(UserAccount { user_id: Option<&'a str>, account_login: Option<&'a str>, account_type: Option<&'a str>, display_name: Option<&'a str> });
sco!(Url { value: &'a str });
sco!(DomainName { value: &'a str });
sco!(IpAddr { value: &'a str });
sco!(File { name: Option<&'a str>, hashes: BTreeMap<&'a str, &'a str>, size: Option<u64>, mime_type: Option<&'a str> });
sco!(PhoneNumber { value: &'a str });
sco!(CryptocurrencyWallet { value: &'a str });

/// A typed view of one object; `Other` for every type without a view (still stored and
/// exported losslessly).
#[derive(Debug)]
pub enum Typed<'a> {
    ThreatActor(ThreatActor<'a>),
    Identity(Identity<'a>),
    IntrusionSet(IntrusionSet<'a>),
    Indicator(Indicator<'a>),
    Relationship(Relationship<'a>),
    Sighting(Sighting<'a>),
    Note(Note<'a>),
    Report(Report<'a>),
    Location(Location<'a>),
    ObservedData(ObservedData<'a>),
    MarkingDefinition(MarkingDefinition<'a>),
    ExtensionDefinition(ExtensionDefinition<'a>),
    EmailAddr(EmailAddr<'a>),
    UserAccount(UserAccount<'a>),
    Url(Url<'a>),
    DomainName(DomainName<'a>),
    Ipv4Addr(IpAddr<'a>),
    Ipv6Addr(IpAddr<'a>),
    File(File<'a>),
    PhoneNumber(PhoneNumber<'a>),
    CryptocurrencyWallet(CryptocurrencyWallet<'a>),
    Other(&'a StixObject),
}

impl<'a> Typed<'a> {
    pub fn from_object(o: &'a StixObject) -> Result<Self, serde_json::Error> {
        let map = o.properties();
        // `&Map` is not a Deserializer; go through a borrowed Value view of the map.
        let de = MapDe(map);
        Ok(match o.object_type() {
            "threat-actor" => Typed::ThreatActor(ThreatActor::deserialize(de)?),
            "identity" => Typed::Identity(Identity::deserialize(de)?),
            "intrusion-set" => Typed::IntrusionSet(IntrusionSet::deserialize(de)?),
            "indicator" => Typed::Indicator(Indicator::deserialize(de)?),
            "relationship" => Typed::Relationship(Relationship::deserialize(de)?),
            "sighting" => Typed::Sighting(Sighting::deserialize(de)?),
            "note" => Typed::Note(Note::deserialize(de)?),
            "report" => Typed::Report(Report::deserialize(de)?),
            "location" => Typed::Location(Location::deserialize(de)?),
            "observed-data" => Typed::ObservedData(ObservedData::deserialize(de)?),
            "marking-definition" => Typed::MarkingDefinition(MarkingDefinition::deserialize(de)?),
            "extension-definition" => Typed::ExtensionDefinition(ExtensionDefinition::deserialize(de)?),
            "email-addr" => Typed::EmailAddr(EmailAddr::deserialize(de)?),
            "user-account" => Typed::UserAccount(UserAccount::deserialize(de)?),
            "url" => Typed::Url(Url::deserialize(de)?),
            "domain-name" => Typed::DomainName(DomainName::deserialize(de)?),
            "ipv4-addr" => Typed::Ipv4Addr(IpAddr::deserialize(de)?),
            "ipv6-addr" => Typed::Ipv6Addr(IpAddr::deserialize(de)?),
            "file" => Typed::File(File::deserialize(de)?),
            "phone-number" => Typed::PhoneNumber(PhoneNumber::deserialize(de)?),
            "cryptocurrency-wallet" => Typed::CryptocurrencyWallet(CryptocurrencyWallet::deserialize(de)?),
            _ => Typed::Other(o),
        })
    }
}

/// Deserializes a struct from a borrowed JSON map without cloning it.
#[derive(Clone, Copy)]
struct MapDe<'a>(&'a serde_json::Map<String, serde_json::Value>);

impl<'de> serde::Deserializer<'de> for MapDe<'de> {
    type Error = serde_json::Error;
    fn deserialize_any<V: serde::de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        use serde::de::value::MapDeserializer;
        let iter = self.0.iter().map(|(k, v)| (k.as_str(), v));
        let mut de = MapDeserializer::new(iter);
        let value = visitor.visit_map(&mut de)?;
        de.end()?;
        Ok(value)
    }
    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}
