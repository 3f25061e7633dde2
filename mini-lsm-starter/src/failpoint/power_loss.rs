//! A simulated power loss (test-only, feature `failpoints`).
//!
//! A process crash loses nothing the process handed to the operating system. A power cut is
//! worse: it keeps only what was made *durable*. This module watches every durable operation of
//! [`crate::fs`] in the directories a test [`track`]s, and can then build the directory a machine
//! would find after losing power at that moment ([`capture`]):
//!
//! * a file keeps the bytes it had at its last `fsync` ([`crate::fs::sync_file`]); of what was
//!   written after it, a seeded choice keeps all, none, a prefix, or a random set of 4 KiB pages
//!   with zeros in the others (a disk may write a later page and lose an earlier one). A log
//!   synced with [`crate::fs::sync_log`] had zeros preallocated after its records: what was
//!   written over them since is lost the same way, and a lost part reads as those zeros;
//! * the directory keeps the names it had at its last `fsync` ([`crate::fs::sync_dir`]): a file
//!   created since then is gone, one deleted or renamed over since then is back, with the bytes
//!   it had synced.
//!
//! A test arms a power loss at the N-th durable operation ([`arm`]): just before that operation
//! runs, the image is captured into a directory of the test's choosing, and from then on every
//! durable operation fails (the machine is off), or the process aborts. The test then opens the
//! image and checks that every write acknowledged as synced is there.
//!
//! Engine code never calls this module; it only goes through [`crate::fs`].

use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;

use crate::error::{Error, Result};

/// What happens once the armed operation is reached and the image is captured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterPowerLoss {
    /// Every durable operation from the armed one on fails with an I/O error: the engine goes
    /// on in memory, but nothing more reaches the disk image. For tests in one process.
    FailEverything,
    /// Abort the process at once (for a child process killed at that moment).
    Abort,
}

/// A power loss waiting for its operation.
#[derive(Debug, Clone)]
struct Armed {
    /// The durable operation (counted from 1 since [`arm`]) at which power is lost.
    at: u64,
    /// Where the image of the tracked directory goes.
    image: PathBuf,
    /// Seeds the choices of what unsynced bytes survive.
    seed: u64,
    then: AfterPowerLoss,
}

/// Everything known about the tracked directories.
#[derive(Debug, Default)]
struct Tracker {
    /// The durable names of each tracked directory, with the inode each names.
    dirs: HashMap<PathBuf, BTreeMap<String, u64>>,
    /// What the last sync of each inode in a tracked directory made durable.
    synced: HashMap<u64, Synced>,
    /// The synced bytes of inodes whose name is gone but not durably: a power loss brings them
    /// back.
    stash: HashMap<u64, Vec<u8>>,
    /// Durable operations in tracked directories since [`arm`].
    ops: u64,
    armed: Option<Armed>,
    /// Set once power was lost: every later durable operation fails.
    off: bool,
    /// The operation power was lost at (what, path), for messages.
    lost_at: Option<String>,
}

/// What a sync of a file made durable.
#[derive(Debug, Clone, Copy, Default)]
struct Synced {
    /// Its first `content` bytes, as they are now (the engine never rewrites synced bytes).
    content: u64,
    /// Its size: the bytes from `content` to `size` were zeros (preallocated after a log's
    /// records), whatever has been written over them since.
    size: u64,
}

impl Synced {
    /// A file synced whole: every byte of its `len` is content.
    fn whole(len: u64) -> Self {
        Synced {
            content: len,
            size: len,
        }
    }

    /// The durable bytes of the file whose content is now `bytes`: exactly what was synced.
    fn durable(self, mut bytes: Vec<u8>) -> Vec<u8> {
        bytes.truncate(self.content as usize);
        bytes.resize(self.size as usize, 0);
        bytes
    }

    /// What survives of `bytes`, the file's content now: the synced content, then the zeros
    /// after it, with what was written since lost or kept by `rng`'s choices.
    fn image(self, bytes: Vec<u8>, rng: &mut SplitMix) -> Vec<u8> {
        let mut image = lose_unsynced(bytes, self.content as usize, rng);
        if image.len() < self.size as usize {
            image.resize(self.size as usize, 0);
        }
        image
    }
}

static TRACKER: Mutex<Option<Tracker>> = Mutex::new(None);

/// Held across each directory sync: two syncs that ran at once could otherwise record their
/// listings in the wrong order, the older listing last, forgetting names the newer one made
/// durable.
static DIR_SYNC: Mutex<()> = Mutex::new(());

/// See [`crate::fs::sync_dir`].
pub(crate) fn dir_sync_guard() -> parking_lot::MutexGuard<'static, ()> {
    DIR_SYNC.lock()
}

