//! No import circles: within every crate of the workspace, the modules under one parent depend on each
//! other without a cycle, so each can be read (and changed) after the ones it uses. Run alone with
//! `cargo test -p themelios --test module_graph`; a failure lists each circle with the references that
//! close it.
//!
//! A module depends on another when its code names a path into it (`use crate::a::b`, `super::b::f`, a
//! re-export `super::Name` counts for the sibling that defines `Name`). A reference to an ancestor's own
//! items is not a sibling edge: a parent declares its children, and children sharing the parent's types is
//! how a folder module is built. Test code (`#[cfg(test)]` items) is left out: a unit test may use any
//! sibling's fixtures without the modules depending on each other.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module by its path from the crate root (`[]` is the root).
type ModulePath = Vec<String>;

struct Crate {
    name: String,
    /// Every module with its source text.
    modules: BTreeMap<ModulePath, Source>,
}

struct Source {
    file: PathBuf,
    text: String,
}

fn workspace_crates() -> Vec<Crate> {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut out = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&crates)
        .expect("the crates directory")
        .filter_map(|e| e.ok().map(|e| e.path().join("src")))
        .filter(|src| src.is_dir())
        .collect();
    dirs.sort();
    for src in dirs {
        let mut modules = BTreeMap::new();
        collect(&src, &src, &mut modules);
        let name = src.parent().and_then(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned());
        out.push(Crate { name: name.unwrap_or_default(), modules });
    }
    out
}

fn collect(root: &Path, dir: &Path, modules: &mut BTreeMap<ModulePath, Source>) {
    let mut entries: Vec<PathBuf> =
        std::fs::read_dir(dir).expect("a source directory").flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect(root, &path, modules);
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let relative = path.strip_prefix(root).expect("under the root");
        let mut segments: Vec<String> = relative.iter().map(|s| s.to_string_lossy().into_owned()).collect();
        let file = segments.pop().unwrap_or_default();
        match file.as_str() {
            "lib.rs" | "main.rs" | "mod.rs" => {}
            // A second binary of the crate is a root of its own: not one of the library's modules.
            _ if segments.first().is_some_and(|s| s == "bin") => continue,
            other => segments.push(other.trim_end_matches(".rs").to_string()),
        }
        let text = std::fs::read_to_string(&path).expect("a readable source file");
        modules.insert(segments, Source { file: path, text });
    }
}

