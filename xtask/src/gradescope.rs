//! `cargo x grade --format json`: a Gradescope `results.json`.
//!
//! The top level has `score`, `max_score`, `output` (the text table) and `tests`: one entry per
//! graded test named `day N: test_name`, worth its share of the day's points, with `status`
//! `passed`/`failed` and, for a failure, its message (or the timeout or crash) as `output`. When
//! the tests did not compile there is one failed entry per day holding the compiler's error.

use serde_json::{Value, json};

use crate::grade::Grade;
use crate::report;

/// Rounds points for the JSON (Gradescope shows two decimals; shares keep four).
fn round(points: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (points * scale).round() / scale
}

/// The `results.json` of `grade`, with `table` as its top-level output.
pub fn results(grade: &Grade, table: &str) -> Value {
    let mut tests = Vec::new();
    for day in &grade.days {
        match &day.tests {
            None => tests.push(json!({
                "name": format!("day {}: does not compile", day.day),
                "score": 0.0,
                "max_score": round(day.max_points, 4),
                "status": "failed",
                "output": grade.compile_error.clone().unwrap_or_default(),
                "output_format": "text",
                "visibility": "visible",
            })),
            Some(outcomes) => {
                tests.extend(outcomes.iter().map(|outcome| {
                    let share = round(day.points_of(&outcome.case.name), 4);
                    let passed = outcome.status.passed();
                    json!({
                        "name": format!("day {}: {}", day.day, outcome.case.name),
                        "score": round(day.earned(&outcome.case.name), 4),
                        "max_score": share,
                        "status": if passed { "passed" } else { "failed" },
                        "output": shortened(&outcome.status.reason()),
                        "output_format": "text",
                        "visibility": "visible",
                    })
                }));
            }
        }
        tests.extend(crate::stress::json_entries(day));
    }
    json!({
        "score": round(grade.points(), 2),
        "max_score": round(grade.max_points(), 2),
        "output": table,
        "output_format": "text",
        "visibility": "visible",
        "tests": tests,
    })
}

/// A test's output with every line cut to [`MAX_OUTPUT_LINE_CHARS`].
fn shortened(output: &str) -> String {
    output
        .lines()
        .map(|line| report::cut(line, MAX_OUTPUT_LINE_CHARS))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A line of a test's output longer than this many characters is cut.
const MAX_OUTPUT_LINE_CHARS: usize = 2000;

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use super::*;
    use crate::grade::DayGrade;
    use crate::runner::{Status, TestCase, TestOutcome};

    /// A test of day 1.
    fn test(name: &str, status: Status) -> TestOutcome {
        TestOutcome {
            case: TestCase {
                day: 1,
                name: name.to_string(),
                exe: PathBuf::new(),
            },
            status,
        }
    }

    #[test]
    fn results_have_the_gradescope_shape() {
        let grade = Grade {
            label: "s".to_string(),
            days: vec![
                DayGrade {
                    day: 1,
                    tests: Some(vec![
                        test("a", Status::Passed),
                        test("b", Status::Passed),
                        test("c", Status::Failed("boom".to_string())),
                        test("d", Status::TimedOut(Duration::from_secs(10))),
                    ]),
                    max_points: 10.0,
                    weights: Default::default(),
                    stress: None,
                },
                DayGrade {
                    day: 2,
                    tests: Some(vec![test("e", Status::Passed)]),
                    max_points: 5.0,
                    weights: Default::default(),
                    stress: None,
                },
            ],
            compile_error: None,
            timeout: Duration::from_secs(10),
        };
        let json = results(&grade, "the table");
        assert_eq!(json["score"], 10.0);
        assert_eq!(json["max_score"], 15.0);
        assert_eq!(json["output"], "the table");
        let tests = json["tests"].as_array().unwrap();
        assert_eq!(tests.len(), 5);
        assert_eq!(
            tests[0],
            json!({"name": "day 1: a", "score": 2.5, "max_score": 2.5, "status": "passed",
                   "output": "", "output_format": "text", "visibility": "visible"})
        );
        assert_eq!(tests[2]["status"], "failed");
        assert_eq!(tests[2]["score"], 0.0);
        assert_eq!(tests[2]["output"], "boom");
        assert_eq!(tests[3]["output"], "timed out after 10 s");
        assert_eq!(tests[4]["name"], "day 2: e");
        assert_eq!(tests[4]["score"], 5.0);
    }

    #[test]
    fn a_compile_error_fails_one_entry_per_day() {
        let grade = Grade {
            label: "s".to_string(),
            days: vec![DayGrade {
                day: 4,
                tests: None,
                max_points: 20.0,
                weights: Default::default(),
                stress: None,
            }],
            compile_error: Some("error: x".to_string()),
            timeout: Duration::from_secs(10),
        };
        let json = results(&grade, "");
        assert_eq!(json["score"], 0.0);
        assert_eq!(json["max_score"], 20.0);
        assert_eq!(json["tests"][0]["name"], "day 4: does not compile");
        assert_eq!(json["tests"][0]["output"], "error: x");
    }
}
