//! The consulate request pack: the PDF the request for travel documents carries, so that a
//! consulate can issue an emergency travel document (laissez-passer) without asking again. One
//! page per member who agreed to share with the consulate: names as in the document, sex, date
//! and place of birth, nationality, every identity document held, and an empty box to paste a
//! passport photo on; every page names the case and the requesting office's contact.
//!
//! What goes in is decided by `sharing::fields_for(Purpose::Consulate)`, never here: the pack
//! prints the fields of the [`Shared`] members it is given. Labels are in English, and also in
//! the consulate's language where that is French or Spanish ([`label`], the one table).
//!
//! Written with `pdf-writer` and the standard-14 fonts Helvetica and Helvetica-Bold, which
//! every PDF reader has: nothing is embedded or downloaded, and the content streams are not
//! compressed. Those fonts write the Latin script only (WinAnsiEncoding), which is how names are
//! spelt in a travel document; a letter outside it is written without its accent (`ğ` as `g`),
//! and any other character as `?` ([`win_ansi`]). This module does no I/O and logs nothing.

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str, TextStr};
use unicode_normalization::UnicodeNormalization;

use homeward_workflows::domain::CaseRef;
use homeward_workflows::person::DocumentKind;

use crate::notices::Attachment;
use crate::offices::OfficeContact;
use crate::sharing::Shared;

/// The media type of the pack.
pub const CONTENT_TYPE: &str = "application/pdf";

/// What a consulate needs to issue travel documents for a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsulatePack {
    /// The case the consulate quotes in its answer.
    pub reference: CaseRef,
    /// The language of the e-mail it goes with (ISO 639-1): labels are in English, and in this
    /// language too where it is `fr` or `es`.
    pub language: String,
    /// The requesting office: where questions and the documents go.
    pub office: OfficeContact,
    /// The members who agreed to share with the consulate, as it receives them.
    pub members: Vec<Shared>,
}

impl ConsulatePack {
    /// The pack as an e-mail attachment, named after the case (never a person).
    pub fn attachment(&self) -> Attachment {
        Attachment {
            filename: format!("{}-travel-document-request.pdf", self.reference.as_str()),
            content_type: CONTENT_TYPE.to_owned(),
            content: render(self),
        }
    }
}

/// Every text the pack prints that is not a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Label {
    Title,
    Reference,
    Office,
    Email,
    Phone,
    Person,
    Of,
    FamilyName,
    GivenNames,
    Sex,
    DateOfBirth,
    PlaceOfBirth,
    Nationality,
    Documents,
    Kind,
    Number,
    IssuingCountry,
    Expires,
    NoDocuments,
    Photo,
    Consent,
    Continued,
    Document(DocumentKind),
}