/// The code of a file without comments, string and character literals (so that prose or text naming a
/// path is no edge); line breaks are kept, so lines still count.
fn code_of(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let skip_to = |out: &mut String, from: usize, to: usize| {
        out.extend(chars[from..to.min(chars.len())].iter().filter(|c| **c == '\n'));
    };
    while i < chars.len() {
        let at = |k: usize| chars.get(i + k).copied();
        match chars[i] {
            '/' if at(1) == Some('/') => {
                let end = (i..chars.len()).find(|k| chars[*k] == '\n').unwrap_or(chars.len());
                i = end;
            }
            '/' if at(1) == Some('*') => {
                let end = (i + 2..chars.len()).find(|k| chars[*k] == '*' && chars.get(k + 1) == Some(&'/'));
                let end = end.map_or(chars.len(), |k| k + 2);
                skip_to(&mut out, i, end);
                i = end;
            }
            'r' if (at(1) == Some('#') || at(1) == Some('"')) && (i == 0 || !chars[i - 1].is_alphanumeric()) => {
                let hashes = (1..).take_while(|k| at(*k) == Some('#')).count();
                if at(1 + hashes) != Some('"') {
                    out.push('r');
                    i += 1;
                    continue;
                }
                let close: Vec<char> = std::iter::once('"').chain(std::iter::repeat_n('#', hashes)).collect();
                let start = i + 2 + hashes;
                let end = (start..chars.len()).find(|k| chars[*k..].starts_with(&close)).unwrap_or(chars.len());
                skip_to(&mut out, i, end);
                out.push_str("\"\"");
                i = end + close.len();
            }
            '"' => {
                let mut k = i + 1;
                while k < chars.len() && chars[k] != '"' {
                    k += if chars[k] == '\\' { 2 } else { 1 };
                }
                skip_to(&mut out, i, k);
                out.push_str("\"\"");
                i = k + 1;
            }
            // A character literal ('x', '\n', '"'); a lifetime has no closing quote two or three on.
            '\'' if at(2) == Some('\'') || (at(1) == Some('\\') && at(3) == Some('\'')) => {
                i += if at(2) == Some('\'') { 3 } else { 4 };
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// `code` without its `#[cfg(test)]` items (line breaks kept).
fn without_tests(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let item = &rest[at..];
        // The item ends at the `;` of a one-line item or at the brace closing its body.
        let (mut depth, mut end) = (0usize, item.len());
        for (i, c) in item.char_indices() {
            match c {
                ';' if depth == 0 => {
                    end = i + 1;
                    break;
                }
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        out.extend(item[..end].chars().filter(|c| *c == '\n'));
        rest = &item[end..];
    }
    out.push_str(rest);
    out
}

/// Every path a piece of code names that starts at `crate`, `super` or `self`, with its line; `use` trees
/// with braces are expanded into one path per leaf.
fn paths_in(code: &str) -> Vec<(usize, Vec<String>)> {
    let mut out = Vec::new();
    let bytes: Vec<char> = code.chars().collect();
    let mut i = 0;
    let line_at = |i: usize| bytes[..i].iter().filter(|c| **c == '\n').count() + 1;
    while i < bytes.len() {
        let starts_word = i == 0 || !(bytes[i - 1].is_alphanumeric() || bytes[i - 1] == '_' || bytes[i - 1] == ':');
        let rest: String = bytes[i..bytes.len().min(i + 7)].iter().collect();
        if starts_word && (rest.starts_with("crate::") || rest.starts_with("super::") || rest.starts_with("self::")) {
            let (tree, end) = read_tree(&bytes, i);
            for path in expand(&tree) {
                out.push((line_at(i), path));
            }
            i = end;
        } else {
            i += 1;
        }
    }
    out
}

/// The path (or `use` tree) starting at `start`, and where it ends.
fn read_tree(bytes: &[char], start: usize) -> (String, usize) {
    let mut depth = 0;
    let mut i = start;
    let mut tree = String::new();
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            c if depth == 0 && !(c.is_alphanumeric() || c == '_' || c == ':') => break,
            _ => {}
        }
        tree.push(c);
        i += 1;
    }
    (tree, i)
}

/// `a::{b, c::{d}}` as `[a, b]` and `[a, c, d]`.
fn expand(tree: &str) -> Vec<Vec<String>> {
    let tree: String = tree.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(open) = tree.find('{') else {
        return vec![tree.split("::").filter(|s| !s.is_empty()).map(String::from).collect()];
    };
    let prefix: Vec<String> = tree[..open].split("::").filter(|s| !s.is_empty()).map(String::from).collect();
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut parts = Vec::new();
    let (mut depth, mut from) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[from..i]);
                from = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[from..]);
    let mut out = Vec::new();
    for part in parts.into_iter().filter(|p| !p.is_empty()) {
        for tail in expand(part) {
            let mut path = prefix.clone();
            path.extend(tail.into_iter().filter(|s| s != "self"));
            out.push(path);
        }
    }
    out
}

/// The names a module re-exports from each of its children (`pub use child::{A, B}`).
fn re_exports(krate: &Crate) -> BTreeMap<ModulePath, BTreeMap<String, ModulePath>> {
    let mut out: BTreeMap<ModulePath, BTreeMap<String, ModulePath>> = BTreeMap::new();
    for (module, source) in &krate.modules {
        let code = code_of(&source.text);
        for statement in code.split(';') {
            let statement = statement.trim();
            let Some(tree) = statement.strip_prefix("pub use ").or_else(|| statement.strip_prefix("pub(crate) use "))
            else {
                continue;
            };
            for path in expand(tree) {
                let (Some(first), Some(name)) = (path.first(), path.last()) else { continue };
                let mut child = module.clone();
                child.push(first.clone());
                if path.len() >= 2 && krate.modules.contains_key(&child) {
                    out.entry(module.clone()).or_default().insert(name.clone(), child);
                }
            }
        }
    }
    out
}

/// The module a path from `from` lands in.
fn resolve(
    krate: &Crate,
    exports: &BTreeMap<ModulePath, BTreeMap<String, ModulePath>>,
    from: &ModulePath,
    path: &[String],
) -> Option<ModulePath> {
    let mut at: ModulePath = Vec::new();
    let mut rest = path;
    match rest.first().map(String::as_str) {
        Some("crate") => rest = &rest[1..],
        Some("self") => {
            at = from.clone();
            rest = &rest[1..];
        }
        Some("super") => {
            at = from.clone();
            while rest.first().map(String::as_str) == Some("super") {
                at.pop()?;
                rest = &rest[1..];
            }
        }
        _ => return None,
    }
    for segment in rest {
        let mut child = at.clone();
        child.push(segment.clone());
        if krate.modules.contains_key(&child) {
            at = child;
        } else if let Some(defining) = exports.get(&at).and_then(|names| names.get(segment)) {
            at = defining.clone();
        } else {
            break;
        }
    }
    Some(at)
}

/// A reference from one module into another: where it is written.
#[derive(Clone, Debug)]
struct Reference {
    file: PathBuf,
    line: usize,
}

/// Circles among sibling modules of one crate, each as the siblings in it and one reference per edge.
fn circles(krate: &Crate) -> Vec<String> {
    let exports = re_exports(krate);
    // parent -> (child a -> child b -> a reference)
    let mut graphs: BTreeMap<ModulePath, BTreeMap<String, BTreeMap<String, Reference>>> = BTreeMap::new();
    for (module, source) in &krate.modules {
        for (line, path) in paths_in(&without_tests(&code_of(&source.text))) {
            let Some(target) = resolve(krate, &exports, module, &path) else { continue };
            let common = module.iter().zip(&target).take_while(|(a, b)| a == b).count();
            let (Some(a), Some(b)) = (module.get(common), target.get(common)) else { continue };
            graphs
                .entry(module[..common].to_vec())
                .or_default()
                .entry(a.clone())
                .or_default()
                .entry(b.clone())
                .or_insert(Reference { file: source.file.clone(), line });
        }
    }
    let mut out = Vec::new();
    for (parent, graph) in &graphs {
        for component in strongly_connected(graph).into_iter().filter(|c| c.len() > 1) {
            let mut text = format!(
                "crate {} module {}: {} depend on each other",
                krate.name,
                if parent.is_empty() { "(root)".to_string() } else { parent.join("::") },
                component.iter().cloned().collect::<Vec<_>>().join(", ")
            );
            for (a, edges) in graph.iter().filter(|(a, _)| component.contains(*a)) {
                for (b, r) in edges.iter().filter(|(b, _)| component.contains(*b)) {
                    text.push_str(&format!("\n    {a} -> {b} ({}:{})", r.file.display(), r.line));
                }
            }
            out.push(text);
        }
    }
    out
}

/// Tarjan's strongly connected components of a small graph.
fn strongly_connected(graph: &BTreeMap<String, BTreeMap<String, Reference>>) -> Vec<BTreeSet<String>> {
    struct Search<'g> {
        graph: &'g BTreeMap<String, BTreeMap<String, Reference>>,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        out: Vec<BTreeSet<String>>,
    }
    impl<'g> Search<'g> {
        fn visit(&mut self, node: &'g str) {
            let n = self.index.len();
            self.index.insert(node, n);
            self.low.insert(node, n);
            self.stack.push(node);
            self.on_stack.insert(node);
            for next in self.graph.get(node).into_iter().flat_map(|e| e.keys()) {
                if !self.index.contains_key(next.as_str()) {
                    self.visit(next);
                    let low = self.low[next.as_str()].min(self.low[node]);
                    self.low.insert(node, low);
                } else if self.on_stack.contains(next.as_str()) {
                    let low = self.index[next.as_str()].min(self.low[node]);
                    self.low.insert(node, low);
                }
            }
            if self.low[node] == self.index[node] {
                let mut component = BTreeSet::new();
                while let Some(top) = self.stack.pop() {
                    self.on_stack.remove(top);
                    component.insert(top.to_string());
                    if top == node {
                        break;
                    }
                }
                self.out.push(component);
            }
        }
    }
    let mut search = Search {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for node in graph.keys() {
        if !search.index.contains_key(node.as_str()) {
            search.visit(node);
        }
    }
    search.out
}

#[test]
fn no_crate_has_an_import_circle() {
    let crates = workspace_crates();
    assert!(crates.len() >= 5, "found the workspace's crates");
    let found: Vec<String> = crates.iter().flat_map(circles).collect();
    assert!(found.is_empty(), "{} import circle(s):\n{}", found.len(), found.join("\n"));
}

#[test]
fn the_checker_sees_a_circle_between_siblings_and_through_a_re_export() {
    let source = |text: &str| Source { file: PathBuf::from("x.rs"), text: text.to_string() };
    let krate = |b: &str| Crate {
        name: "example".into(),
        modules: BTreeMap::from([
            (vec![], source("mod a; mod b; pub use b::Thing;")),
            (vec!["a".to_string()], source("use crate::b::{self, other::{x}};\nfn f() {}")),
            (vec!["b".to_string()], source(b)),
        ]),
    };
    assert!(circles(&krate("pub struct Thing; // crate::a::f is prose")).is_empty());
    assert!(circles(&krate("pub struct Thing;\n#[cfg(test)]\nmod tests { use crate::a::f; }")).is_empty());
    let direct = circles(&krate("pub struct Thing; fn g() { crate::a::f() }"));
    assert_eq!(direct.len(), 1, "{direct:?}");
    assert!(direct[0].contains("a -> b (x.rs:1)") && direct[0].contains("b -> a (x.rs:1)"), "{direct:?}");
    // `super::Thing` from a child of the root is re-exported from `b`: an edge to `b`.
    let through = Crate {
        name: "example".into(),
        modules: BTreeMap::from([
            (vec![], source("mod a; mod b; pub use b::Thing;")),
            (vec!["a".to_string()], source("use super::Thing;")),
            (vec!["b".to_string()], source("pub struct Thing; use crate::a;")),
        ]),
    };
    assert_eq!(circles(&through).len(), 1);
}
