//! The words the user reads, in their language. Texts live in Fluent files (`help/i18n/<lang>/lifeline-help.ftl`),
//! compiled into the binary so a half-installed package can never show message ids instead of words.

use fluent_bundle::{FluentArgs, FluentBundle, FluentResource, FluentValue};
use lifeline_shared::findings::{Finding, FindingKind};
use unic_langid::LanguageIdentifier;

/// The languages we ship, in the order of [`Lang::ALL`].
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

    fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Nl => "nl",
            Lang::Fr => "fr",
            Lang::Pl => "pl",
            Lang::Es => "es",
        }
    }

    fn source(self) -> &'static str {
        match self {
            Lang::En => include_str!("../i18n/en/lifeline-help.ftl"),
            Lang::Nl => include_str!("../i18n/nl/lifeline-help.ftl"),
            Lang::Fr => include_str!("../i18n/fr/lifeline-help.ftl"),
            Lang::Pl => include_str!("../i18n/pl/lifeline-help.ftl"),
            Lang::Es => include_str!("../i18n/es/lifeline-help.ftl"),
        }
    }

    /// The language from the locale variables, in POSIX precedence (`LC_ALL`, then `LC_MESSAGES`, then `LANG`); the
    /// first one that is set decides, and English stands in for a language we do not ship. `env` is the process
    /// environment in the binary and a table in tests.
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Lang {
        let locale = ["LC_ALL", "LC_MESSAGES", "LANG"].into_iter().filter_map(env).find(|v| !v.is_empty());
        let Some(locale) = locale else { return Lang::En };
        // "nl_BE.UTF-8@euro" -> "nl"
        let code = locale.split(['_', '.', '@', '-']).next().unwrap_or_default().to_ascii_lowercase();
        Lang::ALL.into_iter().find(|l| l.code() == code).unwrap_or(Lang::En)
    }
}

/// One language's texts. Not `Send` (Fluent's plural rules are cached per bundle): each thread that speaks to the
/// user builds its own.
pub struct Texts {
    bundle: FluentBundle<FluentResource>,
}

impl Texts {
    pub fn new(lang: Lang) -> Texts {
        let langid: LanguageIdentifier = lang.code().parse().unwrap_or_default();
        let mut bundle = FluentBundle::new(vec![langid]);
        // Unicode isolation marks around arguments show as boxes in egui's fonts and in some notification daemons.
        bundle.set_use_isolating(false);
        // A broken file is caught by the tests (`every_language_parses`); here we keep whatever parsed.
        let resource = FluentResource::try_new(lang.source().to_owned()).unwrap_or_else(|(partial, _)| partial);
        let _ = bundle.add_resource(resource);
        Texts { bundle }
    }

    pub fn get(&self, id: &str) -> String {
        self.format(id, None)
    }

    pub fn with(&self, id: &str, args: &[(&str, Arg)]) -> String {
        let mut fluent = FluentArgs::new();
        for (name, value) in args {
            match value {
                Arg::Num(n) => fluent.set(*name, FluentValue::from(*n)),
                Arg::Text(s) => fluent.set(*name, FluentValue::from(s.as_str())),
            }
        }
        self.format(id, Some(&fluent))
    }

    /// A finding's summary and advice in this language, from its kind and facts: the English words it carries are
    /// for technicians.
    pub fn finding(&self, finding: &Finding) -> (String, String) {
        let id = match finding.kind {
            FindingKind::DiskNearlyFull => "finding-disk-nearly-full",
            FindingKind::MemoryPressure => "finding-memory-pressure",
            FindingKind::NoDefaultRoute => "finding-no-default-route",
            FindingKind::DnsFailing => "finding-dns-failing",
            FindingKind::RunawayProcess => "finding-runaway-process",
            FindingKind::HighTemperature => "finding-high-temperature",
            FindingKind::BatteryLow => "finding-battery-low",
            FindingKind::SwapHeavy => "finding-swap-heavy",
            FindingKind::ServerUnreachable => "finding-server-unreachable",
        };
        let args = [
            ("about", Arg::Text(finding.about.clone())),
            ("figure", Arg::Num(u64::from(finding.figure.unwrap_or_default()))),
        ];
        (self.with(id, &args), self.with(&format!("{id}-advice"), &args))
    }

