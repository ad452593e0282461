//! The `--mcp-config` file: the MCP servers the agent connects to, in Claude Code's format.
//!
//! ```json
//! {"mcpServers": {
//!   "cao":  {"command": "cao", "args": ["mcp-server"], "env": {"CAO_TERMINAL_ID": "1a2b3c4d"}},
//!   "team": {"type": "http", "url": "http://127.0.0.1:9889/mcp/agents/1a2b3c4d",
//!            "headers": {"Authorization": "Bearer …"}}
//! }}
//! ```
//!
//! A server is stdio (a child process: `command`, optional `args` and `env`; `"type":
//! "stdio"` may be given) or streamable HTTP (`"type": "http"`, `url`, optional `headers`).
//! Servers keep the order of the file: a call that names no server goes to the first one
//! offering the tool. Keys other than `mcpServers` at the top are ignored (Claude Code's files
//! hold more); unknown keys inside a server are errors. Only `http://` URLs: this build has no
//! TLS, and cao's servers listen on 127.0.0.1.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;

/// The servers of an `--mcp-config` file, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct McpConfig {
    /// Servers, in the order the file lists them.
    pub servers: Vec<McpServer>,
}

/// One MCP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McpServer {
    /// Its key in `mcpServers`; `name.tool` in a script picks it.
    pub name: String,
    /// How to reach it.
    pub transport: McpTransport,
}

/// How to reach an MCP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum McpTransport {
    /// A child process speaking MCP on its stdin and stdout.
    Stdio {
        command: String,
        args: Vec<String>,
        env: BTreeMap<String, String>,
    },
    /// Streamable HTTP at `url`, with these request headers (checked to be valid).
    Http {
        url: String,
        headers: BTreeMap<String, String>,
    },
}

/// An `--mcp-config` file that could not be read or is not valid.
#[derive(Debug, thiserror::Error)]
#[error("MCP config {}: {problem}", path.display())]
pub struct McpConfigError {
    /// The file.
    pub path: PathBuf,
    /// One line saying what is wrong.
    pub problem: String,
}

#[derive(Deserialize)]
struct RawConfig {
    #[serde(rename = "mcpServers")]
    servers: Option<OrderedServers>,
}

/// `mcpServers` with its keys in file order (serde_json's map sorts them).
struct OrderedServers(Vec<(String, RawServer)>);

impl<'de> Deserialize<'de> for OrderedServers {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Ordered;
        impl<'de> Visitor<'de> for Ordered {
            type Value = OrderedServers;
            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("an object of servers by name")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut servers: Vec<(String, RawServer)> = Vec::new();
                while let Some(name) = map.next_key::<String>()? {
                    if servers.iter().any(|(seen, _)| *seen == name) {
                        return Err(serde::de::Error::custom(format!(
                            "server `{name}` is listed twice"
                        )));
                    }
                    let server = map.next_value::<RawServer>().map_err(|error| {
                        serde::de::Error::custom(format!("server `{name}`: {error}"))
                    })?;
                    servers.push((name, server));
                }
                Ok(OrderedServers(servers))
            }
        }
        deserializer.deserialize_map(Ordered)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    command: Option<String>,
    #[serde(default)]
    args: Option<Vec<String>>,
    #[serde(default)]
    env: Option<BTreeMap<String, String>>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    headers: Option<BTreeMap<String, String>>,
}

impl McpConfig {
    /// Reads and checks the file at `path`.
    pub fn load(path: &Path) -> Result<Self, McpConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| McpConfigError {
            path: path.to_path_buf(),
            problem: format!("cannot read it: {error}"),
        })?;
        Self::parse(&text).map_err(|problem| McpConfigError {
            path: path.to_path_buf(),
            problem,
        })
    }

    /// Parses and checks the JSON text; the error is one line.
    pub fn parse(text: &str) -> Result<Self, String> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|error| error.to_string())?;
        if !value.is_object() {
            return Err("not a JSON object (expected {\"mcpServers\": {\"name\": {…}}})".into());
        }
        // Read again for the servers' order, which serde_json's map does not keep.
        let raw: RawConfig = serde_json::from_str(text).map_err(|error| error.to_string())?;
        let raw = raw
            .servers
            .ok_or("no `mcpServers` object (expected {\"mcpServers\": {\"name\": {…}}})")?;
        let servers = raw
            .0
            .into_iter()
            .map(|(name, server)| {
                let transport = server
                    .check()
                    .map_err(|problem| format!("server `{name}`: {problem}"))?;
                Ok(McpServer { name, transport })
            })
            .collect::<Result<_, String>>()?;
        Ok(Self { servers })
    }
}

