//! Pure resolution of `mods.toml` into locked mods, over what has been
//! fetched from Modrinth so far.
//!
//! [`resolve`] never does I/O: given the wishes and a [`Catalog`], it answers
//! either the complete lock or the set of things it still needs to know
//! ([`Need`]); the caller fetches those and asks again. Every pass starts from
//! scratch, so the answer depends only on the data, never on fetch order.
//!
//! The rules, in the order they apply:
//! - a requested mod takes its pin (`version_number`, exactly), else the
//!   version the current lock has (while it still fits), else the newest
//!   release; betas only when `allow_beta` and no release fits; alphas only
//!   when pinned;
//! - `required` dependencies are added transitively: a dependency naming a
//!   version id gets that version, otherwise the same rule as above;
//! - one version per project: when a dependency demands a specific version of
//!   a project that was chosen otherwise, the demand wins and resolution runs
//!   again; two different demands, or a demand against a pin, are refused;
//! - an `incompatible` pair is refused, naming both mods;
//! - a mod's side comes from the project's `client_side` / `server_side`
//!   (a `side` in mods.toml wins); a dependency runs only where a mod that
//!   needs it runs, so client-only mods never drag their libraries onto the
//!   server.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::{Catalog, Dependency, DependencyType, Need, Project, Version, VersionType, lockfile};
use crate::repo::{LockedMod, Side, WantedMod};

mod sides;

use sides::{natural_side, sides};

/// What to resolve.
#[derive(Clone, Debug)]
pub struct Request<'a> {
    pub minecraft: &'a str,
    /// Modrinth's loader name: `fabric`.
    pub loader: &'a str,
    pub allow_beta: bool,
    /// mods.toml's `[mods]`, by slug or id.
    pub wanted: &'a BTreeMap<String, WantedMod>,
    /// Versions to keep while they still fit, by project id: the current
    /// lock's, minus whatever is being updated.
    pub prefer: BTreeMap<String, String>,
}

/// The answer of one pass.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// Every mod, sorted by slug.
    Done(Vec<LockedMod>),
    Need(BTreeSet<Need>),
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("mods.toml asks for `{key}`, but Modrinth has no project with that slug or id")]
    UnknownProject { key: String },
    #[error("mods.toml names project {project_id} twice, as `{first}` and as `{second}`")]
    Duplicate { first: String, second: String, project_id: String },
    #[error("`{by}` requires project {project_id}, which Modrinth does not have")]
    MissingDependency { by: String, project_id: String },
    #[error("`{by}` requires version {version_id}, which Modrinth does not have")]
    MissingVersion { by: String, version_id: String },
    #[error("mods.toml pins `{slug}` to {pin}, but Modrinth has no version {pin} of it for {target}; it has: {available}")]
    PinNotFound {
        slug: String,
        pin: String,
        target: String,
        available: String,
    },
    #[error("`{slug}` has no release for {target}: {why}")]
    NoVersion { slug: String, target: String, why: String },
    #[error("`{by}` requires `{slug}` {wants}, which is not for {target}")]
    UnfitVersion {
        by: String,
        slug: String,
        wants: String,
        target: String,
    },
    #[error("`{by}` requires `{slug}` {wants}, but {other}")]
    VersionConflict {
        by: String,
        slug: String,
        wants: String,
        other: String,
    },
    #[error("`{a}` and `{b}` cannot be installed together: {why}; remove one of them from mods.toml")]
    Incompatible { a: String, b: String, why: String },
    #[error("`{slug}` {version} cannot be locked: {problem}")]
    BadFile { slug: String, version: String, problem: String },
}

/// One pass: the lock, or what to fetch first.
pub fn resolve(req: &Request<'_>, cat: &Catalog) -> Result<Step, ResolveError> {
    let mut demands: BTreeMap<String, Demand<'_>> = BTreeMap::new();
    loop {
        let picks = match closure(req, cat, &demands)? {
            Closure::Need(needs) => return Ok(Step::Need(needs)),
            Closure::Picked(picks) => picks,
        };
        if let Some((project_id, demand)) = unmet_demand(&picks, cat, &demands)? {
            // Every round adds a project not demanded before, so this ends.
            demands.insert(project_id, demand);
            continue;
        }
        check_incompatible(&picks)?;
        let sides = sides(&picks);
        let mut mods = picks
            .values()
            .map(|p| locked(p, sides.get(p.project.id.as_str()).copied(), cat))
            .collect::<Result<Vec<_>, _>>()?;
        mods.sort_by(|a, b| (&a.slug, &a.project_id).cmp(&(&b.slug, &b.project_id)));
        return Ok(Step::Done(mods));
    }
}

