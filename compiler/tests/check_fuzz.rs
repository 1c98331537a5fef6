//! Mutated policies never panic the checker, and every span it reports lies inside its file
//! on character boundaries. A fixed seed keeps the run reproducible.
//!
//! The attack: at least 20,000 hostile inputs per run (deep nesting, long lines, errors
//! past column 65,535, unclosed blocks, runs of one token, random bytes, many small
//! problems, mutated policies)
//! must each check in under 2 s without a crash, with rendered output (text and JSON) of
//! at most 100 bytes per input byte plus [`OUTPUT_SLACK`]. `BAKGEN_FUZZ_SEED` (decimal or
//! 0x-hex) and `BAKGEN_FUZZ_INPUTS` run it with another seed or longer; a failure names the
//! seed and input number that reproduce it.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use bakgen::diagnostic::{render, to_json, Style};
use bakgen::ops::check::{check, Checked};
use bakgen::source::{SourceFile, SourceSet};

/// xorshift64*: enough randomness for mutation, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const TOKENS: &[&str] = &[
    "{",
    "}",
    "\"",
    ";",
    "=",
    "#true",
    "#null",
    "/",
    "/-",
    "//",
    "-",
    "0",
    "99999999999999999999999",
    "é",
    "\n",
    " ",
    "job",
    "host",
    "template",
    "template=\"a\"",
    "source",
    "\"/\"",
    "\"\"",
    "to",
    "schedule",
    "retention",
    "keep-daily=0",
    "keep-within=\"1x\"",
    "jitter=\"\"",
    "\"3D12h\"",
    "lvm-snapshot",
    "from",
    "password",
    "secret",
    "secret=\"x\"",
    "r#\"raw\"#",
    "\"\"\"\nmulti\n\"\"\"",
    "\\",
    "\u{0}",
    "1.5",
    "0x1F",
];

fn seeds() -> Vec<String> {
    let mut texts = Vec::new();
    for dir in ["../policies", "tests/fixtures/invalid"] {
        let mut paths: Vec<_> = std::fs::read_dir(dir)
            .expect("seed folder")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "kdl"))
            .collect();
        paths.sort();
        texts.extend(
            paths
                .iter()
                .map(|p| std::fs::read_to_string(p).expect("utf-8 seed")),
        );
    }
    texts
}

fn mutate(rng: &mut Rng, text: &str) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for _ in 0..=rng.below(4) {
        let at = rng.below(chars.len() + 1);
        match rng.below(4) {
            0 if !chars.is_empty() => {
                let len = rng.below(8).min(chars.len() - at.min(chars.len()));
                chars.drain(at.min(chars.len())..at.min(chars.len()) + len);
            }
            1 => {
                let token = TOKENS[rng.below(TOKENS.len())];
                for (i, c) in token.chars().enumerate() {
                    chars.insert((at + i).min(chars.len()), c);
                }
            }
            2 if !chars.is_empty() => {
                let from = rng.below(chars.len());
                let len = rng.below(40).min(chars.len() - from);
                let copy: Vec<char> = chars[from..from + len].to_vec();
                for (i, c) in copy.into_iter().enumerate() {
                    chars.insert((at + i).min(chars.len()), c);
                }
            }
            _ if !chars.is_empty() => {
                let i = rng.below(chars.len());
                chars[i] = TOKENS[rng.below(TOKENS.len())]
                    .chars()
                    .next()
                    .unwrap_or('x');
            }
            _ => {}
        }
    }
    chars.into_iter().collect()
}

#[test]
#[ignore = "tier: system — long: a fuzz loop over mutated policies; run by scripts/test"]
fn mutated_policies_never_panic_and_spans_stay_inside() {
    let seeds = seeds();
    let mut rng = Rng(0x5eed_bacc_0123_4567);
    let rounds = 3000;
    let mut with_errors = 0;
    for round in 0..rounds {
        let seed = &seeds[rng.below(seeds.len())];
        let text = mutate(&mut rng, seed);
        let checked = check_text(&text);
        assert_spans_inside(&checked, &text, round);
        if checked.errors() > 0 {
            with_errors += 1;
        }
        // Rendering must not panic either.
        let _ = render(&checked.diagnostics, &checked.sources, Style::Plain);
        let _ = to_json(&checked.diagnostics, &checked.sources);
    }
    // The mutations must actually break policies, or this test proves nothing.
    assert!(
        with_errors > rounds / 3,
        "only {with_errors} of {rounds} mutants had errors"
    );
}

