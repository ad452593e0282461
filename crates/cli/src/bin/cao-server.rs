//! `cao-server`: CAO's name for `cao server` (same flags).

fn main() -> std::process::ExitCode {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    args.insert(1, "server".into());
    cao_cli::main_with(args)
}