/// A dependency's demand for one exact version of a project.
#[derive(Clone, Debug)]
struct Demand<'c> {
    version_id: &'c str,
    by: String,
}

/// One chosen project version.
struct Pick<'c> {
    project: &'c Project,
    version: &'c Version,
    /// The mods.toml key, when requested there.
    key: Option<&'c str>,
    pinned: bool,
    side_override: Option<Side>,
    /// Project ids of the picks that require this one.
    required_by: BTreeSet<&'c str>,
}

impl Pick<'_> {
    /// How the admin knows it: the mods.toml key, else the slug.
    fn name(&self) -> &str {
        self.key.unwrap_or(&self.project.slug)
    }
}

enum Closure<'c> {
    Picked(BTreeMap<&'c str, Pick<'c>>),
    Need(BTreeSet<Need>),
}

/// Choose the requested mods, then their required dependencies, transitively.
fn closure<'c>(req: &'c Request<'_>, cat: &'c Catalog, demands: &BTreeMap<String, Demand<'c>>) -> Result<Closure<'c>, ResolveError> {
    let mut needs = BTreeSet::new();
    let mut picks: BTreeMap<&'c str, Pick<'c>> = BTreeMap::new();
    for (key, want) in req.wanted {
        let project = match cat.projects.get(key) {
            None => {
                needs.insert(Need::Project(key.clone()));
                continue;
            }
            Some(None) => return Err(ResolveError::UnknownProject { key: key.clone() }),
            Some(Some(p)) => p,
        };
        if let Some(first) = picks.get(project.id.as_str()) {
            return Err(ResolveError::Duplicate {
                first: first.name().to_string(),
                second: key.clone(),
                project_id: project.id.clone(),
            });
        }
        let pin = want.version.as_deref();
        if let Some(version) = choose(req, cat, project, key, pin, demands.get(&project.id), &mut needs)? {
            let pick = Pick {
                project,
                version,
                key: Some(key),
                pinned: pin.is_some(),
                side_override: want.side,
                required_by: BTreeSet::new(),
            };
            picks.insert(&project.id, pick);
        }
    }
    let mut queue: VecDeque<&'c str> = picks.keys().copied().collect();
    while let Some(id) = queue.pop_front() {
        let (by, version) = (picks[id].name().to_string(), picks[id].version);
        for dep in required(version) {
            let Some((dep_id, dep_version)) = dep_target(dep, cat, &by, &mut needs)? else {
                continue;
            };
            if dep_id == id {
                continue;
            }
            if let Some(pick) = picks.get_mut(dep_id) {
                pick.required_by.insert(id);
                continue;
            }
            let project = match cat.projects.get(dep_id) {
                None => {
                    needs.insert(Need::Project(dep_id.to_string()));
                    continue;
                }
                Some(None) => {
                    return Err(ResolveError::MissingDependency {
                        by,
                        project_id: dep_id.into(),
                    });
                }
                Some(Some(p)) => p,
            };
            let demand = demands.get(dep_id).cloned().or(dep_version.map(|v| Demand {
                version_id: v,
                by: by.clone(),
            }));
            if let Some(version) = choose(req, cat, project, &project.slug, None, demand.as_ref(), &mut needs)? {
                let pick = Pick {
                    project,
                    version,
                    key: None,
                    pinned: false,
                    side_override: None,
                    required_by: BTreeSet::from([id]),
                };
                picks.insert(&project.id, pick);
                queue.push_back(&project.id);
            }
        }
    }
    Ok(if needs.is_empty() {
        Closure::Picked(picks)
    } else {
        Closure::Need(needs)
    })
}

