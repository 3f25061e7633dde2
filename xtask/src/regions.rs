//! Marked regions of a Markdown file that a tool writes, not a person: `cargo x book --update`
//! rewrites them and `cargo x check` fails when one is stale (see [`crate::book_gen`]).
//!
//! A region starts with an HTML comment `<!-- x:KIND ARGS -->` and ends with `<!-- x:end -->`;
//! mdBook renders neither. KIND is `generated` (the whole body is a tool's output) or `measured`
//! (a measurement that cannot be repeated exactly: only its caption is generated). A region is
//!
//! - a *block* when its start marker is alone on its line: the body is the whole lines between
//!   that line and the line holding the end marker (also alone on it);
//! - *inline* otherwise: both markers on one line, and the body is the text between them, e.g.
//!   `<!-- x:generated tests 1 -->57<!-- x:end -->`.
//!
//! Regions do not nest. Markers inside fenced code blocks are text, not markers, so a chapter
//! can show one.

use std::ops::Range;

/// What opens a region, before its kind.
const START: &str = "<!-- x:";
/// What closes a region.
const END: &str = "<!-- x:end -->";
/// What closes the start marker.
const CLOSE: &str = "-->";

/// One marked region of a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    /// `generated` or `measured`.
    pub kind: String,
    /// The words after the kind, e.g. `grade 1`.
    pub args: String,
    /// Where the body lies in the text (between the markers; for a block, whole lines).
    pub body: Range<usize>,
    /// Whether the region is inline (both markers on one line).
    pub inline: bool,
    /// The 1-based line of the start marker.
    pub line: usize,
}

/// Every region of `text`, in order; an error names the line of a marker that has no partner,
/// or of a block end marker that is not alone on its line.
pub fn parse(text: &str) -> Result<Vec<Region>, String> {
    let mut regions = Vec::new();
    let mut open: Option<Open> = None;
    for (number, start, line) in lines_outside_fences(text) {
        let mut column = 0;
        while column < line.len() {
            let rest = &line[column..];
            let Some(found) = rest.find(START) else {
                break;
            };
            let at = column + found;
            if line[at..].starts_with(END) {
                let Some(opened) = open.take() else {
                    return Err(format!("line {number}: `{END}` without a start marker"));
                };
                if opened.block && line.trim() != END {
                    return Err(format!(
                        "line {number}: the end of the block region opened on line {} must be \
                         alone on its line",
                        opened.line
                    ));
                }
                let body_end = if opened.block { start } else { start + at };
                regions.push(Region {
                    kind: opened.kind,
                    args: opened.args,
                    body: opened.body_start..body_end,
                    inline: !opened.block,
                    line: opened.line,
                });
                column = at + END.len();
                continue;
            }
            let Some(length) = line[at..].find(CLOSE) else {
                return Err(format!("line {number}: a region marker without `{CLOSE}`"));
            };
            let marker = &line[at + START.len()..at + length];
            if let Some(opened) = &open {
                return Err(format!(
                    "line {number}: a region starts inside the region opened on line {} (regions \
                     do not nest)",
                    opened.line
                ));
            }
            let marker_end = at + length + CLOSE.len();
            let (kind, args) = marker.trim().split_once(' ').unwrap_or((marker.trim(), ""));
            let starts_line = line[..at].trim().is_empty();
            let block = starts_line && line[marker_end..].trim().is_empty();
            if starts_line && !block {
                // Markdown reads a line that starts with a comment as an HTML block: the
                // paragraph around an inline region would be cut in two.
                return Err(format!(
                    "line {number}: an inline region must not start its line (Markdown would \
                     read the line as an HTML block)"
                ));
            }
            let body_start = if block {
                start + line.len() + 1
            } else {
                start + marker_end
            };
            open = Some(Open {
                kind: kind.to_string(),
                args: args.trim().to_string(),
                body_start: body_start.min(text.len()),
                line: number,
                block,
            });
            column = marker_end;
        }
        if open
            .as_ref()
            .is_some_and(|opened| !opened.block && opened.line == number)
        {
            return Err(format!(
                "line {number}: an inline region must end on the line it starts (`{END}`)"
            ));
        }
    }
    if let Some(opened) = open {
        return Err(format!("line {}: a region without `{END}`", opened.line));
    }
    Ok(regions)
}

/// A region whose end marker has not been seen yet.
struct Open {
    kind: String,
    args: String,
    /// Where its body starts.
    body_start: usize,
    /// The line of its start marker.
    line: usize,
    /// Whether its start marker is alone on its line.
    block: bool,
}

/// `text` with the body of every region replaced by what `body` returns for it (`None` keeps the
/// body as it is). A block body gets a final line break if it lacks one.
pub fn rewrite<E>(
    text: &str,
    regions: &[Region],
    mut body: impl FnMut(&Region) -> Result<Option<String>, E>,
) -> Result<String, E> {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for region in regions {
        out.push_str(&text[copied..region.body.start]);
        match body(region)? {
            Some(mut new) => {
                if !region.inline && !new.is_empty() && !new.ends_with('\n') {
                    new.push('\n');
                }
                out.push_str(&new);
            }
            None => out.push_str(&text[region.body.clone()]),
        }
        copied = region.body.end;
    }
    out.push_str(&text[copied..]);
    Ok(out)
}

