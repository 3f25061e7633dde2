//! The starter transformation of one Rust source file.
//!
//! The reference marks student work with plain `//` comments, each on a line of its own:
//!
//! ```text
//!     pub fn get(&self, key: &[u8]) -> Option<Bytes> {
//!         // BEGIN SOLUTION day 3: MemTable::get — look the key up in the skip map
//!         self.map.get(key).map(|entry| entry.value().clone())
//!         // END SOLUTION
//!     }
//!
//!     // BEGIN SOLUTION HELPERS
//!     fn helper_only_the_solution_needs(&self) {}
//!     // END SOLUTION
//! ```
//!
//! A `day N` region becomes `todo!("day N: Type::method — hint")` at the marker's indentation; a
//! `HELPERS` region disappears, markers included. Regions never nest. The `method` in a day
//! marker must be the name of the nearest `fn` above the marker, which catches markers copied
//! from one method to another. A region must not call a failpoint (a line of code with
//! `failpoint::`): the fault-injection layer has to work on the starter, so its call sites are
//! all in given code, and a transform that would drop one fails, naming the file and line.
//!
//! Every file that lost code gets module-level `allow`s (see [`STARTER_ALLOWS`]) so that the
//! pristine starter builds without warnings; so does a file with the line `// STARTER ALLOWS`
//! (support code that only solutions use, dead in the starter).
//!
//! A later day can change code an earlier day's region holds (day 7's prefix compression changes
//! day 1's block builder). Inside a region, the later day's code goes between
//! `// LATER DAY N: what it does` and `// BEFORE DAY N: what the earlier days do instead`, and
//! the earlier days' version follows as commented-out lines until `// END DAY N`:
//!
//! ```text
//!         // LATER DAY 7: store only what follows the prefix shared with the first key
//!         let overlap = shared_prefix_len(&self.first_key, key);
//!         // BEFORE DAY 7: every key is stored whole
//!         // let overlap = 0;
//!         // END DAY 7
//! ```
//!
//! The pristine starter drops the whole region as usual. A starter that begins at a later day
//! (`cargo x starter --from-day F`, which keeps the solutions of the days before F) keeps the
//! day-N version when N < F and otherwise the earlier days' version, uncommented, so that day N's
//! work is still left to do.
//!
//! The output is already formatted the way rustfmt (default `max_width`) would format it, so the
//! generated starter passes `cargo fmt --check`.

use anyhow::{Result, anyhow, bail};

/// Lints allowed in every starter file that lost solution code: parameters and fields that only
/// the missing code used, imports of helpers that are gone, and code after a `todo!()`.
pub const STARTER_ALLOWS: &[&str] = &[
    "unused_variables",
    "unused_imports",
    "unused_mut",
    "dead_code",
    "unreachable_code",
    "clippy::ptr_arg",
];

/// rustfmt's default `max_width`; a generated line longer than this is broken the way rustfmt
/// breaks it. Widths are counted in `char`s, which is exact for the ASCII and em dash of hints.
const MAX_WIDTH: usize = 100;

/// rustfmt's default `attr_fn_like_width`: the widest argument list an attribute keeps on one
/// line.
const ATTR_FN_LIKE_WIDTH: usize = 70;

/// rustfmt's default indentation step.
const INDENT: &str = "    ";

/// The start of every opening marker.
const BEGIN: &str = "// BEGIN SOLUTION";

/// The closing marker, the whole line (after indentation).
const END: &str = "// END SOLUTION";

/// The markers of a later day's variant inside a region (see the module documentation).
const LATER_DAY: &str = "// LATER DAY ";
const BEFORE_DAY: &str = "// BEFORE DAY ";
const END_DAY: &str = "// END DAY ";

/// Which part of a later day's variant a line is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    /// Outside any variant.
    None,
    /// Between `LATER DAY N` and `BEFORE DAY N`: day N's code.
    Later(u8),
    /// Between `BEFORE DAY N` and `END DAY N`: the earlier days' code, commented out.
    Before(u8),
}

/// A directive line giving a file without solution regions the starter's `allow`s anyway: for
/// support code that only the solution uses, so that it would be dead code in the starter.
const ALLOWS_DIRECTIVE: &str = "// STARTER ALLOWS";

/// The shape every day marker must have, quoted in error messages.
const DAY_MARKER_SHAPE: &str = "`// BEGIN SOLUTION day N: Type::method — hint`";

/// One marker line.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Marker {
    /// `// STARTER ALLOWS`.
    Allows,
    /// `// BEGIN SOLUTION day N: Type::method — hint`.
    BeginDay(DayMarker),
    /// `// BEGIN SOLUTION HELPERS`.
    BeginHelpers,
    /// `// END SOLUTION`.
    End,
}

