//! An in-process fake of Modrinth's v2 API, its CDN and Fabric meta, for the
//! mods tests: one axum server on 127.0.0.1:0 serving
//! - `GET /v2/project/{id|slug}` and `GET /v2/version/{id}` (404 with
//!   Modrinth's `{"error": "not_found", …}` body when unknown),
//! - `GET /v2/project/{id|slug}/version?loaders=[…]&game_versions=[…]`
//!   (400 unless both filters are JSON arrays, as Modrinth requires),
//! - `GET /data/{project}/versions/{version}/{file}`: the bytes whose sha1 and
//!   sha512 the version JSON lists; the JSON itself names the real CDN host, so
//!   locks made against the fake are valid locks ([`FakeModrinth::local_url`]
//!   maps such a URL back to the fake),
//! - `GET /v2/versions/loader/{game}` and `GET /v2/versions/installer`,
//!   newest first with an unstable newest entry, like Fabric meta,
//! - `GET /v2/versions/loader/{game}/{loader}/{installer}/server/jar`: the
//!   server launcher, deterministic bytes ([`fabric_server_bytes`]) for the
//!   versions the lists above name, 404 for any other,
//! - Mojang's `GET /mc/game/version_manifest_v2.json`, the version JSON it
//!   names and the server jar that names (`/v1/packages/…`, `/v1/objects/…`),
//!   for [`VANILLA_VERSIONS`]; the JSON names Mojang's real hosts, as the
//!   CDN URLs above do, and [`FakeModrinth::tamper_vanilla_jar`] makes the
//!   jar's bytes differ from the sha1 the version JSON gives,
//!
//! with `X-Ratelimit-*` headers on every API answer, injectable 429s and
//! used-up windows, and a log of every call.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use mc_gitops::modrinth::Endpoints;
use serde_json::{Value, json};
use sha1::Sha1;
use sha2::{Digest, Sha512};

pub(crate) const CDN: &str = "https://cdn.modrinth.com";
pub(crate) const STABLE_LOADER: &str = "0.16.10";
pub(crate) const STABLE_INSTALLER: &str = "1.0.1";
const LOADERS: &[&str] = &["0.17.0-beta.1", STABLE_LOADER, "0.16.9"];
const INSTALLERS: &[&str] = &["1.1.0-beta", STABLE_INSTALLER, "1.0.0"];
pub(crate) const VANILLA_VERSIONS: &[&str] = &["1.20.1", "1.20.2"];

/// The server launcher the fake serves for these versions.
pub(crate) fn fabric_server_bytes(game: &str, loader: &str, installer: &str) -> Vec<u8> {
    format!("PK fabric server launcher for mc {game}, loader {loader}, installer {installer}").into_bytes()
}

/// Mojang's server jar for a version, as the fake serves it untampered.
pub(crate) fn vanilla_server_bytes(version: &str) -> Vec<u8> {
    format!("PK minecraft server {version}").into_bytes()
}

fn sha1_hex(bytes: &[u8]) -> String {
    hex::encode(Sha1::digest(bytes))
}

#[derive(Clone, Debug)]
pub(crate) struct FakeProject {
    pub id: String,
    pub slug: String,
    pub client_side: &'static str,
    pub server_side: &'static str,
    pub versions: Vec<FakeVersion>,
}

/// A project that runs on both sides.
pub(crate) fn project(slug: &str, id: &str) -> FakeProject {
    FakeProject {
        id: id.into(),
        slug: slug.into(),
        client_side: "required",
        server_side: "required",
        versions: Vec::new(),
    }
}

impl FakeProject {
    pub(crate) fn client_only(mut self) -> Self {
        self.server_side = "unsupported";
        self
    }

    pub(crate) fn version(mut self, v: FakeVersion) -> Self {
        self.versions.push(v);
        self
    }
}

#[derive(Clone, Debug)]
pub(crate) struct FakeVersion {
    pub id: String,
    pub number: String,
    pub version_type: &'static str,
    /// Day of January 2024 it was published: later is newer.
    pub day: u32,
    pub game_versions: Vec<String>,
    pub dependencies: Vec<Value>,
    pub file: String,
    pub bytes: Vec<u8>,
}

/// A fabric 1.20.1 release published on `day`.
pub(crate) fn version(id: &str, number: &str, day: u32) -> FakeVersion {
    FakeVersion {
        id: id.into(),
        number: number.into(),
        version_type: "release",
        day,
        game_versions: vec!["1.20.1".into()],
        dependencies: Vec::new(),
        file: format!("{}-{number}.jar", id.to_lowercase()),
        bytes: format!("the jar of {id} {number}").into_bytes(),
    }
}