/// The one label table: English, French, Spanish (Latin script, as Helvetica writes it).
fn label(label: Label) -> [&'static str; 3] {
    use DocumentKind as K;
    match label {
        Label::Title => [
            "Request for an emergency travel document",
            "Demande de document de voyage d'urgence (laissez-passer)",
            "Solicitud de documento de viaje de emergencia (salvoconducto)",
        ],
        Label::Reference => [
            "Case reference",
            "Référence du dossier",
            "Referencia del caso",
        ],
        Label::Office => [
            "Requesting office",
            "Service demandeur",
            "Oficina solicitante",
        ],
        Label::Email => ["E-mail", "Courriel", "Correo electrónico"],
        Label::Phone => ["Telephone", "Téléphone", "Teléfono"],
        Label::Person => ["Person", "Personne", "Persona"],
        Label::Of => ["of", "sur", "de"],
        Label::FamilyName => ["Family name", "Nom de famille", "Apellidos"],
        Label::GivenNames => ["Given names", "Prénoms", "Nombres"],
        Label::Sex => ["Sex", "Sexe", "Sexo"],
        Label::DateOfBirth => ["Date of birth", "Date de naissance", "Fecha de nacimiento"],
        Label::PlaceOfBirth => ["Place of birth", "Lieu de naissance", "Lugar de nacimiento"],
        Label::Nationality => ["Nationality", "Nationalité", "Nacionalidad"],
        Label::Documents => [
            "Identity documents held",
            "Documents d'identité détenus",
            "Documentos de identidad",
        ],
        Label::Kind => ["Document", "Document", "Documento"],
        Label::Number => ["Number", "Numéro", "Número"],
        Label::IssuingCountry => ["Issued by", "Délivré par", "Expedido por"],
        Label::Expires => ["Valid until", "Valable jusqu'au", "Válido hasta"],
        Label::NoDocuments => ["None recorded", "Aucun enregistré", "Ninguno registrado"],
        Label::Photo => ["Photo", "Photo", "Foto"],
        Label::Consent => [
            "Shared with the recorded consent of the person concerned. Please reply to the \
             requesting office, quoting the case reference.",
            "Transmis avec le consentement enregistré de la personne concernée. Merci de \
             répondre au service demandeur en citant la référence du dossier.",
            "Enviado con el consentimiento registrado de la persona interesada. Responda a la \
             oficina solicitante citando la referencia del caso.",
        ],
        Label::Continued => ["continued", "suite", "continuación"],
        Label::Document(K::Passport) => ["Passport", "Passeport", "Pasaporte"],
        Label::Document(K::NationalId) => [
            "National identity card",
            "Carte nationale d'identité",
            "Documento nacional de identidad",
        ],
        Label::Document(K::LaissezPasser) => ["Laissez-passer", "Laissez-passer", "Salvoconducto"],
        Label::Document(K::ResidencePermit) => [
            "Residence permit",
            "Titre de séjour",
            "Permiso de residencia",
        ],
        Label::Document(K::BirthCertificate) => [
            "Birth certificate",
            "Acte de naissance",
            "Partida de nacimiento",
        ],
    }
}

/// A4, in points.
const PAGE: (f32, f32) = (595.0, 842.0);
/// Left and right margin.
const MARGIN: f32 = 56.0;
/// Nothing but the footer goes below this.
const BOTTOM: f32 = 76.0;
/// A passport photo, 35 x 45 mm, in points.
const PHOTO: (f32, f32) = (99.0, 128.0);
const REGULAR: Name<'static> = Name(b"F1");
const BOLD: Name<'static> = Name(b"F2");

/// The pack's PDF.
pub fn render(pack: &ConsulatePack) -> Vec<u8> {
    let second = match pack.language.as_str() {
        "fr" => Some(1),
        "es" => Some(2),
        _ => None,
    };
    let mut doc = Layout {
        pack,
        second,
        pages: Vec::new(),
        y: 0.0,
    };
    for (i, member) in pack.members.iter().enumerate() {
        doc.person(i, member);
    }
    if pack.members.is_empty() {
        doc.new_page();
    }
    doc.finish()
}

/// Pages being written, and where the next line goes on the last one.
struct Layout<'a> {
    pack: &'a ConsulatePack,
    /// The column of the second language in [`label`], if any.
    second: Option<usize>,
    pages: Vec<Content>,
    y: f32,
}

