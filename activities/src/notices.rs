//! Notice templates: a subject and a text per template and language (`config/notices.toml`),
//! rendered by the notify activity. The placeholders are the case's `{reference}`, a task's type
//! (`{task}`) and, for a booked flight, its local `{date}` and `{time}`, the `{airport}` and the
//! office's `{meeting_point}`: texts carry no personal data. An e-mail goes to an audience the gateway knows; an SMS to the returnee's
//! phone, read from their person record at send time (never in the text or the history).
//! A consulate is written to in its country's language where `[notifications]
//! consulate_languages` names one and the notice has a text in it; the request for travel
//! documents carries the request pack (`consulate_pack.rs`) as an [`Attachment`].

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use homeward_workflows::activities::{Audience, Notice, NoticeTemplate};
use homeward_workflows::domain::{CountryCode, Language};

/// One text in one language.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Text {
    /// The e-mail subject (unused by SMS).
    pub subject: String,
    /// The message.
    pub text: String,
}

/// How a message travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// A text message (to the returnee).
    Sms,
    /// An e-mail (to staff, consulates and partners).
    Email,
}

/// A notice rendered for the gateway.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct Message {
    /// The notice it renders (key, case, template, audience).
    pub notice: Notice,
    /// SMS or e-mail.
    pub channel: Channel,
    /// The language it is written in (the returnee's, or the staff language when there is no
    /// text in theirs).
    pub language: String,
    /// The subject.
    pub subject: String,
    /// The text.
    pub text: String,
    /// Files sent with an e-mail (the consulate's request pack). Never serialised: whatever
    /// stores a message (the devkit's journal) keeps no personal data; the gateway receives
    /// them through its wire format (`wire::outreach`).
    #[serde(skip)]
    pub attachments: Vec<Attachment>,
}

/// A file sent with an e-mail. Its content may be personal data: `Debug` prints its name, type
/// and size only.
#[derive(Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The file's name, e.g. `HW-0123456789AB-travel-document-request.pdf` (no personal data).
    pub filename: String,
    /// Its media type, e.g. `application/pdf`.
    pub content_type: String,
    /// Its bytes.
    pub content: Vec<u8>,
}

impl std::fmt::Debug for Attachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Attachment {{ filename: {:?}, content_type: {:?}, size: {} }}",
            self.filename,
            self.content_type,
            self.content.len()
        )
    }
}

/// Why the returnee is not texted, and the officer is told instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoSms {
    /// No phone on the person record.
    NoPhone,
    /// A trafficking victim's phone they have not confirmed safe to text.
    NotConfirmedSafe,
}

/// What the gateway's receipt says became of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// It reached the phone (or mailbox).
    Delivered,
    /// The carrier gave up (`failed` or `undelivered`): someone must tell the person another way.
    NotDelivered,
}

impl Delivery {
    /// Its name in the store and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::Delivered => "delivered",
            Delivery::NotDelivered => "not_delivered",
        }
    }
}

/// What a flight notice says of the flight, worked out at send time (`travel::Routes`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlightText {
    /// The departure day on the airport's clock, `2027-01-14`.
    pub date: String,
    /// The departure time on the airport's clock, `10:30`.
    pub time: String,
    /// The airport, `Amsterdam Airport Schiphol (AMS)`.
    pub airport: String,
    /// Where the office meets its returnees there.
    pub meeting_point: String,
}

/// The placeholders a text may hold.
const PLACEHOLDERS: [&str; 6] = [
    "{reference}",
    "{task}",
    "{date}",
    "{time}",
    "{airport}",
    "{meeting_point}",
];

/// Every template's texts, by language.
#[derive(Debug, Clone)]
pub struct Templates {
    texts: BTreeMap<String, BTreeMap<String, Text>>,
    staff_language: String,
    /// Country of origin -> the language its consulates are written to in.
    consulate_languages: BTreeMap<CountryCode, Language>,
}

impl Templates {
    /// The templates shipped with Homeward (`config/notices.toml`, compiled in).
    pub const BUILTIN: &str = include_str!("../../config/notices.toml");

    /// The shipped templates with English as the staff language.
    pub fn builtin() -> Self {
        // The shipped file is checked by a unit test; a broken one fails the build's tests.
        Self::parse(Self::BUILTIN, "en").unwrap_or_else(|e| panic!("config/notices.toml: {e}"))
    }