fn check_text(text: &str) -> Checked {
    let mut set = SourceSet::default();
    set.add(SourceFile::new("fuzz.kdl", text.to_owned()));
    check(set)
}

fn assert_spans_inside(checked: &Checked, text: &str, round: usize) {
    for d in &checked.diagnostics {
        for label in std::iter::once(&d.primary).chain(&d.secondary) {
            let r = &label.span.range;
            assert!(
                r.start <= r.end && r.end <= text.len(),
                "round {round}: span {r:?} outside a {}-byte file for {}\n{text}",
                text.len(),
                d.code
            );
            assert!(
                text.is_char_boundary(r.start) && text.is_char_boundary(r.end),
                "round {round}: span {r:?} splits a character ({})\n{text}",
                d.code
            );
        }
    }
}

/// Output allowed beyond 100 bytes per input byte: a tiny or empty input still gets its
/// diagnostics (a job missing four settings is 20 bytes in and 2 KiB out).
const OUTPUT_SLACK: usize = 16 * 1024;
const OUTPUT_PER_INPUT_BYTE: usize = 100;
const MAX_TIME: Duration = Duration::from_secs(2);

/// One generated input and the generator that made it, for the failure message.
struct Case {
    kind: &'static str,
    text: String,
}

/// A size from 1 to `max`, spread evenly over orders of magnitude so that both small and
/// huge inputs come up.
fn log_size(rng: &mut Rng, max: usize) -> usize {
    let bits = usize::BITS - max.leading_zeros();
    let top = 1usize << rng.below(bits as usize + 1);
    (1 + rng.below(top)).min(max)
}

fn repeat(rng: &mut Rng, options: &[&str], max: usize) -> String {
    options[rng.below(options.len())].repeat(log_size(rng, max))
}

/// Runs of one token, where a recursive parser recurses once per token.
const HOSTILE_RUNS: &[&str] = &[
    "}", "=", ")", "(", "{", "/-", "/-\n", "/*", "*/", "*", "/", "#\"", "\"", ";", "a=", "x=1",
    "1x ", "a {}", "{}", "\\", "#", "r#\"", "\"\"\"", "(t)", "a /-", "\u{feff}", "\t", "é",
];

fn deep_nesting(rng: &mut Rng) -> Case {
    let open = [
        "a {",
        "a{",
        "a { b 1; ",
        "/- {",
        "(t)a {",
        "\"a\" {",
        "{",
        "a {\n",
    ][rng.below(8)];
    let depth = log_size(rng, 5000);
    let mut text = open.repeat(depth);
    if rng.below(2) == 0 {
        text.push_str(&"}\n".repeat(depth));
    }
    // A KDL 1.0 slip first sends the file to the KDL 1.0 parser too.
    if rng.below(3) == 0 {
        text.insert_str(0, "a true\n");
    }
    Case {
        kind: "deep nesting",
        text,
    }
}

fn nested_comments(rng: &mut Rng) -> Case {
    let text = match rng.below(3) {
        0 => format!("a /*{}*/ b", "/*".repeat(log_size(rng, 5000))),
        1 => format!("/*{}*/", repeat(rng, &["*", "/", "x/", "* "], 30_000)),
        _ => format!("a{}", "/* x */".repeat(log_size(rng, 10_000))),
    };
    Case {
        kind: "comments",
        text,
    }
}

fn long_line(rng: &mut Rng) -> Case {
    let len = log_size(rng, 40_000);
    let text = match rng.below(4) {
        0 => format!("host \"{}\" {{ job \"j\" {{ }} }}", "h".repeat(len)),
        1 => format!("destination \"d\" {{ path \"/{}\" }}", "x/".repeat(len / 2)),
        2 => format!("host \"h\" {{ job \"{}\" }}\n", "é".repeat(len / 2)),
        _ => format!(
            "template \"t\" {{ source {} }}",
            "\"/a\" ".repeat(len / 5 + 1)
        ),
    };
    Case {
        kind: "long line",
        text,
    }
}

