//! Building a home overlay ([`HomeOverlay`](super::HomeOverlay)): the one part of the packs
//! that writes to the file system, called by the orchestrator before it starts the CLI.
//!
//! The overlay is a directory the CLI takes as its home. Its config directory (`.gemini`)
//! holds a real settings file, the user's own merged with cao's keys, and a symbolic link
//! to each other entry of the user's config directory, so the CLI still finds the user's
//! credentials, history and extensions. Nothing of the user's is ever written: an existing
//! link in the overlay is replaced, never written through.

use std::ffi::OsString;
use std::fs::{DirBuilder, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

/// A pack's home overlay with its paths and cao's settings filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedHomeOverlay {
    /// The overlay: the directory the CLI is told is its home.
    pub home: PathBuf,
    /// The CLI's directory under a home (`.gemini`).
    pub config_dir: String,
    /// The settings file's name in it (`settings.json`).
    pub settings_file: String,
    /// cao's settings, merged over the user's (cao's keys win).
    pub settings: Value,
    /// Entries of the user's home linked into the overlay when they exist.
    pub links: Vec<String>,
}

/// The overlay could not be made; names the path.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the agent's home directory {}: {source}", path.display())]
pub struct OverlayError {
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

impl RenderedHomeOverlay {
    /// Builds (or rebuilds, for a restored terminal) the overlay over `user_home`, the home
    /// the CLI would have used (`None`: no user files, cao's settings only). A missing or
    /// unreadable user config directory means nothing to link; user settings that cannot be
    /// read or parsed are replaced by `{}` (with a warning).
    pub fn build(&self, user_home: Option<&Path>) -> Result<(), OverlayError> {
        let config_dir = self.home.join(&self.config_dir);
        private_dir(&self.home)?;
        private_dir(&config_dir)?;
        let user_config = user_home.map(|home| home.join(&self.config_dir));

        let mut settings = match &user_config {
            Some(directory) => user_settings(&directory.join(&self.settings_file)),
            None => Value::Object(Map::new()),
        };
        merge(&mut settings, &self.settings);
        // Serialising a `serde_json::Value` has no failure path (string keys only).
        let mut text = serde_json::to_string_pretty(&settings).unwrap_or_default();
        text.push('\n');
        write_private(&config_dir.join(&self.settings_file), &text)?;

        if let Some(user_config) = &user_config {
            for name in entry_names(user_config) {
                if name == self.settings_file.as_str() {
                    continue;
                }
                link(&user_config.join(&name), &config_dir.join(&name))?;
            }
        }
        if let Some(user_home) = user_home {
            for name in &self.links {
                let target = user_home.join(name);
                if target.symlink_metadata().is_err() {
                    continue;
                }
                let at = self.home.join(name);
                if let Some(parent) = at.parent() {
                    private_dir(parent)?;
                }
                link(&target, &at)?;
            }
        }
        Ok(())
    }
}

fn failed(path: &Path) -> impl FnOnce(io::Error) -> OverlayError + '_ {
    move |source| OverlayError {
        path: path.to_path_buf(),
        source,
    }
}

/// A directory only its owner can enter (it leads to a file with the agent's token).
fn private_dir(path: &Path) -> Result<(), OverlayError> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(failed(path))?;
    let metadata = path.symlink_metadata().map_err(failed(path))?;
    if !metadata.is_dir() {
        return Err(failed(path)(io::Error::other("not a directory")));
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).map_err(failed(path))
}

