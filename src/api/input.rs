//! What the API accepts in ids and free text, checked before anything reaches the store: an id
//! the stream would refuse is refused here too, and text carries no control characters (a NUL
//! cannot even be stored in PostgreSQL; escape sequences would reach reviewers' terminals).

use super::error::ApiError;
use crate::case::CaseId;
use crate::message::AccountId;

/// An account id as the stream takes it (`message::AccountId`), else 422.
pub fn account_id(raw: String) -> Result<AccountId, ApiError> {
    AccountId::parse("account_id", raw).map_err(|error| ApiError::invalid(error.to_string()))
}

/// A case id (`case::CaseId`); anything else names no case: 404 without asking the store.
pub fn case_id(raw: String) -> Result<CaseId, ApiError> {
    CaseId::parse(raw).map_err(|_| ApiError::not_found("case"))
}

/// An appeal id; one that cannot be an id (empty, over 128 bytes, whitespace or control
/// characters) names nothing: 404 without asking the store.
pub fn record_id(raw: String, what: &str) -> Result<String, ApiError> {
    let possible = !raw.is_empty()
        && raw.len() <= 128
        && !raw.chars().any(|c| c.is_whitespace() || c.is_control());
    if possible {
        Ok(raw)
    } else {
        Err(ApiError::not_found(what))
    }
}

/// Free text written by a person: trimmed, 1 to `max_chars` characters, no control characters
/// but tab and line breaks; else 422 naming the field.
pub fn text<'a>(field: &str, raw: &'a str, max_chars: usize) -> Result<&'a str, ApiError> {
    let text = raw.trim();
    if text.is_empty() || text.chars().count() > max_chars {
        return Err(ApiError::invalid(format!(
            "`{field}` must be 1 to {max_chars} characters"
        )));
    }
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        return Err(ApiError::invalid(format!(
            "`{field}` must not contain control characters"
        )));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_text_with_control_characters_are_refused() {
        assert_eq!(account_id("AC1".into()).unwrap().as_str(), "AC1");
        for bad in ["", "AC1\0", "' OR 1=1 --", &"A".repeat(129)] {
            assert_eq!(
                account_id(bad.into()).unwrap_err().status.as_u16(),
                422,
                "{bad:?}"
            );
            assert_eq!(
                record_id(bad.into(), "case").unwrap_err().status.as_u16(),
                404
            );
            assert_eq!(case_id(bad.into()).unwrap_err().status.as_u16(), 404);
        }
        assert_eq!(
            text("note", "  fine\n\tthanks ", 20).unwrap(),
            "fine\n\tthanks"
        );
        for bad in ["", "  ", "a\0b", "\u{1b}[31mred", "x".repeat(21).as_str()] {
            assert_eq!(
                text("note", bad, 20).unwrap_err().status.as_u16(),
                422,
                "{bad:?}"
            );
        }
    }
}
