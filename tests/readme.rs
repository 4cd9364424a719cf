//! The README's Rust snippets are the compiled examples, verbatim: every ```rust block
//! whose first line names `examples/<file>.rs` must equal the part of that file between
//! `// README:start` and `// README:end` (without its indentation).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::Path;

fn region(source: &str) -> String {
    let start = source
        .find("// README:start\n")
        .expect("README:start marker");
    let end = source.find("// README:end").expect("README:end marker");
    let body = &source[start + "// README:start\n".len()..end];
    let body = &body[..body.rfind('\n').map_or(0, |i| i + 1)];
    let indent = body
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    body.lines()
        .map(|l| {
            if l.len() >= indent {
                &l[indent..]
            } else {
                l.trim_start()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn readme_snippets_are_the_compiled_examples() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let mut checked = 0;
    let mut rest = readme.as_str();
    while let Some(open) = rest.find("```rust\n") {
        let after = &rest[open + "```rust\n".len()..];
        let close = after.find("\n```").expect("unclosed code block");
        let block = &after[..close];
        rest = &after[close..];
        let Some(first) = block.lines().next() else {
            continue;
        };
        let Some(file) = first
            .strip_prefix("// ")
            .filter(|f| f.starts_with("examples/"))
        else {
            continue;
        };
        let source = std::fs::read_to_string(root.join(file)).unwrap();
        let shown = block[first.len()..].trim_start_matches('\n');
        assert_eq!(shown, region(&source), "README snippet differs from {file}");
        checked += 1;
    }
    assert!(
        checked >= 2,
        "expected the README to show the broker loop and the client"
    );
}
