//! What the travel partner is asked, built at call time from the case's request, the person
//! records (through `sharing`, with consent) and the offices' airports: never in history.
//!
//! The shape follows Duffel's API (<https://duffel.com/docs/api/v2/offer-requests> and
//! <https://duffel.com/docs/api/v2/orders>): a search names airports by IATA code and its
//! passengers by fare type — `adult` from 18, a child by their age on the departure date, an
//! infant under 2 as `infant_without_seat` on an adult's lap — and an order names each of the
//! offer's passengers (`id` from the offer), with an infant tied to the adult who carries it
//! (`infant_passenger_id`).
//!
//! Help on board travels as each order passenger's `special_service_requests`, by IATA code:
//! the person record's assistance (a wheelchair, blindness, a medical case…), and `UMNR`
//! (unaccompanied minor) for a child on an order with no adult. Duffel's public order API has
//! no such field (its support desk adds assistance after booking); it is this contract's one
//! addition to Duffel's shapes, so that an airline is never told of a wheelchair by e-mail.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use serde::Deserialize;

use homeward_workflows::activities::{FlightNotice, Offer, OfferRequest};
use homeward_workflows::domain::CaseRef;

use crate::airports;
use crate::notices::FlightText;
use crate::partners::PartnerError;
use crate::sharing::Shared;

/// How a passenger flies and pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fare {
    /// 18 or older (or of unknown age: a seat of their own is never wrong).
    Adult,
    /// 2 to 17 on the departure date.
    Child {
        /// Age in whole years on the departure date.
        age: u8,
    },
    /// Under 2 on the departure date: on an adult's lap.
    InfantWithoutSeat,
}

impl Fare {
    /// The fare of someone born on `born_on` flying on `departs_on`.
    pub fn on(born_on: NaiveDate, departs_on: NaiveDate) -> Self {
        let mut age = departs_on.year() - born_on.year();
        if (departs_on.month(), departs_on.day()) < (born_on.month(), born_on.day()) {
            age -= 1;
        }
        match age {
            ..2 => Fare::InfantWithoutSeat,
            2..18 => Fare::Child {
                age: u8::try_from(age).unwrap_or(2),
            },
            _ => Fare::Adult,
        }
    }

    /// Whether this passenger can carry an infant on their lap.
    pub fn is_adult(self) -> bool {
        self == Fare::Adult
    }
}

/// A search for offers, as the partner receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Search {
    /// The case (never a name).
    pub reference: CaseRef,
    /// The office's departure airport.
    pub origin: String,
    /// The returnees' arrival airport.
    pub destination: String,
    /// The earliest day to leave.
    pub earliest: NaiveDate,
    /// The latest day to leave.
    pub latest: NaiveDate,
    /// One fare per traveller, escorts included: first the members who agreed to share with the
    /// travel partner (in member order), then the others' seats.
    pub passengers: Vec<Fare>,
    /// Whether a medical escort and assistance are booked along.
    pub medical_escort: bool,
    /// Whether an escort flies with an unaccompanied child.
    pub child_escort: bool,
}

/// One of an offer's passengers, as the partner lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferPassenger {
    /// The partner's id for the passenger.
    pub id: String,
    /// Their fare.
    pub fare: Fare,
}

/// A named passenger of an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedPassenger {
    /// The offer's passenger this is.
    pub id: String,
    /// What the travel partner may receive of the person.
    pub person: Shared,
    /// The infant this adult carries, if any.
    pub infant_passenger_id: Option<String>,
    /// The airline's special service requests for this passenger, by IATA code.
    pub services: Vec<String>,
}

/// `UMNR`: a child flying without an adult on the order, in the airline's care (IATA; e.g.
/// KLM's and Turkish Airlines' "unaccompanied minor" service, which every carrier asks for by
/// this code).
pub const UNACCOMPANIED_MINOR: &str = "UMNR";

/// Whether `code` is a special service request this contract sends.
pub fn known_service(code: &str) -> bool {
    code == UNACCOMPANIED_MINOR
        || homeward_workflows::person::Assistance::ALL
            .iter()
            .any(|a| a.ssr_code() == code)
}

