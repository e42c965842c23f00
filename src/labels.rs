//! The Hetzner label names (and the fixed values) mc-gitops writes on what
//! it creates and reads back to find it: one definition, used by the
//! planner, apply, observe, the Hetzner client, the image builder and the
//! credentials' life. Changing a name or value here strands every server,
//! firewall and image already labelled with the old one.

use std::collections::BTreeMap;

/// Who owns a resource: [`MANAGED_BY_US`] for the reconciler's servers,
/// firewall and images; [`MANAGED_BY_IMAGE_BUILD`] for the image builder.
pub(crate) const MANAGED_BY: &str = "managed-by";
/// [`MANAGED_BY`]'s value on what the reconciler owns.
pub(crate) const MANAGED_BY_US: &str = "mc-gitops";
/// [`MANAGED_BY`]'s value on the image builder's server (not the
/// reconciler's, so it never adopts or deletes it).
pub(crate) const MANAGED_BY_IMAGE_BUILD: &str = "mc-gitops-image-build";
/// The server (`server.toml` `name`) a resource belongs to.
pub(crate) const SERVER: &str = "mc-gitops/server";
/// The session a VPS was created for.
pub(crate) const SESSION: &str = "mc-gitops/session";
/// The region (`server.toml` region key) a VPS was created in.
pub(crate) const REGION: &str = "mc-gitops/region";
/// The state repo (`owner/name` as `owner.name`: label values allow no `/`).
pub(crate) const REPO: &str = "mc-gitops/repo";
/// What a resource is for; [`ROLE_IMAGE`] on snapshot images.
pub(crate) const ROLE: &str = "mc-gitops/role";
/// [`ROLE`]'s value on a prebuilt snapshot image.
pub(crate) const ROLE_IMAGE: &str = "image";
/// The agent version a snapshot image carries.
pub const IMAGE_VERSION: &str = "mc-gitops/image-version";
/// A snapshot image's CPU architecture (`x86` or `arm`).
pub const ARCH: &str = "mc-gitops/arch";
/// The server an image builder VPS builds for.
pub(crate) const IMAGE_FOR: &str = "mc-gitops/image-for";
/// The Unix time the server's agent credentials were issued.
pub const CREDENTIALS_ISSUED: &str = "mc-gitops/credentials-issued";
/// The Unix time the server's agent credentials expire.
pub const CREDENTIALS_EXPIRES: &str = "mc-gitops/credentials-expires";

/// The labels every resource the reconciler owns for `server` carries.
pub(crate) fn owned(server: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (MANAGED_BY.to_string(), MANAGED_BY_US.to_string()),
        (SERVER.to_string(), server.to_string()),
    ])
}

/// The Hetzner label selector for everything [`owned`] by the reconciler
/// for `server`.
pub(crate) fn owned_selector(server: &str) -> String {
    format!("{MANAGED_BY}={MANAGED_BY_US},{SERVER}={server}")
}

/// The session a resource's labels name.
pub(crate) fn session_of(labels: &BTreeMap<String, String>) -> Option<&str> {
    labels.get(SESSION).map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_owned_labels_and_their_selector_agree() {
        let labels = owned("grove");
        let selector = owned_selector("grove");
        let pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(selector, pairs.join(","));
        assert_eq!(selector, "managed-by=mc-gitops,mc-gitops/server=grove");
    }
}
