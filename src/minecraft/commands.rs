//! Which console commands the bot refuses, judged as Minecraft parses them.
//!
//! Both ends use this one rule: the `console` command refuses before it
//! writes a request (no round trip for a refusal), and the agent refuses again
//! when it reads one, since anyone with the server's storage credentials can
//! write a request. It is pure text, so it sits with the protocol, below both.

/// Why a console command is refused, or `None` when it may run. The
/// command is judged as Minecraft would parse it: a leading `/` and the
/// `minecraft:` namespace do not hide a verb, and `execute … run <cmd>`
/// is judged by the command it runs.
pub fn refusal(command: &str) -> Option<String> {
    if command.to_ascii_lowercase().contains("rcon.password") {
        return Some("commands that touch rcon.password are refused: the agent owns the RCON password".into());
    }
    let cmd = command.trim().trim_start_matches('/');
    let mut words = cmd.split_whitespace();
    let verb = words.next().unwrap_or_default().to_ascii_lowercase();
    let verb = verb.strip_prefix("minecraft:").unwrap_or(&verb);
    match verb {
        "stop" => Some(
            "`stop` is refused: set state = \"stopped\" in server.toml (the world is snapshotted and the server deleted), \
             or ask `mc-gitops console --suspend` (the VPS stays warm)"
                .into(),
        ),
        "save-off" | "save-on" => Some(format!(
            "`{verb}` is refused: the agent turns saving off and on around every snapshot, and would undo it"
        )),
        "whitelist" if words.next().is_none_or(|w| !w.eq_ignore_ascii_case("list")) => Some(
            "`whitelist` (other than `whitelist list`) is refused: add or remove a players/<name>.toml in the repo, \
             the agent applies it"
                .into(),
        ),
        "op" | "deop" => Some(format!("`{verb}` is refused: operators are set in ops.toml in the repo")),
        "execute" => {
            // `execute … run <command>`: the command after the first `run`.
            let lower = cmd.to_ascii_lowercase();
            let at = lower.find(" run ")?;
            refusal(&cmd[at + " run ".len()..])
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_that_break_the_agents_invariants_are_refused_with_the_reason() {
        for (cmd, why) in [
            ("stop", "state = \"stopped\""),
            ("/stop", "state = \"stopped\""),
            ("minecraft:stop", "state = \"stopped\""),
            ("  STOP  ", "state = \"stopped\""),
            ("save-off", "around every snapshot"),
            ("save-on", "around every snapshot"),
            ("whitelist add Mallory", "players/<name>.toml"),
            ("whitelist off", "players/<name>.toml"),
            ("whitelist", "players/<name>.toml"),
            ("op Mallory", "ops.toml"),
            ("deop Steve", "ops.toml"),
            ("execute as @a run op Mallory", "ops.toml"),
            ("execute at @p run execute run stop", "state = \"stopped\""),
            ("say rcon.password=hunter2", "rcon.password"),
        ] {
            let got = refusal(cmd).unwrap_or_else(|| panic!("{cmd:?} was allowed"));
            assert!(got.contains(why), "{cmd:?}: {got}");
        }
        for ok in [
            "say hi",
            "time set day",
            "whitelist list",
            "kick Steve",
            "save-all",
            "execute as @a run say hi",
            "list",
        ] {
            assert_eq!(refusal(ok), None, "{ok:?}");
        }
    }
}
