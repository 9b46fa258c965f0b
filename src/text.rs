//! Client text made safe for fixed-size places and for lines: cutting to a byte budget without
//! splitting a UTF-8 character, and escaping what would break, rewrite or reorder a line.
//!
//! Names and option names come from clients. They go into fixed-size places (a dma-buf name,
//! the metadata region's name field, a memfd name, the failure ring) and into error strings,
//! log lines and the dump, where a newline, a terminal escape or a bidirectional override would
//! let a client write lines that look like the service's own. Every layer uses these two.

use std::fmt;

/// The longest prefix of `text` that is at most `max_bytes` long and ends on a character
/// boundary (so it is valid UTF-8 on its own).
pub fn prefix_within(text: &str, max_bytes: usize) -> &str {
    let mut end = text.len().min(max_bytes);
    // Index 0 is always a boundary, so this stops.
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or_default()
}

/// `text` for a log line, a dump or an error string: see [`Escaped`].
pub fn escaped(text: &str) -> Escaped<'_> {
    Escaped {
        text,
        max_bytes: usize::MAX,
    }
}

/// Client text that displays on one line as what it is: a backslash is doubled, `\n`, `\r`
/// and `\t` are written as those two characters, and every other control character (C0, DEL,
/// C1), the Unicode line and paragraph separators and the bidirectional marks, embeddings,
/// overrides and isolates as `\u{..}`. Everything else, non-ASCII letters included, is kept.
#[derive(Clone, Copy, Debug)]
pub struct Escaped<'a> {
    text: &'a str,
    max_bytes: usize,
}

impl Escaped<'_> {
    /// Shows at most the first `max_bytes` bytes of the text (cut on a character boundary),
    /// followed by how many were left out.
    pub fn within(self, max_bytes: usize) -> Self {
        Escaped { max_bytes, ..self }
    }
}

/// Whether `c` must not reach a line as itself.
fn must_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            // Line and paragraph separators.
            '\u{2028}' | '\u{2029}'
            // Bidirectional marks, embeddings, overrides and isolates.
            | '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = prefix_within(self.text, self.max_bytes);
        for c in shown.chars() {
            match c {
                '\\' => f.write_str("\\\\")?,
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                c if must_escape(c) => write!(f, "\\u{{{:x}}}", u32::from(c))?,
                c => write!(f, "{c}")?,
            }
        }
        let left_out = self.text.len() - shown.len();
        if left_out > 0 {
            write!(f, "... ({left_out} more bytes)")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{escaped, prefix_within};

    #[test]
    fn cuts_before_a_character_that_would_not_fit() {
        assert_eq!(prefix_within("abc", 5), "abc");
        assert_eq!(prefix_within("abc", 2), "ab");
        assert_eq!(prefix_within("abc", 0), "");
        // é is two bytes: three of them do not fit in five.
        assert_eq!(prefix_within("ééé", 5), "éé");
        assert_eq!(prefix_within("ééé", 1), "");
        assert_eq!(prefix_within("a€", 3), "a");
        assert_eq!(prefix_within("a€", 4), "a€");
    }

    #[test]
    fn plain_text_is_unchanged() {
        for text in ["", "camera preview #2", "überschrift 表示 🙂", "a'b\"c`d"] {
            assert_eq!(escaped(text).to_string(), text);
        }
    }

    #[test]
    fn line_breaking_and_reordering_characters_are_escaped() {
        let cases = [
            ("a\nb", "a\\nb"),
            ("a\r\nb", "a\\r\\nb"),
            ("\t", "\\t"),
            ("back\\slash", "back\\\\slash"),
            ("\u{1b}[2J", "\\u{1b}[2J"),
            ("\u{0}\u{7}\u{7f}", "\\u{0}\\u{7}\\u{7f}"),
            ("\u{85}", "\\u{85}"),
            ("\u{2028}\u{2029}", "\\u{2028}\\u{2029}"),
            ("\u{202e}txt.exe", "\\u{202e}txt.exe"),
            (
                "\u{2066}\u{2069}\u{200f}\u{61c}",
                "\\u{2066}\\u{2069}\\u{200f}\\u{61c}",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(escaped(text).to_string(), want, "{text:?}");
        }
    }

    #[test]
    fn escaped_text_never_holds_a_character_it_escapes() {
        // Every character of the first planes and a few beyond: the output is one line of
        // characters that are all safe.
        let all: String = (0u32..0x3_0000).filter_map(char::from_u32).collect();
        let out = escaped(&all).to_string();
        assert!(out.chars().all(|c| !super::must_escape(c)));
        assert!(!out.contains('\n'));
    }

    #[test]
    fn within_shows_a_prefix_and_how_much_was_left_out() {
        assert_eq!(
            escaped("abcdef").within(3).to_string(),
            "abc... (3 more bytes)"
        );
        assert_eq!(escaped("abc").within(3).to_string(), "abc");
        assert_eq!(
            escaped("é\né").within(3).to_string(),
            "é\\n... (2 more bytes)"
        );
    }
}
