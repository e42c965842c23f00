//! `mc-gitops schema`: the JSON Schemas of the state files, printed or
//! written for editors.

use std::path::PathBuf;

use anyhow::Context;

use super::Done;

#[derive(clap::Args)]
pub(crate) struct SchemaArgs {
    /// Write every schema into this directory instead of printing.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Print only this schema (server.json, player.json, ops.json, mods.json, mods-lock.json, session.json).
    name: Option<String>,
}

impl SchemaArgs {
    pub(crate) fn run(self) -> anyhow::Result<Done> {
        let (out, name) = (self.out.as_deref(), self.name.as_deref());
        let all = mc_gitops::schema::all();
        let pick: Vec<_> = all.iter().filter(|(n, _)| name.is_none_or(|want| *n == want)).collect();
        if pick.is_empty() {
            let names: Vec<&str> = all.iter().map(|(n, _)| *n).collect();
            anyhow::bail!("no schema named {:?}; there are: {}", name.unwrap_or_default(), names.join(", "));
        }
        for (n, schema) in pick {
            let text = format!("{}\n", serde_json::to_string_pretty(schema)?);
            match out {
                Some(dir) => {
                    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
                    let path = dir.join(n);
                    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
                    eprintln!("wrote {}", path.display());
                }
                None => print!("{text}"),
            }
        }
        Ok(Done::Ok)
    }
}
