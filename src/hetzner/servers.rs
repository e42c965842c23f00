//! Servers and actions: list, look up, create, delete, and wait; plus
//! [`Hetzner::create_with_fallback`], the one place that turns a region's
//! ordered candidates into exactly one server.
//!
//! Creating is shaped around re-running after a crash: the name is
//! deterministic, so a second attempt meets `uniqueness_error` and adopts
//! the first server (after checking it carries our labels) instead of
//! making another. Sold-out candidates (`resource_unavailable`,
//! `placement_error`) move on to the next; any other refusal stops, since
//! trying elsewhere would fail the same way.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::Method;
use tracing::{info, warn};

use super::error::{ErrorCode, HetznerError, Refused};
use super::types::{Action, ActionId, ActionStatus, Candidate, CreateServerRequest, Created, CreatedServer, Pricing, Server, ServerSpec};
use super::{Hetzner, wire, with_query};
use crate::ids::HetznerServerId;

impl Hetzner {
    /// Every server matching `label_selector` (all servers when empty),
    /// across all pages.
    pub async fn list_servers(&self, label_selector: &str) -> Result<Vec<Server>, HetznerError> {
        let resource = if label_selector.is_empty() {
            "servers".to_string()
        } else {
            format!("servers matching {label_selector}")
        };
        let query: Vec<(&str, &str)> = if label_selector.is_empty() {
            vec![]
        } else {
            vec![("label_selector", label_selector)]
        };
        let wire: Vec<wire::WireServer> = self.list_all(&resource, "/servers", &query, "servers").await?;
        Ok(wire.into_iter().map(Server::from).collect())
    }

    /// The server with exactly this name (names are unique per project).
    pub async fn server_by_name(&self, name: &str) -> Result<Option<Server>, HetznerError> {
        let resource = format!("server {name}");
        let body: wire::ServersBody = self
            .request_json(&resource, Method::GET, &with_query("/servers", &[("name", name)]), None)
            .await?;
        Ok(body.servers.into_iter().map(Server::from).find(|s| s.name == name))
    }

    /// `None` when there is no such server (404).
    pub async fn get_server(&self, id: HetznerServerId) -> Result<Option<Server>, HetznerError> {
        let body: Option<wire::ServerBody> = self
            .request_json_or_gone(&format!("server {id}"), Method::GET, &format!("/servers/{id}"))
            .await?;
        Ok(body.map(|b| Server::from(b.server)))
    }

