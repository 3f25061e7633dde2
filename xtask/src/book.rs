//! `cargo x check`'s book step: the book must agree with the code before mdBook builds it.
//!
//! Everything here works offline on the files of the workspace:
//!
//! 1. every `chapter.md#anchor` cited by the graded tests (`tests-day1-to-day7/`) or the
//!    reference (`mini-lsm-reference/src`) is a heading of `book/src/chapter.md`: the tests'
//!    failure messages send students there;
//! 2. every relative link in the book (`](x.md)`, `](x.md#y)`, `](#y)`, `](figures/x.svg)`)
//!    resolves, anchor included;
//! 3. every `{{#include path:anchor}}` names an existing file that holds `ANCHOR: anchor` and
//!    `ANCHOR_END: anchor`;
//! 4. every stub `todo!("day N: Type::method — …")` in `mini-lsm-starter/src` is named in day N's
//!    chapter (the `dayN-…` entry of `SUMMARY.md`);
//! 5. every `cargo x grade --day N` in the book names a day in `1..=7`;
//! 6. no placeholder text (TODO, TBD, FIXME, lorem ipsum, "coming soon") in the chapters' prose
//!    (code spans and code blocks may quote such words, e.g. the starter's `TODO(you)` lines);
//! 7. every snake_case name with two or more underscores quoted in a code span of the prose
//!    (a test name such as `seek_past_the_last_key_is_invalid`, an option such as
//!    `max_immutable_memtables`) occurs in the graded tests or the reference: a renamed test or
//!    option cannot leave the book pointing at nothing;
//!
//! and then
//!
//! 8. `mdbook build book` (mdBook [`MDBOOK_VERSION`]) succeeds without a warning.
//!
//! Heading ids are computed the way mdBook 0.4 does: the heading's rendered text, lowercased,
//! keeping alphanumerics, `-` and `_`, turning whitespace into `-` and dropping everything else;
//! a repeated id gets `-1`, `-2`, … appended; `{#id}` after a heading sets its id explicitly.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Component, Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::workspace::{REFERENCE_DIR, STARTER_DIR, TESTS_PACKAGE};

/// The mdBook release the book is written for and CI installs (`.ci/run`).
pub const MDBOOK_VERSION: &str = "0.4.52";

/// Citations that only illustrate the shape of a book reference (the harness documents its
/// message as `[scenario] expected …, got … (book: chapter.md#section)`); not checked.
const EXAMPLE_CITATIONS: [&str; 1] = ["chapter.md#section"];

/// Names of other projects' APIs and options that the chapters quote on purpose (RocksDB options,
/// quick_cache methods); step 7 does not look for them in our code.
const EXTERNAL_CODE_NAMES: [&str; 4] = [
    "level_compaction_dynamic_level_bytes",
    "max_write_buffer_number",
    "optimize_filters_for_hits",
    "get_or_insert_with",
];

/// Words that mark unfinished prose. Matched case-sensitively as whole words.
const PLACEHOLDER_WORDS: [&str; 3] = ["TODO", "TBD", "FIXME"];

/// Phrases that mark unfinished prose. Matched case-insensitively.
const PLACEHOLDER_PHRASES: [&str; 2] = ["lorem", "coming soon"];

/// Checks the book against the code (steps 1–7 of the module documentation), then builds it.
pub fn check_book(root: &Path) -> Result<()> {
    let problems = book_problems(root)?;
    if !problems.is_empty() {
        bail!(
            "the book does not agree with the code ({} problems):\n{}",
            problems.len(),
            problems.join("\n")
        );
    }
    println!("book: citations, links, includes, stubs, grade commands and prose are consistent");
    build(root)
}

/// Every problem steps 1–7 find, one line each.
fn book_problems(root: &Path) -> Result<Vec<String>> {
    let book = Book::load(&root.join("book"))?;
    let mut problems = Vec::new();
    let mut sources = source_files(&root.join(TESTS_PACKAGE))?;
    sources.extend(source_files(&root.join(REFERENCE_DIR).join("src"))?);
    problems.extend(citation_problems(root, &book, &sources));
    problems.extend(link_problems(&book));
    problems.extend(include_problems(&book));
    let stubs = source_files(&root.join(STARTER_DIR).join("src"))?;
    problems.extend(stub_problems(root, &book, &stubs));
    problems.extend(grade_day_problems(&book));
    problems.extend(placeholder_problems(&book));
    problems.extend(code_name_problems(&book, &sources));
    Ok(problems)
}

/// The chapters of the book.
#[derive(Debug, Default)]
struct Book {
    /// `book/src`.
    src: PathBuf,
    /// Every Markdown file under `book/src`, by its path relative to it (`/`-separated).
    chapters: BTreeMap<String, String>,
    /// The chapters `SUMMARY.md` links to, in its order.
    summary: Vec<String>,
}