/// The lines of `text` outside fenced code blocks: 1-based number, byte offset, text (without
/// the line break).
fn lines_outside_fences(text: &str) -> Vec<(usize, usize, &str)> {
    let mut lines = Vec::new();
    let mut fence: Option<String> = None;
    let mut offset = 0;
    for (index, raw) in text.split_inclusive('\n').enumerate() {
        let start = offset;
        offset += raw.len();
        let line = raw.trim_end_matches(['\n', '\r']);
        let trimmed = line.trim_start();
        let first = trimmed.chars().next().filter(|&c| c == '`' || c == '~');
        let marker: String = trimmed.chars().take_while(|&c| Some(c) == first).collect();
        let is_fence = marker.len() >= 3;
        match &fence {
            Some(open) => {
                if is_fence
                    && marker.starts_with(open.as_str())
                    && trimmed[marker.len()..].trim().is_empty()
                {
                    fence = None;
                }
            }
            None if is_fence => fence = Some(marker),
            None => lines.push((index + 1, start, line)),
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_and_inline_regions_are_found_with_their_bodies() {
        let text = "Intro\n<!-- x:generated grade 1 -->\n```text\nold\n```\n<!-- x:end -->\n\
                    Day 1 has <!-- x:generated tests 1 -->49<!-- x:end --> tests.\n";
        let regions = parse(text).unwrap();
        assert_eq!(regions.len(), 2, "{regions:?}");
        assert_eq!(
            (regions[0].kind.as_str(), regions[0].args.as_str()),
            ("generated", "grade 1")
        );
        assert!(!regions[0].inline);
        assert_eq!(regions[0].line, 2);
        assert_eq!(&text[regions[0].body.clone()], "```text\nold\n```\n");
        assert!(regions[1].inline);
        assert_eq!(regions[1].args, "tests 1");
        assert_eq!(&text[regions[1].body.clone()], "49");
    }

    #[test]
    fn rewriting_replaces_only_the_bodies() {
        let text = "a\n<!-- x:generated grade 1 -->\nold\n<!-- x:end -->\n\
                    b <!-- x:generated tests 1 -->49<!-- x:end --> c \
                    <!-- x:measured 2026-01-01 `x` -->kept<!-- x:end -->\n";
        let regions = parse(text).unwrap();
        let new = rewrite(text, &regions, |region| {
            Ok::<_, ()>(match region.args.as_str() {
                "grade 1" => Some("new\nlines".to_string()),
                "tests 1" => Some("57".to_string()),
                _ => None,
            })
        })
        .unwrap();
        assert_eq!(
            new,
            "a\n<!-- x:generated grade 1 -->\nnew\nlines\n<!-- x:end -->\n\
             b <!-- x:generated tests 1 -->57<!-- x:end --> c \
             <!-- x:measured 2026-01-01 `x` -->kept<!-- x:end -->\n"
        );
        // Rewriting is idempotent: the new text has the same regions, with the new bodies.
        let again = parse(&new).unwrap();
        assert_eq!(again.len(), 3);
        assert_eq!(&new[again[0].body.clone()], "new\nlines\n");
    }

    #[test]
    fn an_empty_block_body_can_be_filled() {
        let text = "<!-- x:generated grade 2 -->\n<!-- x:end -->\n";
        let regions = parse(text).unwrap();
        assert_eq!(regions[0].body.clone().count(), 0);
        let new = rewrite(text, &regions, |_| Ok::<_, ()>(Some("x".into()))).unwrap();
        assert_eq!(new, "<!-- x:generated grade 2 -->\nx\n<!-- x:end -->\n");
    }

    #[test]
    fn markers_in_code_blocks_are_text() {
        let text = "```md\n<!-- x:generated tests 1 -->\n```\nplain\n";
        assert_eq!(parse(text).unwrap(), []);
    }

    #[test]
    fn broken_markers_are_errors_that_name_the_line() {
        let cases = [
            ("<!-- x:generated a -->\nbody\n", "line 1: a region without"),
            ("x\n<!-- x:end -->\n", "line 2: `<!-- x:end -->` without"),
            (
                "<!-- x:generated a -->\n<!-- x:generated b -->\n<!-- x:end -->\n",
                "line 2: a region starts inside",
            ),
            (
                "<!-- x:generated a -->\nbody <!-- x:end -->\n",
                "line 2: the end of the block region",
            ),
            (
                "see <!-- x:generated a -->\nbody\n",
                "line 1: an inline region",
            ),
            ("<!-- x:generated a\n", "line 1: a region marker without"),
            (
                "text\n<!-- x:generated a -->1<!-- x:end --> more\n",
                "line 2: an inline region must not start its line",
            ),
        ];
        for (text, expected) in cases {
            let error = parse(text).unwrap_err();
            assert!(error.starts_with(expected), "{text:?}: {error}");
        }
    }
}
