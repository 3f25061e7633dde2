//! The shell's command language: a line of words, parsed into a [`Command`].
//!
//! Words are separated by spaces. Double quotes make one word of text with spaces (`"a b"`), and
//! backslash escapes write any byte, the way [`u8::escape_ascii`] shows it (`\x00`, `\xff`, `\n`,
//! `\t`, `\r`, `\\`, `\"`, `\'`), so whatever the shell prints can be typed back. A line whose
//! first word starts with `#` is a comment.

use std::ops::Bound;
use std::path::PathBuf;

/// One command of the shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    Put(Vec<u8>, Vec<u8>),
    Get(Vec<u8>),
    Delete(Vec<u8>),
    Scan(KeyRange),
    Fill {
        from: u64,
        to: u64,
    },
    Flush,
    Compact,
    Sync,
    Shape,
    Stats,
    Dump(Vec<u8>),
    Open(PathBuf),
    /// Takes a snapshot (day 8).
    Snapshot,
    /// `get` at a snapshot: its number and the key.
    SnapshotGet(u64, Vec<u8>),
    /// `scan` at a snapshot.
    SnapshotScan(u64, KeyRange),
    /// Drops a snapshot.
    Release(u64),
    /// Begins a transaction (day 9): `put`, `get`, `del` and `scan` then go through it.
    Begin,
    /// Commits the open transaction.
    Commit,
    /// Drops the open transaction, writing nothing.
    Abort,
    Help,
    Quit,
}

/// The keys a `scan` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyRange {
    pub(crate) lower: Bound<Vec<u8>>,
    pub(crate) upper: Bound<Vec<u8>>,
}

/// Every command: its name, its usage, and what it does, as `help` lists them.
const COMMANDS: &[(&str, &str, &str)] = &[
    ("put", "put KEY VALUE", "set KEY to VALUE"),
    ("get", "get KEY", "print the value of KEY, or (not found)"),
    ("del", "del KEY", "delete KEY (writes a tombstone)"),
    (
        "scan",
        "scan [FROM [TO]]",
        "print the entries in a key range, in key order:\n\
         \x20     scan              every key\n\
         \x20     scan a            a <= key\n\
         \x20     scan a z          a <= key < z   (the usual half-open range)\n\
         \x20     scan [a z]        a <= key <= z  (brackets include a bound,\n\
         \x20     scan (a z)        a <  key <  z   parentheses exclude it;\n\
         \x20     scan [a z)        a <= key <  z   mix them freely)\n\
         \x20     scan * m          key < m        (a bare * is no bound)",
    ),
    (
        "fill",
        "fill FROM TO",
        "put key_{i:06} = value_{i} for every i in FROM..TO (TO excluded)",
    ),
    (
        "flush",
        "flush",
        "freeze the memtable and flush every memtable to L0",
    ),
    (
        "compact",
        "compact",
        "compact everything into the bottom level (day 5)",
    ),
    ("sync", "sync", "make every write so far durable"),
    (
        "shape",
        "shape",
        "draw the tree: memtables, L0 and levels, with SST ids, key ranges and sizes",
    ),
    (
        "stats",
        "stats",
        "block cache hits, bloom skips, bytes flushed and compacted, write amplification",
    ),
    (
        "dump",
        "dump KEY",
        "the layers a get of KEY searches, newest first, and its answer",
    ),
    (
        "open",
        "open DIR",
        "switch to the engine in DIR (the current one stays if DIR cannot be opened)",
    ),
    (
        "snapshot",
        "snapshot",
        "take a snapshot (day 8, --mvcc on): prints its number and seq",
    ),
    ("sget", "sget N KEY", "get KEY as snapshot N sees it"),
    (
        "sscan",
        "sscan N [FROM [TO]]",
        "scan as snapshot N sees it (bounds as for scan)",
    ),
    (
        "release",
        "release N",
        "drop snapshot N, so compaction may drop the versions only it read",
    ),
    (
        "begin",
        "begin",
        "start a transaction (day 9, --mvcc on): put, get, del and scan then go through it",
    ),
    (
        "commit",
        "commit",
        "commit the transaction: all its writes, or none on a conflict",
    ),
    ("abort", "abort", "drop the transaction, writing nothing"),
    ("help", "help", "this list"),
    (
        "quit",
        "quit",
        "close the engine and leave (also `exit`, Ctrl-D)",
    ),
];