/// What a day marker says.
#[derive(Debug, Clone, PartialEq, Eq)]
struct DayMarker {
    /// The day, 1 ..= 7.
    day: u8,
    /// The `method` of `Type::method`.
    method: String,
    /// `day N: Type::method — hint`, the message of the `todo!()` that replaces the region.
    message: String,
}

/// A region whose `BEGIN` marker has been seen and whose `END` has not.
struct OpenRegion {
    /// 1-based line number of the `BEGIN` marker.
    line: usize,
    /// The indentation of the `BEGIN` marker, reused for the `todo!()`.
    indent: String,
    /// `Some` for a day region, `None` for a helpers region.
    day: Option<DayMarker>,
    /// Whether the region's solution stays (its day comes before the starter's first day).
    solved: bool,
}

/// Transforms one reference source file into its pristine starter version. `file` only names
/// the file in error messages (`file:line: …`). A file without markers is returned unchanged.
#[cfg(test)]
fn transform(file: &str, source: &str) -> Result<String> {
    transform_from_day(file, source, 1)
}

/// Like [`transform`], for a starter that begins at day `first_day`: the solutions of earlier
/// days stay (only their marker lines go), and so do the helpers regions, which the solved days
/// may use (those that only later days use are unused code until then, which the file's allows
/// cover). `first_day` 1 is the pristine starter.
pub fn transform_from_day(file: &str, source: &str, first_day: u8) -> Result<String> {
    let keep_helpers = first_day > 1;
    let lines: Vec<&str> = source.lines().collect();
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    // Positions in `out` where lines were removed (a helpers region, the allows directive), to
    // tidy blank lines afterwards.
    let mut gaps = Vec::new();
    let mut open: Option<OpenRegion> = None;
    let mut regions = 0;
    let mut max_day = None;
    let mut allows = false;

    let mut variant = Variant::None;
    for (index, line) in lines.iter().enumerate() {
        let number = index + 1;
        let at = |message: String| anyhow!("{file}:{number}: {message}");
        if let Some(next) = parse_variant(line, variant).map_err(at)? {
            if open.is_none() {
                bail!("{file}:{number}: a later day's variant must be inside a solution region");
            }
            variant = next;
            continue;
        }
        let marker = parse_marker(line).map_err(|message| anyhow!("{file}:{number}: {message}"))?;
        if marker.is_some() && variant != Variant::None {
            bail!("{file}:{number}: a later day's variant is not closed by `{END_DAY}N`");
        }
        if open.is_some() && marker.is_none() && calls_failpoint(line, variant) {
            bail!(
                "{file}:{number}: a failpoint call (`{FAILPOINT_PATH}`) inside a solution region: \
                 the starter would lose it, and its crash window would never fire there. Move it \
                 into given code (`fs`, `record_file`, or a given wrapper around the student's \
                 part; see failpoint.rs)"
            );
        }
        match marker {
            None if open.is_none() => out.push(line.to_string()),
            None if open.as_ref().is_some_and(|region| region.solved) => match variant {
                Variant::None => out.push(line.to_string()),
                Variant::Later(day) if day < first_day => out.push(line.to_string()),
                Variant::Before(day) if day >= first_day => out.push(uncomment(line).map_err(at)?),
                _ => {} // the other version of a later day's variant
            },
            None => {} // a solution line: dropped
            Some(Marker::Allows) => {
                allows = true;
                gaps.push(out.len());
            }
            Some(Marker::End) => {
                let Some(region) = open.take() else {
                    bail!("{file}:{number}: `{END}` without a `{BEGIN} …` before it");
                };
                regions += 1;
                match region.day {
                    _ if region.solved => gaps.push(out.len()),
                    Some(day) => {
                        let tail = is_tail_expression(&lines[index + 1..]);
                        out.extend(todo_lines(&region.indent, &day.message, tail));
                    }
                    None => gaps.push(out.len()),
                }
            }
            Some(begin) => {
                if let Some(region) = &open {
                    bail!(
                        "{file}:{number}: a solution region starts inside the one opened at line \
                         {}; regions never nest",
                        region.line
                    );
                }
                let day = match begin {
                    Marker::BeginDay(day) => {
                        check_enclosing_fn(&lines[..index], &day.method)
                            .map_err(|message| anyhow!("{file}:{number}: {message}"))?;
                        Some(day)
                    }
                    _ => None,
                };
                let solved = match &day {
                    Some(day) => day.day < first_day,
                    None => keep_helpers,
                };
                if let Some(day) = day.as_ref().filter(|_| !solved) {
                    max_day = max_day.max(Some(day.day));
                }
                open = Some(OpenRegion {
                    line: number,
                    indent: indentation(line).to_string(),
                    day,
                    solved,
                });
            }
        }
    }
    if let Some(region) = open {
        bail!(
            "{file}:{}: `{BEGIN} …` is never closed by `{END}`",
            region.line
        );
    }
    if regions == 0 && !allows {
        return Ok(source.to_string());
    }

    for &gap in gaps.iter().rev() {
        tidy_gap(&mut out, gap);
    }
    insert_after_inner_docs(&mut out, allow_header(max_day));
    let mut text = out.join("\n");
    if source.ends_with('\n') {
        text.push('\n');
    }
    Ok(text)
}

