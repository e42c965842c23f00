//! The layering check: dependencies between the crate's top-level modules
//! point down, never up, and never in a circle.
//!
//! The layer table has one definition: the `layers` block of
//! docs/architecture.md, which this test parses. Every `src/**/*.rs` of the
//! library (test code inside `src/` included) is read with comments and string
//! literals stripped; every `crate::X`, `mc_gitops::X` and `super::…` that
//! reaches the crate root is resolved to its top-level module, and a use of a
//! module in a layer the table does not let this one use fails, naming
//! file:line, the edge and both layers. Inside one layer only the same-layer
//! edges the doc lists are allowed, and those must form no circle. The binary
//! (`src/main.rs` and the files it declares with `mod`) is the top and may use
//! anything.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

mod lexer;

use lexer::{is_name, strip, tokenize};

const DOC: &str = "docs/architecture.md";

/// One row of the table: its number (bottom = 1), its name, its modules and
/// the layers it may use (`None`: every layer below it).
struct Layer {
    number: u32,
    name: String,
    modules: Vec<String>,
    may_use: Option<Vec<String>>,
}

struct Table {
    layers: Vec<Layer>,
    /// Allowed edges between two modules of one layer.
    same_layer: BTreeSet<(String, String)>,
}

impl Table {
    fn layer_of(&self, module: &str) -> Option<&Layer> {
        self.layers.iter().find(|l| l.modules.iter().any(|m| m == module))
    }

    /// Why `from` may not use `to`, or `None` when it may.
    fn refuses(&self, from: &str, to: &str) -> Option<String> {
        let (Some(a), Some(b)) = (self.layer_of(from), self.layer_of(to)) else {
            return None; // unknown modules are reported on their own
        };
        let name = |l: &Layer| format!("layer {} {}", l.number, l.name);
        if a.number == b.number {
            if self.same_layer.contains(&(from.to_string(), to.to_string())) {
                return None;
            }
            return Some(format!(
                "{from} ({}) uses {to} ({}): a same-layer edge docs/architecture.md does not list",
                name(a),
                name(b)
            ));
        }
        let allowed = match &a.may_use {
            None => b.number < a.number,
            Some(names) => names.contains(&b.name),
        };
        if allowed {
            return None;
        }
        let what = if b.number > a.number {
            "a higher layer"
        } else {
            "a layer it may not use"
        };
        Some(format!("{from} ({}) uses {to} ({}), {what}", name(a), name(b)))
    }
}

/// The rows between `<!-- layers:begin -->` and `<!-- layers:end -->`:
/// `| number | name | modules | may use |`, modules and layer names in
/// backticks, "below" for every lower layer; and lines `` `a` -> `b` ``
/// between `<!-- same-layer:begin -->` and `<!-- same-layer:end -->`.
fn parse_table(doc: &str) -> Table {
    let block = |tag: &str| -> Vec<&str> {
        let begin = format!("<!-- {tag}:begin -->");
        let end = format!("<!-- {tag}:end -->");
        let start = doc.find(&begin).unwrap_or_else(|| panic!("{DOC} has no {begin}")) + begin.len();
        let stop = doc[start..].find(&end).unwrap_or_else(|| panic!("{DOC} has no {end}")) + start;
        doc[start..stop].lines().collect()
    };
    let ticked = |s: &str| -> Vec<String> { s.split('`').skip(1).step_by(2).map(str::to_string).collect() };
    let mut layers = Vec::new();
    for line in block("layers") {
        let cells: Vec<&str> = line.trim().trim_matches('|').split('|').map(str::trim).collect();
        let Ok(number) = cells[0].parse::<u32>() else {
            continue; // the header and its rule
        };
        assert_eq!(cells.len(), 4, "{DOC}: a layer row has 4 cells: {line}");
        let may_use = (cells[3] != "below").then(|| ticked(cells[3]));
        layers.push(Layer {
            number,
            name: cells[1].trim_matches('*').to_string(),
            modules: ticked(cells[2]),
            may_use,
        });
    }
    assert!(!layers.is_empty(), "{DOC}: the layers block has no rows");
    let mut same_layer = BTreeSet::new();
    for line in block("same-layer") {
        let t = ticked(line);
        if line.contains("->") {
            assert_eq!(t.len(), 2, "{DOC}: a same-layer edge is `a` -> `b`: {line}");
            same_layer.insert((t[0].clone(), t[1].clone()));
        }
    }
    Table { layers, same_layer }
}

