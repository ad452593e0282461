//! Tests of profile parsing and of the catalog's lookup order.

use std::path::PathBuf;

use super::*;

fn parse(text: &str) -> Result<AgentProfile, ProfileError> {
    parse_profile_with(text, "x.md", &Vars::only([]))
}

fn error(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

const MINIMAL: &str = "---\nname: dev\ndescription: Does things\n---\nBe helpful.\n";

#[test]
fn parses_minimal_profile() {
    let profile = parse(MINIMAL).unwrap();
    assert_eq!(profile.name, "dev");
    assert_eq!(profile.description, "Does things");
    assert_eq!(profile.system_prompt, "Be helpful.");
    assert_eq!(profile.allowed_tools, None);
    assert!(profile.mcp_servers.is_empty());
}

#[test]
fn parses_every_field_and_keeps_extras() {
    let text = r#"---
name: full
description: All fields
provider: codex
role: developer
allowedTools: [fs_read, "@cao-mcp-server"]
skills: ["ads-*"]
mcpServers:
  cao-mcp-server:
    command: cao-mcp-server
    args: [--verbose]
    env: {A: b}
    timeout: 30
  remote:
    type: http
    url: https://example.test/mcp
model: gpt-5
provider_init_timeout: 180
toolAliases: {x: y}
useLegacyMcpJson: true
codexConfig: {model_reasoning_effort: high}
---

# Prompt
"#;
    let profile = parse(text).unwrap();
    assert_eq!(profile.provider.as_deref(), Some("codex"));
    assert_eq!(profile.role.as_deref(), Some("developer"));
    assert_eq!(
        profile.allowed_tools,
        Some(vec!["fs_read".to_string(), "@cao-mcp-server".to_string()])
    );
    assert_eq!(profile.skills, Some(vec!["ads-*".to_string()]));
    let local = &profile.mcp_servers["cao-mcp-server"];
    assert_eq!(local.command.as_deref(), Some("cao-mcp-server"));
    assert_eq!(local.args, ["--verbose"]);
    assert_eq!(local.env["A"], "b");
    assert_eq!(local.extra["timeout"], serde_json::json!(30));
    let remote = &profile.mcp_servers["remote"];
    assert_eq!(remote.transport.as_deref(), Some("http"));
    assert_eq!(remote.url.as_deref(), Some("https://example.test/mcp"));
    assert_eq!(profile.model.as_deref(), Some("gpt-5"));
    assert_eq!(profile.provider_init_timeout, Some(180));
    assert_eq!(profile.extra["toolAliases"], serde_json::json!({"x": "y"}));
    assert_eq!(profile.extra["useLegacyMcpJson"], serde_json::json!(true));
    assert_eq!(
        profile.extra["codexConfig"],
        serde_json::json!({"model_reasoning_effort": "high"})
    );
    assert_eq!(profile.system_prompt, "# Prompt");
    assert!(profile.may_orchestrate());
}

#[test]
fn round_trips_through_markdown() {
    for (name, text) in catalog::BUILTINS {
        let profile = parse_profile_with(text, name, &Vars::only([])).unwrap();
        let again = parse(&profile.to_markdown()).unwrap();
        assert_eq!(again, profile, "{name}");
    }
    let profile = parse(
        "---\nname: a\ndescription: b\nmodel: m\nhooks: {agentSpawn: [{command: x}]}\n---\nbody\n",
    )
    .unwrap();
    assert_eq!(parse(&profile.to_markdown()).unwrap(), profile);
}

#[test]
fn json_uses_cao_key_names() {
    let profile =
        parse("---\nname: a\ndescription: b\nallowedTools: [\"*\"]\ntools: [\"*\"]\n---\nhi\n")
            .unwrap();
    assert_eq!(
        serde_json::to_value(&profile).unwrap(),
        serde_json::json!({
            "name": "a", "description": "b", "allowedTools": ["*"], "tools": ["*"],
            "system_prompt": "hi"
        })
    );
}

#[test]
fn error_missing_frontmatter() {
    assert_eq!(
        error("# just markdown\n"),
        "x.md:1: missing frontmatter: the file must start with a '---' line"
    );
    assert_eq!(
        error(""),
        "x.md:1: missing frontmatter: the file must start with a '---' line"
    );
}

#[test]
fn error_unterminated_frontmatter() {
    assert_eq!(
        error("---\nname: a\n"),
        "x.md:1: unterminated frontmatter: no closing '---' line"
    );
}

#[test]
fn error_unknown_key_with_suggestion() {
    let text = "---\nname: developer\ndescription: d\nalowedTools: [fs_read]\n---\n";
    assert_eq!(
        parse_profile_with(text, "developer.md", &Vars::only([]))
            .unwrap_err()
            .to_string(),
        "developer.md:4: unknown key 'alowedTools' (did you mean 'allowedTools'?)"
    );
    assert_eq!(
        error("---\nname: a\ndescription: d\ncolour: blue\n---\n"),
        "x.md:4: unknown key 'colour'"
    );
}

#[test]
fn error_first_problem_in_file_order() {
    assert_eq!(
        error("---\nzzz: 1\nname: a\ndescription: d\naaa: 2\n---\n"),
        "x.md:2: unknown key 'zzz'"
    );
}

#[test]
fn error_required_fields() {
    assert_eq!(
        error("---\nname: a\n---\nbody\n"),
        "x.md:3: 'description' is required"
    );
    assert_eq!(
        error("---\ndescription: d\n---\n"),
        "x.md:3: 'name' is required"
    );
    assert_eq!(error("---\n---\n"), "x.md:2: 'name' is required");
    assert_eq!(
        error("---\nname: a\ndescription: \"  \"\n---\n"),
        "x.md:3: 'description' must be a non-empty string"
    );
}

#[test]
fn error_bad_name() {
    assert_eq!(
        error("---\nname: ../evil\ndescription: d\n---\n"),
        "x.md:2: 'name' must be a plain name (letters, digits, '_', '-', '.'), not '../evil'"
    );
}

#[test]
fn error_wrong_types() {
    assert_eq!(
        error("---\nname: a\ndescription: d\nallowedTools: fs_read\n---\n"),
        "x.md:4: 'allowedTools' must be a list of strings"
    );
    assert_eq!(
        error("---\nname: a\ndescription: d\nprovider_init_timeout: soon\n---\n"),
        "x.md:4: 'provider_init_timeout' must be a whole number of seconds"
    );
    assert_eq!(
        error("---\nname: a\ndescription: d\nmcpServers: [x]\n---\n"),
        "x.md:4: 'mcpServers' must be a mapping of server names to settings"
    );
}

#[test]
fn error_mcp_server_without_command_or_url() {
    assert_eq!(
        error("---\nname: a\ndescription: d\nmcpServers:\n  ok:\n    command: x\n  broken:\n    args: [y]\n---\n"),
        "x.md:7: MCP server 'broken' needs 'command' (a local server) or 'url' (a remote one)"
    );
}

#[test]
fn error_yaml_syntax_has_file_line() {
    assert_eq!(
        error("---\nname: a\ndescription: d\nallowedTools: [fs_read\nmodel: m\n---\n"),
        "x.md:5: invalid YAML: did not find expected ',' or ']'"
    );
    let message = error("---\nname: a\n  bad: indent\n---\n");
    assert!(message.starts_with("x.md:3: invalid YAML: "), "{message}");
}

#[test]
fn error_frontmatter_not_a_mapping() {
    assert_eq!(
        error("---\n- a\n- b\n---\n"),
        "x.md:2: the frontmatter must be a mapping of keys to values"
    );
}

#[test]
fn substitutes_variables_in_frontmatter_and_body() {
    let vars = Vars::only([
        ("MODEL".to_string(), "opus".to_string()),
        ("TEAM".to_string(), "core".to_string()),
    ]);
    let profile = parse_profile_with(
        "---\nname: a\ndescription: for ${TEAM}\nmodel: ${MODEL}\n---\nYou work for ${TEAM}.\n",
        "x.md",
        &vars,
    )
    .unwrap();
    assert_eq!(profile.description, "for core");
    assert_eq!(profile.model.as_deref(), Some("opus"));
    assert_eq!(profile.system_prompt, "You work for core.");
}

#[test]
fn error_unset_variable_names_it_and_its_line() {
    assert_eq!(
        error("---\nname: a\ndescription: d\n---\nline one\nkey ${API_KEY}\n"),
        "x.md:6: variable 'API_KEY' is not set (set it with `cao env set API_KEY VALUE` or export it)"
    );
}

#[test]
fn builtin_code_supervisor_snapshot() {
    let text = catalog::BUILTINS[0].1;
    let profile = parse_profile_with(text, "code_supervisor.md", &Vars::only([])).unwrap();
    insta::assert_json_snapshot!(profile);
}

#[test]
fn every_builtin_declares_the_cao_mcp_server() {
    for (name, text) in catalog::BUILTINS {
        let profile = parse_profile_with(text, name, &Vars::only([])).unwrap();
        assert_eq!(profile.name, *name);
        let server = &profile.mcp_servers["cao-mcp-server"];
        assert_eq!(server.command.as_deref(), Some("cao-mcp-server"));
        assert!(profile.may_orchestrate(), "{name}");
    }
}

// ---- catalog ----

fn write(dir: &std::path::Path, name: &str, description: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(format!("{name}.md"));
    std::fs::write(
        &path,
        format!("---\nname: {name}\ndescription: {description}\n---\nprompt\n"),
    )
    .unwrap();
    path
}

struct Dirs {
    _temp: tempfile::TempDir,
    local: PathBuf,
    provider: PathBuf,
    extra: PathBuf,
}

fn dirs() -> Dirs {
    let temp = tempfile::tempdir().unwrap();
    Dirs {
        local: temp.path().join("agent-store"),
        provider: temp.path().join("provider"),
        extra: temp.path().join("extra"),
        _temp: temp,
    }
}

fn catalog_of(dirs: &Dirs) -> ProfileCatalog {
    ProfileCatalog::with_dirs(
        &dirs.local,
        vec![dirs.provider.clone()],
        vec![dirs.extra.clone()],
    )
}

#[test]
fn lookup_order_local_provider_extra_builtin() {
    let dirs = dirs();
    let catalog = catalog_of(&dirs);
    assert_eq!(
        catalog.locate("developer").unwrap().1.source,
        ProfileSource::Builtin
    );

    write(&dirs.extra, "developer", "from extra");
    let (profile, summary) = catalog.locate("developer").unwrap();
    assert_eq!(
        (profile.description.as_str(), summary.source),
        ("from extra", ProfileSource::Extra)
    );

    write(&dirs.provider, "developer", "from provider");
    assert_eq!(
        catalog.find("developer").unwrap().description,
        "from provider"
    );

    let local = write(&dirs.local, "developer", "from local");
    let (profile, summary) = catalog.locate("developer").unwrap();
    assert_eq!(profile.description, "from local");
    assert_eq!(summary.source, ProfileSource::Local);
    assert_eq!(summary.path, Some(local));
}

#[test]
fn list_first_source_wins_and_is_sorted() {
    let dirs = dirs();
    write(&dirs.local, "reviewer", "my reviewer");
    write(&dirs.extra, "reviewer", "shadowed");
    write(&dirs.extra, "analyst", "from extra");
    std::fs::write(dirs.extra.join("broken.md"), "no frontmatter").unwrap();
    let listed: Vec<(String, String, ProfileSource)> = catalog_of(&dirs)
        .list()
        .into_iter()
        .map(|summary| (summary.name, summary.description, summary.source))
        .collect();
    let expected: Vec<(String, String, ProfileSource)> = vec![
        ("analyst".into(), "from extra".into(), ProfileSource::Extra),
        (
            "code_supervisor".into(),
            "Plans a coding task, splits it into pieces and delegates each piece to worker agents"
                .into(),
            ProfileSource::Builtin,
        ),
        (
            "developer".into(),
            "Writes, changes and tests code to complete one well-defined task".into(),
            ProfileSource::Builtin,
        ),
        (
            "reviewer".into(),
            "my reviewer".into(),
            ProfileSource::Local,
        ),
    ];
    assert_eq!(listed, expected);
}

#[test]
fn find_unknown_lists_available() {
    let dirs = dirs();
    write(&dirs.local, "mine", "m");
    assert_eq!(
        catalog_of(&dirs).find("nope").unwrap_err().to_string(),
        "no agent profile named 'nope' (available: code_supervisor, developer, mine, reviewer)"
    );
}

#[test]
fn find_invalid_file_reports_its_error() {
    let dirs = dirs();
    std::fs::create_dir_all(&dirs.local).unwrap();
    std::fs::write(
        dirs.local.join("developer.md"),
        "---\nname: developer\ndescripton: d\n---\n",
    )
    .unwrap();
    assert_eq!(
        catalog_of(&dirs).find("developer").unwrap_err().to_string(),
        "developer.md:3: unknown key 'descripton' (did you mean 'description'?)"
    );
}

#[test]
fn catalog_substitutes_from_env_file_then_process() {
    let dirs = dirs();
    let env_path = dirs.local.parent().unwrap().join(".env");
    std::fs::write(&env_path, "CAO_TEST_PROFILE_MODEL=from-file\n").unwrap();
    std::fs::create_dir_all(&dirs.local).unwrap();
    std::fs::write(
        dirs.local.join("m.md"),
        "---\nname: m\ndescription: d\nmodel: ${CAO_TEST_PROFILE_MODEL}\nprovider: ${PATH}\n---\n",
    )
    .unwrap();
    let profile = catalog_of(&dirs).env_file(&env_path).find("m").unwrap();
    assert_eq!(profile.model.as_deref(), Some("from-file"));
    assert_eq!(profile.provider, std::env::var("PATH").ok());
}

#[test]
fn install_from_path_with_provider_override_and_env() {
    let dirs = dirs();
    let env_path = dirs.local.parent().unwrap().join(".env");
    let source_dir = dirs.local.parent().unwrap().join("src");
    std::fs::create_dir_all(&source_dir).unwrap();
    let source = source_dir.join("helper.md");
    std::fs::write(
        &source,
        "---\nname: helper\ndescription: d\nprovider: claude_code\nmodel: ${HELPER_MODEL}\n---\nbody\n",
    )
    .unwrap();
    let catalog = catalog_of(&dirs).env_file(&env_path);
    let options = InstallOptions {
        provider: Some("codex".to_string()),
        env: vec![("HELPER_MODEL".to_string(), "gpt-5".to_string())],
    };
    let target = catalog.install(source.to_str().unwrap(), &options).unwrap();
    assert_eq!(target, dirs.local.join("helper.md"));
    let written = std::fs::read_to_string(&target).unwrap();
    assert!(written.contains("provider: \"codex\"\n"), "{written}");
    assert!(written.contains("${HELPER_MODEL}"), "{written}");
    let profile = catalog.find("helper").unwrap();
    assert_eq!(profile.provider.as_deref(), Some("codex"));
    assert_eq!(profile.model.as_deref(), Some("gpt-5"));
    assert_eq!(catalog.remove("helper").unwrap(), target);
    assert!(catalog.find("helper").is_err());
}

#[test]
fn install_builtin_and_refusals() {
    let dirs = dirs();
    let catalog = catalog_of(&dirs);
    let target = catalog
        .install("reviewer", &InstallOptions::default())
        .unwrap();
    assert_eq!(catalog.locate("reviewer").unwrap().1.path, Some(target));
    assert_eq!(
        catalog
            .install("https://example.test/a.md", &InstallOptions::default())
            .unwrap_err()
            .to_string(),
        "cannot install from 'https://example.test/a.md': installing from a URL is not supported; \
         download the file and pass its local path, or pass a built-in profile name"
    );
    assert_eq!(
        catalog
            .install("nothing_here", &InstallOptions::default())
            .unwrap_err()
            .to_string(),
        "cannot install from 'nothing_here': no such file, and not a built-in profile \
         (code_supervisor, developer, reviewer)"
    );
    let bad = dirs.local.parent().unwrap().join("bad.md");
    std::fs::write(&bad, "---\nname: bad\n---\n").unwrap();
    assert_eq!(
        catalog
            .install(bad.to_str().unwrap(), &InstallOptions::default())
            .unwrap_err()
            .to_string(),
        "bad.md:3: 'description' is required"
    );
    assert!(!dirs.local.join("bad.md").exists());
}

#[test]
fn a_profile_that_is_a_symlink_is_refused() {
    let home = tempfile::tempdir().unwrap();
    let catalog_home = crate::home::CaoHome::at(home.path());
    let store = catalog_home.root().join("agent-store");
    std::fs::create_dir_all(&store).unwrap();
    let target = home.path().join("elsewhere.md");
    std::fs::write(&target, "---\nname: linked\ndescription: d\n---\nprompt\n").unwrap();
    std::os::unix::fs::symlink(&target, store.join("linked.md")).unwrap();
    let catalog = ProfileCatalog::new(&catalog_home);
    let error = catalog.find("linked").unwrap_err();
    assert!(matches!(error, ProfileError::Symlink { .. }), "{error}");
    assert!(error.to_string().contains("symbolic link"));
}