impl FakeVersion {
    pub(crate) fn beta(mut self) -> Self {
        self.version_type = "beta";
        self
    }

    pub(crate) fn for_game(mut self, game: &str) -> Self {
        self.game_versions = vec![game.into()];
        self
    }

    fn dep(mut self, kind: &str, project_id: Option<&str>, version_id: Option<&str>) -> Self {
        self.dependencies.push(json!({
            "version_id": version_id, "project_id": project_id, "file_name": null, "dependency_type": kind,
        }));
        self
    }

    pub(crate) fn requires(self, project_id: &str) -> Self {
        self.dep("required", Some(project_id), None)
    }

    pub(crate) fn requires_version(self, project_id: &str, version_id: &str) -> Self {
        self.dep("required", Some(project_id), Some(version_id))
    }

    pub(crate) fn optional(self, project_id: &str) -> Self {
        self.dep("optional", Some(project_id), None)
    }

    pub(crate) fn incompatible(self, project_id: &str) -> Self {
        self.dep("incompatible", Some(project_id), None)
    }

    pub(crate) fn sha1(&self) -> String {
        hex::encode(Sha1::digest(&self.bytes))
    }

    pub(crate) fn sha512(&self) -> String {
        hex::encode(Sha512::digest(&self.bytes))
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Call {
    pub method: String,
    /// Path and query, as sent.
    pub uri: String,
    pub user_agent: Option<String>,
    pub authorization: Option<String>,
    pub at: Instant,
}

#[derive(Default)]
struct Fake {
    projects: Vec<FakeProject>,
    calls: Vec<Call>,
    api_calls: usize,
    /// The API call (1-based) whose answer says the window is used up, and its reset.
    exhausted_at: Option<(usize, u64)>,
    /// The next n API calls answer 429 with this reset.
    fail_429: Option<(usize, u64)>,
    /// Serve other bytes than Mojang's version JSON describes.
    vanilla_tampered: bool,
    /// The next n Fabric server launcher downloads answer 503.
    fail_launcher: usize,
}

pub(crate) struct FakeModrinth {
    pub base: String,
    state: Arc<Mutex<Fake>>,
}

impl FakeModrinth {
    pub(crate) async fn start(projects: Vec<FakeProject>) -> Self {
        let state = Arc::new(Mutex::new(Fake {
            projects,
            ..Fake::default()
        }));
        let app = Router::new().fallback(handle).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the fake");
        let base = format!("http://{}", listener.local_addr().expect("a local address"));
        tokio::spawn(async move { axum::serve(listener, app).await.expect("the fake serves") });
        FakeModrinth { base, state }
    }

    /// Both APIs point here.
    pub(crate) fn endpoints(&self) -> Endpoints {
        Endpoints {
            modrinth: self.base.clone(),
            fabric_meta: self.base.clone(),
            mojang_meta: self.base.clone(),
        }
    }

    pub(crate) fn calls(&self) -> Vec<Call> {
        self.state.lock().unwrap().calls.clone()
    }

    pub(crate) fn clear_calls(&self) {
        self.state.lock().unwrap().calls.clear();
    }

    /// A new version of an existing project (by slug).
    pub(crate) fn publish(&self, slug: &str, v: FakeVersion) {
        let mut st = self.state.lock().unwrap();
        st.projects
            .iter_mut()
            .find(|p| p.slug == slug)
            .expect("a known slug")
            .versions
            .push(v);
    }

    /// From now, the `nth` API call's answer says nothing is left for `reset` seconds.
    pub(crate) fn exhaust_window_at(&self, nth: usize, reset: u64) {
        let mut st = self.state.lock().unwrap();
        st.exhausted_at = Some((st.api_calls + nth, reset));
    }

    /// The next `n` API calls answer 429 with `X-Ratelimit-Reset: reset`.
    pub(crate) fn fail_with_429(&self, n: usize, reset: u64) {
        self.state.lock().unwrap().fail_429 = Some((n, reset));
    }

    /// From now, the vanilla server jar's bytes differ from the sha1 Mojang's version JSON gives.
    pub(crate) fn tamper_vanilla_jar(&self) {
        self.state.lock().unwrap().vanilla_tampered = true;
    }

    /// The next `n` Fabric server launcher downloads answer 503.
    pub(crate) fn fail_launcher_with_503(&self, n: usize) {
        self.state.lock().unwrap().fail_launcher = n;
    }

    /// The fake's address for a CDN URL found in a version or a lock.
    pub(crate) fn local_url(&self, cdn_url: &str) -> String {
        cdn_url.replacen(CDN, &self.base, 1)
    }

    pub(crate) fn version(&self, id: &str) -> FakeVersion {
        let st = self.state.lock().unwrap();
        st.projects
            .iter()
            .flat_map(|p| &p.versions)
            .find(|v| v.id == id)
            .cloned()
            .expect("a known version id")
    }
}

fn not_found() -> (StatusCode, Value) {
    let body = json!({"error": "not_found", "description": "the requested route does not exist"});
    (StatusCode::NOT_FOUND, body)
}

/// The project as `GET /v2/project/{id}` answers it.
pub(crate) fn project_json(p: &FakeProject) -> Value {
    json!({
        "id": p.id, "slug": p.slug, "title": p.slug, "project_type": "mod",
        "client_side": p.client_side, "server_side": p.server_side,
        "versions": p.versions.iter().map(|v| &v.id).collect::<Vec<_>>(),
    })
}

/// The version as `GET /v2/version/{id}` answers it.
pub(crate) fn version_json(p: &FakeProject, v: &FakeVersion) -> Value {
    json!({
        "id": v.id, "project_id": p.id, "author_id": "AUTHOR01", "name": v.number,
        "version_number": v.number, "version_type": v.version_type, "featured": false, "status": "listed",
        "date_published": format!("2024-01-{:02}T12:00:00.123456Z", v.day), "downloads": 7, "changelog": "",
        "loaders": ["fabric"], "game_versions": v.game_versions, "dependencies": v.dependencies,
        "files": [{
            "hashes": {"sha1": v.sha1(), "sha512": v.sha512()},
            "url": format!("{CDN}/data/{}/versions/{}/{}", p.id, v.id, v.file.replace('+', "%2B")),
            "filename": v.file, "primary": true, "size": v.bytes.len(), "file_type": null,
        }],
    })
}

/// `["a", "b"]` from a query parameter, as Modrinth parses its filters.
fn json_array(query: &[(String, String)], name: &str) -> Option<Vec<String>> {
    let raw = query.iter().find(|(k, _)| k == name)?;
    serde_json::from_str(&raw.1).ok()
}

async fn handle(State(state): State<Arc<Mutex<Fake>>>, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let mut st = state.lock().unwrap();
    st.calls.push(Call {
        method: method.to_string(),
        uri: uri.path_and_query().map(|p| p.to_string()).unwrap_or_default(),
        user_agent: headers.get("user-agent").and_then(|v| v.to_str().ok()).map(String::from),
        authorization: headers.get("authorization").and_then(|v| v.to_str().ok()).map(String::from),
        at: Instant::now(),
    });
    let segments: Vec<&str> = uri.path().trim_start_matches('/').split('/').collect();
    if let ["data", _, "versions", vid, _] = segments.as_slice() {
        return match st.projects.iter().flat_map(|p| &p.versions).find(|v| v.id == *vid) {
            Some(v) => (StatusCode::OK, v.bytes.clone()).into_response(),
            None => StatusCode::NOT_FOUND.into_response(),
        };
    }
    if let Some(response) = mojang(&st, &segments) {
        return response;
    }
    if let ["v2", "versions", "loader", game, loader, installer, "server", "jar"] = segments.as_slice() {
        if st.fail_launcher > 0 {
            st.fail_launcher -= 1;
            return (StatusCode::SERVICE_UNAVAILABLE, "upstream busy").into_response();
        }
        if !LOADERS.contains(loader) || !INSTALLERS.contains(installer) {
            // Fabric meta's answer for versions it does not know.
            return (StatusCode::NOT_FOUND, "no loader version found").into_response();
        }
        let name = format!("attachment; filename=fabric-server-mc.{game}-loader.{loader}-launcher.{installer}.jar");
        let headers = [
            ("content-type", "application/java-archive".to_string()),
            ("content-disposition", name),
        ];
        return (StatusCode::OK, headers, fabric_server_bytes(game, loader, installer)).into_response();
    }
    st.api_calls += 1;
    let n = st.api_calls;
    let (remaining, reset) = match st.exhausted_at {
        Some((at, reset)) if at == n => (0, reset),
        _ => (300 - n.min(299), 60),
    };
    let limits = [
        ("x-ratelimit-limit", "300".to_string()),
        ("x-ratelimit-remaining", remaining.to_string()),
        ("x-ratelimit-reset", reset.to_string()),
    ];
    if let Some((left, reset)) = st.fail_429.filter(|(left, _)| *left > 0) {
        st.fail_429 = Some((left - 1, reset));
        let body = json!({"error": "ratelimit_error", "description": "You are being rate-limited."});
        let limits = [("x-ratelimit-remaining", "0".to_string()), ("x-ratelimit-reset", reset.to_string())];
        return (StatusCode::TOO_MANY_REQUESTS, limits, axum::Json(body)).into_response();
    }
    let query: Vec<(String, String)> = url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .into_owned()
        .collect();
    let find = |key: &str| st.projects.iter().find(|p| p.id == key || p.slug == key);
    let (status, body) = match segments.as_slice() {
        ["v2", "project", key] => find(key).map_or_else(not_found, |p| (StatusCode::OK, project_json(p))),
        ["v2", "project", key, "version"] => match (find(key), json_array(&query, "loaders"), json_array(&query, "game_versions")) {
            (None, _, _) => not_found(),
            (Some(p), Some(loaders), Some(games)) => {
                let fits = |v: &&FakeVersion| loaders.iter().any(|l| l == "fabric") && v.game_versions.iter().any(|g| games.contains(g));
                let mut versions: Vec<&FakeVersion> = p.versions.iter().filter(fits).collect();
                versions.sort_by_key(|v| std::cmp::Reverse(v.day));
                (StatusCode::OK, versions.iter().map(|v| version_json(p, v)).collect())
            }
            _ => {
                let body = json!({"error": "invalid_input", "description": "loaders and game_versions must be JSON arrays"});
                (StatusCode::BAD_REQUEST, body)
            }
        },
        ["v2", "version", id] => st
            .projects
            .iter()
            .find_map(|p| p.versions.iter().find(|v| v.id == *id).map(|v| version_json(p, v)))
            .map_or_else(not_found, |v| (StatusCode::OK, v)),
        ["v2", "versions", "loader", _game] => {
            let entry = |version: &str, stable: bool| {
                json!({
                    "loader": {"separator": ".", "build": 1, "maven": format!("net.fabricmc:fabric-loader:{version}"), "version": version, "stable": stable},
                    "intermediary": {"maven": "net.fabricmc:intermediary:1.20.1", "version": "1.20.1", "stable": true},
                })
            };
            (
                StatusCode::OK,
                json!([entry("0.17.0-beta.1", false), entry(STABLE_LOADER, true), entry("0.16.9", true)]),
            )
        }
        ["v2", "versions", "installer"] => {
            let entry = |version: &str, stable: bool| {
                json!({"url": format!("https://maven.fabricmc.net/net/fabricmc/fabric-installer/{version}/fabric-installer-{version}.jar"),
                       "maven": format!("net.fabricmc:fabric-installer:{version}"), "version": version, "stable": stable})
            };
            (
                StatusCode::OK,
                json!([entry("1.1.0-beta", false), entry(STABLE_INSTALLER, true), entry("1.0.0", true)]),
            )
        }
        _ => not_found(),
    };
    (status, limits, axum::Json(body)).into_response()
}

/// Mojang's piston-meta and piston-data, or `None` for any other path.
fn mojang(st: &Fake, segments: &[&str]) -> Option<Response> {
    let package = |v: &str| format!("{:0>40}", hex::encode(v));
    let answer = match segments {
        ["mc", "game", "version_manifest_v2.json"] => {
            let versions: Vec<Value> = VANILLA_VERSIONS
                .iter()
                .rev()
                .map(|v| {
                    json!({"id": v, "type": "release", "sha1": package(v), "complianceLevel": 1,
                           "url": format!("https://piston-meta.mojang.com/v1/packages/{}/{v}.json", package(v)),
                           "time": "2023-06-12T13:25:51+00:00", "releaseTime": "2023-06-12T13:25:51+00:00"})
                })
                .collect();
            axum::Json(json!({"latest": {"release": VANILLA_VERSIONS.last(), "snapshot": "23w31a"}, "versions": versions})).into_response()
        }
        ["v1", "packages", _, file] => {
            let v = file.strip_suffix(".json").filter(|v| VANILLA_VERSIONS.contains(v))?;
            let jar = vanilla_server_bytes(v);
            let sha1 = sha1_hex(&jar);
            axum::Json(json!({
                "id": v, "type": "release", "mainClass": "net.minecraft.client.main.Main",
                "downloads": {
                    "client": {"sha1": "0".repeat(40), "size": 1, "url": "https://piston-data.mojang.com/v1/objects/client/client.jar"},
                    "server": {"sha1": sha1, "size": jar.len(), "url": format!("https://piston-data.mojang.com/v1/objects/{sha1}/server.jar")},
                },
            }))
            .into_response()
        }
        ["v1", "objects", sha1, "server.jar"] => {
            let v = VANILLA_VERSIONS.iter().find(|v| sha1_hex(&vanilla_server_bytes(v)) == *sha1)?;
            let mut jar = vanilla_server_bytes(v);
            if st.vanilla_tampered {
                jar[0] = b'X'; // same size, other bytes
            }
            (StatusCode::OK, jar).into_response()
        }
        _ => return None,
    };
    Some(answer)
}
