//! Mojang's profile lookup: a Minecraft name to its account UUID and the
//! name's canonical spelling, and writing that UUID into the player file.
//!
//! `GET /users/profiles/minecraft/<name>` answers `{"id": "<32 hex>",
//! "name": "<canonical case>"}`; an unknown name is 404 today and was 204
//! with no body before, so both mean "no such account". The UUID is cached
//! in the repo (`uuid = "…"` in `players/<Name>.toml`) so the whitelist never
//! depends on Mojang being up when the server starts.

use std::path::Path;

use reqwest::{Method, StatusCode};

use crate::http::{Api, HttpError, Policy, RateLimit, Retry};

pub const DEFAULT_BASE: &str = "https://api.mojang.com";

#[derive(Debug, thiserror::Error)]
pub enum MojangError {
    #[error("looking up Minecraft account {name} at Mojang")]
    Http {
        name: String,
        #[source]
        source: HttpError,
    },
    #[error("looking up Minecraft account {name} at Mojang: unexpected {status}: {body}")]
    Unexpected { name: String, status: StatusCode, body: String },
}

/// A Minecraft account as Mojang knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    /// Dashed, lower case: how whitelist.json and player files write it.
    pub uuid: String,
    pub name: String,
}

pub struct Mojang {
    api: Api,
}

impl Mojang {
    /// `base` (`MOJANG_API_BASE_URL`) overrides the address (tests point it at a fake).
    pub fn new(base: Option<&str>) -> Result<Self, HttpError> {
        let base = base.unwrap_or(DEFAULT_BASE);
        let policy = Policy {
            attempts: 3,
            ..Policy::default()
        };
        // Mojang asks clients to wait after a 429; it sends no Retry-After, so
        // the policy's backoff applies (the header name is only looked for).
        Ok(Mojang {
            api: Api::anonymous(base, RateLimit::RetryAfterSeconds("retry-after"), policy)?,
        })
    }

    /// `Ok(None)`: no account has this name.
    pub async fn profile(&self, name: &str) -> Result<Option<Profile>, MojangError> {
        let path = format!("/users/profiles/minecraft/{name}");
        let resp = self
            .api
            .send(Method::GET, &path, None, Retry::Transient)
            .await
            .map_err(|source| MojangError::Http { name: name.into(), source })?;
        let unexpected = |resp: &crate::http::Response| MojangError::Unexpected {
            name: name.into(),
            status: resp.status,
            body: resp.body.to_string(),
        };
        match resp.status {
            StatusCode::NOT_FOUND | StatusCode::NO_CONTENT => Ok(None),
            StatusCode::OK => {
                let id = resp.body["id"].as_str().ok_or_else(|| unexpected(&resp))?;
                let canonical = resp.body["name"].as_str().ok_or_else(|| unexpected(&resp))?;
                let uuid = dashed(id).ok_or_else(|| unexpected(&resp))?;
                Ok(Some(Profile {
                    uuid,
                    name: canonical.into(),
                }))
            }
            _ => Err(unexpected(&resp)),
        }
    }
}

/// `8667ba71b85a4004af54457a9734eed7` → `8667ba71-b85a-4004-af54-457a9734eed7`.
pub fn dashed(id: &str) -> Option<String> {
    let hex: String = id.chars().filter(|c| *c != '-').collect::<String>().to_ascii_lowercase();
    if hex.len() != 32 || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    Some(format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    ))
}

/// Write `uuid = "…"` into a player file right after `name`, keeping every
/// comment and the rest of the layout (toml_edit).
pub fn write_uuid(root: &Path, rel: &str, uuid: &str) -> Result<(), String> {
    let text = crate::repo::files::read_text(root, rel, crate::repo::files::PLAYER_FILE)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("{rel} is gone"))?;
    let out = set_uuid_text(&text, uuid).map_err(|e| format!("{rel} is not valid TOML: {e}"))?;
    crate::repo::files::write_atomic(root, rel, out.as_bytes()).map_err(|e| e.to_string())
}

pub fn set_uuid_text(text: &str, uuid: &str) -> Result<String, toml_edit::TomlError> {
    let mut doc: toml_edit::DocumentMut = text.parse()?;
    let table = doc.as_table_mut();
    if let Some(v) = table.get_mut("uuid").and_then(|i| i.as_value_mut()) {
        let decor = v.decor().clone();
        *v = toml_edit::Value::from(uuid);
        *v.decor_mut() = decor;
        return Ok(doc.to_string());
    }
    // Put it right after `name`: a new key goes last in toml_edit, so move
    // the keys that follow `name` behind it.
    let keys: Vec<String> = table.iter().map(|(k, _)| k.to_string()).collect();
    let after: Vec<String> = keys.iter().skip_while(|k| *k != "name").skip(1).cloned().collect();
    let moved: Vec<(toml_edit::Key, toml_edit::Item)> = after
        .iter()
        .filter_map(|k| {
            let key = table.key(k)?.clone();
            table.remove(k).map(|item| (key, item))
        })
        .collect();
    table.insert("uuid", toml_edit::value(uuid));
    for (key, item) in moved {
        table.insert_formatted(&key, item);
    }
    Ok(doc.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_goes_after_name_and_comments_stay() {
        let text = "#:schema ../x.json\n# hi\nname = \"Alex\"   # me\nadded_by = \"alex-gh\" # gh\n";
        let out = set_uuid_text(text, "dd3ec016-bb8a-4efe-9cc1-1796b7a57df9").unwrap();
        assert_eq!(
            out,
            "#:schema ../x.json\n# hi\nname = \"Alex\"   # me\nuuid = \"dd3ec016-bb8a-4efe-9cc1-1796b7a57df9\"\nadded_by = \"alex-gh\" # gh\n"
        );
    }

    #[test]
    fn dashes_are_placed_and_junk_refused() {
        assert_eq!(
            dashed("8667BA71b85a4004af54457a9734eed7").as_deref(),
            Some("8667ba71-b85a-4004-af54-457a9734eed7")
        );
        assert_eq!(dashed("xyz"), None);
    }
}
