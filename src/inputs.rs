//! The environment, read once: every variable mc-gitops reads is a [`Var`],
//! `main` reads them all into one [`Inputs`] value before running a
//! command, and the library takes the value (or what it needs of it) as an
//! argument instead of calling `std::env::var` (ripgrep's "low" arguments:
//! raw values; each reader keeps its own parsing, defaults and messages).
//! Secrets are kept as [`Secret`] and never printed: `Debug` shows names only.
//!
//! | Variable | Secret | Read by | Meaning |
//! |---|---|---|---|
//! | `HCLOUD_TOKEN` | yes | `hetzner` | Hetzner Cloud API token |
//! | `HCLOUD_ENDPOINT` | | `hetzner` | Hetzner API address (fakes) |
//! | `CLOUDFLARE_API_TOKEN` | yes | `cloudflare` | Cloudflare API token |
//! | `CLOUDFLARE_API_BASE_URL` | | `cloudflare` | Cloudflare API address (fakes) |
//! | `R2_ACCESS_KEY_ID` | yes | `storage::r2` | R2 key id (also the parent of minted credentials) |
//! | `R2_SECRET_ACCESS_KEY` | yes | `storage::r2` | R2 secret key |
//! | `R2_SESSION_TOKEN` | yes | `storage::r2` | session token of temporary R2 credentials |
//! | `R2_ENDPOINT` | | `storage::r2`, `connect`, `doctor` | R2 address (default from `account_id`) |
//! | `MC_GITOPS_STORAGE_DIR` | | `connect` | local storage when no R2 (default `.mc-gitops/storage`) |
//! | `DISCORD_WEBHOOK_URL` | yes | `notify` | the group's Discord webhook |
//! | `GITHUB_TOKEN` | yes | `gitback`, `check`, `actions_minutes`, `doctor` | push, PR comments, Actions minutes |
//! | `MC_GITOPS_NUDGE_TOKEN` | yes | `storage::nudge`, `doctor` | token the agent dispatches reconcile.yml with |
//! | `GITHUB_API_URL` | | `check`, `actions_minutes`, `doctor`, `agent::nudge` | GitHub API address |
//! | `GITHUB_REPOSITORY` | | `check`, `actions_minutes`, `storage::nudge`, `doctor` | `owner/repo` of the run |
//! | `GITHUB_ACTIONS` | | `cli::check`, `console`, `doctor` | `true` inside GitHub Actions |
//! | `GITHUB_ACTOR` | | `console` | who pressed, inside Actions |
//! | `GITHUB_EVENT_NAME` | | `check::origin` | the triggering event (`workflow_run`) |
//! | `GITHUB_EVENT_PATH` | | `check::origin`, `actions_minutes` | the event's JSON file |
//! | `GITHUB_STEP_SUMMARY` | | `check`, `console`, `cli::apply`, `cli::doctor`, `cli::image` (through `Inputs::append_step_summary`) | the job summary file |
//! | `GITHUB_WORKFLOW_REF` | | `storage::nudge` | the running workflow file and ref |
//! | `MODRINTH_API_BASE_URL` | | `modrinth` | Modrinth API address |
//! | `FABRIC_META_BASE_URL` | | `modrinth` | Fabric meta address |
//! | `MOJANG_META_BASE_URL` | | `modrinth` | Mojang version meta address |
//! | `MOJANG_API_BASE_URL` | | `check::mojang` | Mojang profile API address |
//! | `MC_GITOPS_POLL_INTERVAL_MS` | | `connect`, `console`, `cli::image` | poll interval of Hetzner actions and control answers |
//! | `MC_GITOPS_GAME_PING` | | `observe::game` | `off` skips `plan`'s Server List Ping |
//! | `MC_GITOPS_GAME_PING_PORT` | | `observe::game` | the port that ping uses |
//! | `MC_GITOPS_BOT_NAME`, `MC_GITOPS_BOT_EMAIL` | | `gitback` | the bot's commit identity |
//! | `MC_GITOPS_AGENT_URL`, `MC_GITOPS_AGENT_SHA256` | | `cli::apply` | the agent binary a new VPS installs |
//! | `USER` | | `console` | who asks, outside Actions |
//! | `STATE_DIRECTORY` | | `agent::requests` | the agent's state directory (systemd's `StateDirectory=`) |
//!
//! Read elsewhere, on purpose: `MC_GITOPS_NOW` (clap's `env =` on `--now`),
//! `MC_GITOPS_LOG` (the log filter, in `main`), the fault switches
//! `MC_GITOPS_CRASH_AFTER` / `MC_GITOPS_FAIL_CONTROL_WRITE` (`fault`, only
//! with the `fault-injection` feature), and on the VPS `PATH` and `LANG`,
//! which the agent hands on to Minecraft as the process environment
//! (`agent::jvm`) and looks programs up in (`agent::provision`).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;