/// The text `help` prints.
pub(crate) fn help() -> String {
    let mut text = String::from("commands:\n");
    for (_, usage, what) in COMMANDS {
        text.push_str(&format!("  {usage:<18} {what}\n"));
    }
    text.push_str(
        "\nKeys and values are words: write \"a b\" for one with spaces, \\xff for any byte\n\
         (\\x00, \\n, \\t, \\\\, \\\" too); output shows bytes the same way. Lines starting with #\n\
         are comments. A command that reaches an unwritten stub prints\n\
         `not implemented yet: day N (Type::method)`, and the shell goes on.\n",
    );
    text
}

/// One word of a line: its bytes, and for each byte whether it was typed bare (outside quotes
/// and not escaped), which is what makes `[`, `(`, `)`, `]` and `*` mean bounds in `scan`.
#[derive(Debug, Default)]
struct Word {
    bytes: Vec<u8>,
    bare: Vec<bool>,
}

impl Word {
    fn push(&mut self, byte: u8, bare: bool) {
        self.bytes.push(byte);
        self.bare.push(bare);
    }

    /// Whether the word is exactly `text`, typed bare.
    fn is_bare(&self, text: &str) -> bool {
        self.bytes == text.as_bytes() && self.bare.iter().all(|&bare| bare)
    }
}

/// Parses one line; `None` for a blank line or a comment.
pub(crate) fn parse(line: &[u8]) -> Result<Option<Command>, String> {
    let mut words = split_words(line)?.into_iter();
    let Some(name) = words.next() else {
        return Ok(None);
    };
    if name.bytes.first() == Some(&b'#') {
        return Ok(None);
    }
    let args: Vec<Word> = words.collect();
    let name = String::from_utf8_lossy(&name.bytes).into_owned();
    let command = match name.as_str() {
        "put" => {
            let [key, value] = exactly(&name, args)?;
            Command::Put(key, value)
        }
        "get" => Command::Get(one(&name, args)?),
        "del" | "delete" => Command::Delete(one(&name, args)?),
        "scan" => Command::Scan(key_range(args)?),
        "fill" => {
            let [from, to] = exactly(&name, args)?;
            let (from, to) = (number(&from)?, number(&to)?);
            if from >= to {
                return Err(format!("fill {from} {to}: FROM must be below TO"));
            }
            Command::Fill { from, to }
        }
        "dump" => Command::Dump(one(&name, args)?),
        "sget" => {
            let [snapshot, key] = exactly(&name, args)?;
            Command::SnapshotGet(number(&snapshot)?, key)
        }
        "sscan" => {
            let mut args = args.into_iter();
            let snapshot = args
                .next()
                .ok_or_else(|| format!("sscan: missing argument (usage: {})", usage(&name)))?;
            Command::SnapshotScan(number(&snapshot.bytes)?, key_range(args.collect())?)
        }
        "release" => Command::Release(number(&one(&name, args)?)?),
        "open" => {
            let dir = one(&name, args)?;
            let dir = String::from_utf8(dir).map_err(|_| "open: DIR must be UTF-8".to_string())?;
            Command::Open(PathBuf::from(dir))
        }
        _ => {
            let command = no_arguments(&name)?;
            let [] = exactly(&name, args)?;
            command
        }
    };
    Ok(Some(command))
}

/// The commands without arguments, by name.
fn no_arguments(name: &str) -> Result<Command, String> {
    Ok(match name {
        "flush" => Command::Flush,
        "compact" => Command::Compact,
        "sync" => Command::Sync,
        "shape" => Command::Shape,
        "stats" => Command::Stats,
        "snapshot" => Command::Snapshot,
        "begin" => Command::Begin,
        "commit" => Command::Commit,
        "abort" => Command::Abort,
        "help" | "?" => Command::Help,
        "quit" | "exit" => Command::Quit,
        _ => {
            return Err(format!(
                "unknown command `{}` (type `help` for the list)",
                name.escape_default()
            ));
        }
    })
}

/// The usage line of command `name`.
fn usage(name: &str) -> &'static str {
    let name = match name {
        "delete" => "del",
        "?" => "help",
        "exit" => "quit",
        other => other,
    };
    COMMANDS
        .iter()
        .find(|(command, _, _)| *command == name)
        .map_or("", |(_, usage, _)| usage)
}

