//! `cao provider …`: the provider packs from the command line (list them, classify a screen).
//!
//! Packs come from the built-ins plus `<CAO_HOME_DIR>/providers/*.toml` (the data directory
//! the server uses too).

use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context, Result};
use cao_orchestrator::provider::PackRegistry;
use clap::Subcommand;
use serde::Serialize;

#[derive(Debug, Subcommand)]
pub enum ProviderCommand {
    /// Every provider pack: name, aliases, binary and whether it is installed on PATH.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Prints the status a provider's pack reads from a captured screen (one word).
    Classify {
        /// Provider name or alias (`claude_code`, `claude`, …).
        #[arg(long)]
        provider: String,
        /// A plain-text screen capture; `-` reads stdin.
        file: PathBuf,
    },
}

/// One row of `cao provider list`.
#[derive(Debug, Serialize)]
struct ProviderRow<'a> {
    name: &'a str,
    aliases: &'a [String],
    display_name: &'a str,
    binary: &'a str,
    installed: bool,
    path: Option<String>,
    install_hint: &'a str,
}

pub fn run(command: ProviderCommand) -> Result<()> {
    let registry = load_registry()?;
    match command {
        ProviderCommand::List { json } => list(&registry, json),
        ProviderCommand::Classify { provider, file } => {
            let pack = registry.get(&provider)?;
            let screen = read_screen(&file)?;
            println!("{}", pack.classify(&screen));
            Ok(())
        }
    }
}

fn load_registry() -> Result<PackRegistry> {
    // The same overrides directory the server reads, so both agree on what a pack is.
    let home = cao_orchestrator::home::CaoHome::from_env()?;
    Ok(PackRegistry::load(Some(&home.providers_dir()))?)
}

fn read_screen(file: &PathBuf) -> Result<String> {
    if file.as_os_str() == "-" {
        let mut screen = String::new();
        std::io::stdin()
            .read_to_string(&mut screen)
            .context("cannot read the screen from stdin")?;
        return Ok(screen);
    }
    // Captures may hold stray invalid bytes; they never carry a status marker.
    let bytes = std::fs::read(file)
        .with_context(|| format!("cannot read the screen file {}", file.display()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn list(registry: &PackRegistry, json: bool) -> Result<()> {
    // What the server would report (`Orchestrator::providers`): the mock agent is this binary.
    let path_env = std::env::var_os("PATH").unwrap_or_default();
    let cao_binary = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("cao"));
    let rows: Vec<ProviderRow> = registry
        .list()
        .iter()
        .map(|pack| {
            let path = pack.resolve_binary(&path_env, &cao_binary);
            ProviderRow {
                name: &pack.name,
                aliases: &pack.aliases,
                display_name: &pack.display_name,
                binary: &pack.binary,
                installed: path.is_some(),
                path: path.map(|path| path.display().to_string()),
                install_hint: &pack.install_hint,
            }
        })
        .collect();
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    let name_width = rows
        .iter()
        .map(|row| row.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let aliases: Vec<String> = rows.iter().map(|row| row.aliases.join(",")).collect();
    let alias_width = aliases.iter().map(String::len).max().unwrap_or(7).max(7);
    let binary_width = rows
        .iter()
        .map(|row| row.binary.len())
        .max()
        .unwrap_or(6)
        .max(6);
    println!(
        "{:name_width$}  {:alias_width$}  {:binary_width$}  INSTALLED",
        "NAME", "ALIASES", "BINARY"
    );
    for (row, aliases) in rows.iter().zip(&aliases) {
        let installed = match &row.path {
            Some(path) => format!("yes ({path})"),
            None => format!("no  (install: {})", row.install_hint),
        };
        println!(
            "{:name_width$}  {:alias_width$}  {:binary_width$}  {installed}",
            row.name, aliases, row.binary
        );
    }
    Ok(())
}
