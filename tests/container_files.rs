//! The container files (`docker/Dockerfile`, `docker/compose.yaml`, `.dockerignore`) checked
//! against the code, since no Docker daemon is reachable here: the compose services and their
//! health checks, the published port against the config's listen address, every environment
//! variable against what Deckhand reads, the mounted config against the real config loader
//! (laid out as the image lays it out), and the Dockerfile's COPY sources against the tree.

use deckhand::config::{Config, StageKind};
use serde_yaml::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(root().join(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

fn compose() -> Value {
    serde_yaml::from_str(&read("docker/compose.yaml")).expect("compose.yaml is YAML")
}

/// A string field, or a panic naming it.
fn text<'a>(v: &'a Value, what: &str) -> &'a str {
    v.as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {v:?}"))
}

/// A list of strings (compose's exec form), or a panic naming it.
fn strings(v: &Value, what: &str) -> Vec<String> {
    v.as_sequence()
        .unwrap_or_else(|| panic!("{what} is not a list: {v:?}"))
        .iter()
        .map(|s| text(s, what).to_string())
        .collect()
}

/// One Dockerfile instruction: keyword (upper case) and its arguments, continuations joined.
#[derive(Debug)]
struct Instruction {
    keyword: String,
    args: String,
}

fn dockerfile() -> Vec<Instruction> {
    let mut out = Vec::new();
    let mut pending = String::new();
    for line in read("docker/Dockerfile").lines() {
        let trimmed = line.trim();
        // Comment lines end nothing, also inside a continued instruction.
        if trimmed.starts_with('#') || (trimmed.is_empty() && pending.is_empty()) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(part) => {
                pending.push_str(part);
                pending.push(' ');
            }
            None => {
                pending.push_str(trimmed);
                let (keyword, args) = pending.split_once(' ').unwrap_or((&pending, ""));
                out.push(Instruction {
                    keyword: keyword.to_uppercase(),
                    args: args.trim().to_string(),
                });
                pending.clear();
            }
        }
    }
    out
}

fn instructions<'a>(all: &'a [Instruction], keyword: &str) -> Vec<&'a Instruction> {
    all.iter().filter(|i| i.keyword == keyword).collect()
}

/// The one instruction of this kind in the runtime (last) stage.
fn runtime_one<'a>(all: &'a [Instruction], keyword: &str) -> &'a Instruction {
    let last_from = all.iter().rposition(|i| i.keyword == "FROM").unwrap();
    let found: Vec<_> = all[last_from..]
        .iter()
        .filter(|i| i.keyword == keyword)
        .collect();
    assert_eq!(found.len(), 1, "one {keyword} in the runtime stage");
    found[0]
}

/// Exec-form JSON arguments (`["a", "b"]`).
fn exec_form(args: &str) -> Vec<String> {
    serde_json::from_str(args).unwrap_or_else(|e| panic!("not exec form ({e}): {args}"))
}

/// The port of `host:port` (or `[v6]:port`).
fn port_of(addr: &str) -> u16 {
    addr.rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {addr}"))
}

fn env_value<'a>(service: &'a Value, name: &str) -> &'a str {
    text(&service["environment"][name], name)
}

#[test]
fn compose_has_postgres_and_deckhand_with_health_checks() {
    let c = compose();
    let services = c["services"].as_mapping().expect("services");
    let names: BTreeSet<&str> = services.keys().map(|k| text(k, "service name")).collect();
    assert_eq!(names, BTreeSet::from(["deckhand", "postgres"]));

    let pg = &c["services"]["postgres"];
    assert!(text(&pg["image"], "postgres image").starts_with("postgres:17"));
    let pg_check = strings(&pg["healthcheck"]["test"], "postgres healthcheck").join(" ");
    assert!(pg_check.contains("pg_isready"), "{pg_check}");

    let d = &c["services"]["deckhand"];
    assert_eq!(
        text(&d["depends_on"]["postgres"]["condition"], "depends_on"),
        "service_healthy"
    );
    assert_eq!(
        strings(&d["healthcheck"]["test"], "deckhand healthcheck"),
        ["CMD", "deckhand", "healthcheck"]
    );
    // The build context is the repository root and the Dockerfile is this one.
    let context = root()
        .join("docker")
        .join(text(&d["build"]["context"], "build.context"));
    assert_eq!(
        context.canonicalize().unwrap(),
        root().canonicalize().unwrap()
    );
    assert!(context
        .join(text(&d["build"]["dockerfile"], "build.dockerfile"))
        .is_file());
}

/// Where compose mounts a host file from docker/ in the deckhand container: (host, target).
fn mounts(deckhand: &Value) -> Vec<(String, String)> {
    strings(&deckhand["volumes"], "volumes")
        .into_iter()
        .filter_map(|v| {
            let mut parts = v.split(':');
            let (source, target) = (parts.next()?, parts.next()?);
            Some((source.to_string(), target.to_string()))
        })
        .collect()
}

