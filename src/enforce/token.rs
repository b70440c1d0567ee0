//! Appeal tokens: the account holder's proof, carried in the notice's appeal URL, that they may
//! appeal one case of one account until a deadline.
//!
//! A token is `base64url(case_id "|" account_id "|" expires_unix) "." base64url(HMAC-SHA256)`.
//! It needs no database lookup to verify and cannot be forged or extended without the secret.
//! Tokens are credentials: never log them.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use time::OffsetDateTime;

use crate::case::CaseId;
use crate::message::AccountId;
use crate::privacy::Secret;

/// What a valid token grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppealGrant {
    pub case_id: CaseId,
    pub account_id: AccountId,
    pub expires_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the appeal token is malformed")]
    Malformed,
    #[error("the appeal token's signature does not verify")]
    BadSignature,
    #[error("the appeal token expired at {0}")]
    Expired(OffsetDateTime),
}

/// Signs a grant into a token.
pub fn sign(secret: &Secret, grant: &AppealGrant) -> String {
    let payload = format!(
        "{}|{}|{}",
        grant.case_id,
        grant.account_id,
        grant.expires_at.unix_timestamp()
    );
    let mac = mac(secret, payload.as_bytes()).finalize().into_bytes();
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(payload),
        URL_SAFE_NO_PAD.encode(mac)
    )
}

/// Verifies a token's signature (in constant time) and expiry, and returns its grant.
pub fn verify(
    secret: &Secret,
    token: &str,
    now: OffsetDateTime,
) -> Result<AppealGrant, TokenError> {
    let (payload, signature) = token.split_once('.').ok_or(TokenError::Malformed)?;
    let payload = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| TokenError::Malformed)?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| TokenError::Malformed)?;
    mac(secret, &payload)
        .verify_slice(&signature)
        .map_err(|_| TokenError::BadSignature)?;
    // Only a payload this module signed gets here, so a parse failure is a bug, not an attack;
    // it is still reported as malformed rather than trusted.
    let payload = String::from_utf8(payload).map_err(|_| TokenError::Malformed)?;
    let mut parts = payload.split('|');
    let (Some(case_id), Some(account_id), Some(expires), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let expires_at = expires
        .parse::<i64>()
        .ok()
        .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
        .ok_or(TokenError::Malformed)?;
    if now >= expires_at {
        return Err(TokenError::Expired(expires_at));
    }
    Ok(AppealGrant {
        case_id: CaseId::parse(case_id.to_owned()).map_err(|_| TokenError::Malformed)?,
        account_id: AccountId::parse("account_id", account_id.to_owned())
            .map_err(|_| TokenError::Malformed)?,
        expires_at,
    })
}

fn mac(secret: &Secret, payload: &[u8]) -> Hmac<Sha256> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.expose()).expect("HMAC takes any key length");
    mac.update(payload);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;
    use time::macros::datetime;

    const CASE: &str = "CS0123456789abcdef01234567";

    fn grant() -> AppealGrant {
        AppealGrant {
            case_id: CaseId::parse(CASE.into()).unwrap(),
            account_id: AccountId::parse("account_id", "AC93b1".into()).unwrap(),
            expires_at: datetime!(2026-12-29 00:00 UTC),
        }
    }

    #[test]
    fn a_signed_token_verifies_until_it_expires() {
        let secret = Secret::new("appeal-secret");
        let token = sign(&secret, &grant());
        let now = datetime!(2026-12-01 00:00 UTC);
        assert_eq!(verify(&secret, &token, now), Ok(grant()));
        let later = grant().expires_at + Duration::seconds(1);
        assert_eq!(
            verify(&secret, &token, later),
            Err(TokenError::Expired(grant().expires_at))
        );
    }

    #[test]
    fn a_tampered_token_or_another_secret_is_refused() {
        let secret = Secret::new("appeal-secret");
        let token = sign(&secret, &grant());
        let now = datetime!(2026-12-01 00:00 UTC);
        // Another account's id with the original signature.
        let (_, signature) = token.split_once('.').unwrap();
        let forged = format!(
            "{}.{signature}",
            URL_SAFE_NO_PAD.encode(format!("{CASE}|AC0000|1798502400"))
        );
        assert_eq!(verify(&secret, &forged, now), Err(TokenError::BadSignature));
        assert_eq!(
            verify(&Secret::new("other"), &token, now),
            Err(TokenError::BadSignature)
        );
        let mut flipped = token.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        assert_eq!(
            verify(&secret, &flipped, now),
            Err(TokenError::BadSignature)
        );
        assert_eq!(verify(&secret, "no-dot", now), Err(TokenError::Malformed));
        assert_eq!(verify(&secret, "!!.??", now), Err(TokenError::Malformed));
    }
}