    fn format(&self, id: &str, args: Option<&FluentArgs>) -> String {
        let Some(pattern) = self.bundle.get_message(id).and_then(|m| m.value()) else {
            debug_assert!(false, "no text {id:?}");
            return id.to_owned();
        };
        let mut errors = Vec::new();
        let text = self.bundle.format_pattern(pattern, args, &mut errors).into_owned();
        debug_assert!(errors.is_empty(), "text {id:?}: {errors:?}");
        text
    }
}

/// An argument to a text: numbers choose plural forms, so they stay numbers.
#[derive(Clone, Debug, PartialEq)]
pub enum Arg {
    Num(u64),
    Text(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use fluent_syntax::ast::Entry;
    use std::collections::BTreeSet;

    fn ids(lang: Lang) -> BTreeSet<String> {
        let resource = FluentResource::try_new(lang.source().to_owned())
            .unwrap_or_else(|(_, errors)| panic!("{lang:?} does not parse: {errors:?}"));
        resource
            .entries()
            .filter_map(|e| match e {
                Entry::Message(m) => Some(m.id.name.to_owned()),
                Entry::Junk { content } => panic!("{lang:?} has junk: {content}"),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn every_language_parses_and_has_exactly_the_english_ids() {
        let english = ids(Lang::En);
        assert!(english.len() > 30, "{english:?}");
        for lang in Lang::ALL {
            let theirs = ids(lang);
            let missing: Vec<_> = english.difference(&theirs).collect();
            let extra: Vec<_> = theirs.difference(&english).collect();
            assert!(missing.is_empty() && extra.is_empty(), "{lang:?}: missing {missing:?}, extra {extra:?}");
        }
    }

    #[test]
    fn locale_picks_the_language() {
        let check = |vars: &[(&str, &str)], expected: Lang| {
            let env = |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string());
            assert_eq!(Lang::from_env(env), expected, "{vars:?}");
        };
        check(&[], Lang::En);
        check(&[("LANG", "nl_NL.UTF-8")], Lang::Nl);
        check(&[("LANG", "fr_BE.UTF-8@euro")], Lang::Fr);
        check(&[("LANG", "de_DE.UTF-8")], Lang::En);
        check(&[("LANG", "C")], Lang::En);
        check(&[("LANG", "en_US.UTF-8"), ("LC_MESSAGES", "pl_PL.UTF-8")], Lang::Pl);
        check(&[("LANG", "pl_PL"), ("LC_MESSAGES", "nl_NL"), ("LC_ALL", "es_ES.UTF-8")], Lang::Es);
        check(&[("LC_ALL", ""), ("LANG", "es")], Lang::Es);
    }

    #[test]
    fn plurals_follow_each_language() {
        let left = |lang, n| Texts::new(lang).with("consent-left", &[("minutes", Arg::Num(n))]);
        assert_eq!(left(Lang::En, 1), "1 minute left");
        assert_eq!(left(Lang::En, 5), "5 minutes left");
        // Polish has three forms: 2-4, 5-21, then 22-24 again.
        assert_ne!(left(Lang::Pl, 2), left(Lang::Pl, 5));
        assert_eq!(left(Lang::Pl, 2).replace('2', ""), left(Lang::Pl, 22).replace("22", ""));
        assert!(left(Lang::Nl, 5).contains('5'));
    }

    #[test]
    fn findings_are_worded_in_every_language_and_the_english_matches_the_technicians() {
        use lifeline_shared::findings::Severity;
        for kind in FindingKind::ALL {
            let finding = Finding::new(kind, Severity::Warning, "/srv/data", Some(93.4));
            let (summary, advice) = Texts::new(Lang::En).finding(&finding);
            assert_eq!((summary.as_str(), advice.as_str()), (finding.summary.as_str(), finding.advice.as_str()));
            for lang in Lang::ALL {
                let (summary, advice) = Texts::new(lang).finding(&finding);
                let words = format!("{summary} {advice}");
                for (fact, quoted) in
                    [("/srv/data", finding.summary.contains("/srv/data")), ("93", finding.summary.contains("93"))]
                {
                    assert_eq!(
                        words.contains(fact),
                        quoted || finding.advice.contains(fact),
                        "{lang:?} {kind:?}: {words}"
                    );
                }
                if lang != Lang::En {
                    assert_ne!(summary, finding.summary, "{lang:?} {kind:?} is not translated");
                }
            }
        }
    }

    #[test]
    fn arguments_are_placed_without_isolation_marks() {
        let text = Texts::new(Lang::En).with("sent-accepted", &[("ticket", Arg::Num(42))]);
        assert!(text.contains("#42") && !text.contains('\u{2068}'), "{text:?}");
    }
}