impl Book {
    /// Reads `book_dir/src/**/*.md`.
    fn load(book_dir: &Path) -> Result<Book> {
        if !book_dir.join("book.toml").is_file() {
            bail!("{} is missing", book_dir.join("book.toml").display());
        }
        let src = book_dir.join("src");
        let mut chapters = BTreeMap::new();
        for path in files_with_extension(&src, "md")? {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("could not read {}", path.display()))?;
            chapters.insert(relative_name(&src, &path), text);
        }
        let summary = chapters
            .get("SUMMARY.md")
            .map(|text| {
                links(text)
                    .into_iter()
                    .filter_map(|link| link.target.split('#').next().map(str::to_string))
                    .filter(|target| target.ends_with(".md"))
                    .collect()
            })
            .with_context(|| format!("{} is missing", src.join("SUMMARY.md").display()))?;
        Ok(Book {
            src,
            chapters,
            summary,
        })
    }

    /// The ids of the headings of chapter `name`, or `None` if there is no such chapter.
    fn heading_ids(&self, name: &str) -> Option<Vec<String>> {
        self.chapters.get(name).map(|text| heading_ids(text))
    }

    /// The chapter of `day`: the first `SUMMARY.md` entry named `dayN-….md` or `dayN.md`.
    fn day_chapter(&self, day: u8) -> Option<&str> {
        let prefix = format!("day{day}");
        self.summary
            .iter()
            .find(|name| {
                let stem = name.rsplit('/').next().unwrap_or(name);
                stem == format!("{prefix}.md") || stem.starts_with(&format!("{prefix}-"))
            })
            .map(String::as_str)
    }
}

/// A source file: its path relative to the workspace root (for messages) and its text.
#[derive(Debug)]
struct SourceFile {
    path: PathBuf,
    text: String,
}

/// Every `.rs` and `.md` file under `dir` (none if it does not exist), skipping `target/`.
fn source_files(dir: &Path) -> Result<Vec<SourceFile>> {
    let mut files = Vec::new();
    for extension in ["rs", "md"] {
        for path in files_with_extension(dir, extension)? {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("could not read {}", path.display()))?;
            files.push(SourceFile { path, text });
        }
    }
    Ok(files)
}

/// The files under `dir` whose name ends in `.extension`, sorted; none if `dir` does not exist.
pub(crate) fn files_with_extension(dir: &Path, extension: &str) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    if !dir.is_dir() {
        return Ok(found);
    }
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let entries = std::fs::read_dir(&current)
            .with_context(|| format!("could not list {}", current.display()))?;
        for entry in entries {
            let path = entry
                .with_context(|| format!("could not list {}", current.display()))?
                .path();
            if path.is_dir() {
                if path.file_name().is_some_and(|name| name != "target") {
                    pending.push(path);
                }
            } else if path.extension().is_some_and(|ext| ext == extension) {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// `path` relative to `base`, with `/` separators.
pub(crate) fn relative_name(base: &Path, path: &Path) -> String {
    let relative = path.strip_prefix(base).unwrap_or(path);
    relative
        .components()
        .map(|part| part.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// `file:line` for the byte `offset` of `text`, shown relative to `root`.
fn location(root: &Path, path: &Path, text: &str, offset: usize) -> String {
    format!("{}:{}", relative_name(root, path), line_of(text, offset))
}

/// The 1-based line number of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

// ---------------------------------------------------------------------------------------------
// Headings and their ids.

/// The heading id mdBook 0.4 gives a heading whose Markdown text is `heading` (without the
/// leading `#`s). Code spans count as their text; links as their text; HTML tags, emphasis
/// markers and punctuation are dropped.
fn heading_id(heading: &str) -> String {
    let heading = heading.trim();
    if let Some(custom) = custom_id(heading) {
        return custom.to_string();
    }
    normalize_id(&heading_text(heading))
}

/// The id set explicitly with a trailing `{#id}`, if any.
fn custom_id(heading: &str) -> Option<&str> {
    let inner = heading.strip_suffix('}')?;
    let start = inner.rfind("{#")?;
    let id = inner[start + 2..].trim();
    (!id.is_empty() && !id.contains(char::is_whitespace)).then_some(id)
}

/// mdBook's `normalize_id`: lowercase, keep alphanumerics, `-` and `_`, whitespace to `-`.
fn normalize_id(text: &str) -> String {
    text.trim()
        .chars()
        .filter_map(|ch| {
            if ch.is_alphanumeric() || ch == '_' || ch == '-' {
                Some(ch.to_ascii_lowercase())
            } else if ch.is_whitespace() {
                Some('-')
            } else {
                None
            }
        })
        .collect()
}

/// The text a heading renders to: code spans verbatim, links as their text, without HTML tags
/// or emphasis markers.
fn heading_text(heading: &str) -> String {
    let mut out = String::new();
    let mut rest = heading;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('`') {
            // A code span: everything up to the closing backtick, taken literally.
            if let Some(end) = after.find('`') {
                out.push_str(&after[..end]);
                rest = &after[end + 1..];
                continue;
            }
        }
        if rest.starts_with('<')
            && let Some(end) = rest.find('>')
        {
            // An HTML tag (`<em>`, `<a id="x">`): dropped.
            let tag = &rest[1..end];
            if tag
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '/')
            {
                rest = &rest[end + 1..];
                continue;
            }
        }
        if rest.starts_with("](")
            && let Some(end) = rest.find(')')
        {
            // The target of a link: dropped (its text was kept).
            rest = &rest[end + 1..];
            continue;
        }
        let ch = rest.chars().next().unwrap_or(' ');
        if !matches!(ch, '*' | '[' | ']' | '!') {
            out.push(ch);
        }
        rest = &rest[ch.len_utf8()..];
    }
    out
}

/// The lines of `text` outside fenced code blocks, with their byte offsets.
fn prose_lines(text: &str) -> Vec<(usize, &str)> {
    let mut lines = Vec::new();
    let mut fence: Option<String> = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let line = line.trim_end_matches(['\n', '\r']);
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
            None if is_fence && line.len() - trimmed.len() <= 3 => fence = Some(marker),
            None => lines.push((start, line)),
        }
    }
    lines
}

