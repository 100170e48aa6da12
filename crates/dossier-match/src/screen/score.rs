//! Evidence weights as log10 likelihood ratios, and the decision rule.
//!
//! A weight is `log10( P(the applicant's value agrees with the stored one | the applicant is
//! this actor) / P(it agrees | the applicant is innocent) )`. The numerator is of order one
//! for every kind (operatives reuse their team's identifiers; that is the premise), so a
//! weight is essentially minus the log of how often an innocent applicant would present the
//! very same value:
//!
//! The weight of each kind, and why, is in [`crate::kinds::EVIDENCE`].
//!
//! Two corrections keep weights honest on real data: a value tied to `n` different actors
//! is common infrastructure (a VPN exit, an exchange wallet, a popular name), so its weight
//! drops by `log10 n`; and a tie asserted with STIX `confidence` c (0–100) is only true with
//! probability c/100, which multiplies the likelihood ratio by about c/100.
//!
//! The prior odds that a screened applicant is an operative are 1:1000. A candidate is a
//! `match` when its posterior reaches [`MATCH_POSTERIOR`] *and* it has at least one strong
//! (identifier) piece of evidence — names, IPs and resumes alone never make a match; it is
//! `review` from [`REVIEW_POSTERIOR`]; otherwise `clear`.

use super::Decision;

/// The weight of an IP address tied to exactly one actor: a team's own residential address
/// (a laptop farm), not a VPN exit or a proxy shared by many. A residential address stays
/// with one household for weeks to months; that an innocent applicant presents the very
/// address a team used is of order 1e-2 at worst (re-assignment within an ISP), so 2.0.
pub const ONE_TEAM_IP: f64 = 2.0;

/// How steeply a resume loses weight with the number `n` of actors whose resumes it
/// near-duplicates: `TEMPLATE_DISCOUNT × log10 n`. Twice the discount of other values: a
/// document close to several teams' resumes is most likely a template published on the
/// web, which innocent applicants use as much as operatives (measured: with the plain
/// `log10 n`, one innocent in ten using a public template was sent to review in a
/// 150-actor store).
pub const TEMPLATE_DISCOUNT: f64 = 2.0;

/// The shingle Jaccard similarity from which two resumes are near-duplicates (one copied
/// from the other or from a common template) rather than texts sharing stock phrases.
pub const NEAR_DUPLICATE: f64 = 0.5;

/// log10 prior odds that a screened applicant is an operative, by default (1:1000): the
/// share of operatives among the people a member screens. An ISAC sets its own with
/// `--operative-share` (see [`prior_log_odds`]); a candidate's posterior is these odds
/// times the likelihood ratio of its evidence.
pub const PRIOR_LOG_ODDS: f64 = -3.0;

/// The log10 prior odds for a share `p` (0 < p < 1) of operatives among those screened.
pub fn prior_log_odds(p: f64) -> f64 {
    let p = p.clamp(1e-9, 1.0 - 1e-9);
    (p / (1.0 - p)).log10()
}
/// Posterior from which a candidate with strong evidence is a `match`.
pub const MATCH_POSTERIOR: f64 = 0.95;
/// Posterior from which a candidate is `review`: one chance in five that the applicant is
/// this actor's operative is worth an analyst's look (the scores are meant as honest
/// probabilities, so this is the share of reviews that turn out to be operatives, at least).
pub const REVIEW_POSTERIOR: f64 = 0.2;

/// The kinds of evidence. Their weights, whether they can make a match and which are
/// correlated are in one table, [`crate::kinds::EVIDENCE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Email,
    Document,
    AccountId,
    AccountLogin,
    Wallet,
    Phone,
    PhoneCheap,
    Resume,
    Ip,
    IpRange,
    Name,
    NameFuzzy,
    Iban,
    BankNational,
    BankNumber,
    Website,
    Photo,
    IdDocument,
    Address,
    AddressBuilding,
}

impl Kind {
    /// The base weight (log10 likelihood ratio).
    pub fn weight(self) -> f64 {
        crate::kinds::evidence(self).weight
    }

    /// Identifiers: only these can make a match.
    pub fn is_strong(self) -> bool {
        crate::kinds::evidence(self).strong
    }

    /// The class of correlated kinds of which only the best piece counts per candidate
    /// (two spellings of a name, two IPs of one VPN).
    pub fn class(self) -> Option<u8> {
        crate::kinds::evidence(self).class
    }
}