/// Starts tracking directory `dir`: from now on its durable operations are counted and what they
/// make durable is remembered. What is in it already counts as durable. Tracking ends with
/// [`stop`] (a [`super::Scenario`] stops it when dropped).
pub fn track(dir: &Path) -> Result<()> {
    let mut names = BTreeMap::new();
    let mut tracker = TRACKER.lock();
    let tracker = tracker.get_or_insert_with(Tracker::default);
    for (name, path) in list(dir)? {
        let metadata = std::fs::metadata(&path).map_err(|e| Error::io(&path, e))?;
        tracker
            .synced
            .insert(metadata.ino(), Synced::whole(metadata.len()));
        names.insert(name, metadata.ino());
    }
    tracker.dirs.insert(dir.to_path_buf(), names);
    Ok(())
}

/// Arms a power loss at the `at`-th durable operation (1 for the next one) in a tracked
/// directory: the image of that directory goes to `image` (created), unsynced bytes survive as
/// `seed` chooses, and then `then` happens.
pub fn arm(at: u64, image: &Path, seed: u64, then: AfterPowerLoss) {
    let mut tracker = TRACKER.lock();
    let tracker = tracker.get_or_insert_with(Tracker::default);
    tracker.ops = 0;
    tracker.off = false;
    tracker.lost_at = None;
    tracker.armed = Some(Armed {
        at,
        image: image.to_path_buf(),
        seed,
        then,
    });
}

/// How many durable operations ran in tracked directories since [`arm`] (or since tracking
/// began): a test counts a scenario's operations once, then loses power at each of them.
pub fn ops() -> u64 {
    TRACKER.lock().as_ref().map_or(0, |t| t.ops)
}

/// The operation at which the armed power loss happened ("fsync of dir/00003.sst"), if it did.
pub fn lost_at() -> Option<String> {
    TRACKER.lock().as_ref().and_then(|t| t.lost_at.clone())
}

/// Stops tracking every directory and disarms.
pub fn stop() {
    *TRACKER.lock() = None;
}

/// The directory of `path` if it is tracked.
fn tracked_dir<'a>(tracker: &Tracker, path: &'a Path) -> Option<&'a Path> {
    if tracker.dirs.contains_key(path) {
        return Some(path);
    }
    path.parent().filter(|dir| tracker.dirs.contains_key(*dir))
}

/// See [`crate::fs`]: counts the operation, and loses power when it is the armed one.
pub(crate) fn before_durable_op(what: &'static str, path: &Path) -> Result<()> {
    let mut guard = TRACKER.lock();
    let Some(tracker) = guard.as_mut() else {
        return Ok(());
    };
    let Some(dir) = tracked_dir(tracker, path) else {
        return Ok(());
    };
    if tracker.off {
        return Err(power_off(path));
    }
    tracker.ops += 1;
    let Some(armed) = tracker
        .armed
        .clone()
        .filter(|armed| armed.at == tracker.ops)
    else {
        return Ok(());
    };
    capture(tracker, dir, &armed.image, armed.seed)?;
    tracker.off = true;
    tracker.lost_at = Some(format!("{what} {}", path.display()));
    match armed.then {
        AfterPowerLoss::Abort => std::process::abort(),
        AfterPowerLoss::FailEverything => Err(power_off(path)),
    }
}

fn power_off(path: &Path) -> Error {
    Error::io(
        path,
        std::io::Error::other("simulated power loss: the disk is gone"),
    )
}

/// See [`crate::fs::sync_file`].
pub(crate) fn file_synced(file: &std::fs::File, path: &Path, content_len: Option<u64>) {
    let mut guard = TRACKER.lock();
    let Some(tracker) = guard.as_mut() else {
        return;
    };
    if tracked_dir(tracker, path).is_none() {
        return;
    }
    if let Ok(metadata) = file.metadata() {
        let size = metadata.len();
        let content = content_len.unwrap_or(size).min(size);
        tracker
            .synced
            .insert(metadata.ino(), Synced { content, size });
    }
}

/// The names in a directory with their inodes, taken before it is synced.
pub(crate) type Listing = Vec<(String, u64)>;

/// See [`crate::fs::sync_dir`].
pub(crate) fn dir_listing(dir: &Path) -> Listing {
    let tracked = TRACKER
        .lock()
        .as_ref()
        .is_some_and(|tracker| tracker.dirs.contains_key(dir));
    if !tracked {
        return Vec::new();
    }
    let Ok(entries) = list(dir) else {
        return Vec::new();
    };
    entries
        .into_iter()
        .filter_map(|(name, path)| Some((name, std::fs::metadata(path).ok()?.ino())))
        .collect()
}

/// See [`crate::fs::sync_dir`].
pub(crate) fn dir_synced(dir: &Path, listing: Listing) {
    let mut guard = TRACKER.lock();
    let Some(tracker) = guard.as_mut() else {
        return;
    };
    if let Some(names) = tracker.dirs.get_mut(dir) {
        *names = listing.into_iter().collect();
    }
}

