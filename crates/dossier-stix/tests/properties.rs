//! Property tests for timestamps, ids and the streaming splitter.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a panic is a failure report

use dossier_stix::id::deterministic_sco_id;
use dossier_stix::split::{Limits, Splitter, split_all};
use dossier_stix::{StixId, Timestamp};
use proptest::prelude::*;
use serde_json::json;

fn timestamp() -> impl Strategy<Value = (String, i64)> {
    (1970i64..2200, 1i64..=12, 1i64..=28, 0i64..24, 0i64..60, 0i64..60, 0u32..1_000_000, 0usize..7).prop_map(
        |(y, mo, d, h, mi, s, us, digits)| {
            let frac = format!("{us:06}");
            let text = if digits == 0 {
                format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
            } else {
                format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{}Z", &frac[..digits])
            };
            let kept: i64 =
                if digits == 0 { 0 } else { frac[..digits].parse::<i64>().unwrap() * 10i64.pow(6 - digits as u32) };
            (text, kept)
        },
    )
}

proptest! {
    #[test]
    fn timestamps_keep_their_text_and_order_like_instants((a, _) in timestamp(), (b, _) in timestamp()) {
        let ta = Timestamp::parse(&a).unwrap();
        let tb = Timestamp::parse(&b).unwrap();
        prop_assert_eq!(ta.as_str(), a.as_str());
        prop_assert_eq!(ta.cmp(&tb), ta.unix_micros().cmp(&tb.unix_micros()));
    }

    #[test]
    fn micros_round_trip_through_text(micros in 0i64..7_258_118_400_000_000) {
        let t = Timestamp::from_unix_micros(micros);
        prop_assert_eq!(Timestamp::parse(t.as_str()).unwrap().unix_micros(), micros);
    }

    #[test]
    fn timestamp_parsing_never_panics(s in "\\PC{0,40}") {
        let _ = Timestamp::parse(&s);
    }

    #[test]
    fn sco_ids_depend_only_on_contributing_properties(value in "\\PC{1,60}", name in "\\PC{0,20}") {
        let a = json!({"type": "email-addr", "value": value, "display_name": name});
        let b = json!({"display_name": "other", "value": value, "type": "email-addr"});
        let ia = deterministic_sco_id("email-addr", a.as_object().unwrap()).unwrap();
        let ib = deterministic_sco_id("email-addr", b.as_object().unwrap()).unwrap();
        prop_assert_eq!(&ia, &ib);
        prop_assert!(StixId::parse(ia.as_str()).is_ok());
        let c = json!({"type": "email-addr", "value": format!("{value}x")});
        prop_assert_ne!(ia, deterministic_sco_id("email-addr", c.as_object().unwrap()).unwrap());
    }

    #[test]
    fn splitter_never_panics_and_chunking_does_not_matter(input in proptest::collection::vec(any::<u8>(), 0..400), cut in 0usize..400) {
        let limits = Limits { max_object_bytes: 128, max_depth: 8 };
        let whole = split_all(&input, limits);
        let mut s = Splitter::new(limits);
        let mut out = Vec::new();
        let cut = cut.min(input.len());
        let r1 = s.feed(&input[..cut], &mut |o| out.push(o.bytes));
        let r2 = if r1.is_ok() { s.feed(&input[cut..], &mut |o| out.push(o.bytes)) } else { Ok(()) };
        let r3 = if r1.is_ok() && r2.is_ok() { s.finish() } else { Ok(()) };
        match whole {
            Ok(objs) => {
                prop_assert!(r1.is_ok() && r2.is_ok() && r3.is_ok());
                prop_assert_eq!(objs.into_iter().map(|o| o.bytes).collect::<Vec<_>>(), out);
            }
            Err(_) => prop_assert!(r1.is_err() || r2.is_err() || r3.is_err()),
        }
    }

    #[test]
    fn splitter_recovers_every_object_of_a_bundle(values in proptest::collection::vec("[a-z \\\\\"{}\\[\\]]{0,12}", 0..20)) {
        let objects: Vec<String> = values.iter().map(|v| json!({"type": "x-t", "v": v, "n": [1, {"k": v}]}).to_string()).collect();
        let bundle = format!("{{\"type\":\"bundle\",\"id\":\"bundle--1\",\"objects\":[{}]}}", objects.join(" ,\n "));
        let got: Vec<String> = split_all(bundle.as_bytes(), Limits::default()).unwrap().into_iter().map(|o| String::from_utf8(o.bytes).unwrap()).collect();
        prop_assert_eq!(got, objects);
    }
}
