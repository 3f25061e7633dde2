//! The course's days: Part 1 is days 1 to 7, the seven-day course; Part 2 (optional) is days 8 to
//! 10. Every tool that takes or loops over days uses these, so adding a day is one change here.
//!
//! Each part is graded out of 100 points on its own (`xtask/points.toml`). `cargo x grade`
//! without `--day`/`--days` grades Part 1, exactly as before Part 2 existed; Part 2 is graded
//! with `--days 8-10` (or `--day N`).

use std::ops::RangeInclusive;

/// The last day of the course (Part 2 ends here).
pub const LAST_DAY: u8 = 10;

/// The number of days, for tables indexed by `day - 1`.
pub const DAY_COUNT: usize = LAST_DAY as usize;

/// Every day of the course.
pub const DAYS: RangeInclusive<u8> = 1..=LAST_DAY;

/// Part 1: the seven-day course.
pub const PART_1: RangeInclusive<u8> = 1..=7;

/// Part 2 (optional): snapshots, transactions, tiered compaction.
pub const PART_2: RangeInclusive<u8> = 8..=LAST_DAY;

/// The parts, each graded out of 100 points (`xtask/points.toml`; its tests check the sums).
#[cfg(test)]
pub const PARTS: [RangeInclusive<u8>; 2] = [PART_1, PART_2];

/// Parses a day number of the course, with an error a command line can show.
pub fn parse_day(text: &str) -> Result<u8, String> {
    text.trim()
        .parse::<u8>()
        .ok()
        .filter(|day| DAYS.contains(day))
        .ok_or_else(|| format!("`{}` is not a day (1 to {LAST_DAY})", text.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parts_cover_every_day_once() {
        let days: Vec<u8> = PARTS.iter().flat_map(|part| part.clone()).collect();
        assert_eq!(days, DAYS.collect::<Vec<_>>());
    }

    #[test]
    fn days_parse_within_the_course() {
        assert_eq!(parse_day(" 10"), Ok(10));
        assert_eq!(parse_day("1"), Ok(1));
        assert!(parse_day("0").unwrap_err().contains("1 to 10"));
        assert!(parse_day("11").is_err());
        assert!(parse_day("x").is_err());
    }
}
