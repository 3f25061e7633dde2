//! The points of each day, from the checked-in table `xtask/points.toml`, the weights of test
//! functions, and how a day's points are split among its tests.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail, ensure};

use crate::course::{DAY_COUNT, DAYS, LAST_DAY};

/// The checked-in table, compiled into xtask so that grading a submission in a temporary
/// workspace uses this repository's table.
const TABLE: &str = include_str!("../points.toml");

/// Within a day, no test function may weigh more than this many times another one.
pub const MAX_WEIGHT_RATIO: f64 = 4.0;

/// How a day's points are split among its tests: the weight of each test function that has one
/// other than 1, and the part of a function's points earned only when all its cases pass.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Weights {
    /// The weight of each test function weighing other than 1.
    pub functions: BTreeMap<String, f64>,
    /// The part (0 ..= 1) of a function's points earned only when every one of its cases
    /// passes; the rest is split equally among its cases.
    pub all_cases_share: f64,
}

impl Weights {
    /// The weight of `function`.
    pub fn of(&self, function: &str) -> f64 {
        self.functions.get(function).copied().unwrap_or(1.0)
    }
}

/// The points of every day of the course (index 0 for day 1) and the weights of their test
/// functions.
#[derive(Debug, Clone, PartialEq)]
pub struct Points {
    days: [f64; DAY_COUNT],
    weights: [BTreeMap<String, f64>; DAY_COUNT],
    all_cases_share: f64,
    broad: [Vec<String>; DAY_COUNT],
}

impl Points {
    /// The checked-in table.
    pub fn table() -> Result<Self> {
        Self::parse(TABLE).context("xtask/points.toml")
    }

    /// Parses `dayN = POINTS` for every day of the course, and optional `[weights.dayN]` tables of
    /// `test_function = WEIGHT` (a weight of 0.25 ..= 4 times the default 1, so that no function
    /// weighs more than [`MAX_WEIGHT_RATIO`] times another).
    pub fn parse(text: &str) -> Result<Self> {
        let table: toml::Table = toml::from_str(text)?;
        let mut days = [None; DAY_COUNT];
        let mut weights: [BTreeMap<String, f64>; DAY_COUNT] = Default::default();
        let mut broad: [Vec<String>; DAY_COUNT] = Default::default();
        let mut all_cases_share = 0.0;
        for (key, value) in &table {
            if key == "all_cases_share" {
                all_cases_share = number(value)
                    .filter(|share| (0.0..=1.0).contains(share))
                    .context("`all_cases_share` must be a number from 0 to 1")?;
                continue;
            }
            if key == "broad" {
                let Some(tables) = value.as_table() else {
                    bail!("`broad` must be a `[broad]` table of `dayN = [\"test_function\", …]`");
                };
                for (day_key, functions) in tables {
                    let day = day_number(day_key)
                        .with_context(|| format!("`[broad]` {day_key}: not a day"))?;
                    let functions: Option<Vec<String>> = functions.as_array().and_then(|names| {
                        names
                            .iter()
                            .map(|name| name.as_str().map(str::to_string))
                            .collect()
                    });
                    broad[day - 1] = functions.with_context(|| {
                        format!("`[broad]` {day_key}: expected a list of test function names")
                    })?;
                }
                continue;
            }
            if key == "weights" {
                let Some(tables) = value.as_table() else {
                    bail!("`weights` must be a table of `[weights.dayN]` tables");
                };
                for (day_key, functions) in tables {
                    let day = day_number(day_key)
                        .with_context(|| format!("`[weights.{day_key}]`: not a day"))?;
                    let Some(functions) = functions.as_table() else {
                        bail!("`[weights.{day_key}]` must be a table of `function = WEIGHT`");
                    };
                    for (function, weight) in functions {
                        let weight = number(weight).with_context(|| {
                            format!("[weights.{day_key}] {function}: not a number")
                        })?;
                        ensure!(
                            (1.0 / MAX_WEIGHT_RATIO..=MAX_WEIGHT_RATIO).contains(&weight),
                            "[weights.{day_key}] {function} = {weight}: a weight is between \
                             {} and {MAX_WEIGHT_RATIO}",
                            1.0 / MAX_WEIGHT_RATIO
                        );
                        weights[day - 1].insert(function.clone(), weight);
                    }
                }
                continue;
            }
            let day = day_number(key).with_context(|| {
                format!("`{key}`: expected `dayN = POINTS` (N in 1..={LAST_DAY})")
            })?;
            let points = number(value)
                .filter(|points| *points >= 0.0)
                .with_context(|| format!("`{key}`: the points must be a number >= 0"))?;
            days[day - 1] = Some(points);
        }
        for (day, weights) in weights.iter().enumerate() {
            let heaviest = weights.values().fold(1.0_f64, |a, &b| a.max(b));
            let lightest = weights.values().fold(1.0_f64, |a, &b| a.min(b));
            ensure!(
                heaviest <= lightest * MAX_WEIGHT_RATIO,
                "[weights.day{}]: a function weighs {heaviest}, another {lightest} (1 when not \
                 listed): more than {MAX_WEIGHT_RATIO} times as much",
                day + 1
            );
        }
        let mut table = [0.0; DAY_COUNT];
        for (day, value) in days.iter().enumerate() {
            table[day] = value.with_context(|| format!("no points for day{}", day + 1))?;
        }
        Ok(Points {
            days: table,
            weights,
            all_cases_share,
            broad,
        })
    }

