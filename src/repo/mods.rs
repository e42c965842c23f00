//! `mods.toml` (what the admin wants) and `mods.lock` (what was resolved).
//!
//! The loader checks that the lock still answers the wishes, naming the first
//! difference, because a stale lock means the server would run mods nobody
//! asked for, or miss one they did.

use std::collections::BTreeMap;

use toml::Spanned;
use toml::de::DeTable;

use super::model::{Loader, LockedMod, Minecraft, Mods, ModsLock, Side, WantedMod};
use super::reader::{self, Cx, Table};

const SIDES: &[&str] = &["server", "client", "both"];

fn side(s: &str) -> Side {
    match s {
        "server" => Side::Server,
        "client" => Side::Client,
        _ => Side::Both,
    }
}

/// Modrinth's slug rule.
pub fn valid_slug(s: &str) -> bool {
    (3..=64).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric() || "!@$()`.+,\"-'_".contains(c))
}

pub fn parse_mods(cx: &mut Cx<'_>, doc: &Spanned<DeTable<'_>>) -> Option<Mods> {
    let mut root = Table::new(doc, "");
    let allow_beta = root.optional(cx, "allow_beta", reader::boolean).unwrap_or(false);
    let mut wanted = BTreeMap::new();
    let mut ok = true;
    if let Some(mut mods) = root.table(cx, "mods") {
        for (slug, v) in mods.entries() {
            let name = format!("mods.{}", slug.value);
            if !valid_slug(slug.value) {
                cx.error(slug.span.clone(), format!("`{}` is not a Modrinth slug or id", slug.value))
                    .help("use the slug from the mod's Modrinth URL, like `fabric-api`");
                ok = false;
                continue;
            }
            let Some(mut t) = reader::as_table(cx, &name, v) else {
                ok = false;
                continue;
            };
            let version = t.optional(cx, "version", reader::string).map(|s| s.value);
            let side = t
                .optional(cx, "side", |cx, n, v| reader::choice(cx, n, v, SIDES))
                .map(|s| side(&s.value));
            t.finish(cx);
            wanted.insert(slug.value.to_string(), WantedMod { version, side });
        }
        mods.finish(cx);
    }
    root.finish(cx);
    ok.then_some(Mods { allow_beta, wanted })
}

fn hex_of_len(len: usize) -> impl Fn(&mut Cx<'_>, &str, &Spanned<toml::de::DeValue<'_>>) -> Option<String> {
    move |cx, n, v| {
        let s = reader::string(cx, n, v)?;
        if s.value.len() == len && s.value.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)) {
            return Some(s.value);
        }
        cx.error(s.span, format!("`{n}` must be {len} lowercase hex digits"))
            .help("run `mc-gitops mods lock` to regenerate mods.lock");
        None
    }
}

pub fn parse_lock(cx: &mut Cx<'_>, doc: &Spanned<DeTable<'_>>) -> Option<ModsLock> {
    const REGEN: &str = "run `mc-gitops mods lock` to regenerate mods.lock";
    let mut root = Table::new(doc, "");
    let version = root.required(cx, "version", REGEN, |cx, n, v| reader::integer_in(cx, n, v, 1, 1));
    let minecraft = root.required(cx, "minecraft", REGEN, reader::string).map(|s| s.value);
    let loader = root.required(cx, "loader", REGEN, |cx, n, v| reader::choice(cx, n, v, &["fabric", "vanilla"]));
    let loader_version = root.required(cx, "loader_version", REGEN, reader::string).map(|s| s.value);
    let installer_version = root.required(cx, "installer_version", REGEN, reader::string).map(|s| s.value);
    let mut mods = Vec::new();
    let mut ok = true;
    if let Some(v) = root.get("mod") {
        for mut t in reader::tables(cx, "mod", v) {
            let s = |cx: &mut Cx<'_>, t: &mut Table<'_, '_>, key| t.required(cx, key, REGEN, reader::string).map(|s| s.value);
            let slug = s(cx, &mut t, "slug");
            let project_id = s(cx, &mut t, "project_id");
            let version_id = s(cx, &mut t, "version_id");
            let version_number = s(cx, &mut t, "version_number");
            let side_ = t
                .required(cx, "side", REGEN, |cx, n, v| reader::choice(cx, n, v, SIDES))
                .map(|s| side(&s.value));
            let requested = t.required(cx, "requested", REGEN, reader::boolean);
            let file = s(cx, &mut t, "file");
            let url = t.required(cx, "url", REGEN, |cx, n, v| {
                let s = reader::string(cx, n, v)?;
                if s.value.starts_with("https://") {
                    return Some(s.value);
                }
                cx.error(s.span, format!("`{n}` must be an https:// URL")).help(REGEN);
                None
            });
            let size = t.required(cx, "size", REGEN, |cx, n, v| reader::integer_in(cx, n, v, 1, i64::MAX));
            let sha1 = t.required(cx, "sha1", REGEN, hex_of_len(40));
            let sha512 = t.required(cx, "sha512", REGEN, hex_of_len(128));
            let dependencies = t.optional(cx, "dependencies", |cx, n, v| {
                reader::array(cx, n, v, |cx, n, v| reader::string(cx, n, v).map(|s| s.value))
            });
            t.finish(cx);
            let m = (|| {
                Some(LockedMod {
                    slug: slug?,
                    project_id: project_id?,
                    version_id: version_id?,
                    version_number: version_number?,
                    side: side_?,
                    requested: requested?,
                    file: file?,
                    url: url?,
                    size: size? as u64,
                    sha1: sha1?,
                    sha512: sha512?,
                    dependencies: dependencies.unwrap_or_default(),
                })
            })();
            match m {
                Some(m) => mods.push(m),
                None => ok = false,
            }
        }
    }
    root.finish(cx);
    version?;
    if !ok {
        return None;
    }
    Some(ModsLock {
        minecraft: minecraft?,
        loader: if loader?.value == "fabric" {
            Loader::Fabric
        } else {
            Loader::Vanilla
        },
        loader_version: loader_version?,
        installer_version: installer_version?,
        mods,
    })
}

/// Why the lock no longer answers `mods.toml`, if it does not.
pub fn staleness(mods: &Mods, lock: &ModsLock, mc: &Minecraft) -> Option<String> {
    if lock.minecraft != mc.version {
        return Some(format!(
            "mods.lock was resolved for Minecraft {}, server.toml asks for {}",
            lock.minecraft, mc.version
        ));
    }
    if lock.loader != mc.loader {
        return Some(format!("mods.lock was resolved for another loader than server.toml's `{:?}`", mc.loader).to_lowercase());
    }
    let requested: BTreeMap<&str, &LockedMod> = lock.mods.iter().filter(|m| m.requested).map(|m| (m.slug.as_str(), m)).collect();
    for (slug, want) in &mods.wanted {
        let Some(got) = requested.get(slug.as_str()) else {
            return Some(format!("mods.toml asks for `{slug}` but mods.lock has no entry for it"));
        };
        if let Some(v) = &want.version
            && *v != got.version_number
        {
            return Some(format!("mods.toml pins `{slug}` to {v} but mods.lock has {}", got.version_number));
        }
        if let Some(side) = want.side
            && side != got.side
        {
            return Some(format!("mods.toml sets `{slug}` side = {side:?} but mods.lock has {:?}", got.side).to_lowercase());
        }
    }
    if let Some(extra) = requested.keys().find(|s| !mods.wanted.contains_key(**s)) {
        return Some(format!("mods.lock has `{extra}`, which mods.toml no longer asks for"));
    }
    None
}
