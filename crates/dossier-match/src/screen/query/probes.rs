//! Probes: each value an applicant gave, read by the normaliser of its kind into the key
//! (or keys) it is looked up under, with the rules applied for the explanation; values that
//! read as nothing become warnings naming their field.

use super::*;

/// A region hint from the applicant's other data: the `region` field, another phone written
/// with its country code, or the country-code domain of an email address.
fn region_hint(a: &Applicant, opts: &Options) -> (Option<String>, &'static str) {
    if let Some(r) = &a.region {
        return (Some(r.to_ascii_uppercase()), "region from the applicant's region field");
    }
    for p in &a.phones {
        if let Some(e164) = phone::quick_e164(p, None)
            && let Some(r) = region_of_calling_code(&e164)
        {
            return (Some(r.to_owned()), "region from the applicant's other phone");
        }
    }
    for e in &a.emails {
        if let Some((_, domain)) = e.rsplit_once('.') {
            let cc = match domain.trim().to_ascii_lowercase().as_str() {
                "kr" => "KR",
                "jp" => "JP",
                "cn" => "CN",
                "uk" => "GB",
                "de" => "DE",
                "ua" => "UA",
                "ru" => "RU",
                "vn" => "VN",
                "pl" => "PL",
                "ca" => "CA",
                "au" => "AU",
                _ => continue,
            };
            return (Some(cc.into()), "region from the email domain");
        }
    }
    (opts.default_region.clone(), "default region")
}

/// The main region of a country calling code, for a hint (no numbering plan needed).
fn region_of_calling_code(e164: &str) -> Option<&'static str> {
    const CODES: &[(&str, &str)] = &[
        ("+380", "UA"),
        ("+1", "US"),
        ("+7", "RU"),
        ("+31", "NL"),
        ("+33", "FR"),
        ("+40", "RO"),
        ("+44", "GB"),
        ("+48", "PL"),
        ("+49", "DE"),
        ("+61", "AU"),
        ("+63", "PH"),
        ("+81", "JP"),
        ("+82", "KR"),
        ("+84", "VN"),
        ("+86", "CN"),
        ("+91", "IN"),
    ];
    CODES.iter().find(|(code, _)| e164.starts_with(code)).map(|(_, r)| *r)
}

