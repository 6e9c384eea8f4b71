//! Reads a query string parameter by parameter, collecting every problem, so that one 400
//! names each bad or unknown parameter at once (the query-string twin of `fields.rs`).

use std::collections::BTreeMap;

use axum::extract::{FromRequestParts, RawQuery};
use axum::http::request::Parts;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// The parameters of a request's query string, being turned into domain types.
#[derive(Debug)]
pub struct QueryReader {
    params: BTreeMap<String, String>,
    problems: BTreeMap<String, String>,
}

impl<S: Send + Sync> FromRequestParts<S> for QueryReader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let RawQuery(raw) = RawQuery::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::field("query", "is not a valid query string"))?;
        Self::parse(raw.as_deref().unwrap_or(""))
    }
}

impl QueryReader {
    /// Parses `a=1&b=2`; a parameter given twice is refused.
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw)
            .map_err(|_| ApiError::field("query", "is not a valid query string"))?;
        let mut params = BTreeMap::new();
        let mut problems = BTreeMap::new();
        for (key, value) in pairs {
            if params.insert(key.clone(), value).is_some() {
                problems.insert(key, "is given more than once".to_owned());
            }
        }
        Ok(Self { params, problems })
    }

    /// An optional parameter parsed by `parse`, whose error text names what is expected.
    pub fn optional<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let raw = self.params.remove(name)?;
        match parse(&raw) {
            Ok(v) => Some(v),
            Err(problem) => {
                self.problems.insert(name.to_owned(), problem);
                None
            }
        }
    }

    /// A whole number between `min` and `max`, or `default`.
    pub fn number(&mut self, name: &str, min: i64, max: i64, default: i64) -> i64 {
        self.optional(name, |raw| match raw.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(format!("must be a whole number from {min} to {max}")),
        })
        .unwrap_or(default)
    }

    /// `true` or `false`.
    pub fn flag(&mut self, name: &str) -> Option<bool> {
        self.optional(name, |raw| match raw {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err("must be true or false".to_owned()),
        })
    }

    /// An RFC 3339 instant (`2027-01-31T00:00:00Z`) or a date (`2027-01-31`, midnight UTC),
    /// in the years 1970 to 9999 (what Temporal's visibility and RFC 3339 can hold).
    pub fn instant(&mut self, name: &str) -> Option<DateTime<Utc>> {
        self.optional(name, |raw| {
            let problem = || "must be a date (2027-01-31) or an RFC 3339 time, years 1970-9999";
            let t = DateTime::parse_from_rfc3339(raw)
                .map(|t| t.with_timezone(&Utc))
                .or_else(|_| {
                    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                        .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
                })
                .map_err(|_| problem().to_owned())?;
            if (1970..=9999).contains(&t.year()) {
                Ok(t)
            } else {
                Err(problem().to_owned())
            }
        })
    }

    /// One of a serde enum's snake_case names, e.g. a stage or a task type.
    pub fn name<T: DeserializeOwned>(&mut self, name: &str, what: &str) -> Option<T> {
        self.optional(name, |raw| {
            serde_json::from_value(serde_json::Value::String(raw.to_owned()))
                .map_err(|_| format!("is not a known {what}"))
        })
    }

    /// Records a problem found by a check across parameters.
    pub fn problem(&mut self, name: &str, problem: impl Into<String>) {
        self.problems.insert(name.to_owned(), problem.into());
    }

    /// Ends reading: unknown parameters and every recorded problem become one 400.
    pub fn finish(mut self) -> Result<(), ApiError> {
        for unknown in self.params.keys() {
            self.problems
                .insert(unknown.clone(), "is not a known parameter".to_owned());
        }
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid(self.problems))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bad_parameter_is_named() {
        let mut q = QueryReader::parse("limit=0&overdue=yes&due_before=31/01/2027&x=1").unwrap();
        q.number("limit", 1, 100, 25);
        q.flag("overdue");
        q.instant("due_before");
        let ApiError::BadRequest { fields, .. } = q.finish().unwrap_err() else {
            panic!("expected a 400")
        };
        let names: Vec<&str> = fields.keys().map(String::as_str).collect();
        assert_eq!(names, ["due_before", "limit", "overdue", "x"]);
    }

    #[test]
    fn a_date_beyond_what_visibility_holds_is_a_bad_parameter() {
        for raw in ["+10000-01-01", "1969-12-31", "0001-01-01T00:00:00Z"] {
            let mut q = QueryReader::parse(&format!("due_before={raw}")).unwrap();
            assert!(q.instant("due_before").is_none(), "{raw}");
            let ApiError::BadRequest { fields, .. } = q.finish().unwrap_err() else {
                panic!("expected a 400")
            };
            assert!(fields.contains_key("due_before"), "{raw}");
        }
    }

    #[test]
    fn good_parameters_parse() {
        let mut q = QueryReader::parse("limit=5&overdue=true&due_before=2027-01-31").unwrap();
        assert_eq!(q.number("limit", 1, 100, 25), 5);
        assert_eq!(q.flag("overdue"), Some(true));
        assert_eq!(
            q.instant("due_before").unwrap().to_rfc3339(),
            "2027-01-31T00:00:00+00:00"
        );
        q.finish().unwrap();
    }
}
