//! The points of each day, from the checked-in table `xtask/points.toml`, and how a day's points
//! are split among its tests.

use anyhow::{Context, Result, bail};

/// The checked-in table, compiled into xtask so that grading a submission in a temporary
/// workspace uses this repository's table.
const TABLE: &str = include_str!("../points.toml");

/// The points of days 1 ..= 7, index 0 for day 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Points([f64; 7]);

impl Points {
    /// The checked-in table.
    pub fn table() -> Result<Self> {
        Self::parse(TABLE).context("xtask/points.toml")
    }

    /// Parses `dayN = POINTS` lines; `#` starts a comment. Every day 1 ..= 7 must be given once.
    pub fn parse(text: &str) -> Result<Self> {
        let mut points = [None; 7];
        for (number, line) in text.lines().enumerate() {
            let line = line
                .split_once('#')
                .map_or(line, |(before, _)| before)
                .trim();
            if line.is_empty() {
                continue;
            }
            let parsed = line.split_once('=').and_then(|(key, value)| {
                let day: usize = key.trim().strip_prefix("day")?.parse().ok()?;
                let value: f64 = value.trim().parse().ok()?;
                ((1..=7).contains(&day) && value >= 0.0).then_some((day, value))
            });
            let Some((day, value)) = parsed else {
                bail!(
                    "line {}: expected `dayN = POINTS` (N in 1..=7), got `{line}`",
                    number + 1
                );
            };
            if points[day - 1].replace(value).is_some() {
                bail!("line {}: day {day} is given twice", number + 1);
            }
        }
        let mut table = [0.0; 7];
        for (day, value) in points.iter().enumerate() {
            table[day] = value.with_context(|| format!("no points for day{}", day + 1))?;
        }
        Ok(Points(table))
    }

    /// The points of `day` (1 ..= 7).
    pub fn day(&self, day: u8) -> f64 {
        self.0[usize::from(day - 1)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checked_in_table_adds_up_to_100() {
        let points = Points::table().unwrap();
        let total: f64 = (1..=7).map(|day| points.day(day)).sum();
        assert_eq!(total, 100.0);
    }

    #[test]
    fn a_bad_table_is_refused() {
        assert!(Points::parse("day1 = 10").is_err(), "missing days");
        assert!(Points::parse("day8 = 1").is_err());
        let twice = "day1=1\nday1=1\nday2=1\nday3=1\nday4=1\nday5=1\nday6=1\nday7=1";
        assert!(Points::parse(twice).is_err());
        let commented = "# c\nday1=1 # x\nday2=1\nday3=1\nday4=1\nday5=1\nday6=1\nday7=1.5";
        assert_eq!(Points::parse(commented).unwrap().day(7), 1.5);
    }
}
