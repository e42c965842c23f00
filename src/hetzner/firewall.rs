//! The game server's firewall and the admin's SSH keys.
//!
//! [`Hetzner::ensure_firewall`] converges in as few calls as it can, because
//! it runs on every reconcile: one GET when the firewall is already right;
//! a POST only when it is missing; `set_rules` only when the effective rules
//! differ; `apply_to_resources` only when the label selector is not applied.
//! The firewall follows servers by label selector, so a new server is
//! covered the moment it exists, without a call per server.

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::{Value, json};

use super::error::{ErrorCode, HetznerError};
use super::types::{FirewallId, FirewallRule, SshKey, same_rules, selector_for};
use super::{Hetzner, wire, with_query};

impl Hetzner {
    /// Create an empty firewall named `name` and delete it again: the one
    /// write that proves a token is Read & Write without touching anything
    /// the bot owns (a firewall with no rules and no resources costs
    /// nothing). For `doctor`; a 404 on the delete means it is gone anyway.
    pub async fn probe_write(&self, name: &str) -> Result<(), HetznerError> {
        let resource = format!("probe firewall {name}");
        let body = json!({ "name": name, "labels": { "managed-by": "mc-gitops-doctor" } });
        let created: Value = self.request_json(&resource, Method::POST, "/firewalls", Some(&body)).await?;
        let Some(id) = created["firewall"]["id"].as_u64() else {
            return Err(HetznerError::Decode {
                resource,
                why: "the created firewall has no id".into(),
            });
        };
        let (status, body) = self.send(&resource, Method::DELETE, &format!("/firewalls/{id}"), None).await?;
        if status.is_success() || status.as_u16() == 404 {
            return Ok(());
        }
        Err(HetznerError::from_response(&resource, status.as_u16(), &body))
    }

    /// Make sure a firewall named `name` with `labels` exists, has `rules`
    /// (see [`FirewallRule::minecraft`]) and is applied to the servers
    /// matching `apply_to_label_selector`.
    pub async fn ensure_firewall(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
        rules: &[FirewallRule],
        apply_to_label_selector: &str,
    ) -> Result<FirewallId, HetznerError> {
        let resource = format!("firewall {name}");
        let selector = selector_for(labels);
        let query = if selector.is_empty() {
            [("name", name)]
        } else {
            [("label_selector", selector.as_str())]
        };
        let found: Vec<wire::WireFirewall> = self.list_all(&resource, "/firewalls", &query, "firewalls").await?;
        let existing = match found.into_iter().find(|f| f.name == name) {
            Some(f) => f,
            None => match self.create_firewall(&resource, name, labels, rules, apply_to_label_selector).await {
                Ok(id) => return Ok(id),
                // Same name, without our labels (made by hand, or labels
                // edited): take it over and label it, so the next run finds
                // it with the one GET above.
                Err(e) if e.code() == Some(ErrorCode::UniquenessError) => self.label_firewall(&resource, name, labels).await?,
                Err(e) => return Err(e),
            },
        };
        if !same_rules(&existing.rules, rules) {
            let path = format!("/firewalls/{}/actions/set_rules", existing.id);
            let _: Value = self
                .request_json(&resource, Method::POST, &path, Some(&json!({ "rules": rules })))
                .await?;
        }
        if !existing.applied_to_selector(apply_to_label_selector) {
            self.apply_firewall(&resource, existing.id, apply_to_label_selector).await?;
        }
        Ok(existing.id)
    }

    async fn create_firewall(
        &self,
        resource: &str,
        name: &str,
        labels: &BTreeMap<String, String>,
        rules: &[FirewallRule],
        selector: &str,
    ) -> Result<FirewallId, HetznerError> {
        let body = json!({
            "name": name,
            "labels": labels,
            "rules": rules,
            "apply_to": [apply_to(selector)],
        });
        let created: wire::FirewallBody = self.request_json(resource, Method::POST, "/firewalls", Some(&body)).await?;
        Ok(created.firewall.id)
    }

    async fn label_firewall(
        &self,
        resource: &str,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<wire::WireFirewall, HetznerError> {
        let found: wire::FirewallsBody = self
            .request_json(resource, Method::GET, &with_query("/firewalls", &[("name", name)]), None)
            .await?;
        let Some(fw) = found.firewalls.into_iter().find(|f| f.name == name) else {
            return Err(HetznerError::Decode {
                resource: resource.to_string(),
                why: "the name is reported taken, but no firewall of that name is listed".into(),
            });
        };
        let mut merged = fw.labels.clone();
        merged.extend(labels.iter().map(|(k, v)| (k.clone(), v.clone())));
        if merged != fw.labels {
            let path = format!("/firewalls/{}", fw.id);
            let _: Value = self
                .request_json(resource, Method::PUT, &path, Some(&json!({ "labels": merged })))
                .await?;
        }
        Ok(fw)
    }

    async fn apply_firewall(&self, resource: &str, id: FirewallId, selector: &str) -> Result<(), HetznerError> {
        let path = format!("/firewalls/{id}/actions/apply_to_resources");
        let body = json!({ "apply_to": [apply_to(selector)] });
        match self.request_json::<Value>(resource, Method::POST, &path, Some(&body)).await {
            // A retried request whose first attempt got through.
            Err(e) if e.code() == Some(ErrorCode::FirewallAlreadyApplied) => Ok(()),
            other => other.map(|_| ()),
        }
    }

    /// The SSH key with exactly this name.
    pub async fn ssh_key_by_name(&self, name: &str) -> Result<Option<SshKey>, HetznerError> {
        let resource = format!("ssh key {name}");
        let body: wire::SshKeysBody = self
            .request_json(&resource, Method::GET, &with_query("/ssh_keys", &[("name", name)]), None)
            .await?;
        Ok(body.ssh_keys.into_iter().find(|k| k.name == name))
    }
}

/// `firewall_resource` of type `label_selector`.
fn apply_to(selector: &str) -> Value {
    json!({ "type": "label_selector", "label_selector": { "selector": selector } })
}