/// What every call into the engine's failpoint module contains.
const FAILPOINT_PATH: &str = "failpoint::";

/// Whether `line` of a solution region, in part `variant` of it, calls a failpoint. The
/// fault-injection layer must work on the starter too, so its call sites must all be in given
/// code: a region is the student's to write, and a starter has a `todo!()` in its place. A
/// comment that only mentions the module is fine, except in an earlier days' variant, whose
/// commented-out lines become code in a starter that begins at that day.
fn calls_failpoint(line: &str, variant: Variant) -> bool {
    let comment = line.trim_start().starts_with("//");
    line.contains(FAILPOINT_PATH) && (!comment || matches!(variant, Variant::Before(_)))
}

/// Recognises the markers of a later day's variant, given the part the previous line was in:
/// `Ok(Some(part))` for a marker (the part the lines after it are in), `Ok(None)` for any other
/// line, `Err` for a marker out of order.
fn parse_variant(line: &str, current: Variant) -> Result<Option<Variant>, String> {
    let code = line.trim();
    let day = |rest: &str| -> Result<u8, String> {
        let number = rest.split(':').next().unwrap_or("").trim();
        number
            .parse()
            .map_err(|_| format!("`{number}` is not a day number"))
    };
    if let Some(rest) = code.strip_prefix(LATER_DAY) {
        return match current {
            Variant::None => Ok(Some(Variant::Later(day(rest)?))),
            _ => Err("`LATER DAY` inside another variant".into()),
        };
    }
    if let Some(rest) = code.strip_prefix(BEFORE_DAY) {
        return match current {
            Variant::Later(later) if later == day(rest)? => Ok(Some(Variant::Before(later))),
            _ => Err("`BEFORE DAY N` must follow `LATER DAY N`".into()),
        };
    }
    if let Some(rest) = code.strip_prefix(END_DAY) {
        return match current {
            Variant::Before(later) if later == day(rest)? => Ok(Some(Variant::None)),
            _ => Err("`END DAY N` must follow `BEFORE DAY N`".into()),
        };
    }
    Ok(None)
}

/// A commented-out line of an earlier days' variant, uncommented: `    // let x = 0;` becomes
/// `    let x = 0;`.
fn uncomment(line: &str) -> Result<String, String> {
    let indent = indentation(line);
    let code = &line[indent.len()..];
    match code.strip_prefix("// ").or_else(|| code.strip_prefix("//")) {
        Some(code) => Ok(format!("{indent}{code}")),
        None => Err("the earlier days' version must be commented out with `//`".into()),
    }
}

/// Recognises a marker line. `Ok(None)` for an ordinary line; `Err` for a line that looks like a
/// marker but is malformed, so that a typo never leaves solution code in the starter.
fn parse_marker(line: &str) -> Result<Option<Marker>, String> {
    let code = line.trim();
    if code == ALLOWS_DIRECTIVE {
        return Ok(Some(Marker::Allows));
    }
    if code.starts_with(ALLOWS_DIRECTIVE) {
        return Err(format!("unexpected text after `{ALLOWS_DIRECTIVE}`"));
    }
    if let Some(rest) = code.strip_prefix(BEGIN) {
        return parse_begin(rest).map(Some);
    }
    if let Some(rest) = code.strip_prefix(END) {
        return match rest.trim() {
            "" => Ok(Some(Marker::End)),
            _ => Err(format!("unexpected text after `{END}`: `{rest}`")),
        };
    }
    let is_doc = code.starts_with("///") || code.starts_with("//!");
    if !is_doc && (code.contains("BEGIN SOLUTION") || code.contains("END SOLUTION")) {
        return Err(format!(
            "a solution marker must be a `//` comment on a line of its own, written exactly \
             {DAY_MARKER_SHAPE}, `{BEGIN} HELPERS` or `{END}`"
        ));
    }
    Ok(None)
}

