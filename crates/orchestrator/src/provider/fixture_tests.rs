//! The packs against real captured screens (`fixtures/screens`) and their launch rendering.

use std::path::Path;

use proptest::prelude::*;

use super::*;
use crate::status::TerminalStatus;

const SCREENS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/screens");

fn screen(relative: &str) -> String {
    let path = Path::new(SCREENS).join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// The pack that reads a fixture directory (`claude-raw` → `claude`).
fn pack_for(relative: &str) -> &'static ProviderPack {
    static REGISTRY: std::sync::OnceLock<PackRegistry> = std::sync::OnceLock::new();
    let registry = REGISTRY.get_or_init(PackRegistry::builtin);
    let directory = relative.split('/').next().unwrap_or_default();
    let name = directory.strip_suffix("-raw").unwrap_or(directory);
    registry.get(name).unwrap()
}

/// `(screen, expected)` for every labelled, non-skipped row.
fn labelled_screens() -> Vec<(String, TerminalStatus)> {
    screen("labels.tsv")
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .filter_map(|line| {
            let (path, label) = line.split_once('\t').expect("two columns");
            let label = label.trim();
            (label != "skip").then(|| {
                let status = TerminalStatus::parse(label)
                    .unwrap_or_else(|| panic!("bad label `{label}` for {path}"));
                (path.to_string(), status)
            })
        })
        .collect()
}

#[test]
fn builtin_packs_load() {
    let registry = PackRegistry::load_builtin().unwrap();
    let names: Vec<&str> = registry
        .list()
        .iter()
        .map(|pack| pack.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "aider",
            "claude_code",
            "codex",
            "copilot_cli",
            "gemini_cli",
            "kiro_cli",
            "mock",
            "opencode",
            "qwen_code"
        ]
    );
    for (alias, name) in [
        ("claude", "claude_code"),
        ("gemini", "gemini_cli"),
        ("opencode_cli", "opencode"),
        ("qwen", "qwen_code"),
        ("kiro", "kiro_cli"),
        ("q_cli", "kiro_cli"),
        ("copilot", "copilot_cli"),
        ("mock_cli", "mock"),
    ] {
        assert_eq!(registry.get(alias).unwrap().name, name);
    }
}

#[test]
fn every_labelled_screen_classifies_as_labelled() {
    let cases = labelled_screens();
    assert!(cases.len() > 80, "labels.tsv lost rows: {}", cases.len());
    let mismatches: Vec<String> = cases
        .iter()
        .filter_map(|(path, expected)| {
            let actual = pack_for(path).classify(&screen(path));
            (actual != *expected).then(|| format!("{path}: expected {expected}, got {actual}"))
        })
        .collect();
    assert!(
        mismatches.is_empty(),
        "{} of {} screens misclassified:\n{}",
        mismatches.len(),
        cases.len(),
        mismatches.join("\n")
    );
}

#[test]
fn classification_table() {
    let table: String = labelled_screens()
        .iter()
        .map(|(path, _)| format!("{path}\t{}\n", pack_for(path).classify(&screen(path))))
        .collect();
    insta::assert_snapshot!(table);
}

#[test]
fn empty_and_dead_screens() {
    let pack = pack_for("claude/x");
    assert_eq!(pack.classify(""), TerminalStatus::Unknown);
    assert_eq!(pack.classify("\n   \n"), TerminalStatus::Unknown);
    assert_eq!(
        pack.classify("anything\nPane is dead (status 0, Sat Nov 21 09:19:08 2026)\n\n"),
        TerminalStatus::Error
    );
}

fn extract(relative: &str) -> Option<String> {
    pack_for(relative).extract_last_response(&screen(relative))
}

#[test]
fn extracts_claude_replies() {
    assert_eq!(
        extract("claude/07-reply-paste.txt").as_deref(),
        Some("DONE: third prompt via paste-buffer")
    );
    // The composer holds unsent text; the reply is still the last one above it.
    assert_eq!(
        extract("claude/08-multiline-pasted.txt").as_deref(),
        Some("DONE: fourth immediate")
    );
    let wrapped = extract("claude/04-reply.txt").unwrap();
    assert!(
        wrapped.starts_with("DONE: Available agent types"),
        "{wrapped}"
    );
    assert!(
        wrapped.contains("-\nclaude-code-guide: Use this agent"),
        "continuation indent stripped: {wrapped}"
    );
    assert_eq!(
        extract("claude/31-after-answer.txt").as_deref(),
        Some("DONE: tool result: Your questions have been answered: \"Which color do you prefer?\"=\"Blue\". You can now continue with these answers in mind.")
    );
    assert_eq!(extract("claude/00-launch-0.5s.txt"), None);
}

