//! Reads a JSON object field by field, collecting every problem, so that one 400 names each bad
//! or unknown field at once instead of the first one only.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use homeward_workflows::domain::DomainError;

use crate::error::ApiError;

/// A request body being turned into domain types.
pub struct FieldReader {
    /// The fields not read yet; whatever is left at the end is unknown.
    object: Map<String, Value>,
    /// Field name to problem.
    problems: BTreeMap<String, String>,
}

impl FieldReader {
    /// Starts reading a body that must be a JSON object.
    pub fn new(body: Value) -> Result<Self, ApiError> {
        match body {
            Value::Object(object) => Ok(Self {
                object,
                problems: BTreeMap::new(),
            }),
            _ => Err(ApiError::field("body", "must be a JSON object")),
        }
    }

    /// Reads a required field and parses it; records a problem if it is missing or bad.
    pub fn required<T>(
        &mut self,
        name: &'static str,
        parse: impl FnOnce(&Value) -> Result<T, DomainError>,
    ) -> Option<T> {
        match self.object.remove(name) {
            None | Some(Value::Null) => {
                self.problems
                    .insert(name.to_owned(), "is required".to_owned());
                None
            }
            Some(value) => match parse(&value) {
                Ok(v) => Some(v),
                Err(e) => {
                    self.problems.insert(name.to_owned(), e.problem);
                    None
                }
            },
        }
    }

    /// Reads an optional field; records a problem if present and bad.
    pub fn optional<T>(
        &mut self,
        name: &'static str,
        parse: impl FnOnce(&Value) -> Result<T, DomainError>,
    ) -> Option<T> {
        match self.object.remove(name) {
            None | Some(Value::Null) => None,
            Some(value) => match parse(&value) {
                Ok(v) => Some(v),
                Err(e) => {
                    self.problems.insert(name.to_owned(), e.problem);
                    None
                }
            },
        }
    }

    /// Records a problem found by a check across fields.
    pub fn problem(&mut self, name: &str, problem: impl Into<String>) {
        self.problems.insert(name.to_owned(), problem.into());
    }

    /// Ends reading: unknown fields and every recorded problem become one 400.
    pub fn finish(mut self) -> Result<(), ApiError> {
        for unknown in self.object.keys() {
            self.problems
                .insert(unknown.clone(), "is not a known field".to_owned());
        }
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid(self.problems))
        }
    }
}

/// A string value, or a problem for the field.
pub fn as_str<'a>(field: &'static str, value: &'a Value) -> Result<&'a str, DomainError> {
    value.as_str().ok_or(DomainError {
        field,
        problem: "must be a string".to_owned(),
    })
}

/// A whole-number value, or a problem for the field.
pub fn as_integer(field: &'static str, value: &Value) -> Result<i64, DomainError> {
    value.as_i64().ok_or(DomainError {
        field,
        problem: "must be a whole number".to_owned(),
    })
}
