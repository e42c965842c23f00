//! `mods.toml` (what the admin wants) and `mods.lock` (what was resolved).
//!
//! The loader checks that the lock still answers the wishes, naming the first
//! difference, because a stale lock means the server would run mods nobody
//! asked for, or miss one they did; and that its `[server]` jar is the one
//! its game and loader versions call for, because that jar is what the VPS
//! runs (every repo has a lock for it, even without mods).

use std::collections::BTreeMap;

use toml::Spanned;
use toml::de::DeTable;

use super::limits::{MAX_FILE_NAME_CHARS, MAX_LOCK_STRING_CHARS, MAX_MODS, MAX_URL_CHARS};
use super::model::{CachedFile, Loader, LockedMod, Minecraft, Mods, ModsLock, ServerJar, Side, WantedMod};
use super::reader::{self, Cx, Table};

const SIDES: &[&str] = &["server", "client", "both"];

fn side(s: &str) -> Side {
    match s {
        "server" => Side::Server,
        "client" => Side::Client,
        _ => Side::Both,
    }
}

/// A jar's file name as mods.lock records it, and as the VPS writes it
/// into `mods/`: a plain name of `[A-Za-z0-9._+-]` ending in `.jar`, not
/// hidden, so it can never name a path (`../../../etc/cron.d/evil`).
pub(crate) fn valid_jar_file_name(s: &str) -> bool {
    (5..=MAX_FILE_NAME_CHARS).contains(&s.len())
        && s.ends_with(".jar")
        && !s.starts_with('.')
        && s.bytes().all(|c| c.is_ascii_alphanumeric() || b"._+-".contains(&c))
}

const JAR_NAME_HELP: &str = "a file name is 5–128 (MAX_FILE_NAME_CHARS) of A-Z, a-z, 0-9, `.`, `_`, `+` and `-`, ending in .jar, without path separators; run `mc-gitops mods lock` to regenerate mods.lock";

fn jar_file_name(cx: &mut Cx<'_>, n: &str, v: &Spanned<toml::de::DeValue<'_>>) -> Option<String> {
    let s = reader::string(cx, n, v)?;
    if valid_jar_file_name(&s.value) {
        return Some(s.value);
    }
    cx.error(s.span, format!("`{n}` = {:?} is not a plain file name ending in .jar", s.value))
        .help(JAR_NAME_HELP);
    None
}

/// Any other string the lock records, bounded.
fn lock_string(cx: &mut Cx<'_>, n: &str, v: &Spanned<toml::de::DeValue<'_>>) -> Option<String> {
    reader::bounded_string(cx, n, v, MAX_LOCK_STRING_CHARS, "MAX_LOCK_STRING_CHARS").map(|s| s.value)
}

/// Modrinth's slug rule.
pub(crate) fn valid_slug(s: &str) -> bool {
    (3..=64).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric() || "!@$()`.+,\"-'_".contains(c))
}