    /// Reads a templates file; the error names the file, the template and the language.
    pub fn load(path: &Path, staff_language: &str) -> Result<Self, String> {
        let raw = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::parse(&raw, staff_language).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses and checks templates: every template the workflow sends has a text in the staff
    /// language, languages are ISO 639-1 codes, and only [`PLACEHOLDERS`] are used.
    pub fn parse(raw: &str, staff_language: &str) -> Result<Self, String> {
        let texts: BTreeMap<String, BTreeMap<String, Text>> =
            toml::from_str(raw).map_err(|e| e.message().to_owned())?;
        for (name, by_language) in &texts {
            if !NoticeTemplate::ALL.iter().any(|t| t.as_str() == name) {
                return Err(format!("[{name}] is not a notice Homeward sends"));
            }
            for (language, text) in by_language {
                if homeward_workflows::domain::Language::parse(language).is_err()
                    || language.to_ascii_lowercase() != *language
                {
                    return Err(format!(
                        "[{name}.{language}]: the language must be a lower-case ISO 639-1 code"
                    ));
                }
                for part in [&text.subject, &text.text] {
                    if part.trim().is_empty() {
                        return Err(format!(
                            "[{name}.{language}]: subject and text are required"
                        ));
                    }
                    let rest = PLACEHOLDERS
                        .iter()
                        .fold(part.clone(), |rest, p| rest.replace(p, ""));
                    if rest.contains('{') || rest.contains('}') {
                        return Err(format!(
                            "[{name}.{language}]: the only placeholders are {}",
                            PLACEHOLDERS.join(", ")
                        ));
                    }
                }
            }
        }
        for template in NoticeTemplate::ALL {
            let has = texts
                .get(template.as_str())
                .is_some_and(|t| t.contains_key(staff_language));
            if !has {
                return Err(format!(
                    "[{template}.{staff_language}] is missing: every notice needs a text in the \
                     staff language"
                ));
            }
        }
        Ok(Self {
            texts,
            staff_language: staff_language.to_owned(),
            consulate_languages: BTreeMap::new(),
        })
    }

    /// The templates, writing to the consulates of each country of origin in its language
    /// (`[notifications] consulate_languages`); a country not named, or a notice without a
    /// text in that language, is written in the staff language.
    pub fn with_consulate_languages(mut self, languages: BTreeMap<CountryCode, Language>) -> Self {
        self.consulate_languages = languages;
        self
    }

    /// The language the consulates of `origin` (ISO alpha-3) are written to in, if configured.
    pub fn consulate_language(&self, origin: &str) -> Option<&Language> {
        CountryCode::parse(origin)
            .ok()
            .and_then(|c| self.consulate_languages.get(&c))
    }

    /// Renders a notice in its language, falling back to the staff language.
    /// What the return officer receives instead of an SMS the returnee cannot get (no phone on
    /// record): the same text, by e-mail, saying to pass it on. Its own idempotency key.
    pub fn for_officer_instead(&self, sms: &Message, why: NoSms) -> Message {
        let mut notice = sms.notice.clone();
        notice.idempotency_key = format!("{}:officer", notice.idempotency_key);
        notice.audience = Audience::ReturnOfficer;
        let (subject, reason, ask) = match why {
            NoSms::NoPhone => (
                "No phone on record for the returnee",
                "their person record has no phone number",
                "Please tell them yourself, or record their number.",
            ),
            NoSms::NotConfirmedSafe => (
                "Phone not confirmed safe for the returnee",
                "their phone is not confirmed safe to text, and they are protected as a victim of \
                 trafficking",
                "Please tell them in person or through a channel they trust, or record that \
                 they confirmed the phone is safe.",
            ),
        };
        Message {
            notice,
            channel: Channel::Email,
            language: sms.language.clone(),
            subject: format!("{subject}: {}", sms.subject),
            text: format!(
                "Homeward did not text the returnee of case {}: {reason}. {ask} The message \
                 was:\n\n{}",
                sms.notice.reference.as_str(),
                sms.text
            ),
            attachments: vec![],
        }
    }

    pub fn render(&self, notice: &Notice) -> Message {
        self.render_flight(notice, None)
    }

    /// Renders a notice that may tell of a flight (`flight` fills its placeholders).
    pub fn render_flight(&self, notice: &Notice, flight: Option<&FlightText>) -> Message {
        let by_language = self.texts.get(notice.template.as_str());
        let wanted = notice
            .language
            .as_ref()
            .map(|l| l.as_str())
            .unwrap_or(&self.staff_language);
        let (language, text) = by_language
            .and_then(|t| {
                t.get_key_value(wanted)
                    .or_else(|| t.get_key_value(&self.staff_language))
            })
            .map(|(l, t)| (l.clone(), t.clone()))
            // `parse` guarantees a staff-language text for every template.
            .unwrap_or_else(|| {
                (
                    self.staff_language.clone(),
                    Text {
                        subject: notice.template.to_string(),
                        text: notice.template.to_string(),
                    },
                )
            });
        let task = notice
            .task
            .map_or_else(|| "a task".to_owned(), |t| t.as_str().replace('_', " "));
        let fill = |s: &str| {
            let s = s
                .replace("{reference}", notice.reference.as_str())
                .replace("{task}", &task);
            match flight {
                Some(f) => s
                    .replace("{date}", &f.date)
                    .replace("{time}", &f.time)
                    .replace("{airport}", &f.airport)
                    .replace("{meeting_point}", &f.meeting_point),
                None => s,
            }
        };
        Message {
            notice: notice.clone(),
            channel: match notice.audience {
                Audience::Returnee => Channel::Sms,
                _ => Channel::Email,
            },
            language,
            subject: fill(&text.subject),
            text: fill(&text.text),
            attachments: vec![],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use homeward_workflows::domain::{CaseRef, Language};

    fn notice(language: Option<&str>) -> Notice {
        Notice {
            idempotency_key: "k".into(),
            reference: CaseRef::parse("HW-0123456789AB").unwrap(),
            template: NoticeTemplate::FlightBooked,
            audience: Audience::Returnee,
            language: language.map(|l| Language::parse(l).unwrap()),
            task: None,
            flight: None,
            safe_phone_only: false,
        }
    }

    #[test]
    fn the_shipped_templates_cover_every_notice_and_render_in_the_returnees_language() {
        let t = Templates::builtin();
        let m = t.render(&notice(Some("ar")));
        assert_eq!((m.language.as_str(), m.channel), ("ar", Channel::Sms));
        assert!(
            m.text.contains("HW-0123456789AB") && m.text.contains("رحلة"),
            "{}",
            m.text
        );
        // No text in Tigrinya: the staff language's.
        let m = t.render(&notice(Some("ti")));
        assert_eq!(m.language, "en");
        assert!(m.text.starts_with("Your flight home is booked"));
        // Every notice renders in the staff language with no placeholder left, and its name is
        // the one on the wire.
        for template in NoticeTemplate::ALL {
            assert_eq!(
                serde_json::to_value(template).unwrap(),
                serde_json::json!(template.as_str())
            );
            let m = t.render_flight(
                &Notice {
                    template,
                    audience: Audience::Operations,
                    ..notice(None)
                },
                Some(&flight()),
            );
            assert_eq!(m.channel, Channel::Email);
            assert!(
                !m.text.contains('{') && !m.subject.contains('{'),
                "{template}"
            );
        }
    }

    fn flight() -> FlightText {
        FlightText {
            date: "2027-01-14".into(),
            time: "10:30".into(),
            airport: "Amsterdam Airport Schiphol (AMS)".into(),
            meeting_point: "the IOM desk, Departure Hall 3".into(),
        }
    }

    #[test]
    fn a_flight_notice_tells_the_date_time_airport_and_meeting_point_in_each_language() {
        let t = Templates::builtin();
        for language in ["en", "fr", "es", "ru", "ar", "fa"] {
            let m = t.render_flight(
                &Notice {
                    template: NoticeTemplate::FlightDetails,
                    ..notice(Some(language))
                },
                Some(&flight()),
            );
            assert_eq!(m.language, language);
            for part in [
                "2027-01-14",
                "10:30",
                "(AMS)",
                "Departure Hall 3",
                "HW-0123456789AB",
            ] {
                assert!(m.text.contains(part), "{language}: {part} in {}", m.text);
            }
        }
    }

    #[test]
    fn a_consulate_is_asked_in_its_countrys_language_and_told_the_pack_is_attached() {
        let t = Templates::builtin().with_consulate_languages(
            [
                (
                    CountryCode::parse("SEN").unwrap(),
                    Language::parse("fr").unwrap(),
                ),
                (
                    CountryCode::parse("AFG").unwrap(),
                    Language::parse("ps").unwrap(),
                ),
            ]
            .into(),
        );
        assert_eq!(
            t.consulate_language("sen").map(Language::as_str),
            Some("fr")
        );
        assert_eq!(t.consulate_language("IRQ"), None);
        for (language, word) in [
            ("en", "attached"),
            ("fr", "jointe"),
            ("es", "adjunta"),
            ("ar", "المرفق"),
            // No text in Pashto: the staff language's.
            ("ps", "attached"),
        ] {
            let m = t.render(&Notice {
                template: NoticeTemplate::DocumentsRequested,
                audience: Audience::Consulate,
                ..notice(Some(language))
            });
            assert_eq!(m.channel, Channel::Email);
            assert_eq!(m.language, if language == "ps" { "en" } else { language });
            assert!(
                m.text.contains(word) && m.text.contains("HW-0123456789AB"),
                "{language}: {}",
                m.text
            );
        }
    }

    #[test]
    fn a_broken_templates_file_is_refused_with_the_template_named() {
        let mut all: String = NoticeTemplate::ALL
            .iter()
            .map(|t| format!("[{t}.en]\nsubject = \"s\"\ntext = \"t {{reference}}\"\n"))
            .collect();
        Templates::parse(&all, "en").expect("complete");
        let err = Templates::parse(&all, "fr").unwrap_err();
        assert!(err.contains("[consent_expired.fr] is missing"), "{err}");
        all.push_str("[tranche_paid.ar]\nsubject = \"s\"\ntext = \"{name}\"\n");
        let err = Templates::parse(&all, "en").unwrap_err();
        assert!(
            err.contains("[tranche_paid.ar]") && err.contains("placeholder"),
            "{err}"
        );
        let err =
            Templates::parse("[greeting.en]\nsubject = \"s\"\ntext = \"t\"\n", "en").unwrap_err();
        assert!(err.contains("[greeting]"), "{err}");
    }
}
