//! Quoting any argv for a control-mode line never produces a raw newline (which would end the
//! command early or, when empty, detach the client).
#![no_main]

use cao_tmux::quote::control_line;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|words: Vec<String>| {
    if let Ok(line) = control_line(&words) {
        assert!(!line.contains('\n'));
        assert!(!line.contains('\r'));
        assert!(!line.is_empty());
    }
});