/// The project (and exact version, if any) a dependency names.
fn dep_target<'c>(
    dep: &'c Dependency,
    cat: &'c Catalog,
    by: &str,
    needs: &mut BTreeSet<Need>,
) -> Result<Option<(&'c str, Option<&'c str>)>, ResolveError> {
    let version_id = dep.version_id.as_deref();
    if let Some(project_id) = dep.project_id.as_deref() {
        return Ok(Some((project_id, version_id)));
    }
    let Some(vid) = version_id else {
        return Ok(None); // an external file: nothing Modrinth can lock
    };
    match cat.versions.get(vid) {
        None => {
            needs.insert(Need::Version(vid.to_string()));
            Ok(None)
        }
        Some(None) => Err(ResolveError::MissingVersion {
            by: by.into(),
            version_id: vid.into(),
        }),
        Some(Some(v)) => Ok(Some((&v.project_id, Some(vid)))),
    }
}

fn required(v: &Version) -> impl Iterator<Item = &Dependency> {
    v.dependencies.iter().filter(|d| d.dependency_type == DependencyType::Required)
}

fn fits(req: &Request<'_>, v: &Version) -> bool {
    v.loaders.iter().any(|l| l == req.loader) && v.game_versions.iter().any(|g| g == req.minecraft)
}

fn target(req: &Request<'_>) -> String {
    format!("{} {}", req.loader, req.minecraft)
}

/// Pick one version of `project`, or record what is missing and answer `None`.
fn choose<'c>(
    req: &Request<'_>,
    cat: &'c Catalog,
    project: &Project,
    name: &str,
    pin: Option<&str>,
    demand: Option<&Demand<'_>>,
    needs: &mut BTreeSet<Need>,
) -> Result<Option<&'c Version>, ResolveError> {
    // A pin wins over a demand; the clash is reported once everything is chosen.
    if let (None, Some(d)) = (pin, demand) {
        return match cat.versions.get(d.version_id) {
            None => {
                needs.insert(Need::Version(d.version_id.to_string()));
                Ok(None)
            }
            Some(None) => Err(ResolveError::MissingVersion {
                by: d.by.clone(),
                version_id: d.version_id.into(),
            }),
            Some(Some(v)) if fits(req, v) => Ok(Some(v)),
            Some(Some(v)) => Err(ResolveError::UnfitVersion {
                by: d.by.clone(),
                slug: name.into(),
                wants: v.version_number.clone(),
                target: target(req),
            }),
        };
    }
    if let (None, Some(keep)) = (pin, req.prefer.get(&project.id)) {
        match cat.versions.get(keep) {
            None => {
                needs.insert(Need::Version(keep.clone()));
                return Ok(None);
            }
            Some(Some(v)) if fits(req, v) => return Ok(Some(v)),
            Some(_) => {} // gone from Modrinth, or no longer fits: choose afresh
        }
    }
    let Some(versions) = cat.versions_of.get(&project.id) else {
        needs.insert(Need::Versions(project.id.clone()));
        return Ok(None);
    };
    let fitting: Vec<&'c Version> = versions.iter().filter(|v| fits(req, v)).collect();
    if let Some(pin) = pin {
        return match fitting.iter().find(|v| v.version_number == pin) {
            Some(v) => Ok(Some(v)),
            None => Err(ResolveError::PinNotFound {
                slug: name.into(),
                pin: pin.into(),
                target: target(req),
                available: newest_first(&fitting),
            }),
        };
    }
    let newest = |t: VersionType| {
        fitting
            .iter()
            .copied()
            .filter(|v| v.version_type == t)
            .max_by_key(|v| v.date_published)
    };
    if let Some(v) = newest(VersionType::Release).or_else(|| newest(VersionType::Beta).filter(|_| req.allow_beta)) {
        return Ok(Some(v));
    }
    let why = if fitting.is_empty() {
        "Modrinth lists no version of it for that loader and game version".to_string()
    } else if newest(VersionType::Beta).is_some() {
        "it only has betas; set `allow_beta = true` in mods.toml to take one".to_string()
    } else {
        format!("it only has alphas, which are taken only when pinned: {}", newest_first(&fitting))
    };
    Err(ResolveError::NoVersion {
        slug: name.into(),
        target: target(req),
        why,
    })
}

