//! Choosing where to create a server, from the region's preferences and the
//! `/server_types` listing. Pure, so the planner can show the choice and
//! tests need no server.
//!
//! Per location (in the region's order), the first preferred type that is
//! listed, is not deprecated (globally or at that location) and is offered
//! there. Hetzner retires types (cx22 and cpx31 went in 2025): a retired
//! type is skipped with a reason, never a crash. Sold-out is not visible in
//! the listing; it shows only when ordering (`resource_unavailable`), which
//! is why the result is an ordered list of candidates, not one answer.

use std::fmt;

use serde::Serialize;

use super::types::{Candidate, ServerTypeInfo};
use crate::ids::{Location, ServerType};

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "why", rename_all = "kebab-case")]
pub enum Reason {
    /// Not in `/server_types` at all (unknown, or retired and delisted).
    NotListed,
    /// `deprecated`/`deprecation` set on the type itself.
    Deprecated,
    /// `locations[].deprecation` set for this location.
    DeprecatedHere,
    /// The type is listed but not offered in this location.
    NotOfferedHere,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Reason::NotListed => "not listed by /server_types",
            Reason::Deprecated => "deprecated",
            Reason::DeprecatedHere => "deprecated in this location",
            Reason::NotOfferedHere => "not offered in this location",
        })
    }
}

/// A (location, type) pair that was considered and refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Refusal {
    pub location: Location,
    pub server_type: ServerType,
    pub reason: Reason,
}

/// The ordered candidates, and what was passed over on the way (for the
/// plan's notices: "cx33 is deprecated in fsn1, using cpx32").
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Choice {
    pub candidates: Vec<Candidate>,
    pub refusals: Vec<Refusal>,
}

/// Nothing in the region can be ordered; lists every pair considered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
pub struct NothingOrderable {
    pub locations: Vec<Location>,
    pub server_types: Vec<ServerType>,
    pub refusals: Vec<Refusal>,
}

impl fmt::Display for NothingOrderable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |v: &[String]| v.join(", ");
        write!(
            f,
            "no server type can be ordered: considered types [{}] in locations [{}]",
            list(&self.server_types.iter().map(|t| t.to_string()).collect::<Vec<_>>()),
            list(&self.locations.iter().map(|l| l.to_string()).collect::<Vec<_>>()),
        )?;
        for r in &self.refusals {
            write!(f, "; {} in {}: {}", r.server_type, r.location, r.reason)?;
        }
        Ok(())
    }
}

/// Order the candidates for a region: per location, its first orderable type.
pub fn candidates(locations: &[Location], preference: &[ServerType], listing: &[ServerTypeInfo]) -> Result<Choice, NothingOrderable> {
    let mut choice = Choice {
        candidates: vec![],
        refusals: vec![],
    };
    for location in locations {
        for server_type in preference {
            match refusal(location, server_type, listing) {
                None => {
                    choice.candidates.push(Candidate {
                        location: location.clone(),
                        server_type: server_type.clone(),
                    });
                    break;
                }
                Some(reason) => choice.refusals.push(Refusal {
                    location: location.clone(),
                    server_type: server_type.clone(),
                    reason,
                }),
            }
        }
    }
    if choice.candidates.is_empty() {
        return Err(NothingOrderable {
            locations: locations.to_vec(),
            server_types: preference.to_vec(),
            refusals: choice.refusals,
        });
    }
    Ok(choice)
}