impl Index {
    pub(super) fn probes(&self, a: &Applicant, opts: &Options, warnings: &mut Vec<Warning>) -> Vec<Probe> {
        let mut probes = Vec::new();
        for (i, e) in a.emails.iter().enumerate() {
            match email::normalize(e) {
                Ok(n) => probes.push(Probe {
                    field: "emails",
                    input: e.clone(),
                    normalized: n.canonical,
                    rules: n.rules,
                    kind: Kind::Email,
                    key: KeyKind::Email,
                    penalty: 0.0,
                    origin: ("emails", i),
                }),
                Err(err) => warnings.push(Warning { field: "emails", index: i, reason: err.to_string() }),
            }
        }
        let needs_hint = a.phones.iter().any(|p| phone::quick_e164(p, None).is_none());
        let (hint, hint_rule) = if needs_hint { region_hint(a, opts) } else { (None, "") };
        for (i, p) in a.phones.iter().enumerate() {
            if let Some(canonical) = phone::quick_e164(p, hint.as_deref()) {
                let mut rules = Vec::new();
                if canonical != p.trim() {
                    rules.push("formatting");
                }
                if !p.trim_start().starts_with('+') && !p.trim_start().starts_with("00") {
                    rules.push("national number placed by region hint");
                    rules.push(hint_rule);
                }
                // The kind (VoIP, toll-free …) is read from the numbering plan only on a hit.
                probes.push(Probe {
                    field: "phones",
                    input: p.clone(),
                    normalized: canonical,
                    rules,
                    kind: Kind::Phone,
                    key: KeyKind::Phone,
                    penalty: 0.0,
                    origin: ("phones", i),
                });
                continue;
            }
            // Not readable quickly: a national number under a hint outside North America is
            // placed with the numbering plan (one parse).
            if let Some(h) = hint.as_deref().filter(|h| !matches!(*h, "US" | "CA"))
                && let Ok(n) = phone::normalize(p, Some(h))
                && !n.flags.contains(&"unverified")
            {
                let mut rules = n.rules;
                rules.push(hint_rule);
                let cheap = n.flags.iter().any(|f| *f != "personal");
                probes.push(Probe {
                    field: "phones",
                    input: p.clone(),
                    normalized: n.canonical,
                    rules,
                    kind: if cheap { Kind::PhoneCheap } else { Kind::Phone },
                    key: KeyKind::Phone,
                    penalty: 0.0,
                    origin: ("phones", i),
                });
                continue;
            }
            // A national number with a trunk prefix 0 that fits no hint: each region that
            // dials 0 gives a reading, looked up cheaply; a reading that hits is checked
            // against the numbering plan then (see the lookup loop).
            let readings = phone::trunk_readings(p);
            if readings.is_empty() {
                let reason = match phone::normalize(p, hint.as_deref()) {
                    Err(e) => e.to_string(),
                    Ok(_) => "not a phone number".into(),
                };
                warnings.push(Warning { field: "phones", index: i, reason });
                continue;
            }
            for r in readings {
                probes.push(Probe {
                    field: "phones",
                    input: p.clone(),
                    normalized: r,
                    rules: vec!["national number: country guessed from the trunk prefix"],
                    kind: Kind::Phone,
                    key: KeyKind::Phone,
                    penalty: f64::NAN,
                    origin: ("phones", i),
                });
            }
        }
        for (i, acc) in a.accounts.iter().enumerate() {
            let parsed = match (&acc.url, &acc.platform, &acc.username, &acc.user_id) {
                (Some(url), _, _, _) => account::from_url(url),
                (None, Some(p), Some(u), _) => account::from_handle(p, u),
                (None, Some(p), None, Some(id)) => account::from_handle(p, id),
                _ => Err(crate::normalize::NormalizeError::Account("needs a url or a platform and a name")),
            };
            let input = acc
                .url
                .clone()
                .or_else(|| {
                    Some(format!(
                        "{}:{}",
                        acc.platform.as_deref().unwrap_or_default(),
                        acc.username.as_deref().or(acc.user_id.as_deref()).unwrap_or_default()
                    ))
                })
                .unwrap_or_default();
            match parsed {
                Ok(n) => probes.push(Probe {
                    field: "accounts",
                    input,
                    normalized: n.key(),
                    kind: if n.kind == account::Kind::Id { Kind::AccountId } else { Kind::AccountLogin },
                    rules: n.rules,
                    key: KeyKind::Account,
                    penalty: 0.0,
                    origin: ("accounts", i),
                }),
                Err(err) => warnings.push(Warning { field: "accounts", index: i, reason: err.to_string() }),
            }
        }
        for (i, w) in a.wallets.iter().enumerate() {
            match wallet::parse(&w.address) {
                Ok(n) => {
                    let mut rules = Vec::new();
                    if n.canonical != w.address.trim() {
                        rules.push("case folded (checksum verified when mixed case)");
                    }
                    if let Some(chain) = &w.chain {
                        if wallet::Chain::named(chain) != Some(n.chain) {
                            warnings.push(Warning {
                                field: "wallets",
                                index: i,
                                reason: format!("the address is a {} address, not {chain}", n.chain.as_str()),
                            });
                        }
                    } else {
                        rules.push("chain detected from the address");
                    }
                    probes.push(Probe {
                        field: "wallets",
                        input: w.address.clone(),
                        normalized: n.canonical,
                        rules,
                        kind: Kind::Wallet,
                        key: KeyKind::Wallet,
                        penalty: 0.0,
                        origin: ("wallets", i),
                    });
                }
                Err(wallet::WalletError::Unrecognised) if !w.address.trim().is_empty() => probes.push(Probe {
                    field: "wallets",
                    input: w.address.clone(),
                    normalized: w.address.trim().to_owned(),
                    rules: vec!["format not recognised: compared exactly"],
                    kind: Kind::Wallet,
                    key: KeyKind::Wallet,
                    penalty: 0.0,
                    origin: ("wallets", i),
                }),
                Err(err) => warnings.push(Warning { field: "wallets", index: i, reason: err.to_string() }),
            }
        }
        for (i, d) in a.documents.iter().enumerate() {
            let h = d.sha256.trim().to_ascii_lowercase();
            if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) {
                probes.push(Probe {
                    field: "documents",
                    input: d.sha256.clone(),
                    normalized: h,
                    rules: Vec::new(),
                    kind: Kind::Document,
                    key: KeyKind::Document,
                    penalty: 0.0,
                    origin: ("documents", i),
                });
            } else {
                warnings.push(Warning {
                    field: "documents",
                    index: i,
                    reason: "sha256 must be 64 hexadecimal digits".into(),
                });
            }
        }
        for (i, b) in a.bank_accounts.iter().enumerate() {
            match bank::keys(&b.parts()) {
                Ok(keys) => {
                    // The most specific readings: the IBAN and the national form (one
                    // account, counted once); the number alone only when nothing more was
                    // given (it is an account at many banks).
                    let specific = keys.iter().any(|k| k.kind != bank::Kind::Number);
                    for k in keys.into_iter().filter(|k| !specific || k.kind != bank::Kind::Number) {
                        let (kind, rules) = match k.kind {
                            bank::Kind::Iban => (Kind::Iban, vec!["IBAN check digits verified"]),
                            bank::Kind::National => (Kind::BankNational, vec!["bank code and account number"]),
                            bank::Kind::Number => {
                                (Kind::BankNumber, vec!["account number alone, leading zeros dropped"])
                            }
                        };
                        probes.push(Probe {
                            field: "bank_accounts",
                            input: b.text(),
                            normalized: k.key,
                            rules,
                            kind,
                            key: KeyKind::Bank,
                            penalty: 0.0,
                            origin: ("bank_accounts", i),
                        });
                    }
                }
                Err(err) => warnings.push(Warning { field: "bank_accounts", index: i, reason: err.to_string() }),
            }
        }
        for (i, w) in a.websites.iter().enumerate() {
            match website::key(w) {
                Ok(k) => probes.push(Probe {
                    field: "websites",
                    input: w.clone(),
                    normalized: k,
                    rules: vec!["host without www, port or path"],
                    kind: Kind::Website,
                    key: KeyKind::Website,
                    penalty: 0.0,
                    origin: ("websites", i),
                }),
                Err(err) => warnings.push(Warning { field: "websites", index: i, reason: err.to_string() }),
            }
        }
        for (i, text) in a.addresses.iter().enumerate() {
            match address::parse(text) {
                Ok(addr) => {
                    // The unit and the building, under each locality read: one address,
                    // counted once at its best agreement.
                    let unit = addr.unit_keys.into_iter().map(|k| (k, Kind::Address, "the same unit"));
                    let building =
                        addr.building_keys.into_iter().map(|k| (k, Kind::AddressBuilding, "the same building"));
                    for (k, kind, what) in unit.chain(building) {
                        probes.push(Probe {
                            field: "addresses",
                            input: text.clone(),
                            normalized: k,
                            rules: vec![
                                "house number, street without its type or direction, postal code or city",
                                what,
                            ],
                            kind,
                            key: KeyKind::Address,
                            penalty: 0.0,
                            origin: ("addresses", i),
                        });
                    }
                }
                Err(err) => warnings.push(Warning { field: "addresses", index: i, reason: err.to_string() }),
            }
        }
        for (i, d) in a.id_documents.iter().enumerate() {
            let Some(key) = opts.id_document_key.as_deref() else {
                warnings.push(Warning {
                    field: "id_documents",
                    index: i,
                    reason: "identity documents are compared with the ISAC's key: screen against the server or the local store".into(),
                });
                continue;
            };
            match d.document() {
                Ok(doc) => probes.push(Probe {
                    field: "id_documents",
                    input: d.masked(),
                    // The lookup key, and all the explanation shows of the number.
                    normalized: doc.hmac(key),
                    rules: vec!["type, country and number normalised, then hashed with the ISAC's key"],
                    kind: Kind::IdDocument,
                    key: KeyKind::IdDocument,
                    penalty: 0.0,
                    origin: ("id_documents", i),
                }),
                Err(err) => warnings.push(Warning { field: "id_documents", index: i, reason: err.to_string() }),
            }
        }
        for (i, v) in a.ips.iter().enumerate() {
            match ip::normalize(v) {
                Ok(n) if n.is_single() => probes.push(Probe {
                    field: "ips",
                    input: v.clone(),
                    normalized: n.canonical(),
                    rules: Vec::new(),
                    kind: Kind::Ip,
                    key: KeyKind::Ip,
                    penalty: 0.0,
                    origin: ("ips", i),
                }),
                Ok(_) => warnings.push(Warning {
                    field: "ips",
                    index: i,
                    reason: "a range is not an applicant's address".into(),
                }),
                Err(err) => warnings.push(Warning { field: "ips", index: i, reason: err.to_string() }),
            }
        }
        for (i, n) in a.names.iter().enumerate() {
            match name::normalize(n) {
                Some(f) => probes.push(Probe {
                    field: "names",
                    input: n.clone(),
                    normalized: f.key,
                    rules: f.rules,
                    kind: Kind::Name,
                    key: KeyKind::Name,
                    penalty: 0.0,
                    origin: ("names", i),
                }),
                None => warnings.push(Warning { field: "names", index: i, reason: "no letters in the name".into() }),
            }
        }
        probes
    }
}