/// The departure airport of each office and the arrival airport of each country of origin (used
/// when a returnee's record names none), by ISO alpha-3. Configured under `[travel]`, over the
/// defaults below: each capital's main international airport (IATA codes as the airports list
/// has them).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Routes {
    /// Office (host country) -> airport the office's returnees leave from.
    #[serde(default)]
    pub departure_airports: BTreeMap<String, String>,
    /// Country of origin -> airport of arrival when the returnee's record names none.
    #[serde(default)]
    pub arrival_airports: BTreeMap<String, String>,
    /// Office -> where its staff or escort meet returnees at the departure airport, as the
    /// flight notice says it ("the IOM desk, Departure Hall 3"); an office without one says
    /// [`DEFAULT_MEETING_POINT`].
    #[serde(default)]
    pub meeting_points: BTreeMap<String, String>,
}

/// The meeting point of an office that configured none.
pub const DEFAULT_MEETING_POINT: &str = "the information desk in the departure hall";

impl Default for Routes {
    fn default() -> Self {
        let map = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(c, a)| ((*c).to_owned(), (*a).to_owned()))
                .collect()
        };
        Self {
            departure_airports: map(&[
                ("NLD", "AMS"),
                ("GBR", "LHR"),
                ("BEL", "BRU"),
                ("DEU", "FRA"),
            ]),
            arrival_airports: map(&[
                ("IRQ", "BGW"),
                ("AFG", "KBL"),
                ("SYR", "DAM"),
                ("IRN", "IKA"),
                ("PAK", "ISB"),
                ("NGA", "LOS"),
                ("GEO", "TBS"),
                ("ALB", "TIA"),
                ("MAR", "CMN"),
                ("DZA", "ALG"),
                ("ETH", "ADD"),
                ("ERI", "ASM"),
            ]),
            meeting_points: BTreeMap::new(),
        }
    }
}

impl Routes {
    /// The defaults with `overrides` on top.
    pub fn with(overrides: &Routes) -> Self {
        let mut routes = Routes::default();
        routes
            .departure_airports
            .extend(overrides.departure_airports.clone());
        routes
            .arrival_airports
            .extend(overrides.arrival_airports.clone());
        routes
            .meeting_points
            .extend(overrides.meeting_points.clone());
        routes
    }

    /// What a flight notice says of `flight`: the date and time on the departure airport's
    /// clock, the airport and the office's meeting point. Refused, naming the key, when the
    /// office has no departure airport.
    pub fn flight_text(&self, flight: &FlightNotice) -> Result<FlightText, String> {
        let office = flight.office.as_str();
        let airport = self
            .departure_airports
            .get(office)
            .and_then(|code| airports::airport(code))
            .ok_or_else(|| {
                format!("no departure airport for office {office}: set travel.departure_airports.{office}")
            })?;
        // `check` and the airports test make sure every zone is known; UTC otherwise.
        let local = airport
            .local(flight.departs_at)
            .unwrap_or_else(|| flight.departs_at.naive_utc());
        Ok(FlightText {
            date: local.format("%Y-%m-%d").to_string(),
            time: local.format("%H:%M").to_string(),
            airport: format!("{} ({})", airport.name, airport.iata),
            meeting_point: self
                .meeting_points
                .get(office)
                .map_or(DEFAULT_MEETING_POINT, String::as_str)
                .to_owned(),
        })
    }

    /// Refuses an airport that is not in the list or not in its country, naming the key.
    pub fn check(&self) -> Result<(), String> {
        for (key, map) in [
            ("travel.departure_airports", &self.departure_airports),
            ("travel.arrival_airports", &self.arrival_airports),
        ] {
            for (country, code) in map {
                match airports::airport(code) {
                    Some(a) if a.country == country => {}
                    Some(a) => {
                        return Err(format!(
                            "key {key}.{country}: {code} is in {}, not {country}",
                            a.country
                        ));
                    }
                    None => return Err(format!("key {key}.{country}: {code} is not an airport")),
                }
            }
        }
        for (office, point) in &self.meeting_points {
            if point.trim().is_empty() || point.chars().count() > 200 || point.contains(['{', '}'])
            {
                return Err(format!(
                    "key travel.meeting_points.{office}: a place of 1 to 200 characters, without braces"
                ));
            }
        }
        Ok(())
    }

