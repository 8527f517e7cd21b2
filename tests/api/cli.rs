//! The `scimlet` binary as a user runs it: `serve` on the embedded store (printing a usable
//! token), and `table create` / `tenant create` / `token issue|list|revoke` / `serve` on
//! DynamoDB Local.

use std::process::Stdio;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::helpers::{Principal, USER_SCHEMA, dynamodb_endpoint, fresh_tenant_id};

const BIN: &str = env!("CARGO_BIN_EXE_scimlet");

/// The value following `--table` in a command line.
fn table_of(args: &[&str]) -> Option<String> {
    args.windows(2)
        .find(|w| w[0] == "--table")
        .map(|w| w[1].to_owned())
}

/// The credentials an operator (or, for `table`, the deployer) runs the CLI with, as the IAM
/// proxy knows them; `serve` runs with the function's.
fn principal_env(command: &mut Command, args: &[&str]) {
    let Some(table) = table_of(args) else {
        return;
    };
    let principal = match args.first().copied() {
        Some("table") => Principal::Admin,
        Some("serve") => Principal::Function,
        _ => Principal::Operator,
    };
    command
        .env("AWS_ACCESS_KEY_ID", principal.access_key(&table))
        .env("AWS_SECRET_ACCESS_KEY", "local");
}

/// Runs a CLI command to completion; returns (success, stdout, stderr).
async fn run(args: &[&str]) -> (bool, String, String) {
    let mut command = Command::new(BIN);
    command.args(args).env_remove("SCIMLET_TABLE");
    principal_env(&mut command, args);
    let out = command.output().await.expect("run scimlet");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A running `scimlet serve`, killed on drop, with the lines it printed before serving.
struct Served {
    child: Child,
    lines: Vec<String>,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

impl Served {
    fn value_of(&self, label: &str) -> String {
        self.lines
            .iter()
            .find_map(|l| l.trim().strip_prefix(label).map(|v| v.trim().to_owned()))
            .unwrap_or_else(|| panic!("no '{label}' line in {:?}", self.lines))
    }
}

async fn serve(args: &[&str]) -> Served {
    let mut command = Command::new(BIN);
    let full: Vec<&str> = ["serve"].iter().chain(args).copied().collect();
    principal_env(&mut command, &full);
    let mut child = command
        .arg("serve")
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        // Explicit arguments only: the test runner exports the DynamoDB Local endpoint.
        .env_remove("SCIMLET_DYNAMODB_ENDPOINT")
        .env_remove("SCIMLET_TABLE")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn scimlet serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut reader = BufReader::new(stdout).lines();
    let mut lines = Vec::new();
    let read_banner = async {
        while let Some(line) = reader.next_line().await.expect("read") {
            // The embedded store prints a token last; DynamoDB mode ends with the base URL.
            let done = line.trim().starts_with("Token:")
                || (args.contains(&"--dynamodb") && line.trim().starts_with("Base URL:"));
            lines.push(line);
            if done {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), read_banner)
        .await
        .expect("serve printed its banner");
    // Keep draining stdout so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = reader.next_line().await {} });
    Served { child, lines }
}

#[tokio::test]
async fn serve_on_the_embedded_store_prints_a_working_token() {
    let served = serve(&[]).await;
    let base = served.value_of("Base URL:");
    let token = served.value_of("Token:");
    let client = reqwest::Client::new();
    let created = client
        .post(format!("{base}/Users"))
        .bearer_auth(&token)
        .json(&json!({"schemas": [USER_SCHEMA], "userName": "first@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let unauthenticated = client.get(format!("{base}/Users")).send().await.unwrap();
    assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);
}

/// One HTTP request as a receiver sees it: (headers, lower-cased names; body).
type Received = (Vec<(String, String)>, Vec<u8>);

/// Accepts connections on `listener`, answering the first request 500 and every later one
/// 204, and hands each request over.
async fn receive_events(
    listener: tokio::net::TcpListener,
    out: tokio::sync::mpsc::UnboundedSender<Received>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut answered = 0;
    loop {
        let Ok((mut socket, _)) = listener.accept().await else {
            return;
        };
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let (head, body_start) = loop {
            let n = socket.read(&mut chunk).await.expect("read");
            assert!(n > 0, "connection closed mid-request");
            buf.extend_from_slice(&chunk[..n]);
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break (String::from_utf8_lossy(&buf[..end]).into_owned(), end + 4);
            }
        };
        let headers: Vec<(String, String)> = head
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let length: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .map(|(_, v)| v.parse().expect("length"))
            .unwrap_or(0);
        while buf.len() < body_start + length {
            let n = socket.read(&mut chunk).await.expect("read body");
            buf.extend_from_slice(&chunk[..n]);
        }
        let status = if answered == 0 {
            "500 Internal Server Error"
        } else {
            "204 No Content"
        };
        answered += 1;
        let reply = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        socket.write_all(reply.as_bytes()).await.expect("answer");
        let _ = out.send((headers, buf[body_start..body_start + length].to_vec()));
    }
}

#[tokio::test]
async fn serve_delivers_signed_change_events_and_retries() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let hook = format!(
        "http://{}/scim-events",
        listener.local_addr().expect("addr")
    );
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(receive_events(listener, tx));
    let secret = "test-signing-secret";
    let served = serve(&["--events-url", &hook, "--events-secret", secret]).await;
    let base = served.value_of("Base URL:");
    let token = served.value_of("Token:");
    let created = reqwest::Client::new()
        .post(format!("{base}/Users"))
        .bearer_auth(&token)
        .json(&json!({"schemas": [USER_SCHEMA], "userName": "hooked@example.com", "password": "Pa55-word!"}))
        .send()
        .await
        .expect("create");
    assert_eq!(created.status(), StatusCode::CREATED);
    let id = created.json::<serde_json::Value>().await.expect("json")["id"].clone();
    let mut received = Vec::new();
    for _ in 0..2 {
        received.push(
            tokio::time::timeout(Duration::from_secs(10), rx.recv())
                .await
                .expect("an event arrives")
                .expect("receiver running"),
        );
    }
    // Answered 500 the first time: delivered again, the same event.
    let (headers, body) = received.pop().expect("second");
    let (first_headers, first) = received.pop().expect("first");
    assert_eq!(first, body);
    let header = |hs: &[(String, String)], name: &str| {
        hs.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no {name}"))
    };
    assert_eq!(
        header(&first_headers, "scimlet-event-id"),
        header(&headers, "scimlet-event-id")
    );
    assert_eq!(header(&headers, "content-type"), "application/json");
    let event: serde_json::Value = serde_json::from_slice(&body).expect("json event");
    assert_eq!(event["type"], "user.created");
    assert_eq!(event["resource"]["id"], id);
    assert_eq!(
        event["id"].as_str(),
        Some(header(&headers, "scimlet-event-id").as_str())
    );
    let text = String::from_utf8_lossy(&body);
    assert!(
        !text.contains("Pa55") && !text.contains("argon2"),
        "no password: {text}"
    );
    // The signature is HMAC-SHA256 of "<t>.<body>" under the secret.
    let signature = header(&headers, "scimlet-signature");
    let t: i64 = signature
        .strip_prefix("t=")
        .and_then(|rest| rest.split(',').next())
        .and_then(|t| t.parse().ok())
        .expect("t=");
    assert_eq!(
        signature,
        scimlet::events::deliver::signature(secret.as_bytes(), t, &body)
    );
    assert_ne!(
        signature,
        scimlet::events::deliver::signature(b"another secret", t, &body)
    );
}

#[tokio::test]
async fn serve_uses_dynamodb_only_when_asked_by_its_flag() {
    let mut command = Command::new(BIN);
    command
        .args(["serve", "--listen", "127.0.0.1:0"])
        // Exported variables alone must not turn a local experiment into table writes.
        .env("SCIMLET_TABLE", "some-real-table")
        .env("SCIMLET_DYNAMODB_ENDPOINT", "http://127.0.0.1:9")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let mut child = command.spawn().expect("spawn");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("banner")
        .expect("read")
        .unwrap_or_default();
    assert!(first.contains("embedded in-memory store"), "{first}");
    let _ = child.start_kill();
    // And the DynamoDB options without the flag are refused.
    let (ok, _, err) = run(&["serve", "--table", "x"]).await;
    assert!(!ok && err.contains("--dynamodb"), "{err}");
}

#[tokio::test]
async fn denied_credentials_are_explained() {
    let table = "scimlet-test";
    crate::helpers::ensure_table(table).await;
    let endpoint = dynamodb_endpoint();
    let out = Command::new(BIN)
        .args(["tenant", "list", "--table", table, "--dynamodb-endpoint"])
        .arg(&endpoint)
        .env("AWS_ACCESS_KEY_ID", Principal::Nobody.access_key(table))
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .output()
        .await
        .expect("run scimlet");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains(&format!("access to DynamoDB table '{table}'"))
            && err.contains("OperatorPolicy"),
        "{err}"
    );
}

#[tokio::test]
async fn table_tenant_and_token_commands_work_on_dynamodb() {
    let endpoint = dynamodb_endpoint();
    let table = format!("cli-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let common = [
        "--table",
        table.as_str(),
        "--dynamodb-endpoint",
        endpoint.as_str(),
    ];
    let with = |args: &[&'static str]| -> Vec<String> {
        args.iter()
            .map(|s| s.to_string())
            .chain(common.iter().map(|s| s.to_string()))
            .collect()
    };
    let call = |args: Vec<String>| async move {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&refs).await
    };

    // Before the table exists, a command says what to do instead of a backend error.
    let (ok, _, err) = call(with(&["tenant", "list"])).await;
    assert!(!ok, "{err}");
    assert!(
        err.contains(&format!("DynamoDB table '{table}' does not exist"))
            && err.contains("SCIMLET_TABLE")
            && err.contains("scimlet table create"),
        "{err}"
    );

    let (ok, out, err) = call(with(&["table", "create"])).await;
    assert!(ok, "{err}");
    assert!(out.contains("created table"), "{out}");
    let (ok, out, _) = call(with(&["table", "create"])).await;
    assert!(ok && out.contains("already exists"), "{out}");

    let tenant = fresh_tenant_id().to_string();
    let mut args = with(&["tenant", "create"]);
    args.insert(2, tenant.clone());
    let (ok, _, err) = call(args.clone()).await;
    assert!(ok, "{err}");
    let (ok, _, err) = call(args).await;
    assert!(!ok && err.contains("already exists"), "{err}");
    let (ok, out, _) = call(with(&["tenant", "list"])).await;
    assert!(ok && out.contains(&tenant), "{out}");
    assert!(
        out.contains("strict-attributes=false unique-group-names=true"),
        "{out}"
    );
    // A setup link for the tenant's IT admin, beside the deployment's SCIM base URL.
    let mut link = with(&[
        "tenant",
        "setup-link",
        "--url",
        "https://scim.example.com/scim/v2",
    ]);
    link.insert(2, tenant.clone());
    let (ok, out, err) = call(link).await;
    assert!(ok, "{err}");
    let url = out.trim();
    assert!(url.starts_with("https://scim.example.com/setup/"), "{out}");
    let link_id = url
        .rsplit('/')
        .next()
        .and_then(|p| p.split('.').next())
        .expect("id")
        .to_owned();
    let mut revoke = with(&["tenant", "revoke-setup-link"]);
    revoke.insert(2, tenant.clone());
    revoke.insert(3, link_id);
    let (ok, out, err) = call(revoke).await;
    assert!(ok && out.contains("revoked"), "{out}{err}");
    let mut set = with(&[
        "tenant",
        "set",
        "--strict-attributes",
        "true",
        "--soft-delete",
        "true",
        "--ignore-passwords",
        "true",
    ]);
    set.insert(2, tenant.clone());
    let (ok, out, err) = call(set).await;
    assert!(ok && out.contains("strict-attributes=true"), "{out}{err}");
    assert!(out.contains("ignore-passwords=true"), "{out}{err}");
    assert!(
        out.contains("unique-external-ids=false external-id-index=true"),
        "{out}{err}"
    );
    let mut migrate = with(&["migrate", "external-id-index"]);
    migrate.insert(2, tenant.clone());
    let (ok, out, err) = call(migrate).await;
    assert!(ok && out.contains("externalId index built"), "{out}{err}");
    let mut bad = with(&["tenant", "create"]);
    bad.insert(2, "Not_Valid".into());
    let (ok, _, err) = call(bad).await;
    assert!(!ok && err.contains("tenant id"), "{err}");

    let mut issue = with(&[
        "token",
        "issue",
        "--label",
        "okta-test",
        "--url",
        "https://scim.example.com/scim/v2/",
    ]);
    issue.insert(2, tenant.clone());
    let (ok, out, err) = call(issue).await;
    assert!(ok, "{err}");
    // Standard output is the token alone (for scripts); the URL is shown beside it.
    let token = out.trim().to_owned();
    assert!(
        token.starts_with("scimlet_") && !token.contains('\n'),
        "{out}"
    );
    assert!(
        err.contains("SCIM base URL: https://scim.example.com/scim/v2\n"),
        "{err}"
    );
    let token_id = token.split('_').nth(1).unwrap().to_owned();
    let mut list = with(&["token", "list"]);
    list.insert(2, tenant.clone());
    let (ok, out, _) = call(list.clone()).await;
    assert!(
        ok && out.contains(&token_id) && out.contains("okta-test"),
        "{out}"
    );
    assert!(!out.contains(&token), "token list must not print secrets");
    // The same, as JSON for scripts; and `tenant show` with its settings and tokens.
    list.push("--output".into());
    list.push("json".into());
    let (ok, out, err) = call(list).await;
    assert!(ok, "{err}");
    let tokens: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(tokens[0]["id"], token_id.as_str(), "{out}");
    assert_eq!(tokens[0]["label"], "okta-test", "{out}");
    assert!(tokens[0]["expires"].is_string(), "{out}");
    assert!(!out.contains(&token), "token list must not print secrets");
    let mut show = with(&["tenant", "show", "--output", "json"]);
    show.insert(2, tenant.clone());
    let (ok, out, err) = call(show).await;
    assert!(ok, "{err}");
    let shown: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(shown["id"], tenant.as_str());
    assert_eq!(shown["settings"]["soft-delete"], true);
    assert_eq!(shown["settings"]["ignore-passwords"], true);
    assert_eq!(shown["tokens"][0]["id"], token_id.as_str());
    let mut show = with(&["tenant", "show"]);
    show.insert(2, tenant.clone());
    let (ok, out, err) = call(show).await;
    assert!(
        ok && out.contains("soft-delete=true") && out.contains(&token_id),
        "{out}{err}"
    );
    let mut missing = with(&["tenant", "show"]);
    missing.insert(2, "no-such-tenant".into());
    let (ok, _, err) = call(missing).await;
    assert!(!ok && err.contains("does not exist"), "{err}");

    // The same server code on DynamoDB accepts the issued token.
    let mut on_dynamodb = vec!["--dynamodb"];
    on_dynamodb.extend(common);
    let served = serve(&on_dynamodb).await;
    let base = served.value_of("Base URL:");
    let client = reqwest::Client::new();
    let created = client
        .post(format!("{base}/Users"))
        .bearer_auth(&token)
        .json(&json!({"schemas": [USER_SCHEMA], "userName": "cli@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    // The tenant soft-deletes: a deleted user comes back with `scimlet restore`.
    let user_id = created.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let user_url = format!("{base}/Users/{user_id}");
    let deleted = client
        .delete(&user_url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let gone = client
        .get(&user_url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    let mut restore = with(&["restore"]);
    restore.insert(1, tenant.clone());
    restore.insert(2, "User".into());
    restore.insert(3, user_id.clone());
    let (ok, out, err) = call(restore.clone()).await;
    assert!(ok && out.contains("restored User"), "{out}{err}");
    let back = client
        .get(&user_url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(back.status(), StatusCode::OK);
    let (ok, _, err) = call(restore).await;
    assert!(!ok && err.contains("no deleted User"), "{err}");

    // The served requests show in the tenant's recent activity (errors, sampled successes).
    let mut activity = with(&["tenant", "activity", "--output", "json"]);
    activity.insert(2, tenant.clone());
    let (ok, out, err) = call(activity.clone()).await;
    assert!(ok, "{err}");
    let entries: serde_json::Value = serde_json::from_str(&out).unwrap();
    let has = |route: &str, status: u64| {
        entries
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["route"] == route && e["status"] == status)
    };
    assert!(has("users.create", 201) && has("users.get", 404), "{out}");
    activity.push("--errors".into());
    let (ok, out, err) = call(activity).await;
    assert!(ok, "{err}");
    let errors: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        errors
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["status"].as_u64().unwrap() >= 400),
        "{out}"
    );

    // Lifecycle: the server recorded the token's use; rotating with no overlap issues a
    // working successor and leaves the old token listed as expired until pruned.
    let json_list = |extra: &[&'static str]| {
        let mut list = with(&["token", "list", "--output", "json"]);
        list.insert(2, tenant.clone());
        list.extend(extra.iter().map(|s| s.to_string()));
        list
    };
    let (ok, out, err) = call(json_list(&[])).await;
    assert!(ok, "{err}");
    let listed: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(listed[0]["lastUsed"].is_string(), "{out}");
    let mut rotate = with(&["token", "rotate", "--overlap", "0s"]);
    rotate.insert(2, tenant.clone());
    rotate.insert(3, token_id.clone());
    let (ok, out, err) = call(rotate).await;
    assert!(ok && err.contains("shown once"), "{out}{err}");
    let successor = out.trim().to_owned();
    assert!(
        successor.starts_with("scimlet_") && successor != token,
        "{out}"
    );
    let works = client
        .get(format!("{base}/Users"))
        .bearer_auth(&successor)
        .send()
        .await
        .unwrap();
    assert_eq!(works.status(), StatusCode::OK);
    let (_, out, _) = call(json_list(&[])).await;
    let listed: serde_json::Value = serde_json::from_str(&out).unwrap();
    let old = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == token_id.as_str())
        .expect("the old token is still listed");
    assert_eq!(old["expired"], true, "{out}");
    assert_eq!(old["label"], "okta-test", "{out}");
    let (_, out, _) = call(json_list(&["--expiring-within", "30d"])).await;
    let expiring: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(expiring.as_array().unwrap().len(), 1, "{out}");
    assert_eq!(expiring[0]["id"], token_id.as_str(), "{out}");
    let mut prune = with(&["token", "prune"]);
    prune.insert(2, tenant.clone());
    let (ok, out, err) = call(prune).await;
    assert!(ok && out.contains(&token_id), "{out}{err}");
    let (_, out, _) = call(json_list(&[])).await;
    let listed: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{out}");
    assert_ne!(listed[0]["id"], token_id.as_str(), "{out}");
    let (ok, _, err) = call(with(&["token", "list", "--expiring-within", "7x"])).await;
    assert!(!ok && err.contains("unit"), "{err}");
    drop(served);

    let successor_id = successor.split('_').nth(1).unwrap().to_owned();
    let mut revoke = with(&["token", "revoke"]);
    revoke.insert(2, tenant.clone());
    revoke.insert(3, successor_id);
    let (ok, _, err) = call(revoke.clone()).await;
    assert!(ok, "{err}");
    let (ok, _, err) = call(revoke).await;
    assert!(!ok && err.contains("does not exist"), "{err}");

    let mut delete = with(&["tenant", "delete"]);
    delete.insert(2, tenant.clone());
    let (ok, _, err) = call(delete.clone()).await;
    assert!(!ok && err.contains("--yes"), "{err}");
    delete.push("--yes".into());
    let (ok, _, err) = call(delete).await;
    assert!(ok, "{err}");
    let (_, out, _) = call(with(&["tenant", "list"])).await;
    assert!(!out.contains(&tenant), "{out}");
}
