//! Architecture invariants checked over the source tree (see ARCHITECTURE.md).

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// (path relative to the crate, source text without its `#[cfg(test)]` tail).
fn sources() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    files.sort();
    files
        .into_iter()
        // Test-only modules (declared under `#[cfg(test)]`).
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n != "tests.rs" && n != "properties.rs")
        })
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let code = match text.find("#[cfg(test)]") {
                Some(i) => text[..i].to_owned(),
                None => text,
            };
            let rel = p
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            (rel, code)
        })
        .collect()
}

#[track_caller]
fn only_in(needle: &str, allowed: &[&str]) {
    let offenders: Vec<String> = sources()
        .into_iter()
        .filter(|(path, code)| {
            code.contains(needle) && !allowed.iter().any(|a| path.starts_with(a))
        })
        .map(|(path, _)| path)
        .collect();
    assert!(
        offenders.is_empty(),
        "`{needle}` may only appear in {allowed:?}; found in {offenders:?}"
    );
}

#[test]
fn aws_sdk_types_stay_in_the_dynamo_store_and_binaries() {
    only_in("aws_sdk_", &["src/store/dynamo/", "src/bin/"]);
    only_in("aws_config", &["src/store/dynamo/", "src/bin/"]);
}

#[test]
fn lambda_http_stays_in_the_lambda_adapter() {
    only_in("lambda_http", &["src/http/lambda.rs", "src/bin/lambda.rs"]);
    only_in("lambda_runtime", &["src/bin/events.rs"]);
}

#[test]
fn winnow_stays_in_the_grammar() {
    only_in("winnow::", &["src/filter/grammar.rs"]);
}

#[test]
fn no_unwrap_or_expect_outside_tests() {
    for (path, code) in sources() {
        for (n, line) in code.lines().enumerate() {
            let line = line.trim_start();
            if line.starts_with("//") {
                continue;
            }
            assert!(
                !line.contains(".unwrap()") && !line.contains(".expect("),
                "{path}:{}: unwrap/expect outside tests: {line}",
                n + 1
            );
        }
    }
}

#[test]
fn no_abort_on_panic() {
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    assert!(
        !manifest.contains("panic = \"abort\""),
        "panics must unwind (invariant 3)"
    );
}

/// Fails if a file under `prefix` names any of `forbidden` (module paths of higher layers).
#[track_caller]
fn never_in(prefix: &str, forbidden: &[&str]) {
    let offenders: Vec<String> = sources()
        .into_iter()
        .filter(|(path, _)| path.starts_with(prefix))
        .flat_map(|(path, code)| {
            forbidden
                .iter()
                .filter(|f| code.contains(*f))
                .map(|f| format!("{path} names {f}"))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(offenders.is_empty(), "{offenders:?}");
}

#[test]
fn layers_only_import_downward() {
    // The domain types depend on nothing else in the crate.
    never_in("src/domain/", &["crate::"]);
    // Schemas, filters and the PATCH engine know no storage, operation or transport.
    for lower in ["src/schema/", "src/filter/", "src/patch/"] {
        never_in(
            lower,
            &[
                "crate::store",
                "crate::ops",
                "crate::http",
                "crate::app",
                "crate::auth",
            ],
        );
    }
    // Stores know the domain and the key layout, not SCIM semantics or transport.
    never_in(
        "src/store/",
        &[
            "crate::schema",
            "crate::ops",
            "crate::http",
            "crate::app",
            "crate::auth",
        ],
    );
    // Operations receive typed requests: no routing, query strings or HTTP adapters.
    never_in("src/ops/", &["crate::http", "crate::app", "crate::events"]);
    // Change events are made from what stores record: nothing below them knows them.
    for lower in [
        "src/store/",
        "src/schema/",
        "src/domain/",
        "src/filter/",
        "src/patch/",
    ] {
        never_in(lower, &["crate::events"]);
    }
    never_in("src/events/", &["crate::http", "crate::app", "crate::auth"]);
    // Administration and the setup page act through the admin actions and the stores; they
    // know no routing of SCIM requests and no SCIM operations.
    for upper in ["src/admin/", "src/setup/"] {
        never_in(
            upper,
            &["crate::http", "crate::app", "crate::ops::resources"],
        );
    }
}

#[test]
fn scim_attribute_names_are_spelled_where_their_meaning_lives() {
    // The schema defines attributes; the domain names the unique ones and the tenant's
    // uniqueness switches; membership (`members`/`groups`) gets its meaning in ops/groups.rs
    // and ops/members.rs, display copies theirs in ops/write.rs. Everywhere else, code asks
    // those modules (e.g. `link_attribute`, `display_of`) instead of spelling the names.
    let allowed = [
        "src/schema/",
        "src/domain/",
        "src/ops/groups.rs",
        "src/ops/members.rs",
        "src/ops/write.rs",
    ];
    for name in ["members", "groups", "userName", "displayName", "externalId"] {
        only_in(&format!("\"{name}\""), &allowed);
    }
}
