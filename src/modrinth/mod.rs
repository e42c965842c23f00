//! Mods from Modrinth: the wire types of the Modrinth v2 and Fabric meta APIs,
//! and the one client both are read through.
//!
//! Resolution is split the way the planner is: [`resolve::resolve`] is a pure
//! function of the wishes and a [`Catalog`] of what has been fetched
//! so far, and answers either the locked mods or what it still needs to know.
//! [`resolve_with`] is the only loop that fetches those needs and asks again,
//! so every resolution rule is testable without HTTP.
//!
//! Both APIs are public and read-only, so the client is the crate's shared
//! [`Api`] (timeouts, retries, 429) with an empty token. Modrinth also says in
//! `X-Ratelimit-Remaining` / `X-Ratelimit-Reset` when the window is used up;
//! the client then holds the next request back until the window resets,
//! instead of running into a 429 (which `Api` also handles, by waiting
//! `X-Ratelimit-Reset` seconds).

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::Method;
use reqwest::header::HeaderMap;
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;
use tokio::time::Instant;
use tracing::info;

use crate::http::{Api, HttpError, Policy, RateLimit, Retry};
use crate::repo::LockedMod;

pub mod admin;
pub mod fetch;
pub mod lockfile;
pub mod mrpack;
pub mod resolve;
pub(crate) mod server_jar;

mod types;
use resolve::{Request, ResolveError, Step};
use types::FabricLoaderEntry;
pub use types::*;

pub const MODRINTH_BASE_ENV: &str = "MODRINTH_API_BASE_URL";
pub const FABRIC_META_BASE_ENV: &str = "FABRIC_META_BASE_URL";
pub const MODRINTH_DEFAULT_BASE: &str = "https://api.modrinth.com";
pub use crate::repo::mods::FABRIC_META_DEFAULT_BASE;
pub const MOJANG_META_BASE_ENV: &str = "MOJANG_META_BASE_URL";
pub const MOJANG_META_DEFAULT_BASE: &str = "https://piston-meta.mojang.com";

/// A whole vanilla server jar (about 50 MB) over a slow link.
const SERVER_JAR_TIMEOUT: Duration = Duration::from_secs(300);

/// Modrinth's rate-limit window is a minute; a larger reset is a broken header.
const MAX_RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);

/// Where the APIs live; tests point them at a fake.
///
/// They only change where `mods lock` reads from: mods.lock always records
/// the public URLs (Fabric meta's launcher URL, the Mojang URL the manifest
/// names), because the VPS downloads from those with no override.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoints {
    pub modrinth: String,
    pub fabric_meta: String,
    /// Mojang's version manifest; when overridden, every `*.mojang.com` URL
    /// it leads to (version JSON, server jar) is read from here too.
    pub mojang_meta: String,
}

