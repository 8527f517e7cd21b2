//! The request log line: one per request, as a `tracing` event (text or JSON, for
//! `scimlet serve` and tests) or as a CloudWatch embedded metric format (EMF) document (in
//! Lambda), from which CloudWatch extracts the metrics the template's alarms watch.
//!
//! A line records the route name, method, tenant id, token id (the public part, never the
//! secret), status, latency and, for errors, the `scimType` and a reason category: never a
//! token, a filter, a query string, a body or an attribute value (invariant 4).
//!
//! EMF metrics (namespace [`NAMESPACE`], one dimension: `FunctionName`): `Requests`,
//! `ClientErrors` (4xx but 429), `ServerErrors` (5xx), `Throttled` (429) as counts, and
//! `Latency` in milliseconds. `tests/fixtures/emf/request-line.json` is a recorded line; a test
//! below keeps it equal to what this module writes, and `infra/template_check.py` checks that
//! it is valid EMF declaring every metric an alarm of the template watches.

use std::io::Write;

use serde_json::{Value, json};

/// The CloudWatch namespace of the metrics in the EMF line.
pub const NAMESPACE: &str = "scimlet";

/// How the request log line is written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// A `tracing` event (formatted by the subscriber the binary installed).
    #[default]
    Tracing,
    /// An EMF document on standard output (one line), for CloudWatch Logs in Lambda.
    Emf {
        /// The `FunctionName` dimension (the Lambda function's name).
        function_name: String,
    },
}

/// What one request's log line says.
#[derive(Debug, Clone)]
pub struct RequestRecord<'a> {
    /// The route's name (`users.get`, …; `unrouted` when the path matched none).
    pub route: &'static str,
    /// The HTTP method.
    pub method: &'a str,
    /// The authenticated tenant, if authentication got that far.
    pub tenant: Option<&'a str>,
    /// The id of the token that authenticated the request (public, never the secret).
    pub token_id: Option<&'a str>,
    /// Lambda's request id (in Lambda).
    pub request_id: Option<&'a str>,
    /// API Gateway's request id, as in its access log (in Lambda).
    pub api_request_id: Option<&'a str>,
    /// The response status.
    pub status: u16,
    /// For an error: its `scimType`, if it has one.
    pub scim_type: Option<&'static str>,
    /// For an error: its category (`ScimError::reason`).
    pub reason: Option<&'static str>,
    /// For a 4xx about one attribute: its name (sanitised, never a value).
    pub attribute: Option<&'a str>,
    /// Time spent handling the request.
    pub latency_ms: u64,
}

impl RequestRecord<'_> {
    fn counts(&self) -> (u8, u8, u8) {
        let throttled = u8::from(self.status == 429);
        let client = u8::from((400..500).contains(&self.status) && self.status != 429);
        let server = u8::from(self.status >= 500);
        (client, server, throttled)
    }
}

/// Writes the request log line in `format`.
pub fn write(format: &LogFormat, record: &RequestRecord<'_>) {
    match format {
        LogFormat::Tracing => tracing::info!(
            route = record.route,
            method = record.method,
            tenant = record.tenant,
            token_id = record.token_id,
            request_id = record.request_id,
            api_request_id = record.api_request_id,
            status = record.status,
            scim_type = record.scim_type,
            reason = record.reason,
            attribute = record.attribute,
            latency_ms = record.latency_ms,
            "request"
        ),
        LogFormat::Emf { function_name } => {
            let line = emf_line(record, function_name, now_millis());
            let mut out = std::io::stdout().lock();
            // A lost log line must not fail the request it describes.
            let _ = writeln!(out, "{line}");
        }
    }
}

fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The EMF document for one request, as one line of JSON.
pub fn emf_line(record: &RequestRecord<'_>, function_name: &str, timestamp_ms: u64) -> String {
    let (client, server, throttled) = record.counts();
    let mut doc = json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["FunctionName"]],
                "Metrics": [
                    {"Name": "Requests", "Unit": "Count"},
                    {"Name": "ClientErrors", "Unit": "Count"},
                    {"Name": "ServerErrors", "Unit": "Count"},
                    {"Name": "Throttled", "Unit": "Count"},
                    {"Name": "Latency", "Unit": "Milliseconds"},
                ],
            }],
        },
        "FunctionName": function_name,
        "level": "INFO",
        "message": "request",
        "route": record.route,
        "method": record.method,
    });
    if let Value::Object(map) = &mut doc {
        let optional = [
            ("tenant", record.tenant),
            ("tokenId", record.token_id),
            ("requestId", record.request_id),
            ("apiRequestId", record.api_request_id),
        ];
        for (name, value) in optional {
            if let Some(value) = value {
                map.insert(name.into(), Value::from(value));
            }
        }
        map.insert("status".into(), Value::from(record.status));
        let error_fields = [
            ("scimType", record.scim_type),
            ("reason", record.reason),
            ("attribute", record.attribute),
        ];
        for (name, value) in error_fields {
            if let Some(value) = value {
                map.insert(name.into(), Value::from(value));
            }
        }
        map.insert("Requests".into(), Value::from(1));
        map.insert("ClientErrors".into(), Value::from(client));
        map.insert("ServerErrors".into(), Value::from(server));
        map.insert("Throttled".into(), Value::from(throttled));
        map.insert("Latency".into(), Value::from(record.latency_ms));
    }
    doc.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECORDED: &str = include_str!("../tests/fixtures/emf/request-line.json");

    #[test]
    fn the_recorded_emf_line_is_what_the_code_writes() {
        let record = RequestRecord {
            route: "users.get",
            method: "GET",
            tenant: Some("acme"),
            token_id: Some("0123456789abcdef"),
            request_id: Some("c6af9ac6-7b61-11e6-9a41-93e8deadbeef"),
            api_request_id: Some("Jx3k2gS0DoEEMbQ="),
            status: 200,
            scim_type: None,
            reason: None,
            attribute: None,
            latency_ms: 12,
        };
        let line = emf_line(&record, "scimlet-Function-AbCdEf123456", 1_764_633_600_000);
        assert_eq!(line, RECORDED.trim());
    }

    #[test]
    fn statuses_count_once_in_the_right_metric() {
        let metrics = |status| {
            let record = RequestRecord {
                route: "users.create",
                method: "POST",
                tenant: None,
                token_id: None,
                request_id: None,
                api_request_id: None,
                status,
                scim_type: None,
                reason: None,
                attribute: None,
                latency_ms: 3,
            };
            let doc: Value = serde_json::from_str(&emf_line(&record, "f", 1)).unwrap();
            assert!(doc.get("tenant").is_none());
            (
                doc["ClientErrors"].as_u64().unwrap(),
                doc["ServerErrors"].as_u64().unwrap(),
                doc["Throttled"].as_u64().unwrap(),
            )
        };
        assert_eq!(metrics(201), (0, 0, 0));
        assert_eq!(metrics(404), (1, 0, 0));
        assert_eq!(metrics(429), (0, 0, 1));
        assert_eq!(metrics(500), (0, 1, 0));
        assert_eq!(metrics(503), (0, 1, 0));
    }

    #[test]
    fn errors_carry_their_scim_type_and_reason() {
        let record = RequestRecord {
            route: "users.create",
            method: "POST",
            tenant: Some("acme"),
            token_id: Some("0123456789abcdef"),
            request_id: None,
            api_request_id: None,
            status: 409,
            scim_type: Some("uniqueness"),
            reason: Some("uniqueness"),
            attribute: None,
            latency_ms: 3,
        };
        let doc: Value = serde_json::from_str(&emf_line(&record, "f", 1)).unwrap();
        assert_eq!(doc["scimType"], "uniqueness");
        assert_eq!(doc["reason"], "uniqueness");
        assert_eq!(doc["tokenId"], "0123456789abcdef");
    }
}
