//! What the grader reads about each graded test in its source, `tests-day1-to-day7/tests/dayN.rs`:
//! its place in the file, the first sentence of its doc comment (the scenario it grades), and the
//! book section it cites. The report lists a day's failures in file order, since each test file
//! goes from the smallest scenario to the broadest (the tests `[broad]` in `xtask/points.toml`
//! names come last), so that the first failure a student reads is the most specific one; and a
//! failure without the harness's `(book: …)` (a panic in the student's code, a bare `assert!`)
//! is shown with the test's scenario and book section.

use std::collections::BTreeMap;

/// What the source says about one test function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestInfo {
    /// Its place among the day's test functions, 0 for the first in the file.
    pub position: usize,
    /// The first sentence of its doc comment.
    pub scenario: Option<String>,
    /// The first book section its body cites (`dayN-….md#anchor`), directly or through a
    /// `BOOK_…` constant of the file; else the chapter the file cites first.
    pub book: Option<String>,
}

/// Scenarios longer than this are cut.
const MAX_SCENARIO_CHARS: usize = 160;

/// Every test function (`#[test]` or `#[rstest]`) of a day's test file, by name.
pub fn parse(source: &str) -> BTreeMap<String, TestInfo> {
    let constants = book_constants(source);
    let chapter = constants
        .values()
        .next()
        .map(|book| book.split('#').next().unwrap_or(book).to_string());
    let lines: Vec<&str> = source.lines().collect();
    let mut tests = BTreeMap::new();
    let mut doc: Vec<&str> = Vec::new();
    let mut is_test = false;
    for (index, line) in lines.iter().enumerate() {
        if let Some(text) = line.strip_prefix("///") {
            doc.push(text.trim());
        } else if line.starts_with("#[test]") || line.starts_with("#[rstest]") {
            is_test = true;
        } else if let Some(name) = function_name(line) {
            if is_test {
                let body = body_of(&lines[index..]);
                let book = cited_book(&body, &constants).or_else(|| chapter.clone());
                let info = TestInfo {
                    position: tests.len(),
                    scenario: first_sentence(&doc),
                    book,
                };
                tests.insert(name.to_string(), info);
            }
            doc.clear();
            is_test = false;
        } else if line.trim().is_empty() || line.starts_with('}') {
            doc.clear();
            is_test = false;
        }
    }
    tests
}

/// The name of a function declared at the start of `line` (`fn name(`, `pub fn name<`…).
fn function_name(line: &str) -> Option<&str> {
    let rest = line
        .strip_prefix("pub ")
        .unwrap_or(line)
        .strip_prefix("async ")
        .unwrap_or_else(|| line.strip_prefix("pub ").unwrap_or(line));
    let rest = rest.strip_prefix("fn ")?;
    let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_'))?;
    Some(&rest[..end])
}

/// The lines of a function from its first line to its closing `}` at column 0.
fn body_of(lines: &[&str]) -> String {
    let end = lines
        .iter()
        .position(|line| line.starts_with('}'))
        .unwrap_or(lines.len().saturating_sub(1));
    lines[..=end.min(lines.len().saturating_sub(1))].join("\n")
}

/// The file's `const BOOK_…: &str = "…";` constants, by name.
fn book_constants(source: &str) -> BTreeMap<String, String> {
    source
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("const ")?;
            let (name, rest) = rest.split_once(':')?;
            let value = rest.split_once('"')?.1.split_once('"')?.0;
            (name.starts_with("BOOK") && value.contains(".md")).then(|| (name.into(), value.into()))
        })
        .collect()
}

