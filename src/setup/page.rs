//! The setup page's HTML, server-rendered: no framework, no inline script or style (the
//! Content-Security-Policy forbids them), every dynamic value escaped.

use super::guides::{GUIDES, escape, render};
use crate::admin::json::{rfc3339, settings};
use crate::domain::{ActivityEntry, SetupLink, TenantSettings, TokenRecord};

/// What the page shows.
pub struct PageData<'a> {
    /// The link that opened it.
    pub link: &'a SetupLink,
    /// Where the setup pages are (`[/stage]/setup`).
    pub root: &'a str,
    /// `<root>/<id>.<secret>` (forms post under it).
    pub path: &'a str,
    /// The tenant's SCIM base URL.
    pub scim_base: &'a str,
    /// The tenant's settings.
    pub settings: &'a TenantSettings,
    /// Its tokens.
    pub tokens: &'a [TokenRecord],
    /// Its recent activity, newest first.
    pub activity: &'a [ActivityEntry],
    /// A token just issued: shown once.
    pub new_token: Option<&'a str>,
    /// The CSRF value the forms carry.
    pub csrf: &'a str,
}

fn layout(root: &str, title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"referrer\" content=\"same-origin\">\n<title>{}</title>\n\
         <link rel=\"stylesheet\" href=\"{root}/assets/setup.css\">\n</head>\n<body>\n<main>\n{body}\n</main>\n\
         <script src=\"{root}/assets/setup.js\" defer></script>\n</body>\n</html>\n",
        escape(title),
        root = escape(root)
    )
}

fn form(path: &str, action: &str, csrf: &str, label: &str, class: &str) -> String {
    format!(
        "<form class=\"inline\" method=\"post\" action=\"{}/{}\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <button type=\"submit\" class=\"{class}\">{}</button></form>",
        escape(path),
        escape(action),
        escape(csrf),
        escape(label)
    )
}

/// The activity rows (also what the script renders from JSON).
fn activity_rows(activity: &[ActivityEntry]) -> String {
    if activity.is_empty() {
        return "<tr><td colspan=\"5\">Nothing yet: run your identity provider's test connection.</td></tr>\n".into();
    }
    activity
        .iter()
        .map(|e| {
            let class = if e.status < 400 { "status-ok" } else { "status-bad" };
            format!(
                "<tr><td>{}</td><td>{}</td><td class=\"{class}\">{}</td><td>{}</td><td>{}</td></tr>\n",
                escape(&e.at),
                escape(&operation(e)),
                e.status,
                escape(e.reason.as_deref().unwrap_or("")),
                escape(e.attribute.as_deref().unwrap_or(""))
            )
        })
        .collect()
}

/// An activity entry's operation as a person reads it (`users.create` → `POST users.create`).
pub fn operation(e: &ActivityEntry) -> String {
    format!("{} {}", e.method, e.route)
}

