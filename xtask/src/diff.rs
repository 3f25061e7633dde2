//! A small unified line diff, enough to show how a generated file drifted from the one on disk.

/// Lines of context around each change.
const CONTEXT: usize = 3;

/// Above this many cells the longest-common-subsequence table is not built; the differing middle
/// of the files is shown as removed, then added, instead.
const MAX_TABLE_CELLS: usize = 16_000_000;

/// What happens to one line going from the old text to the new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// In both texts.
    Keep,
    /// Only in the old text.
    Remove,
    /// Only in the new text.
    Add,
}

/// A unified diff from `old` to `new` with `---`/`+++` headers, cut after `max_lines` lines.
/// Empty when the texts are equal.
pub fn unified(old: &str, new: &str, old_name: &str, new_name: &str, max_lines: usize) -> String {
    if old == new {
        return String::new();
    }
    let old_lines: Vec<&str> = old.lines().collect();
    let new_lines: Vec<&str> = new.lines().collect();
    let ops = line_ops(&old_lines, &new_lines);
    let mut out = vec![format!("--- {old_name}"), format!("+++ {new_name}")];
    for (start, end) in hunk_ranges(&ops) {
        out.extend(hunk(&ops, start, end));
    }
    if old_lines == new_lines {
        out.push("(the files differ only in their final newline)".to_string());
    }
    if out.len() > max_lines {
        let hidden = out.len() - max_lines;
        out.truncate(max_lines);
        out.push(format!("… ({hidden} more diff lines)"));
    }
    out.join("\n") + "\n"
}

/// The edit script from `old` to `new`: the common prefix and suffix are kept, the middle is
/// aligned on a longest common subsequence.
fn line_ops<'a>(old: &[&'a str], new: &[&'a str]) -> Vec<(Op, &'a str)> {
    let prefix = old.iter().zip(new).take_while(|(a, b)| a == b).count();
    let suffix = old[prefix..]
        .iter()
        .rev()
        .zip(new[prefix..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let (old_mid, new_mid) = (
        &old[prefix..old.len() - suffix],
        &new[prefix..new.len() - suffix],
    );

    let mut ops: Vec<(Op, &str)> = old[..prefix].iter().map(|&line| (Op::Keep, line)).collect();
    ops.extend(middle_ops(old_mid, new_mid));
    ops.extend(
        old[old.len() - suffix..]
            .iter()
            .map(|&line| (Op::Keep, line)),
    );
    ops
}

/// The edit script of the differing middle, by dynamic programming on the longest common
/// subsequence (or everything removed then added when the table would be too large).
fn middle_ops<'a>(old: &[&'a str], new: &[&'a str]) -> Vec<(Op, &'a str)> {
    let (n, m) = (old.len(), new.len());
    if (n + 1) * (m + 1) > MAX_TABLE_CELLS {
        let removed = old.iter().map(|&line| (Op::Remove, line));
        return removed
            .chain(new.iter().map(|&line| (Op::Add, line)))
            .collect();
    }
    // lcs[i * (m + 1) + j] = length of the longest common subsequence of old[i..] and new[j..].
    let mut lcs = vec![0u32; (n + 1) * (m + 1)];
    let at = |i: usize, j: usize| i * (m + 1) + j;
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[at(i, j)] = if old[i] == new[j] {
                lcs[at(i + 1, j + 1)] + 1
            } else {
                lcs[at(i + 1, j)].max(lcs[at(i, j + 1)])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut ops = Vec::with_capacity(n + m);
    while i < n || j < m {
        if i < n && j < m && old[i] == new[j] {
            ops.push((Op::Keep, old[i]));
            (i, j) = (i + 1, j + 1);
        } else if j == m || (i < n && lcs[at(i + 1, j)] >= lcs[at(i, j + 1)]) {
            ops.push((Op::Remove, old[i]));
            i += 1;
        } else {
            ops.push((Op::Add, new[j]));
            j += 1;
        }
    }
    ops
}

/// The ranges of `ops` shown as hunks: every change with [`CONTEXT`] lines around it, changes
/// close enough to share context merged into one hunk.
fn hunk_ranges(ops: &[(Op, &str)]) -> Vec<(usize, usize)> {
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    for (index, _) in ops
        .iter()
        .enumerate()
        .filter(|(_, (op, _))| *op != Op::Keep)
    {
        let start = index.saturating_sub(CONTEXT);
        let end = (index + CONTEXT + 1).min(ops.len());
        match ranges.last_mut() {
            Some(last) if start <= last.1 => last.1 = end,
            _ => ranges.push((start, end)),
        }
    }
    ranges
}

/// One hunk: the `@@ -a,b +c,d @@` header, then the lines of `ops[start..end]`.
fn hunk(ops: &[(Op, &str)], start: usize, end: usize) -> Vec<String> {
    let old_before = ops[..start].iter().filter(|(op, _)| *op != Op::Add).count();
    let new_before = ops[..start]
        .iter()
        .filter(|(op, _)| *op != Op::Remove)
        .count();
    let old_count = ops[start..end]
        .iter()
        .filter(|(op, _)| *op != Op::Add)
        .count();
    let new_count = ops[start..end]
        .iter()
        .filter(|(op, _)| *op != Op::Remove)
        .count();
    let mut lines = vec![format!(
        "@@ -{},{old_count} +{},{new_count} @@",
        old_before + 1,
        new_before + 1
    )];
    lines.extend(ops[start..end].iter().map(|(op, line)| {
        let sign = match op {
            Op::Keep => ' ',
            Op::Remove => '-',
            Op::Add => '+',
        };
        format!("{sign}{line}")
    }));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_texts_have_no_diff() {
        assert_eq!(unified("a\nb\n", "a\nb\n", "old", "new", 60), "");
    }

    #[test]
    fn a_changed_line_shows_with_its_context() {
        let old = "1\n2\n3\n4\n5\n6\n7\n8\n9\n";
        let new = "1\n2\n3\n4\nfive\n6\n7\n8\n9\n";
        let expected = "--- old\n+++ new\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n";
        assert_eq!(unified(old, new, "old", "new", 60), expected);
    }

    #[test]
    fn distant_changes_make_two_hunks_and_near_ones_one() {
        let old: String = (1..=20).map(|i| format!("{i}\n")).collect();
        let far = old.replace("2\n", "two\n").replace("18\n", "eighteen\n");
        assert_eq!(unified(&old, &far, "a", "b", 60).matches("@@ -").count(), 2);
        let near = old.replace("2\n", "two\n").replace("6\n", "six\n");
        assert_eq!(
            unified(&old, &near, "a", "b", 60).matches("@@ -").count(),
            1
        );
    }

    #[test]
    fn insertions_and_removals_are_aligned() {
        let diff = unified("a\nb\nc\n", "a\nx\nc\nd\n", "old", "new", 60);
        assert_eq!(
            diff,
            "--- old\n+++ new\n@@ -1,3 +1,4 @@\n a\n-b\n+x\n c\n+d\n"
        );
    }

    #[test]
    fn a_long_diff_is_cut() {
        let old: String = (0..100).map(|i| format!("{i}\n")).collect();
        let diff = unified(&old, "", "old", "new", 10);
        assert_eq!(diff.lines().count(), 11);
        assert!(diff.ends_with("more diff lines)\n"), "{diff}");
    }
}