/// Copies `from` into `to` recursively (files, folders and symlinks).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            copy_tree(&entry.path(), &target);
        } else if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(entry.path()).unwrap(), &target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The image's config folder rebuilt in `dir`: every runtime `COPY <src> <dest>` whose
/// destination is `config_dir`, then the file compose mounts there.
fn image_config_dir(dir: &Path, config_dir: &str) {
    let all = dockerfile();
    let last_from = all.iter().rposition(|i| i.keyword == "FROM").unwrap();
    let mut copied = 0;
    for copy in instructions(&all[last_from..], "COPY") {
        let words: Vec<&str> = copy.args.split_whitespace().collect();
        if words[0].starts_with("--from") {
            continue;
        }
        let (dest, sources) = words.split_last().unwrap();
        if dest.trim_end_matches('/') == config_dir {
            for s in sources {
                copy_tree(&root().join(s), dir);
                copied += 1;
            }
        }
    }
    assert!(
        copied > 0,
        "the runtime stage copies nothing to {config_dir}"
    );
}

/// Every stage command's script (its first word, when a relative path) exists under the
/// config's folder, where stages run.
fn assert_stage_scripts_exist(config: &Config) {
    for (name, pipeline) in &config.pipelines {
        for stage in &pipeline.stages {
            let StageKind::Process { command } = &stage.kind;
            let program = command.split_whitespace().next().unwrap_or_default();
            if program.contains('/') && !program.starts_with('/') {
                assert!(
                    config.base_dir.join(program).is_file(),
                    "pipeline {name}, stage {}: {program} is not in the image",
                    stage.name
                );
            }
        }
    }
}

#[test]
fn the_mounted_config_loads_in_the_image_layout_and_matches_the_port() {
    let c = compose();
    let d = &c["services"]["deckhand"];
    let config_path = env_value(d, "DECKHAND_CONFIG");
    let (host, _) = mounts(d)
        .into_iter()
        .find(|(_, target)| target == config_path)
        .unwrap_or_else(|| panic!("compose mounts nothing at DECKHAND_CONFIG={config_path}"));
    let config_dir = Path::new(config_path).parent().unwrap().to_str().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    image_config_dir(tmp.path(), config_dir);
    let file = tmp.path().join(Path::new(config_path).file_name().unwrap());
    std::fs::copy(root().join("docker").join(&host), &file).unwrap();
    let config = Config::load(&file).unwrap_or_else(|e| panic!("{host}: {e}"));
    assert_stage_scripts_exist(&config);

    // The port compose publishes is the one Deckhand listens on in the container.
    let command = strings(&d["command"], "command");
    let listen = match command.iter().position(|a| a == "--listen") {
        Some(i) => command[i + 1].clone(),
        None => config.serve.listen.clone(),
    };
    assert!(
        listen.starts_with("0.0.0.0:") || listen.starts_with("[::]:"),
        "{listen}: a container must listen on every interface"
    );
    for mapping in strings(&d["ports"], "ports") {
        let container = mapping.rsplit(':').next().unwrap();
        let container = container.trim_end_matches("/tcp");
        assert_eq!(
            container.parse::<u16>().unwrap(),
            port_of(&listen),
            "{mapping}"
        );
    }
    let expose = runtime_one(&dockerfile(), "EXPOSE").args.clone();
    assert_eq!(expose.parse::<u16>().unwrap(), port_of(&listen));

    // The store is the compose PostgreSQL service, with its user, password and database.
    let url = config.store_url();
    let pg = &c["services"]["postgres"];
    let expected = format!(
        "postgres://{}:{}@postgres:5432/{}",
        env_value(pg, "POSTGRES_USER"),
        env_value(pg, "POSTGRES_PASSWORD"),
        env_value(pg, "POSTGRES_DB")
    );
    assert_eq!(url, expected);
}