#[test]
fn extracts_codex_replies() {
    assert_eq!(
        extract("codex/21-nodaemon-reply.txt").as_deref(),
        Some("DONE: hello no-daemon")
    );
    let after_tool = extract("codex/09-after-tool.txt").unwrap();
    assert!(
        after_tool.starts_with("DONE: tool result: [{'type': 'input_text'"),
        "{after_tool}"
    );
    assert!(after_tool.contains("MARKER-OK:hello-mcp"), "{after_tool}");
    assert_eq!(extract("codex/20-nodaemon-idle.txt"), None);
}

#[test]
fn extracts_gemini_and_qwen_replies() {
    assert_eq!(
        extract("gemini/06-reply2.txt").as_deref(),
        Some("DONE: second prompt via send-keys")
    );
    assert_eq!(
        extract("gemini/53-sendkeys-with-newline.txt").as_deref(),
        Some("DONE: K29917 first second")
    );
    assert_eq!(
        extract("qwen/19-slow-done.txt").as_deref(),
        Some("DONE: SLOW:8 slow one please")
    );
    assert_eq!(
        extract("qwen/12-after-tool.txt").as_deref(),
        Some("DONE: tool result: MARKER-OK:hello-mcp")
    );
}

#[test]
fn the_history_leaves_out_side_panels() {
    // opencode redraws its side panel (`• cao-mcp-server Connected`, `LSPs are disabled`)
    // on its own; the history a new turn is compared with must not change with it.
    let screen = screen("opencode/22-after-approve.txt");
    let pack = pack_for("opencode/22-after-approve.txt");
    let redrawn: String = screen
        .lines()
        .map(|line| match line.rfind("    ") {
            Some(at) if line[at..].trim().len() > 3 => {
                format!("{}  side panel redrawn", &line[..at + 4])
            }
            _ => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert_ne!(screen, redrawn);
    assert_eq!(
        pack.input_view(&screen).history,
        pack.input_view(&redrawn).history
    );
}

#[test]
fn extracts_opencode_replies() {
    assert_eq!(
        extract("opencode/10-slow-done.txt").as_deref(),
        Some("DONE: SLOW:8 slow one please")
    );
    assert_eq!(
        extract("opencode/11-tool.txt").as_deref(),
        Some("⚙ fake_echo_marker [text=hello-mcp]\n\nDONE: tool result: MARKER-OK:hello-mcp")
    );
    // The session panel printed to the right of the reply is not part of it.
    assert_eq!(
        extract("opencode/22-after-approve.txt").as_deref(),
        Some("⚙ fake_echo_marker [text=ask-mcp]\n\nDONE: tool result: MARKER-OK:ask-mcp")
    );
}

#[test]
fn extracts_aider_replies() {
    let reply = extract("aider/03-reply.txt").unwrap();
    assert!(reply.starts_with("DONE: hello from send-keys"), "{reply}");
    assert!(!reply.contains("Tokens:"), "{reply}");
    assert!(!reply.starts_with('>'), "{reply}");
    let last = extract("aider/53-sendkeys-with-newline.txt").unwrap();
    assert!(
        last.starts_with("DONE: second  To suggest changes"),
        "{last}"
    );
}

#[test]
fn extracts_mock_replies_keeping_blank_lines_and_unicode() {
    assert_eq!(
        extract("mock/03-completed.txt").as_deref(),
        Some("Hello from the mock agent.\nIt says two things.\n\nAnd one after a blank line: ünïcödé ✓")
    );
    assert_eq!(
        extract("mock/07-multiline-completed.txt").as_deref(),
        Some("Got 3 lines.\nDone.")
    );
    assert_eq!(extract("mock/00-startup.txt"), None);
}

#[test]
fn dialogs_are_startup_dialogs_only() {
    let dialog = |relative: &str| {
        pack_for(relative)
            .dialog_for(&screen(relative))
            .map(|dialog| (dialog.name.clone(), dialog.keys.clone()))
    };
    assert_eq!(
        dialog("gemini/00-startup-firstrun.txt"),
        Some(("folder trust".into(), vec!["Enter".into()]))
    );
    assert_eq!(
        dialog("codex/01-startup-4s.txt"),
        Some(("folder trust".into(), vec!["Enter".into()]))
    );
    assert_eq!(
        dialog("aider-raw/00-startup-firstrun.txt"),
        Some(("gitignore".into(), vec!["n".into(), "Enter".into()]))
    );
    // Real questions and approvals are left to the user.
    for relative in [
        "claude/30-ask-user-question.txt",
        "codex/08-approval-prompt.txt",
        "gemini/11-tool-approval.txt",
        "opencode/21-permission-prompt.txt",
        "aider/14-approval-create-file.txt",
        "claude-raw/03-after-trust.txt",
        // An answered trust dialog left in the scrollback is not answered again.
        "gemini/03-after-key.txt",
    ] {
        assert_eq!(dialog(relative), None, "{relative}");
    }
}

fn context() -> LaunchContext {
    LaunchContext {
        terminal_id: "0a1b2c3d".into(),
        profile_name: "developer".into(),
        system_prompt: "You are \"dev\".\nUse {braces} and \\ freely.".into(),
        model: None,
        permission_mode: None,
        working_directory: "/work/project".into(),
        config_dir: "/home/u/.cao/terminals/0a1b2c3d".into(),
        cao_mcp_command: vec!["/usr/bin/cao".into(), "mcp-server".into()],
        cao_mcp_url: "http://127.0.0.1:9889/mcp/agents/1a2b3c4d".into(),
        cao_api_token: "token".into(),
        cao_binary: "/usr/bin/cao".into(),
        mock_script: None,
        extra_env: vec![("CAO_EXTRA".into(), "1".into())],
    }
}

#[test]
fn launches_render() {
    let registry = PackRegistry::builtin();
    let mut rendered = String::new();
    for pack in registry.list() {
        for model in [None, Some("model-x".to_string())] {
            let launch = pack
                .render_launch(&LaunchContext {
                    model: model.clone(),
                    ..context()
                })
                .unwrap();
            rendered.push_str(&format!("## {} (model: {model:?})\n", pack.name));
            rendered.push_str(&format!("argv: {:?}\n", launch.argv));
            if model.is_none() {
                rendered.push_str(&format!("env: {:?}\n", launch.env));
                if !launch.env_unset.is_empty() {
                    rendered.push_str(&format!("env_unset: {:?}\n", launch.env_unset));
                }
                for (path, content) in &launch.files {
                    rendered.push_str(&format!("file {}:\n{content}\n", path.display()));
                }
                if let Some(overlay) = &launch.home_overlay {
                    rendered.push_str(&format!(
                        "home overlay {}: {}/{} merged with the user's, links {:?}\n",
                        overlay.home.display(),
                        overlay.config_dir,
                        overlay.settings_file,
                        overlay.links
                    ));
                }
            }
        }
    }
    insta::assert_snapshot!(rendered);
}

#[test]
fn a_permission_mode_that_asks_drops_the_unattended_arguments() {
    let asking = LaunchContext {
        permission_mode: Some("default".into()),
        ..context()
    };
    let bypassing = LaunchContext {
        permission_mode: Some("bypassPermissions".into()),
        ..context()
    };
    let argv =
        |dir: &str, context: &LaunchContext| pack_for(dir).render_launch(context).unwrap().argv;
    let claude = argv("claude/x", &asking);
    assert!(!claude.contains(&"--dangerously-skip-permissions".to_string()));
    assert!(claude
        .windows(2)
        .any(|pair| pair == ["--permission-mode", "default"]));
    assert!(argv("claude/x", &bypassing).contains(&"--dangerously-skip-permissions".to_string()));
    for (dir, flag) in [
        ("codex/x", "--yolo"),
        ("gemini/x", "yolo"),
        ("qwen/x", "yolo"),
        ("aider/x", "--yes-always"),
    ] {
        assert!(
            !argv(dir, &asking).contains(&flag.to_string()),
            "{dir} asking"
        );
        assert!(
            argv(dir, &context()).contains(&flag.to_string()),
            "{dir} unattended"
        );
    }
}

#[test]
fn claude_launch_matches_the_reference_command() {
    let launch = pack_for("claude/x")
        .render_launch(&LaunchContext {
            model: Some("opus".into()),
            ..context()
        })
        .unwrap();
    let config_dir = "/home/u/.cao/terminals/0a1b2c3d";
    assert_eq!(
        launch.argv,
        [
            "claude".to_string(),
            "--dangerously-skip-permissions".into(),
            "--model".into(),
            "opus".into(),
            "--append-system-prompt-file".into(),
            format!("{config_dir}/system-prompt.md"),
            "--mcp-config".into(),
            format!("{config_dir}/mcp.json"),
            "--strict-mcp-config".into(),
            "--settings".into(),
            format!("{config_dir}/claude-settings.json"),
        ]
    );
    let (_, mcp) = &launch.files[1];
    let json: serde_json::Value = serde_json::from_str(mcp).unwrap();
    let server = &json["mcpServers"]["cao-mcp-server"];
    assert_eq!(server["type"], "http");
    assert_eq!(server["url"], serde_json::json!(context().cao_mcp_url));
    assert_eq!(
        server["headers"]["Authorization"],
        format!("Bearer {}", context().cao_api_token)
    );
    assert!(launch
        .env
        .contains(&("CAO_TERMINAL_ID".to_string(), "0a1b2c3d".to_string())));
    assert_eq!(launch.env.last().unwrap().0, "CAO_EXTRA");
}

#[test]
fn codex_flags_are_toml_literals() {
    let launch = pack_for("codex/x").render_launch(&context()).unwrap();
    assert!(launch.argv.contains(&"--no-daemon".to_string()));
    let instructions = launch
        .argv
        .iter()
        .find_map(|arg| arg.strip_prefix("developer_instructions="))
        .unwrap();
    let parsed: toml::Table = toml::from_str(&format!("v = {instructions}")).unwrap();
    assert_eq!(parsed["v"].as_str(), Some(context().system_prompt.as_str()));
}

#[test]
fn mock_launch_adds_the_script_only_when_given_and_wires_mcp_over_http() {
    let pack = pack_for("mock/x");
    let launch = pack.render_launch(&context()).unwrap();
    let config = "/home/u/.cao/terminals/0a1b2c3d/mcp.json";
    assert_eq!(
        launch.argv,
        [
            "/usr/bin/cao",
            "mock-agent",
            "--profile",
            "developer",
            "--mcp-config",
            config
        ]
    );
    let with_script = LaunchContext {
        mock_script: Some("/tmp/s.toml".into()),
        ..context()
    };
    assert_eq!(
        pack.render_launch(&with_script).unwrap().argv[..4],
        ["/usr/bin/cao", "mock-agent", "--script", "/tmp/s.toml"]
    );
    let (path, text) = &launch.files[0];
    assert_eq!(path.display().to_string(), config);
    let json: serde_json::Value = serde_json::from_str(text).unwrap();
    let server = &json["mcpServers"]["cao-mcp-server"];
    assert_eq!(server["type"], "http");
    assert_eq!(server["url"], "http://127.0.0.1:9889/mcp/agents/1a2b3c4d");
    assert_eq!(server["headers"]["Authorization"], "Bearer token");
}

fn pack_text(launch: &str, files: &str) -> String {
    format!(
        r#"
name = "custom"
display_name = "Custom"
binary = "custom"
install_hint = "none"
{launch}
{files}
[status]
[extract]
"#
    )
}

#[test]
fn template_errors_name_the_problem() {
    let render = |launch: &str, files: &str| {
        ProviderPack::from_toml("t.toml", &pack_text(launch, files))
            .unwrap()
            .render_launch(&context())
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        render("[launch]\nargv = [\"x\", \"{nope}\"]", ""),
        "provider `custom`: unknown placeholder `{nope}` in launch.argv[1]"
    );
    assert!(render("[launch]\nargv = [\"x\", \"--m={model}\"]", "")
        .starts_with("provider `custom`: launch.argv[1] needs `{model}`"));
    assert!(
        render("[launch]\nargv = [\"x\", \"a{cao_mcp_command}\"]", "").contains("must stand alone")
    );
    assert!(render(
        "[launch]\nargv = [\"x\"]",
        "[[files]]\nname = \"f\"\npath = \"../escape\"\ntext = \"\""
    )
    .contains("must be relative to the config directory"));
}

#[test]
fn parse_errors_name_file_line_and_key() {
    let text = pack_text(
        "[launch]\nargv = [\"x\"]",
        "[[status.rules]]\nstatus = \"ready\"\nregex = '(unclosed'",
    );
    let error = ProviderPack::from_toml("providers/custom.toml", &text)
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("invalid provider pack providers/custom.toml:10: "),
        "{error}"
    );
    assert!(error.contains("regex = '(unclosed'"), "{error}");
    assert!(!error.contains('\n'), "one line: {error}");

    let error = ProviderPack::from_toml(
        "c.toml",
        &pack_text("[launch]\nargv = [\"x\"]\nbogus = 1", ""),
    )
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("c.toml:8") && error.contains("bogus"),
        "{error}"
    );
}