impl Layout<'_> {
    /// A label in English, with the second language after a slash.
    fn text(&self, l: Label) -> String {
        self.both(|i| label(l)[i].to_owned())
    }

    /// A text built in English, then in the second language after a slash (when it differs).
    fn both(&self, build: impl Fn(usize) -> String) -> String {
        let english = build(0);
        match self.second.map(&build) {
            Some(other) if other != english => format!("{english} / {other}"),
            _ => english,
        }
    }

    fn page(&mut self) -> &mut Content {
        if self.pages.is_empty() {
            self.pages.push(Content::new());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    /// Writes one line of text at `x` on the current line.
    fn line(&mut self, x: f32, font: Name<'static>, size: f32, gray: f32, text: &str) {
        let y = self.y;
        let bytes = win_ansi(text);
        let c = self.page();
        c.set_fill_gray(gray);
        c.begin_text();
        c.set_font(font, size);
        c.next_line(x, y);
        c.show(Str(&bytes));
        c.end_text();
    }

    /// Moves down by `by`, onto a new page (with the case named again) if the line would not
    /// fit above the footer.
    fn down(&mut self, by: f32) {
        self.y -= by;
        if self.y < BOTTOM {
            self.new_page();
            let continued = format!(
                "{} {} ({})",
                self.text(Label::Reference),
                self.pack.reference.as_str(),
                self.text(Label::Continued)
            );
            self.line(MARGIN, REGULAR, 9.0, 0.35, &continued);
            self.y -= 24.0;
        }
    }

    /// Starts a page.
    fn new_page(&mut self) {
        self.pages.push(Content::new());
        self.y = PAGE.1 - MARGIN;
    }

    /// The request's header: title, case, requesting office.
    fn header(&mut self) {
        let pack = self.pack;
        let title = label(Label::Title);
        self.line(MARGIN, BOLD, 16.0, 0.0, title[0]);
        if let Some(i) = self.second {
            self.y -= 18.0;
            self.line(MARGIN, REGULAR, 11.0, 0.0, title[i]);
        }
        self.y -= 30.0;
        let reference = self.text(Label::Reference);
        self.line(MARGIN, REGULAR, 8.5, 0.35, &reference);
        self.y -= 15.0;
        self.line(MARGIN, BOLD, 12.0, 0.0, pack.reference.as_str());
        self.y -= 24.0;
        let office = &pack.office;
        let (email, phone) = (
            format!("{}: {}", self.text(Label::Email), office.email.as_str()),
            format!("{}: {}", self.text(Label::Phone), office.phone.as_str()),
        );
        let heading = self.text(Label::Office);
        self.line(MARGIN, REGULAR, 8.5, 0.35, &heading);
        for (font, text) in [
            (BOLD, office.name.as_str()),
            (REGULAR, email.as_str()),
            (REGULAR, phone.as_str()),
        ] {
            for part in wrap(text, 80) {
                self.y -= 14.0;
                self.line(MARGIN, font, 10.5, 0.0, &part);
            }
        }
        self.y -= 14.0;
        let y = self.y;
        self.page()
            .set_line_width(0.6)
            .set_stroke_gray(0.5)
            .move_to(MARGIN, y)
            .line_to(PAGE.0 - MARGIN, y)
            .stroke();
        self.y -= 24.0;
    }

    /// One member's page: who they are beside the photo box, then their documents.
    fn person(&mut self, i: usize, member: &Shared) {
        self.new_page();
        self.header();
        let total = self.pack.members.len();
        let heading = self.both(|l| {
            format!(
                "{} {} {} {total}",
                label(Label::Person)[l],
                i + 1,
                label(Label::Of)[l]
            )
        });
        self.line(MARGIN, BOLD, 12.0, 0.0, &heading);
        self.y -= 10.0;
        // The photo box, top right of the person's fields.
        let photo_x = PAGE.0 - MARGIN - PHOTO.0;
        let top = self.y;
        let photo = self.text(Label::Photo);
        self.page()
            .set_line_width(0.8)
            .set_stroke_gray(0.0)
            .rect(photo_x, top - PHOTO.1, PHOTO.0, PHOTO.1)
            .stroke();
        self.y = top - 14.0;
        self.line(photo_x + 6.0, REGULAR, 9.0, 0.35, &photo);
        self.y = top - 8.0;
        let unknown = || "-".to_owned();
        let sex = member.sex.map(|s| s.to_ascii_uppercase());
        let fields = [
            (Label::FamilyName, member.family_name.clone()),
            (Label::GivenNames, member.given_name.clone()),
            (Label::Sex, sex),
            (Label::DateOfBirth, member.date_of_birth.clone()),
            (Label::PlaceOfBirth, member.place_of_birth.clone()),
            (Label::Nationality, member.nationality.clone()),
        ];
        for (l, value) in fields {
            let name = self.text(l);
            self.down(4.0);
            self.line(MARGIN, REGULAR, 8.5, 0.35, &name);
            for part in wrap(&value.unwrap_or_else(unknown), 44) {
                self.down(15.0);
                self.line(MARGIN, BOLD, 12.0, 0.0, &part);
            }
            self.down(14.0);
        }
        // Below the photo, whatever the fields took.
        self.y = self.y.min(top - PHOTO.1 - 10.0);
        self.down(16.0);
        let documents = self.text(Label::Documents);
        self.line(MARGIN, BOLD, 11.0, 0.0, &documents);
        if member.documents.is_empty() {
            self.down(16.0);
            let none = self.text(Label::NoDocuments);
            self.line(MARGIN, REGULAR, 10.5, 0.0, &none);
            return;
        }
        // A table: English headings, the second language's beneath them (and beneath each
        // document's kind).
        let columns = [MARGIN, MARGIN + 170.0, MARGIN + 290.0, MARGIN + 390.0];
        let headings = [
            Label::Kind,
            Label::Number,
            Label::IssuingCountry,
            Label::Expires,
        ];
        for language in std::iter::once(0).chain(self.second) {
            self.down(if language == 0 { 18.0 } else { 10.0 });
            for (x, l) in columns.into_iter().zip(headings) {
                self.line(x, REGULAR, 8.5, 0.35, label(l)[language]);
            }
        }
        for d in &member.documents {
            self.down(16.0);
            let kind = label(Label::Document(d.kind));
            let expires = d.expires_on.map_or_else(unknown, |e| e.to_string());
            for (x, text) in columns.into_iter().zip([
                kind[0],
                d.number.as_str(),
                d.issuing_country.as_str(),
                expires.as_str(),
            ]) {
                self.line(x, REGULAR, 10.5, 0.0, text);
            }
            if let Some(language) = self.second {
                self.down(10.0);
                self.line(MARGIN, REGULAR, 8.5, 0.35, kind[language]);
            }
        }
    }

    /// The pages, each with the consent note and its number, as one PDF.
    fn finish(mut self) -> Vec<u8> {
        let total = self.pages.len();
        let note = self.text(Label::Consent);
        let lines = wrap(&note, 110);
        for (n, page) in self.pages.iter_mut().enumerate() {
            page.set_fill_gray(0.35);
            let mut y = 56.0;
            for line in &lines {
                page.begin_text();
                page.set_font(REGULAR, 7.5);
                page.next_line(MARGIN, y);
                page.show(Str(&win_ansi(line)));
                page.end_text();
                y -= 10.0;
            }
            page.begin_text();
            page.set_font(REGULAR, 7.5);
            page.next_line(PAGE.0 - MARGIN - 30.0, y);
            page.show(Str(format!("{} / {total}", n + 1).as_bytes()));
            page.end_text();
        }

        let mut pdf = Pdf::new();
        let catalog = Ref::new(1);
        let tree = Ref::new(2);
        let (regular, bold) = (Ref::new(3), Ref::new(4));
        let info = Ref::new(5);
        let mut next = Ref::new(6);
        let ids: Vec<(Ref, Ref)> = (0..total).map(|_| (next.bump(), next.bump())).collect();
        pdf.catalog(catalog).pages(tree);
        pdf.pages(tree)
            .kids(ids.iter().map(|(page, _)| *page))
            .count(i32::try_from(total).unwrap_or(i32::MAX));
        let title = format!("Travel document request {}", self.pack.reference.as_str());
        pdf.document_info(info)
            .title(TextStr(&title))
            .producer(TextStr("Homeward"));
        for (id, base) in [(regular, &b"Helvetica"[..]), (bold, &b"Helvetica-Bold"[..])] {
            pdf.type1_font(id)
                .base_font(Name(base))
                .encoding_predefined(Name(b"WinAnsiEncoding"));
        }
        for ((page_id, content_id), content) in ids.iter().zip(self.pages) {
            let mut page = pdf.page(*page_id);
            page.media_box(Rect::new(0.0, 0.0, PAGE.0, PAGE.1));
            page.parent(tree);
            page.contents(*content_id);
            page.resources()
                .fonts()
                .pair(REGULAR, regular)
                .pair(BOLD, bold);
            page.finish();
            pdf.stream(*content_id, &content.finish());
        }
        pdf.finish()
    }
}

/// Splits `text` into lines of at most `width` characters, at spaces where it can.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let mut word = word.to_owned();
        // A word longer than a line is cut.
        while word.chars().count() > width {
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            let head: String = word.chars().take(width).collect();
            word = word.chars().skip(width).collect();
            lines.push(head);
        }
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// `text` in WinAnsiEncoding, the standard fonts' Latin alphabet: ASCII, Latin-1 and a few
/// more (`Œ`, `š`, `Ž`, dashes and quotes). A letter outside it is written without its accents
/// (`ğ` as `g`, `ł` stays `?`: it has no decomposition); anything else as `?`.
fn win_ansi(text: &str) -> Vec<u8> {
    fn one(c: char) -> Option<u8> {
        match c {
            ' '..='~' => Some(c as u8),
            '\u{a0}'..='\u{ff}' => u8::try_from(u32::from(c)).ok(),
            '€' => Some(0x80),
            'Š' => Some(0x8a),
            'Œ' => Some(0x8c),
            'Ž' => Some(0x8e),
            '‘' => Some(0x91),
            '’' => Some(0x92),
            '“' => Some(0x93),
            '”' => Some(0x94),
            '–' => Some(0x96),
            '—' => Some(0x97),
            'š' => Some(0x9a),
            'œ' => Some(0x9c),
            'ž' => Some(0x9e),
            'Ÿ' => Some(0x9f),
            _ => None,
        }
    }
    text.chars()
        .map(|c| {
            one(c)
                .or_else(|| {
                    // The base letter of a decomposed one (`ğ` is `g` and a breve).
                    c.to_string().nfd().next().filter(|b| *b != c).and_then(one)
                })
                .unwrap_or(b'?')
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::sharing::SharedDocument;

    fn office() -> OfficeContact {
        toml::from_str(
            "name = \"IOM The Hague (placeholder)\"\nemail = \"returns@nld.example.org\"\n\
             phone = \"+31701234567\"\n",
        )
        .expect("office")
    }

    fn member(n: u32, given: &str, family: &str) -> Shared {
        Shared {
            member: n,
            given_name: Some(given.into()),
            family_name: Some(family.into()),
            sex: Some("f"),
            date_of_birth: Some("1990-05-31".into()),
            place_of_birth: Some("Mosul".into()),
            nationality: Some("IRQ".into()),
            documents: vec![SharedDocument {
                kind: DocumentKind::NationalId,
                number: "IQ12345678".into(),
                issuing_country: "IRQ".into(),
                expires_on: NaiveDate::from_ymd_opt(2031, 1, 1),
            }],
            ..Shared::default()
        }
    }

    fn pack(language: &str, members: Vec<Shared>) -> ConsulatePack {
        ConsulatePack {
            reference: CaseRef::parse("HW-0123456789AB").expect("ref"),
            language: language.into(),
            office: office(),
            members,
        }
    }

    fn contains(haystack: &[u8], needle: &str) -> bool {
        haystack
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
    }

    #[test]
    fn the_pack_is_a_pdf_naming_the_case_the_office_and_the_person() {
        let pdf = render(&pack("en", vec![member(0, "Amal", "HASSAN")]));
        assert!(pdf.starts_with(b"%PDF-"), "a PDF header");
        assert!(pdf.trim_ascii_end().ends_with(b"%%EOF"), "a PDF trailer");
        for text in [
            "(HASSAN) Tj",
            "(Amal) Tj",
            "(HW-0123456789AB) Tj",
            "(Mosul) Tj",
            "(IQ12345678) Tj",
            "(2031-01-01) Tj",
            "(1990-05-31) Tj",
            "(F) Tj",
            "(Photo) Tj",
            "(National identity card) Tj",
            "(E-mail: returns@nld.example.org) Tj",
            "/BaseFont /Helvetica",
            "/Encoding /WinAnsiEncoding",
        ] {
            assert!(contains(&pdf, text), "{text} is in the PDF");
        }
        assert!(!contains(&pdf, "FlateDecode"), "nothing compressed");
        // The document's title names the case only.
        assert!(contains(
            &pdf,
            "/Title (Travel document request HW-0123456789AB)"
        ));
    }

    #[test]
    fn a_pack_for_two_members_has_a_page_for_each() {
        let pdf = render(&pack(
            "en",
            vec![member(0, "Amal", "HASSAN"), member(1, "Omar", "HASSAN")],
        ));
        assert!(contains(&pdf, "(Amal) Tj") && contains(&pdf, "(Omar) Tj"));
        assert!(contains(&pdf, "/Count 2"));
        assert!(contains(&pdf, "(Person 1 of 2) Tj") && contains(&pdf, "(Person 2 of 2) Tj"));
        assert!(contains(&pdf, "(1 / 2) Tj") && contains(&pdf, "(2 / 2) Tj"));
    }

    #[test]
    fn labels_are_in_english_and_in_the_consulates_french_or_spanish() {
        let fr = render(&pack("fr", vec![member(0, "Amal", "HASSAN")]));
        // "Nom de famille" is plain ASCII; "Prénoms" is written in WinAnsi (é = 0xE9), hex.
        assert!(contains(&fr, "(Family name / Nom de famille) Tj"));
        let prenoms = win_ansi("Given names / Prénoms")
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<String>();
        assert!(contains(&fr, &format!("<{prenoms}> Tj")));
        let es = render(&pack("es", vec![member(0, "Amal", "HASSAN")]));
        assert!(contains(&es, "(Family name / Apellidos) Tj"));
        assert!(contains(&es, "(Person 1 of 1 / Persona 1 de 1) Tj"));
        assert!(contains(&es, "(Documento nacional de identidad) Tj"));
        // Arabic is not a script Helvetica writes: the labels stay English.
        let ar = render(&pack("ar", vec![member(0, "Amal", "HASSAN")]));
        assert!(contains(&ar, "(Family name) Tj"));
    }

    #[test]
    fn text_is_written_in_the_latin_alphabet_of_the_standard_fonts() {
        assert_eq!(win_ansi("Zoé Müller"), b"Zo\xe9 M\xfcller");
        assert_eq!(win_ansi("Yağmur Şahin"), b"Yagmur Sahin");
        assert_eq!(win_ansi("Œuvre – “x”"), b"\x8cuvre \x96 \x93x\x94");
        assert_eq!(win_ansi("أمل"), b"???");
    }

    #[test]
    fn long_values_wrap_and_a_member_with_many_documents_continues_on_a_new_page() {
        assert_eq!(wrap("a bb ccc", 4), ["a bb", "ccc"]);
        assert_eq!(wrap("abcdefgh", 3), ["abc", "def", "gh"]);
        assert_eq!(wrap("", 3), [""]);
        let mut many = member(0, "Amal", "HASSAN");
        many.documents = (0..40)
            .map(|i| SharedDocument {
                kind: DocumentKind::Passport,
                number: format!("P{i:07}"),
                issuing_country: "IRQ".into(),
                expires_on: None,
            })
            .collect();
        let pdf = render(&pack("en", vec![many]));
        assert!(
            contains(&pdf, "(P0000039) Tj"),
            "the last document is there"
        );
        assert!(contains(&pdf, "/Count 2"), "on a second page");
        assert!(contains(
            &pdf,
            "(Case reference HW-0123456789AB (continued)) Tj"
        ));
    }
}
