//! `cargo x grade --roster DIR`: grades every sub-folder of DIR as a submission, one after the
//! other, each in its own temporary workspace but all with one target directory (the
//! dependencies are built once). A submission that does not compile, hangs, or is not a crate
//! is recorded as such and never stops the others. Writes `roster.csv`.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use anyhow::{Context, Result};

use crate::grade::{self, Grade};
use crate::report::number;
use crate::runner::RunSettings;

/// One row of the roster.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The sub-folder's name.
    pub submission: String,
    /// The points of each graded day, `None` for a day not graded.
    pub days: [Option<f64>; crate::course::DAY_COUNT],
    /// The total points.
    pub total: f64,
    /// `passed`, `partial`, `failed` (no points), `does not compile`, or `error: …`.
    pub status: String,
}

impl Row {
    /// The row of a graded submission.
    fn graded(submission: &str, grade: &Grade) -> Self {
        let mut days = [None; crate::course::DAY_COUNT];
        for day in &grade.days {
            days[usize::from(day.day - 1)] = Some(day.points());
        }
        let status = if grade.compile_error.is_some() {
            "does not compile"
        } else if grade.all_passed() {
            "passed"
        } else if grade.points() == 0.0 {
            "failed"
        } else {
            "partial"
        };
        Row {
            submission: submission.to_string(),
            days,
            total: grade.points(),
            status: status.to_string(),
        }
    }

    /// The row of a submission that could not be graded.
    fn error(submission: &str, error: &anyhow::Error) -> Self {
        Row {
            submission: submission.to_string(),
            days: [None; crate::course::DAY_COUNT],
            total: 0.0,
            status: format!("error: {error:#}"),
        }
    }
}

/// Grades every sub-folder of `dir` on `days`, writes the CSV to `output`, prints a summary;
/// `Ok(true)` when every submission passed every graded day.
pub fn grade_roster(
    root: &Path,
    dir: &Path,
    days: &[u8],
    settings: RunSettings,
    output: &Path,
) -> Result<bool> {
    let mut folders: Vec<_> = fs::read_dir(dir)
        .with_context(|| format!("could not list {}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.is_dir())
        .collect();
    folders.sort();
    let mut rows = Vec::new();
    for (index, folder) in folders.iter().enumerate() {
        let name = folder.file_name().map_or_else(
            || folder.display().to_string(),
            |name| name.to_string_lossy().into_owned(),
        );
        println!("[{}/{}] {name}", index + 1, folders.len());
        let graded = grade::grade_submission(root, folder, &name, days, settings);
        let row = match graded {
            Ok(grade) => Row::graded(&name, &grade),
            Err(error) => Row::error(&name, &error),
        };
        println!("      {} points, {}", number(row.total), row.status);
        rows.push(row);
    }
    fs::write(output, csv(&rows, days))
        .with_context(|| format!("could not write {}", output.display()))?;
    println!("\n{}", summary(&rows));
    println!("wrote {}", output.display());
    Ok(!rows.is_empty() && rows.iter().all(|row| row.status == "passed"))
}

/// The CSV: `submission,dayN,…,total,status` with a column per graded day (`day1` to `day7` for
/// Part 1), one row per submission.
pub fn csv(rows: &[Row], graded_days: &[u8]) -> String {
    let columns: Vec<String> = graded_days.iter().map(|day| format!("day{day}")).collect();
    let mut text = format!("submission,{},total,status\n", columns.join(","));
    for row in rows {
        let days: Vec<String> = graded_days
            .iter()
            .map(|&day| {
                row.days[usize::from(day - 1)]
                    .map(number)
                    .unwrap_or_default()
            })
            .collect();
        let _ = writeln!(
            text,
            "{},{},{},{}",
            csv_field(&row.submission),
            days.join(","),
            number(row.total),
            csv_field(&row.status)
        );
    }
    text
}

/// A CSV field, quoted when it holds a comma, a quote or a line break.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// The summary printed at the end: one line per submission and the counts.
fn summary(rows: &[Row]) -> String {
    let width = rows
        .iter()
        .map(|row| row.submission.len())
        .max()
        .unwrap_or(0);
    let mut text = String::new();
    for row in rows {
        let status = row.status.lines().next().unwrap_or("");
        let _ = writeln!(
            text,
            "{:<width$}  {:>6}  {status}",
            row.submission,
            number(row.total)
        );
    }
    let count = |status: &str| rows.iter().filter(|row| row.status == status).count();
    let _ = write!(
        text,
        "{} submissions: {} passed, {} partial, {} failed, {} do not compile, {} not graded",
        rows.len(),
        count("passed"),
        count("partial"),
        count("failed"),
        count("does not compile"),
        rows.iter()
            .filter(|row| row.status.starts_with("error"))
            .count()
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csv_has_a_column_per_day_and_quotes_when_needed() {
        let rows = [
            Row {
                submission: "alice".into(),
                days: [
                    Some(10.0),
                    Some(2.5),
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                ],
                total: 12.5,
                status: "partial".into(),
            },
            Row::error("bob, jr", &anyhow::anyhow!("not a \"crate\"")),
        ];
        assert_eq!(
            csv(&rows, &[1, 2, 3, 4, 5, 6, 7]),
            "submission,day1,day2,day3,day4,day5,day6,day7,total,status\n\
             alice,10,2.5,,,,,,12.5,partial\n\
             \"bob, jr\",,,,,,,,0,\"error: not a \"\"crate\"\"\"\n"
        );
        assert!(summary(&rows).ends_with(
            "2 submissions: 0 passed, 1 partial, 0 failed, 0 do not compile, 1 not graded"
        ));
    }
}
