//! `mc-gitops init`: its flags, and asking for the ones not given when a
//! person is at the terminal. A run without a terminal on stdin (a script,
//! CI) never waits for an answer: a missing required flag is an error that
//! names it. The repo itself is made by the library (`mc_gitops::init`).

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use mc_gitops::init::Options;

use crate::Done;

#[derive(clap::Args)]
pub(crate) struct InitArgs {
    /// Where to create the repo (new or empty).
    dir: PathBuf,
    /// The server's name (labels, hostnames, storage prefixes).
    #[arg(long)]
    name: Option<String>,
    /// The Cloudflare DNS zone friends connect under (mc.<zone>).
    #[arg(long)]
    zone: Option<String>,
    /// Where the server runs: a key of [regions] in server.toml (eu, us).
    #[arg(long)]
    region: Option<String>,
    /// The admin's Minecraft name: the repo's one player and op (level 4).
    #[arg(long, value_name = "NAME")]
    player: Option<String>,
    /// The admin's GitHub handle: [github] admins, CODEOWNERS, added_by.
    #[arg(long, value_name = "HANDLE")]
    github: Option<String>,
    /// The state repo on GitHub, owner/name [default: <HANDLE>/<DIR's name>].
    #[arg(long, value_name = "OWNER/NAME")]
    repository: Option<String>,
    /// The R2 bucket for worlds and control files [default: <NAME>-worlds].
    #[arg(long)]
    bucket: Option<String>,
    /// The Cloudflare account id (32 hex digits, on the R2 overview page);
    /// without it [storage] account_id is left commented.
    #[arg(long, value_name = "ID")]
    account_id: Option<String>,
}

/// A value init needs: its flag, the question, and a default when there is one.
struct Ask<'a> {
    flag: &'static str,
    question: &'static str,
    default: Option<String>,
    value: &'a mut Option<String>,
}

pub(crate) fn cmd_init(mut a: InitArgs) -> anyhow::Result<Done> {
    let interactive = std::io::stdin().is_terminal();
    let regions = mc_gitops::init::regions();
    {
        let mut required = [
            Ask {
                flag: "--name",
                question: "Server name (lowercase, e.g. grove)",
                default: None,
                value: &mut a.name,
            },
            Ask {
                flag: "--zone",
                question: "Cloudflare DNS zone (friends connect to mc.<zone>)",
                default: None,
                value: &mut a.zone,
            },
            Ask {
                flag: "--region",
                question: "Region",
                default: regions.first().cloned(),
                value: &mut a.region,
            },
            Ask {
                flag: "--player",
                question: "Your Minecraft name",
                default: None,
                value: &mut a.player,
            },
            Ask {
                flag: "--github",
                question: "Your GitHub handle",
                default: None,
                value: &mut a.github,
            },
        ];
        let missing: Vec<&str> = required.iter().filter(|q| q.value.is_none()).map(|q| q.flag).collect();
        if !missing.is_empty() && !interactive {
            anyhow::bail!(
                "missing {}: init asks for these only when stdin is a terminal; pass them as flags (mc-gitops init --help)",
                missing.join(", ")
            );
        }
        for q in required.iter_mut().filter(|q| q.value.is_none()) {
            let question = if q.flag == "--region" {
                format!("{} ({})", q.question, regions.join(", "))
            } else {
                q.question.to_string()
            };
            *q.value = Some(prompt(&question, q.default.as_deref(), true)?);
        }
    }
    if interactive && a.account_id.is_none() {
        let answer = prompt("Cloudflare account id (R2 overview page; empty to fill in later)", None, false)?;
        a.account_id = Some(answer).filter(|s| !s.is_empty());
    }
    let options = Options {
        name: a.name.unwrap_or_default(),
        zone: a.zone.unwrap_or_default(),
        region: a.region.unwrap_or_default(),
        player: a.player.unwrap_or_default(),
        github: a.github.unwrap_or_default(),
        repository: a.repository,
        bucket: a.bucket,
        account_id: a.account_id,
    };
    let files = mc_gitops::init::init(&a.dir, &options)?;
    let dir = a.dir.display();
    println!(
        "created {dir} with {} files for {}, admin {}",
        files.len(),
        options.name,
        options.player
    );
    println!("next:");
    println!(
        "  mc-gitops check --fix --repo {dir}      # writes your uuid from Mojang into players/{}.toml",
        options.player
    );
    println!("  mc-gitops mods update --repo {dir}      # pins today's mods and the real server jar");
    if options.account_id.is_none() {
        println!("  set [storage] account_id in {dir}/server.toml (the Cloudflare R2 overview page shows it)");
    }
    println!("  then docs/setup.md: tokens, bucket, secrets and the release hash, step by step");
    Ok(Done::Ok)
}

/// One question on stderr, one line from stdin; `required` asks again on an empty answer.
fn prompt(question: &str, default: Option<&str>, required: bool) -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    loop {
        match default {
            Some(d) => eprint!("{question} [{d}]: "),
            None => eprint!("{question}: "),
        }
        std::io::stderr().flush()?;
        let mut line = String::new();
        if stdin.lock().read_line(&mut line)? == 0 {
            anyhow::bail!("stdin closed before {question:?} was answered");
        }
        let answer = line.trim();
        match (answer.is_empty(), default) {
            (false, _) => return Ok(answer.to_string()),
            (true, Some(d)) => return Ok(d.to_string()),
            (true, None) if !required => return Ok(String::new()),
            (true, None) => eprintln!("  (an answer is needed)"),
        }
    }
}