impl Endpoints {
    /// `MODRINTH_API_BASE_URL`, `FABRIC_META_BASE_URL` and
    /// `MOJANG_META_BASE_URL`, or the public services.
    pub fn from_inputs(inputs: &crate::inputs::Inputs) -> Self {
        use crate::inputs::Var;
        let var = |v: Var, default: &str| inputs.var(v).filter(|v| !v.trim().is_empty()).unwrap_or(default.into());
        Endpoints {
            modrinth: var(Var::ModrinthApiBaseUrl, MODRINTH_DEFAULT_BASE),
            fabric_meta: var(Var::FabricMetaBaseUrl, FABRIC_META_DEFAULT_BASE),
            mojang_meta: var(Var::MojangMetaBaseUrl, MOJANG_META_DEFAULT_BASE),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ModrinthError {
    /// Boxed: `HttpError` is large, and this travels through every `?`.
    #[error(transparent)]
    Http(Box<HttpError>),
    #[error("GET {url}: answered {status}: {body}")]
    Status { url: String, status: u16, body: String },
    #[error("GET {url}: the answer is not what was expected")]
    Decode {
        url: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("Fabric meta lists no stable {0}")]
    NoStableFabric(String),
    #[error(
        "Fabric meta has no server launcher for Minecraft {minecraft} with loader {loader} and installer {installer} \
         (GET {url} answered {status}); run `mc-gitops mods update` to move to versions that exist"
    )]
    NoFabricServer {
        minecraft: String,
        loader: String,
        installer: String,
        url: String,
        status: u16,
    },
    #[error("a Fabric lock needs its loader and installer versions to name a server launcher")]
    NoFabricVersions,
    #[error("Mojang's version manifest has no Minecraft {version}; the newest release is {latest}")]
    NoMinecraftVersion { version: String, latest: String },
    #[error("Mojang publishes no server jar for Minecraft {0}")]
    NoVanillaServer(String),
    #[error(
        "the Minecraft {version} server jar does not match Mojang's manifest: {url} served {got_size} bytes with sha1 {got_sha1}, \
         the manifest says {want_size} bytes with sha1 {want_sha1}; refusing to lock it"
    )]
    VanillaMismatch {
        version: String,
        url: String,
        want_sha1: String,
        got_sha1: String,
        want_size: u64,
        got_size: u64,
    },
    #[error("{what} {url} is not a plain https URL with a file name; refusing to lock it")]
    BadServerUrl { what: String, url: String },
    #[error("cannot download the server jar to hash it")]
    Download(#[from] fetch::FetchError),
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    #[error("resolution asked for {0:?} again after it was fetched; this is a bug in mc-gitops")]
    NoProgress(Need),
}

impl From<HttpError> for ModrinthError {
    fn from(e: HttpError) -> Self {
        ModrinthError::Http(Box::new(e))
    }
}

/// The Modrinth, Fabric meta and Mojang meta client.
#[derive(Debug)]
pub struct Client {
    modrinth: Api,
    fabric_meta: Api,
    mojang_meta: Api,
    /// For jars, which are streamed and hashed rather than read as JSON.
    download: reqwest::Client,
    /// When Modrinth said its window is used up: no request before this.
    not_before: Mutex<Option<Instant>>,
}

impl Client {
    pub fn new(endpoints: &Endpoints) -> Result<Self, ModrinthError> {
        Self::with_policy(endpoints, Policy::default())
    }

    pub fn with_policy(endpoints: &Endpoints, policy: Policy) -> Result<Self, ModrinthError> {
        // Neither API takes a token: no Authorization header is sent.
        let modrinth = Api::anonymous(
            &endpoints.modrinth,
            RateLimit::RetryAfterSeconds("X-Ratelimit-Reset"),
            policy.clone(),
        )?;
        let fabric_meta = Api::anonymous(&endpoints.fabric_meta, RateLimit::RetryAfterSeconds("Retry-After"), policy.clone())?;
        let mojang_meta = Api::anonymous(&endpoints.mojang_meta, RateLimit::RetryAfterSeconds("Retry-After"), policy)?;
        let download = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(SERVER_JAR_TIMEOUT)
            .user_agent(concat!("mc-gitops/", env!("CARGO_PKG_VERSION")))
            .tls_built_in_native_certs(false)
            .build()
            .map_err(|_| HttpError::BaseUrl(endpoints.fabric_meta.clone()))?;
        Ok(Client {
            modrinth,
            fabric_meta,
            mojang_meta,
            download,
            not_before: Mutex::new(None),
        })
    }

    /// `GET /v2/project/{id|slug}`; `None` when Modrinth has no such project.
    pub async fn project(&self, id_or_slug: &str) -> Result<Option<Project>, ModrinthError> {
        self.get(Which::Modrinth, &format!("/v2/project/{}", segment(id_or_slug))).await
    }

    /// `GET /v2/project/{id}/version` for one loader and game version.
    pub async fn project_versions(
        &self,
        project_id: &str,
        loader: &str,
        game_version: &str,
    ) -> Result<Option<Vec<Version>>, ModrinthError> {
        let path = format!(
            "/v2/project/{}/version?loaders={}&game_versions={}",
            segment(project_id),
            json_array_query(loader),
            json_array_query(game_version)
        );
        self.get(Which::Modrinth, &path).await
    }

