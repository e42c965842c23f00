//! `mc-gitops init`: its flags, and asking for the ones not given when a
//! person is at the terminal. A run without a terminal on stdin (a script,
//! CI) never waits for an answer: a missing required flag is an error that
//! names it. The repo itself is made by the library (`mc_gitops::init`).

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use mc_gitops::init::Options;

use super::Done;

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

/// What init asks a person at the terminal for, in this order, when the
/// flag is not given; `required` ones are an error without a terminal.
struct Question {
    flag: &'static str,
    ask: &'static str,
    required: bool,
}

const QUESTIONS: &[Question] = &[
    Question {
        flag: "--name",
        ask: "Server name (lowercase, e.g. grove)",
        required: true,
    },
    Question {
        flag: "--zone",
        ask: "Cloudflare DNS zone (friends connect to mc.<zone>)",
        required: true,
    },
    Question {
        flag: "--region",
        ask: "Region",
        required: true,
    },
    Question {
        flag: "--player",
        ask: "Your Minecraft name",
        required: true,
    },
    Question {
        flag: "--github",
        ask: "Your GitHub handle",
        required: true,
    },
    Question {
        flag: "--account-id",
        ask: "Cloudflare account id (R2 overview page; empty to fill in later)",
        required: false,
    },
];

impl InitArgs {
    fn slot(&mut self, flag: &str) -> &mut Option<String> {
        match flag {
            "--name" => &mut self.name,
            "--zone" => &mut self.zone,
            "--region" => &mut self.region,
            "--player" => &mut self.player,
            "--github" => &mut self.github,
            "--repository" => &mut self.repository,
            "--bucket" => &mut self.bucket,
            _ => &mut self.account_id,
        }
    }

    fn options(&self) -> Options {
        Options {
            name: self.name.clone().unwrap_or_default(),
            zone: self.zone.clone().unwrap_or_default(),
            region: self.region.clone().unwrap_or_default(),
            player: self.player.clone().unwrap_or_default(),
            github: self.github.clone().unwrap_or_default(),
            repository: self.repository.clone(),
            bucket: self.bucket.clone(),
            account_id: self.account_id.clone(),
        }
    }
}

/// Ask for `flag`'s value (again).
fn ask(a: &mut InitArgs, flag: &str, regions: &[String]) -> anyhow::Result<()> {
    let q = QUESTIONS.iter().find(|q| q.flag == flag);
    let (question, default) = match q {
        Some(q) if q.flag == "--region" => (format!("{} ({})", q.ask, regions.join(", ")), regions.first().cloned()),
        Some(q) => (q.ask.to_string(), None),
        None => (format!("A new value for {flag}"), None),
    };
    let required = q.is_none_or(|q| q.required);
    let answer = prompt(&question, default.as_deref(), required)?;
    *a.slot(flag) = Some(answer).filter(|s| !s.is_empty());
    Ok(())
}

impl InitArgs {
    pub(crate) fn run(self) -> anyhow::Result<Done> {
        init(self)
    }
}

fn init(mut a: InitArgs) -> anyhow::Result<Done> {
    let interactive = std::io::stdin().is_terminal();
    let regions = mc_gitops::init::regions();
    if !interactive {
        let missing: Vec<&str> = QUESTIONS
            .iter()
            .filter(|q| q.required)
            .map(|q| q.flag)
            .filter(|f| a.slot(f).is_none())
            .collect();
        if !missing.is_empty() {
            anyhow::bail!(
                "missing {}: init asks for these only when stdin is a terminal; pass them as flags (mc-gitops init --help)",
                missing.join(", ")
            );
        }
    } else {
        for q in QUESTIONS {
            if a.slot(q.flag).is_none() {
                ask(&mut a, q.flag, &regions)?;
            }
        }
    }
    // At the terminal a refused value is asked for again; elsewhere it is the error.
    let files = loop {
        match mc_gitops::init::init(&a.dir, &a.options()) {
            Ok(files) => break files,
            Err(e) => match e.flag() {
                Some(flag) if interactive => {
                    eprintln!("  {e}");
                    ask(&mut a, flag, &regions)?;
                }
                _ => return Err(e.into()),
            },
        }
    };
    let options = a.options();
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