/// The `N` arguments of `name`, or an error naming its usage.
fn exactly<const N: usize>(name: &str, args: Vec<Word>) -> Result<[Vec<u8>; N], String> {
    let count = args.len();
    let bytes: Vec<Vec<u8>> = args.into_iter().map(|word| word.bytes).collect();
    bytes.try_into().map_err(|_| {
        let problem = if count < N {
            "missing argument"
        } else {
            "too many arguments"
        };
        format!("{name}: {problem} (usage: {})", usage(name))
    })
}

/// The one argument of `name`.
fn one(name: &str, args: Vec<Word>) -> Result<Vec<u8>, String> {
    let [arg] = exactly(name, args)?;
    Ok(arg)
}

/// A whole number argument.
fn number(word: &[u8]) -> Result<u64, String> {
    std::str::from_utf8(word)
        .ok()
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| format!("`{}` is not a whole number", word.escape_ascii()))
}

/// The range of `scan [FROM [TO]]`: see `help`.
fn key_range(mut args: Vec<Word>) -> Result<KeyRange, String> {
    let open = take_bracket(&mut args, true);
    let close = take_bracket(&mut args, false);
    let bracketed = open.is_some() || close.is_some();
    if bracketed && (open.is_none() || close.is_none() || args.len() != 2) {
        return Err(
            "scan: a bracketed range needs both bounds and both brackets: [FROM TO], (FROM TO), \
             [FROM TO) or (FROM TO]; a bare * is no bound"
                .into(),
        );
    }
    if args.len() > 2 {
        return Err(format!(
            "scan: too many arguments (usage: {})",
            usage("scan")
        ));
    }
    let mut args = args.into_iter();
    let lower = bound(args.next(), open.unwrap_or(b'['));
    let upper = bound(args.next(), close.unwrap_or(b')'));
    Ok(KeyRange { lower, upper })
}

/// Removes a bare bracket from the start of the first word (`front`) or the end of the last, and
/// returns it; a word left empty is removed.
fn take_bracket(args: &mut Vec<Word>, front: bool) -> Option<u8> {
    let (brackets, index): (&[u8], usize) = if front {
        (b"[(", 0)
    } else {
        (b"])", args.len().checked_sub(1)?)
    };
    let word = args.get_mut(index)?;
    let at = if front {
        0
    } else {
        word.bytes.len().checked_sub(1)?
    };
    let byte = *word.bytes.get(at)?;
    if !word.bare[at] || !brackets.contains(&byte) {
        return None;
    }
    word.bytes.remove(at);
    word.bare.remove(at);
    if word.bytes.is_empty() {
        args.remove(index);
    }
    Some(byte)
}

/// The bound a word gives with its bracket: none for a missing word or a bare `*`, included for
/// `[` and `]`, excluded for `(` and `)`.
fn bound(word: Option<Word>, bracket: u8) -> Bound<Vec<u8>> {
    match word {
        None => Bound::Unbounded,
        Some(word) if word.is_bare("*") => Bound::Unbounded,
        Some(word) if matches!(bracket, b'[' | b']') => Bound::Included(word.bytes),
        Some(word) => Bound::Excluded(word.bytes),
    }
}

/// Splits a line into words, handling quotes and escapes.
fn split_words(line: &[u8]) -> Result<Vec<Word>, String> {
    let mut words = Vec::new();
    let mut word: Option<Word> = None;
    let mut quoted = false;
    let mut bytes = line.iter().copied();
    while let Some(byte) = bytes.next() {
        match byte {
            b'"' => {
                quoted = !quoted;
                word.get_or_insert_with(Word::default);
            }
            b'\\' => {
                let escaped = unescape(&mut bytes)?;
                word.get_or_insert_with(Word::default).push(escaped, false);
            }
            b' ' | b'\t' | b'\n' | b'\r' if !quoted => words.extend(word.take()),
            _ => word.get_or_insert_with(Word::default).push(byte, !quoted),
        }
    }
    if quoted {
        return Err("a quote is not closed: write \"a b\" for a word with spaces".into());
    }
    words.extend(word);
    Ok(words)
}