    /// The search for `request`, with `people` (those who agreed to share with the travel
    /// partner) typed by their age on the earliest day and the first named arrival airport in
    /// the country of origin. Refused, naming what is missing, when no airport is known.
    pub fn search(
        &self,
        request: &OfferRequest,
        people: &[Shared],
    ) -> Result<Search, PartnerError> {
        let refuse = |message: String| PartnerError::Refused {
            partner: "travel",
            message,
        };
        let office = request.from_country.as_str();
        let origin = self.departure_airports.get(office).cloned().ok_or_else(|| {
            refuse(format!(
                "no departure airport for office {office}: set travel.departure_airports.{office}"
            ))
        })?;
        let country = request.to_country.as_str();
        let recorded = people.iter().find_map(|p| {
            p.nearest_airport
                .as_deref()
                .filter(|code| airports::airport(code).is_some_and(|a| a.country == country))
        });
        let destination = recorded
            .map(str::to_owned)
            .or_else(|| self.arrival_airports.get(country).cloned())
            .ok_or_else(|| {
                refuse(format!(
                    "no arrival airport in {country}: record the returnee's nearest airport or \
                     set travel.arrival_airports.{country}"
                ))
            })?;
        let mut passengers: Vec<Fare> = people
            .iter()
            .map(|p| {
                p.born_on
                    .map_or(Fare::Adult, |b| Fare::on(b, request.earliest))
            })
            .collect();
        let seats = usize::from(request.travellers).saturating_sub(passengers.len());
        passengers.extend(std::iter::repeat_n(Fare::Adult, seats));
        Ok(Search {
            reference: request.reference.clone(),
            origin,
            destination,
            earliest: request.earliest,
            latest: request.latest,
            passengers,
            medical_escort: request.medical_escort,
            child_escort: request.child_escort,
        })
    }
}

/// An escort flies home after the hand-over: not before 12 hours after the outbound flight
/// leaves (the flight, the reception at the airport and rest), not later than 4 days after.
/// The office's practice for an escort's turnaround, not a published programme figure.
pub const ESCORT_RETURN_AFTER: chrono::Duration = chrono::Duration::hours(12);
/// See [`ESCORT_RETURN_AFTER`].
pub const ESCORT_RETURN_WITHIN: chrono::Duration = chrono::Duration::days(4);

/// The search for an escort's flight home after `outbound`: one adult seat, back from the
/// arrival airport to the office's, in the days after the outbound window.
pub fn escort_return_search(outbound: &Search) -> Search {
    Search {
        reference: outbound.reference.clone(),
        origin: outbound.destination.clone(),
        destination: outbound.origin.clone(),
        earliest: outbound.earliest + chrono::Duration::days(1),
        latest: outbound.latest + ESCORT_RETURN_WITHIN,
        passengers: vec![Fare::Adult],
        medical_escort: false,
        child_escort: false,
    }
}

/// Each outbound offer with the cheapest flight home for its escort (12 hours to 4 days
/// after it leaves, same currency), its price added to the offer's: what operations approve
/// is the whole journey. An outbound offer no return fits is dropped: an escort is never
/// booked out without a way back.
pub fn with_escort_returns(outbound: Vec<Offer>, returns: &[Offer]) -> Vec<Offer> {
    outbound
        .into_iter()
        .filter_map(|mut offer| {
            let home = returns
                .iter()
                .filter(|r| {
                    r.total.currency == offer.total.currency
                        && r.departs_at >= offer.departs_at + ESCORT_RETURN_AFTER
                        && r.departs_at <= offer.departs_at + ESCORT_RETURN_WITHIN
                })
                .min_by_key(|r| (r.total.minor, r.departs_at))?;
            offer.total.minor = offer.total.minor.checked_add(home.total.minor)?;
            offer.escort_return_offer_id = Some(home.offer_id.clone());
            Some(offer)
        })
        .collect()
}

/// Pairs the people who agreed to share with the offer's passengers (in the order the search
/// listed them), and ties each infant to an adult who carries no other. Refused when the offer
/// has fewer passengers than people, or an infant has no adult to sit with.
pub fn name_passengers(
    offer: &[OfferPassenger],
    people: &[Shared],
) -> Result<Vec<NamedPassenger>, PartnerError> {
    let refuse = |message: &str| PartnerError::Refused {
        partner: "travel",
        message: message.into(),
    };
    if people.len() > offer.len() {
        return Err(refuse("the offer has fewer passengers than the party"));
    }
    let mut named: Vec<NamedPassenger> = offer
        .iter()
        .zip(people)
        .map(|(o, p)| NamedPassenger {
            id: o.id.clone(),
            person: p.clone(),
            infant_passenger_id: None,
            services: services(o.fare, p, offer),
        })
        .collect();
    let infants: Vec<String> = offer
        .iter()
        .filter(|o| o.fare == Fare::InfantWithoutSeat)
        .map(|o| o.id.clone())
        .collect();
    for infant in infants {
        // An adult of the party, named, carrying no one yet.
        let carrier = offer
            .iter()
            .zip(named.iter_mut())
            .find(|(o, n)| o.fare.is_adult() && n.infant_passenger_id.is_none())
            .map(|(_, n)| n);
        match carrier {
            Some(adult) => adult.infant_passenger_id = Some(infant),
            None => {
                return Err(refuse(
                    "an infant without a seat needs an adult of the party",
                ));
            }
        }
    }
    Ok(named)
}

