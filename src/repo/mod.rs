//! The state repo: reading its files (the only I/O here) and turning them into
//! the desired state and the ledger (pure, every problem reported at once).

use std::collections::BTreeMap;
use std::path::Path;

pub mod diag;
pub mod duration;
pub mod edit;
pub(crate) mod files;
pub mod ledger;
pub mod limits;
pub(crate) mod model;
pub(crate) mod mods;
pub(crate) mod players;
pub mod properties;
pub(crate) mod reader;
pub(crate) mod schedule;
pub(crate) mod server;
pub(crate) mod stop_warnings;
pub mod workflow_schedule;

use diag::{Diagnostic, Diagnostics, Source};
use files::Limit;
pub use model::*;
use reader::Cx;

use ledger::Ledger;

/// The repo's files that matter, by path relative to the root with `/`,
/// and those that were refused unread (links, special files, over a limit).
#[derive(Clone, Debug, Default)]
pub struct RepoFiles {
    pub files: BTreeMap<String, Vec<u8>>,
    pub refused: Vec<Diagnostic>,
}

impl RepoFiles {
    fn was_refused(&self, path: &str) -> bool {
        self.refused.iter().any(|d| d.file == path)
    }

    /// The refusals of these files, for a command that reads only them.
    pub fn refusals_of(&self, paths: &[&str]) -> Vec<Diagnostic> {
        self.refused.iter().filter(|d| paths.contains(&d.file.as_str())).cloned().collect()
    }
}

/// What a valid repo gives: the desired state, the ledger, and any warnings.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub desired: Desired,
    pub ledger: Ledger,
    pub warnings: Vec<Diagnostic>,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{} is not a state repo: it has no server.toml", .0.display())]
    NotARepo(std::path::PathBuf),
    #[error("the state repo has {} problem(s)", .0.iter().filter(|d| d.severity == diag::Severity::Error).count())]
    Invalid(Vec<Diagnostic>),
}

/// The files `parse` reads, each with its size limit.
const READ_FILES: &[(&str, Limit)] = &[
    ("server.toml", files::SERVER_TOML),
    ("ops.toml", files::OPS_TOML),
    ("mods.toml", files::MODS_TOML),
    ("mods.lock", files::MODS_LOCK),
];
/// The directories `parse` reads: the limit on each file, and on how many.
const READ_DIRS: &[(&str, Limit, usize, &str)] = &[
    ("players", files::PLAYER_FILE, limits::MAX_PLAYERS, "MAX_PLAYERS"),
    ("config", files::CONFIG_FILE, limits::MAX_CONFIG_FILES, "MAX_CONFIG_FILES"),
    ("sessions", files::SESSION_FILE, limits::MAX_SESSIONS, "MAX_SESSIONS"),
];

/// Read the files `parse` needs from a checkout. Only I/O; no validation.
/// Every file goes through `files` (no links, regular files only, size
/// and count limits); what it refuses is kept as a problem for `parse` to
/// report with the rest.
pub fn read(root: &Path) -> Result<RepoFiles, LoadError> {
    // Only "is there anything called server.toml": a link or a FIFO there is
    // a repo with a problem, which the read below reports.
    if !root.is_dir() || root.join("server.toml").symlink_metadata().is_err() {
        return Err(LoadError::NotARepo(root.to_path_buf()));
    }
    let mut out = RepoFiles::default();
    let mut budget = files::Budget::default();
    for (rel, limit) in READ_FILES {
        match budget.read(root, rel, *limit) {
            Ok(Some(bytes)) => {
                out.files.insert(rel.to_string(), bytes);
            }
            Ok(None) => {}
            Err(e) => out.refused.push(e.diagnostic()),
        }
    }
    for (dir, limit, max, max_name) in READ_DIRS {
        let walked = budget.walk(root, dir, *limit, *max, max_name);
        out.files.extend(walked.files);
        out.refused.extend(walked.refused.iter().map(files::FileError::diagnostic));
    }
    Ok(out)
}

/// Read and parse in one step.
pub fn load(root: &Path) -> Result<Loaded, LoadError> {
    parse(&read(root)?).map_err(LoadError::Invalid)
}

