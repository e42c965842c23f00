//! Snapshot images: the prebuilt disk (Java, nftables and the agent
//! installed) a server can boot from instead of the stock image, so a cold
//! start skips the package installs and the agent download
//! (`docs/coldstart.md`). Listed by label, made from a powered-off server
//! (`create_image`, type `snapshot`), deleted by id.
//!
//! Which image belongs to which server and agent version is said by its
//! labels, defined once here ([`image_labels`], [`image_selector`]) and read
//! by the build (`mc-gitops image build`) and by observe. An image never
//! holds a secret: it is built from user-data without agent.toml.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::Hetzner;
use super::error::{ErrorCode, HetznerError};
use super::types::Action;
use crate::ids::{HetznerServerId, ServerName};
use crate::labels;

/// A Hetzner image id, as the API returns it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ImageId(pub u64);

impl std::fmt::Display for ImageId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// `image`, the fields read here.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Image {
    pub id: ImageId,
    /// `available`, `creating` or `unavailable`.
    pub status: String,
    pub description: String,
    pub architecture: String,
    pub created: DateTime<Utc>,
    /// GB stored (what a snapshot is billed by); `null` while it is created.
    pub image_size: Option<f64>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

impl Image {
    pub fn available(&self) -> bool {
        self.status == "available"
    }
}

/// The agent version an image built by this binary carries, and the one a
/// start by this binary looks for: the release cloud-init would install.
pub const AGENT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The label naming the image's CPU architecture (`x86` or `arm`).
pub use crate::labels::ARCH as ARCH_LABEL;
/// The label naming the agent version an image carries.
pub use crate::labels::IMAGE_VERSION as VERSION_LABEL;

/// The labels of a snapshot image built for `server` with agent `version`.
pub fn image_labels(server: &ServerName, version: &str, architecture: &str) -> BTreeMap<String, String> {
    let mut l = labels::owned(server.as_str());
    l.extend([
        (labels::ROLE.to_string(), labels::ROLE_IMAGE.to_string()),
        (VERSION_LABEL.to_string(), version.to_string()),
        (ARCH_LABEL.to_string(), architecture.to_string()),
    ]);
    l
}

/// Every snapshot image of `server` (`version`: only those carrying it).
pub fn image_selector(server: &ServerName, version: Option<&str>) -> String {
    let mut s = format!(
        "{},{}={}",
        labels::owned_selector(server.as_str()),
        labels::ROLE,
        labels::ROLE_IMAGE
    );
    if let Some(v) = version {
        s.push_str(&format!(",{VERSION_LABEL}={v}"));
    }
    s
}

/// The image a new server of `server` boots from, if any: the newest
/// available snapshot labelled for this agent `version`.
pub fn newest_usable<'a>(images: &'a [Image], version: &str) -> Option<&'a Image> {
    images
        .iter()
        .filter(|i| i.available() && i.labels.get(VERSION_LABEL).map(String::as_str) == Some(version))
        .max_by_key(|i| (i.created, i.id))
}

#[derive(Deserialize)]
struct ImageBody {
    image: Image,
}

#[derive(Deserialize)]
struct CreateImageBody {
    image: Image,
    action: Action,
}

impl Hetzner {
    /// Every snapshot image matching `label_selector`, newest first.
    pub async fn list_snapshots(&self, label_selector: &str) -> Result<Vec<Image>, HetznerError> {
        let resource = format!("snapshot images matching {label_selector}");
        let query = [("type", "snapshot"), ("label_selector", label_selector), ("sort", "created:desc")];
        self.list_all(&resource, "/images", &query, "images").await
    }

    /// `None` when there is no such image (404).
    pub async fn get_image(&self, id: ImageId) -> Result<Option<Image>, HetznerError> {
        let body: Option<ImageBody> = self
            .request_json_or_gone(&format!("image {id}"), Method::GET, &format!("/images/{id}"))
            .await?;
        Ok(body.map(|b| b.image))
    }

    /// `POST /servers/{id}/actions/create_image` with type `snapshot`: the
    /// image (status `creating`) and the action to wait for. Hetzner asks
    /// for the server to be powered off first, so the disk is consistent.
    pub async fn create_snapshot(
        &self,
        server: HetznerServerId,
        description: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<(Image, Action), HetznerError> {
        let resource = format!("snapshot of server {server}");
        let body = serde_json::json!({ "type": "snapshot", "description": description, "labels": labels });
        let path = format!("/servers/{server}/actions/create_image");
        let created: CreateImageBody = self.request_json(&resource, Method::POST, &path, Some(&body)).await?;
        Ok((created.image, created.action))
    }

    /// Delete an image; `false` when it was already gone (404).
    pub async fn delete_image(&self, id: ImageId) -> Result<bool, HetznerError> {
        let resource = format!("image {id}");
        match self.send(&resource, Method::DELETE, &format!("/images/{id}"), None).await? {
            (s, _) if s.is_success() => Ok(true),
            (s, body) => {
                let e = HetznerError::from_response(&resource, s.as_u16(), &body);
                if e.status() == Some(404) && e.code() == Some(ErrorCode::NotFound) {
                    Ok(false)
                } else {
                    Err(e)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(id: u64, status: &str, version: &str, created: &str) -> Image {
        Image {
            id: ImageId(id),
            status: status.into(),
            description: String::new(),
            architecture: "x86".into(),
            created: created.parse().unwrap(),
            image_size: Some(1.2),
            labels: image_labels(&ServerName::new("grove"), version, "x86"),
        }
    }

    #[test]
    fn the_newest_available_image_of_this_version_is_used() {
        let images = [
            image(1, "available", "0.1.0", "2026-11-01T00:00:00Z"),
            image(2, "available", "0.1.0", "2026-11-02T00:00:00Z"),
            image(3, "creating", "0.1.0", "2026-11-03T00:00:00Z"),
            image(4, "available", "0.2.0", "2026-11-04T00:00:00Z"),
        ];
        assert_eq!(newest_usable(&images, "0.1.0").map(|i| i.id), Some(ImageId(2)));
        assert_eq!(newest_usable(&images, "0.2.0").map(|i| i.id), Some(ImageId(4)));
        assert_eq!(newest_usable(&images, "0.3.0"), None);
    }

    #[test]
    fn the_selector_names_the_labels_the_build_sets() {
        let labels = image_labels(&ServerName::new("grove"), "0.1.0", "arm");
        let sel = image_selector(&ServerName::new("grove"), Some("0.1.0"));
        for term in sel.split(',') {
            let (k, v) = term.split_once('=').unwrap();
            assert_eq!(labels.get(k).map(String::as_str), Some(v), "{term}");
        }
        assert_eq!(labels[ARCH_LABEL], "arm");
    }
}