#[test]
fn env_unset_names_are_checked_and_a_variable_the_launch_sets_is_kept() {
    let error = ProviderPack::from_toml(
        "c.toml",
        &pack_text("[launch]\nargv = [\"x\"]\nenv_unset = [\"CI; rm\"]", ""),
    )
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("`CI; rm`") && error.contains("not an environment variable name"),
        "{error}"
    );
    assert!(!error.contains('\n'), "one line: {error}");

    let pack = ProviderPack::from_toml(
        "c.toml",
        &pack_text(
            "[launch]\nargv = [\"x\"]\nenv_unset = [\"CI\", \"CAO_EXTRA\", \"KEPT\"]\n[launch.env]\nKEPT = \"1\"",
            "",
        ),
    )
    .unwrap();
    let launch = pack.render_launch(&context()).unwrap();
    // The pack sets KEPT and the caller CAO_EXTRA: only CI is taken away.
    assert_eq!(launch.env_unset, ["CI"]);
}

#[test]
fn mcp_failures_are_read_from_the_real_screens_and_nowhere_else() {
    let failures = [
        (
            "gemini/70-system-settings-skipped.txt",
            "skipped a system settings file",
        ),
        ("gemini/71-mcp-issues.txt", "MCP server that did not start"),
        ("qwen/70-mcp-offline.txt", "MCP server offline"),
    ];
    for (path, cause) in failures {
        let rule = pack_for(path)
            .mcp_failure(&screen(path))
            .unwrap_or_else(|| panic!("{path}: no MCP failure read"));
        assert!(rule.reason.contains(cause), "{path}: {}", rule.reason);
    }
    for (path, _) in labelled_screens() {
        if failures.iter().any(|(failure, _)| *failure == path) {
            continue;
        }
        assert!(
            pack_for(&path).mcp_failure(&screen(&path)).is_none(),
            "{path}: an MCP failure read on a healthy screen"
        );
    }
}

