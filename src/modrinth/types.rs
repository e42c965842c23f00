//! The parts of Modrinth's and Fabric meta's JSON answers that resolution
//! and locking read: projects, versions, their files and dependencies, and
//! Fabric's loader entries. Read only; nothing here is written back.

use chrono::{DateTime, Utc};
use serde::Deserialize;

/// `client_side` / `server_side` of a project.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SideSupport {
    Required,
    Optional,
    Unsupported,
    #[serde(other)]
    Unknown,
}

/// The part of `GET /v2/project/{id|slug}` that resolution reads.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Project {
    pub id: String,
    pub slug: String,
    #[serde(default)]
    pub title: String,
    pub client_side: SideSupport,
    pub server_side: SideSupport,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VersionType {
    Release,
    Beta,
    Alpha,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DependencyType {
    Required,
    Optional,
    Incompatible,
    Embedded,
    #[serde(other)]
    Unknown,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Dependency {
    #[serde(default)]
    pub version_id: Option<String>,
    #[serde(default)]
    pub project_id: Option<String>,
    pub dependency_type: DependencyType,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Hashes {
    #[serde(default)]
    pub sha1: Option<String>,
    #[serde(default)]
    pub sha512: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct VersionFile {
    pub hashes: Hashes,
    pub url: String,
    pub filename: String,
    #[serde(default)]
    pub primary: bool,
    #[serde(default)]
    pub size: Option<u64>,
}

/// One element of `GET /v2/project/{id}/version`, or `GET /v2/version/{id}`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Version {
    pub id: String,
    pub project_id: String,
    pub version_number: String,
    pub version_type: VersionType,
    pub date_published: DateTime<Utc>,
    #[serde(default)]
    pub loaders: Vec<String>,
    #[serde(default)]
    pub game_versions: Vec<String>,
    #[serde(default)]
    pub files: Vec<VersionFile>,
    #[serde(default)]
    pub dependencies: Vec<Dependency>,
}

impl Version {
    /// The file a mod is installed from: the primary one, else the first.
    pub fn primary_file(&self) -> Option<&VersionFile> {
        self.files.iter().find(|f| f.primary).or(self.files.first())
    }
}

/// Fabric meta's `{version, stable}` (loader and installer entries share it).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct FabricVersion {
    pub version: String,
    pub stable: bool,
}

#[derive(Clone, Debug, Deserialize)]
pub(super) struct FabricLoaderEntry {
    pub(super) loader: FabricVersion,
}