/// The setup page.
pub fn page(d: &PageData<'_>) -> String {
    let mut body = String::new();
    body.push_str(&format!(
        "<h1>Connect your identity provider to tenant <span class=\"mono\">{}</span></h1>\n\
         <p class=\"notice\">This page is for your IT administrator. Its address is a secret: \
         it expires {} and works for this tenant only.</p>\n",
        escape(d.link.tenant.as_str()),
        escape(&rfc3339(d.link.expires_at))
    ));
    body.push_str(&format!(
        "<section aria-labelledby=\"base-url\"><h2 id=\"base-url\">1. SCIM base URL</h2>\n\
         <p>Give your identity provider this URL (its \"SCIM connector base URL\" or \"Tenant URL\"):</p>\n\
         <code class=\"value\" id=\"scim-base-url\">{}</code></section>\n",
        escape(d.scim_base)
    ));
    body.push_str("<section aria-labelledby=\"token\"><h2 id=\"token\">2. Token</h2>\n");
    if let Some(token) = d.new_token {
        body.push_str(&format!(
            "<div class=\"secret\" role=\"status\"><p><strong>Your new token.</strong> Copy it now \
             into your identity provider (as the bearer token, or \"Secret Token\"): it is shown \
             only once.</p><code class=\"value\" id=\"new-token\">{}</code>\
             <p><button type=\"button\" id=\"copy-token\" class=\"secondary\" hidden>Copy</button></p></div>\n",
            escape(token)
        ));
    }
    body.push_str(&form(d.path, "tokens", d.csrf, "Issue a new token", ""));
    body.push_str(
        "\n<table><caption class=\"mono\">Tokens of this tenant</caption>\
         <thead><tr><th scope=\"col\">Id</th><th scope=\"col\">Label</th><th scope=\"col\">Expires</th>\
         <th scope=\"col\">Last used</th><th scope=\"col\">Actions</th></tr></thead><tbody id=\"tokens\">\n",
    );
    if d.tokens.is_empty() {
        body.push_str("<tr><td colspan=\"5\">No token yet.</td></tr>\n");
    }
    let now = crate::clock::now_unix();
    for t in d.tokens {
        let expires = t.expires_at.map_or_else(|| "never".to_owned(), rfc3339);
        let expired = if t.expired_at(now) { " (expired)" } else { "" };
        body.push_str(&format!(
            "<tr data-token=\"{id}\"><td class=\"mono\">{id}</td><td>{}</td><td>{}{expired}</td><td>{}</td><td>{} {}</td></tr>\n",
            escape(t.label.as_deref().unwrap_or("")),
            escape(&expires),
            escape(&t.last_used.map_or_else(|| "never".to_owned(), rfc3339)),
            form(d.path, &format!("tokens/{}/rotate", t.id), d.csrf, "Rotate", "secondary"),
            form(d.path, &format!("tokens/{}/revoke", t.id), d.csrf, "Revoke", "secondary"),
            id = escape(&t.id),
        ));
    }
    body.push_str("</tbody></table></section>\n");
    body.push_str(
        "<section aria-labelledby=\"guides\"><h2 id=\"guides\">3. Your identity provider's steps</h2>\n\
         <p>Open the guide for your identity provider:</p>\n",
    );
    for (key, name, text) in GUIDES {
        body.push_str(&format!(
            "<details id=\"guide-{key}\"><summary>{}</summary>\n{}</details>\n",
            escape(name),
            render(text)
        ));
    }
    body.push_str("</section>\n");
    body.push_str(&format!(
        "<section aria-labelledby=\"activity\"><h2 id=\"activity\">4. Recent activity</h2>\n\
         <p>What your identity provider sent, newest first (it refreshes by itself; errors say \
         why and which attribute). Values are never shown.</p>\n\
         <table><thead><tr><th scope=\"col\">Time</th><th scope=\"col\">Operation</th>\
         <th scope=\"col\">Status</th><th scope=\"col\">Reason</th><th scope=\"col\">Attribute</th></tr></thead>\
         <tbody id=\"activity-rows\" data-source=\"{}/activity\">\n{}</tbody></table></section>\n",
        escape(d.path),
        activity_rows(d.activity)
    ));
    body.push_str(
        "<section aria-labelledby=\"settings\"><h2 id=\"settings\">5. Settings (read-only)</h2>\n<table><tbody>\n",
    );
    if let Some(map) = settings(d.settings).as_object() {
        for (name, value) in map {
            body.push_str(&format!(
                "<tr><th scope=\"row\" class=\"mono\">{}</th><td>{}</td></tr>\n",
                escape(name),
                if value.as_bool() == Some(true) {
                    "on"
                } else {
                    "off"
                }
            ));
        }
    }
    body.push_str("</tbody></table><p>Ask the application's team to change them.</p></section>\n");
    layout(d.root, "Identity provider setup", &body)
}

/// A page that says why a link opens nothing.
pub fn refusal(root: &str, title: &str, text: &str) -> String {
    layout(
        root,
        title,
        &format!(
            "<h1>{}</h1>\n<p class=\"error\">{}</p>\n<p>Ask the application's team for a new setup link.</p>",
            escape(title),
            escape(text)
        ),
    )
}