/// Subscriber numbers in use per country calling code (orders of magnitude from the
/// national regulators' published counts, mobile plus fixed): the space an innocent
/// applicant's number is drawn from. The last entry stands for every other code.
const PHONE_SPACES: &[(&str, f64)] = &[
    ("380", 5e7),
    ("1", 4.5e8),
    ("7", 2.5e8),
    ("31", 2.5e7),
    ("33", 8e7),
    ("40", 2.5e7),
    ("44", 1e8),
    ("48", 5e7),
    ("49", 1.5e8),
    ("61", 3.5e7),
    ("63", 1.5e8),
    ("81", 2e8),
    ("82", 7e7),
    ("84", 1.3e8),
    ("86", 1.7e9),
    ("91", 1.2e9),
    ("", 5e7),
];

/// Buckets of [`phone_bucket`].
pub const PHONE_BUCKETS: usize = PHONE_SPACES.len();

/// The calling-code bucket of an E.164 number.
pub fn phone_bucket(e164: &str) -> usize {
    let digits = e164.trim_start_matches('+');
    PHONE_SPACES.iter().position(|(cc, _)| digits.starts_with(cc)).unwrap_or(PHONE_SPACES.len() - 1)
}

/// The weight of a phone agreement when `stored` numbers of the same calling code are in
/// the index: an innocent applicant's number is one of them with probability about
/// `stored / space`, so the weight is at most `log10(space / stored)` — a large database
/// of numbers from one country makes a coincidence likelier. Capped by the kind's weight.
pub fn phone_weight(kind: Kind, e164: &str, stored: u32) -> f64 {
    let space = PHONE_SPACES[phone_bucket(e164)].1;
    kind.weight().min((space / f64::from(stored.max(1))).log10())
}

/// How often an operative presents, as his own, one of the names his team's personas carry
/// in the data (folded: spelling, order and romanisation aside). An assumption, not a
/// measurement — no member knows how many of the operatives it screened it missed; it
/// only shifts every name's weight by its log (−0.3).
pub const NAME_REUSE: f64 = 0.5;

/// How often an operative who gives a kind of identifier (an e-mail address, a phone
/// number, a platform account, a wallet, …) gives one that his team's data holds, rather
/// than a fresh one. An assumption like [`NAME_REUSE`] — the two evaluation generators have
/// 6% and 13% of operatives reuse none of their team's identifiers, the world's share is
/// unknown — taken as even: an identifier the applicant gave that agrees with nothing of a
/// candidate is evidence against it (see [`absence_weight`]).
pub const IDENTIFIER_REUSE: f64 = 0.5;

/// The weight of `fields` kinds of identifier that an applicant gave and that agree with
/// nothing of a candidate found by weak evidence alone (names, IPs, resumes, addresses,
/// photos): an operative of that actor gives a fresh value of each kind with probability
/// `1 − IDENTIFIER_REUSE`, an innocent applicant almost surely, so each weighs
/// `log10(1 − IDENTIFIER_REUSE)` (−0.3). Without it a name alone, or a building alone, was
/// scored as if every innocent with a persona's name had given nothing else: in the
/// evaluations, of the applicants scored 0.5–0.8 (at each set's share of operatives) at most
/// about 1% were operatives, not the half their scores claimed. A candidate with an
/// identifier agreement is not weighed down this way: an operative who reuses one of his
/// team's identifiers often makes the others fresh, and counting absences against such
/// candidates too was measured to turn matches into reviews (match recall 0.938 → 0.903 on
/// one evaluation set) for two fewer phone coincidences matched (of 199,790 innocents).
pub fn absence_weight(fields: usize) -> f64 {
    fields as f64 * (1.0 - IDENTIFIER_REUSE).log10()
}

/// How common a name part is taken to be before any names are seen: one person in a
/// thousand, about the share of a family name ranked a hundredth in its country (the
/// hundredth Korean family name is rarer, the hundredth US one about as common).
pub const NAME_PART_SHARE: f64 = 1e-3;

/// How many names that prior share weighs against the names in the data: with a hundred
/// names or fewer the prior dominates; from thousands on, the data.
pub const NAME_PART_PSEUDO: f64 = 100.0;

/// How many distinct names, each about as common, lie within a fuzzy name match
/// (Jaro-Winkler 0.9) of a given name: a variant is that much likelier a coincidence than
/// the name itself. An order of magnitude (spellings, transliterations, one letter off).
pub const FUZZY_SPELLINGS: f64 = 10.0;

/// The weight of a name that agrees with a stored persona's, when `holders` of the
/// individuals it was compared with would carry it by chance (their number times how common
/// the name is, see `Index::name_holders_by_chance`). An operative presents one of his
/// team's names with probability [`NAME_REUSE`]: among `N` stored names, the one of this
/// actor's persona with probability `NAME_REUSE · n/N` if `n` actors hold it; an innocent
/// carries it with its frequency `f` in the population; so the odds that the applicant is
/// an operative of one of the `n` grow by `NAME_REUSE · n / (N·f)`, and those that he is
/// this one by `NAME_REUSE / (N·f)`: `N·f` is how many stored personas would carry the
/// name by chance. A common name in a large store weighs nothing; a rare one at most the
/// kind's weight (1.5), never a match.
pub fn name_weight(holders: f64) -> f64 {
    (NAME_REUSE.log10() - holders.max(1e-9).log10()).min(Kind::Name.weight())
}

