//! What the user typed, made fit to send. The limits are the server's own (`lifeline_shared::wire`): checking them
//! here tells the user before anything leaves, instead of a refusal that comes back from the help desk later.

pub use lifeline_shared::wire::{MAX_BODY, MAX_SUBJECT};

/// Characters that would make what the technician reads differ from what the user sees: control characters and the
/// bidirectional overrides that reorder text on screen.
fn hidden(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// One line: line breaks and tabs become spaces, other hidden characters go, outer spaces are trimmed.
pub fn line(s: &str) -> String {
    let spaced: String = s.chars().map(|c| if matches!(c, '\n' | '\r' | '\t') { ' ' } else { c }).collect();
    spaced.chars().filter(|c| !hidden(*c)).collect::<String>().trim().to_owned()
}

/// Several lines: keeps line breaks and tabs, drops other hidden characters (a carriage return included, so
/// pasted Windows text reads the same).
pub fn body(s: &str) -> String {
    s.chars().filter(|c| matches!(c, '\n' | '\t') || !hidden(*c)).collect::<String>().trim_end().to_owned()
}

/// The longest start of `s` that fits in `max` bytes without splitting a character.
pub fn clip(s: &str, max: usize) -> &str {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_flattens_and_strips() {
        assert_eq!(line("  my\tprinter\r\nis \u{7}down\u{202E}  "), "my printer  is down");
        assert_eq!(line("\u{1b}[31m"), "[31m");
        assert_eq!(line("\n\t "), "");
    }

    #[test]
    fn body_keeps_lines_and_drops_the_rest() {
        assert_eq!(body("first\r\nsecond\u{0}\n\tindented\u{2066}\n\n"), "first\nsecond\n\tindented");
        assert_eq!(body("café ünïcödé"), "café ünïcödé");
    }

    #[test]
    fn clip_respects_characters() {
        assert_eq!(clip("héllo", 2), "h");
        assert_eq!(clip("héllo", 3), "hé");
        assert_eq!(clip("hi", 200), "hi");
    }
}
