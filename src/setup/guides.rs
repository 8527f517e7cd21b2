//! The identity providers' setup guides, from `docs/idp/` (one source of truth: the same files
//! the repository documents), compiled in and rendered as HTML by a deliberately small
//! Markdown subset: headings, paragraphs, lists, fenced code, tables (kept as text), and
//! inline code, bold and links (shown as text with their address). Everything is escaped.

/// The guides, by display name (file order of `docs/idp/`).
pub const GUIDES: [(&str, &str, &str); 7] = [
    ("okta", "Okta", include_str!("../../docs/idp/okta.md")),
    (
        "entra",
        "Microsoft Entra ID",
        include_str!("../../docs/idp/entra.md"),
    ),
    (
        "onelogin",
        "OneLogin",
        include_str!("../../docs/idp/onelogin.md"),
    ),
    (
        "jumpcloud",
        "JumpCloud",
        include_str!("../../docs/idp/jumpcloud.md"),
    ),
    (
        "google-workspace",
        "Google Workspace",
        include_str!("../../docs/idp/google-workspace.md"),
    ),
    (
        "authentik",
        "authentik",
        include_str!("../../docs/idp/authentik.md"),
    ),
    (
        "keycloak",
        "Keycloak",
        include_str!("../../docs/idp/keycloak.md"),
    ),
];

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Inline Markdown: `code`, **bold**, [text](address) and <address>; the rest escaped.
fn inline(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('`')
            && let Some(end) = after.find('`')
        {
            out.push_str(&format!("<code>{}</code>", escape(&after[..end])));
            rest = &after[end + 1..];
        } else if let Some(after) = rest.strip_prefix("**")
            && let Some(end) = after.find("**")
        {
            out.push_str(&format!("<strong>{}</strong>", inline(&after[..end])));
            rest = &after[end + 2..];
        } else if let Some(after) = rest.strip_prefix('[')
            && let Some(close) = after.find("](")
            && let Some(end) = after[close + 2..].find(')')
        {
            let label = &after[..close];
            let address = &after[close + 2..close + 2 + end];
            out.push_str(&format!("{} ({})", inline(label), escape(address)));
            rest = &after[close + 2 + end + 1..];
        } else if let Some(after) = rest.strip_prefix('<')
            && let Some(end) = after.find('>')
            && after[..end].starts_with("http")
        {
            out.push_str(&escape(&after[..end]));
            rest = &after[end + 1..];
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            out.push_str(&escape(&c.to_string()));
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// Renders a guide's Markdown as HTML (its first heading dropped: the page names the guide).
pub fn render(markdown: &str) -> String {
    let mut html = String::new();
    let mut paragraph: Vec<&str> = Vec::new();
    let mut list_open = false;
    let mut in_code = false;
    let flush = |html: &mut String, paragraph: &mut Vec<&str>| {
        if !paragraph.is_empty() {
            html.push_str(&format!("<p>{}</p>\n", inline(&paragraph.join(" "))));
            paragraph.clear();
        }
    };
    for (i, line) in markdown.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            flush(&mut html, &mut paragraph);
            html.push_str(if in_code {
                "</code></pre>\n"
            } else {
                "<pre><code>"
            });
            in_code = !in_code;
            continue;
        }
        if in_code {
            html.push_str(&escape(line));
            html.push('\n');
            continue;
        }
        let trimmed = line.trim();
        let item = trimmed
            .strip_prefix("- ")
            .or_else(|| trimmed.strip_prefix("* "))
            .or_else(|| {
                trimmed
                    .split_once(". ")
                    .filter(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                    .map(|(_, rest)| rest)
            });
        if let Some(heading) = trimmed.strip_prefix('#') {
            flush(&mut html, &mut paragraph);
            if list_open {
                html.push_str("</ul>\n");
                list_open = false;
            }
            let level = heading.chars().take_while(|c| *c == '#').count() + 1;
            if i > 0 || level > 1 {
                let text = heading.trim_start_matches('#').trim();
                let tag = (level + 2).min(6);
                html.push_str(&format!("<h{tag}>{}</h{tag}>\n", inline(text)));
            }
        } else if let Some(item) = item {
            flush(&mut html, &mut paragraph);
            if !list_open {
                html.push_str("<ul>\n");
                list_open = true;
            }
            html.push_str(&format!("<li>{}</li>\n", inline(item)));
        } else if trimmed.starts_with('|') {
            flush(&mut html, &mut paragraph);
            html.push_str(&format!("<pre class=\"table\">{}</pre>\n", escape(trimmed)));
        } else if trimmed.is_empty() {
            flush(&mut html, &mut paragraph);
            if list_open {
                html.push_str("</ul>\n");
                list_open = false;
            }
        } else if list_open && line.starts_with(' ') {
            // A list item continued on the next line.
            if let Some(end) = html.rfind("</li>") {
                html.insert_str(end, &format!(" {}", inline(trimmed)));
            }
        } else {
            paragraph.push(trimmed);
        }
    }
    flush(&mut html, &mut paragraph);
    if list_open {
        html.push_str("</ul>\n");
    }
    if in_code {
        html.push_str("</code></pre>\n");
    }
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_becomes_escaped_html() {
        let html = render(
            "# Title\n\nSome `a<b>` and **bold** [link](https://x.example) <https://y.example>.\n\n1. one\n   more\n2. two\n\n```\n<script>\n```\n",
        );
        assert!(!html.contains("Title"), "{html}");
        assert!(html.contains("<code>a&lt;b&gt;</code>"), "{html}");
        assert!(html.contains("<strong>bold</strong>"), "{html}");
        assert!(html.contains("link (https://x.example)"), "{html}");
        assert!(html.contains("<li>one more</li>"), "{html}");
        assert!(
            html.contains("&lt;script&gt;") && !html.contains("<script>"),
            "{html}"
        );
    }

    #[test]
    fn every_guide_renders() {
        for (_, name, text) in GUIDES {
            let html = render(text);
            assert!(html.len() > 200, "{name}");
            assert!(!html.contains("<script"), "{name}");
        }
    }
}