    /// `GET /v2/version/{id}`; `None` when it is gone.
    pub async fn version(&self, version_id: &str) -> Result<Option<Version>, ModrinthError> {
        self.get(Which::Modrinth, &format!("/v2/version/{}", segment(version_id))).await
    }

    /// The newest stable Fabric loader for a game version (the list is newest first).
    pub async fn fabric_loader(&self, game_version: &str) -> Result<String, ModrinthError> {
        let path = format!("/v2/versions/loader/{}", segment(game_version));
        let entries: Vec<FabricLoaderEntry> = self.get(Which::FabricMeta, &path).await?.unwrap_or_default();
        entries
            .into_iter()
            .map(|e| e.loader)
            .find(|l| l.stable)
            .map(|l| l.version)
            .ok_or_else(|| ModrinthError::NoStableFabric(format!("loader for Minecraft {game_version}")))
    }

    /// The newest stable Fabric installer (it doubles as the server launcher).
    pub async fn fabric_installer(&self) -> Result<String, ModrinthError> {
        let entries: Vec<FabricVersion> = self.get(Which::FabricMeta, "/v2/versions/installer").await?.unwrap_or_default();
        entries
            .into_iter()
            .find(|i| i.stable)
            .map(|i| i.version)
            .ok_or_else(|| ModrinthError::NoStableFabric("installer".into()))
    }

    /// The one place this module sends requests (through [`Api::send`]):
    /// waits out a used-up rate-limit window first, maps 404 to `None`.
    async fn get<T: DeserializeOwned>(&self, which: Which, path: &str) -> Result<Option<T>, ModrinthError> {
        let api = match which {
            Which::Modrinth => &self.modrinth,
            Which::FabricMeta => &self.fabric_meta,
            Which::MojangMeta => &self.mojang_meta,
        };
        // Only Modrinth sends rate-limit headers; the others are never held back by them.
        let mut window = match which {
            Which::Modrinth => Some(self.not_before.lock().await),
            Which::FabricMeta | Which::MojangMeta => None,
        };
        if let Some(at) = window.as_mut().and_then(|w| w.take())
            && at > Instant::now()
        {
            let wait_ms = (at - Instant::now()).as_millis() as u64;
            info!(path, wait_ms, "Modrinth's rate-limit window is used up; waiting for it to reset");
            tokio::time::sleep_until(at).await;
        }
        let resp = api.send(Method::GET, path, None, Retry::Transient).await?;
        if let Some(w) = window.as_mut() {
            **w = window_reset(&resp.headers).map(|wait| Instant::now() + wait);
        }
        drop(window);
        answer(api, path, resp)
    }
}

/// A JSON answer: `None` for 404, an error naming the URL for any other failure.
fn answer<T: DeserializeOwned>(api: &Api, path: &str, resp: crate::http::Response) -> Result<Option<T>, ModrinthError> {
    let url = format!("{}{path}", api.base());
    if resp.status == reqwest::StatusCode::NOT_FOUND {
        return Ok(None);
    }
    if !resp.status.is_success() {
        return Err(ModrinthError::Status {
            url,
            status: resp.status.as_u16(),
            body: resp.body.to_string(),
        });
    }
    serde_json::from_value(resp.body)
        .map(Some)
        .map_err(|source| ModrinthError::Decode { url, source })
}

#[derive(Clone, Copy)]
enum Which {
    Modrinth,
    FabricMeta,
    MojangMeta,
}

/// How long to hold back when `X-Ratelimit-Remaining` says nothing is left.
fn window_reset(headers: &HeaderMap) -> Option<Duration> {
    let get = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<u64>().ok();
    (get("x-ratelimit-remaining")? == 0).then(|| Duration::from_secs(get("x-ratelimit-reset").unwrap_or(1)).min(MAX_RATE_LIMIT_WAIT))
}

/// Modrinth filters take JSON arrays in the query: `loaders=["fabric"]`, URL-encoded.
fn json_array_query(item: &str) -> String {
    let json = serde_json::to_string(&[item]).expect("a string array serializes");
    url::form_urlencoded::byte_serialize(json.as_bytes()).collect()
}

