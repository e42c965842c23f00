//! `mc-gitops init DIR`: a new group's state repo, made from the example
//! compiled into the binary (`state-repo-example/`) so an admin starts from
//! files that are known to pass `check`, with their comments explaining
//! every key.
//!
//! The example's people and history are not copied: `sessions/` and
//! anything the bot writes (costs, STATUS.md) or keeps locally
//! (`.mc-gitops/storage`, cache) belong to the example's own server, and its
//! three players and two ops are its friends, not the new group's. The new
//! repo has one player, the admin (their file written as a friend's pull
//! request writes one: `name` and `added_by`, the uuid left for `check
//! --fix`), who is its one op (level 4) and its one `[github] admins`
//! handle and CODEOWNER; further ops are a commented template in ops.toml.
//! It is stopped, in the region asked for, under the given name, zone and
//! bucket, and its workflows name this binary's version.

use std::path::{Path, PathBuf};

use include_dir::{Dir, DirEntry, include_dir};

use crate::repo::edit::EditError;

static EXAMPLE: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/state-repo-example");

/// Paths of the example that a new repo does not get: its history, its
/// local state, and its players (the admin's file is written instead).
const LEFT_OUT: &[&str] = &[
    "sessions",
    "costs",
    "COSTS.md",
    "STATUS.md",
    ".mc-gitops/storage",
    ".mc-gitops/cache",
    "players",
];

/// The example's own names, replaced in the copied text ("Grove" by the
/// new name as a title: the README's heading, the motd).
const EXAMPLE_ZONE: &str = "grove.place";
const EXAMPLE_BUCKET: &str = "grove-worlds";
const EXAMPLE_ADMIN: &str = "grove-admin";
const EXAMPLE_REPO: &str = "grove-friends/grove-state";
const EXAMPLE_TITLE: &str = "Grove";
/// The example README's pointer to a player file, made the admin's.
const EXAMPLE_PLAYER_LINK: &str = "[`players/Alex.toml`](players/Alex.toml)";
/// The reconcile workflow's region input: its default becomes the repo's region.
const REGION_INPUT_DEFAULT: &str = "        default: eu\n";