/// Version numbers, newest first, for messages.
fn newest_first(versions: &[&Version]) -> String {
    let mut sorted = versions.to_vec();
    sorted.sort_by_key(|v| std::cmp::Reverse(v.date_published));
    let numbers: Vec<&str> = sorted.iter().take(10).map(|v| v.version_number.as_str()).collect();
    if numbers.is_empty() { "none".into() } else { numbers.join(", ") }
}

fn version_label(cat: &Catalog, version_id: &str) -> String {
    match cat.versions.get(version_id) {
        Some(Some(v)) => format!("{} ({version_id})", v.version_number),
        _ => format!("version {version_id}"),
    }
}

/// The first dependency whose exact version differs from what was picked.
fn unmet_demand<'c>(
    picks: &BTreeMap<&'c str, Pick<'c>>,
    cat: &'c Catalog,
    demands: &BTreeMap<String, Demand<'c>>,
) -> Result<Option<(String, Demand<'c>)>, ResolveError> {
    for pick in picks.values() {
        for dep in pick
            .version
            .dependencies
            .iter()
            .filter(|d| d.dependency_type == DependencyType::Required)
        {
            let Some(vid) = dep.version_id.as_deref() else { continue };
            let project_id = match (&dep.project_id, cat.versions.get(vid)) {
                (Some(p), _) => p.as_str(),
                (None, Some(Some(v))) => v.project_id.as_str(),
                (None, _) => continue,
            };
            let Some(target) = picks
                .get(project_id)
                .filter(|t| t.version.id != vid && t.project.id != pick.project.id)
            else {
                continue;
            };
            let conflict = |other: String| ResolveError::VersionConflict {
                by: pick.name().into(),
                slug: target.name().into(),
                wants: version_label(cat, vid),
                other,
            };
            if target.pinned {
                return Err(conflict(format!("mods.toml pins it to {}", target.version.version_number)));
            }
            if let Some(d) = demands.get(project_id) {
                return Err(conflict(format!("`{}` requires {}", d.by, version_label(cat, d.version_id))));
            }
            let demand = Demand {
                version_id: vid,
                by: pick.name().into(),
            };
            return Ok(Some((project_id.to_string(), demand)));
        }
    }
    Ok(None)
}

fn check_incompatible(picks: &BTreeMap<&str, Pick<'_>>) -> Result<(), ResolveError> {
    let pulled_in = |p: &Pick<'_>| match p.key {
        Some(_) => String::new(),
        None => {
            let by: Vec<String> = p.required_by.iter().map(|id| format!("`{}`", picks[id].name())).collect();
            format!(" (`{}` is pulled in by {})", p.name(), by.join(", "))
        }
    };
    for pick in picks.values() {
        for dep in pick
            .version
            .dependencies
            .iter()
            .filter(|d| d.dependency_type == DependencyType::Incompatible)
        {
            let clash = picks.values().find(|o| {
                o.project.id != pick.project.id
                    && match (&dep.version_id, &dep.project_id) {
                        (Some(vid), _) => o.version.id == *vid,
                        (None, Some(pid)) => o.project.id == *pid,
                        (None, None) => false,
                    }
            });
            if let Some(other) = clash {
                return Err(ResolveError::Incompatible {
                    a: pick.name().into(),
                    b: other.name().into(),
                    why: format!(
                        "`{}` {} declares `{}` incompatible{}{}",
                        pick.name(),
                        pick.version.version_number,
                        other.name(),
                        pulled_in(pick),
                        pulled_in(other)
                    ),
                });
            }
        }
    }
    Ok(())
}

/// A pick as a lock entry; its dependencies are the required ones, by project id.
fn locked(pick: &Pick<'_>, side: Option<Side>, cat: &Catalog) -> Result<LockedMod, ResolveError> {
    let mut dependencies: Vec<String> = required(pick.version)
        .filter_map(|d| match (&d.project_id, &d.version_id) {
            (Some(p), _) => Some(p.clone()),
            (None, Some(vid)) => cat.versions.get(vid).cloned().flatten().map(|v| v.project_id),
            (None, None) => None,
        })
        .filter(|p| *p != pick.project.id)
        .collect();
    dependencies.sort();
    dependencies.dedup();
    let side = side.unwrap_or(natural_side(pick.project));
    lockfile::entry(pick.project, pick.version, pick.name(), pick.key.is_some(), side, dependencies)
}
