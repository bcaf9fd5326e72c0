//! "Did you mean": the closest of the names a thing could have been, for
//! refusals of a mistyped setting, key, provider or actor name.

/// The candidate closest to `word` when it is close enough to be a typo:
/// the same but for case, or at most a third of its letters edited (a swap
/// of two neighbours counts as one edit).
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let word_lower = word.to_lowercase();
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (strsim::osa_distance(&word_lower, &c.to_lowercase()), c))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| c)
}

/// ` (did you mean `X`?)` when a candidate is close, else nothing.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    closest(word, candidates).map(|c| format!(" (did you mean `{c}`?)")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_swapped_or_missing_letter_finds_the_name_meant() {
        assert_eq!(closest("PROT", ["PORT", "ADDRESS"]), Some("PORT"));
        assert_eq!(closest("pth", ["path", "instances"]), Some("path"));
        assert_eq!(closest("port", ["PORT"]), Some("PORT"));
    }

    #[test]
    fn an_unrelated_word_suggests_nothing() {
        assert_eq!(closest("BROKER", ["PORT", "ADDRESS"]), None);
        assert_eq!(did_you_mean("zz", ["PATH"]), "");
    }
}