impl RawServer {
    fn check(self) -> Result<McpTransport, String> {
        match self.kind.as_deref() {
            None | Some("stdio") => {
                if self.url.is_some() || self.headers.is_some() {
                    return Err(
                        "`url` and `headers` belong to an HTTP server: add \"type\": \"http\""
                            .into(),
                    );
                }
                let command = self.command.filter(|command| !command.is_empty()).ok_or(
                    "a stdio server needs a `command` (or give \"type\": \"http\" and a `url`)",
                )?;
                Ok(McpTransport::Stdio {
                    command,
                    args: self.args.unwrap_or_default(),
                    env: self.env.unwrap_or_default(),
                })
            }
            Some("http") => {
                if self.command.is_some() || self.args.is_some() || self.env.is_some() {
                    return Err(
                        "`command`, `args` and `env` belong to a stdio server, not an HTTP one"
                            .into(),
                    );
                }
                let url = self.url.ok_or("an HTTP server needs a `url`")?;
                if !url.starts_with("http://") {
                    return Err(format!(
                        "url `{url}`: only http:// URLs are supported (no TLS in this build)"
                    ));
                }
                let headers = self.headers.unwrap_or_default();
                for (name, value) in &headers {
                    reqwest::header::HeaderName::from_bytes(name.as_bytes())
                        .map_err(|_| format!("header `{name}` is not a valid header name"))?;
                    reqwest::header::HeaderValue::from_str(value)
                        .map_err(|_| format!("header `{name}` has a value that cannot be sent"))?;
                }
                Ok(McpTransport::Http { url, headers })
            }
            Some(other) => Err(format!(
                "type \"{other}\" is not supported (\"stdio\" or \"http\")"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_kinds_in_file_order() {
        let config = McpConfig::parse(
            r#"{"other": 1, "mcpServers": {
                "zeta": {"command": "cao", "args": ["mcp-server"], "env": {"CAO_TERMINAL_ID": "t1"}},
                "alpha": {"type": "http", "url": "http://127.0.0.1:9889/mcp/agents/t1",
                          "headers": {"Authorization": "Bearer secret"}},
                "plain": {"type": "stdio", "command": "server"}
            }}"#,
        )
        .unwrap();
        let names: Vec<&str> = config.servers.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["zeta", "alpha", "plain"]);
        assert_eq!(
            config.servers[0].transport,
            McpTransport::Stdio {
                command: "cao".into(),
                args: vec!["mcp-server".into()],
                env: BTreeMap::from([("CAO_TERMINAL_ID".into(), "t1".into())]),
            }
        );
        assert_eq!(
            config.servers[1].transport,
            McpTransport::Http {
                url: "http://127.0.0.1:9889/mcp/agents/t1".into(),
                headers: BTreeMap::from([("Authorization".into(), "Bearer secret".into())]),
            }
        );
        assert_eq!(
            McpConfig::parse(r#"{"mcpServers": {}}"#).unwrap().servers,
            []
        );
    }

    #[test]
    fn malformed_files_are_one_line_errors() {
        let cases = [
            ("{", "EOF while parsing"),
            ("[]", "not a JSON object"),
            ("{}", "no `mcpServers` object"),
            (
                r#"{"mcpServers": {"a": {}}}"#,
                "server `a`: a stdio server needs a `command`",
            ),
            (
                r#"{"mcpServers": {"a": {"command": "x", "cwd": "/"}}}"#,
                "server `a`: unknown field `cwd`",
            ),
            (
                r#"{"mcpServers": {"a": {"command": 5}}}"#,
                "server `a`: invalid type",
            ),
            (
                r#"{"mcpServers": {"a": {"type": "sse", "url": "http://x"}}}"#,
                "type \"sse\" is not supported",
            ),
            (
                r#"{"mcpServers": {"a": {"type": "http"}}}"#,
                "an HTTP server needs a `url`",
            ),
            (
                r#"{"mcpServers": {"a": {"type": "http", "url": "https://x"}}}"#,
                "only http:// URLs",
            ),
            (
                r#"{"mcpServers": {"a": {"url": "http://x"}}}"#,
                "add \"type\": \"http\"",
            ),
            (
                r#"{"mcpServers": {"a": {"type": "http", "url": "http://x", "command": "c"}}}"#,
                "belong to a stdio server",
            ),
            (
                r#"{"mcpServers": {"a": {"type": "http", "url": "http://x", "headers": {"bad name": "v"}}}}"#,
                "not a valid header name",
            ),
            (
                r#"{"mcpServers": {"a": {"command": "x"}, "a": {"command": "y"}}}"#,
                "listed twice",
            ),
        ];
        for (text, expected) in cases {
            let error = McpConfig::parse(text).unwrap_err();
            assert!(error.contains(expected), "{text}: {error}");
            assert!(!error.contains('\n'), "{error}");
        }
    }

    #[test]
    fn load_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mcp.json");
        std::fs::write(&path, "{\"mcpServers\": 3}").unwrap();
        let error = McpConfig::load(&path).unwrap_err().to_string();
        assert!(
            error.starts_with(&format!("MCP config {}: invalid type", path.display())),
            "{error}"
        );
        let missing = McpConfig::load(&dir.path().join("none.json")).unwrap_err();
        assert!(missing.to_string().contains("cannot read it"), "{missing}");
    }
}