#[test]
fn gemini_gets_a_home_of_its_own_not_a_system_settings_file() {
    let launch = pack_for("gemini/x").render_launch(&context()).unwrap();
    let home = "/home/u/.cao/terminals/0a1b2c3d/home";
    assert!(launch
        .env
        .contains(&("GEMINI_CLI_HOME".to_string(), home.to_string())));
    assert!(!launch
        .env
        .iter()
        .any(|(name, _)| name == "GEMINI_CLI_SYSTEM_SETTINGS_PATH"));
    let overlay = launch.home_overlay.unwrap();
    assert_eq!(overlay.home, Path::new(home));
    assert_eq!(
        overlay.settings["mcpServers"]["cao-mcp-server"]["env"]["CAO_TERMINAL_TOKEN"],
        "token"
    );
    assert_eq!(
        overlay.settings["security"]["folderTrust"]["enabled"],
        false
    );

    // Built over a user's home: their auth and model stay, cao's server is added.
    let root = tempfile::tempdir().unwrap();
    let user = root.path().join("user");
    std::fs::create_dir_all(user.join(".gemini")).unwrap();
    std::fs::write(
        user.join(".gemini/settings.json"),
        r#"{"security": {"auth": {"selectedType": "gemini-api-key"}}, "model": {"name": "m"}}"#,
    )
    .unwrap();
    let launch = pack_for("gemini/x")
        .render_launch(&LaunchContext {
            config_dir: root.path().join("terminal"),
            ..context()
        })
        .unwrap();
    let overlay = launch.home_overlay.unwrap();
    overlay.build(Some(&user)).unwrap();
    let settings: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(overlay.home.join(".gemini/settings.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        settings["security"]["auth"]["selectedType"],
        "gemini-api-key"
    );
    assert_eq!(settings["model"]["name"], "m");
    assert_eq!(
        settings["mcpServers"]["cao-mcp-server"]["command"],
        "/usr/bin/cao"
    );
}

#[test]
fn home_overlay_mistakes_are_one_line_errors() {
    let overlay = |table: &str| {
        let text = pack_text(
            &format!("[launch]\nargv = [\"x\"]\n[launch.home_overlay]\n{table}"),
            "[[files]]\nname = \"settings_file\"\npath = \"s.json\"\njson = { a = 1 }\n\
             [[files]]\nname = \"prompt_file\"\npath = \"p.md\"\ntext = \"x\"",
        );
        ProviderPack::from_toml("o.toml", &text).map(|_| ())
    };
    let good = "env = \"X_HOME\"\nconfig_dir = \".x\"\nsettings = \"settings.json\"\nmerge = \"settings_file\"";
    overlay(good).unwrap();
    for (table, expected) in [
        (
            good.replace("X_HOME", "X HOME"),
            "`launch.home_overlay.env` `X HOME` is not an environment variable name",
        ),
        (
            good.replace("\".x\"", "\"../x\""),
            "`launch.home_overlay.config_dir` `../x` must be a relative path without `..`",
        ),
        (
            format!("{good}\nlinks = [\"/etc\"]"),
            "`launch.home_overlay.links` `/etc` must be a relative path without `..`",
        ),
        (
            good.replace("\"settings.json\"", "\"a/settings.json\""),
            "`launch.home_overlay.settings` `a/settings.json` must be a file name",
        ),
        (
            good.replace("\"settings_file\"", "\"prompt_file\""),
            "`launch.home_overlay.merge` `prompt_file` must name a `[[files]]` entry with `json`",
        ),
        (
            good.replace("\"settings_file\"", "\"nope\""),
            "`launch.home_overlay.merge` `nope` must name a `[[files]]` entry with `json`",
        ),
    ] {
        let error = overlay(&table).unwrap_err().to_string();
        assert_eq!(error, format!("invalid provider pack o.toml: {expected}"));
    }
    let text = pack_text(
        &format!(
            "[launch]\nargv = [\"x\"]\n[launch.env]\nX_HOME = \"y\"\n[launch.home_overlay]\n{good}"
        ),
        "[[files]]\nname = \"settings_file\"\npath = \"s.json\"\njson = { a = 1 }",
    );
    let error = ProviderPack::from_toml("o.toml", &text)
        .unwrap_err()
        .to_string();
    assert!(
        error.ends_with("`X_HOME` is set by `launch.home_overlay`; remove it from `launch.env`"),
        "{error}"
    );

    let text = pack_text(
        "[launch]\nargv = [\"x\"]",
        "[[status.mcp_failure]]\nregex = 'x'\nreason = \"\"",
    );
    let error = ProviderPack::from_toml("o.toml", &text)
        .unwrap_err()
        .to_string();
    assert!(
        error.ends_with("the `status.mcp_failure` rule `x` needs a one-line `reason`"),
        "{error}"
    );
}

#[test]
fn gemini_does_not_inherit_the_variables_that_make_it_headless() {
    let launch = pack_for("gemini_cli/x").render_launch(&context()).unwrap();
    assert_eq!(launch.env_unset, ["CI", "GITHUB_ACTIONS"]);
}

#[test]
fn overrides_replace_and_add_packs() {
    let directory = tempfile::tempdir().unwrap();
    let replacement = pack_text("[launch]\nargv = [\"my-claude\"]", "").replace(
        "name = \"custom\"",
        "name = \"claude_code\"\naliases = [\"cc\"]",
    );
    std::fs::write(directory.path().join("claude.toml"), replacement).unwrap();
    std::fs::write(
        directory.path().join("custom.toml"),
        pack_text("[launch]\nargv = [\"custom\"]", ""),
    )
    .unwrap();
    std::fs::write(directory.path().join("notes.txt"), "ignored").unwrap();

    let registry = PackRegistry::load(Some(directory.path())).unwrap();
    assert_eq!(registry.list().len(), 10);
    let claude = registry.get("cc").unwrap();
    assert_eq!(claude.name, "claude_code");
    assert_eq!(
        claude.render_launch(&context()).unwrap().argv,
        ["my-claude"]
    );
    // The replaced pack's aliases went with it.
    assert!(registry.get("claude").is_err());
    assert_eq!(registry.get("custom").unwrap().display_name, "Custom");

    let missing = PackRegistry::load(Some(&directory.path().join("absent"))).unwrap();
    assert_eq!(missing.list().len(), 9);
}

#[test]
fn an_alias_may_not_select_two_packs() {
    let directory = tempfile::tempdir().unwrap();
    let clash = pack_text("[launch]\nargv = [\"x\"]", "").replace(
        "name = \"custom\"",
        "name = \"custom\"\naliases = [\"claude\"]",
    );
    std::fs::write(directory.path().join("clash.toml"), clash).unwrap();
    let error = PackRegistry::load(Some(directory.path()))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("`claude` already selects the provider `claude_code`"),
        "{error}"
    );
}