/// Why `server_type` cannot be ordered in `location`, or `None` if it can.
pub(crate) fn refusal(location: &Location, server_type: &ServerType, listing: &[ServerTypeInfo]) -> Option<Reason> {
    let Some(info) = listing.iter().find(|t| &t.name == server_type) else {
        return Some(Reason::NotListed);
    };
    if info.deprecated {
        return Some(Reason::Deprecated);
    }
    match info.offered_in(location) {
        None => Some(Reason::NotOfferedHere),
        Some(here) if here.deprecation.is_some() => Some(Reason::DeprecatedHere),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hetzner::types::{Deprecation, TypeLocation};

    fn deprecation() -> Deprecation {
        Deprecation {
            announced: "2025-10-16T00:00:00Z".parse().unwrap(),
            unavailable_after: "2026-01-01T00:00:00Z".parse().unwrap(),
        }
    }

    fn ty(name: &str, locations: &[(&str, bool)], deprecated: bool) -> ServerTypeInfo {
        ServerTypeInfo {
            id: 1,
            name: ServerType::new(name),
            description: name.to_uppercase(),
            cores: 4,
            memory_gb: 8.0,
            disk_gb: 80.0,
            architecture: "x86".into(),
            cpu_type: "shared".into(),
            deprecated,
            deprecation: deprecated.then(deprecation),
            locations: locations
                .iter()
                .map(|(l, dep)| TypeLocation {
                    location: Location::new(*l),
                    deprecation: dep.then(deprecation),
                })
                .collect(),
        }
    }

    fn locs(v: &[&str]) -> Vec<Location> {
        v.iter().map(|s| Location::new(*s)).collect()
    }

    fn types(v: &[&str]) -> Vec<ServerType> {
        v.iter().map(|s| ServerType::new(*s)).collect()
    }

    fn pairs(c: &Choice) -> Vec<(String, String)> {
        c.candidates
            .iter()
            .map(|c| (c.location.to_string(), c.server_type.to_string()))
            .collect()
    }

    #[test]
    fn first_orderable_type_per_location_in_order() {
        let listing = [
            ty("cx33", &[("fsn1", false), ("nbg1", false), ("hel1", true)], false),
            ty("cpx32", &[("fsn1", false), ("nbg1", false), ("hel1", false)], false),
        ];
        let c = candidates(&locs(&["fsn1", "nbg1", "hel1"]), &types(&["cx33", "cpx32"]), &listing).unwrap();
        let want = [("fsn1", "cx33"), ("nbg1", "cx33"), ("hel1", "cpx32")];
        assert_eq!(pairs(&c), want.map(|(a, b)| (a.to_string(), b.to_string())));
        assert_eq!(c.refusals.len(), 1);
        assert_eq!(c.refusals[0].reason, Reason::DeprecatedHere);
    }

    #[test]
    fn retired_and_unknown_types_are_skipped_not_fatal() {
        let listing = [
            ty("cpx31", &[("ash", false), ("hil", false)], true),
            ty("cpx32", &[("ash", false), ("hil", false)], false),
        ];
        let c = candidates(&locs(&["ash", "hil"]), &types(&["cx99", "cpx31", "cpx32"]), &listing).unwrap();
        assert_eq!(pairs(&c), vec![("ash".into(), "cpx32".into()), ("hil".into(), "cpx32".into())]);
        assert!(c.refusals.iter().any(|r| r.reason == Reason::NotListed));
        assert!(c.refusals.iter().any(|r| r.reason == Reason::Deprecated));
    }

    #[test]
    fn nothing_orderable_says_what_was_considered_and_why() {
        let listing = [ty("cx22", &[("fsn1", true)], true), ty("cax21", &[("fsn1", false)], false)];
        let err = candidates(&locs(&["ash"]), &types(&["cx22", "cax21"]), &listing).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("considered types [cx22, cax21] in locations [ash]"), "{msg}");
        assert!(msg.contains("cx22 in ash: deprecated"), "{msg}");
        assert!(msg.contains("cax21 in ash: not offered in this location"), "{msg}");
    }

    #[test]
    fn an_empty_listing_refuses_everything() {
        let err = candidates(&locs(&["fsn1"]), &types(&["cx33"]), &[]).unwrap_err();
        assert_eq!(err.refusals.len(), 1);
        assert_eq!(err.refusals[0].reason, Reason::NotListed);
    }
}
