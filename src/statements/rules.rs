//! The Transparency Database's published rules for a statement of reasons (API v2): which
//! fields are required, which are required together, the values each list allows, lengths
//! and date formats. `problems` names every rule a statement breaks, so that nothing leaves
//! that the database would refuse; the lists are also what the policy file's tags are checked
//! against when it is loaded.

use serde_json::Value;

/// Why the database would refuse `statement`: every rule it breaks, or none.
pub fn problems(statement: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(fields) = statement.as_object() else {
        return vec!["a statement is a JSON object".into()];
    };
    let text = |key: &str| fields.get(key).and_then(Value::as_str);
    let require = |key: &str, problems: &mut Vec<String>| {
        if fields.get(key).is_none_or(Value::is_null) {
            problems.push(format!("{key} is required"));
        }
    };
    for key in [
        "decision_ground",
        "category",
        "content_type",
        "content_date",
        "application_date",
        "decision_facts",
        "source_type",
        "automated_detection",
        "automated_decision",
        "puid",
    ] {
        require(key, &mut problems);
    }
    let decisions = [
        "decision_visibility",
        "decision_monetary",
        "decision_provision",
        "decision_account",
    ];
    if decisions.iter().all(|key| fields.get(*key).is_none()) {
        problems.push(format!("one of {} is required", decisions.join(", ")));
    }
    // Single values from a list.
    for (key, allowed) in [
        ("decision_monetary", MONETARY.as_slice()),
        ("decision_provision", PROVISION.as_slice()),
        ("decision_account", ACCOUNT.as_slice()),
        ("account_type", ACCOUNT_TYPES.as_slice()),
        ("decision_ground", GROUNDS.as_slice()),
        ("incompatible_content_illegal", YES_NO.as_slice()),
        ("category", CATEGORIES.as_slice()),
        ("source_type", SOURCES.as_slice()),
        ("automated_detection", YES_NO.as_slice()),
        ("automated_decision", AUTOMATION.as_slice()),
    ] {
        if let Some(value) = fields.get(key) {
            match value.as_str() {
                Some(v) if allowed.contains(&v) => {}
                _ => problems.push(format!("{key}: {value} is not an allowed value")),
            }
        }
    }
    // Lists of values from a list.
    for (key, allowed, non_empty) in [
        ("decision_visibility", VISIBILITY.as_slice(), true),
        ("content_type", CONTENT_TYPES.as_slice(), true),
        ("category_addition", CATEGORIES.as_slice(), false),
        ("category_specification", KEYWORDS.as_slice(), false),
        ("territorial_scope", COUNTRIES.as_slice(), false),
    ] {
        let Some(value) = fields.get(key) else {
            continue;
        };
        match value.as_array() {
            Some(items) if non_empty && items.is_empty() => {
                problems.push(format!("{key} needs at least one value"))
            }
            Some(items) => {
                for item in items {
                    if !item.as_str().is_some_and(|v| allowed.contains(&v)) {
                        problems.push(format!("{key}: {item} is not an allowed value"));
                    }
                }
            }
            None => problems.push(format!("{key} must be a list")),
        }
    }
    // Free text, with its length.
    for (key, max) in [
        ("decision_visibility_other", 500),
        ("decision_monetary_other", 500),
        ("decision_facts", 5000),
        ("decision_ground_reference_url", 500),
        ("illegal_content_legal_ground", 500),
        ("illegal_content_explanation", 2000),
        ("incompatible_content_ground", 500),
        ("incompatible_content_explanation", 2000),
        ("content_type_other", 500),
        ("category_specification_other", 500),
        ("source_identity", 500),
        ("puid", 500),
    ] {
        if let Some(value) = fields.get(key) {
            match value.as_str() {
                Some(v) if v.chars().count() <= max => {}
                Some(_) => problems.push(format!("{key} is longer than {max} characters")),
                None => problems.push(format!("{key} must be text")),
            }
        }
    }
    // What one value requires of another.
    let listed = |key: &str, value: &str| {
        fields
            .get(key)
            .and_then(Value::as_array)
            .is_some_and(|items| items.iter().any(|i| i == value))
    };
    let conditional = [
        (
            text("decision_ground") == Some("DECISION_GROUND_ILLEGAL_CONTENT"),
            [
                "illegal_content_legal_ground",
                "illegal_content_explanation",
            ]
            .as_slice(),
        ),
        (
            text("decision_ground") == Some("DECISION_GROUND_INCOMPATIBLE_CONTENT"),
            [
                "incompatible_content_ground",
                "incompatible_content_explanation",
            ]
            .as_slice(),
        ),
        (
            listed("decision_visibility", "DECISION_VISIBILITY_OTHER"),
            ["decision_visibility_other"].as_slice(),
        ),
        (
            text("decision_monetary") == Some("DECISION_MONETARY_OTHER"),
            ["decision_monetary_other"].as_slice(),
        ),
        (
            listed("content_type", "CONTENT_TYPE_OTHER"),
            ["content_type_other"].as_slice(),
        ),
    ];
    for (applies, keys) in conditional {
        for key in keys.iter().filter(|_| applies) {
            if text(key).is_none_or(str::is_empty) {
                problems.push(format!("{key} is required here"));
            }
        }
    }
    if let Some(puid) = text("puid")
        && (puid.is_empty()
            || !puid
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    {
        problems.push("puid may hold only letters, digits, - and _".into());
    }
    // Dates: YYYY-MM-DD within the database's bounds; restrictions end no earlier than they
    // apply.
    let parsed = |key: &str, earliest: &str, problems: &mut Vec<String>| {
        let value = text(key)?;
        let well_formed = value.len() == 10
            && time::Date::parse(
                value,
                time::macros::format_description!("[year]-[month]-[day]"),
            )
            .is_ok();
        if !well_formed {
            problems.push(format!("{key}: `{value}` is not a YYYY-MM-DD date"));
            return None;
        }
        // The format makes text order date order.
        if value < earliest || value > "2038-01-01" {
            problems.push(format!(
                "{key}: {value} is outside {earliest} to 2038-01-01"
            ));
        }
        Some(value.to_owned())
    };
    parsed("content_date", "2000-01-01", &mut problems);
    let applied = parsed("application_date", "2020-01-01", &mut problems);
    for key in [
        "end_date_account_restriction",
        "end_date_monetary_restriction",
        "end_date_service_restriction",
        "end_date_visibility_restriction",
    ] {
        if let (Some(end), Some(applied)) =
            (parsed(key, "2020-01-01", &mut problems), applied.as_deref())
            && end.as_str() < applied
        {
            problems.push(format!("{key}: {end} is before application_date {applied}"));
        }
    }
    if let Some(content_id) = fields.get("content_id") {
        let ean_only = content_id
            .as_object()
            .is_some_and(|ids| ids.keys().all(|k| k == "EAN-13") && !ids.is_empty());
        if !ean_only {
            problems.push("content_id may hold only an EAN-13".into());
        }
    }
    problems
}

const VISIBILITY: [&str; 7] = [
    "DECISION_VISIBILITY_CONTENT_REMOVED",
    "DECISION_VISIBILITY_CONTENT_DISABLED",
    "DECISION_VISIBILITY_CONTENT_DEMOTED",
    "DECISION_VISIBILITY_CONTENT_AGE_RESTRICTED",
    "DECISION_VISIBILITY_CONTENT_INTERACTION_RESTRICTED",
    "DECISION_VISIBILITY_CONTENT_LABELLED",
    "DECISION_VISIBILITY_OTHER",
];
const MONETARY: [&str; 3] = [
    "DECISION_MONETARY_SUSPENSION",
    "DECISION_MONETARY_TERMINATION",
    "DECISION_MONETARY_OTHER",
];
const PROVISION: [&str; 4] = [
    "DECISION_PROVISION_PARTIAL_SUSPENSION",
    "DECISION_PROVISION_TOTAL_SUSPENSION",
    "DECISION_PROVISION_PARTIAL_TERMINATION",
    "DECISION_PROVISION_TOTAL_TERMINATION",
];
const ACCOUNT: [&str; 2] = ["DECISION_ACCOUNT_SUSPENDED", "DECISION_ACCOUNT_TERMINATED"];
const ACCOUNT_TYPES: [&str; 2] = ["ACCOUNT_TYPE_BUSINESS", "ACCOUNT_TYPE_PRIVATE"];
const GROUNDS: [&str; 2] = [
    "DECISION_GROUND_ILLEGAL_CONTENT",
    "DECISION_GROUND_INCOMPATIBLE_CONTENT",
];
const YES_NO: [&str; 2] = ["Yes", "No"];
const CONTENT_TYPES: [&str; 8] = [
    "CONTENT_TYPE_APP",
    "CONTENT_TYPE_AUDIO",
    "CONTENT_TYPE_IMAGE",
    "CONTENT_TYPE_PRODUCT",
    "CONTENT_TYPE_SYNTHETIC_MEDIA",
    "CONTENT_TYPE_TEXT",
    "CONTENT_TYPE_VIDEO",
    "CONTENT_TYPE_OTHER",
];
const SOURCES: [&str; 4] = [
    "SOURCE_ARTICLE_16",
    "SOURCE_TRUSTED_FLAGGER",
    "SOURCE_TYPE_OTHER_NOTIFICATION",
    "SOURCE_VOLUNTARY",
];
const AUTOMATION: [&str; 3] = [
    "AUTOMATED_DECISION_FULLY",
    "AUTOMATED_DECISION_PARTIALLY",
    "AUTOMATED_DECISION_NOT_AUTOMATED",
];
/// The EU's and the EEA's member states.
pub(super) const COUNTRIES: [&str; 30] = [
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IS",
    "IT", "LI", "LT", "LU", "LV", "MT", "NL", "NO", "PL", "PT", "RO", "SE", "SI", "SK",
];
pub(super) const CATEGORIES: [&str; 16] = [
    "STATEMENT_CATEGORY_ANIMAL_WELFARE",
    "STATEMENT_CATEGORY_CONSUMER_INFORMATION",
    "STATEMENT_CATEGORY_CYBER_VIOLENCE",
    "STATEMENT_CATEGORY_CYBER_VIOLENCE_AGAINST_WOMEN",
    "STATEMENT_CATEGORY_DATA_PROTECTION_AND_PRIVACY_VIOLATIONS",
    "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH",
    "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS",
    "STATEMENT_CATEGORY_NEGATIVE_EFFECTS_ON_CIVIC_DISCOURSE_OR_ELECTIONS",
    "STATEMENT_CATEGORY_NOT_SPECIFIED_NOTICE",
    "STATEMENT_CATEGORY_OTHER_VIOLATION_TC",
    "STATEMENT_CATEGORY_PROTECTION_OF_MINORS",
    "STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY",
    "STATEMENT_CATEGORY_SCAMS_AND_FRAUD",
    "STATEMENT_CATEGORY_SELF_HARM",
    "STATEMENT_CATEGORY_UNSAFE_AND_PROHIBITED_PRODUCTS",
    "STATEMENT_CATEGORY_VIOLENCE",
];
pub(super) const KEYWORDS: [&str; 69] = [
    "KEYWORD_ANIMAL_HARM",
    "KEYWORD_UNLAWFUL_SALE_ANIMALS",
    "KEYWORD_HIDDEN_ADVERTISEMENT",
    "KEYWORD_INSUFFICIENT_INFORMATION_ON_TRADERS",
    "KEYWORD_MISLEADING_INFO_GOODS_SERVICES",
    "KEYWORD_MISLEADING_INFO_CONSUMER_RIGHTS",
    "KEYWORD_NONCOMPLIANCE_PRICING",
    "KEYWORD_CYBER_BULLYING_INTIMIDATION",
    "KEYWORD_CYBER_HARASSMENT",
    "KEYWORD_CYBER_INCITEMENT",
    "KEYWORD_CYBER_STALKING",
    "KEYWORD_NON_CONSENSUAL_IMAGE_SHARING",
    "KEYWORD_NON_CONSENSUAL_MATERIAL_DEEPFAKE",
    "KEYWORD_BULLYING_AGAINST_GIRLS",
    "KEYWORD_CYBER_HARASSMENT_AGAINST_WOMEN",
    "KEYWORD_CYBER_STALKING_AGAINST_WOMEN",
    "KEYWORD_FEMALE_GENDERED_DISINFORMATION",
    "KEYWORD_INCITEMENT_AGAINST_WOMEN",
    "KEYWORD_NON_CONSENSUAL_IMAGE_SHARING_AGAINST_WOMEN",
    "KEYWORD_NON_CONSENSUAL_MATERIAL_DEEPFAKE_AGAINST_WOMEN",
    "KEYWORD_BIOMETRIC_DATA_BREACH",
    "KEYWORD_DATA_FALSIFICATION",
    "KEYWORD_MISSING_PROCESSING_GROUND",
    "KEYWORD_RIGHT_TO_BE_FORGOTTEN",
    "KEYWORD_DEFAMATION",
    "KEYWORD_DISCRIMINATION",
    "KEYWORD_HATE_SPEECH",
    "KEYWORD_COPYRIGHT_INFRINGEMENT",
    "KEYWORD_DESIGN_INFRINGEMENT",
    "KEYWORD_GEOGRAPHIC_INDICATIONS_INFRINGEMENT",
    "KEYWORD_PATENT_INFRINGEMENT",
    "KEYWORD_TRADE_SECRET_INFRINGEMENT",
    "KEYWORD_TRADEMARK_INFRINGEMENT",
    "KEYWORD_MISINFORMATION_DISINFORMATION",
    "KEYWORD_VIOLATION_EU_LAW",
    "KEYWORD_VIOLATION_NATIONAL_LAW",
    "KEYWORD_ADULT_SEXUAL_MATERIAL",
    "KEYWORD_AGE_SPECIFIC_RESTRICTIONS",
    "KEYWORD_GEOGRAPHICAL_REQUIREMENTS",
    "KEYWORD_GOODS_SERVICES_NOT_PERMITTED",
    "KEYWORD_LANGUAGE_REQUIREMENTS",
    "KEYWORD_NUDITY",
    "KEYWORD_AGE_SPECIFIC_RESTRICTIONS_MINORS",
    "KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL",
    "KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL_DEEPFAKE",
    "KEYWORD_GROOMING_SEXUAL_ENTICEMENT_MINORS",
    "KEYWORD_UNSAFE_CHALLENGES",
    "KEYWORD_ILLEGAL_ORGANIZATIONS",
    "KEYWORD_RISK_ENVIRONMENTAL_DAMAGE",
    "KEYWORD_RISK_PUBLIC_HEALTH",
    "KEYWORD_TERRORIST_CONTENT",
    "KEYWORD_IMPERSONATION_ACCOUNT_HIJACKING",
    "KEYWORD_INAUTHENTIC_ACCOUNTS",
    "KEYWORD_INAUTHENTIC_LISTINGS",
    "KEYWORD_INAUTHENTIC_USER_REVIEWS",
    "KEYWORD_PHISHING",
    "KEYWORD_PYRAMID_SCHEMES",
    "KEYWORD_CONTENT_PROMOTING_EATING_DISORDERS",
    "KEYWORD_SELF_MUTILATION",
    "KEYWORD_SUICIDE",
    "KEYWORD_PROHIBITED_PRODUCTS",
    "KEYWORD_UNSAFE_PRODUCTS",
    "KEYWORD_COORDINATED_HARM",
    "KEYWORD_INCITEMENT_VIOLENCE_HATRED",
    "KEYWORD_HUMAN_EXPLOITATION",
    "KEYWORD_HUMAN_TRAFFICKING",
    "KEYWORD_TRAFFICKING_WOMEN_GIRLS",
    "KEYWORD_STALKING",
    "KEYWORD_OTHER",
];