/// A diagnostic past column 65,535, where miette's width arithmetic gave out.
fn huge_column(rng: &mut Rng) -> Case {
    let pad = match rng.below(3) {
        0 => " ".repeat(65_536 + rng.below(8_000)),
        1 => "\t".repeat(16_384 + rng.below(4_000)),
        _ => "/* é */".repeat(9_400 + rng.below(1_000)),
    };
    let tail = [
        "bogus 1",
        "source /etc",
        "retention keep-daily=true",
        "}",
        "\"",
        "job",
    ];
    let text = format!(
        "host \"h\" {{ job \"j\" {{{pad}{} }} }}",
        tail[rng.below(tail.len())]
    );
    Case {
        kind: "huge column",
        text,
    }
}

fn unclosed_blocks(rng: &mut Rng, seeds: &[String]) -> Case {
    let blocks = log_size(rng, 1000);
    let mut text = String::new();
    for i in 0..blocks {
        match rng.below(3) {
            0 => text.push_str("a {\n"),
            1 => text.push_str(&format!("host \"h{i}\" {{\n  job \"j\" {{ source \"/\"\n")),
            _ => text.push_str(&format!("x{i} 1 2 {{ \"unclosed\n")),
        }
    }
    if rng.below(2) == 0 {
        let seed = &seeds[rng.below(seeds.len())];
        text.push_str(seed.trim_end().trim_end_matches('}'));
    }
    Case {
        kind: "unclosed blocks",
        text,
    }
}

fn token_run(rng: &mut Rng) -> Case {
    let run = repeat(rng, HOSTILE_RUNS, 20_000);
    let text = match rng.below(4) {
        0 => run,
        1 => format!("a {run}"),
        2 => format!("host \"h\" {{\n{run}\n}}"),
        _ => format!("a \"{run}\" b"),
    };
    Case {
        kind: "token run",
        text,
    }
}

fn random_bytes(rng: &mut Rng) -> Case {
    let len = log_size(rng, 4000);
    let text = if rng.below(2) == 0 {
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        String::from_utf8_lossy(&bytes).into_owned()
    } else {
        const KDL_ISH: &[char] = &[
            'a', 'b', '1', '-', '.', '_', ' ', '\t', '\n', '\r', '{', '}', '(', ')', '=', ';', '"',
            '#', '/', '*', '\\', 'é', '\u{0}', '\u{85}', '\u{2028}', '\u{feff}', '\u{200e}',
        ];
        (0..len)
            .map(|_| KDL_ISH[rng.below(KDL_ISH.len())])
            .collect()
    };
    Case {
        kind: "random bytes",
        text,
    }
}

fn mutated(rng: &mut Rng, seeds: &[String]) -> Case {
    let mut text = seeds[rng.below(seeds.len())].clone();
    for _ in 0..=rng.below(3) {
        text = mutate(rng, &text);
    }
    // Sometimes several policies in one file, so that inputs grow large.
    for _ in 0..rng.below(3) {
        text.push_str(&seeds[rng.below(seeds.len())]);
    }
    Case {
        kind: "mutated policy",
        text,
    }
}

/// Many small policy problems, on many lines or on one: every diagnostic is cheap to draw.
fn many_problems(rng: &mut Rng) -> Case {
    let count = log_size(rng, 2000);
    let sep = if rng.below(2) == 0 { "\n" } else { "; " };
    let node = [
        "host \"h{i}\" {{ job \"j\" }}",
        "job \"j{i}\"",
        "destination \"d{i}\" {{ path \"rel\" }}",
        "host \"h\" {{ job \"j\" {{ source \"/\"; to \"x{i}\"; nice 99 }} }}",
    ][rng.below(4)];
    let text = (0..count)
        .map(|i| {
            node.replace("{i}", &i.to_string())
                .replace("{{", "{")
                .replace("}}", "}")
        })
        .collect::<Vec<_>>()
        .join(sep);
    Case {
        kind: "many problems",
        text,
    }
}

fn generate(rng: &mut Rng, seeds: &[String]) -> Case {
    match rng.below(100) {
        0..=47 => mutated(rng, seeds),
        48..=49 => many_problems(rng),
        50..=59 => token_run(rng),
        60..=67 => random_bytes(rng),
        68..=75 => unclosed_blocks(rng, seeds),
        76..=83 => deep_nesting(rng),
        84..=88 => nested_comments(rng),
        89..=97 => long_line(rng),
        _ => huge_column(rng),
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    let Ok(value) = std::env::var(name) else {
        return default;
    };
    let parsed = match value.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => value.parse(),
    };
    parsed.unwrap_or_else(|_| panic!("{name}={value} is not a number"))
}

