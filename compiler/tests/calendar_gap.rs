//! The longest gap between runs (`late-after-seconds`) in closed form agrees with the
//! search over elapses, its oracle, for every expression the closed form takes; and it
//! takes the common fixed-period ones.

mod calendar_support;

use bakgen::schedule::gap::{longest_gap, longest_gap_searched, SEARCHED_ELAPSES};
use bakgen::schedule::CalendarSpec;
use calendar_support::{generate, Rng};
use chrono_tz::Tz;

/// One field of a time of day: `*`, a value, a list, a range, a repetition.
fn time_field(rng: &mut Rng, hi: i64) -> String {
    let v = |rng: &mut Rng| rng.range(0, hi);
    match rng.below(7) {
        0 => "*".to_owned(),
        1 => format!("{:02}", v(rng)),
        2 => {
            let (a, b) = (v(rng), v(rng));
            format!("{:02},{:02}", a.min(b), a.max(b))
        }
        3 => {
            let a = v(rng);
            format!("{a:02}..{:02}", rng.range(a, hi))
        }
        4 => format!("{:02}/{}", v(rng), 1 + rng.below(hi as u64 / 2 + 1)),
        5 => {
            let a = v(rng);
            format!(
                "{a:02}..{:02}/{}",
                rng.range(a, hi),
                1 + rng.below(hi as u64 / 3 + 1)
            )
        }
        _ => format!("{:02},{:02}/{}", v(rng), v(rng), 2 + rng.below(20)),
    }
}

/// A fixed-period expression: optional weekdays, any date, a time of day (sometimes with
/// fractional seconds), sometimes ` UTC`.
fn periodic(rng: &mut Rng) -> String {
    const WEEKDAYS: &[&str] = &["", "Mon ", "Mon..Fri ", "Sat,Sun ", "Tue,Thu..Sat ", "Sun "];
    let second = match rng.below(4) {
        0 => String::new(),
        1 => format!(":{}.{}", rng.below(60), rng.below(1000)),
        2 => format!(":{}.5/0.25", rng.below(59)),
        _ => format!(":{}", time_field(rng, 60)),
    };
    format!(
        "{}*-*-* {}:{}{second}{}",
        rng.pick(WEEKDAYS),
        time_field(rng, 24),
        time_field(rng, 60),
        if rng.chance(20) { " UTC" } else { "" }
    )
}

#[test]
fn the_closed_form_agrees_with_the_search_over_many_expressions() {
    let mut rng = Rng::new(0x6A9);
    let (mut closed, mut total) = (0, 0);
    for i in 0..2_400 {
        let text = if i % 3 == 0 {
            generate(&mut rng)
        } else {
            periodic(&mut rng)
        };
        let Ok(spec) = CalendarSpec::parse_in(&text, Tz::UTC) else {
            continue;
        };
        total += 1;
        let Some(gap) = spec.fixed_period_gap(SEARCHED_ELAPSES) else {
            continue;
        };
        closed += 1;
        let searched = longest_gap_searched(&spec);
        assert_eq!(gap, searched, "{text:?} (normalized {spec})");
        assert_eq!(longest_gap(&spec), gap, "{text:?}");
    }
    eprintln!("{closed} of {total} valid expressions in closed form");
    assert!(total > 1_200, "only {total} valid expressions");
    assert!(closed > 800, "only {closed} of {total} in closed form");
}

#[test]
fn common_schedules_are_in_closed_form() {
    for (text, gap) in [
        ("daily", 86_400),
        ("hourly", 3_600),
        ("*-*-* 02:30", 86_400),
        ("*:0/15", 900),
        ("*-*-* 00/4:15", 14_400),
        ("Mon..Fri *-*-* 12:30", 3 * 86_400),
        ("Sun *-*-* 04:00", 7 * 86_400),
        ("weekly", 7 * 86_400),
        ("*-*-* 01,23:00", 22 * 3_600),
        ("*:*:0/20", 20),
    ] {
        let spec = CalendarSpec::parse_in(text, Tz::UTC).expect(text);
        assert_eq!(spec.fixed_period_gap(SEARCHED_ELAPSES), Some(gap), "{text}");
        assert_eq!(longest_gap_searched(&spec), gap, "{text}");
    }
}

#[test]
fn dates_zones_and_crowded_periods_fall_back_to_the_search() {
    for text in [
        "monthly",
        "*-*-01,15 02:00",
        "*-02-29 00:00",
        "*-*~01 00:00",
        "*-*-* 02:30 Europe/Berlin",
        // 86,400 elapses a day: more than the search looks at.
        "*:*:*",
    ] {
        let spec = CalendarSpec::parse_in(text, Tz::UTC).expect(text);
        assert_eq!(spec.fixed_period_gap(SEARCHED_ELAPSES), None, "{text}");
        assert_eq!(longest_gap(&spec), longest_gap_searched(&spec), "{text}");
    }
}