/// See [`crate::fs::remove_file`] and [`crate::fs::rename`]: before a name stops referring to
/// its inode, keeps the inode's synced bytes if a durable name still refers to it.
pub(crate) fn before_unlink(path: &Path) {
    let mut guard = TRACKER.lock();
    let Some(tracker) = guard.as_mut() else {
        return;
    };
    let Some(dir) = tracked_dir(tracker, path) else {
        return;
    };
    let Ok(metadata) = std::fs::metadata(path) else {
        return;
    };
    let ino = metadata.ino();
    let durably_named = tracker.dirs[dir].values().any(|&named| named == ino);
    let synced = tracker.synced.remove(&ino).unwrap_or_default();
    if durably_named && let Ok(bytes) = std::fs::read(path) {
        tracker.stash.insert(ino, synced.durable(bytes));
    }
}

/// Writes into `image` what directory `dir` would hold after a power loss now.
fn capture(tracker: &Tracker, dir: &Path, image: &Path, seed: u64) -> Result<()> {
    std::fs::create_dir_all(image).map_err(|e| Error::io(image, e))?;
    let mut rng = SplitMix(seed);
    for (name, &ino) in &tracker.dirs[dir] {
        let path = dir.join(name);
        let live = std::fs::metadata(&path).is_ok_and(|m| m.ino() == ino);
        let bytes = if live {
            let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
            let synced = tracker.synced.get(&ino).copied().unwrap_or_default();
            synced.image(bytes, &mut rng)
        } else if let Some(stashed) = tracker.stash.get(&ino) {
            stashed.clone()
        } else {
            continue;
        };
        let target = image.join(name);
        std::fs::write(&target, bytes).map_err(|e| Error::io(&target, e))?;
    }
    Ok(())
}

/// Of `bytes`, whose first `synced` were synced, what survives a power loss.
fn lose_unsynced(mut bytes: Vec<u8>, synced: usize, rng: &mut SplitMix) -> Vec<u8> {
    const PAGE: usize = 4096;
    let synced = synced.min(bytes.len());
    let unsynced = bytes.len() - synced;
    if unsynced == 0 {
        return bytes;
    }
    match rng.below(4) {
        // Nothing written since the sync reached the disk.
        0 => bytes.truncate(synced),
        // All of it did.
        1 => {}
        // A prefix did: the file was cut at a random length.
        2 => bytes.truncate(synced + rng.below(unsynced as u64) as usize),
        // The file grew, but only some of its unsynced pages were written; the others read
        // as zeros (a later page may survive an earlier one).
        _ => {
            let mut page_start = synced;
            while page_start < bytes.len() {
                let page_end = ((page_start / PAGE + 1) * PAGE).min(bytes.len());
                if rng.below(2) == 0 {
                    bytes[page_start..page_end].fill(0);
                }
                page_start = page_end;
            }
        }
    }
    bytes
}

/// Lists the regular files of `dir` (their names and paths), without the lock file.
fn list(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_string)
        else {
            continue;
        };
        if name != "LOCK" && path.is_file() {
            files.push((name, path));
        }
    }
    Ok(files)
}

/// A small seeded generator (SplitMix64): the same seed gives the same image.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synced_bytes_always_survive_and_unsynced_ones_vary_by_seed() {
        let bytes: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8 + 1).collect();
        let mut outcomes = std::collections::HashSet::new();
        for seed in 0..64 {
            let kept = lose_unsynced(bytes.clone(), 3000, &mut SplitMix(seed));
            assert!(kept.len() >= 3000 && kept.len() <= bytes.len());
            assert_eq!(
                kept[..3000],
                bytes[..3000],
                "seed {seed} changed synced bytes"
            );
            outcomes.insert(kept);
        }
        assert!(
            outcomes.len() > 4,
            "the seeds gave only {} images",
            outcomes.len()
        );
    }

    /// A log synced with 3000 bytes of records and zeros up to 8192, then written over up to
    /// 5000: the image keeps its size and the synced records; each later byte is either what was
    /// written or the zero it replaced.
    #[test]
    fn a_preallocated_log_keeps_its_size_and_loses_writes_over_its_zeros_as_zeros() {
        let synced = Synced {
            content: 3000,
            size: 8192,
        };
        let mut now: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8 + 1).collect();
        now.resize(8192, 0);
        let mut outcomes = std::collections::HashSet::new();
        for seed in 0..64 {
            let image = synced.image(now.clone(), &mut SplitMix(seed));
            assert_eq!(image.len(), 8192, "seed {seed} changed the size");
            assert_eq!(
                image[..3000],
                now[..3000],
                "seed {seed} changed synced bytes"
            );
            assert!(
                (3000..8192).all(|i| image[i] == now[i] || image[i] == 0),
                "seed {seed} made up bytes"
            );
            outcomes.insert(image);
        }
        assert!(outcomes.len() > 4, "only {} images", outcomes.len());
        assert_eq!(synced.durable(now.clone())[3000..], [0; 5192]);
    }
}
