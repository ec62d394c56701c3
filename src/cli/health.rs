//! `deckhand healthcheck`: GET a server's `/healthz` and exit 0 on 200, 1 otherwise (what a
//! container's HEALTHCHECK runs, so the image needs no curl).

use super::args::HealthArgs;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

/// Used when nothing names the server.
const DEFAULT_URL: &str = "http://127.0.0.1:3000/healthz";

/// The URL to check: `--url`, else `/healthz` on `DECKHAND_SERVER`, else on the config's
/// `serve.listen`, else [`DEFAULT_URL`].
pub fn health_url(args: &HealthArgs, server_env: Option<&str>) -> String {
    if let Some(url) = &args.url {
        return url.clone();
    }
    if let Some(server) = server_env.filter(|s| !s.trim().is_empty()) {
        return format!("{}/healthz", server.trim().trim_end_matches('/'));
    }
    if let Some(listen) = args.config.as_deref().and_then(listen_of) {
        return format!("http://{}/healthz", connectable(&listen));
    }
    DEFAULT_URL.to_string()
}

/// `serve.listen` of a config file, read without validating the rest (a health check must
/// not fail because of an unrelated config problem).
fn listen_of(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).ok()?;
    doc.get("serve")?
        .get("listen")?
        .as_str()
        .map(str::to_string)
}

/// A listen address as an address to connect to: the wildcard addresses become loopback.
fn connectable(listen: &str) -> String {
    if let Some(port) = listen.strip_prefix("0.0.0.0:") {
        return format!("127.0.0.1:{port}");
    }
    if let Some(port) = listen.strip_prefix("[::]:") {
        return format!("[::1]:{port}");
    }
    listen.to_string()
}

/// Runs the check; prints one line on failure (stderr) and nothing when healthy.
pub async fn healthcheck(args: &HealthArgs) -> ExitCode {
    let server = std::env::var("DECKHAND_SERVER").ok();
    let url = health_url(args, server.as_deref());
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(args.timeout.max(1)))
        .no_proxy()
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("unhealthy: cannot set up HTTP: {e}");
            return ExitCode::FAILURE;
        }
    };
    match client.get(&url).send().await {
        Ok(resp) if resp.status() == reqwest::StatusCode::OK => ExitCode::SUCCESS,
        Ok(resp) => {
            eprintln!("unhealthy: {url} answered {}", resp.status());
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("unhealthy: {url}: {}", super::client::describe(&e));
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(url: Option<&str>, config: Option<&Path>) -> HealthArgs {
        HealthArgs {
            url: url.map(str::to_string),
            config: config.map(Path::to_path_buf),
            timeout: 5,
        }
    }

    #[test]
    fn the_url_comes_from_the_flag_the_server_the_config_or_the_default() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("deckhand.yaml");
        std::fs::write(&config, "serve:\n  listen: 0.0.0.0:8080\nservices: [oops\n").unwrap();
        assert_eq!(
            health_url(
                &args(Some("http://h:1/healthz"), Some(&config)),
                Some("http://s:2")
            ),
            "http://h:1/healthz"
        );
        assert_eq!(
            health_url(&args(None, Some(&config)), Some("http://s:2/")),
            "http://s:2/healthz"
        );
        // The file is not valid YAML as a whole: no listen can be read from it.
        assert_eq!(health_url(&args(None, Some(&config)), None), DEFAULT_URL);
        std::fs::write(&config, "serve:\n  listen: 0.0.0.0:8080\nservices: []\n").unwrap();
        assert_eq!(
            health_url(&args(None, Some(&config)), None),
            "http://127.0.0.1:8080/healthz"
        );
        std::fs::write(&config, "serve:\n  listen: \"[::]:9\"\n").unwrap();
        assert_eq!(
            health_url(&args(None, Some(&config)), None),
            "http://[::1]:9/healthz"
        );
        assert_eq!(health_url(&args(None, None), Some("  ")), DEFAULT_URL);
    }
}