/// The ids of every heading in the Markdown `text`, in order, as mdBook numbers repeats.
fn heading_ids(text: &str) -> Vec<String> {
    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut ids = Vec::new();
    // The previous prose line and where it ended (to see that it is right above this one).
    let mut previous: Option<(usize, &str)> = None;
    for (start, line) in prose_lines(text) {
        let heading = atx_heading(line).or_else(|| {
            // A setext heading: a paragraph line right above an underline of `===` or `---`.
            let underline = line.trim();
            let is_underline = !underline.is_empty()
                && (underline.chars().all(|c| c == '=') || underline.chars().all(|c| c == '-'));
            previous
                .filter(|&(end, text)| {
                    is_underline
                        && end == start
                        && is_paragraph_text(text)
                        && atx_heading(text).is_none()
                })
                .map(|(_, text)| text)
        });
        if let Some(heading) = heading {
            let id = heading_id(heading);
            let count = counts.entry(id.clone()).or_insert(0);
            ids.push(if *count == 0 {
                id
            } else {
                format!("{id}-{count}")
            });
            *count += 1;
            previous = None;
        } else {
            previous = Some((start + line_length(text, start), line));
        }
    }
    ids
}

/// The length of the line starting at byte `start` of `text`, its line break included.
fn line_length(text: &str, start: usize) -> usize {
    text[start..]
        .find('\n')
        .map_or(text.len() - start, |end| end + 1)
}

/// Whether `line` could be the text of a setext heading (a plain paragraph line).
fn is_paragraph_text(line: &str) -> bool {
    let trimmed = line.trim();
    !trimmed.is_empty()
        && line.len() - line.trim_start().len() <= 3
        && !trimmed.starts_with(['|', '>', '-', '*', '+', '<'])
        && !trimmed.chars().next().is_some_and(|c| c.is_ascii_digit())
}

/// The text of an ATX heading line (`## Text ##`), if `line` is one.
fn atx_heading(line: &str) -> Option<&str> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    if indent > 3 {
        return None;
    }
    let trimmed = &line[indent..];
    let level = trimmed.chars().take_while(|&c| c == '#').count();
    if !(1..=6).contains(&level) {
        return None;
    }
    let rest = &trimmed[level..];
    if !rest.is_empty() && !rest.starts_with([' ', '\t']) {
        return None;
    }
    // An optional closing sequence of `#`s after a space.
    let rest = rest.trim();
    let without_closing = rest.trim_end_matches('#');
    let text = if without_closing.is_empty() || without_closing.ends_with([' ', '\t']) {
        without_closing.trim_end()
    } else {
        rest
    };
    Some(text)
}

// ---------------------------------------------------------------------------------------------
// Step 1: the citations in the code.

/// Every `file.md#anchor` in `text` (file and anchor made of `[a-z0-9-]`), with its offset.
fn citations(text: &str) -> Vec<(usize, String, String)> {
    let is_name = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-';
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    for (at, _) in text.match_indices(".md#") {
        let start = (0..at)
            .rev()
            .take_while(|&i| is_name(bytes[i]))
            .last()
            .unwrap_or(at);
        let anchor_start = at + ".md#".len();
        let end = (anchor_start..bytes.len())
            .take_while(|&i| is_name(bytes[i]))
            .last()
            .map_or(anchor_start, |i| i + 1);
        if start < at && anchor_start < end {
            found.push((
                start,
                format!("{}.md", &text[start..at]),
                text[anchor_start..end].to_string(),
            ));
        }
    }
    found
}

