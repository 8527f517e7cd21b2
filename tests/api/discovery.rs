//! `/ServiceProviderConfig`, `/ResourceTypes`, `/Schemas` over HTTP, on both stores.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_stores;
use crate::helpers::{Backend, USER_SCHEMA, spawn_app};

const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

both_stores!(
    service_provider_config_tells_the_truth,
    resource_types_and_schemas_are_listed_and_addressable,
    discovery_needs_a_token_and_refuses_filters,
    the_health_check_needs_no_token_and_shows_no_data,
);

async fn service_provider_config_tells_the_truth(backend: Backend) {
    let app = spawn_app(backend).await;
    let reply = app
        .request(Method::GET, "/ServiceProviderConfig", None)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let spc = &reply.body;
    assert_eq!(
        spc["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"])
    );
    // What the server does today.
    assert_eq!(
        spc["filter"],
        json!({"supported": true, "maxResults": 1000})
    );
    assert_eq!(spc["etag"]["supported"], true);
    assert_eq!(spc["patch"]["supported"], true);
    assert_eq!(spc["bulk"]["supported"], true);
    assert_eq!(spc["sort"]["supported"], true);
    assert_eq!(spc["authenticationSchemes"][0]["type"], "oauthbearertoken");
    assert_eq!(
        spc["meta"]["location"],
        format!("{}/ServiceProviderConfig", app.base).as_str()
    );
    // /Me is announced nowhere and answers 501.
    app.request(Method::GET, "/Me", None)
        .await
        .assert_error(501, None);
}

fn ids(list: &Value) -> Vec<&str> {
    list["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect()
}

async fn resource_types_and_schemas_are_listed_and_addressable(backend: Backend) {
    let app = spawn_app(backend).await;
    let types = app.request(Method::GET, "/ResourceTypes", None).await.body;
    assert_eq!(types["totalResults"], 2);
    assert_eq!(ids(&types), ["User", "Group"]);
    let group = app.request(Method::GET, "/ResourceTypes/Group", None).await;
    assert_eq!(group.body["endpoint"], "/Groups");
    assert!(group.body.get("schemaExtensions").is_none());
    let user = app.request(Method::GET, "/ResourceTypes/User", None).await;
    assert_eq!(user.status, StatusCode::OK);
    assert_eq!(user.body["endpoint"], "/Users");
    assert_eq!(user.body["schema"], USER_SCHEMA);
    assert_eq!(
        user.body["schemaExtensions"],
        json!([{"schema": ENTERPRISE, "required": false}])
    );
    assert_eq!(
        user.body["meta"]["location"],
        format!("{}/ResourceTypes/User", app.base).as_str()
    );
    app.request(Method::GET, "/ResourceTypes/Device", None)
        .await
        .assert_error(404, None);

    let schemas = app.request(Method::GET, "/Schemas", None).await.body;
    assert_eq!(ids(&schemas), [USER_SCHEMA, GROUP_SCHEMA, ENTERPRISE]);
    let one = app
        .request(Method::GET, &format!("/Schemas/{USER_SCHEMA}"), None)
        .await;
    assert_eq!(one.status, StatusCode::OK);
    let user_name = one.body["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "userName")
        .unwrap();
    assert_eq!(user_name["uniqueness"], "server");
    assert_eq!(user_name["caseExact"], false);
    let group_schema = app
        .request(Method::GET, &format!("/Schemas/{GROUP_SCHEMA}"), None)
        .await
        .body;
    let members = group_schema["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "members")
        .unwrap();
    let member_type = members["subAttributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "type")
        .unwrap();
    assert_eq!(member_type["canonicalValues"], json!(["User", "Group"]));
    app.request(Method::GET, "/Schemas/urn:nope", None)
        .await
        .assert_error(404, None);
}

async fn discovery_needs_a_token_and_refuses_filters(backend: Backend) {
    let app = spawn_app(backend).await;
    for path in ["/ServiceProviderConfig", "/ResourceTypes", "/Schemas"] {
        let reply = app
            .client
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), StatusCode::UNAUTHORIZED, "{path}");
        app.request(Method::GET, &format!("{path}?filter=id%20pr"), None)
            .await
            .assert_error(403, None);
    }
}

async fn the_health_check_needs_no_token_and_shows_no_data(backend: Backend) {
    let app = spawn_app(backend).await;
    let root = app.base.trim_end_matches("/scim/v2");
    for url in [format!("{root}/health"), format!("{root}/prod/health")] {
        let r = app.client.get(&url).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{url}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body, json!({"status": "ok"}), "{url}");
    }
    let r = app
        .client
        .post(format!("{root}/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}