    /// `PUT /servers/{id}` with the server's whole label set (the API
    /// replaces the labels, so the caller sends every label it keeps).
    /// `None` when the server is gone (404).
    pub async fn set_server_labels(&self, id: HetznerServerId, labels: &BTreeMap<String, String>) -> Result<Option<Server>, HetznerError> {
        let resource = format!("labels of server {id}");
        let body = serde_json::json!({ "labels": labels });
        match self
            .request_json::<wire::ServerBody>(&resource, Method::PUT, &format!("/servers/{id}"), Some(&body))
            .await
        {
            Ok(b) => Ok(Some(Server::from(b.server))),
            Err(e) if e.status() == Some(404) && e.code() == Some(ErrorCode::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// One `POST /servers`. The root password Hetzner returns when no SSH
    /// key is given is never decoded, kept or logged.
    pub async fn create_server(&self, req: &CreateServerRequest) -> Result<CreatedServer, HetznerError> {
        let resource = format!("server {} ({} in {})", req.name, req.server_type, req.location);
        let body = serde_json::to_value(req).map_err(|e| HetznerError::Decode {
            resource: resource.clone(),
            why: format!("cannot encode the request: {e}"),
        })?;
        let created: wire::CreateServerBody = self.request_json(&resource, Method::POST, "/servers", Some(&body)).await?;
        Ok(CreatedServer {
            server: Server::from(created.server),
            action: created.action,
            next_actions: created.next_actions,
        })
    }

    /// Delete a server; `None` when it was already gone (404).
    pub async fn delete_server(&self, id: HetznerServerId) -> Result<Option<Action>, HetznerError> {
        let body: Option<wire::MaybeActionBody> = self
            .request_json_or_gone(&format!("server {id}"), Method::DELETE, &format!("/servers/{id}"))
            .await?;
        Ok(body.and_then(|b| b.action))
    }

    pub async fn get_action(&self, id: ActionId) -> Result<Action, HetznerError> {
        let body: wire::ActionBody = self
            .request_json(&format!("action {id}"), Method::GET, &format!("/actions/{id}"), None)
            .await?;
        Ok(body.action)
    }

    /// Poll an action until it ends. `error` becomes
    /// [`HetznerError::ActionFailed`] with the command and the code;
    /// still running after `timeout` becomes [`HetznerError::ActionTimeout`].
    pub async fn wait_action(&self, id: ActionId, timeout: Duration) -> Result<Action, HetznerError> {
        let start = tokio::time::Instant::now();
        loop {
            let action = self.get_action(id).await?;
            match action.status {
                ActionStatus::Success => return Ok(action),
                ActionStatus::Error => {
                    let (code, message) = match action.error {
                        Some(e) => (e.code, e.message),
                        None => (ErrorCode::ActionFailed, "the action ended in error without saying why".into()),
                    };
                    return Err(HetznerError::ActionFailed {
                        id,
                        command: action.command,
                        code,
                        message,
                    });
                }
                ActionStatus::Running => {}
            }
            let waited = start.elapsed();
            if waited + self.poll_every > timeout {
                return Err(HetznerError::ActionTimeout {
                    id,
                    command: action.command,
                    status: "running".into(),
                    progress: action.progress,
                    waited_ms: waited.as_millis() as u64,
                });
            }
            tokio::time::sleep(self.poll_every).await;
        }
    }

    /// Create `spec` at the first candidate with capacity, or adopt the
    /// server that already has its name. Reads `/pricing` first, so a
    /// created server is never lost to a pricing failure afterwards.
    pub async fn create_with_fallback(&self, spec: &ServerSpec, candidates: &[Candidate]) -> Result<Created, HetznerError> {
        let pricing = self.pricing().await?;
        let mut refused = Vec::new();
        for candidate in candidates {
            match self.create_server(&spec.at(candidate)).await {
                Ok(c) => {
                    info!(server = %spec.name, location = %candidate.location, server_type = %candidate.server_type, id = %c.server.id, "created");
                    return Ok(created(c.server, Some(c.action), c.next_actions, false, &pricing, refused));
                }
                Err(HetznerError::Api { code, message, .. }) if code.means_no_capacity() => {
                    warn!(server = %spec.name, location = %candidate.location, server_type = %candidate.server_type, %code, "no capacity, trying the next candidate");
                    refused.push(Refused {
                        candidate: candidate.clone(),
                        code,
                        message,
                    });
                }
                Err(e) if is_name_taken(&e) => return self.adopt(spec, &pricing, refused).await,
                Err(e) => return Err(e),
            }
        }
        Err(HetznerError::NoCapacity {
            name: spec.name.clone(),
            refused,
        })
    }

    /// Take over the server that already has `spec.name`, if it is ours.
    /// Labels that differ per session are not part of ownership.
    async fn adopt(&self, spec: &ServerSpec, pricing: &Pricing, refused: Vec<Refused>) -> Result<Created, HetznerError> {
        let Some(server) = self.server_by_name(&spec.name).await? else {
            return Err(HetznerError::Decode {
                resource: format!("server {}", spec.name),
                why: "the name is reported taken, but no server of that name is listed".into(),
            });
        };
        // Ownership is the bot's and the server's labels; a server of ours made
        // for another session (a concurrent run won the race) is still ours to
        // return: the caller compares `mc-gitops/session` and steps back.
        let missing: Vec<String> = spec
            .labels
            .iter()
            .filter(|(k, _)| !OWNED_BY_SESSION.contains(&k.as_str()))
            .filter(|(k, v)| server.labels.get(*k) != Some(*v))
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if !missing.is_empty() {
            return Err(HetznerError::NameTaken {
                name: spec.name.clone(),
                id: server.id.0,
                missing: missing.join(","),
            });
        }
        info!(server = %spec.name, id = %server.id, "adopted the existing server of that name");
        Ok(created(server, None, vec![], true, pricing, refused))
    }
}

fn created(
    server: Server,
    action: Option<Action>,
    next_actions: Vec<Action>,
    adopted: bool,
    pricing: &Pricing,
    refused: Vec<Refused>,
) -> Created {
    let placed = Candidate {
        location: server.location.clone(),
        server_type: server.server_type.clone(),
    };
    Created {
        price: pricing.server(&placed.server_type, &placed.location),
        ipv4_price: server.ipv4.as_ref().and_then(|_| pricing.ipv4(&placed.location)),
        server,
        action,
        next_actions,
        adopted,
        placed,
        refused,
    }
}

/// `uniqueness_error` about the name. Without `details.fields` it can only
/// be the name: nothing else in our request is unique per project.
fn is_name_taken(e: &HetznerError) -> bool {
    let HetznerError::Api {
        code: ErrorCode::UniquenessError,
        details,
        ..
    } = e
    else {
        return false;
    };
    match details.as_ref().and_then(|d| d.get("fields")).and_then(|f| f.as_array()) {
        Some(fields) => fields.iter().any(|f| f.get("name").and_then(|n| n.as_str()) == Some("name")),
        None => true,
    }
}

/// Labels that name a session rather than an owner (see `adopt`).
const OWNED_BY_SESSION: &[&str] = &[crate::labels::SESSION, crate::labels::REGION];