/// One URL path segment, percent-encoded (slugs may hold `!@$()+,'`).
fn segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A file name that stays inside the directory it is written to: the
/// loader's rule for mods.lock (`repo::mods::valid_jar_file_name`), so a
/// name `mods lock` records is one `check` accepts.
pub fn is_safe_file_name(name: &str) -> bool {
    crate::repo::mods::valid_jar_file_name(name)
}

/// Something resolution has to know before it can answer.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Need {
    /// A project, by the slug or id it was named with.
    Project(String),
    /// A project's versions for the loader and game version, by project id.
    Versions(String),
    /// One version, by id.
    Version(String),
}

/// What has been fetched, including what Modrinth said does not exist (`None`).
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    /// By every name it is known under: the key asked for, its id and its slug.
    pub(super) projects: BTreeMap<String, Option<Project>>,
    /// By project id.
    pub(super) versions_of: BTreeMap<String, Vec<Version>>,
    /// By version id.
    pub(super) versions: BTreeMap<String, Option<Version>>,
}

impl Catalog {
    pub fn add_project(&mut self, key: &str, project: Option<Project>) {
        if let Some(p) = &project {
            self.projects.insert(p.id.clone(), project.clone());
            self.projects.insert(p.slug.clone(), project.clone());
        }
        self.projects.insert(key.to_string(), project);
    }

    pub fn add_versions(&mut self, project_id: &str, versions: Vec<Version>) {
        for v in &versions {
            self.versions.insert(v.id.clone(), Some(v.clone()));
        }
        self.versions_of.insert(project_id.to_string(), versions);
    }

    pub fn add_version(&mut self, id: &str, version: Option<Version>) {
        self.versions.insert(id.to_string(), version);
    }

    pub fn has(&self, need: &Need) -> bool {
        match need {
            Need::Project(key) => self.projects.contains_key(key),
            Need::Versions(id) => self.versions_of.contains_key(id),
            Need::Version(id) => self.versions.contains_key(id),
        }
    }
}

/// Resolve `req` against Modrinth: ask the pure resolver, fetch what it
/// still needs, and ask again until it has an answer.
pub async fn resolve_with(client: &Client, req: &Request<'_>) -> Result<Vec<LockedMod>, ModrinthError> {
    let mut catalog = Catalog::default();
    loop {
        let needs = match resolve::resolve(req, &catalog)? {
            Step::Done(mods) => return Ok(mods),
            Step::Need(needs) => needs,
        };
        if let Some(stuck) = needs.iter().find(|n| catalog.has(n)) {
            return Err(ModrinthError::NoProgress(stuck.clone()));
        }
        for need in needs {
            // An earlier fetch in this batch may have answered it (a slug and its id).
            if catalog.has(&need) {
                continue;
            }
            match &need {
                Need::Project(key) => catalog.add_project(key, client.project(key).await?),
                Need::Versions(id) => {
                    let versions = client.project_versions(id, req.loader, req.minecraft).await?;
                    catalog.add_versions(id, versions.unwrap_or_default());
                }
                Need::Version(id) => catalog.add_version(id, client.version(id).await?),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_url_encoded_json_arrays() {
        assert_eq!(json_array_query("fabric"), "%5B%22fabric%22%5D");
        assert_eq!(json_array_query("1.20.1"), "%5B%221.20.1%22%5D");
    }

    #[test]
    fn path_segments_are_escaped() {
        assert_eq!(segment("fabric-api"), "fabric-api");
        assert_eq!(segment("a+b/c"), "a%2Bb%2Fc");
    }

    #[test]
    fn only_plain_file_names_are_safe() {
        assert!(is_safe_file_name("fabric-api-0.92.2+1.20.1.jar"));
        for bad in ["", "../x.jar", "a/b.jar", "a\\b.jar", "C:x.jar", ".hidden", "/abs.jar"] {
            assert!(!is_safe_file_name(bad), "{bad}");
        }
    }
}