/// Writes a fresh 0600 file; whatever was at `path` (a link from an earlier build, say) is
/// removed first, so the write can never land in a file the path pointed to.
fn write_private(path: &Path, text: &str) -> Result<(), OverlayError> {
    match path.symlink_metadata() {
        Ok(metadata) if metadata.is_dir() => {
            return Err(failed(path)(io::Error::other("a directory is in the way")))
        }
        Ok(_) => std::fs::remove_file(path).map_err(failed(path))?,
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => return Err(failed(path)(error)),
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(failed(path))?;
    file.write_all(text.as_bytes()).map_err(failed(path))
}

/// Links `at` to `target`. A link already there is replaced; a real file or directory is
/// kept (the CLI made it in this overlay at an earlier launch).
fn link(target: &Path, at: &Path) -> Result<(), OverlayError> {
    match at.symlink_metadata() {
        Ok(metadata) if metadata.file_type().is_symlink() => {
            std::fs::remove_file(at).map_err(failed(at))?
        }
        Ok(_) => return Ok(()),
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => return Err(failed(at)(error)),
    }
    std::os::unix::fs::symlink(target, at).map_err(failed(at))
}

/// The names in the user's config directory; none when it is missing or unreadable.
fn entry_names(directory: &Path) -> Vec<OsString> {
    let entries = match std::fs::read_dir(directory) {
        Ok(entries) => entries,
        Err(error) => {
            if error.kind() != io::ErrorKind::NotFound {
                tracing::warn!(directory = %directory.display(), %error, "cannot list the user's agent config directory: linking none of it");
            }
            return Vec::new();
        }
    };
    let mut names: Vec<OsString> = entries
        .filter_map(|entry| entry.ok().map(|entry| entry.file_name()))
        .collect();
    names.sort();
    names
}

/// The user's settings as a JSON object; `{}` when the file is missing, unreadable or not a
/// JSON object (comments allowed, as the CLIs allow them).
fn user_settings(path: &Path) -> Value {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) => {
            if error.kind() != io::ErrorKind::NotFound {
                tracing::warn!(file = %path.display(), %error, "cannot read the user's agent settings: using cao's settings only");
            }
            return Value::Object(Map::new());
        }
    };
    match serde_json::from_str::<Value>(&strip_json_comments(&text)) {
        Ok(value @ Value::Object(_)) => value,
        Ok(_) => {
            tracing::warn!(file = %path.display(), "the user's agent settings are not a JSON object: using cao's settings only");
            Value::Object(Map::new())
        }
        Err(error) => {
            tracing::warn!(file = %path.display(), %error, "cannot parse the user's agent settings: using cao's settings only");
            Value::Object(Map::new())
        }
    }
}