/// Step 1: citations in `sources` that name no chapter or no heading of it.
fn citation_problems(root: &Path, book: &Book, sources: &[SourceFile]) -> Vec<String> {
    // One line per distinct citation, at its first place, with how many places share it.
    let mut cited: BTreeMap<(String, String), (String, usize)> = BTreeMap::new();
    for source in sources {
        for (offset, file, anchor) in citations(&source.text) {
            if EXAMPLE_CITATIONS.contains(&format!("{file}#{anchor}").as_str()) {
                continue;
            }
            let place = location(root, &source.path, &source.text, offset);
            cited
                .entry((file, anchor))
                .and_modify(|(_, count)| *count += 1)
                .or_insert((place, 1));
        }
    }
    let mut problems = Vec::new();
    for ((file, anchor), (place, count)) in cited {
        let also = if count > 1 {
            format!(" (and {} more places)", count - 1)
        } else {
            String::new()
        };
        match book.heading_ids(&file) {
            None => problems.push(format!(
                "  {place}{also} cites `{file}#{anchor}`, but book/src/{file} does not exist"
            )),
            Some(ids) if !ids.contains(&anchor) => problems.push(format!(
                "  {place}{also} cites `{file}#{anchor}`, but book/src/{file} has no heading with that id"
            )),
            Some(_) => {}
        }
    }
    problems
}

// ---------------------------------------------------------------------------------------------
// Step 2: links.

/// A Markdown link or image target found in prose.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Link {
    /// Byte offset of the `](` in the chapter.
    offset: usize,
    /// What the link points to, without a title.
    target: String,
}

/// The targets of the inline links and images (`[text](target)`) in the prose of `text`.
fn links(text: &str) -> Vec<Link> {
    let mut found = Vec::new();
    for (start, line) in prose_lines(text) {
        let line = blank_code_spans(line);
        for (at, _) in line.match_indices("](") {
            let rest = &line[at + 2..];
            let Some(end) = rest.find(')') else {
                continue;
            };
            let target = rest[..end]
                .split_whitespace()
                .next()
                .unwrap_or("")
                .trim_matches(['<', '>']);
            if !target.is_empty() {
                found.push(Link {
                    offset: start + at,
                    target: target.to_string(),
                });
            }
        }
    }
    found
}

/// `line` with the inside of every code span replaced by spaces (same length), so that code is
/// not read as links or prose.
fn blank_code_spans(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut in_code = false;
    let mut rest = line;
    while let Some(ch) = rest.chars().next() {
        let ticks = rest.chars().take_while(|&c| c == '`').count();
        if ticks > 0 {
            // A run of backticks opens or closes a span only with a matching run.
            let run = &rest[..ticks];
            if in_code || rest[ticks..].contains(run) {
                in_code = !in_code;
            }
            out.push_str(run);
            rest = &rest[ticks..];
            continue;
        }
        if in_code {
            out.extend(std::iter::repeat_n(' ', ch.len_utf8()));
        } else {
            out.push(ch);
        }
        rest = &rest[ch.len_utf8()..];
    }
    out
}

/// Resolves `target` (a path relative to chapter `from`, `/`-separated) inside `book/src`.
fn resolve(from: &str, target: &str) -> String {
    let mut parts: Vec<&str> = from.split('/').collect();
    parts.pop();
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    parts.join("/")
}

/// Step 2: relative links whose file or anchor does not exist.
fn link_problems(book: &Book) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, text) in &book.chapters {
        for link in links(text) {
            let target = link.target.as_str();
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (path, anchor) = match target.split_once('#') {
                Some((path, anchor)) => (path, Some(anchor)),
                None => (target, None),
            };
            let place = format!("  book/src/{name}:{}", line_of(text, link.offset));
            let file = if path.is_empty() {
                name.clone()
            } else {
                resolve(name, path)
            };
            if path.ends_with(".md") || path.is_empty() {
                match (book.heading_ids(&file), anchor) {
                    (None, _) => problems.push(format!(
                        "{place}: link to `{target}`, but book/src/{file} does not exist"
                    )),
                    (Some(ids), Some(anchor)) if !ids.iter().any(|id| id == anchor) => problems
                        .push(format!(
                            "{place}: link to `{target}`, but book/src/{file} has no heading with id `{anchor}`"
                        )),
                    _ => {}
                }
            } else if !book.src.join(&file).exists() {
                problems.push(format!(
                    "{place}: link to `{target}`, but book/src/{file} does not exist"
                ));
            }
        }
    }
    problems
}

// ---------------------------------------------------------------------------------------------
// Step 3: includes.

/// One `{{#include …}}` (or `{{#rustdoc_include …}}`) of a chapter.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Include {
    /// Byte offset of the `{{` in the chapter.
    offset: usize,
    /// The included file, relative to the chapter.
    path: String,
    /// The anchor, when the include names one (not when it gives line numbers).
    anchor: Option<String>,
}

/// Every include directive in `text`, code blocks included (that is where they usually are).
/// An escaped `\{{#include …}}` is not a directive.
fn includes(text: &str) -> Vec<Include> {
    let mut found = Vec::new();
    for directive in ["{{#include ", "{{#rustdoc_include "] {
        for (at, _) in text.match_indices(directive) {
            if text[..at].ends_with('\\') {
                continue;
            }
            let rest = &text[at + directive.len()..];
            let Some(end) = rest.find("}}") else {
                continue;
            };
            let spec = rest[..end].trim();
            let (path, selector) = match spec.split_once(':') {
                Some((path, selector)) => (path, Some(selector)),
                None => (spec, None),
            };
            let anchor = selector
                .map(|s| s.split(':').next().unwrap_or("").trim())
                .filter(|s| !s.is_empty() && !s.chars().all(|c| c.is_ascii_digit()))
                .map(str::to_string);
            found.push(Include {
                offset: at,
                path: path.trim().to_string(),
                anchor,
            });
        }
    }
    found.sort_by_key(|include| include.offset);
    found
}