    /// The points of `day`.
    pub fn day(&self, day: u8) -> f64 {
        self.days[usize::from(day - 1)]
    }

    /// How `day`'s points are split: its functions' weights, and the all-cases share.
    pub fn weights(&self, day: u8) -> Weights {
        Weights {
            functions: self.weights[usize::from(day - 1)].clone(),
            all_cases_share: self.all_cases_share,
        }
    }

    /// `day`'s broad test functions (random workloads, models, concurrency, crash loops): the
    /// report lists their failures after the other tests' failures.
    pub fn broad(&self, day: u8) -> &[String] {
        &self.broad[usize::from(day - 1)]
    }
}

/// N of `dayN`, N a day of the course.
fn day_number(key: &str) -> Option<usize> {
    let day: u8 = key.strip_prefix("day")?.parse().ok()?;
    DAYS.contains(&day).then_some(usize::from(day))
}

/// An integer or float TOML value as a float.
fn number(value: &toml::Value) -> Option<f64> {
    match value {
        toml::Value::Integer(integer) => Some(*integer as f64),
        toml::Value::Float(float) => Some(*float),
        _ => None,
    }
}

/// What the test (or rstest case) named `name` of a day is worth at most, when the day's test
/// names are `names`: the day's `points` over its test functions in proportion to their weights
/// (default 1), and a function's share equally over its cases.
pub fn points_of<'a>(
    points: f64,
    weights: &Weights,
    names: impl Iterator<Item = &'a str> + Clone,
    name: &str,
) -> f64 {
    let cases_of = cases_of(names);
    let function = function_of(name);
    let Some(&cases) = cases_of.get(function) else {
        return 0.0;
    };
    let total: f64 = cases_of.keys().map(|function| weights.of(function)).sum();
    points * weights.of(function) / total / cases as f64
}

/// What the test named `name` earned, given the day's tests as `(name, passed)`: nothing when it
/// failed; else its [`points_of`], less its part of the all-cases share when a case of its
/// function failed.
pub fn earned<'a>(
    points: f64,
    weights: &Weights,
    tests: impl Iterator<Item = (&'a str, bool)> + Clone,
    name: &str,
) -> f64 {
    let function = function_of(name);
    let mut of_function = tests
        .clone()
        .filter(|(other, _)| function_of(other) == function);
    if !of_function
        .clone()
        .any(|(other, passed)| other == name && passed)
    {
        return 0.0;
    }
    let all_pass = of_function.all(|(_, passed)| passed);
    let most = points_of(points, weights, tests.map(|(name, _)| name), name);
    if all_pass {
        most
    } else {
        most * (1.0 - weights.all_cases_share)
    }
}

/// The number of cases of each test function among `names`.
fn cases_of<'a>(names: impl Iterator<Item = &'a str>) -> BTreeMap<&'a str, usize> {
    let mut cases: BTreeMap<&str, usize> = BTreeMap::new();
    for name in names {
        *cases.entry(function_of(name)).or_default() += 1;
    }
    cases
}

