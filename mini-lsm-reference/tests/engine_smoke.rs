//! Reference-only checks (not copied into the starter): a quick end-to-end run of the engine
//! through freezes, flushes and reads, compared with a `BTreeMap`.

use std::collections::BTreeMap;
use std::ops::Bound;

use mini_lsm_reference::{CompactionOptions, LeveledCompactionOptions, LsmOptions, MiniLsm};

#[test]
fn random_writes_match_a_btreemap_across_flushes() -> mini_lsm_reference::Result<()> {
    let options = LsmOptions {
        memtable_size: 4096,
        block_size: 256,
        ..LsmOptions::for_day(4)
    };
    random_writes_match_a_btreemap(options)
}

#[test]
fn random_writes_match_a_btreemap_across_compactions() -> mini_lsm_reference::Result<()> {
    let leveled = LeveledCompactionOptions {
        level0_file_num_compaction_trigger: 2,
        level_size_multiplier: 2,
        base_level_size_bytes: 8 << 10,
        max_levels: 3,
    };
    let options = LsmOptions {
        memtable_size: 4096,
        block_size: 256,
        target_sst_size: 4096,
        compaction: CompactionOptions::Leveled(leveled),
        ..LsmOptions::for_day(5)
    };
    random_writes_match_a_btreemap(options)
}

fn random_writes_match_a_btreemap(options: LsmOptions) -> mini_lsm_reference::Result<()> {
    let dir = tempfile::tempdir().expect("temp dir");
    let leveled = matches!(options.compaction, CompactionOptions::Leveled(_));
    let db = MiniLsm::open(dir.path(), options)?;
    let mut model = BTreeMap::new();
    let mut state = 7u64;
    for step in 0..5000u64 {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let key = format!("k{:04}", (state >> 33) % 700).into_bytes();
        if (state >> 20).is_multiple_of(5) {
            db.delete(&key)?;
            model.remove(&key);
        } else {
            let value = format!("v{step}").into_bytes();
            db.put(&key, &value)?;
            model.insert(key, value);
        }
        if step % 1000 == 999 {
            db.force_flush()?;
        }
    }
    for i in 0..700 {
        let key = format!("k{i:04}").into_bytes();
        assert_eq!(
            db.get(&key)?.as_deref(),
            model.get(&key).map(Vec::as_slice),
            "key {i}"
        );
    }
    let scanned: Vec<_> = db
        .scan(Bound::Included(b"k0100"), Bound::Excluded(b"k0600"))?
        .into_iter()
        .collect::<Result<_, _>>()?;
    let expected: Vec<_> = model
        .range(b"k0100".to_vec()..b"k0600".to_vec())
        .map(|(k, v)| (bytes::Bytes::from(k.clone()), bytes::Bytes::from(v.clone())))
        .collect();
    assert_eq!(scanned, expected);
    let shape = db.shape();
    assert!(
        !shape.l0.is_empty() || !shape.levels.is_empty(),
        "flushes made SSTs"
    );
    for level in &shape.levels {
        for pair in level.ssts.windows(2) {
            assert!(
                pair[0].last_key < pair[1].first_key,
                "level {} overlaps: {shape}",
                level.level
            );
        }
    }
    db.close()?;
    // `close` waits for the background compaction thread, so its work is counted by now.
    assert_eq!(
        db.stats().compactions > 0,
        leveled,
        "compactions ran iff enabled"
    );
    Ok(())
}

#[test]
fn reopen_recovers_memtables_flushed_and_compacted_data() -> mini_lsm_reference::Result<()> {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = LsmOptions {
        memtable_size: 2048,
        block_size: 256,
        target_sst_size: 2048,
        ..LsmOptions::for_day(6)
    };
    let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    for round in 0..3 {
        let db = MiniLsm::open(dir.path(), options.clone())?;
        for (key, value) in &model {
            let got = db.get(key)?;
            assert_eq!(got.as_deref(), Some(value.as_slice()), "round {round}");
        }
        for i in 0..300 {
            let key = format!("k{:03}", (i * 7 + round * 13) % 400).into_bytes();
            let value = format!("v{round}-{i}").into_bytes();
            db.put(&key, &value)?;
            model.insert(key, value);
        }
        if round == 1 {
            db.force_full_compaction()?;
        }
        db.close()?;
    }
    let db = MiniLsm::open(dir.path(), options)?;
    let scanned = db
        .scan(Bound::Unbounded, Bound::Unbounded)?
        .into_iter()
        .count();
    assert_eq!(scanned, model.len());
    let second = MiniLsm::open(dir.path(), LsmOptions::for_day(6));
    assert!(
        matches!(second, Err(mini_lsm_reference::Error::Locked(_))),
        "second open must fail"
    );
    Ok(())
}

/// The manifest is rewritten as a snapshot once it passes `max_manifest_bytes`: after hundreds
/// of flushes it stays small, no `MANIFEST.tmp` is left, and a reopen finds every key.
#[test]
fn the_manifest_stays_bounded_through_many_flushes() -> mini_lsm_reference::Result<()> {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = LsmOptions {
        max_manifest_bytes: 512,
        max_immutable_memtables: usize::MAX,
        background_compaction: false,
        ..LsmOptions::for_day(6)
    };
    let db = MiniLsm::open(dir.path(), options.clone())?;
    let manifest = dir.path().join("MANIFEST");
    let mut largest = 0;
    for i in 0..300u32 {
        db.put(format!("key{i:04}").as_bytes(), &i.to_le_bytes())?;
        db.force_flush()?;
        if i % 50 == 49 {
            db.compact_until_idle()?;
        }
        largest = largest.max(std::fs::metadata(&manifest).expect("manifest").len());
    }
    // One record past the limit at most: the snapshot of this small tree and a few records.
    assert!(largest < 2048, "the manifest grew to {largest} bytes");
    assert!(!dir.path().join("MANIFEST.tmp").exists());
    db.close()?;
    drop(db);
    let db = MiniLsm::open(dir.path(), options)?;
    for i in 0..300u32 {
        let value = db.get(format!("key{i:04}").as_bytes())?;
        assert_eq!(value.as_deref(), Some(&i.to_le_bytes()[..]), "key{i:04}");
    }
    Ok(())
}
