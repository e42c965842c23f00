//! The only edits the VPS stand-in makes to the agent.toml the user-data
//! carries: where the Minecraft directory is, what "java" runs, and the two
//! ports (free ones on 127.0.0.1). Everything else — server, session,
//! storage and its scoped credentials, lifecycle timers, nudge — is left
//! exactly as apply wrote it. The text is edited in place (toml_edit), and
//! the caller checks the result with the agent's own parser.

use std::path::Path;

pub fn for_this_machine(text: &str, minecraft_dir: &Path, java: &[String], game_port: u16, rcon_port: u16) -> Result<String, String> {
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e| format!("agent.toml is not TOML: {e}"))?;
    // Wherever the writer puts these keys (top level today), edit them there.
    let table = if doc.contains_key("minecraft_dir") || !doc.contains_key("minecraft") {
        doc.as_table_mut()
    } else {
        doc["minecraft"].as_table_mut().ok_or("agent.toml: [minecraft] is not a table")?
    };
    if !table.contains_key("minecraft_dir") && !table.contains_key("dir") {
        return Err(format!("agent.toml names no Minecraft directory:\n{text}"));
    }
    let dir_key = if table.contains_key("minecraft_dir") {
        "minecraft_dir"
    } else {
        "dir"
    };
    table[dir_key] = toml_edit::value(minecraft_dir.display().to_string());
    let mut arr = toml_edit::Array::new();
    for a in java {
        arr.push(a.as_str());
    }
    table["java"] = toml_edit::value(arr);
    table["game_port"] = toml_edit::value(i64::from(game_port));
    table["rcon_port"] = toml_edit::value(i64::from(rcon_port));
    Ok(doc.to_string())
}