/// `overlay` merged into `base`: objects key by key, anything else replaced.
fn merge(base: &mut Value, overlay: &Value) {
    match (base, overlay) {
        (Value::Object(base), Value::Object(overlay)) => {
            for (key, value) in overlay {
                match base.get_mut(key) {
                    Some(existing) if existing.is_object() && value.is_object() => {
                        merge(existing, value)
                    }
                    _ => {
                        base.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (base, overlay) => *base = overlay.clone(),
    }
}

/// JSON text with `//` and `/* */` comments outside strings turned into spaces (line breaks
/// kept, so parse errors still point at the right line).
fn strip_json_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match c {
                '\\' => out.extend(chars.next()),
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match (c, chars.peek()) {
            ('"', _) => {
                in_string = true;
                out.push(c);
            }
            ('/', Some('/')) => {
                for next in chars.by_ref() {
                    if next == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            ('/', Some('*')) => {
                chars.next();
                let mut last = ' ';
                for next in chars.by_ref() {
                    if next == '\n' {
                        out.push('\n');
                    }
                    if last == '*' && next == '/' {
                        break;
                    }
                    last = next;
                }
                out.push(' ');
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn overlay(root: &Path) -> RenderedHomeOverlay {
        RenderedHomeOverlay {
            home: root.join("terminal").join("home"),
            config_dir: ".gemini".into(),
            settings_file: "settings.json".into(),
            settings: json!({
                "security": { "folderTrust": { "enabled": false } },
                "general": { "enableAutoUpdate": false },
                "mcpServers": { "cao-mcp-server": { "command": "cao", "args": ["mcp-server"] } },
            }),
            links: vec![".agents".into(), ".absent".into()],
        }
    }

    fn written(overlay: &RenderedHomeOverlay) -> Value {
        let path = overlay.home.join(".gemini").join("settings.json");
        let metadata = path.symlink_metadata().unwrap();
        assert!(metadata.is_file(), "a real file");
        assert_eq!(metadata.permissions().mode() & 0o777, 0o600);
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn the_users_settings_are_kept_under_caos_keys() {
        let root = tempfile::tempdir().unwrap();
        let user = root.path().join("user");
        write(
            &user.join(".gemini/settings.json"),
            r#"{
              // the user's choices
              "security": { "auth": { "selectedType": "oauth-personal" },
                            "folderTrust": { "enabled": true } },
              /* a block
                 comment */
              "model": { "name": "gemini-pro" },
              "ui": { "theme": "GitHub", "note": "a // kept /* inside */ string \" here" },
              "mcpServers": { "mine": { "command": "my-server" } }
            }"#,
        );
        let overlay = overlay(root.path());
        overlay.build(Some(&user)).unwrap();
        assert_eq!(
            written(&overlay),
            json!({
                "security": { "auth": { "selectedType": "oauth-personal" },
                              "folderTrust": { "enabled": false } },
                "general": { "enableAutoUpdate": false },
                "model": { "name": "gemini-pro" },
                "ui": { "theme": "GitHub", "note": "a // kept /* inside */ string \" here" },
                "mcpServers": { "mine": { "command": "my-server" },
                                "cao-mcp-server": { "command": "cao", "args": ["mcp-server"] } },
            })
        );
        let home_mode = overlay.home.metadata().unwrap().permissions().mode();
        assert_eq!(home_mode & 0o777, 0o700);
    }

    #[test]
    fn every_other_entry_of_the_users_config_is_linked() {
        let root = tempfile::tempdir().unwrap();
        let user = root.path().join("user");
        write(&user.join(".gemini/settings.json"), "{}");
        write(&user.join(".gemini/oauth_creds.json"), "secret");
        write(&user.join(".gemini/GEMINI.md"), "# notes");
        write(&user.join(".gemini/tmp/chat.json"), "[]");
        write(&user.join(".agents/skills/x.md"), "skill");
        let overlay = overlay(root.path());
        overlay.build(Some(&user)).unwrap();
        let config = overlay.home.join(".gemini");
        for name in ["oauth_creds.json", "GEMINI.md", "tmp"] {
            assert_eq!(
                std::fs::read_link(config.join(name)).unwrap(),
                user.join(".gemini").join(name),
                "{name}"
            );
        }
        assert_eq!(
            std::fs::read_to_string(config.join("tmp/chat.json")).unwrap(),
            "[]"
        );
        assert_eq!(
            std::fs::read_link(overlay.home.join(".agents")).unwrap(),
            user.join(".agents")
        );
        assert!(overlay.home.join(".absent").symlink_metadata().is_err());
    }

    #[test]
    fn without_a_users_config_the_settings_are_caos() {
        let root = tempfile::tempdir().unwrap();
        let user = root.path().join("user");
        std::fs::create_dir_all(&user).unwrap();
        let overlay = overlay(root.path());
        overlay.build(Some(&user)).unwrap();
        assert_eq!(written(&overlay), overlay.settings);
        let entries: Vec<_> = std::fs::read_dir(overlay.home.join(".gemini"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(entries, ["settings.json"]);

        let root = tempfile::tempdir().unwrap();
        let overlay = self::overlay(root.path());
        overlay.build(None).unwrap();
        assert_eq!(written(&overlay), overlay.settings);
    }

    #[test]
    fn unreadable_user_settings_are_replaced_by_caos() {
        for (label, make) in [
            (
                "not JSON",
                (|path: &Path| write(path, "{ nope")) as fn(&Path),
            ),
            ("not an object", |path: &Path| write(path, "[1, 2]")),
            ("a directory", |path: &Path| {
                std::fs::create_dir_all(path).unwrap()
            }),
            ("not UTF-8", |path: &Path| {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(path, b"{\"a\": \"\xff\"}").unwrap()
            }),
        ] {
            let root = tempfile::tempdir().unwrap();
            let user = root.path().join("user");
            make(&user.join(".gemini/settings.json"));
            let overlay = overlay(root.path());
            overlay.build(Some(&user)).unwrap();
            assert_eq!(written(&overlay), overlay.settings, "{label}");
        }
    }

    #[test]
    fn a_rebuild_replaces_links_keeps_the_clis_own_files_and_never_writes_through() {
        let root = tempfile::tempdir().unwrap();
        let user = root.path().join("user");
        write(
            &user.join(".gemini/settings.json"),
            r#"{"ui": {"theme": "A"}}"#,
        );
        write(&user.join(".gemini/old.json"), "old");
        let overlay = overlay(root.path());
        overlay.build(Some(&user)).unwrap();
        let config = overlay.home.join(".gemini");
        // Since then: the CLI made a file of its own, the user's entry moved, and something
        // left a link where the settings go.
        write(&config.join("history.json"), "mine");
        std::fs::rename(user.join(".gemini/old.json"), user.join(".gemini/new.json")).unwrap();
        std::fs::remove_file(config.join("settings.json")).unwrap();
        std::os::unix::fs::symlink(
            user.join(".gemini/settings.json"),
            config.join("settings.json"),
        )
        .unwrap();
        overlay.build(Some(&user)).unwrap();
        assert_eq!(
            std::fs::read_to_string(user.join(".gemini/settings.json")).unwrap(),
            r#"{"ui": {"theme": "A"}}"#,
            "the user's file is untouched"
        );
        assert_eq!(written(&overlay)["ui"]["theme"], "A");
        assert_eq!(
            std::fs::read_to_string(config.join("history.json")).unwrap(),
            "mine"
        );
        assert_eq!(
            std::fs::read_link(config.join("new.json")).unwrap(),
            user.join(".gemini/new.json")
        );
    }

    #[test]
    fn comments_are_stripped_outside_strings_only() {
        assert_eq!(
            strip_json_comments("{\"a\": \"x//y\" // c\n, /* b\n */ \"b\": 1}"),
            "{\"a\": \"x//y\" \n, \n  \"b\": 1}"
        );
        assert_eq!(strip_json_comments(r#""\"//""#), r#""\"//""#);
    }
}