/// The byte an escape stands for, reading what follows the backslash from `bytes`.
fn unescape(bytes: &mut impl Iterator<Item = u8>) -> Result<u8, String> {
    let byte = match bytes.next() {
        Some(b'n') => b'\n',
        Some(b't') => b'\t',
        Some(b'r') => b'\r',
        Some(b'0') => 0,
        Some(b'x') => {
            let digits = [bytes.next(), bytes.next()];
            let hex = |digit: Option<u8>| char::from(digit?).to_digit(16);
            match digits.map(hex) {
                [Some(high), Some(low)] => (high * 16 + low) as u8,
                _ => return Err("\\x needs two hex digits, as in \\xff".into()),
            }
        }
        Some(byte @ (b'\\' | b'"' | b'\'' | b' ')) => byte,
        Some(other) => {
            return Err(format!(
                "unknown escape `\\{}` (use \\xNN for any byte)",
                [other].escape_ascii()
            ));
        }
        None => return Err("a line cannot end with a backslash".into()),
    };
    Ok(byte)
}

/// Bytes as the shell shows them: escaped like [`u8::escape_ascii`], in quotes when empty or
/// when they hold a space, so that the text can be typed back as one word.
pub(crate) fn show(bytes: &[u8]) -> String {
    let escaped = bytes.escape_ascii().to_string();
    if escaped.is_empty() || escaped.contains(' ') {
        format!("\"{escaped}\"")
    } else {
        escaped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(line: &str) -> Command {
        parse(line.as_bytes()).unwrap().unwrap()
    }

    fn range(lower: Bound<&str>, upper: Bound<&str>) -> Command {
        let owned = |b: Bound<&str>| b.map(|s| s.as_bytes().to_vec());
        Command::Scan(KeyRange {
            lower: owned(lower),
            upper: owned(upper),
        })
    }

    #[test]
    fn quotes_and_escapes_make_one_word() {
        assert_eq!(
            parsed(r#"put "a b" c\x00\xffd"#),
            Command::Put(b"a b".to_vec(), b"c\x00\xffd".to_vec())
        );
        assert_eq!(parsed(r#"put k """#), Command::Put(b"k".to_vec(), vec![]));
        assert!(parse(br#"put "a b c"#).is_err());
        assert!(parse(br"get \q").is_err());
        assert!(parse(br"get \x4").is_err());
    }

    #[test]
    fn shown_bytes_parse_back() {
        for bytes in [&b"a b"[..], b"", b"q\"\\\x00\xff\n", b"plain"] {
            let line = format!("get {}", show(bytes));
            assert_eq!(parsed(&line), Command::Get(bytes.to_vec()), "{line}");
        }
    }

    #[test]
    fn blank_lines_and_comments_are_nothing() {
        assert_eq!(parse(b"   \n").unwrap(), None);
        assert_eq!(parse(b"# put a 1").unwrap(), None);
    }

    #[test]
    fn scan_bounds() {
        use Bound::{Excluded, Included, Unbounded};
        assert_eq!(parsed("scan"), range(Unbounded, Unbounded));
        assert_eq!(parsed("scan a"), range(Included("a"), Unbounded));
        assert_eq!(parsed("scan a z"), range(Included("a"), Excluded("z")));
        assert_eq!(parsed("scan [a z]"), range(Included("a"), Included("z")));
        assert_eq!(parsed("scan (a z)"), range(Excluded("a"), Excluded("z")));
        assert_eq!(parsed("scan ( a z ]"), range(Excluded("a"), Included("z")));
        assert_eq!(parsed("scan * m"), range(Unbounded, Excluded("m")));
        assert_eq!(parsed("scan [a *]"), range(Included("a"), Unbounded));
        assert_eq!(
            parsed(r#"scan "[a" "z]""#),
            range(Included("[a"), Excluded("z]"))
        );
        assert_eq!(parsed(r#"scan "*""#), range(Included("*"), Unbounded));
        for bad in ["scan [a z", "scan a z]", "scan [a]", "scan a b c"] {
            assert!(parse(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn arguments_are_counted() {
        let missing = parse(b"put a").unwrap_err();
        assert!(missing.contains("missing argument"), "{missing}");
        assert!(missing.contains("put KEY VALUE"), "{missing}");
        assert!(parse(b"flush now").unwrap_err().contains("too many"));
        assert!(parse(b"fill 5 5").is_err());
        assert!(parse(b"fill a 5").is_err());
        assert_eq!(parsed("fill 0 10"), Command::Fill { from: 0, to: 10 });
        assert!(
            parse(b"frobnicate")
                .unwrap_err()
                .contains("unknown command")
        );
    }
}
