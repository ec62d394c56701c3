//! `GET /api/v1/docs`: the API reference as one self-contained HTML page, rendered on the
//! server from the OpenAPI document (no script, no CDN: it works offline and behind a proxy).

use serde_json::Value;
use std::fmt::Write;

/// The reference page for an OpenAPI document (as JSON).
pub fn render(spec: &Value) -> String {
    let mut html = String::with_capacity(64 * 1024);
    let title = text(&spec["info"]["title"]);
    let _ = write!(
        html,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><style>{STYLE}</style></head><body>\
         <h1>{t} <small>{v}</small></h1><div class=\"desc\">{d}</div>\
         <p>The machine-readable document: <a href=\"/api/v1/openapi.json\">/api/v1/openapi.json</a> (OpenAPI {o}).</p>",
        t = esc(&title),
        v = esc(&text(&spec["info"]["version"])),
        d = paragraphs(&text(&spec["info"]["description"])),
        o = esc(&text(&spec["openapi"])),
    );
    html.push_str("<h2>Operations</h2><ul class=\"toc\">");
    let operations = operations(spec);
    for (method, path, op) in &operations {
        let _ = write!(
            html,
            "<li><a href=\"#{a}\"><code class=\"m {m}\">{M}</code> <code>{p}</code></a> {s}</li>",
            a = anchor(method, path),
            m = method,
            M = method.to_uppercase(),
            p = esc(path),
            s = esc(&summary(op)),
        );
    }
    html.push_str("</ul>");
    for (method, path, op) in &operations {
        operation(&mut html, method, path, op);
    }
    html.push_str("<h2>Schemas</h2>");
    if let Some(schemas) = spec["components"]["schemas"].as_object() {
        for (name, schema) in schemas {
            let pretty = serde_json::to_string_pretty(schema).unwrap_or_default();
            let _ = write!(
                html,
                "<h3 id=\"schema-{n}\">{n}</h3><pre>{s}</pre>",
                n = esc(name),
                s = esc(&pretty)
            );
        }
    }
    html.push_str("</body></html>");
    html
}

const STYLE: &str = "body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}\
code,pre{font:13px ui-monospace,monospace}pre{background:#f5f5f5;padding:.6rem;overflow:auto}\
table{border-collapse:collapse;margin:.4rem 0}td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:left;vertical-align:top}\
.m{color:#fff;padding:0 .3rem;border-radius:3px}.get{background:#2a7}.post{background:#27c}.delete{background:#c33}.put,.patch{background:#a72}\
.toc{list-style:none;padding:0}h3{margin-top:2rem;border-top:1px solid #eee;padding-top:1rem}small{color:#777}";

fn operations(spec: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    if let Some(paths) = spec["paths"].as_object() {
        for (path, item) in paths {
            for method in ["get", "post", "put", "patch", "delete"] {
                if let Some(op) = item.get(method) {
                    out.push((method.to_string(), path.clone(), op.clone()));
                }
            }
        }
    }
    out
}

fn operation(html: &mut String, method: &str, path: &str, op: &Value) {
    let _ = write!(
        html,
        "<h3 id=\"{a}\"><code class=\"m {m}\">{M}</code> <code>{p}</code></h3><div>{d}</div>",
        a = anchor(method, path),
        m = method,
        M = method.to_uppercase(),
        p = esc(path),
        d = paragraphs(&[text(&op["summary"]), text(&op["description"])].join("\n\n")),
    );
    if op.get("security").is_some() {
        html.push_str("<p><em>Needs <code>Authorization: Bearer &lt;token&gt;</code>.</em></p>");
    }
    if let Some(params) = op["parameters"].as_array().filter(|p| !p.is_empty()) {
        html.push_str(
            "<table><tr><th>Parameter</th><th>In</th><th>Type</th><th>Description</th></tr>",
        );
        for p in params {
            let required = if p["required"].as_bool() == Some(true) {
                " (required)"
            } else {
                ""
            };
            let _ = write!(
                html,
                "<tr><td><code>{n}</code>{r}</td><td>{i}</td><td>{t}</td><td>{d}</td></tr>",
                n = esc(&text(&p["name"])),
                r = required,
                i = esc(&text(&p["in"])),
                t = schema_name(&p["schema"]),
                d = esc(&text(&p["description"])),
            );
        }
        html.push_str("</table>");
    }
    if let Some(content) = op["requestBody"]["content"].as_object() {
        for (media, body) in content {
            let _ = write!(
                html,
                "<p>Body (<code>{}</code>): {}</p>",
                esc(media),
                schema_name(&body["schema"])
            );
        }
    }
    if let Some(responses) = op["responses"].as_object() {
        html.push_str("<table><tr><th>Status</th><th>Description</th><th>Body</th></tr>");
        for (status, r) in responses {
            let body = r["content"]
                .as_object()
                .map(|c| {
                    c.iter()
                        .map(|(media, m)| {
                            format!("<code>{}</code> {}", esc(media), schema_name(&m["schema"]))
                        })
                        .collect::<Vec<_>>()
                        .join("<br>")
                })
                .unwrap_or_default();
            let _ = write!(
                html,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(status),
                esc(&text(&r["description"])),
                body
            );
        }
        html.push_str("</table>");
    }
}

/// A schema as a link to its component, or its type.
fn schema_name(schema: &Value) -> String {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap_or(r);
        return format!("<a href=\"#schema-{n}\">{n}</a>", n = esc(name));
    }
    if let Some(items) = schema.get("items") {
        return format!("array of {}", schema_name(items));
    }
    if let Some(variants) = schema["oneOf"].as_array() {
        return variants
            .iter()
            .map(schema_name)
            .collect::<Vec<_>>()
            .join(" or ");
    }
    match &schema["type"] {
        Value::String(t) => esc(t),
        Value::Array(ts) => ts
            .iter()
            .map(|t| esc(&text(t)))
            .collect::<Vec<_>>()
            .join(" or "),
        _ => "object".into(),
    }
}

fn anchor(method: &str, path: &str) -> String {
    let slug: String = path
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("{method}{slug}")
}

fn summary(op: &Value) -> String {
    text(&op["summary"])
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn paragraphs(s: &str) -> String {
    s.split("\n\n")
        .filter(|p| !p.trim().is_empty())
        .map(|p| format!("<p>{}</p>", esc(p.trim())))
        .collect()
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_is_listed_and_text_is_escaped() {
        let spec = serde_json::json!({
            "openapi": "3.1.0",
            "info": {"title": "T <x>", "version": "1"},
            "paths": {"/a/{id}": {"get": {"summary": "Get <a>", "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}],
                "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/A"}}}}}},
                "delete": {"summary": "Remove", "responses": {"204": {"description": "gone"}}}}},
            "components": {"schemas": {"A": {"type": "object"}}}
        });
        let html = render(&spec);
        assert!(html.contains("T &lt;x&gt;"));
        assert!(html.contains("Get &lt;a&gt;"));
        assert!(!html.contains("<x>"));
        assert!(html.contains("href=\"#get-a--id-\""));
        assert!(html.contains("href=\"#delete-a--id-\""));
        assert!(html.contains("<a href=\"#schema-A\">A</a>"));
        assert!(html.contains("id=\"schema-A\""));
        assert!(
            !html.contains("<script"),
            "no script: the page works offline"
        );
    }
}
