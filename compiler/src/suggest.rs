//! "Did you mean …?" for misspelt node and property names.

/// The closest candidate within an edit distance that still reads as a typo.
pub fn did_you_mean<'c>(
    word: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    let limit = (word.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::did_you_mean;

    #[test]
    fn suggests_close_names_only() {
        let known = ["schedule", "retention", "source"];
        assert_eq!(did_you_mean("schedul", known), Some("schedule"));
        assert_eq!(did_you_mean("retnetion", known), Some("retention"));
        assert_eq!(did_you_mean("zzz", known), None);
    }
}
