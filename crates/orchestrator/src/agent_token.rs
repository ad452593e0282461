//! Agent tokens: the bearer token each terminal's agent gets, good for that terminal only.
//!
//! A token is `cao-agent-<terminal id>-<tag>`, the tag being HMAC-SHA-256 of the terminal id
//! under the server's own token (`server.token`). So nothing is stored: a token survives a
//! server restart, a restored terminal keeps its token, and a token names its terminal in a way
//! no agent can forge without the server token. The operator's token stays the server token.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

const PREFIX: &str = "cao-agent-";

fn mac(server_token: &str, terminal_id: &str) -> Hmac<Sha256> {
    // HMAC takes keys of any length: `new_from_slice` cannot fail for it.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(server_token.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of every length"));
    mac.update(b"cao agent token\0");
    mac.update(terminal_id.as_bytes());
    mac
}

/// The agent token of `terminal_id`.
pub fn agent_token(server_token: &str, terminal_id: &str) -> String {
    let tag = mac(server_token, terminal_id).finalize().into_bytes();
    format!("{PREFIX}{terminal_id}-{}", crate::home::hex(&tag))
}

/// The terminal an agent token belongs to, when it is one made with `server_token` (the tag
/// is compared in constant time). Anything else, the server token included, is `None`.
pub fn terminal_of(server_token: &str, token: &str) -> Option<String> {
    let rest = token.strip_prefix(PREFIX)?;
    let (terminal_id, tag) = rest.rsplit_once('-')?;
    if terminal_id.is_empty() || !terminal_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let tag = decode_hex(tag)?;
    mac(server_token, terminal_id)
        .verify_slice(&tag)
        .ok()
        .map(|()| terminal_id.to_string())
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(text.get(at..at + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVER: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn a_token_names_its_terminal_and_only_its_terminal() {
        let token = agent_token(SERVER, "1a2b3c4d");
        assert!(token.starts_with("cao-agent-1a2b3c4d-"));
        assert_eq!(terminal_of(SERVER, &token).as_deref(), Some("1a2b3c4d"));
        assert_eq!(
            agent_token(SERVER, "1a2b3c4d"),
            token,
            "stable across restarts"
        );
        // Another terminal's id with this tag, another server's token, a cut tag: refused.
        let forged = token.replace("1a2b3c4d", "99999999");
        assert_eq!(terminal_of(SERVER, &forged), None);
        assert_eq!(terminal_of(&SERVER.replace('0', "1"), &token), None);
        assert_eq!(terminal_of(SERVER, &token[..token.len() - 2]), None);
        assert_eq!(terminal_of(SERVER, SERVER), None);
        assert_eq!(terminal_of(SERVER, "cao-agent--"), None);
        assert_eq!(terminal_of(SERVER, "cao-agent-x-zz"), None);
        assert_eq!(terminal_of(SERVER, ""), None);
    }
}
