//! Turning an argv into what tmux reads back as exactly that argv.
//!
//! Two readers exist. The tmux client's own argv (`tmux CMD ARG…`) is taken word for word except
//! that a word ending in `;` ends the command ([`escape_argv_word`] guards that). A control-mode
//! line goes through tmux's command parser ([`control_line`] quotes every word so quoting,
//! `;`, `$`, `#`, `~`, `{` and newlines are data).
//!
//! NUL cannot travel in either form (tmux keeps arguments as C strings), so it is rejected with a
//! typed error rather than silently truncating the text; bytes with NUL go through
//! `load-buffer` from a file instead.

use std::borrow::Cow;

/// An argument that tmux cannot carry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuoteError {
    #[error("argument {index} of `{command}` contains a NUL byte, which tmux cannot carry in an argument; send such bytes with load_buffer from data instead")]
    NulByte { command: String, index: usize },
    #[error("empty command: an argv needs at least the tmux command name")]
    EmptyCommand,
    #[error("{0:?} is not a tmux command name: a command is lowercase letters, digits and `-`, like `send-keys`")]
    InvalidCommandName(String),
}

/// Escapes one word for the tmux client's argv: a trailing `;` would end the command, so it
/// becomes `\;`, which tmux turns back into `;`.
pub fn escape_argv_word(word: &str) -> Cow<'_, str> {
    if let Some(head) = word.strip_suffix(';') {
        let mut escaped = String::with_capacity(word.len() + 1);
        escaped.push_str(head);
        escaped.push_str("\\;");
        Cow::Owned(escaped)
    } else {
        Cow::Borrowed(word)
    }
}

/// Checks an argv for bytes tmux cannot carry and for a first word that tmux would read as
/// something other than a command: `NAME=value` is an environment assignment (no reply block,
/// which would shift every later reply on a control connection), `-x` a tmux option, `%if` a
/// directive.
pub fn check_argv(argv: &[String]) -> Result<(), QuoteError> {
    let Some(command) = argv.first() else {
        return Err(QuoteError::EmptyCommand);
    };
    if !is_plain_command_name(command) || !command.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(QuoteError::InvalidCommandName(command.clone()));
    }
    for (index, word) in argv.iter().enumerate() {
        if word.as_bytes().contains(&0) {
            return Err(QuoteError::NulByte {
                command: command.clone(),
                index,
            });
        }
    }
    Ok(())
}

/// Renders an argv as one control-mode command line (without the trailing newline).
///
/// The command name is written bare (it is a plain word by construction); every other word is
/// double-quoted with `\`, `"` and `$` escaped, `~` and every control byte written as `\ooo`, so the
/// line never contains a raw newline and the parser returns exactly the original words.
pub fn control_line(argv: &[String]) -> Result<String, QuoteError> {
    let mut line = String::with_capacity(argv.iter().map(|w| w.len() + 3).sum());
    write_control_line(argv, &mut line)?;
    Ok(line)
}

/// Like [`control_line`], appending to `line` to avoid an allocation per command.
pub fn write_control_line(argv: &[String], line: &mut String) -> Result<(), QuoteError> {
    check_argv(argv)?;
    for (index, word) in argv.iter().enumerate() {
        if index > 0 {
            line.push(' ');
        }
        if index == 0 {
            // Checked above: a plain lowercase command name.
            line.push_str(word);
            continue;
        }
        push_double_quoted(word, line);
    }
    Ok(())
}

fn is_plain_command_name(word: &str) -> bool {
    !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn push_double_quoted(word: &str, line: &mut String) {
    line.push('"');
    for character in word.chars() {
        match character {
            '\\' => line.push_str("\\\\"),
            '"' => line.push_str("\\\""),
            '$' => line.push_str("\\$"),
            // tmux expands a leading `~` even inside double quotes; an octal escape is literal.
            '~' => line.push_str("\\176"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let byte = c as u32;
                line.push('\\');
                line.push(char::from(b'0' + ((byte >> 6) & 7) as u8));
                line.push(char::from(b'0' + ((byte >> 3) & 7) as u8));
                line.push(char::from(b'0' + (byte & 7) as u8));
            }
            c => line.push(c),
        }
    }
    line.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn trailing_semicolon_is_escaped_for_argv() {
        assert_eq!(escape_argv_word("a;"), "a\\;");
        assert_eq!(escape_argv_word(";"), "\\;");
        assert_eq!(escape_argv_word("a\\;"), "a\\\\;");
        assert_eq!(escape_argv_word("a;b"), "a;b");
    }

    #[test]
    fn control_line_quotes_everything_but_the_command() {
        let line = control_line(&argv(&["send-keys", "-l", "-t", "%1", "a; kill-server"])).unwrap();
        assert_eq!(line, r#"send-keys "-l" "-t" "%1" "a; kill-server""#);
    }

    #[test]
    fn control_line_escapes_newlines_and_specials() {
        let line = control_line(&argv(&["set-buffer", "x\n\"$HOME\"\\\t\u{7f}é"])).unwrap();
        assert_eq!(line, r#"set-buffer "x\012\"\$HOME\"\\\011\177é""#);
        assert!(!line.contains('\n'));
        assert_eq!(control_line(&argv(&["x", "~/a"])).unwrap(), r#"x "\176/a""#);
    }

    #[test]
    fn nul_is_rejected_with_its_position() {
        assert_eq!(
            control_line(&argv(&["set-buffer", "a\0b"])),
            Err(QuoteError::NulByte {
                command: "set-buffer".into(),
                index: 1
            })
        );
        assert_eq!(control_line(&[]), Err(QuoteError::EmptyCommand));
    }

    #[test]
    fn first_words_tmux_would_not_read_as_commands_are_refused() {
        for bad in [
            "FOO=bar",
            "foo=bar",
            "-V",
            "%if",
            "Send-Keys",
            "a b",
            "",
            "x;",
        ] {
            assert_eq!(
                check_argv(&argv(&[bad, "x"])),
                Err(QuoteError::InvalidCommandName(bad.into())),
                "{bad:?}"
            );
        }
        assert!(check_argv(&argv(&["send-keys", "FOO=bar"])).is_ok());
    }
}