/// Whether `text` has `marker` (`ANCHOR:` or `ANCHOR_END:`) followed by the name `anchor`, the
/// way mdBook finds anchors (`ANCHOR:\s*name`, the name ending at a non-word character).
fn has_anchor_marker(text: &str, marker: &str, anchor: &str) -> bool {
    text.match_indices(marker).any(|(at, _)| {
        let name: String = text[at + marker.len()..]
            .trim_start()
            .chars()
            .take_while(|&c| c.is_alphanumeric() || c == '_' || c == '-')
            .collect();
        name == anchor
    })
}

/// Step 3: includes of missing files or anchors.
fn include_problems(book: &Book) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, text) in &book.chapters {
        let chapter_dir = book
            .src
            .join(name)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| book.src.clone());
        for include in includes(text) {
            let place = format!("  book/src/{name}:{}", line_of(text, include.offset));
            let path = normalize_path(&chapter_dir.join(&include.path));
            let Ok(included) = std::fs::read_to_string(&path) else {
                problems.push(format!(
                    "{place}: includes `{}`, which does not exist (paths are relative to the chapter)",
                    include.path
                ));
                continue;
            };
            if let Some(anchor) = &include.anchor {
                for marker in ["ANCHOR:", "ANCHOR_END:"] {
                    if !has_anchor_marker(&included, marker, anchor) {
                        problems.push(format!(
                            "{place}: includes `{}:{anchor}`, but that file has no `// {marker} {anchor}` line",
                            include.path
                        ));
                    }
                }
            }
        }
    }
    problems
}

/// `path` with `.` and `..` components resolved lexically.
fn normalize_path(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Step 4: stubs.

/// Every `todo!("day N: Name — …")` in `text`: its offset, day and name (`Type::method`).
fn stubs(text: &str) -> Vec<(usize, u8, String)> {
    let mut found = Vec::new();
    for (at, _) in text.match_indices("todo!(") {
        let rest = text[at + "todo!(".len()..].trim_start();
        let Some(rest) = rest
            .strip_prefix('"')
            .and_then(|rest| rest.strip_prefix("day "))
        else {
            continue;
        };
        let Some((day, rest)) = rest.split_once(": ") else {
            continue;
        };
        let Ok(day) = day.parse::<u8>() else {
            continue;
        };
        let end = rest.find([' ', '"']).unwrap_or(rest.len());
        let name = &rest[..end];
        if !name.is_empty() {
            found.push((at, day, name.to_string()));
        }
    }
    found
}

/// Whether `name` occurs in `text` as a whole word (not inside a longer identifier).
fn names(text: &str, name: &str) -> bool {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(name).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + name.len()..].chars().next();
        !before.is_some_and(is_word) && !after.is_some_and(is_word)
    })
}

/// Step 4: stubs that their day's chapter does not name.
fn stub_problems(root: &Path, book: &Book, sources: &[SourceFile]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for source in sources {
        for (offset, day, name) in stubs(&source.text) {
            if !seen.insert((day, name.clone())) {
                continue;
            }
            let place = location(root, &source.path, &source.text, offset);
            let Some(chapter) = book.day_chapter(day) else {
                problems.push(format!(
                    "  {place}: stub `{name}` is day {day}, but SUMMARY.md has no day{day}-….md chapter"
                ));
                continue;
            };
            match book.chapters.get(chapter) {
                None => problems.push(format!(
                    "  {place}: stub `{name}` belongs in book/src/{chapter}, which does not exist"
                )),
                Some(text) if !names(text, &name) => problems.push(format!(
                    "  {place}: stub `{name}` (day {day}) is not named in book/src/{chapter}"
                )),
                Some(_) => {}
            }
        }
    }
    problems
}

// ---------------------------------------------------------------------------------------------
// Step 5: grade commands.

/// The day arguments of every `cargo x grade … --day N` in `text`, with their offsets: the
/// word after `--day` (or after `--day=`), up to the end of the code span or line.
fn grade_day_arguments(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (at, _) in text.match_indices("cargo x grade") {
        let rest = &text[at + "cargo x grade".len()..];
        let command = &rest[..rest.find(['`', '\n']).unwrap_or(rest.len())];
        let words: Vec<&str> = command.split_whitespace().collect();
        for (i, word) in words.iter().enumerate() {
            let argument = if *word == "--day" {
                words.get(i + 1).copied().unwrap_or("")
            } else if let Some(value) = word.strip_prefix("--day=") {
                value
            } else {
                continue;
            };
            let argument = argument.trim_end_matches(['.', ',', ';', ')', ':']);
            found.push((at, argument.to_string()));
        }
    }
    found
}