/// The weight of a resume whose estimated shingle Jaccard similarity is `s`: nothing below
/// 0.3 (stock phrases), rising linearly to 2.0 at 0.5 and to the full 4.0 at 0.9.
pub fn resume_weight(s: f64) -> f64 {
    if s < 0.3 {
        0.0
    } else if s < 0.5 {
        (s - 0.3) / 0.2 * 2.0
    } else {
        (2.0 + (s - 0.5) / 0.4 * 2.0).min(Kind::Resume.weight())
    }
}

/// How much a tie asserted with `confidence` (0–100) lowers a weight: log10(c/100), with
/// unknown confidence counting as certain and 0 as 1.
pub fn confidence_penalty(confidence: Option<u8>) -> f64 {
    match confidence {
        Some(c) => (f64::from(c.clamp(1, 100)) / 100.0).log10(),
        None => 0.0,
    }
}

/// The posterior probability for summed weights `llr` under the default prior.
pub fn posterior(llr: f64) -> f64 {
    posterior_with(llr, PRIOR_LOG_ODDS)
}

/// The posterior probability for summed weights `llr` under prior log10 odds `prior`.
pub fn posterior_with(llr: f64, prior: f64) -> f64 {
    1.0 / (1.0 + 10f64.powf(-(prior + llr)))
}

/// The decision rule, with thresholds that an evaluation may sweep.
pub fn decide(posterior: f64, strong: bool, match_at: f64, review_at: f64) -> Decision {
    if strong && posterior >= match_at {
        Decision::Match
    } else if posterior >= review_at {
        Decision::Review
    } else {
        Decision::Clear
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_strong_identifier_is_a_match_and_names_alone_never_are() {
        let p = posterior(Kind::Email.weight());
        assert!(p > 0.99);
        assert_eq!(decide(p, true, MATCH_POSTERIOR, REVIEW_POSTERIOR), Decision::Match);
        // A common name plus a shared IP stays clear.
        let p = posterior(Kind::Name.weight() + Kind::Ip.weight() - 0.3);
        assert_eq!(decide(p, false, MATCH_POSTERIOR, REVIEW_POSTERIOR), Decision::Clear);
        // Even overwhelming weak evidence is at most review.
        assert_eq!(decide(posterior(20.0), false, MATCH_POSTERIOR, REVIEW_POSTERIOR), Decision::Review);
        // A near-identical resume alone asks for review.
        let p = posterior(resume_weight(0.9));
        assert_eq!(decide(p, false, MATCH_POSTERIOR, REVIEW_POSTERIOR), Decision::Review);
        assert_eq!(resume_weight(0.2), 0.0);
    }

    #[test]
    fn a_name_weighs_less_the_more_would_carry_it_and_never_more_than_its_kind() {
        let mut last = f64::INFINITY;
        for holders in [1e-9, 1e-6, 1e-3, 0.01, 0.1, 0.5, 1.0, 10.0, 1e3, 1e6] {
            let w = name_weight(holders);
            assert!(w <= Kind::Name.weight() && w <= last, "{holders}: {w}");
            last = w;
        }
        assert_eq!(name_weight(1e-9), Kind::Name.weight());
        // As many chance holders as NAME_REUSE: no evidence either way.
        assert!(name_weight(NAME_REUSE).abs() < 1e-12);
        assert!(name_weight(1.0) < 0.0);
    }

    #[test]
    fn each_fresh_identifier_weighs_against_a_weak_candidate() {
        assert_eq!(absence_weight(0), 0.0);
        assert!((absence_weight(1) + std::f64::consts::LOG10_2).abs() < 1e-12);
        assert!((absence_weight(3) - 3.0 * absence_weight(1)).abs() < 1e-12);
        // A persona's rare name alone, beside an e-mail and a phone that are nobody's,
        // is not worth a review; a near-identical resume beside them still is.
        let p = posterior(Kind::Name.weight() + absence_weight(2));
        assert_eq!(decide(p, false, MATCH_POSTERIOR, REVIEW_POSTERIOR), Decision::Clear);
        let p = posterior(resume_weight(0.9) + absence_weight(2));
        assert_eq!(decide(p, false, MATCH_POSTERIOR, REVIEW_POSTERIOR), Decision::Review);
    }

    #[test]
    fn weights_fall_with_confidence() {
        assert_eq!(confidence_penalty(None), 0.0);
        assert!((confidence_penalty(Some(50)) + 0.301).abs() < 0.001);
        assert!(confidence_penalty(Some(0)).is_finite());
    }
}