/// The library's and binary's source text, every file.
fn source_text() -> String {
    fn walk(dir: &Path, out: &mut String) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push_str(&std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let mut out = String::new();
    walk(&root().join("src"), &mut out);
    out
}

#[test]
fn every_variable_compose_sets_is_one_deckhand_reads() {
    let c = compose();
    let d = &c["services"]["deckhand"];
    let code = source_text();
    // Variables a config names (the API's `token_env`) are read too: the mounted config's.
    let config_text = read("docker/deckhand.compose.yaml");
    let config: Value = serde_yaml::from_str(&config_text).unwrap();
    let named: BTreeSet<String> = config["api"]["tokens"]
        .as_sequence()
        .into_iter()
        .flatten()
        .filter_map(|t| t["token_env"].as_str().map(str::to_string))
        .collect();
    let readme = read("README.md");
    let env = d["environment"].as_mapping().expect("environment mapping");
    assert!(!env.is_empty());
    for name in env.keys().map(|k| text(k, "variable")) {
        assert!(
            code.contains(&format!("\"{name}\"")) || named.contains(name),
            "compose sets {name}, which no string in src/ and no token_env of the config names"
        );
        assert!(
            readme.contains(&format!("`{name}`")),
            "{name} is not documented in README.md"
        );
    }
    // And every token variable the config expects is set.
    for name in &named {
        assert!(
            env.contains_key(name.as_str()),
            "compose does not set {name}"
        );
    }
}

/// The top-level patterns of `.dockerignore` (`target/`, `.git`, ...), without slashes.
fn ignored() -> Vec<String> {
    read(".dockerignore")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.trim_end_matches('/').to_string())
        .collect()
}

#[test]
fn dockerfile_copy_sources_exist_and_are_in_the_build_context() {
    let all = dockerfile();
    let ignored = ignored();
    for name in ["target", ".git", "models", ".deckhand"] {
        assert!(ignored.iter().any(|i| i == name), ".dockerignore: {name}");
    }
    let copies = instructions(&all, "COPY");
    assert!(!copies.is_empty());
    for copy in copies {
        let words: Vec<&str> = copy.args.split_whitespace().collect();
        if words[0].starts_with("--from") {
            continue;
        }
        let (_, sources) = words.split_last().unwrap();
        for source in sources {
            assert!(
                root().join(source).exists(),
                "COPY {source}: not in the tree"
            );
            let top = source.trim_end_matches('/').split('/').next().unwrap();
            assert!(
                !ignored.iter().any(|i| i == top || i == source),
                "COPY {source}: excluded by .dockerignore"
            );
        }
    }
}

#[test]
fn the_image_runs_deckhand_under_tini_as_a_non_root_user_with_data_on_the_volume() {
    let all = dockerfile();
    assert_eq!(
        exec_form(&runtime_one(&all, "ENTRYPOINT").args),
        ["tini", "--", "deckhand"]
    );
    let user = runtime_one(&all, "USER").args.clone();
    assert_eq!(user.split(':').next(), Some("10001"));
    let workdir = runtime_one(&all, "WORKDIR").args.clone();
    assert_eq!(
        exec_form(&runtime_one(&all, "VOLUME").args),
        vec![workdir.clone()]
    );
    // The image's config folder keeps its relative `.deckhand/` (store, deploy root, NLU
    // cache) on the volume.
    let env = runtime_one(&all, "ENV").args.clone();
    let config_path = env
        .strip_prefix("DECKHAND_CONFIG=")
        .unwrap_or_else(|| panic!("ENV {env}"));
    let config_dir = Path::new(config_path)
        .parent()
        .unwrap()
        .display()
        .to_string();
    let link = format!("ln -s {workdir} {config_dir}/.deckhand");
    assert!(
        instructions(&all, "RUN")
            .iter()
            .any(|r| r.args.contains(&link)),
        "no `{link}` in the Dockerfile"
    );
    let tmp = tempfile::tempdir().unwrap();
    image_config_dir(tmp.path(), &config_dir);
    let example = tmp.path().join(Path::new(config_path).file_name().unwrap());
    let config = Config::load(&example).unwrap_or_else(|e| panic!("{config_path}: {e}"));
    assert_stage_scripts_exist(&config);
    assert!(config.store.url.starts_with("sqlite://.deckhand/"));
}

/// The subcommand a command line runs (`serve`, `healthcheck`), after `deckhand`.
fn subcommand_after_deckhand(words: &[String]) -> Option<String> {
    let i = words.iter().position(|w| w == "deckhand")?;
    words.get(i + 1).cloned()
}

#[test]
fn the_subcommands_the_container_runs_exist() {
    let all = dockerfile();
    let c = compose();
    let d = &c["services"]["deckhand"];
    let health = runtime_one(&all, "HEALTHCHECK").args.clone();
    let health = &health[health.find("CMD").expect("HEALTHCHECK CMD") + 3..];
    let mut used = vec![
        subcommand_after_deckhand(&exec_form(health.trim())).unwrap(),
        exec_form(&runtime_one(&all, "CMD").args)[0].clone(),
        strings(&d["command"], "command")[0].clone(),
        subcommand_after_deckhand(&strings(&d["healthcheck"]["test"], "healthcheck")).unwrap(),
    ];
    used.dedup();
    for sub in used {
        let out = Command::new(env!("CARGO_BIN_EXE_deckhand"))
            .args([sub.as_str(), "--help"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "`deckhand {sub} --help` failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