/// The test function a test belongs to: `scan_matches_the_model::case_12_x` →
/// `scan_matches_the_model`; a plain test is its own function.
pub fn function_of(name: &str) -> &str {
    name.split_once("::").map_or(name, |(function, _)| function)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::course::PARTS;
    use crate::workspace;

    const TABLE: &str = "day1=1\nday2=1\nday3=1\nday4=1\nday5=1\nday6=1\nday7=1.5\n\
                         day8=1\nday9=1\nday10=1\n";

    #[test]
    fn each_part_of_the_checked_in_table_adds_up_to_100() {
        let points = Points::table().unwrap();
        for part in PARTS {
            let total: f64 = part.clone().map(|day| points.day(day)).sum();
            assert_eq!(total, 100.0, "days {part:?}");
        }
    }

    /// A weight for a test function that was renamed or removed would silently weigh nothing.
    #[test]
    fn every_weighted_function_is_a_test_of_its_day() {
        let points = Points::table().unwrap();
        let root = workspace::root();
        for day in DAYS {
            let path = workspace::day_test_file(&root, day);
            let source = std::fs::read_to_string(&path).unwrap_or_default();
            for function in points
                .weights(day)
                .functions
                .keys()
                .chain(points.broad(day))
            {
                assert!(
                    source.contains(&format!("\nfn {function}(")),
                    "xtask/points.toml names `{function}`, not a test function of {}",
                    path.display()
                );
            }
        }
    }

    #[test]
    fn a_bad_table_is_refused() {
        assert!(Points::parse("day1 = 10").is_err(), "missing days");
        assert!(Points::parse(&format!("{TABLE}day11 = 1")).is_err());
        assert!(Points::parse(&format!("{TABLE}day1 = 1")).is_err(), "twice");
        let commented = format!("# c\n{TABLE}# x\n");
        assert_eq!(Points::parse(&commented).unwrap().day(7), 1.5);
        let weights = |table: &str| Points::parse(&format!("{TABLE}[weights.day2]\n{table}"));
        assert_eq!(weights("a = 4\nb = 2").unwrap().weights(2).of("a"), 4.0);
        assert!(weights("a = 4.5").is_err(), "more than 4 times the default");
        assert!(weights("a = 4\nb = 0.5").is_err(), "8 times b");
        assert!(weights("a = \"x\"").is_err());
        assert!(Points::parse(&format!("{TABLE}[weights.day11]\na = 2")).is_err());
        let broad = Points::parse(&format!("{TABLE}[broad]\nday3 = [\"a\", \"b\"]")).unwrap();
        assert_eq!(broad.broad(3), ["a", "b"]);
        assert!(Points::parse(&format!("{TABLE}[broad]\nday3 = \"a\"")).is_err());
        let share = Points::parse(&format!("all_cases_share = 0.5\n{TABLE}")).unwrap();
        assert_eq!(share.weights(1).all_cases_share, 0.5);
        assert!(Points::parse(&format!("all_cases_share = 2\n{TABLE}")).is_err());
    }

    #[test]
    fn a_day_is_split_by_function_weight_then_by_case() {
        let names = ["a::case_1", "a::case_2", "b", "c"];
        let mut weights = Weights::default();
        weights.functions.insert("b".to_string(), 2.0);
        let of = |name| points_of(10.0, &weights, names.iter().copied(), name);
        assert_eq!(of("a::case_1"), 1.25);
        assert_eq!(of("b"), 5.0);
        assert_eq!(of("c"), 2.5);
        assert_eq!(of("d"), 0.0);
    }

    #[test]
    fn the_all_cases_share_needs_every_case_of_the_function() {
        let tests = [("a::case_1", true), ("a::case_2", false), ("b", true)];
        let weights = Weights {
            functions: BTreeMap::new(),
            all_cases_share: 0.6,
        };
        let earned = |name| earned(10.0, &weights, tests.iter().copied(), name);
        assert!((earned("a::case_1") - 2.5 * 0.4).abs() < 1e-9);
        assert_eq!(earned("a::case_2"), 0.0);
        assert_eq!(earned("b"), 5.0);
    }
}
