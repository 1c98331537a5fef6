//! Mutated policies never panic the checker, and every span it reports lies inside its file
//! on character boundaries. A fixed seed keeps the run reproducible.

use bakgen::diagnostic::{render, to_json, Style};
use bakgen::ops::check::check;
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
fn mutated_policies_never_panic_and_spans_stay_inside() {
    let seeds = seeds();
    let mut rng = Rng(0x5eed_bacc_0123_4567);
    let rounds = 3000;
    let mut with_errors = 0;
    for round in 0..rounds {
        let seed = &seeds[rng.below(seeds.len())];
        let text = mutate(&mut rng, seed);
        let mut set = SourceSet::default();
        set.add(SourceFile::new("fuzz.kdl", text.clone()));
        let checked = check(set);
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