/// Parses what follows `// BEGIN SOLUTION`: ` HELPERS` or ` day N: Type::method — hint`.
fn parse_begin(rest: &str) -> Result<Marker, String> {
    if rest.trim_end() == " HELPERS" {
        return Ok(Marker::BeginHelpers);
    }
    let Some(after_day) = rest.strip_prefix(" day ") else {
        return Err(format!("expected {DAY_MARKER_SHAPE} or `{BEGIN} HELPERS`"));
    };
    let (number, description) = after_day.split_once(": ").ok_or_else(|| {
        format!("missing `: Type::method — hint` after the day; expected {DAY_MARKER_SHAPE}")
    })?;
    let day = number
        .parse::<u8>()
        .ok()
        .filter(|day| crate::course::DAYS.contains(day))
        .ok_or_else(|| {
            format!(
                "`{number}` is not a day from 1 to {}",
                crate::course::LAST_DAY
            )
        })?;
    let (path, hint) = description.split_once(" — ").ok_or_else(|| {
        format!("missing ` — hint` (an em dash) after `Type::method`; expected {DAY_MARKER_SHAPE}")
    })?;
    let (type_name, method) = path
        .rsplit_once("::")
        .ok_or_else(|| format!("`{path}` is not `Type::method`; expected {DAY_MARKER_SHAPE}"))?;
    if type_name.is_empty() || type_name.contains(char::is_whitespace) || !is_identifier(method) {
        return Err(format!(
            "`{path}` is not `Type::method`; expected {DAY_MARKER_SHAPE}"
        ));
    }
    if hint.trim().is_empty() {
        return Err(format!(
            "the hint after ` — ` is empty; expected {DAY_MARKER_SHAPE}"
        ));
    }
    Ok(Marker::BeginDay(DayMarker {
        day,
        method: method.to_string(),
        message: format!("day {day}: {path} — {}", hint.trim()),
    }))
}

