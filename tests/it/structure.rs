//! The crate's module structure: no module imports a module that imports it back.
//!
//! Reads `src/` as text: every `crate::a::b` and `super::` path outside comments is an edge from
//! the file's module to the longest module it names. Edges between a module and its own
//! ancestors or descendants (a parent declaring its children, a child using its parent's items)
//! are not cycles. Checked at two granularities: file modules (`pipeline::cluster::stage`) and
//! module folders (`pipeline::cluster`, `app::pages`), so two folders never depend on each other
//! either.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module path ("pipeline::cluster::stage") -> source text, for every file under `src/` (the
/// binaries in `src/bin` are crates of their own and skipped).
fn modules(src: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "bin") {
                    stack.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.insert(module_path(src, &path), std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    out
}

fn module_path(src: &Path, file: &Path) -> String {
    let rel: PathBuf = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> =
        rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        parts.pop();
    }
    parts.join("::")
}

fn without_comments(text: &str) -> String {
    text.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n")
}

/// The paths a file names: `crate::x::y` as "x::y", `super::x` (and `super::super::x`) resolved
/// against the module.
fn named_paths(module: &str, text: &str) -> Vec<String> {
    let text = without_comments(text);
    let mut out = Vec::new();
    for prefix in ["crate::", "super::"] {
        for (at, _) in text.match_indices(prefix) {
            if text[..at].ends_with("::") {
                continue; // the middle of a longer path (`super::super::`), seen from its start
            }
            let path: String = text[at..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            out.push(absolute(module, path.trim_end_matches(':')));
        }
    }
    out
}

/// `crate::x` -> "x"; `super::x` from "a::b" -> "a::x"; `super::super::x` -> "x".
fn absolute(module: &str, path: &str) -> String {
    if let Some(rest) = path.strip_prefix("crate::") {
        return rest.to_string();
    }
    let mut base: Vec<&str> = module.split("::").collect();
    let mut rest = path;
    while let Some(r) = rest.strip_prefix("super::") {
        base.pop();
        rest = r;
    }
    base.push(rest);
    base.retain(|p| !p.is_empty());
    base.join("::")
}

/// The longest known module that `path` starts with.
fn resolve<'a>(path: &str, known: &'a BTreeSet<String>) -> Option<&'a String> {
    let parts: Vec<&str> = path.split("::").collect();
    (1..=parts.len()).rev().find_map(|n| known.get(&parts[..n].join("::")))
}

fn truncate(module: &str, depth: usize) -> String {
    module.split("::").take(depth).collect::<Vec<_>>().join("::")
}

fn related(a: &str, b: &str) -> bool {
    a == b || a.starts_with(&format!("{b}::")) || b.starts_with(&format!("{a}::"))
}

/// Module -> modules it imports, with modules cut to `depth` path segments.
fn import_graph(src: &Path, depth: usize) -> BTreeMap<String, BTreeSet<String>> {
    let files = modules(src);
    let known: BTreeSet<String> = files.keys().cloned().collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, text) in &files {
        let from = truncate(module, depth);
        let targets = graph.entry(from.clone()).or_default();
        for path in named_paths(module, text) {
            if let Some(to) = resolve(&path, &known).map(|m| truncate(m, depth))
                && !related(&from, &to)
            {
                targets.insert(to);
            }
        }
    }
    graph
}

/// Pairs (a, b) where a reaches b and b reaches a.
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<(String, String)> {
    let reach = |from: &String| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.clone()];
        while let Some(m) = todo.pop() {
            for next in graph.get(&m).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    todo.push(next.clone());
                }
            }
        }
        seen
    };
    let reached: BTreeMap<&String, BTreeSet<String>> =
        graph.keys().map(|m| (m, reach(m))).collect();
    let mut out = Vec::new();
    for (a, from_a) in &reached {
        for b in from_a {
            if *a < b && reached.get(b).is_some_and(|r| r.contains(*a)) {
                out.push(((*a).clone(), b.clone()));
            }
        }
    }
    out
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn no_module_imports_a_module_that_imports_it_back() {
    for depth in [usize::MAX, 2] {
        let found = cycles(&import_graph(&src_dir(), depth));
        assert!(found.is_empty(), "import cycles (depth {depth}): {found:?}");
    }
}

#[test]
fn the_cycle_check_sees_a_planted_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let write = |rel: &str, text: &str| {
        let path = dir.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("lib.rs", "pub mod a;\npub mod b;\n");
    write("a.rs", "use crate::b::inner::thing;\n");
    write("b/mod.rs", "pub mod inner;\n// crate::a::in_a_comment_only\n");
    write("b/inner.rs", "use super::super::a::other;\n");
    let graph = import_graph(dir.path(), usize::MAX);
    assert_eq!(cycles(&graph), vec![("a".to_string(), "b::inner".to_string())]);
    assert_eq!(cycles(&import_graph(dir.path(), 1)), vec![("a".to_string(), "b".to_string())]);
}
