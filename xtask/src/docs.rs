//! Checks that the manual agrees with the code: doc/testing.md names every
//! QEMU test and no other, doc/bootargs.md every boot argument the kernel
//! parses, and every relative link and `doc/…` citation resolves. Host unit
//! tests, so `cargo xtask test` (and CI) runs them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The repository's root (xtask's parent).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

/// The test names in the first column of a markdown table's rows. A name
/// written `-suffix` after another stands for that one's stem with the
/// suffix (`sync-vref-original`, `-fixed`).
fn table_names(md: &str) -> BTreeSet<String> {
    // Longest first, so that `-fixed-2` is not read as `-fixed`.
    let mut policies: Vec<String> = kcore::bootargs::UvnPolicy::ALL.iter().map(|p| format!("-{}", p.name())).collect();
    policies.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut names = BTreeSet::new();
    for line in md.lines().filter(|l| l.starts_with("| `")) {
        let first = line.split('|').nth(1).unwrap_or_default();
        let mut prev: Option<String> = None;
        for tok in first.split('`').skip(1).step_by(2) {
            let name = match (&prev, tok.strip_prefix('-')) {
                (Some(p), Some(_)) => {
                    let stem = policies.iter().find_map(|s| p.strip_suffix(s.as_str())).unwrap_or(p);
                    format!("{stem}{tok}")
                }
                _ => tok.to_string(),
            };
            names.insert(name.clone());
            prev = Some(name);
        }
    }
    names
}

/// The keys the kernel's boot-argument parser accepts: the string arms of
/// its top-level match.
fn parser_keys(src: &str) -> BTreeSet<String> {
    src.lines().filter_map(|l| l.strip_prefix("            \"")?.split_once("\" =>").map(|(k, _)| k.to_string())).filter(|k| !k.is_empty()).collect()
}

/// Relative link targets in markdown (`](path)`, anchor dropped).
fn md_links(md: &str) -> Vec<String> {
    md.split("](")
        .skip(1)
        .filter_map(|s| s.split_once(')').map(|(t, _)| t.split('#').next().unwrap_or_default().to_string()))
        .filter(|t| !t.is_empty() && !t.contains("://") && !t.starts_with("mailto:"))
        .collect()
}

/// `doc/NAME.md` (or `.svg`) citations in any text.
fn doc_citations(text: &str) -> Vec<String> {
    text.match_indices("doc/")
        .filter(|(i, _)| *i == 0 || !text.as_bytes()[i - 1].is_ascii_alphanumeric())
        .filter_map(|(i, _)| {
            let rest = &text[i..];
            let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || "/-_.".contains(c))).unwrap_or(rest.len());
            let cite = rest[..end].trim_end_matches('.');
            (cite.ends_with(".md") || cite.ends_with(".svg")).then(|| cite.to_string())
        })
        .collect()
}

/// Files the citation check reads: the markdown pages and every source
/// file of the repository's crates and CI.
fn cited_files(root: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else { return };
        for e in rd.flatten() {
            let p = e.path();
            let name = e.file_name();
            if p.is_dir() {
                if name != "target" && name != ".git" {
                    walk(&p, out);
                }
            } else if p.extension().is_some_and(|x| x == "rs" || x == "md") || name == "run" {
                out.push(p);
            }
        }
    }
    let mut out = vec![root.join("README.md")];
    for d in ["doc", "xtask/src", "kernel", "boot", ".ci"] {
        walk(&root.join(d), &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn testing_md_names_every_qemu_test() {
        let md = std::fs::read_to_string(root().join("doc/testing.md")).expect("doc/testing.md");
        let documented = table_names(&md);
        let code: BTreeSet<String> = crate::test::test_names().iter().map(|s| s.to_string()).collect();
        let missing: Vec<&String> = code.difference(&documented).collect();
        let extra: Vec<&String> = documented.difference(&code).collect();
        assert!(missing.is_empty() && extra.is_empty(), "doc/testing.md lacks {missing:?} and names tests that do not exist: {extra:?}");
    }

    #[test]
    fn bootargs_md_names_every_boot_argument() {
        let src = std::fs::read_to_string(root().join("kernel/kcore/src/bootargs.rs")).expect("bootargs.rs");
        let md = std::fs::read_to_string(root().join("doc/bootargs.md")).expect("doc/bootargs.md");
        let keys = parser_keys(&src);
        assert!(keys.len() > 20, "found only {} keys in the parser: {keys:?}", keys.len());
        let missing: Vec<&String> = keys.iter().filter(|k| !md.contains(&format!("`{k}="))).collect();
        assert!(missing.is_empty(), "doc/bootargs.md has no row for {missing:?}");
    }

    #[test]
    fn links_and_doc_citations_resolve() {
        let root = root();
        let mut broken = Vec::new();
        // This file's own examples are not citations.
        for f in cited_files(&root).into_iter().filter(|f| !f.ends_with("xtask/src/docs.rs")) {
            let Ok(text) = std::fs::read_to_string(&f) else { continue };
            if f.extension().is_some_and(|x| x == "md") {
                let dir = f.parent().unwrap_or(&root);
                broken.extend(md_links(&text).into_iter().filter(|l| !dir.join(l).exists()).map(|l| format!("{}: link {l}", f.display())));
            }
            broken.extend(doc_citations(&text).into_iter().filter(|c| !root.join(c).exists()).map(|c| format!("{}: {c}", f.display())));
        }
        assert!(broken.is_empty(), "unresolved: {broken:#?}");
    }

    #[test]
    fn the_parsers_of_the_checks() {
        let md = "| `a-original`, `-fixed-2` | x |\n| `b` | `test=b` |\nnot a row `c`\n";
        let want: BTreeSet<String> = ["a-original", "a-fixed-2", "b"].iter().map(|s| s.to_string()).collect();
        assert_eq!(table_names(md), want);
        assert_eq!(parser_keys("            \"seed\" => x,\n                \"all\" => y,\n"), BTreeSet::from(["seed".to_string()]));
        assert_eq!(md_links("see [a](doc/x.md#y) and [b](https://z) [c](../y.rs)"), vec!["doc/x.md", "../y.rs"]);
        assert_eq!(doc_citations("(doc/findings.md F6), xdoc/no.md, doc/explain-original.svg."), vec!["doc/findings.md", "doc/explain-original.svg"]);
    }
}
