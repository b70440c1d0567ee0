//! The API's endpoints as one table: the router is built from it and `/openapi.json` is
//! generated from it, so the document cannot miss or misname a route.

use axum::routing::{MethodRouter, delete, get, post, put};
use serde_json::{Value, json};

use super::{AppState, admin, holder, review};

/// Who may call an endpoint.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Public,
    /// The appeal token from the holder's notice (in the body or `?token=`).
    Holder,
    Reviewer,
    Admin,
}

/// One endpoint: where, what, who, its query parameters and its request body's fields (each
/// name, type, meaning).
pub struct Endpoint {
    pub method: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    pub access: Access,
    pub query: &'static [(&'static str, &'static str, &'static str)],
    pub body: &'static [(&'static str, &'static str, &'static str)],
    pub handler: MethodRouter<AppState>,
}

const REASON: &[(&str, &str, &str)] = &[("reason", "string", "Why, for the audit log")];
const VERSION: &[(&str, &str, &str)] = &[("version", "string", "The rules version to put back")];

pub fn endpoints() -> Vec<Endpoint> {
    use Access::*;
    let e = |method, path, summary, access, body, handler| Endpoint {
        method,
        path,
        summary,
        access,
        query: &[],
        body,
        handler,
    };
    vec![
        e(
            "get",
            "/healthz",
            "Liveness",
            Public,
            &[],
            get(super::healthz),
        ),
        e(
            "get",
            "/readyz",
            "Readiness: database and broker reachable",
            Public,
            &[],
            get(super::readyz),
        ),
        e(
            "get",
            "/metrics",
            "Prometheus metrics",
            Public,
            &[],
            get(super::metrics),
        ),
        e(
            "get",
            "/openapi.json",
            "This document",
            Public,
            &[],
            get(document),
        ),
        e(
            "post",
            "/v1/appeals",
            "Appeal a suspension (201; an existing appeal of the case: 200)",
            Holder,
            &[
                ("token", "string", "The token from the notice's appeal URL"),
                (
                    "statement",
                    "string",
                    "The holder's account of what happened (1-4000 characters)",
                ),
            ],
            post(holder::open),
        ),
        Endpoint {
            query: &[("token", "string", "The token from the notice's appeal URL")],
            ..e(
                "get",
                "/v1/appeals/{id}",
                "An appeal's status and, once decided, its outcome",
                Holder,
                &[],
                get(holder::show),
            )
        },
        Endpoint {
            query: &[(
                "limit",
                "integer",
                "At most this many cases (1-1000, default 100)",
            )],
            ..e(
                "get",
                "/v1/review/queue",
                "Cases waiting for a human, oldest first, with age and due time",
                Reviewer,
                &[],
                get(review::queue),
            )
        },
        e(
            "get",
            "/v1/review/cases/{case_id}",
            "A case in full: reasons, scores, evidence, signals, appeal, history",
            Reviewer,
            &[],
            get(review::case),
        ),
        e(
            "post",
            "/v1/review/cases/{case_id}/claim",
            "Claim a case (one reviewer at a time; the claim lapses)",
            Reviewer,
            &[],
            post(review::claim),
        ),
        e(
            "post",
            "/v1/review/cases/{case_id}/release",
            "Release one's own claim on a case",
            Reviewer,
            &[],
            post(review::release),
        ),
        e(
            "post",
            "/v1/review/cases/{case_id}/decision",
            "Decide: overturn reinstates, uphold keeps (or, in review, suspends)",
            Reviewer,
            &[
                ("outcome", "string", "uphold | overturn"),
                (
                    "note",
                    "string",
                    "The explanation the holder is sent (1-2000 characters)",
                ),
            ],
            post(review::decide_case),
        ),
        e(
            "post",
            "/v1/admin/accounts/{account_id}/suspend",
            "Suspend an account by hand",
            Admin,
            REASON,
            post(admin::suspend),
        ),
        e(
            "post",
            "/v1/admin/accounts/{account_id}/reinstate",
            "Reinstate an account by hand",
            Admin,
            REASON,
            post(admin::reinstate),
        ),
        e(
            "put",
            "/v1/admin/accounts/{account_id}/legal-hold",
            "Set a legal hold (erasure is refused while set)",
            Admin,
            REASON,
            put(admin::set_hold),
        ),
        e(
            "delete",
            "/v1/admin/accounts/{account_id}/legal-hold",
            "Lift a legal hold",
            Admin,
            &[],
            delete(admin::lift_hold),
        ),
        e(
            "delete",
            "/v1/admin/accounts/{account_id}/evidence",
            "Erase the account's evidence excerpts and labels",
            Admin,
            &[],
            delete(admin::erase),
        ),
        e(
            "get",
            "/v1/admin/accounts/{account_id}/export",
            "Everything kept about an account",
            Admin,
            &[],
            get(admin::export),
        ),
        Endpoint {
            query: &[("account_id", "string", "The account whose log to show")],
            ..e(
                "get",
                "/v1/admin/audit",
                "An account's audit log",
                Admin,
                &[],
                get(admin::audit),
            )
        },
        e(
            "get",
            "/v1/admin/breaker",
            "The circuit breaker: tripped or not, since when, by whom",
            Admin,
            &[],
            get(admin::breaker),
        ),
        e(
            "post",
            "/v1/admin/breaker/reset",
            "Reset a tripped circuit breaker (409 when it is not tripped)",
            Admin,
            REASON,
            post(admin::reset_breaker),
        ),
        e(
            "post",
            "/v1/admin/rules/reload",
            "Reload rules and policy (validated; the old set stays on error), recorded in the version history",
            Admin,
            &[],
            post(admin::reload),
        ),
        e(
            "get",
            "/v1/admin/rules/versions",
            "The rules and policy sets taken, newest first: who, when, what changed",
            Admin,
            &[],
            get(admin::versions),
        ),
        e(
            "post",
            "/v1/admin/rules/rollback",
            "Put an earlier rules and policy set back (validated like a reload), recorded",
            Admin,
            VERSION,
            post(admin::rollback),
        ),
    ]
}

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    })
}

