//! The console's words in the technician's language: English, Dutch, French, Polish and Spanish, like the desktop
//! program. The texts live in `console/i18n/<lang>.toml`, compiled into the binary; a key a language lacks shows in
//! English rather than as a key, and a test keeps every language's keys the same as English's.

use std::collections::HashMap;
use std::sync::LazyLock;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    En,
    Nl,
    Fr,
    Pl,
    Es,
}

impl Lang {
    pub const ALL: [Lang; 5] = [Lang::En, Lang::Nl, Lang::Fr, Lang::Pl, Lang::Es];

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Nl => "nl",
            Lang::Fr => "fr",
            Lang::Pl => "pl",
            Lang::Es => "es",
        }
    }

    /// The language's own name, for the switch.
    pub fn name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Nl => "Nederlands",
            Lang::Fr => "Français",
            Lang::Pl => "Polski",
            Lang::Es => "Español",
        }
    }

    pub fn parse(code: &str) -> Option<Lang> {
        Lang::ALL.into_iter().find(|l| l.code().eq_ignore_ascii_case(code))
    }

    fn source(self) -> &'static str {
        match self {
            Lang::En => include_str!("../../console/i18n/en.toml"),
            Lang::Nl => include_str!("../../console/i18n/nl.toml"),
            Lang::Fr => include_str!("../../console/i18n/fr.toml"),
            Lang::Pl => include_str!("../../console/i18n/pl.toml"),
            Lang::Es => include_str!("../../console/i18n/es.toml"),
        }
    }

    /// The first language of an `Accept-Language` header we ship, by the weights given (RFC 9110 12.5.4); English
    /// when none is.
    pub fn from_accept_language(header: &str) -> Lang {
        let mut best: Option<(f32, Lang)> = None;
        for item in header.split(',').take(32) {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or_default().trim();
            let weight = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .map_or(Some(1.0), |q| q.trim().parse::<f32>().ok())
                .unwrap_or(0.0);
            let primary = tag.split('-').next().unwrap_or_default();
            if let Some(lang) = Lang::parse(primary)
                && weight > 0.0
                && best.is_none_or(|(w, _)| weight > w)
            {
                best = Some((weight, lang));
            }
        }
        best.map_or(Lang::En, |(_, l)| l)
    }
}

type Catalog = HashMap<String, String>;

static CATALOGS: LazyLock<Vec<Catalog>> = LazyLock::new(|| {
    // A broken file is caught by `every_language_has_every_key`; here it leaves that language in English.
    Lang::ALL.iter().map(|l| toml::from_str(l.source()).unwrap_or_default()).collect()
});

/// One language's texts, handed to every page.
#[derive(Clone, Copy, Debug)]
pub struct Texts {
    pub lang: Lang,
}

impl Texts {
    pub fn get<'a>(&self, key: &'a str) -> &'a str
    where
        'static: 'a,
    {
        let find = |lang: Lang| CATALOGS.get(lang as usize).and_then(|c| c.get(key)).map(String::as_str);
        find(self.lang).or_else(|| find(Lang::En)).unwrap_or(key)
    }

    /// A text with `{name}` placeholders filled in.
    pub fn with(&self, key: &str, args: &[(&str, &dyn std::fmt::Display)]) -> String {
        let mut text = self.get(key).to_owned();
        for (name, value) in args {
            text = text.replace(&format!("{{{name}}}"), &value.to_string());
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_has_every_key_and_only_those() {
        let english: Catalog = toml::from_str(Lang::En.source()).expect("en.toml parses");
        assert!(english.len() > 50, "English has {} texts", english.len());
        for lang in Lang::ALL {
            let catalog: Catalog =
                toml::from_str(lang.source()).unwrap_or_else(|e| panic!("{}.toml: {e}", lang.code()));
            let mut missing: Vec<_> = english.keys().filter(|k| !catalog.contains_key(*k)).collect();
            let mut extra: Vec<_> = catalog.keys().filter(|k| !english.contains_key(*k)).collect();
            missing.sort();
            extra.sort();
            assert!(missing.is_empty() && extra.is_empty(), "{}: missing {missing:?}, extra {extra:?}", lang.code());
            for (key, text) in &catalog {
                let holes = |t: &str| t.matches('{').count();
                assert_eq!(holes(text), holes(&english[key]), "{}: {key} has other placeholders", lang.code());
            }
        }
    }

    #[test]
    fn accept_language_picks_the_most_wanted_language_we_ship() {
        for (header, want) in [
            ("nl-BE,nl;q=0.9,en;q=0.8", Lang::Nl),
            ("de-DE,de;q=0.9,fr;q=0.5,es;q=0.7", Lang::Es),
            ("pl", Lang::Pl),
            ("FR-ca", Lang::Fr),
            ("de, ja", Lang::En),
            ("", Lang::En),
            ("es;q=0, fr;q=0.1", Lang::Fr),
            ("es;q=nonsense, nl", Lang::Nl),
        ] {
            assert_eq!(Lang::from_accept_language(header), want, "{header:?}");
        }
    }

    #[test]
    fn a_text_fills_its_placeholders_and_a_missing_key_shows_itself() {
        let t = Texts { lang: Lang::En };
        assert_eq!(t.with("queue-count", &[("count", &3)]), "3 tickets");
        assert_eq!(t.get("no-such-key"), "no-such-key");
    }
}