/// The first book section `body` cites: a `BOOK_…` constant or a `"….md#…"` literal.
fn cited_book(body: &str, constants: &BTreeMap<String, String>) -> Option<String> {
    let mut best: Option<(usize, String)> = None;
    let mut consider = |at: usize, book: String| {
        if best.as_ref().is_none_or(|(first, _)| at < *first) {
            best = Some((at, book));
        }
    };
    for (name, book) in constants {
        let found = body.match_indices(name.as_str()).find(|(at, _)| {
            let after = body[at + name.len()..].chars().next();
            !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
        });
        if let Some((at, _)) = found {
            consider(at, book.clone());
        }
    }
    for (at, _) in body.match_indices(".md#") {
        let start = body[..at].rfind('"').map_or(at, |quote| quote + 1);
        let end = body[at..].find('"').map_or(body.len(), |quote| at + quote);
        let literal = &body[start..end];
        if literal.starts_with("day") && !literal.contains(char::is_whitespace) {
            consider(start, literal.to_string());
        }
    }
    best.map(|(_, book)| book)
}

/// The first sentence of a doc comment (its lines joined), cut to [`MAX_SCENARIO_CHARS`].
fn first_sentence(doc: &[&str]) -> Option<String> {
    let paragraph: Vec<&str> = doc
        .iter()
        .copied()
        .take_while(|line| !line.is_empty())
        .collect();
    let text = paragraph.join(" ");
    let sentence = match text.find(". ") {
        Some(end) => &text[..=end],
        None => text.as_str(),
    };
    let sentence = sentence.trim();
    if sentence.is_empty() {
        return None;
    }
    if sentence.chars().count() <= MAX_SCENARIO_CHARS {
        return Some(sentence.to_string());
    }
    let cut: String = sentence.chars().take(MAX_SCENARIO_CHARS).collect();
    Some(format!("{cut}…"))
}

/// The number `N` of an rstest case name `function::case_N_description`; `None` for a plain test.
pub fn case_number(name: &str) -> Option<usize> {
    let (_, case) = name.split_once("::")?;
    let digits = case.strip_prefix("case_")?;
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = r#"
const BOOK_SEEK: &str = "day1-blocks.md#seeking";
const BOOK_SIZE: &str = "day1-blocks.md#block-size";

/// Not a test.
fn helper() {
    check(BOOK_SIZE);
}

/// Seeks land on the first key at or after
/// the target. More text.
#[test]
fn seek_lands() {
    check(BOOK_SEEK_OTHER);
    check(BOOK_SEEK);
}

#[rstest]
#[case::a(1)]
#[case::b(2)]
fn sizes(#[case] size: usize) {
    check("day1-blocks.md#the-format", BOOK_SIZE);
}

#[test]
fn no_book() {}
"#;

    #[test]
    fn test_functions_are_found_in_file_order_with_scenario_and_book() {
        let tests = parse(SOURCE);
        assert_eq!(tests.len(), 3, "{tests:?}");
        assert_eq!(
            tests["seek_lands"],
            TestInfo {
                position: 0,
                scenario: Some("Seeks land on the first key at or after the target.".into()),
                book: Some("day1-blocks.md#seeking".into()),
            }
        );
        assert_eq!(tests["sizes"].position, 1);
        assert_eq!(tests["sizes"].scenario, None);
        assert_eq!(
            tests["sizes"].book.as_deref(),
            Some("day1-blocks.md#the-format")
        );
        assert_eq!(tests["no_book"].book.as_deref(), Some("day1-blocks.md"));
    }

    #[test]
    fn case_numbers_sort_cases_in_declaration_order() {
        assert_eq!(case_number("f::case_10_big"), Some(10));
        assert_eq!(case_number("f::case_2"), Some(2));
        assert_eq!(case_number("f"), None);
    }

    /// The real test files parse: every day has tests, and most cite a book section.
    #[test]
    fn the_graded_test_files_parse() {
        let root = crate::workspace::root();
        for day in crate::course::DAYS {
            let path = crate::workspace::day_test_file(&root, day);
            let Ok(source) = std::fs::read_to_string(&path) else {
                continue;
            };
            let tests = parse(&source);
            assert!(tests.len() >= 5, "{}: {tests:?}", path.display());
            assert!(
                tests.values().all(|info| info.book.is_some()),
                "{}",
                path.display()
            );
        }
    }
}
