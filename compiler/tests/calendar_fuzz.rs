//! No input makes the calendar parser or the elapse search panic or hang; error spans
//! always lie inside the text; normalized forms read back to themselves.

mod calendar_support;

use bakgen::schedule::CalendarSpec;
use calendar_support::{fixture, mutate, Rng, ALPHABET};
use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;

fn check(text: &str, base: &DateTime<Utc>) {
    for local in [
        Tz::UTC,
        chrono_tz::Europe::Berlin,
        chrono_tz::America::New_York,
    ] {
        match CalendarSpec::parse_in(text, local) {
            Err(err) => {
                assert!(!err.message.is_empty(), "{text:?}");
                assert!(
                    err.span.start <= err.span.end && err.span.end <= text.len(),
                    "{text:?}: {err:?}"
                );
                assert!(
                    text.is_char_boundary(err.span.start) && text.is_char_boundary(err.span.end),
                    "{text:?}"
                );
            }
            Ok(spec) => {
                let normalized = spec.normalized();
                let again = CalendarSpec::parse_in(&normalized, local)
                    .unwrap_or_else(|e| panic!("{text:?} → {normalized:?} does not parse: {e}"));
                assert_eq!(again.normalized(), normalized, "{text:?}");
                let mut last = *base;
                for t in spec.elapses(base, local).take(3) {
                    assert!(t > last, "{text:?}: {t} after {last}");
                    last = t;
                }
            }
        }
    }
}

#[test]
fn random_strings_never_panic() {
    let base = Utc.with_ymd_and_hms(2026, 3, 28, 12, 0, 0).unwrap();
    let mut rng = Rng::new(7);
    for _ in 0..4000 {
        let len = rng.below(32) as usize;
        let text: String = if rng.chance(50) {
            (0..len).map(|_| *rng.pick(ALPHABET)).collect()
        } else {
            let bytes: Vec<u8> = (0..len).map(|_| rng.below(256) as u8).collect();
            String::from_utf8_lossy(&bytes).into_owned()
        };
        check(&text, &base);
    }
}

#[test]
fn mutated_expressions_never_panic() {
    let base = Utc.with_ymd_and_hms(2026, 10, 24, 23, 0, 0).unwrap();
    let mut seeds = fixture("edge_cases.txt");
    seeds.extend(fixture("dst.txt"));
    let mut rng = Rng::new(11);
    for _ in 0..4000 {
        let seed = rng.pick(&seeds).clone();
        check(&mutate(&mut rng, &seed), &base);
    }
}

#[test]
fn extreme_inputs_are_refused_or_computed() {
    let base = Utc.with_ymd_and_hms(2199, 12, 31, 23, 59, 59).unwrap();
    for text in [
        "2199-12-31 23:59:59",
        "*-*-* *:*:59.999999",
        "9999999999999999999999:00",
        "@18446744073709551615",
        "@-9223372036854775808",
        "*:*:4294967295",
        "*-*-* 00:00:2147.483647",
        &"1,".repeat(300),
        &format!("{}1 00:00", "1,".repeat(240)),
        "\0daily",
    ] {
        check(text, &base);
        check(text, &Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 0).unwrap());
    }
    let far = DateTime::<Utc>::MAX_UTC;
    assert_eq!(
        CalendarSpec::parse("minutely")
            .unwrap()
            .next_elapse(&far, Tz::UTC),
        None
    );
    let early = DateTime::<Utc>::MIN_UTC;
    let _ = CalendarSpec::parse("minutely")
        .unwrap()
        .next_elapse(&early, Tz::UTC);
}
