//! Detokenisation of Penn-Treebank-style token streams (Brown, VitaminC) back into ordinary
//! prose, so the LM sees `said, "no evidence"` rather than `said , `` no evidence ''`.

/// How a token joins its neighbours.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Glue {
    /// Spaces on both sides.
    Free,
    /// No space before (closing punctuation).
    Left,
    /// No space after (opening punctuation).
    Right,
}

/// Joins tokens with spaces, except around punctuation that attaches to a neighbour.
pub(crate) fn detokenize<'a>(tokens: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::new();
    let mut glue_next = false; // the previous token was opening punctuation
    let mut single_quote_open = false; // `'` alone is used both to open and to close
    for token in tokens {
        let (text, glue) = match token {
            "``" => ("\"", Glue::Right),
            "''" => ("\"", Glue::Left),
            "'" => {
                single_quote_open = !single_quote_open;
                ("'", if single_quote_open { Glue::Right } else { Glue::Left })
            }
            "," | "." | ";" | ":" | "!" | "?" | ")" | "]" | "}" | "%" | "..." => {
                (token, Glue::Left)
            }
            "(" | "[" | "{" | "$" | "#" => (token, Glue::Right),
            _ if is_clitic(token) => (token, Glue::Left),
            _ => (token, Glue::Free),
        };
        // `Jr./np ./.`: the abbreviation's period already ends the sentence.
        if token == "." && out.ends_with('.') {
            continue;
        }
        if !out.is_empty() && glue != Glue::Left && !glue_next {
            out.push(' ');
        }
        out.push_str(text);
        glue_next = glue == Glue::Right;
    }
    out
}

/// Split-off contractions and possessives (`'s`, `n't`, `'ll`) that belong to the word before.
fn is_clitic(token: &str) -> bool {
    let lower = token.to_ascii_lowercase();
    matches!(lower.as_str(), "'s" | "'re" | "'ll" | "'d" | "'ve" | "'m" | "n't")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detok(s: &str) -> String {
        detokenize(s.split_whitespace())
    }

    #[test]
    fn attaches_punctuation_and_quotes() {
        assert_eq!(
            detok("the jury said , `` no evidence '' was found ( in 1961 ) ."),
            "the jury said, \"no evidence\" was found (in 1961)."
        );
    }

    #[test]
    fn attaches_clitics_money_and_percent() {
        assert_eq!(detok("it does n't cost $ 5 , Bob 's 50 %"), "it doesn't cost $5, Bob's 50%");
        assert_eq!(detok("won by Ivan Allen Jr. ."), "won by Ivan Allen Jr.");
    }

    #[test]
    fn single_quotes_alternate() {
        assert_eq!(detok("he said ' yes ' ."), "he said 'yes'.");
    }
}