/// What the new repo is made of: the server, where it runs, and its admin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// `name` in server.toml (labels, hostnames, storage prefixes).
    pub name: String,
    /// The Cloudflare zone friends connect under (`mc.<zone>`).
    pub zone: String,
    /// A key of the example's `[regions]` (eu, us).
    pub region: String,
    /// The admin's Minecraft name: the one player and op.
    pub player: String,
    /// The admin's GitHub handle: `[github] admins`, CODEOWNERS, `added_by`.
    pub github: String,
    /// `owner/name` of the state repo on GitHub (default: `<github>/<DIR's name>`).
    pub repository: Option<String>,
    /// The R2 bucket (default: `<name>-worlds`).
    pub bucket: Option<String>,
    /// The Cloudflare account id (32 hex digits); the line is left commented without it.
    pub account_id: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("{0} exists and is not empty; init only writes into a new or empty directory")]
    NotEmpty(PathBuf),
    #[error(
        "--name {name:?} is not a valid server name: use 2–32 lowercase letters, digits and '-', starting with a letter and not ending with '-'"
    )]
    Name { name: String },
    #[error("--zone {zone:?} is not a DNS zone name like example.org")]
    Zone { zone: String },
    #[error("--region {region:?} is not a region of the example; the regions are: {known}")]
    Region { region: String, known: String },
    #[error("--player {player:?} is not a Minecraft name: 3–16 of A-Z, a-z, 0-9 and _")]
    Player { player: String },
    #[error("--github {handle:?} is not a GitHub handle: 1–39 of a-z, A-Z, 0-9 and '-', not starting or ending with '-'")]
    Github { handle: String },
    #[error("--repository {repository:?} is not owner/name on GitHub")]
    Repository { repository: String },
    #[error("--bucket {bucket:?} is not an R2 bucket name: 3–63 of a-z, 0-9 and '-', not starting or ending with '-'")]
    Bucket { bucket: String },
    #[error("--account-id {account_id:?} is not a Cloudflare account id (32 hex digits)")]
    AccountId { account_id: String },
    #[error("the built-in example's {file} no longer has {what}; init cannot adapt it")]
    Example { file: String, what: &'static str },
    #[error("cannot write {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("editing server.toml")]
    Edit(#[from] EditError),
    #[error("editing server.toml")]
    Toml(#[from] toml_edit::TomlError),
}

impl InitError {
    /// The flag whose value this error refuses, so a person at the terminal
    /// can be asked for it again.
    pub fn flag(&self) -> Option<&'static str> {
        Some(match self {
            InitError::Name { .. } => "--name",
            InitError::Zone { .. } => "--zone",
            InitError::Region { .. } => "--region",
            InitError::Player { .. } => "--player",
            InitError::Github { .. } => "--github",
            InitError::Repository { .. } => "--repository",
            InitError::Bucket { .. } => "--bucket",
            InitError::AccountId { .. } => "--account-id",
            _ => return None,
        })
    }
}

/// [`Options`] once every value is checked, with the defaults filled in.
struct Checked {
    name: String,
    zone: String,
    region: String,
    player: String,
    github: String,
    repository: String,
    bucket: String,
    account_id: Option<String>,
}

/// The region keys of the example's server.toml, in its order.
pub fn regions() -> Vec<String> {
    let text = EXAMPLE.get_file("server.toml").and_then(|f| f.contents_utf8()).unwrap_or_default();
    let doc: toml_edit::DocumentMut = text.parse().unwrap_or_default();
    doc.get("regions")
        .and_then(|r| r.as_table())
        .map(|t| t.iter().map(|(k, _)| k.to_string()).collect())
        .unwrap_or_default()
}

fn valid_zone(z: &str) -> bool {
    z.contains('.')
        && z.len() <= 253
        && z.split('.').all(|l| {
            (1..=63).contains(&l.len())
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

/// GitHub's rule for user and organisation names.
pub fn valid_github_handle(h: &str) -> bool {
    (1..=39).contains(&h.len()) && h.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-') && !h.starts_with('-') && !h.ends_with('-')
}

fn valid_repository(r: &str) -> bool {
    let mut parts = r.split('/');
    matches!((parts.next(), parts.next(), parts.next()), (Some(owner), Some(name), None)
        if valid_github_handle(owner)
            && !name.is_empty()
            && name.len() <= 100
            && name.bytes().all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(&c)))
}

fn valid_bucket(b: &str) -> bool {
    (3..=63).contains(&b.len())
        && b.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        && !b.starts_with('-')
        && !b.ends_with('-')
}

fn check(dir: &Path, o: &Options) -> Result<Checked, InitError> {
    if !crate::repo::server::valid_server_name(&o.name) {
        return Err(InitError::Name { name: o.name.clone() });
    }
    let zone = o.zone.trim_end_matches('.').to_ascii_lowercase();
    if !valid_zone(&zone) {
        return Err(InitError::Zone { zone });
    }
    let known = regions();
    if !known.contains(&o.region) {
        return Err(InitError::Region {
            region: o.region.clone(),
            known: known.join(", "),
        });
    }
    if !crate::repo::players::valid_username(&o.player) {
        return Err(InitError::Player { player: o.player.clone() });
    }
    let github = o.github.trim_start_matches('@').to_string();
    if !valid_github_handle(&github) {
        return Err(InitError::Github { handle: o.github.clone() });
    }
    let repository = match &o.repository {
        Some(r) => r.clone(),
        None => {
            let dir_name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            format!("{github}/{dir_name}")
        }
    };
    if !valid_repository(&repository) {
        return Err(InitError::Repository { repository });
    }
    let bucket = o.bucket.clone().unwrap_or_else(|| format!("{}-worlds", o.name));
    if !valid_bucket(&bucket) {
        return Err(InitError::Bucket { bucket });
    }
    let account_id = match &o.account_id {
        Some(a) if a.len() == 32 && a.bytes().all(|c| c.is_ascii_hexdigit()) => Some(a.to_ascii_lowercase()),
        Some(a) => return Err(InitError::AccountId { account_id: a.clone() }),
        None => None,
    };
    Ok(Checked {
        name: o.name.clone(),
        zone,
        region: o.region.clone(),
        player: o.player.clone(),
        github,
        repository,
        bucket,
        account_id,
    })
}

/// Create the repo; returns the files written, relative to `dir`.
pub fn init(dir: &Path, options: &Options) -> Result<Vec<String>, InitError> {
    let c = check(dir, options)?;
    if std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some()) {
        return Err(InitError::NotEmpty(dir.to_path_buf()));
    }
    let mut files = Vec::new();
    collect(&EXAMPLE, &c, &mut files)?;
    files.push((format!("players/{}.toml", c.player), player_file(&c)));
    files.sort();
    let mut written = Vec::new();
    for (rel, bytes) in files {
        let path = dir.join(&rel);
        let io = |source| InitError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(path.parent().expect("a file is inside the repo")).map_err(io)?;
        std::fs::write(&path, bytes).map_err(io)?;
        written.push(rel);
    }
    Ok(written)
}

fn collect(d: &Dir<'_>, c: &Checked, out: &mut Vec<(String, Vec<u8>)>) -> Result<(), InitError> {
    for entry in d.entries() {
        if LEFT_OUT.iter().any(|p| entry.path().starts_with(p)) {
            continue;
        }
        match entry {
            DirEntry::Dir(sub) => collect(sub, c, out)?,
            DirEntry::File(f) => {
                let rel = f.path().to_string_lossy().replace('\\', "/");
                let bytes = match f.contents_utf8() {
                    Some(text) => adapt(&rel, text, c)?.into_bytes(),
                    None => f.contents().to_vec(),
                };
                out.push((rel, bytes));
            }
        }
    }
    Ok(())
}

/// Every pattern replaced in one pass, so a replacement is never itself
/// replaced again (a zone that contains the example's bucket name).
fn replace_all(text: &str, pairs: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    'outer: while !rest.is_empty() {
        for (from, to) in pairs {
            if let Some(after) = rest.strip_prefix(from) {
                out.push_str(to);
                rest = after;
                continue 'outer;
            }
        }
        let c = rest.chars().next().expect("rest is not empty");
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// `what` must occur in the example's `file`: the adaptation relies on it.
fn replace_required(text: &str, file: &str, from: &str, to: &str, what: &'static str) -> Result<String, InitError> {
    if !text.contains(from) {
        return Err(InitError::Example { file: file.into(), what });
    }
    Ok(text.replace(from, to))
}

/// "grove" → "Grove": the name as a title.
fn title(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|f| f.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// The example's text, made the new repo's.
fn adapt(rel: &str, text: &str, c: &Checked) -> Result<String, InitError> {
    let title = title(&c.name);
    let text = replace_all(
        text,
        &[
            (EXAMPLE_TITLE, &title),
            (EXAMPLE_ZONE, &c.zone),
            (EXAMPLE_BUCKET, &c.bucket),
            (EXAMPLE_REPO, &c.repository),
            (EXAMPLE_ADMIN, &c.github),
        ],
    );
    match rel {
        "server.toml" => server_toml(&text, c),
        "ops.toml" => Ok(ops_toml(&text, c)),
        "README.md" => replace_required(&text, rel, EXAMPLE_PLAYER_LINK, &player_link(c), "the link to a player file"),
        ".github/workflows/reconcile.yml" => {
            let text = replace_required(
                &text,
                rel,
                REGION_INPUT_DEFAULT,
                &format!("        default: {}\n", c.region),
                "the region input's default",
            )?;
            Ok(workflow_version(&text))
        }
        _ if rel.starts_with(".github/workflows/") => Ok(workflow_version(&text)),
        _ => Ok(text),
    }
}

/// The workflows download the release this binary came from.
fn workflow_version(text: &str) -> String {
    text.replace(
        "MC_GITOPS_VERSION: \"0.1.0\"",
        &format!("MC_GITOPS_VERSION: \"{}\"", env!("CARGO_PKG_VERSION")),
    )
}

fn player_link(c: &Checked) -> String {
    format!("[`players/{0}.toml`](players/{0}.toml)", c.player)
}

fn server_toml(text: &str, c: &Checked) -> Result<String, InitError> {
    let mut doc: toml_edit::DocumentMut = text.parse()?;
    let keep = |item: &toml_edit::Item, v: &str| {
        let mut value = toml_edit::Value::from(v);
        if let Some(d) = item.as_value().map(|x| x.decor().clone()) {
            *value.decor_mut() = d;
        }
        toml_edit::Item::Value(value)
    };
    doc["name"] = keep(&doc["name"], &c.name);
    doc["state"] = keep(&doc["state"], "stopped");
    doc["region"] = keep(&doc["region"], &c.region);
    let text = doc.to_string();
    // The example's account id is not the group's: without theirs the line is
    // left commented (R2 storage needs it; docs/setup.md says where it is shown).
    let example_id = doc
        .get("storage")
        .and_then(|s| s.get("account_id"))
        .and_then(|a| a.as_str())
        .ok_or(InitError::Example {
            file: "server.toml".into(),
            what: "[storage] account_id",
        })?
        .to_string();
    Ok(match &c.account_id {
        Some(id) => text.replace(&format!("\"{example_id}\""), &format!("\"{id}\"")),
        None => text.replace(
            &format!("account_id = \"{example_id}\""),
            "# account_id = \"<yours: 32 hex digits>\"",
        ),
    })
}

/// The example's header comment, the admin as the one op, and a commented
/// template for the next.
fn ops_toml(text: &str, c: &Checked) -> String {
    let header: String = text
        .lines()
        .take_while(|l| l.starts_with('#') || l.trim().is_empty())
        .map(|l| format!("{l}\n"))
        .collect();
    format!(
        "{}\n\n[[op]]\nname = \"{}\"   # the admin's own account\nlevel = 4\n\n\
         # Another op, once their players/ file is merged:\n\
         # [[op]]\n\
         # name = \"FriendName\"\n\
         # level = 2              # enough for /gamemode, /tp and /time\n",
        header.trim_end(),
        c.player
    )
}

/// The admin's player file, as a friend's pull request writes one.
fn player_file(c: &Checked) -> Vec<u8> {
    format!(
        "#:schema ../.mc-gitops/schema/player.json\n\
         # The admin's own Minecraft account (op level 4 in ops.toml), written the\n\
         # way a friend's pull request writes theirs: players/<TheirName>.toml with\n\
         #   name = \"TheirName\"                  # exactly as in the game, equal to the file name\n\
         #   added_by = \"their-github-handle\"    # optional\n\
         # `mc-gitops check --fix` looks the name up at Mojang and writes `uuid` below\n\
         # `name`; the whitelist needs it, and the pull-request check does it for friends.\n\
         name = \"{}\"\n\
         added_by = \"{}\"\n",
        c.player, c.github
    )
    .into_bytes()
}

#[cfg(test)]
mod tests;
