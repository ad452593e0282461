//! tmux's argument parser as the sim needs it: getopt-style flags (`-dP`, `-tfoo`, `-t foo`,
//! `--`), then positional arguments, with tmux's usage error wording.

/// One command's argument table entry, in tmux's own getopt notation (`"dt:"`: `-d` takes no
/// value, `-t` takes one).
pub(super) struct ArgSpec {
    pub flags: &'static str,
    pub min_positional: usize,
    /// `None`: any number.
    pub max_positional: Option<usize>,
}

/// Parsed arguments.
#[derive(Debug, Clone, Default)]
pub(super) struct Args {
    flags: Vec<(char, Option<String>)>,
    pub positional: Vec<String>,
}

impl Args {
    pub fn has(&self, flag: char) -> bool {
        self.flags.iter().any(|(name, _)| *name == flag)
    }

    /// The last value given for `flag`, as tmux keeps.
    pub fn value(&self, flag: char) -> Option<&str> {
        self.flags
            .iter()
            .rev()
            .find(|(name, _)| *name == flag)
            .and_then(|(_, value)| value.as_deref())
    }

    /// The same arguments with `flag` (one taking no value) added, for shorthand commands.
    pub fn with_flag(&self, flag: char) -> Args {
        let mut args = self.clone();
        args.flags.push((flag, None));
        args
    }

    pub fn first(&self) -> Option<&str> {
        self.positional.first().map(String::as_str)
    }
}

/// Parses `words` (the arguments after the command name) against `spec`.
pub(super) fn parse(command: &str, spec: &ArgSpec, words: &[String]) -> Result<Args, String> {
    let usage = |detail: String| format!("command {command}: {detail}");
    let mut args = Args::default();
    let mut index = 0;
    while index < words.len() {
        let word = &words[index];
        if word == "--" {
            index += 1;
            break;
        }
        let Some(cluster) = word.strip_prefix('-').filter(|rest| !rest.is_empty()) else {
            break;
        };
        index += 1;
        for (offset, flag) in cluster.char_indices() {
            match takes_value(spec.flags, flag) {
                None => return Err(usage(format!("unknown flag -{flag}"))),
                Some(false) => args.flags.push((flag, None)),
                Some(true) => {
                    let attached = &cluster[offset + flag.len_utf8()..];
                    let value = if !attached.is_empty() {
                        attached.to_string()
                    } else if let Some(next) = words.get(index) {
                        index += 1;
                        next.clone()
                    } else {
                        return Err(usage(format!("-{flag} expects an argument")));
                    };
                    args.flags.push((flag, Some(value)));
                    break;
                }
            }
        }
    }
    args.positional = words[index..].to_vec();
    let count = args.positional.len();
    if count < spec.min_positional {
        return Err(usage(format!(
            "too few arguments (need at least {})",
            spec.min_positional
        )));
    }
    if let Some(max) = spec.max_positional {
        if count > max {
            return Err(usage(format!("too many arguments (need at most {max})")));
        }
    }
    Ok(args)
}

/// `Some(true)` when `flag` takes a value, `Some(false)` when it does not, `None` when unknown.
fn takes_value(flags: &str, flag: char) -> Option<bool> {
    if flag == ':' {
        return None;
    }
    let position = flags.find(flag)?;
    Some(flags[position + flag.len_utf8()..].starts_with(':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: ArgSpec = ArgSpec {
        flags: "dPt:F:e:",
        min_positional: 0,
        max_positional: Some(1),
    };

    fn words(list: &[&str]) -> Vec<String> {
        list.iter().map(|word| word.to_string()).collect()
    }

    #[test]
    fn clusters_attached_and_separate_values() {
        let args = parse("x", &SPEC, &words(&["-dPtfoo", "-F", "#{pane_id}", "cmd"])).unwrap();
        assert!(args.has('d') && args.has('P'));
        assert_eq!(args.value('t'), Some("foo"));
        assert_eq!(args.value('F'), Some("#{pane_id}"));
        assert_eq!(args.positional, words(&["cmd"]));
    }

    #[test]
    fn double_dash_ends_flags_and_values_repeat() {
        let args = parse("x", &SPEC, &words(&["-e", "A=1", "-eB=2", "--", "-d"])).unwrap();
        assert_eq!(args.value('e'), Some("B=2"));
        assert!(!args.has('d'));
        assert_eq!(args.positional, words(&["-d"]));
    }

    #[test]
    fn usage_errors_use_tmux_wording() {
        let error = parse("new-window", &SPEC, &words(&["-Z"])).unwrap_err();
        assert_eq!(error, "command new-window: unknown flag -Z");
        let error = parse("x", &SPEC, &words(&["a", "b"])).unwrap_err();
        assert_eq!(error, "command x: too many arguments (need at most 1)");
        let error = parse("x", &SPEC, &words(&["-t"])).unwrap_err();
        assert_eq!(error, "command x: -t expects an argument");
    }
}
