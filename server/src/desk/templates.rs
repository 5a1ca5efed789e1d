//! Canned replies: text with `{requester.name}`-style placeholders, checked when the template is saved so that a typo
//! is refused then, to the person who made it, rather than sent to a requester or breaking a ticket view later
//! (Zammad#4973). `{{` and `}}` write a brace.

use std::collections::HashMap;

/// Every placeholder a template may use, with what it stands for.
pub const PLACEHOLDERS: [(&str, &str); 7] = [
    ("requester.name", "the requester's name"),
    ("requester.email", "the requester's e-mail address, or nothing"),
    ("ticket.number", "the ticket's number"),
    ("ticket.subject", "the ticket's subject"),
    ("machine.host", "the linked machine's host name, or nothing"),
    ("technician.name", "the replying technician's user name"),
    ("ticket.status", "the ticket's status"),
];

pub const MAX_TEMPLATE: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Field(&'static str),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Template(Vec<Piece>);

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TemplateError {
    #[error("unknown placeholder {{{name}}}; the placeholders are {known}", name = .0, known = names())]
    Unknown(String),
    #[error("a '{{' at byte {0} is not closed; write {{{{ for a brace")]
    Unclosed(usize),
    #[error("a '}}' at byte {0} closes nothing; write }}}} for a brace")]
    Unopened(usize),
    #[error("a template must be 1 to {MAX_TEMPLATE} bytes")]
    Length,
}

fn names() -> String {
    PLACEHOLDERS.iter().map(|(n, _)| format!("{{{n}}}")).collect::<Vec<_>>().join(", ")
}

impl Template {
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        if text.trim().is_empty() || text.len() > MAX_TEMPLATE {
            return Err(TemplateError::Length);
        }
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut chars = text.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '{' if chars.peek().is_some_and(|(_, n)| *n == '{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek().is_some_and(|(_, n)| *n == '}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    let rest = &text[i + 1..];
                    let end = rest.find('}').ok_or(TemplateError::Unclosed(i))?;
                    let name = rest[..end].trim();
                    let known = PLACEHOLDERS
                        .iter()
                        .find(|(n, _)| *n == name)
                        .ok_or_else(|| TemplateError::Unknown(name.to_owned()))?;
                    if !literal.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut literal)));
                    }
                    pieces.push(Piece::Field(known.0));
                    // Skip the name and its closing brace.
                    for _ in 0..rest[..=end].chars().count() {
                        chars.next();
                    }
                }
                '}' => return Err(TemplateError::Unopened(i)),
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Text(literal));
        }
        Ok(Template(pieces))
    }

    /// The text with each placeholder replaced; one missing from `values` becomes empty.
    pub fn render(&self, values: &HashMap<&'static str, String>) -> String {
        self.0
            .iter()
            .map(|p| match p {
                Piece::Text(t) => t.as_str(),
                Piece::Field(name) => values.get(name).map_or("", String::as_str),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_and_braces_escaped() {
        let values: HashMap<&'static str, String> =
            [("requester.name", "Ann".to_owned()), ("ticket.number", "42".to_owned())].into();
        let cases = [
            ("Hello {requester.name}, about #{ticket.number}.", "Hello Ann, about #42."),
            ("{{literal}} and }} ok", "{literal} and } ok"),
            ("host: {machine.host}!", "host: !"),
            ("{ ticket.number }", "42"),
            ("ünïcode {requester.name} ✓", "ünïcode Ann ✓"),
        ];
        for (text, expected) in cases {
            assert_eq!(Template::parse(text).unwrap().render(&values), expected, "{text}");
        }
    }

    #[test]
    fn bad_templates_say_what_is_wrong() {
        let cases = [
            ("Hi {requester.nmae}", TemplateError::Unknown("requester.nmae".into())),
            ("Hi {requester.name", TemplateError::Unclosed(3)),
            ("Hi }", TemplateError::Unopened(3)),
            ("   ", TemplateError::Length),
        ];
        for (text, expected) in cases {
            assert_eq!(Template::parse(text), Err(expected), "{text}");
        }
        assert_eq!(Template::parse(&"x".repeat(MAX_TEMPLATE + 1)), Err(TemplateError::Length));
        let message = TemplateError::Unknown("x".into()).to_string();
        assert!(message.contains("{requester.name}") && message.contains("{x}"), "{message}");
    }
}