/// Checks one input: its largest output, or why it failed.
fn attack(text: &str) -> Result<usize, String> {
    let started = Instant::now();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let checked = check_text(text);
        let rendered = render(&checked.diagnostics, &checked.sources, Style::Plain);
        let json = to_json(&checked.diagnostics, &checked.sources);
        (checked.diagnostics.len(), rendered.len(), json.len())
    }));
    let elapsed = started.elapsed();
    let (diagnostics, rendered, json) = outcome.map_err(|panic| {
        let why = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_default();
        format!("panicked: {why}")
    })?;
    if elapsed > MAX_TIME {
        return Err(format!("took {elapsed:?}"));
    }
    let bound = OUTPUT_PER_INPUT_BYTE * text.len() + OUTPUT_SLACK;
    if rendered > bound || json > bound {
        return Err(format!(
            "{diagnostics} diagnostics rendered to {rendered} bytes of text and {json} of JSON \
             for {} bytes in (bound {bound})",
            text.len()
        ));
    }
    Ok(rendered.max(json))
}

/// What one worker saw: bytes in, and per generator the inputs, time and most slack used.
#[derive(Default)]
struct Tally {
    bytes: usize,
    kinds: BTreeMap<&'static str, (usize, Duration, usize)>,
}

fn run_share(seed: u64, inputs: usize, worker: usize, workers: usize, seeds: &[String]) -> Tally {
    let mut tally = Tally::default();
    for n in (worker..inputs).step_by(workers) {
        // Each input has its own generator, so one input is reproduced without the others.
        let mut rng = Rng(seed ^ (n as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let case = generate(&mut rng, seeds);
        tally.bytes += case.text.len();
        let one = Instant::now();
        let result = attack(&case.text);
        let entry = tally.kinds.entry(case.kind).or_default();
        entry.0 += 1;
        entry.1 += one.elapsed();
        match result {
            Ok(out) => {
                let slack = out.saturating_sub(OUTPUT_PER_INPUT_BYTE * case.text.len());
                entry.2 = entry.2.max(slack);
            }
            Err(why) => {
                let shown: String = case.text.chars().take(300).collect();
                panic!(
                    "seed {seed:#x} input {n} ({}, {} bytes): {why}\nstarts: {shown:?}\n\
                     rerun with BAKGEN_FUZZ_SEED={seed:#x}",
                    case.kind,
                    case.text.len()
                );
            }
        }
    }
    tally
}

#[test]
#[ignore = "tier: system — long: 20,000 hostile inputs, minutes in a debug build; run by scripts/test"]
fn hostile_inputs_never_crash_hang_or_flood() {
    let seed = env_number("BAKGEN_FUZZ_SEED", 0x1203_c0de_5eed_0001);
    let inputs = env_number("BAKGEN_FUZZ_INPUTS", 20_000) as usize;
    eprintln!(
        "hostile inputs: seed {seed:#x}, {inputs} inputs (BAKGEN_FUZZ_SEED, BAKGEN_FUZZ_INPUTS)"
    );
    let seeds = seeds();
    let seeds = &seeds;
    let started = Instant::now();
    // Two workers: the machine CI runs on has two cores.
    let workers = 2;
    let tallies: Vec<Tally> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|w| s.spawn(move || run_share(seed, inputs, w, workers, seeds)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    let mut total = Tally::default();
    for t in tallies {
        total.bytes += t.bytes;
        for (kind, (n, time, slack)) in t.kinds {
            let e = total.kinds.entry(kind).or_default();
            e.0 += n;
            e.1 += time;
            e.2 = e.2.max(slack);
        }
    }
    eprintln!(
        "hostile inputs: {inputs} inputs, {} bytes in {:?}; per generator (inputs, time, most \
         output beyond {OUTPUT_PER_INPUT_BYTE}x): {:?}",
        total.bytes,
        started.elapsed(),
        total.kinds
    );
    assert_eq!(total.kinds.len(), 9, "every generator ran");
}