/// The OpenAPI 3.1 document of [`endpoints`].
pub fn openapi() -> Value {
    let mut paths = serde_json::Map::new();
    for endpoint in endpoints() {
        let mut operation = json!({
            "summary": endpoint.summary,
            "responses": {
                "200": {"description": "OK", "content": {"application/json": {}}},
                "4XX": error_response("The request was refused; `error.code` says why"),
                "5XX": error_response("The server could not answer"),
            },
        });
        let mut parameters: Vec<Value> = endpoint
            .path
            .split('/')
            .filter_map(|part| part.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        parameters.extend(endpoint.query.iter().map(|(name, kind, about)| {
            json!({"name": name, "in": "query", "description": about, "schema": {"type": kind}})
        }));
        if !parameters.is_empty() {
            operation["parameters"] = Value::Array(parameters);
        }
        if !endpoint.body.is_empty() {
            let properties: serde_json::Map<String, Value> = endpoint
                .body
                .iter()
                .map(|(name, kind, about)| {
                    (
                        name.to_string(),
                        json!({"type": kind, "description": about}),
                    )
                })
                .collect();
            let required: Vec<&str> = endpoint.body.iter().map(|(name, _, _)| *name).collect();
            operation["requestBody"] = json!({
                "required": true,
                "content": {"application/json": {"schema": {
                    "type": "object", "properties": properties, "required": required,
                }}},
            });
        }
        if matches!(endpoint.access, Access::Reviewer | Access::Admin) {
            operation["security"] = json!([{"bearer": []}]);
            operation["description"] = Value::String(match endpoint.access {
                Access::Admin => "Needs an admin token.".into(),
                _ => "Needs a reviewer or admin token.".into(),
            });
        }
        let entry = paths.entry(endpoint.path).or_insert_with(|| json!({}));
        entry[endpoint.method] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Warden review API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Appeals from account holders, and the review queue and decisions of trust-and-safety reviewers.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": {
                "type": "object",
                "required": ["error"],
                "properties": {"error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                }},
            }},
        },
    })
}

async fn document() -> axum::Json<Value> {
    axum::Json(openapi())
}
