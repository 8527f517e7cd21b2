//! Replays of identity-provider traffic from `tests/idp/` (see its README), on both stores.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::Value;

use crate::both_stores;
use crate::helpers::{Backend, TestApp, spawn_app};

both_stores!(documented_idp_sequences_replay_cleanly);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Scenario {
    source: String,
    steps: Vec<Step>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Step {
    name: String,
    request: Request,
    expect: Expect,
    #[serde(default)]
    capture: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    method: String,
    path: String,
    body: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    status: u16,
    #[serde(default)]
    body: BTreeMap<String, Value>,
    #[serde(default)]
    absent: Vec<String>,
    #[serde(default)]
    count: BTreeMap<String, usize>,
}

fn fixtures() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/idp");
    let mut files = Vec::new();
    for dir in std::fs::read_dir(&root).expect("tests/idp") {
        let dir = dir.expect("entry").path();
        if dir.is_dir() {
            for file in std::fs::read_dir(&dir).expect("fixture folder") {
                let file = file.expect("entry").path();
                if file.extension().is_some_and(|e| e == "json") {
                    files.push(file);
                }
            }
        }
    }
    files.sort();
    files
}

/// Replaces `{{name}}` placeholders in every string.
fn bind(value: &Value, vars: &BTreeMap<String, String>) -> Value {
    match value {
        Value::String(s) => Value::String(bind_str(s, vars)),
        Value::Array(items) => Value::Array(items.iter().map(|v| bind(v, vars)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), bind(v, vars)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn bind_str(s: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = s.to_owned();
    for (name, value) in vars {
        out = out.replace(&format!("{{{{{name}}}}}"), value);
    }
    assert!(!out.contains("{{"), "unbound placeholder in {s:?}");
    out
}

async fn replay(app: &TestApp, file: &Path) {
    let text = std::fs::read_to_string(file).expect("fixture");
    let scenario: Scenario = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{}: not a replay file: {e}", file.display()));
    assert!(
        !scenario.source.is_empty(),
        "{}: cite the documentation",
        file.display()
    );
    let mut vars = BTreeMap::new();
    for step in &scenario.steps {
        let at = format!("{} / {}", file.display(), step.name);
        let method = Method::from_bytes(step.request.method.as_bytes()).expect("method");
        let path = bind_str(&step.request.path, &vars);
        let body = step.request.body.as_ref().map(|b| bind(b, &vars));
        let reply = app.request(method, &path, body).await;
        assert_eq!(
            reply.status,
            StatusCode::from_u16(step.expect.status).unwrap(),
            "{at}: {}",
            reply.body
        );
        for (pointer, expected) in &step.expect.body {
            let expected = bind(expected, &vars);
            assert_eq!(
                reply.body.pointer(&bind_str(pointer, &vars)),
                Some(&expected),
                "{at}: {pointer} in {}",
                reply.body
            );
        }
        for pointer in &step.expect.absent {
            assert!(
                reply.body.pointer(pointer).is_none(),
                "{at}: {pointer} should be absent in {}",
                reply.body
            );
        }
        for (pointer, n) in &step.expect.count {
            let len = reply
                .body
                .pointer(pointer)
                .and_then(Value::as_array)
                .map(Vec::len);
            assert_eq!(len, Some(*n), "{at}: length of {pointer} in {}", reply.body);
        }
        for (name, pointer) in &step.capture {
            let value = reply
                .body
                .pointer(pointer)
                .and_then(Value::as_str)
                .unwrap_or_else(|| panic!("{at}: nothing to capture at {pointer}"));
            vars.insert(name.clone(), value.to_owned());
        }
    }
}

async fn documented_idp_sequences_replay_cleanly(backend: Backend) {
    let files = fixtures();
    assert!(files.len() >= 5, "replay fixtures are missing: {files:?}");
    for file in files {
        // A fresh tenant per file, so the documented userNames do not collide.
        let app = spawn_app(backend).await;
        replay(&app, &file).await;
    }
}
