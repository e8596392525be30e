//! Checks that a picture's SVG text is well-formed: tags balanced, attributes quoted (the
//! subset of XML the pictures use). Shared by `insight_plot.rs` and `insight_pictures.rs`.
#![allow(dead_code)]

/// Panics, naming `what`, unless every tag closes in order and every tag's quotes pair up.
pub fn assert_well_formed(svg: &str, what: &str) {
    let mut stack: Vec<String> = Vec::new();
    let mut rest = svg;
    while let Some(open) = rest.find('<') {
        let close = rest[open..].find('>').expect("tag closes") + open;
        let tag = &rest[open + 1..close];
        assert_eq!(tag.matches('"').count() % 2, 0, "{what}: unbalanced quotes in <{tag}>");
        if let Some(end) = tag.strip_prefix('/') {
            assert_eq!(stack.pop().as_deref(), Some(end), "{what}: </{end}>");
        } else if !tag.ends_with('/') && !tag.starts_with('?') && !tag.starts_with('!') {
            stack.push(tag.split_whitespace().next().unwrap().to_string());
        }
        rest = &rest[close + 1..];
    }
    assert!(stack.is_empty(), "{what}: unclosed {stack:?}");
}

/// The text content of every `<text …>…</text>` element, trimmed.
pub fn texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| {
            let start = t.find('>')? + 1;
            let end = t.find("</text>")?;
            Some(t[start..end].trim().to_string())
        })
        .collect()
}
