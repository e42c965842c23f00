//! `players/<Name>.toml` and `ops.toml`.
//!
//! One file per player so two friends' pull requests never touch the same
//! file. A player file grants nothing; privileges live only in the
//! admin-owned `ops.toml`, and every op must also be a player.

use std::collections::BTreeMap;

use toml::Spanned;
use toml::de::DeTable;

use super::limits::{MAX_GITHUB_LOGIN_CHARS, MAX_PLAYERS};
use super::model::{Op, Player};
use super::reader::{self, Cx, Table};
use crate::ids::PlayerName;

pub(crate) fn valid_username(s: &str) -> bool {
    (3..=16).contains(&s.len()) && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// GitHub's rule for a login: 1–39 letters, digits and `-`, not at either
/// end. `added_by` is compared with a pull request's author.
pub(crate) fn valid_github_login(s: &str) -> bool {
    (1..=MAX_GITHUB_LOGIN_CHARS).contains(&s.len())
        && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// A dashed hex UUID, as Mojang's profile API and whitelist.json write it.
pub(crate) fn valid_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|c| c.is_ascii_hexdigit()))
}

const USERNAME_HELP: &str = "Minecraft names are 3–16 of A-Z, a-z, 0-9 and _";

/// One player file. `stem` is the file name without `.toml`.
pub(crate) fn parse_player(cx: &mut Cx<'_>, doc: &Spanned<DeTable<'_>>, stem: &str) -> Option<Player> {
    let mut t = Table::new(doc, "");
    let name = t.required(cx, "name", &format!("add `name = \"{stem}\"`"), |cx, n, v| {
        let s = reader::string(cx, n, v)?;
        if !valid_username(&s.value) {
            cx.error(s.span, format!("`name` = \"{}\" is not a Minecraft username", s.value))
                .help(USERNAME_HELP);
            return None;
        }
        if s.value != stem {
            cx.error(
                s.span,
                format!("`name` = \"{}\" does not match the file name `{stem}.toml`", s.value),
            )
            .help(format!("rename the file to players/{}.toml, or set name = \"{stem}\"", s.value));
            return None;
        }
        Some(PlayerName::new(s.value))
    });
    let uuid = t.optional(cx, "uuid", |cx, n, v| {
        let s = reader::string(cx, n, v)?;
        if !valid_uuid(&s.value) {
            cx.error(s.span, format!("`{n}` = \"{}\" is not a UUID", s.value))
                .help("write it dashed, like \"8667ba71-b85a-4004-af54-457a9734eed7\", or leave it out and `mc-gitops check` fills it in");
            return None;
        }
        crate::ids::PlayerUuid::parse(&s.value)
    });
    let added_by = t.optional(cx, "added_by", |cx, n, v| {
        let s = reader::string(cx, n, v)?;
        if !valid_github_login(&s.value) {
            cx.error(s.span, format!("`{n}` = {:?} is not a GitHub login", s.value))
                .help(format!(
                    "write your GitHub handle: 1–{MAX_GITHUB_LOGIN_CHARS} of A-Z, a-z, 0-9 and -"
                ));
            return None;
        }
        Some(s.value)
    });
    t.finish(cx);
    Some(Player {
        name: name?,
        uuid,
        added_by,
    })
}

/// `ops.toml`. `players` are the whitelisted names, for the op-must-be-a-player rule.
pub(crate) fn parse_ops(cx: &mut Cx<'_>, doc: &Spanned<DeTable<'_>>, players: &BTreeMap<String, PlayerName>) -> Option<Vec<Op>> {
    let mut root = Table::new(doc, "");
    let mut ops = Vec::new();
    let mut ok = true;
    let mut seen = BTreeMap::new();
    if let Some(v) = root.get("op") {
        for (i, mut t) in reader::tables(cx, "op", v).into_iter().enumerate() {
            if i == MAX_PLAYERS {
                cx.error(
                    t.span(),
                    format!("ops.toml has more than {MAX_PLAYERS} `[[op]]` entries, the limit (MAX_PLAYERS)"),
                )
                .help("every op is a player, and players/ holds at most that many");
                ok = false;
                break;
            }
            let name = t.required(cx, "name", "add `name = \"Steve\"`, a player with a players/ file", |cx, n, v| {
                let s = reader::string(cx, n, v)?;
                match players.get(&s.value.to_ascii_lowercase()) {
                    Some(p) if p.as_str() == s.value => Some(p.clone()),
                    Some(p) => {
                        cx.error(s.span, format!("op \"{}\" is spelt \"{p}\" in players/{p}.toml", s.value))
                            .help(format!("write name = \"{p}\""));
                        None
                    }
                    None => {
                        cx.error(s.span, format!("op \"{}\" has no players/{}.toml", s.value, s.value))
                            .help("an operator must also be whitelisted: add their player file first");
                        None
                    }
                }
            });
            let level = t.required(cx, "level", "add `level = 1` to `4` (4 = every command)", |cx, n, v| {
                reader::integer_in(cx, n, v, 1, 4)
            });
            let bypass = t.optional(cx, "bypass_players_limit", reader::boolean);
            let span = t.span();
            t.finish(cx);
            match (name, level) {
                (Some(name), Some(level)) => {
                    if seen.insert(name.clone(), ()).is_some() {
                        cx.error(span, format!("op \"{name}\" is listed twice"))
                            .help("keep one [[op]] entry per player");
                        ok = false;
                        continue;
                    }
                    ops.push(Op {
                        name,
                        level: level as u8,
                        bypass_players_limit: bypass.unwrap_or(false),
                    });
                }
                _ => ok = false,
            }
        }
    }
    root.finish(cx);
    ok.then(|| {
        ops.sort_by_key(|o| o.name.as_str().to_ascii_lowercase());
        ops
    })
}
