//! Extraction: the last reply, taken out of the captured scrollback and screen.
//!
//! The input is the pane's text with wrapped lines joined. The region searched is the history
//! above the composer, cut at the pack's last `end` line (`Tokens: …`, `Worked for …`) and
//! starting after the last input echo; see [`super::pack::ExtractRules`] for the two modes.

use super::classify::{history, screen_lines};
use super::pack::{ExtractRules, Pattern, ProviderPack};

impl ProviderPack {
    /// The CLI's last reply with its markers and continuation indentation removed, or `None`
    /// when the text holds no reply.
    pub fn extract_last_response(&self, text: &str) -> Option<String> {
        let lines = screen_lines(text);
        let history = history(&lines, self.composer.as_ref());
        let rules = &self.extract;
        let end = match &rules.end {
            Some(end) => last_match(history, history.len(), end).unwrap_or(history.len()),
            None => history.len(),
        };
        let start = match &rules.echo {
            Some(echo) => match last_match(history, end, echo) {
                Some(mut index) => {
                    // A multi-line input is echoed as several echo lines: skip them all.
                    while index < end && echo.is_match(history[index]) {
                        index += 1;
                    }
                    index
                }
                None => 0,
            },
            None => 0,
        };
        let region = &history[start..end];
        let reply = match &rules.start {
            Some(marker) => last_block(region, marker, rules)?,
            None => region.iter().map(|line| line.to_string()).collect(),
        };
        let reply = match &rules.strip {
            Some(strip) => reply
                .into_iter()
                .map(|line| strip.0.replace_all(&line, "").trim_end().to_string())
                .collect(),
            None => reply,
        };
        finish(reply, rules.dedent)
    }
}

/// Index of the last line before `limit` that matches.
fn last_match(lines: &[&str], limit: usize, pattern: &Pattern) -> Option<usize> {
    lines[..limit]
        .iter()
        .rposition(|line| pattern.is_match(line))
}

/// The last block that opens with `marker`, markers and continuation prefixes stripped.
fn last_block(region: &[&str], marker: &Pattern, rules: &ExtractRules) -> Option<Vec<String>> {
    let first = region.iter().rposition(|line| marker.is_match(line))?;
    let mut block = Vec::new();
    // The marker is matched at the start of the line, so the rest is everything after it.
    let opening = region[first];
    let stripped = marker
        .0
        .find(opening)
        .map_or(opening, |found| &opening[found.end()..]);
    block.push(stripped.to_string());
    for line in &region[first + 1..] {
        if line.trim().is_empty() {
            block.push(String::new());
            continue;
        }
        if rules.stop.as_ref().is_some_and(|stop| stop.is_match(line)) {
            break;
        }
        let continued = rules
            .continuation
            .as_ref()
            .and_then(|continuation| continuation.0.find(line))
            .filter(|found| found.start() == 0);
        match continued {
            Some(found) => block.push(line[found.end()..].to_string()),
            None => break,
        }
    }
    Some(block)
}

/// Drops blank lines at both ends, removes shared indentation if asked, joins the lines.
fn finish(mut lines: Vec<String>, dedent: bool) -> Option<String> {
    while lines.last().is_some_and(|line| line.trim().is_empty()) {
        lines.pop();
    }
    let leading = lines
        .iter()
        .take_while(|line| line.trim().is_empty())
        .count();
    lines.drain(..leading);
    if lines.is_empty() {
        return None;
    }
    if dedent {
        // Counted in chars: indentation may hold multi-byte spaces (NBSP).
        let indent = lines
            .iter()
            .filter(|line| !line.trim().is_empty())
            .map(|line| line.chars().take_while(|c| c.is_whitespace()).count())
            .min()
            .unwrap_or(0);
        for line in &mut lines {
            *line = line.chars().skip(indent).collect();
        }
    }
    Some(lines.join("\n"))
}