/// Whether a `--day` argument is valid in the book: a day of the course, or a placeholder such as
/// `N`, `K` or `<day>` in a general description.
fn valid_day_argument(argument: &str) -> bool {
    match argument.parse::<u8>() {
        Ok(day) => crate::course::DAYS.contains(&day),
        Err(_) => {
            let placeholder =
                argument.len() == 1 && argument.chars().all(|c| c.is_ascii_uppercase());
            placeholder || (argument.starts_with('<') && argument.ends_with('>'))
        }
    }
}

/// Step 5: `cargo x grade --day N` with a day that does not exist.
fn grade_day_problems(book: &Book) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, text) in &book.chapters {
        for (offset, argument) in grade_day_arguments(text) {
            if !valid_day_argument(&argument) {
                problems.push(format!(
                    "  book/src/{name}:{}: `cargo x grade --day {argument}`: the days are 1 to {}",
                    line_of(text, offset),
                    crate::course::LAST_DAY
                ));
            }
        }
    }
    problems
}

// ---------------------------------------------------------------------------------------------
// Step 6: placeholders.

/// The placeholder words and phrases in the prose of `text` (outside code), with their offsets.
fn placeholders(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (start, line) in prose_lines(text) {
        let line = blank_code_spans(line);
        for word in PLACEHOLDER_WORDS {
            if names(&line, word) {
                found.push((start, word.to_string()));
            }
        }
        let lower = line.to_lowercase();
        for phrase in PLACEHOLDER_PHRASES {
            if lower.contains(phrase) {
                found.push((start, phrase.to_string()));
            }
        }
    }
    found
}

/// Step 6: placeholder text in any chapter.
fn placeholder_problems(book: &Book) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, text) in &book.chapters {
        for (offset, word) in placeholders(text) {
            problems.push(format!(
                "  book/src/{name}:{}: placeholder text `{word}`",
                line_of(text, offset)
            ));
        }
    }
    problems
}

// ---------------------------------------------------------------------------------------------
// Step 7: quoted code names.

/// The code spans of the prose of `text` that hold one snake_case name with at least two
/// underscores (the shape of test names and most option fields), with their offsets.
fn quoted_code_names(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (start, line) in prose_lines(text) {
        for (i, span) in line.split('`').enumerate() {
            // Odd pieces are inside backticks.
            if i % 2 == 1 && is_long_snake_case(span) {
                found.push((start, span.to_string()));
            }
        }
    }
    found
}

/// `a_b_c`: lowercase ASCII letters, digits and underscores, starting with a letter, at least
/// two underscores, none doubled or at an end.
fn is_long_snake_case(word: &str) -> bool {
    let parts: Vec<&str> = word.split('_').collect();
    parts.len() >= 3
        && word.starts_with(|c: char| c.is_ascii_lowercase())
        && parts.iter().all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
}

/// Step 7: quoted code names that occur nowhere in the tests or the reference.
fn code_name_problems(book: &Book, sources: &[SourceFile]) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, text) in &book.chapters {
        for (offset, word) in quoted_code_names(text) {
            let known = EXTERNAL_CODE_NAMES.contains(&word.as_str())
                || sources.iter().any(|source| names(&source.text, &word));
            if !known {
                problems.push(format!(
                    "  book/src/{name}:{}: `{word}` is not a name in the graded tests or the reference",
                    line_of(text, offset)
                ));
            }
        }
    }
    problems
}

// ---------------------------------------------------------------------------------------------
// Step 8: the build.

/// Runs `mdbook build book` and fails on an error, a warning, or another mdBook version.
fn build(root: &Path) -> Result<()> {
    let install =
        format!("install it with `cargo install mdbook --version {MDBOOK_VERSION} --locked`");
    let version = match Command::new("mdbook").arg("--version").output() {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            bail!("mdbook is not installed: {install}")
        }
        Err(error) => return Err(error).context("could not start mdbook"),
        Ok(output) => String::from_utf8_lossy(&output.stdout).trim().to_string(),
    };
    if !version
        .split_whitespace()
        .any(|word| word.trim_start_matches('v') == MDBOOK_VERSION)
    {
        bail!(
            "the book is checked with mdBook {MDBOOK_VERSION} (heading ids and warnings differ \
             between releases), but `mdbook --version` says `{version}`: {install}"
        );
    }
    let output = Command::new("mdbook")
        .args(["build", "book"])
        .current_dir(root)
        .output()
        .context("could not start mdbook")?;
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let complaints = build_complaints(&log);
    if !output.status.success() {
        bail!("`mdbook build book` failed ({}):\n{log}", output.status);
    }
    if !complaints.is_empty() {
        bail!(
            "`mdbook build book` warned (warnings fail the check):\n{}",
            complaints.join("\n")
        );
    }
    println!("mdbook build book: no warnings");
    Ok(())
}