use crate::secret::Secret;

macro_rules! vars {
    ($($(#[$doc:meta])* $v:ident = $name:literal $(, $secret:ident)?;)*) => {
        /// One environment variable mc-gitops reads (the table above).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Var {
            $($(#[$doc])* $v,)*
        }

        impl Var {
            /// Every variable, in the table's order.
            pub const ALL: &[Var] = &[$(Var::$v,)*];

            /// The variable's name in the environment.
            pub fn name(self) -> &'static str {
                match self {
                    $(Var::$v => $name,)*
                }
            }

            /// Whether its value is a credential (kept as [`Secret`]).
            pub fn is_secret(self) -> bool {
                match self {
                    $(Var::$v => vars!(@secret $($secret)?),)*
                }
            }
        }
    };
    (@secret secret) => { true };
    (@secret) => { false };
}

vars! {
    HcloudToken = "HCLOUD_TOKEN", secret;
    HcloudEndpoint = "HCLOUD_ENDPOINT";
    CloudflareApiToken = "CLOUDFLARE_API_TOKEN", secret;
    CloudflareApiBaseUrl = "CLOUDFLARE_API_BASE_URL";
    R2AccessKeyId = "R2_ACCESS_KEY_ID", secret;
    R2SecretAccessKey = "R2_SECRET_ACCESS_KEY", secret;
    R2SessionToken = "R2_SESSION_TOKEN", secret;
    R2Endpoint = "R2_ENDPOINT";
    StorageDir = "MC_GITOPS_STORAGE_DIR";
    DiscordWebhookUrl = "DISCORD_WEBHOOK_URL", secret;
    GithubToken = "GITHUB_TOKEN", secret;
    NudgeToken = "MC_GITOPS_NUDGE_TOKEN", secret;
    GithubApiUrl = "GITHUB_API_URL";
    GithubRepository = "GITHUB_REPOSITORY";
    GithubActions = "GITHUB_ACTIONS";
    GithubActor = "GITHUB_ACTOR";
    GithubEventName = "GITHUB_EVENT_NAME";
    GithubEventPath = "GITHUB_EVENT_PATH";
    GithubStepSummary = "GITHUB_STEP_SUMMARY";
    GithubWorkflowRef = "GITHUB_WORKFLOW_REF";
    ModrinthApiBaseUrl = "MODRINTH_API_BASE_URL";
    FabricMetaBaseUrl = "FABRIC_META_BASE_URL";
    MojangMetaBaseUrl = "MOJANG_META_BASE_URL";
    MojangApiBaseUrl = "MOJANG_API_BASE_URL";
    PollIntervalMs = "MC_GITOPS_POLL_INTERVAL_MS";
    GamePing = "MC_GITOPS_GAME_PING";
    GamePingPort = "MC_GITOPS_GAME_PING_PORT";
    BotName = "MC_GITOPS_BOT_NAME";
    BotEmail = "MC_GITOPS_BOT_EMAIL";
    AgentUrl = "MC_GITOPS_AGENT_URL";
    AgentSha256 = "MC_GITOPS_AGENT_SHA256";
    User = "USER";
    StateDirectory = "STATE_DIRECTORY";
}

/// The environment as mc-gitops sees it: the variables of [`Var`] that are
/// set, as they were when it started.
#[derive(Clone, Default)]
pub struct Inputs {
    plain: BTreeMap<Var, OsString>,
    secrets: BTreeMap<Var, Secret>,
}

impl Inputs {
    /// Read every [`Var`] from the process environment (`main` does this once).
    pub fn from_env() -> Inputs {
        Inputs::from_pairs(Var::ALL.iter().filter_map(|&v| std::env::var_os(v.name()).map(|value| (v, value))))
    }

    /// These values and no others (tests). A secret that is not UTF-8 is
    /// left out, as `std::env::var` would.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (Var, impl Into<OsString>)>) -> Inputs {
        let mut inputs = Inputs::default();
        for (v, value) in pairs {
            let value: OsString = value.into();
            if v.is_secret() {
                if let Ok(s) = value.into_string() {
                    inputs.secrets.insert(v, Secret::new(s));
                }
            } else {
                inputs.plain.insert(v, value);
            }
        }
        inputs
    }

    /// The value as `std::env::var(..).ok()` gave it: `None` when unset or
    /// not UTF-8. Secrets are not reachable here: see [`Inputs::secret`].
    pub fn var(&self, v: Var) -> Option<String> {
        self.plain.get(&v).and_then(|s| s.to_str()).map(str::to_string)
    }

    /// The value as `std::env::var_os` gave it (paths).
    pub fn var_os(&self, v: Var) -> Option<OsString> {
        self.plain.get(&v).cloned()
    }

    /// Append `markdown` to the job's summary file (`$GITHUB_STEP_SUMMARY`);
    /// `Ok(false)` when the job has none (unset or empty).
    pub fn append_step_summary(&self, markdown: &str) -> std::io::Result<bool> {
        let Some(path) = self.var_os(Var::GithubStepSummary).filter(|p| !p.is_empty()) else {
            return Ok(false);
        };
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        f.write_all(markdown.as_bytes())?;
        Ok(true)
    }

    /// The value, trimmed; `None` when unset, empty or only spaces.
    pub fn nonempty(&self, v: Var) -> Option<String> {
        self.var(v).map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
    }

    /// A credential, trimmed; `None` when unset or empty.
    pub fn secret(&self, v: Var) -> Option<Secret> {
        self.secrets
            .get(&v)
            .map(|s| s.expose().trim())
            .filter(|s| !s.is_empty())
            .map(Secret::new)
    }

    /// `GITHUB_ACTIONS=true`: running inside GitHub Actions.
    pub fn in_actions(&self) -> bool {
        self.var(Var::GithubActions).is_some_and(|v| v == "true")
    }
}

impl fmt::Debug for Inputs {
    /// Names only: no value, secret or not, is printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries(self.plain.keys().chain(self.secrets.keys()).map(|v| v.name()))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_distinct_and_secrets_stay_secret() {
        let mut names: Vec<&str> = Var::ALL.iter().map(|v| v.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Var::ALL.len());
        let i = Inputs::from_pairs([(Var::HcloudToken, " hunter2-token \n"), (Var::HcloudEndpoint, "http://x")]);
        assert_eq!(i.secret(Var::HcloudToken).unwrap().expose(), "hunter2-token");
        assert_eq!(i.var(Var::HcloudToken), None, "a secret is not a plain value");
        assert_eq!(i.var(Var::HcloudEndpoint).as_deref(), Some("http://x"));
        assert!(!format!("{i:?}").contains("hunter2"), "{i:?}");
        assert!(format!("{i:?}").contains("HCLOUD_TOKEN"), "{i:?}");
    }

    #[test]
    fn empty_values_count_as_unset_where_the_readers_said_so() {
        let i = Inputs::from_pairs([(Var::GithubToken, "  "), (Var::R2Endpoint, " "), (Var::GithubActions, "true")]);
        assert!(i.secret(Var::GithubToken).is_none());
        assert_eq!(i.var(Var::R2Endpoint).as_deref(), Some(" "));
        assert!(i.nonempty(Var::R2Endpoint).is_none());
        assert!(i.in_actions());
        assert!(!Inputs::default().in_actions());
    }
}