pub(crate) fn parse_mods(cx: &mut Cx<'_>, doc: &Spanned<DeTable<'_>>) -> Option<Mods> {
    let mut root = Table::new(doc, "");
    let allow_beta = root.optional(cx, "allow_beta", reader::boolean).unwrap_or(false);
    let mut wanted = BTreeMap::new();
    let mut ok = true;
    if let Some(mut mods) = root.table(cx, "mods") {
        for (i, (slug, v)) in mods.entries().enumerate() {
            if i == MAX_MODS {
                cx.error(
                    slug.span.clone(),
                    format!("mods.toml asks for more than {MAX_MODS} mods, the limit (MAX_MODS)"),
                )
                .help("a server runs at most that many mods; remove some");
                ok = false;
                break;
            }
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
            let version = t.optional(cx, "version", lock_string);
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

const REGEN: &str = "run `mc-gitops mods lock` to regenerate mods.lock";

fn https_url(cx: &mut Cx<'_>, n: &str, v: &Spanned<toml::de::DeValue<'_>>) -> Option<String> {
    let s = reader::bounded_string(cx, n, v, MAX_URL_CHARS, "MAX_URL_CHARS")?;
    if s.value.starts_with("https://") {
        return Some(s.value);
    }
    cx.error(s.span, format!("`{n}` must be an https:// URL")).help(REGEN);
    None
}

fn size(cx: &mut Cx<'_>, n: &str, v: &Spanned<toml::de::DeValue<'_>>) -> Option<u64> {
    reader::integer_in(cx, n, v, 1, i64::MAX).map(|s| s as u64)
}

pub(crate) fn parse_lock(cx: &mut Cx<'_>, doc: &Spanned<DeTable<'_>>) -> Option<ModsLock> {
    let mut root = Table::new(doc, "");
    let version = root.required(cx, "version", REGEN, |cx, n, v| reader::integer_in(cx, n, v, 1, 1));
    let minecraft = root.required(cx, "minecraft", REGEN, reader::string).map(|s| s.value);
    let loader = root
        .required(cx, "loader", REGEN, |cx, n, v| reader::choice(cx, n, v, &["fabric", "vanilla"]))
        .map(|l| if l.value == "fabric" { Loader::Fabric } else { Loader::Vanilla });
    let loader_version = root.optional(cx, "loader_version", reader::string);
    let installer_version = root.optional(cx, "installer_version", reader::string);
    let fabric_ok = match loader {
        Some(Loader::Fabric) => fabric_versions_present(
            cx,
            &root,
            [("loader_version", &loader_version), ("installer_version", &installer_version)],
        ),
        Some(Loader::Vanilla) => {
            vanilla_has_no_fabric_versions(cx, [("loader_version", &loader_version), ("installer_version", &installer_version)])
        }
        None => true,
    };
    // Without `[server]` it is an older lock: it still reads (so `mods lock`
    // keeps its versions), and `staleness` reports it.
    let (server, mut ok) = match root.table(cx, "server") {
        Some(t) => parse_server_jar(cx, t).map_or((None, false), |j| (Some(j), true)),
        None => (None, true),
    };
    let mut mods = Vec::new();
    if let Some(v) = root.get("mod") {
        for (i, t) in reader::tables(cx, "mod", v).into_iter().enumerate() {
            if i == MAX_MODS {
                cx.error(
                    t.span(),
                    format!("mods.lock has more than {MAX_MODS} `[[mod]]` entries, the limit (MAX_MODS)"),
                )
                .help("a server runs at most that many mods; remove some from mods.toml and run `mc-gitops mods lock`");
                ok = false;
                break;
            }
            match parse_locked_mod(cx, t) {
                Some(m) => mods.push(m),
                None => ok = false,
            }
        }
    }
    // Without `[[cache]]` (an older lock, or a vanilla one): no cache, the
    // server downloads what it needs on its first boot as before.
    let mut cache = Vec::new();
    if let Some(v) = root.get("cache") {
        for (i, t) in reader::tables(cx, "cache", v).into_iter().enumerate() {
            if i == MAX_CACHED_FILES {
                cx.error(
                    t.span(),
                    format!("mods.lock has more than {MAX_CACHED_FILES} `[[cache]]` entries, the limit (MAX_CACHED_FILES)"),
                )
                .help(REGEN);
                ok = false;
                break;
            }
            match parse_cached_file(cx, t) {
                Some(c) if cache.iter().any(|o: &CachedFile| o.path == c.path) => {
                    cx.error(v.span(), format!("`[[cache]]` lists `{}` twice", c.path)).help(REGEN);
                    ok = false;
                }
                Some(c) => cache.push(c),
                None => ok = false,
            }
        }
    }
    root.finish(cx);
    version?;
    if !ok || !fabric_ok {
        return None;
    }
    Some(ModsLock {
        minecraft: minecraft?,
        loader: loader?,
        loader_version: loader_version.map(|s| s.value),
        installer_version: installer_version.map(|s| s.value),
        server,
        mods,
        cache,
    })
}

/// At most this many `[[cache]]` files (a Fabric server's first boot
/// downloads about ten).
/// Fabric's metadata service, where the lock's server jar comes from by default.
pub const FABRIC_META_DEFAULT_BASE: &str = "https://meta.fabricmc.net";

pub(crate) const MAX_CACHED_FILES: usize = 64;

/// Where a first Fabric boot puts what it downloads: the vanilla jar under
/// `.fabric/server/`, the libraries under `libraries/` (fabric-installer's
/// `ServerLauncher` and `ServerInstaller`). A cached file goes nowhere else.
pub(crate) const CACHE_DIRS: [&str; 2] = [".fabric/server/", "libraries/"];

/// A `[[cache]]` path: below one of [`CACHE_DIRS`], relative, made of plain
/// segments (no `..`, `.`, empty or hidden one but the leading `.fabric`) of
/// `[A-Za-z0-9._+-]`, ending in `.jar`. So it stays inside the server
/// directory whatever wrote the lock.
pub(crate) fn valid_cache_path(p: &str) -> bool {
    let Some(rest) = CACHE_DIRS.iter().find_map(|d| p.strip_prefix(d)) else {
        return false;
    };
    p.len() <= MAX_URL_CHARS
        && p.ends_with(".jar")
        && rest
            .split('/')
            .all(|seg| !seg.is_empty() && !seg.starts_with('.') && seg.bytes().all(|c| c.is_ascii_alphanumeric() || b"._+-".contains(&c)))
}

fn cache_path(cx: &mut Cx<'_>, n: &str, v: &Spanned<toml::de::DeValue<'_>>) -> Option<String> {
    let s = reader::string(cx, n, v)?;
    if valid_cache_path(&s.value) {
        return Some(s.value);
    }
    cx.error(
        s.span,
        format!("`{n}` = {:?} is not a jar below `.fabric/server/` or `libraries/`", s.value),
    )
    .help("a cached file's path is relative to the server directory, of plain segments of A-Z, a-z, 0-9, `.`, `_`, `+` and `-` (no `..`), ending in .jar; run `mc-gitops mods lock` to regenerate mods.lock");
    None
}

fn parse_cached_file(cx: &mut Cx<'_>, mut t: Table<'_, '_>) -> Option<CachedFile> {
    let path = t.required(cx, "path", REGEN, cache_path);
    let url = t.required(cx, "url", REGEN, https_url);
    let size = t.required(cx, "size", REGEN, size);
    let sha256 = t.required(cx, "sha256", REGEN, hex_of_len(64));
    let sha1 = t.optional(cx, "sha1", hex_of_len(40));
    t.finish(cx);
    Some(CachedFile {
        path: path?,
        url: url?,
        size: size?,
        sha256: sha256?,
        sha1,
    })
}

fn fabric_versions_present(cx: &mut Cx<'_>, root: &Table<'_, '_>, keys: [(&str, &Option<reader::At<String>>); 2]) -> bool {
    let mut ok = true;
    for (key, value) in keys {
        if value.is_none() {
            cx.error(root.span(), format!("`{key}` is required when `loader = \"fabric\"`"))
                .help(REGEN);
            ok = false;
        }
    }
    ok
}

fn vanilla_has_no_fabric_versions(cx: &mut Cx<'_>, keys: [(&str, &Option<reader::At<String>>); 2]) -> bool {
    let mut ok = true;
    for (key, value) in keys {
        if let Some(v) = value {
            cx.error(
                v.span.clone(),
                format!("`{key}` belongs to a Fabric lock, but `loader = \"vanilla\"`"),
            )
            .help(REGEN);
            ok = false;
        }
    }
    ok
}

fn parse_server_jar(cx: &mut Cx<'_>, mut t: Table<'_, '_>) -> Option<ServerJar> {
    let file = t.required(cx, "file", REGEN, jar_file_name);
    let url = t.required(cx, "url", REGEN, https_url);
    let size = t.required(cx, "size", REGEN, size);
    let sha1 = t.required(cx, "sha1", REGEN, hex_of_len(40));
    let sha512 = t.required(cx, "sha512", REGEN, hex_of_len(128));
    t.finish(cx);
    Some(ServerJar {
        file: file?,
        url: url?,
        size: size?,
        sha1: sha1?,
        sha512: sha512?,
    })
}

fn parse_locked_mod(cx: &mut Cx<'_>, mut t: Table<'_, '_>) -> Option<LockedMod> {
    let s = |cx: &mut Cx<'_>, t: &mut Table<'_, '_>, key| t.required(cx, key, REGEN, lock_string);
    let slug = s(cx, &mut t, "slug");
    let project_id = s(cx, &mut t, "project_id");
    let version_id = s(cx, &mut t, "version_id");
    let version_number = s(cx, &mut t, "version_number");
    let side_ = t
        .required(cx, "side", REGEN, |cx, n, v| reader::choice(cx, n, v, SIDES))
        .map(|s| side(&s.value));
    let requested = t.required(cx, "requested", REGEN, reader::boolean);
    let file = t.required(cx, "file", REGEN, jar_file_name);
    let url = t.required(cx, "url", REGEN, https_url);
    let size = t.required(cx, "size", REGEN, size);
    let sha1 = t.required(cx, "sha1", REGEN, hex_of_len(40));
    let sha512 = t.required(cx, "sha512", REGEN, hex_of_len(128));
    let dependencies = t.optional(cx, "dependencies", |cx, n, v| reader::array(cx, n, v, lock_string));
    t.finish(cx);
    Some(LockedMod {
        slug: slug?,
        project_id: project_id?,
        version_id: version_id?,
        version_number: version_number?,
        side: side_?,
        requested: requested?,
        file: file?,
        url: url?,
        size: size?,
        sha1: sha1?,
        sha512: sha512?,
        dependencies: dependencies.unwrap_or_default(),
    })
}

/// Where Fabric meta serves the server launcher for these versions, below its base URL.
pub(crate) fn fabric_server_path(minecraft: &str, loader: &str, installer: &str) -> String {
    let seg = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "/v2/versions/loader/{}/{}/{}/server/jar",
        seg(minecraft),
        seg(loader),
        seg(installer)
    )
}

/// What a lock's `[server]` must be for its own `minecraft`, `loader` and
/// Fabric versions: the file name (Fabric's and Mojang's own naming) and,
/// for Fabric, the public URL. Vanilla's URL comes from Mojang's manifest,
/// so only its name can be derived.
pub(crate) fn expected_server_jar(lock: &ModsLock) -> (String, Option<String>) {
    let mc = &lock.minecraft;
    match (lock.loader, &lock.loader_version, &lock.installer_version) {
        (Loader::Fabric, Some(l), Some(i)) => (
            format!("fabric-server-mc.{mc}-loader.{l}-launcher.{i}.jar"),
            Some(format!("{}{}", FABRIC_META_DEFAULT_BASE, fabric_server_path(mc, l, i))),
        ),
        // The parser refuses a Fabric lock without both versions.
        (Loader::Fabric, _, _) => (format!("fabric-server-mc.{mc}.jar"), None),
        (Loader::Vanilla, _, _) => (format!("minecraft_server.{mc}.jar"), None),
    }
}

/// Why the lock's `[server]` does not fit the rest of the lock, if it does not.
fn server_jar_staleness(lock: &ModsLock) -> Option<String> {
    let Some(jar) = &lock.server else {
        return Some(
            "mods.lock pins no server jar (it has no [server] table: it was written before mc-gitops locked the server jar)".into(),
        );
    };
    let (file, url) = expected_server_jar(lock);
    if jar.file != file {
        return Some(format!(
            "mods.lock's [server] is `{}`, but its minecraft and loader versions call for `{file}`",
            jar.file
        ));
    }
    if let Some(url) = url
        && jar.url != url
    {
        return Some(format!(
            "mods.lock's [server] url is {}, but Fabric meta serves `{file}` at {url}",
            jar.url
        ));
    }
    None
}

/// Why the lock no longer answers `mods.toml`, if it does not.
pub(crate) fn staleness(mods: &Mods, lock: &ModsLock, mc: &Minecraft) -> Option<String> {
    if lock.minecraft != mc.version {
        return Some(format!(
            "mods.lock was resolved for Minecraft {}, server.toml asks for {}",
            lock.minecraft, mc.version
        ));
    }
    if lock.loader != mc.loader {
        return Some(format!("mods.lock was resolved for another loader than server.toml's `{:?}`", mc.loader).to_lowercase());
    }
    if let Some(why) = server_jar_staleness(lock) {
        return Some(why);
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