/// The special service requests of a passenger flying on `fare` in `offer`: their recorded
/// assistance, and `UMNR` for a child when no adult (a parent, an escort's seat) is on the
/// order.
fn services(fare: Fare, person: &Shared, offer: &[OfferPassenger]) -> Vec<String> {
    let mut codes: Vec<String> = person
        .assistance
        .iter()
        .map(|a| a.ssr_code().to_owned())
        .collect();
    let alone = !offer.iter().any(|o| o.fare.is_adult());
    if alone && matches!(fare, Fare::Child { .. }) {
        codes.push(UNACCOMPANIED_MINOR.to_owned());
    }
    codes
}

#[cfg(test)]
mod tests {
    use super::*;
    use homeward_workflows::domain::CountryCode;

    fn d(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    #[test]
    fn a_fare_follows_the_age_on_the_departure_date() {
        let flight = d("2027-03-10");
        assert_eq!(Fare::on(d("1990-01-01"), flight), Fare::Adult);
        assert_eq!(
            Fare::on(d("2009-03-10"), flight),
            Fare::Adult,
            "18 that day"
        );
        assert_eq!(Fare::on(d("2009-03-11"), flight), Fare::Child { age: 17 });
        assert_eq!(Fare::on(d("2025-03-10"), flight), Fare::Child { age: 2 });
        assert_eq!(Fare::on(d("2025-03-11"), flight), Fare::InfantWithoutSeat);
        assert_eq!(Fare::on(d("2027-01-01"), flight), Fare::InfantWithoutSeat);
    }

    fn person(member: u32, born: &str, airport: Option<&str>) -> Shared {
        Shared {
            member,
            given_name: Some("A".into()),
            family_name: Some("B".into()),
            born_on: Some(d(born)),
            nearest_airport: airport.map(str::to_owned),
            ..Shared::default()
        }
    }

    fn request(travellers: u8) -> OfferRequest {
        OfferRequest {
            reference: CaseRef::parse("HW-0123456789AB").expect("ref"),
            from_country: CountryCode::parse("NLD").expect("NLD"),
            to_country: CountryCode::parse("IRQ").expect("IRQ"),
            earliest: d("2027-03-10"),
            latest: d("2027-03-31"),
            travellers,
            medical_escort: false,
            child_escort: false,
        }
    }

    #[test]
    fn a_search_leaves_from_the_office_and_lands_nearest_the_family() {
        let routes = Routes::default();
        let family = [
            person(0, "1988-05-01", Some("EBL")),
            person(1, "1990-07-02", None),
            person(2, "2026-01-15", None),
        ];
        let s = routes.search(&request(3), &family).expect("search");
        assert_eq!((s.origin.as_str(), s.destination.as_str()), ("AMS", "EBL"));
        assert_eq!(
            s.passengers,
            [Fare::Adult, Fare::Adult, Fare::InfantWithoutSeat]
        );
        // Nobody named an airport (or named one abroad): the country's default; an escort or
        // a member who did not agree to share is an adult seat.
        let abroad = [person(0, "1988-05-01", Some("AMS"))];
        let s = routes.search(&request(2), &abroad).expect("search");
        assert_eq!(s.destination, "BGW");
        assert_eq!(s.passengers, [Fare::Adult, Fare::Adult]);
        // No airport known at all: refused, naming the key.
        let mut bare = Routes::default();
        bare.arrival_airports.clear();
        let err = bare.search(&request(1), &[]).expect_err("no airport");
        assert!(
            err.to_string().contains("travel.arrival_airports.IRQ"),
            "{err}"
        );
    }

    #[test]
    fn configured_airports_must_exist_in_their_country() {
        assert_eq!(Routes::default().check(), Ok(()));
        let mut wrong = Routes::default();
        wrong.arrival_airports.insert("IRQ".into(), "AMS".into());
        assert!(
            wrong
                .check()
                .expect_err("abroad")
                .contains("travel.arrival_airports.IRQ")
        );
        wrong.arrival_airports.insert("IRQ".into(), "QQQ".into());
        assert!(
            wrong
                .check()
                .expect_err("unknown")
                .contains("not an airport")
        );
    }

    /// An offer's passengers, `pas_0`, `pas_1`, … with these fares.
    fn offer(fares: &[Fare]) -> Vec<OfferPassenger> {
        fares
            .iter()
            .enumerate()
            .map(|(i, f)| OfferPassenger {
                id: format!("pas_{i}"),
                fare: *f,
            })
            .collect()
    }

    #[test]
    fn each_infant_sits_with_its_own_adult() {
        let people = [
            person(0, "1988-05-01", None),
            person(1, "1990-07-02", None),
            person(2, "2026-01-15", None),
        ];
        let named = name_passengers(
            &offer(&[Fare::Adult, Fare::Adult, Fare::InfantWithoutSeat]),
            &people,
        )
        .expect("named");
        assert_eq!(named[0].infant_passenger_id.as_deref(), Some("pas_2"));
        assert_eq!(named[1].infant_passenger_id, None);
        let err = name_passengers(
            &offer(&[Fare::Child { age: 9 }, Fare::InfantWithoutSeat]),
            &people[..2],
        )
        .expect_err("no adult");
        assert!(err.to_string().contains("needs an adult"), "{err}");
    }

    #[test]
    fn each_passenger_asks_for_their_own_help_and_a_child_alone_flies_as_an_unaccompanied_minor() {
        use homeward_workflows::person::Assistance;
        let mut mother = person(0, "1988-05-01", None);
        mother.assistance = vec![Assistance::WheelchairCabin, Assistance::Blind];
        let child = person(1, "2017-02-01", None);
        let family = name_passengers(
            &offer(&[Fare::Adult, Fare::Child { age: 10 }]),
            &[mother, child.clone()],
        )
        .expect("named");
        assert_eq!(family[0].services, ["WCHC", "BLND"]);
        assert_eq!(family[1].services, Vec::<String>::new(), "with her mother");
        let alone = name_passengers(
            &offer(&[Fare::Child { age: 10 }]),
            std::slice::from_ref(&child),
        )
        .expect("alone");
        assert_eq!(alone[0].services, [UNACCOMPANIED_MINOR]);
        // An escort's seat (an adult, named by the office) on the order: not unaccompanied.
        let escorted = name_passengers(&offer(&[Fare::Child { age: 10 }, Fare::Adult]), &[child])
            .expect("escorted");
        assert_eq!(escorted[0].services, Vec::<String>::new());
        for a in Assistance::ALL {
            assert!(known_service(a.ssr_code()), "{a:?}");
        }
        assert!(known_service("UMNR") && !known_service("XXXX"));
    }

    #[test]
    fn an_escort_is_booked_out_only_with_a_flight_home_and_the_price_covers_both() {
        use chrono::TimeZone;
        use homeward_workflows::programme::Money;
        let at = |day: u32, hour: u32| {
            chrono::Utc
                .with_ymd_and_hms(2027, 3, day, hour, 0, 0)
                .unwrap()
        };
        let offer = |id: &str, departs_at, minor| Offer {
            offer_id: id.into(),
            departs_at,
            total: Money {
                minor,
                currency: "EUR".into(),
            },
            escort_return_offer_id: None,
        };
        let outbound = vec![
            offer("out-10", at(10, 9), 90_000),
            offer("out-20", at(20, 9), 80_000),
        ];
        let returns = [
            offer("home-10-early", at(10, 15), 10_000), // 6 hours later: no rest
            offer("home-11", at(11, 9), 30_000),
            offer("home-12", at(12, 9), 25_000),
            offer("home-30", at(30, 9), 5_000), // 10 days after the second: too late
        ];
        let paired = with_escort_returns(outbound, &returns);
        assert_eq!(paired.len(), 1, "no way home from the 20th: not offered");
        assert_eq!(paired[0].offer_id, "out-10");
        assert_eq!(paired[0].escort_return_offer_id.as_deref(), Some("home-12"));
        assert_eq!(paired[0].total.minor, 115_000);
        let routes = Routes::default();
        let mut request = request(2);
        request.medical_escort = true;
        let out = routes.search(&request, &[]).expect("search");
        let home = escort_return_search(&out);
        assert_eq!(
            (home.origin.as_str(), home.destination.as_str()),
            ("BGW", "AMS")
        );
        assert_eq!(home.passengers, [Fare::Adult]);
        assert_eq!(home.earliest, d("2027-03-11"));
        assert_eq!(home.latest, d("2027-04-04"));
    }
}
