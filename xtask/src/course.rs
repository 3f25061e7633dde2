//! The course's days: Part 1 is days 1 to 7, the seven-day course; Part 2 (optional) is days 8 to
//! 10. Every tool that takes or loops over days uses these, so adding a day is one change here.

use std::ops::RangeInclusive;

/// The last day of the course (Part 2 ends here).
pub const LAST_DAY: u8 = 10;

/// Every day of the course.
pub const DAYS: RangeInclusive<u8> = 1..=LAST_DAY;