/// server.toml alone, with the loader's own parser: for the commands that
/// must work from a config directory holding server.toml only, or on a repo
/// whose other files are broken (`mc-gitops world`, `mc-gitops console`).
pub fn read_server(root: &Path) -> Result<ServerConfig, LoadError> {
    let files = read(root)?;
    let refused = files.refusals_of(&["server.toml"]);
    if !refused.is_empty() {
        return Err(LoadError::Invalid(refused));
    }
    let mut diags = Diagnostics::default();
    let Some(bytes) = files.files.get("server.toml") else {
        diags.file_error("server.toml", "is missing");
        return Err(LoadError::Invalid(diags.into_sorted()));
    };
    let Ok(text) = std::str::from_utf8(bytes) else {
        diags.file_error("server.toml", "is not UTF-8 text").help("save it as UTF-8");
        return Err(LoadError::Invalid(diags.into_sorted()));
    };
    let src = Source::new("server.toml", text);
    let mut cx = Cx {
        src: &src,
        diags: &mut diags,
    };
    let server = reader::parse_document(&mut cx, &src.text).and_then(|doc| server::parse(&mut cx, &doc));
    match server {
        Some(s) if !diags.has_errors() => Ok(s),
        _ => Err(LoadError::Invalid(diags.into_sorted())),
    }
}

/// Turn the files into the desired state and ledger, reporting every problem.
pub fn parse(files: &RepoFiles) -> Result<Loaded, Vec<Diagnostic>> {
    let mut diags = Diagnostics::default();
    for d in &files.refused {
        diags.add(d.clone());
    }
    let text = |path: &str, diags: &mut Diagnostics| -> Option<Source> {
        let bytes = files.files.get(path)?;
        match std::str::from_utf8(bytes) {
            Ok(s) => Some(Source::new(path, s)),
            Err(_) => {
                diags.file_error(path, "is not UTF-8 text").help("save it as UTF-8");
                None
            }
        }
    };

    let server = match text("server.toml", &mut diags) {
        Some(src) => parse_with(&src, &mut diags, server::parse),
        None if files.was_refused("server.toml") => None,
        None => {
            diags
                .file_error("server.toml", "is missing")
                .help("every state repo has a server.toml at its root");
            None
        }
    };

    // Players: name → file name, for duplicate and ops checks.
    let mut players = Vec::new();
    let mut by_lower: BTreeMap<String, crate::ids::PlayerName> = BTreeMap::new();
    let mut by_uuid: BTreeMap<crate::ids::PlayerUuid, String> = BTreeMap::new();
    for path in files.files.keys().filter(|p| p.starts_with("players/")) {
        let Some(stem) = path
            .strip_prefix("players/")
            .and_then(|p| p.strip_suffix(".toml"))
            .filter(|s| !s.contains('/'))
        else {
            diags
                .file_error(path, "players/ holds only one `<Name>.toml` per player")
                .help("move or remove this file");
            continue;
        };
        let Some(src) = text(path, &mut diags) else { continue };
        let Some(p) = parse_with(&src, &mut diags, |cx, doc| players::parse_player(cx, doc, stem)) else {
            continue;
        };
        if let Some(first) = by_lower.get(&p.name.as_str().to_ascii_lowercase()) {
            diags
                .file_error(path, format!("player {} is already whitelisted by players/{first}.toml", p.name))
                .help("names compare without case: keep one file");
            continue;
        }
        by_lower.insert(p.name.as_str().to_ascii_lowercase(), p.name.clone());
        if let Some(uuid) = &p.uuid {
            if let Some(first) = by_uuid.get(uuid) {
                diags
                    .file_error(path, format!("UUID {uuid} already belongs to players/{first}.toml"))
                    .help("one account, one file");
                continue;
            }
            by_uuid.insert(*uuid, p.name.to_string());
        } else {
            diags.push_warning_file(
                path,
                format!("{} has no uuid yet", p.name),
                "`mc-gitops check` looks it up with Mojang and fills it in",
            );
        }
        players.push(p);
    }
    players.sort_by_key(|p: &Player| p.name.as_str().to_ascii_lowercase());

    let ops = match text("ops.toml", &mut diags) {
        Some(src) => parse_with(&src, &mut diags, |cx, doc| players::parse_ops(cx, doc, &by_lower)),
        None => Some(Vec::new()),
    };
    let mods = match text("mods.toml", &mut diags) {
        Some(src) => parse_with(&src, &mut diags, mods::parse_mods),
        None => Some(Mods::default()),
    };
    // The lock pins the server jar, so every repo has one, even without mods.
    let lock = match text("mods.lock", &mut diags) {
        Some(src) => parse_with(&src, &mut diags, mods::parse_lock),
        None => {
            if files.files.contains_key("mods.lock") || files.was_refused("mods.lock") {
                None // not UTF-8 or refused: reported above
            } else {
                diags
                    .file_error(
                        "mods.lock",
                        "is missing: it pins the server jar the VPS runs, so every state repo has one, even without mods",
                    )
                    .help("run `mc-gitops mods lock` and commit mods.lock");
                None
            }
        }
    };

    let config_files: BTreeMap<String, Vec<u8>> = files
        .files
        .iter()
        .filter_map(|(p, b)| p.strip_prefix("config/").map(|rel| (rel.to_string(), b.clone())))
        .collect();
    for rel in config_files.keys() {
        if ["server.properties", "whitelist.json", "ops.json", "eula.txt"].contains(&rel.as_str()) {
            diags
                .file_error(
                    &format!("config/{rel}"),
                    "is written by mc-gitops and cannot be shipped from config/",
                )
                .help("set it through server.toml, players/ or ops.toml");
        }
    }

    let sessions = parse_sessions(files, &mut diags);
    let ledger = Ledger::new(sessions);
    let open: Vec<&str> = ledger.sessions.iter().filter(|s| s.is_open()).map(|s| s.file.as_str()).collect();
    if open.len() > 1 {
        for f in &open[..open.len() - 1] {
            diags
                .file_error(f, "is open, but a newer session is open too")
                .help("only one session can run at a time: set `ended` and `end_reason = \"drift\"` on the older one");
        }
    }

    // Cross-file rules that need a valid server.toml.
    if let (Some(server), Some(mods), Some(lock)) = (&server, &mods, &lock)
        && let Some(why) = mods::staleness(mods, lock, &server.minecraft)
    {
        diags
            .file_error("mods.lock", format!("is stale: {why}"))
            .help("run `mc-gitops mods lock` and commit mods.lock");
    }

    let parts = (server, ops, mods, lock);
    if diags.has_errors() || parts.0.is_none() || parts.1.is_none() || parts.2.is_none() || parts.3.is_none() {
        if !diags.has_errors() {
            // Every reader reports before giving up; this is a last guard so a
            // missed report can never turn into a silently empty plan.
            diags.file_error("server.toml", "could not be read for a reason not reported above");
        }
        return Err(diags.into_sorted());
    }
    let (Some(server), Some(ops), Some(mods), Some(lock)) = parts else {
        return Err(diags.into_sorted());
    };
    Ok(Loaded {
        desired: Desired {
            server,
            players,
            ops,
            mods,
            lock,
            config_files,
        },
        ledger,
        warnings: diags.into_sorted(),
    })
}