#[test]
fn unknown_provider_lists_known_names() {
    let error = PackRegistry::builtin().get("nope").unwrap_err().to_string();
    assert_eq!(
        error,
        "unknown provider `nope`; known providers: aider, claude_code, codex, copilot_cli, gemini_cli, kiro_cli, mock, opencode, qwen_code"
    );
}

#[cfg(unix)]
#[test]
fn binaries_resolve_on_path_only_when_executable() {
    use std::os::unix::fs::PermissionsExt;
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    let plain = first.path().join("claude");
    std::fs::write(&plain, "").unwrap();
    let executable = second.path().join("claude");
    std::fs::write(&executable, "").unwrap();
    std::fs::set_permissions(&executable, std::fs::Permissions::from_mode(0o755)).unwrap();

    let pack = pack_for("claude/x");
    let path_env = std::env::join_paths([first.path(), second.path()]).unwrap();
    let cao = Path::new("/opt/cao/bin/cao");
    assert_eq!(pack.resolve_binary(&path_env, cao), Some(executable));
    let only_plain = std::env::join_paths([first.path()]).unwrap();
    assert_eq!(pack.resolve_binary(&only_plain, cao), None);
    assert_eq!(pack.resolve_binary(std::ffi::OsStr::new(""), cao), None);
    // The mock agent is cao itself, found wherever cao runs from.
    let registry = PackRegistry::builtin();
    let mock = registry.get("mock").unwrap();
    assert_eq!(
        mock.resolve_binary(std::ffi::OsStr::new(""), cao),
        Some(cao.to_path_buf())
    );
}

proptest! {
    #[test]
    fn classify_and_extract_accept_any_text(text in "(\\PC{0,40}\n){0,12}") {
        for pack in PackRegistry::builtin().list() {
            let _ = pack.classify(&text);
            let _ = pack.extract_last_response(&text);
        }
    }

    #[test]
    fn any_system_prompt_survives_json_and_toml_rendering(prompt in "\\PC{0,80}") {
        let context = LaunchContext { system_prompt: prompt.clone(), ..context() };
        let opencode = pack_for("opencode/x").render_launch(&context).unwrap();
        let json: serde_json::Value = serde_json::from_str(&opencode.files[0].1).unwrap();
        prop_assert_eq!(json["agent"]["developer"]["prompt"].as_str(), Some(prompt.as_str()));

        let codex = pack_for("codex/x").render_launch(&context).unwrap();
        let literal = codex.argv.iter().find_map(|arg| arg.strip_prefix("developer_instructions=")).unwrap();
        let parsed: toml::Table = toml::from_str(&format!("v = {literal}")).unwrap();
        prop_assert_eq!(parsed["v"].as_str(), Some(prompt.as_str()));
    }
}