/// The lines of an mdBook log that report a warning or an error.
fn build_complaints(log: &str) -> Vec<String> {
    log.lines()
        .filter(|line| line.contains("WARN") || line.contains("ERROR"))
        .map(|line| format!("  {line}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_long_snake_case_names_are_found_in_prose_only() {
        let text = "Run `seek_past_the_last_key_is_invalid` and `key`, `a_b`, `x_y_z`.\n\
                    ```\n`not_in_prose_here`\n```\n";
        let names: Vec<String> = quoted_code_names(text)
            .into_iter()
            .map(|(_, n)| n)
            .collect();
        assert_eq!(names, ["seek_past_the_last_key_is_invalid", "x_y_z"]);
        assert!(!is_long_snake_case("Type_name_x"));
        assert!(!is_long_snake_case("a__b_c"));
    }

    #[test]
    fn heading_ids_follow_mdbook() {
        assert_eq!(heading_id("Block format"), "block-format");
        assert_eq!(heading_id("The `Block` format"), "the-block-format");
        assert_eq!(
            heading_id("Decoding untrusted bytes!"),
            "decoding-untrusted-bytes"
        );
        assert_eq!(heading_id("Day 1: Blocks"), "day-1-blocks");
        assert_eq!(heading_id("`Vec<u8>` and `&[u8]`"), "vecu8-and-u8");
        assert_eq!(heading_id("What's next?"), "whats-next");
        assert_eq!(heading_id("**Bold** and *em*"), "bold-and-em");
        assert_eq!(heading_id("A [link](x.md#y) here"), "a-link-here");
        assert_eq!(
            heading_id("snake_case and kebab-case"),
            "snake_case-and-kebab-case"
        );
        assert_eq!(heading_id("Bloom filter {#bloom-filter}"), "bloom-filter");
        assert_eq!(heading_id("<em>Tagged</em> text"), "tagged-text");
        // mdBook lowercases ASCII only.
        assert_eq!(heading_id("Über Größe"), "Über-größe");
        assert_eq!(heading_id("  SST  "), "sst");
    }

    #[test]
    fn heading_ids_skip_code_blocks_and_number_repeats() {
        let text = "# Title\n\n## Part\n\n```sh\n# not a heading\n```\n\n## Part\n\
                    Setext\n------\n\n| a |\n|---|\n\n#hashtag\n### Closed ###\n";
        assert_eq!(
            heading_ids(text),
            ["title", "part", "part-1", "setext", "closed"]
        );
    }

    #[test]
    fn citations_are_file_and_anchor() {
        let text =
            r#"const BOOK: &str = "day1-blocks.md#block-format"; // appendix-formats.md#sst."#;
        let cited: Vec<_> = citations(text)
            .into_iter()
            .map(|(_, file, anchor)| format!("{file}#{anchor}"))
            .collect();
        assert_eq!(
            cited,
            ["day1-blocks.md#block-format", "appendix-formats.md#sst"]
        );
        assert!(citations("see README.md#Layout or .md#x").is_empty());
    }

    #[test]
    fn links_skip_code_and_titles() {
        let text = "See [a](x.md#y \"title\") and `[b](no.md)`.\n```\n[c](no.md)\n```\n![f](figures/f.svg)";
        let targets: Vec<_> = links(text).into_iter().map(|link| link.target).collect();
        assert_eq!(targets, ["x.md#y", "figures/f.svg"]);
        assert_eq!(resolve("a/b.md", "../c.md"), "c.md");
        assert_eq!(resolve("b.md", "./figures/x.svg"), "figures/x.svg");
    }

    #[test]
    fn includes_name_a_path_and_maybe_an_anchor() {
        let text = "```rust\n{{#include ../../mini-lsm-starter/src/block.rs:block-encode}}\n```\n\
                    {{#include ../x.rs}} {{#include ../y.rs:10:20}} \\{{#include ../z.rs:no}}\n\
                    {{#rustdoc_include ../w.rs:w-item }}";
        let found = includes(text);
        let summary: Vec<_> = found
            .iter()
            .map(|i| (i.path.as_str(), i.anchor.as_deref()))
            .collect();
        assert_eq!(
            summary,
            [
                ("../../mini-lsm-starter/src/block.rs", Some("block-encode")),
                ("../x.rs", None),
                ("../y.rs", None),
                ("../w.rs", Some("w-item")),
            ]
        );
    }

    #[test]
    fn anchors_match_whole_names() {
        let file = "// ANCHOR: block-encode\nfn f() {}\n// ANCHOR_END: block-encode\n// ANCHOR:other_one\n";
        assert!(has_anchor_marker(file, "ANCHOR:", "block-encode"));
        assert!(has_anchor_marker(file, "ANCHOR_END:", "block-encode"));
        assert!(has_anchor_marker(file, "ANCHOR:", "other_one"));
        assert!(!has_anchor_marker(file, "ANCHOR:", "block"));
        assert!(!has_anchor_marker(file, "ANCHOR_END:", "other_one"));
    }

    #[test]
    fn stubs_are_found_across_lines() {
        let text = "fn a() {\n    todo!(\n        \"day 1: Block::encode — the bytes\"\n    )\n}\n\
                    fn b() { todo!(\"day 6: record_file::encode_record — len\") }\nfn c() { todo!() }";
        let found: Vec<_> = stubs(text).into_iter().map(|(_, d, n)| (d, n)).collect();
        assert_eq!(
            found,
            [
                (1, "Block::encode".to_string()),
                (6, "record_file::encode_record".to_string())
            ]
        );
        assert!(names("call `Block::encode` first", "Block::encode"));
        assert!(!names("`BlockMeta::encode_all`", "Meta::encode_all"));
        assert!(!names("Block::encoded_len", "Block::encode"));
    }

    #[test]
    fn grade_days_must_exist() {
        let text = "Run `cargo x grade --day 3`, or `cargo x grade --day=8` or\n\
                    cargo x grade --reference --day N.";
        let found: Vec<_> = grade_day_arguments(text)
            .into_iter()
            .map(|(_, a)| a)
            .collect();
        assert_eq!(found, ["3", "8", "N"]);
        assert!(valid_day_argument("7") && valid_day_argument("N") && valid_day_argument("<day>"));
        assert!(valid_day_argument("8") && valid_day_argument("10"));
        assert!(
            !valid_day_argument("0") && !valid_day_argument("11") && !valid_day_argument("one")
        );
    }

    #[test]
    fn placeholders_are_found_in_prose_only() {
        let text = "Fine `TODO(you)` here.\nThis part is TBD.\n```\n// TODO\n```\nComing soon!\nTODOS are fine\n";
        let found: Vec<_> = placeholders(text).into_iter().map(|(_, w)| w).collect();
        assert_eq!(found, ["TBD", "coming soon"]);
    }

    #[test]
    fn build_warnings_are_complaints() {
        let log = "2025-01-01 [INFO] (mdbook::book): Book building has started\n\
                   2025-01-01 [WARN] (mdbook::preprocess::links): Unable to find anchor";
        assert_eq!(build_complaints(log).len(), 1);
    }

    /// A scratch workspace with a tiny book, tests citing it, and a starter with a stub.
    fn scratch_workspace(name: &str, chapter: &str) -> PathBuf {
        let root = std::env::temp_dir().join(format!("xtask-book-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let write = |path: &str, text: &str| {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        write("book/book.toml", "[book]\ntitle = \"t\"\n");
        write(
            "book/src/SUMMARY.md",
            "# Summary\n\n- [Day 1](day1-blocks.md)\n- [Formats](appendix-formats.md)\n",
        );
        write("book/src/day1-blocks.md", chapter);
        write("book/src/appendix-formats.md", "# Formats\n\n## Block\n");
        write("book/src/figures/a.svg", "<svg/>");
        write(
            "tests-day1-to-day7/tests/day1.rs",
            "//! Messages end in `(book: chapter.md#section)`.\n\
             const B: &str = \"day1-blocks.md#block-format\";\nconst C: &str = \"appendix-formats.md#block\";",
        );
        write(
            "mini-lsm-reference/src/block.rs",
            "// ANCHOR: block-encode\nfn encode() {}\n// ANCHOR_END: block-encode\n",
        );
        write(
            "mini-lsm-starter/src/block.rs",
            "fn encode() { todo!(\"day 1: Block::encode — bytes\") }\n",
        );
        root
    }

    #[test]
    fn a_consistent_scratch_book_has_no_problems() {
        let chapter = "# Day 1\n\n## Block format\n\nImplement `Block::encode`:\n\n```rust\n\
                       {{#include ../../mini-lsm-reference/src/block.rs:block-encode}}\n```\n\n\
                       See [the table](appendix-formats.md#block), [below](#block-format) and\n\
                       ![a figure](figures/a.svg). Then `cargo x grade --day 1`.\n";
        let root = scratch_workspace("consistent", chapter);
        let problems = book_problems(&root).unwrap();
        std::fs::remove_dir_all(&root).unwrap();
        assert!(problems.is_empty(), "{problems:#?}");
    }

    #[test]
    fn an_inconsistent_scratch_book_reports_every_problem() {
        let chapter = "# Day 1\n\n## Blocks\n\nSee [x](appendix-formats.md#sst), [y](nope.md) and \
                       ![f](figures/missing.svg).\n\n{{#include ../../mini-lsm-reference/src/block.rs:block-decode}}\n\
                       {{#include ../missing.rs}}\n\nRun `cargo x grade --day 11`. Details TBD.\n";
        let root = scratch_workspace("inconsistent", chapter);
        let problems = book_problems(&root).unwrap();
        std::fs::remove_dir_all(&root).unwrap();
        let expected = [
            "cites `day1-blocks.md#block-format`",
            "link to `appendix-formats.md#sst`",
            "link to `nope.md`",
            "link to `figures/missing.svg`",
            "no `// ANCHOR: block-decode` line",
            "no `// ANCHOR_END: block-decode` line",
            "includes `../missing.rs`",
            "stub `Block::encode` (day 1) is not named",
            "`cargo x grade --day 11`",
            "placeholder text `TBD`",
        ];
        for fragment in expected {
            assert!(
                problems.iter().any(|p| p.contains(fragment)),
                "no problem mentions {fragment:?}: {problems:#?}"
            );
        }
        assert_eq!(problems.len(), expected.len(), "{problems:#?}");
    }
}
