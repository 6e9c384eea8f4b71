//! The interface's languages: English, French and Arabic (right to left), from Project Fluent
//! files compiled into the binary (`api/ui/*.ftl`). Each user picks theirs; a missing message
//! falls back to English, so a half-translated release still renders.

use std::sync::{Arc, OnceLock};

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};

/// A language of the interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English.
    En,
    /// French.
    Fr,
    /// Arabic (written right to left).
    Ar,
}

impl Lang {
    /// Every language, in the order the language menu lists them.
    pub const ALL: [Lang; 3] = [Lang::En, Lang::Fr, Lang::Ar];

    /// The ISO 639-1 code.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
            Lang::Ar => "ar",
        }
    }

    /// The language's own name, for the menu.
    pub fn native_name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Fr => "Français",
            Lang::Ar => "العربية",
        }
    }

    /// `rtl` or `ltr`.
    pub fn dir(self) -> &'static str {
        match self {
            Lang::Ar => "rtl",
            _ => "ltr",
        }
    }

    /// The language of a code; English for anything else.
    pub fn parse(code: &str) -> Option<Lang> {
        Lang::ALL.into_iter().find(|l| l.code() == code)
    }

    fn source(self) -> &'static str {
        match self {
            Lang::En => include_str!("../../ui/en.ftl"),
            Lang::Fr => include_str!("../../ui/fr.ftl"),
            Lang::Ar => include_str!("../../ui/ar.ftl"),
        }
    }
}

type Bundle = FluentBundle<Arc<FluentResource>>;

fn bundles() -> &'static [Bundle; 3] {
    static BUNDLES: OnceLock<[Bundle; 3]> = OnceLock::new();
    BUNDLES.get_or_init(|| {
        Lang::ALL.map(|lang| {
            // The shipped files are checked by the unit tests below.
            let resource =
                FluentResource::try_new(lang.source().to_owned()).unwrap_or_else(|(r, _)| r);
            let id: unic_langid::LanguageIdentifier = lang.code().parse().unwrap_or_default();
            let mut bundle = FluentBundle::new_concurrent(vec![id]);
            // No Unicode isolation marks around placeholders: references and names are
            // rendered as they are (the page's `dir` handles direction).
            bundle.set_use_isolating(false);
            let _ = bundle.add_resource(Arc::new(resource));
            bundle
        })
    })
}

fn bundle(lang: Lang) -> &'static Bundle {
    &bundles()[Lang::ALL.iter().position(|l| *l == lang).unwrap_or(0)]
}

/// The message `key` in `lang` with `args`; English if the language lacks it; the key itself
/// if English does too (a test keeps that from shipping).
pub fn text(lang: Lang, key: &str, args: &[(&str, &str)]) -> String {
    let mut fluent_args = FluentArgs::new();
    for (name, value) in args {
        fluent_args.set(*name, FluentValue::from(*value));
    }
    for l in [lang, Lang::En] {
        let b = bundle(l);
        if let Some(pattern) = b.get_message(key).and_then(|m| m.value()) {
            let mut errors = vec![];
            return b
                .format_pattern(pattern, Some(&fluent_args), &mut errors)
                .into_owned();
        }
    }
    key.to_owned()
}

/// Texts in one language: `t.t("key")`, `t.t_with("key", &[("name", v)])`.
#[derive(Debug, Clone, Copy)]
pub struct Texts(pub Lang);

impl Texts {
    /// A message without arguments.
    pub fn t(&self, key: &str) -> String {
        text(self.0, key, &[])
    }

    /// A message with arguments.
    pub fn t_with(&self, key: &str, args: &[(&str, &str)]) -> String {
        text(self.0, key, args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(source: &str) -> Vec<String> {
        source
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty() && !l.starts_with(' '))
            .filter_map(|l| l.split(" = ").next().map(str::to_owned))
            .collect()
    }

    #[test]
    fn every_language_has_every_message_and_parses() {
        let english = keys(Lang::En.source());
        assert!(english.len() > 100);
        for lang in Lang::ALL {
            assert!(
                FluentResource::try_new(lang.source().to_owned()).is_ok(),
                "{} does not parse",
                lang.code()
            );
            assert_eq!(keys(lang.source()), english, "{}", lang.code());
        }
    }

    #[test]
    fn messages_render_with_their_arguments_and_fall_back_to_english() {
        assert_eq!(
            text(Lang::En, "case-title", &[("reference", "HW-0123456789AB")]),
            "Case HW-0123456789AB"
        );
        assert!(text(Lang::Ar, "case-title", &[("reference", "HW-1")]).contains("HW-1"));
        assert_eq!(text(Lang::Fr, "no-such-key", &[]), "no-such-key");
        assert_eq!(Lang::Ar.dir(), "rtl");
    }
}
