//! The agent's lifecycle timers (agent.toml `[timers]`): how long idle and
//! suspended last, how often it backs up, polls and beats, and the billing
//! margin. A domain value: the agent's loop runs on them, and the shutdown
//! policy and the simulator reason with the same numbers.

use crate::repo::duration::Duration;

/// The lifecycle timers, as durations.
#[derive(Clone, Debug, PartialEq)]
pub struct Timers {
    pub idle: Duration,
    pub suspended: Duration,
    pub backup_every: Duration,
    /// How long a boot may take before the status reports it as late.
    pub boot_deadline: Duration,
    pub heartbeat: Duration,
    /// How often `desired.json` is read.
    pub control_poll: Duration,
    /// How often RCON `list` is asked (server list pings never count).
    pub players_poll: Duration,
    /// Ask for termination this long before the paid hour ends.
    pub billing_margin: Duration,
    /// Crashes in a row after which Minecraft is no longer restarted.
    pub max_crashes: u32,
    /// Keep a suspended server warm until `billing_margin` before its paid
    /// hour ends (`false`: terminate when `suspended` elapses).
    pub warm_until_paid: bool,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            idle: Duration::from_mins(15),
            suspended: Duration::from_mins(45),
            backup_every: Duration::from_mins(30),
            boot_deadline: Duration::from_mins(10),
            heartbeat: Duration::from_secs(30),
            control_poll: Duration::from_secs(30),
            players_poll: Duration::from_secs(10),
            billing_margin: Duration::from_mins(5),
            max_crashes: 5,
            warm_until_paid: true,
        }
    }
}