/// Whether `word` is a plain Rust identifier.
fn is_identifier(word: &str) -> bool {
    let mut chars = word.chars();
    chars
        .next()
        .is_some_and(|first| first.is_alphabetic() || first == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
}

/// Checks that the nearest `fn` above a day marker (`above` holds the lines before it) is the
/// method the marker names.
fn check_enclosing_fn(above: &[&str], method: &str) -> Result<(), String> {
    match above.iter().rev().find_map(|line| fn_name(line)) {
        Some(name) if name == method => Ok(()),
        Some(name) => Err(format!(
            "the marker names `{method}`, but the nearest function above it is `fn {name}`"
        )),
        None => Err(format!(
            "the marker names `{method}`, but there is no `fn` above it"
        )),
    }
}

/// The name of the function a line declares (`pub(crate) fn name<T>(…`), if any; comments are
/// not declarations.
fn fn_name(line: &str) -> Option<String> {
    let code = line.trim_start();
    if code.starts_with("//") {
        return None;
    }
    let mut words = code.split_whitespace();
    words.by_ref().find(|&word| word == "fn")?;
    let name: String = words
        .next()?
        .chars()
        .take_while(|&c| c.is_alphanumeric() || c == '_')
        .collect();
    (!name.is_empty()).then_some(name)
}

/// The leading whitespace of a line.
fn indentation(line: &str) -> &str {
    &line[..line.len() - line.trim_start().len()]
}

/// Whether a region followed by `rest` ends its block, so that its `todo!()` is the block's tail
/// expression and takes no semicolon.
fn is_tail_expression(rest: &[&str]) -> bool {
    rest.iter()
        .map(|line| line.trim())
        .find(|code| !code.is_empty() && !code.starts_with("//"))
        .is_none_or(|code| code.starts_with('}'))
}

/// The `todo!("message")` replacing a day region, on one line, or on three as rustfmt writes a
/// call that does not fit.
fn todo_lines(indent: &str, message: &str, tail: bool) -> Vec<String> {
    let literal = format_string_literal(message);
    let semicolon = if tail { "" } else { ";" };
    let one_line = format!("{indent}todo!({literal}){semicolon}");
    if width(&one_line) <= MAX_WIDTH {
        return vec![one_line];
    }
    vec![
        format!("{indent}todo!("),
        format!("{indent}{INDENT}{literal}"),
        format!("{indent}){semicolon}"),
    ]
}

/// A string literal that, used as a format string, displays exactly `text`.
fn format_string_literal(text: &str) -> String {
    let mut literal = String::with_capacity(text.len() + 2);
    literal.push('"');
    for c in text.chars() {
        match c {
            '\\' => literal.push_str("\\\\"),
            '"' => literal.push_str("\\\""),
            '{' => literal.push_str("{{"),
            '}' => literal.push_str("}}"),
            _ => literal.push(c),
        }
    }
    literal.push('"');
    literal
}

/// The display width of a line, as rustfmt counts it for ASCII and the em dash.
fn width(line: &str) -> usize {
    line.chars().count()
}

/// Whether a line is empty or only whitespace.
fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

/// Removes the blank line a removed region may leave where rustfmt allows none: a second blank
/// line in a row, a blank line right after `{` or right before `}`, or at either end of the file;
/// and writes a block left empty as `{}`, as rustfmt does. `gap` is the position in `out` where
/// the region was.
fn tidy_gap(out: &mut Vec<String>, gap: usize) {
    let before = gap.checked_sub(1).map(|i| out[i].as_str());
    let after = out.get(gap).map(String::as_str);
    let opens_block = before.is_none_or(|line| line.trim_end().ends_with('{'));
    let closes_block = after.is_none_or(|line| line.trim_start().starts_with('}'));
    if before.is_some() && after.is_some() && opens_block && closes_block {
        let closing = out.remove(gap);
        out[gap - 1] = format!("{}{}", out[gap - 1].trim_end(), closing.trim_start());
    } else if after.is_some_and(is_blank) && (before.is_some_and(is_blank) || opens_block) {
        out.remove(gap);
    } else if before.is_some_and(is_blank) && closes_block {
        out.remove(gap - 1);
    }
}

/// The note and `#![allow(…)]` every transformed file gets.
fn allow_header(max_day: Option<u8>) -> Vec<String> {
    let note = match max_day {
        Some(day) => format!(
            "// TODO(you): remove these allows once you have finished day {day} in this file."
        ),
        None => "// TODO(you): remove these allows once your code uses this file's helpers.".into(),
    };
    let mut header = vec![note];
    header.extend(allow_attribute(STARTER_ALLOWS));
    header
}

/// `#![allow(…)]` for `lints`, on one line or, when that is too wide, one lint per line as
/// rustfmt writes it.
fn allow_attribute(lints: &[&str]) -> Vec<String> {
    let arguments = lints.join(", ");
    let one_line = format!("#![allow({arguments})]");
    if width(&arguments) <= ATTR_FN_LIKE_WIDTH && width(&one_line) <= MAX_WIDTH {
        return vec![one_line];
    }
    let mut lines = vec!["#![allow(".to_string()];
    let last = lints.len().saturating_sub(1);
    for (i, lint) in lints.iter().enumerate() {
        let comma = if i == last { "" } else { "," };
        lines.push(format!("{INDENT}{lint}{comma}"));
    }
    lines.push(")]".to_string());
    lines
}

/// Inserts `header` after the file's leading `//!` block (or at the top), separated by blank
/// lines: inner attributes must precede every item, and may follow inner doc comments.
fn insert_after_inner_docs(out: &mut Vec<String>, header: Vec<String>) {
    let docs = out
        .iter()
        .take_while(|line| line.starts_with("//!"))
        .count();
    let mut block = Vec::with_capacity(header.len() + 2);
    if docs > 0 {
        block.push(String::new());
    }
    block.extend(header);
    if out.get(docs).is_some_and(|line| !is_blank(line)) {
        block.push(String::new());
    }
    out.splice(docs..docs, block);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The header a file gets whose largest day is `day`.
    fn header(day: u8) -> String {
        let mut lines = allow_header(Some(day));
        lines.push(String::new());
        lines.join("\n")
    }

    #[test]
    fn a_file_without_markers_is_unchanged() {
        let source = "//! Docs.\n\nfn f() -> u8 {\n    1\n}\n";
        assert_eq!(transform("a.rs", source).unwrap(), source);
    }

    #[test]
    fn a_day_region_becomes_a_todo_after_the_inner_docs() {
        let source = "\
//! Day 3.
//! More docs.

use std::fmt;

impl MemTable {
    pub fn get(&self, key: &[u8]) -> Option<u8> {
        // BEGIN SOLUTION day 3: MemTable::get — look the key up in the skip map
        let x = 1;
        Some(x)
        // END SOLUTION
    }
}
";
        let expected = format!(
            "\
//! Day 3.
//! More docs.

{}
use std::fmt;

impl MemTable {{
    pub fn get(&self, key: &[u8]) -> Option<u8> {{
        todo!(\"day 3: MemTable::get — look the key up in the skip map\")
    }}
}}
",
            header(3)
        );
        assert_eq!(transform("a.rs", source).unwrap(), expected);
    }

    #[test]
    fn the_header_goes_on_top_without_inner_docs_and_names_the_largest_day() {
        let source = "\
use a::b;
fn f() {
    // BEGIN SOLUTION day 2: X::f — two
    g();
    // END SOLUTION
}
fn g() {
    // BEGIN SOLUTION day 5: X::g — five
    // END SOLUTION
}
";
        let expected = format!(
            "{}\nuse a::b;\nfn f() {{\n    todo!(\"day 2: X::f — two\")\n}}\nfn g() {{\n    todo!(\"day 5: X::g — five\")\n}}\n",
            header(5)
        );
        assert_eq!(transform("a.rs", source).unwrap(), expected);
    }

    #[test]
    fn a_region_followed_by_code_gets_a_semicolon() {
        let source = "\
fn f() -> u8 {
    // BEGIN SOLUTION day 1: T::f — first part
    let a = 1;
    // END SOLUTION
    a
}
";
        let out = transform("a.rs", source).unwrap();
        assert!(
            out.contains("\n    todo!(\"day 1: T::f — first part\");\n    a\n"),
            "{out}"
        );
    }

    #[test]
    fn quotes_backslashes_and_braces_are_escaped() {
        let source = "\
fn f() {
    // BEGIN SOLUTION day 1: T::f — say \"hi\" \\ then {x}
    // END SOLUTION
}
";
        let out = transform("a.rs", source).unwrap();
        assert!(
            out.contains(r#"todo!("day 1: T::f — say \"hi\" \\ then {{x}}")"#),
            "{out}"
        );
    }

    #[test]
    fn a_long_todo_is_broken_like_rustfmt_does() {
        let hint = "h".repeat(90);
        let source = format!(
            "fn f() {{\n        // BEGIN SOLUTION day 1: T::f — {hint}\n        // END SOLUTION\n}}\n"
        );
        let out = transform("a.rs", &source).unwrap();
        let expected =
            format!("        todo!(\n            \"day 1: T::f — {hint}\"\n        )\n}}\n");
        assert!(out.ends_with(&expected), "{out}");
    }

    #[test]
    fn a_todo_of_exactly_the_max_width_stays_on_one_line() {
        let prefix = "    todo!(\"day 1: T::f — ";
        let hint = "h".repeat(MAX_WIDTH - width(prefix) - 2);
        let source = format!(
            "fn f() {{\n    // BEGIN SOLUTION day 1: T::f — {hint}\n    // END SOLUTION\n}}\n"
        );
        let out = transform("a.rs", &source).unwrap();
        let line = out.lines().find(|line| line.contains("todo!")).unwrap();
        assert_eq!(width(line), MAX_WIDTH);
    }

    #[test]
    fn a_helpers_region_is_removed_with_its_blank_line() {
        let source = "\
impl T {
    fn a(&self) {}

    // BEGIN SOLUTION HELPERS
    fn helper(&self) {}
    // END SOLUTION

    fn b(&self) {}
}
";
        let expected = format!(
            "{}impl T {{\n    fn a(&self) {{}}\n\n    fn b(&self) {{}}\n}}\n",
            header_without_day()
        );
        assert_eq!(transform("a.rs", source).unwrap(), expected);
    }

    /// The header of a file with helpers regions only.
    fn header_without_day() -> String {
        let mut lines = allow_header(None);
        lines.push(String::new());
        lines.push(String::new());
        lines.join("\n")
    }

    #[test]
    fn a_helpers_region_at_the_end_of_a_block_leaves_no_blank_line_before_the_brace() {
        let source = "\
impl T {
    fn a(&self) {}

    // BEGIN SOLUTION HELPERS
    fn helper(&self) {}
    // END SOLUTION
}
";
        let out = transform("a.rs", source).unwrap();
        assert!(out.ends_with("impl T {\n    fn a(&self) {}\n}\n"), "{out}");
    }

    #[test]
    fn a_helpers_region_at_the_start_of_a_block_leaves_no_blank_line_after_the_brace() {
        let source = "\
impl T {
    // BEGIN SOLUTION HELPERS
    fn helper(&self) {}
    // END SOLUTION

    fn a(&self) {}
}
";
        let out = transform("a.rs", source).unwrap();
        assert!(out.ends_with("impl T {\n    fn a(&self) {}\n}\n"), "{out}");
    }

    #[test]
    fn a_long_allow_list_is_written_one_lint_per_line() {
        let lints = ["a_very_long_lint_name_number_one"; 4];
        let lines = allow_attribute(&lints);
        assert_eq!(lines.first().unwrap(), "#![allow(");
        assert_eq!(lines[1], "    a_very_long_lint_name_number_one,");
        assert_eq!(lines[4], "    a_very_long_lint_name_number_one");
        assert_eq!(lines.last().unwrap(), ")]");
    }

    #[test]
    fn an_allow_list_wider_than_rustfmts_attribute_width_is_vertical() {
        let fits = ["x", &"a".repeat(ATTR_FN_LIKE_WIDTH - 3)];
        assert_eq!(allow_attribute(&fits).len(), 1);
        let too_wide = ["x", &"a".repeat(ATTR_FN_LIKE_WIDTH - 2)];
        assert_eq!(allow_attribute(&too_wide).len(), 4);
    }

    #[test]
    fn a_block_left_empty_is_written_as_braces() {
        let source = "\
impl T {
    // BEGIN SOLUTION HELPERS
    fn helper(&self) {}
    // END SOLUTION
}
";
        let out = transform("a.rs", source).unwrap();
        assert!(out.ends_with("\nimpl T {}\n"), "{out}");
    }

    #[test]
    fn the_allows_directive_gives_a_file_without_regions_the_header() {
        let source = "//! Helpers.\n\n// STARTER ALLOWS\n\npub(crate) fn helper() {}\n";
        let expected = format!(
            "//! Helpers.\n\n{}\n\npub(crate) fn helper() {{}}\n",
            allow_header(None).join("\n")
        );
        assert_eq!(transform("a.rs", source).unwrap(), expected);
    }

    /// The error message of transforming `source` as `f.rs`.
    fn error_of(source: &str) -> String {
        transform("f.rs", source).unwrap_err().to_string()
    }

    #[test]
    fn an_unterminated_region_is_an_error() {
        let message = error_of("fn f() {\n    // BEGIN SOLUTION day 1: T::f — x\n}\n");
        assert!(message.starts_with("f.rs:2: "), "{message}");
        assert!(message.contains("never closed"), "{message}");
    }

    #[test]
    fn a_stray_end_is_an_error() {
        let message = error_of("fn f() {\n}\n// END SOLUTION\n");
        assert!(message.starts_with("f.rs:3: "), "{message}");
    }

    #[test]
    fn nested_regions_are_an_error() {
        let source = "fn f() {\n// BEGIN SOLUTION HELPERS\n// BEGIN SOLUTION HELPERS\n// END SOLUTION\n// END SOLUTION\n}\n";
        let message = error_of(source);
        assert!(message.starts_with("f.rs:3: "), "{message}");
        assert!(message.contains("line 2"), "{message}");
    }

    #[test]
    fn a_day_outside_the_course_is_an_error() {
        for day in ["0", "11", "x"] {
            let source =
                format!("fn f() {{\n// BEGIN SOLUTION day {day}: T::f — x\n// END SOLUTION\n}}\n");
            let message = error_of(&source);
            assert!(message.starts_with("f.rs:2: "), "{message}");
            assert!(message.contains("not a day from 1 to 10"), "{message}");
        }
    }

    #[test]
    fn malformed_day_markers_are_errors() {
        for marker in [
            "// BEGIN SOLUTION day 1",
            "// BEGIN SOLUTION day 1: T::f",
            "// BEGIN SOLUTION day 1: T::f - ascii dash",
            "// BEGIN SOLUTION day 1: f — no type",
            "// BEGIN SOLUTION day 1: T::f — ",
            "// BEGIN SOLUTION",
            "// BEGIN SOLUTIONS HELPERS",
            "// END SOLUTION day 1",
            "// STARTER ALLOWS dead_code",
            "//BEGIN SOLUTION day 1: T::f — no space",
            "let x = 1; // BEGIN SOLUTION day 1: T::f — not alone",
        ] {
            let source = format!("fn f() {{\n{marker}\n// END SOLUTION\n}}\n");
            let message = error_of(&source);
            assert!(message.starts_with("f.rs:2: "), "{marker}: {message}");
        }
    }

    #[test]
    fn a_marker_naming_another_method_is_an_error() {
        let source = "\
impl T {
    pub(crate) fn seek_to_first(&mut self) {
        // BEGIN SOLUTION day 1: T::seek_to_key — copied from the wrong method
        // END SOLUTION
    }
}
";
        let message = error_of(source);
        assert!(message.starts_with("f.rs:3: "), "{message}");
        assert!(message.contains("`fn seek_to_first`"), "{message}");
    }

    #[test]
    fn the_enclosing_fn_may_be_generic_and_commented_lines_are_skipped() {
        let source = "\
impl T {
    pub fn create<I: Iterator>(iters: Vec<I>) -> Self {
        // not a fn other() declaration
        // BEGIN SOLUTION day 3: T::create — build it
        // END SOLUTION
    }
}
";
        assert!(transform("f.rs", source).is_ok());
    }

    #[test]
    fn doc_comments_may_mention_markers() {
        let source = "/// Between `// BEGIN SOLUTION` and `// END SOLUTION`.\nfn f() {}\n";
        assert_eq!(transform("f.rs", source).unwrap(), source);
    }

    #[test]
    fn from_a_later_day_the_earlier_days_keep_their_solution() {
        let source = "\
fn a() -> u8 {
    // BEGIN SOLUTION day 2: T::a — hint
    2
    // END SOLUTION
}

