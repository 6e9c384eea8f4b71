//! Workflow IDs, built in one place so that no caller can put personal data into one.

use crate::domain::CaseRef;

/// The prefix of every ReturnCase workflow ID.
pub const RETURN_CASE_PREFIX: &str = "return-case-";

/// The workflow ID of a case: its random public reference and nothing else.
pub fn return_case_workflow_id(reference: &CaseRef) -> String {
    format!("{RETURN_CASE_PREFIX}{reference}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflow_id_is_the_reference_and_nothing_else() {
        let r = CaseRef::parse("HW-0123456789AB").unwrap();
        assert_eq!(return_case_workflow_id(&r), "return-case-HW-0123456789AB");
    }
}
