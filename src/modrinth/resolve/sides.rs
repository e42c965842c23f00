//! Which side each picked mod is locked for: a requested mod where mods.toml
//! or its project says, a dependency only where it can run and something that
//! needs it runs, so client-only mods never drag their libraries onto the server.

use std::collections::BTreeMap;

use super::Pick;
use crate::modrinth::{Project, SideSupport};
use crate::repo::Side;

/// Where a project says it runs.
pub(super) fn natural_side(p: &Project) -> Side {
    use SideSupport::Unsupported;
    match (p.client_side, p.server_side) {
        (Unsupported, Unsupported) => Side::Both,
        (_, Unsupported) => Side::Client,
        (Unsupported, _) => Side::Server,
        _ => Side::Both,
    }
}

fn on_client(s: Side) -> bool {
    matches!(s, Side::Client | Side::Both)
}

/// Requested mods run where mods.toml or Modrinth says; a dependency runs
/// where it can and where something that needs it runs.
pub(super) fn sides<'c>(picks: &BTreeMap<&'c str, Pick<'c>>) -> BTreeMap<&'c str, Side> {
    let mut sides: BTreeMap<&'c str, Side> = picks
        .iter()
        .filter(|(_, p)| p.key.is_some())
        .map(|(id, p)| (*id, p.side_override.unwrap_or(natural_side(p.project))))
        .collect();
    // Sides only spread along requirements, so this settles within one round per pick.
    for _ in 0..=picks.len() {
        let mut changed = false;
        for (id, p) in picks.iter().filter(|(_, p)| p.key.is_none()) {
            let needed: Vec<Side> = p.required_by.iter().filter_map(|r| sides.get(r).copied()).collect();
            if needed.is_empty() {
                continue;
            }
            let natural = natural_side(p.project);
            let server = natural.on_server() && needed.iter().any(|s| s.on_server());
            let client = on_client(natural) && needed.iter().any(|s| on_client(*s));
            let side = match (server, client) {
                (true, true) => Side::Both,
                (true, false) => Side::Server,
                (false, true) => Side::Client,
                (false, false) => natural,
            };
            changed |= sides.insert(id, side) != Some(side);
        }
        if !changed {
            break;
        }
    }
    sides
}
