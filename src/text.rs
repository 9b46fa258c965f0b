//! Cutting text to a byte budget without splitting a UTF-8 character. Names and failure reasons
//! come from clients and go into fixed-size places (a dma-buf name, the metadata region's name
//! field, a memfd name, the failure ring), so every layer cuts them the same way.

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

#[cfg(test)]
mod tests {
    use super::prefix_within;

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
}