/// One path out of a file to a top-level module.
struct Use {
    line: usize,
    target: String,
}

/// The top-level modules a file's (stripped) text reaches. `depth` is how
/// many modules deep the file is (`src/a.rs` and `src/a/mod.rs`: 1,
/// `src/a/b.rs`: 2); inline `mod x { … }` blocks add to it.
fn uses_of(text: &str, depth: usize) -> Vec<Use> {
    let tokens = tokenize(text);
    let mut out = Vec::new();
    // the open inline modules, as the brace depth each one opened at
    let mut inline: Vec<usize> = Vec::new();
    let mut braces = 0usize;
    let mut i = 0;
    while i < tokens.len() {
        let (line, t) = (tokens[i].0, tokens[i].1.as_str());
        match t {
            "{" => braces += 1,
            "}" => {
                braces = braces.saturating_sub(1);
                if inline.last() == Some(&braces) {
                    inline.pop();
                }
            }
            "mod" if tokens.get(i + 2).is_some_and(|t| t.1 == "{") => {
                inline.push(braces);
            }
            "crate" | "mc_gitops" if next_is_path(&tokens, i) && !prev_is_path(&tokens, i) => {
                out.extend(targets_after(&tokens, i + 2, line));
            }
            "super" if !prev_is_path(&tokens, i) => {
                let mut k = i;
                let mut ups = 0;
                while tokens.get(k).is_some_and(|t| t.1 == "super") && next_is_path(&tokens, k) {
                    ups += 1;
                    k += 2;
                }
                if ups > 0 && ups == depth + inline.len() {
                    out.extend(targets_after(&tokens, k, line));
                }
                i = k.max(i + 1);
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

fn next_is_path(tokens: &[(usize, String)], i: usize) -> bool {
    tokens.get(i + 1).is_some_and(|t| t.1 == "::")
}

fn prev_is_path(tokens: &[(usize, String)], i: usize) -> bool {
    i > 0 && tokens[i - 1].1 == "::" && !(i > 1 && tokens[i - 2].1 == "$")
}

/// The module names at `tokens[i]`: one identifier, or each first
/// identifier of a `{a::…, b, c::{…}}` group.
fn targets_after(tokens: &[(usize, String)], i: usize, line: usize) -> Vec<Use> {
    let Some((_, t)) = tokens.get(i) else {
        return Vec::new();
    };
    if t != "{" {
        return if is_name(t) {
            vec![Use { line, target: t.clone() }]
        } else {
            Vec::new()
        };
    }
    let mut out = Vec::new();
    let mut depth = 0;
    let mut expect_name = true;
    for (l, t) in &tokens[i..] {
        match t.as_str() {
            "{" => {
                depth += 1;
                expect_name = depth == 1;
            }
            "}" => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            "," if depth == 1 => expect_name = true,
            name if expect_name && depth == 1 => {
                if is_name(name) {
                    out.push(Use {
                        line: *l,
                        target: name.to_string(),
                    });
                }
                expect_name = false;
            }
            _ => {}
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The modules `src/main.rs` declares: the binary's own files.
fn binary_modules(root: &Path) -> BTreeSet<String> {
    let main = std::fs::read_to_string(root.join("src/main.rs")).expect("reading src/main.rs");
    let tokens = tokenize(&strip(&main));
    tokens
        .windows(3)
        .filter(|w| w[0].1 == "mod" && w[2].1 == ";")
        .map(|w| w[1].1.clone())
        .collect()
}

/// Every edge that breaks the table, as `file:line: message`, and every
/// module the table misses.
fn violations(root: &Path, table: &Table) -> Vec<String> {
    let src = root.join("src");
    let bin = binary_modules(root);
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut problems = Vec::new();
    let mut tops = BTreeSet::new();
    for file in &files {
        let rel = file.strip_prefix(&src).expect("under src");
        let parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
        let top = parts[0].trim_end_matches(".rs").to_string();
        if top == "main" || top == "lib" || bin.contains(&top) {
            continue; // the binary is the top: it may use anything
        }
        tops.insert(top.clone());
        let last = parts.last().expect("a file name");
        let depth = parts.len() - usize::from(last == "mod.rs");
        let text = strip(&std::fs::read_to_string(file).expect("reading a source file"));
        for u in uses_of(&text, depth) {
            if u.target == top || table.layer_of(&u.target).is_none() && !tops_exist(&src, &u.target) {
                continue; // itself, or not a module of this crate (std, a macro name)
            }
            if let Some(why) = table.refuses(&top, &u.target) {
                problems.push(format!("src/{}:{}: {why}", rel.display(), u.line));
            }
        }
    }
    for t in &tops {
        if table.layer_of(t).is_none() {
            problems.push(format!("src/{t}: module {t} is in no layer of {DOC}"));
        }
    }
    for l in &table.layers {
        for m in &l.modules {
            if !tops.contains(m) {
                problems.push(format!("{DOC}: layer {} lists `{m}`, which is no module in src/", l.number));
            }
        }
    }
    problems
}

fn tops_exist(src: &Path, name: &str) -> bool {
    src.join(format!("{name}.rs")).exists() || src.join(name).join("mod.rs").exists()
}

/// A circle among the allowed same-layer edges, if any.
fn circle(edges: &BTreeSet<(String, String)>) -> Option<Vec<String>> {
    let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (a, b) in edges {
        next.entry(a).or_default().push(b);
    }
    fn visit<'a>(
        n: &'a str,
        next: &BTreeMap<&'a str, Vec<&'a str>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| *p == n) {
            return Some(path[at..].iter().chain([&n]).map(|s| s.to_string()).collect());
        }
        if !done.insert(n) {
            return None;
        }
        path.push(n);
        for m in next.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, next, path, done) {
                return Some(c);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    for n in next.keys() {
        if let Some(c) = visit(n, &next, &mut Vec::new(), &mut done) {
            return Some(c);
        }
    }
    None
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn table() -> Table {
    parse_table(&std::fs::read_to_string(root().join(DOC)).expect("reading docs/architecture.md"))
}

#[test]
fn dependencies_point_down_with_zero_exceptions() {
    let problems = violations(&root(), &table());
    assert!(
        problems.is_empty(),
        "{} dependencies break the layers of {DOC}:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn the_allowed_same_layer_edges_form_no_circle_and_stay_in_one_layer() {
    let t = table();
    if let Some(c) = circle(&t.same_layer) {
        panic!("{DOC}: the same-layer edges form a circle: {}", c.join(" -> "));
    }
    for (a, b) in &t.same_layer {
        let (la, lb) = (t.layer_of(a).map(|l| l.number), t.layer_of(b).map(|l| l.number));
        assert!(
            la.is_some() && la == lb,
            "{DOC}: `{a}` -> `{b}` is listed as a same-layer edge but they are not in one layer"
        );
    }
}

#[test]
fn the_check_sees_every_way_a_path_reaches_the_crate_root() {
    let text = strip(
        r#"
use crate::repo::Desired;
use crate::{plan, observe::Observed};
// crate::apply in a comment is not a use
let s = "crate::apply in a string";
let r = r"crate::apply";
let c = '"'; let x = crate::world::guard::refuses();
mod tests {
    use super::*;
    use super::super::storage::Store;
}
use mc_gitops::ledger;
use std::crate_name::x;
"#,
    );
    let found: Vec<(usize, String)> = uses_of(&text, 1).into_iter().map(|u| (u.line, u.target)).collect();
    let want: Vec<(usize, String)> = [
        (2, "repo"),
        (3, "plan"),
        (3, "observe"),
        (7, "world"),
        (10, "storage"),
        (12, "ledger"),
    ]
    .into_iter()
    .map(|(l, t)| (l, t.to_string()))
    .collect();
    assert_eq!(found, want);
}

#[test]
fn an_upward_use_is_named_with_file_line_and_both_layers() {
    let t = parse_table(
        "<!-- layers:begin -->\n| layer | name | modules | may use |\n|---|---|---|---|\n\
         | 1 | foundation | `ids` | below |\n| 2 | reconciler | `plan`, `apply` | below |\n\
         | 3 | agent | `agent` | `foundation` |\n<!-- layers:end -->\n\
         <!-- same-layer:begin -->\n- `apply` -> `plan`\n<!-- same-layer:end -->\n",
    );
    assert_eq!(t.refuses("plan", "ids"), None);
    assert_eq!(t.refuses("apply", "plan"), None);
    assert_eq!(
        t.refuses("ids", "plan").as_deref(),
        Some("ids (layer 1 foundation) uses plan (layer 2 reconciler), a higher layer")
    );
    assert!(t.refuses("plan", "apply").unwrap().contains("same-layer edge"));
    assert!(t.refuses("agent", "plan").unwrap().contains("a layer it may not use"));
    assert_eq!(t.refuses("agent", "ids"), None);
}