/// The ledger can hold thousands of sessions; they are independent, so they
/// are parsed on every core (the plan benchmark's 5,000-session ledger is
/// dominated by this).
fn parse_sessions(files: &RepoFiles, diags: &mut Diagnostics) -> Vec<ledger::Session> {
    let paths: Vec<&String> = files.files.keys().filter(|p| p.starts_with("sessions/")).collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
    let chunk = paths.len().div_ceil(threads).max(256);
    let parts: Vec<(Vec<ledger::Session>, Diagnostics)> = std::thread::scope(|scope| {
        let handles: Vec<_> = paths
            .chunks(chunk)
            .map(|part| scope.spawn(move || parse_session_files(files, part)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("session parsing does not panic"))
            .collect()
    });
    let mut sessions = Vec::with_capacity(paths.len());
    for (s, d) in parts {
        sessions.extend(s);
        diags.extend(d);
    }
    sessions
}

fn parse_session_files(files: &RepoFiles, paths: &[&String]) -> (Vec<ledger::Session>, Diagnostics) {
    let mut diags = Diagnostics::default();
    let mut sessions = Vec::with_capacity(paths.len());
    for path in paths {
        let parts: Vec<&str> = path.split('/').collect();
        let stem = match parts.as_slice() {
            ["sessions", y, m, f] if y.len() == 4 && m.len() == 2 => f.strip_suffix(".toml"),
            _ => None,
        };
        let Some(stem) = stem else {
            diags
                .file_error(path, "sessions/ holds only sessions/YYYY/MM/<id>.toml")
                .help("the bot writes these; move or remove this file");
            continue;
        };
        let Ok(text) = std::str::from_utf8(&files.files[*path]) else {
            diags.file_error(path, "is not UTF-8 text").help("save it as UTF-8");
            continue;
        };
        let src = Source::new(path.as_str(), text);
        if let Some(s) = parse_with(&src, &mut diags, |cx, doc| ledger::parse::parse_session(cx, doc, stem)) {
            sessions.push(s);
        }
    }
    (sessions, diags)
}

fn parse_with<T>(
    src: &Source,
    diags: &mut Diagnostics,
    f: impl FnOnce(&mut Cx<'_>, &toml::Spanned<toml::de::DeTable<'_>>) -> Option<T>,
) -> Option<T> {
    let mut cx = Cx { src, diags };
    let doc = reader::parse_document(&mut cx, &src.text)?;
    f(&mut cx, &doc)
}
