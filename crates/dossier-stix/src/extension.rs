//! Extension-definitions for the extension SCOs dossier relies on, with the ids and
//! property names of the community `stix2extensions` definitions so that bundles from that
//! ecosystem import unchanged.

/// The `phone-number` SCO (`value`, E.164 preferred).
pub const PHONE_NUMBER: &str = "extension-definition--14a97ee2-e666-5ada-a6bd-b7177f79e211";
/// The `cryptocurrency-wallet` SCO (`value` = address).
pub const CRYPTOCURRENCY_WALLET: &str = "extension-definition--be78509e-6958-51b1-8b26-d17ee0eba2d7";
/// The `bank-account` SCO (`iban`, `account_number`, `bic`, `country`, `currency`,
/// `holder_ref`, `issuer_ref`; at least one of `iban` and `account_number`).
pub const BANK_ACCOUNT: &str = "extension-definition--f19f3291-6a84-5674-b311-d75a925d5bd9";

/// The identity that published the definitions.
pub const PUBLISHER: &str = "identity--9779a2db-f98c-5f4b-8d08-8ee04e02dbb5";

/// The extension-definition objects, in the form their publisher distributes them.
pub const DEFINITIONS: [&str; 3] = [
    r#"{"type":"extension-definition","spec_version":"2.1","id":"extension-definition--14a97ee2-e666-5ada-a6bd-b7177f79e211","created_by_ref":"identity--9779a2db-f98c-5f4b-8d08-8ee04e02dbb5","created":"2020-01-01T00:00:00.000Z","modified":"2020-01-01T00:00:00.000Z","name":"Phonenumber","schema":"https://raw.githubusercontent.com/muchdogesec/stix2extensions/main/automodel_generated/schemas/scos/phone-number.json","version":"1.0","extension_types":["new-sco"],"object_marking_refs":["marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487","marking-definition--60c0f466-511a-5419-9f7e-4814e696da40"]}"#,
    r#"{"type":"extension-definition","spec_version":"2.1","id":"extension-definition--be78509e-6958-51b1-8b26-d17ee0eba2d7","created_by_ref":"identity--9779a2db-f98c-5f4b-8d08-8ee04e02dbb5","created":"2020-01-01T00:00:00.000Z","modified":"2020-01-01T00:00:00.000Z","name":"CryptocurrencyWallet","schema":"https://raw.githubusercontent.com/muchdogesec/stix2extensions/main/automodel_generated/schemas/scos/cryptocurrency-wallet.json","version":"1.0","extension_types":["new-sco"],"object_marking_refs":["marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487","marking-definition--60c0f466-511a-5419-9f7e-4814e696da40"]}"#,
    r#"{"type":"extension-definition","spec_version":"2.1","id":"extension-definition--f19f3291-6a84-5674-b311-d75a925d5bd9","created_by_ref":"identity--9779a2db-f98c-5f4b-8d08-8ee04e02dbb5","created":"2020-01-01T00:00:00.000Z","modified":"2020-01-01T00:00:00.000Z","name":"Bank Account","schema":"https://raw.githubusercontent.com/muchdogesec/stix2extensions/main/automodel_generated/schemas/scos/bank-account.json","version":"1.0","extension_types":["new-sco"],"object_marking_refs":["marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487","marking-definition--60c0f466-511a-5419-9f7e-4814e696da40"]}"#,
];

/// The extension-definition id a new-sco object of type `ty` declares, if dossier knows it.
pub fn for_sco_type(ty: &str) -> Option<&'static str> {
    match ty {
        "phone-number" => Some(PHONE_NUMBER),
        "cryptocurrency-wallet" => Some(CRYPTOCURRENCY_WALLET),
        "bank-account" => Some(BANK_ACCOUNT),
        _ => None,
    }
}