fn b() -> u8 {
    // BEGIN SOLUTION day 5: T::b — hint
    helper()
    // END SOLUTION
}

// BEGIN SOLUTION HELPERS
fn helper() -> u8 {
    5
}
// END SOLUTION
";
        let out = transform_from_day("a.rs", source, 3).unwrap();
        assert!(out.contains("fn a() -> u8 {\n    2\n}"), "{out}");
        assert!(out.contains("todo!(\"day 5: T::b — hint\")"), "{out}");
        assert!(out.contains("fn helper() -> u8"), "{out}");
        assert!(!out.contains("SOLUTION"), "{out}");
        let pristine = transform_from_day("a.rs", source, 1).unwrap();
        assert_eq!(pristine, transform("a.rs", source).unwrap());
        assert!(
            pristine.contains("todo!(\"day 2: T::a — hint\")"),
            "{pristine}"
        );
        assert!(!pristine.contains("fn helper"), "{pristine}");
    }

    #[test]
    fn a_later_days_variant_keeps_the_version_of_the_starters_days() {
        let source = "\
fn add() -> usize {
    // BEGIN SOLUTION day 1: T::add — hint
    let x = 1;
    // LATER DAY 7: compress
    let overlap = 5;
    // BEFORE DAY 7: store whole keys
    // let overlap = 0;
    // END DAY 7
    x + overlap
    // END SOLUTION
}
";
        let from_3 = transform_from_day("a.rs", source, 3).unwrap();
        assert!(
            from_3.contains("    let overlap = 0;\n    x + overlap"),
            "{from_3}"
        );
        assert!(
            !from_3.contains("DAY 7") && !from_3.contains("= 5"),
            "{from_3}"
        );
        let from_8 = transform_from_day("a.rs", source, 8).unwrap();
        assert!(
            from_8.contains("    let overlap = 5;\n    x + overlap"),
            "{from_8}"
        );
        assert!(!from_8.contains("= 0"), "{from_8}");
        let pristine = transform("a.rs", source).unwrap();
        assert!(!pristine.contains("overlap"), "{pristine}");
        let unclosed = source.replace("    // END DAY 7\n", "");
        assert!(transform("a.rs", &unclosed).is_err());
    }

    #[test]
    fn a_failpoint_call_in_a_solution_region_is_refused_with_its_line() {
        let day = "\
fn f() -> Result<()> {
    // BEGIN SOLUTION day 6: X::f — sync
    crate::failpoint::hit(crate::failpoint::SST_WRITE, path)?;
    sync()
    // END SOLUTION
}
";
        let error = transform("src/x.rs", day).unwrap_err().to_string();
        assert!(error.starts_with("src/x.rs:3: a failpoint call"), "{error}");
        let helpers = "\
// BEGIN SOLUTION HELPERS
fn helper() -> Result<()> {
    failpoint::hit(failpoint::SST_WRITE, path)
}
// END SOLUTION
";
        let error = transform("src/y.rs", helpers).unwrap_err().to_string();
        assert!(error.starts_with("src/y.rs:3: "), "{error}");
        // Solved days keep their code in a later starter, but the rule is the same.
        assert!(transform_from_day("src/x.rs", day, 7).is_err());
    }

    #[test]
    fn failpoint_calls_outside_regions_and_mentions_in_comments_are_accepted() {
        let source = "\
fn f() -> Result<()> {
    failpoint::hit(failpoint::SST_WRITE, path)?;
    g()
}

fn g() -> Result<()> {
    // BEGIN SOLUTION day 6: X::g — sync, after the given failpoint::hit above
    // (f passes failpoint::SST_WRITE first)
    sync()
    // END SOLUTION
}
";
        let out = transform("src/x.rs", source).unwrap();
        assert!(
            out.contains("    failpoint::hit(failpoint::SST_WRITE, path)?;\n"),
            "{out}"
        );
        assert!(out.contains("todo!(\"day 6: X::g"), "{out}");
    }

    #[test]
    fn a_failpoint_call_in_an_earlier_days_variant_is_refused() {
        let source = "\
fn f() -> Result<()> {
    // BEGIN SOLUTION day 1: X::f — write
    // LATER DAY 7: no hit
    write()
    // BEFORE DAY 7: hit first
    // failpoint::hit(failpoint::SST_WRITE, path)?;
    // write()
    // END DAY 7
    // END SOLUTION
}
";
        let error = transform("src/x.rs", source).unwrap_err().to_string();
        assert!(error.starts_with("src/x.rs:6: "), "{error}");
    }
}
