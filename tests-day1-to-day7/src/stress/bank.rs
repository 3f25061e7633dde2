//! Concurrent transactions against an invariant (Part 2, day 9): a bank.
//!
//! [`ACCOUNTS`] accounts start with [`START`] each, written by one transaction. Worker threads
//! run transfers: a transaction reads two accounts and, if the source holds enough, moves a
//! random amount from one to the other; a commit refused with `Error::TransactionConflict` is
//! retried from `begin`, as an application would. Meanwhile an auditor reads every account at
//! one point in time, in turn through a transaction's `get`s, a transaction's `scan` and a plain
//! `scan` (a point-in-time view with versioned keys), and requires the total to be exactly
//! `ACCOUNTS * START` with no balance below zero. A read that mixes states from before and after
//! a commit, a lost update (two transfers from one balance both committed), or a failed commit
//! that wrote something breaks one of these. The engine runs with tiny memtables and SSTs, so
//! flushes and compactions, which must keep every version a live transaction may read, race the
//! transactions all along; the auditor also forces flushes.
//!
//! At the end each account must hold exactly its start, plus what the committed transfers moved
//! in and minus what they moved out (each worker logs the transfers whose commit returned `Ok`),
//! before and after a close and reopen: a commit acknowledged but lost, or refused but applied,
//! shows there even when the total is right.

use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::{Check, RngExt, rethrow_todo, scratch_dir, seeds};
use crate::lsm::{
    CompactionOptions, Error, LeveledCompactionOptions, LsmOptions, MiniLsm, Transaction,
};
use crate::{Entries, Rng, drain};

/// Where the book explains what this check checks.
const BOOK: &str = "day9-transactions.md#validation";

/// Accounts: few, so that transfers collide and conflicts are common.
pub const ACCOUNTS: usize = 8;
/// Each account's balance at the start.
pub const START: u64 = 1_000;
/// Retries of one transfer before the check calls it a livelock: with a handful of threads,
/// an engine that lets some commit succeed never gets near it.
const MAX_RETRIES: usize = 10_000;

/// How big one run is.
#[derive(Debug, Clone, Copy)]
pub struct Bank {
    /// Threads running transfers.
    pub workers: usize,
    /// Transfers each worker commits (not counting retries).
    pub transfers_per_worker: usize,
}

/// Runs `bank` once per seed of `default_seeds` (or `STRESS_SEED`).
pub fn check_seeds(check: Check, default_seeds: impl IntoIterator<Item = u64>, bank: Bank) {
    for seed in seeds(default_seeds) {
        run(check, seed, bank);
    }
}

/// Tiny sizes, so that memtables freeze every few transfers and L0 compacts every two flushes.
fn options() -> LsmOptions {
    LsmOptions {
        block_size: 128,
        memtable_size: 1024,
        target_sst_size: 1024,
        max_immutable_memtables: 1,
        compaction: CompactionOptions::Leveled(LeveledCompactionOptions {
            level0_file_num_compaction_trigger: 2,
            level_size_multiplier: 2,
            base_level_size_bytes: 2048,
            max_levels: 3,
        }),
        background_compaction: true,
        ..LsmOptions::for_day(9)
    }
}

fn account(i: usize) -> Vec<u8> {
    format!("acct{i:02}").into_bytes()
}

/// A committed transfer: `amount` from account `from` to account `to`.
#[derive(Debug, Clone, Copy)]
struct Transfer {
    from: usize,
    to: usize,
    amount: u64,
}

/// What one engine call gave, or the violation to report.
type Checked<T> = std::result::Result<T, String>;

fn run(check: Check, seed: u64, bank: Bank) {
    let dir = scratch_dir("mini-lsm-bank");
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_in(dir.path(), seed, bank)
    }));
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(violation)) => check.fail(seed, &violation, ""),
        Err(payload) => {
            let message = rethrow_todo(payload);
            check.fail(seed, &format!("a thread panicked: {message}"), "")
        }
    }
}

fn run_in(dir: &Path, seed: u64, bank: Bank) -> Checked<()> {
    let db = MiniLsm::open(dir, options()).map_err(|e| format!("open: {e}"))?;
    open_accounts(&db)?;
    let done = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..bank.workers)
        .map(|w| {
            let db = Arc::clone(&db);
            let mut rng = Rng::new(seed.wrapping_mul(31).wrapping_add(w as u64));
            std::thread::spawn(move || transfers(&db, &mut rng, bank.transfers_per_worker))
        })
        .collect();
    let auditor = {
        let (db, done) = (Arc::clone(&db), Arc::clone(&done));
        std::thread::spawn(move || audit_until(&db, &done))
    };
    let mut log = Vec::new();
    let mut first_violation = None;
    for worker in workers {
        match worker.join() {
            Ok(Ok(transfers)) => log.extend(transfers),
            Ok(Err(violation)) => {
                first_violation.get_or_insert(violation);
            }
            Err(payload) => std::panic::resume_unwind(payload),
        }
    }
    done.store(true, Ordering::Release);
    match auditor.join() {
        Ok(Ok(())) => {}
        Ok(Err(violation)) => {
            first_violation.get_or_insert(violation);
        }
        Err(payload) => std::panic::resume_unwind(payload),
    }
    if let Some(violation) = first_violation {
        return Err(violation);
    }
    let expected = expected_balances(&log);
    check_balances(&db, &expected, "after every worker finished")?;
    db.close().map_err(|e| format!("close: {e}"))?;
    drop(db);
    let db = MiniLsm::open(dir, options()).map_err(|e| format!("reopen: {e}"))?;
    check_balances(&db, &expected, "after a close and reopen")
}

/// Writes every account's starting balance in one transaction.
fn open_accounts(db: &MiniLsm) -> Checked<()> {
    let mut txn = db.begin().map_err(|e| format!("begin: {e}"))?;
    for i in 0..ACCOUNTS {
        txn.put(&account(i), START.to_string().as_bytes())
            .map_err(|e| format!("txn.put: {e}"))?;
    }
    txn.commit()
        .map_err(|e| format!("commit of the opening balances (no other transaction ran): {e}"))
}

/// A balance as stored: a decimal number.
fn parse_balance(key: &[u8], value: Option<&[u8]>) -> Checked<u64> {
    let name = String::from_utf8_lossy(key);
    let value =
        value.ok_or_else(|| format!("{name} is missing (no transfer deletes an account)"))?;
    std::str::from_utf8(value)
        .ok()
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| format!("{name} holds {value:?}, which no transfer wrote"))
}

/// One worker: `count` committed transfers, each retried after a conflict.
fn transfers(db: &MiniLsm, rng: &mut Rng, count: usize) -> Checked<Vec<Transfer>> {
    let mut committed = Vec::with_capacity(count);
    while committed.len() < count {
        let from = rng.below(ACCOUNTS);
        let to = (from + rng.between(1, ACCOUNTS - 1)) % ACCOUNTS;
        let amount = rng.between(1, 300) as u64;
        let mut retries = 0;
        loop {
            match try_transfer(db, from, to, amount)? {
                Some(moved) => {
                    // Too little in the source: nothing moved, but the transfer is done.
                    let amount = if moved { amount } else { 0 };
                    committed.push(Transfer { from, to, amount });
                    break;
                }
                None if retries < MAX_RETRIES => retries += 1,
                None => {
                    return Err(format!(
                        "a transfer conflicted {MAX_RETRIES} times in a row: some commit must succeed"
                    ));
                }
            }
        }
    }
    Ok(committed)
}

/// One attempt: `Some(moved)` when it committed (it moved money, or found too little to move),
/// `None` on `TransactionConflict`.
fn try_transfer(db: &MiniLsm, from: usize, to: usize, amount: u64) -> Checked<Option<bool>> {
    let mut txn = db.begin().map_err(|e| format!("begin: {e}"))?;
    let (from_key, to_key) = (account(from), account(to));
    let get = |txn: &mut Transaction, key: &[u8]| -> Checked<u64> {
        let value = txn
            .get(key)
            .map_err(|e| format!("txn.get({}): {e}", String::from_utf8_lossy(key)))?;
        parse_balance(key, value.as_deref())
    };
    let from_balance = get(&mut txn, &from_key)?;
    let to_balance = get(&mut txn, &to_key)?;
    let moved = from_balance >= amount;
    if moved {
        txn.put(&from_key, (from_balance - amount).to_string().as_bytes())
            .map_err(|e| format!("txn.put: {e}"))?;
        txn.put(&to_key, (to_balance + amount).to_string().as_bytes())
            .map_err(|e| format!("txn.put: {e}"))?;
    }
    match txn.commit() {
        Ok(()) => Ok(Some(moved)),
        Err(Error::TransactionConflict(_)) => Ok(None),
        Err(e) => Err(format!(
            "commit of a transfer: {e} (only a conflict may refuse it)"
        )),
    }
}

/// Audits until `done`, then once more, so that the last audit sees every transfer.
fn audit_until(db: &MiniLsm, done: &AtomicBool) -> Checked<()> {
    let mut audits = 0;
    loop {
        let last = done.load(Ordering::Acquire);
        let how = audits % 3;
        let balances = match how {
            0 => balances_by_txn_get(db)?,
            1 => balances_by_txn_scan(db)?,
            _ => balances_by_scan(db)?,
        };
        let way = [
            "a transaction's gets",
            "a transaction's scan",
            "a plain scan",
        ][how];
        check_total(&balances, way)?;
        audits += 1;
        if audits % 8 == 0 {
            db.force_flush().map_err(|e| format!("force_flush: {e}"))?;
        }
        if last {
            return Ok(());
        }
    }
}

fn balances_by_txn_get(db: &MiniLsm) -> Checked<Vec<(Vec<u8>, u64)>> {
    let mut txn = db.begin().map_err(|e| format!("begin: {e}"))?;
    let mut balances = Vec::with_capacity(ACCOUNTS);
    for i in 0..ACCOUNTS {
        let key = account(i);
        let value = txn.get(&key).map_err(|e| format!("audit txn.get: {e}"))?;
        balances.push((key.clone(), parse_balance(&key, value.as_deref())?));
    }
    // Read-only: a commit must succeed (nothing it wrote can conflict).
    txn.commit().map_err(|e| {
        format!("commit of a read-only audit: {e} (a read-only transaction never conflicts)")
    })?;
    Ok(balances)
}

fn balances_by_txn_scan(db: &MiniLsm) -> Checked<Vec<(Vec<u8>, u64)>> {
    let mut txn = db.begin().map_err(|e| format!("begin: {e}"))?;
    let entries = {
        let mut scan = txn
            .scan(Bound::Unbounded, Bound::Unbounded)
            .map_err(|e| format!("audit txn.scan: {e}"))?;
        drain(&mut scan, "audit txn.scan", BOOK).map_err(|e| format!("audit txn.scan: {e}"))?
    };
    drop(txn); // abort: a read-only transaction has nothing to commit
    parse_entries(entries)
}

fn balances_by_scan(db: &MiniLsm) -> Checked<Vec<(Vec<u8>, u64)>> {
    let mut scan = db
        .scan(Bound::Unbounded, Bound::Unbounded)
        .map_err(|e| format!("audit scan: {e}"))?;
    let entries = drain(&mut scan, "audit scan", BOOK).map_err(|e| format!("audit scan: {e}"))?;
    parse_entries(entries)
}

fn parse_entries(entries: Entries) -> Checked<Vec<(Vec<u8>, u64)>> {
    entries
        .into_iter()
        .map(|(key, value)| {
            let balance = parse_balance(&key, value.as_deref())?;
            Ok((key, balance))
        })
        .collect()
}

/// Every account once, in order, and a total of exactly `ACCOUNTS * START`.
fn check_total(balances: &[(Vec<u8>, u64)], way: &str) -> Checked<()> {
    let keys: Vec<Vec<u8>> = balances.iter().map(|(key, _)| key.clone()).collect();
    let expected_keys: Vec<Vec<u8>> = (0..ACCOUNTS).map(account).collect();
    if keys != expected_keys {
        return Err(format!(
            "an audit through {way} saw the accounts {:?}, expected {:?}",
            keys.iter()
                .map(|k| String::from_utf8_lossy(k))
                .collect::<Vec<_>>(),
            expected_keys
                .iter()
                .map(|k| String::from_utf8_lossy(k))
                .collect::<Vec<_>>()
        ));
    }
    let total: u64 = balances.iter().map(|(_, balance)| balance).sum();
    if total != ACCOUNTS as u64 * START {
        let shown: Vec<String> = balances
            .iter()
            .map(|(key, balance)| format!("{}={balance}", String::from_utf8_lossy(key)))
            .collect();
        return Err(format!(
            "an audit through {way} saw a total of {total}, expected {} (transfers move money, \
             they never make or lose it; a read at one point in time must see whole commits): {}",
            ACCOUNTS as u64 * START,
            shown.join(" ")
        ));
    }
    Ok(())
}

/// Each account's start, plus what the logged transfers moved in, minus what they moved out.
/// (Signed: if the engine let two transfers spend one balance, the sum can go below zero, and
/// the message should show it.)
fn expected_balances(log: &[Transfer]) -> Vec<i64> {
    let mut balances = vec![START as i64; ACCOUNTS];
    for transfer in log {
        balances[transfer.from] -= transfer.amount as i64;
        balances[transfer.to] += transfer.amount as i64;
    }
    balances
}

fn check_balances(db: &MiniLsm, expected: &[i64], when: &str) -> Checked<()> {
    for (i, &expected) in expected.iter().enumerate() {
        let key = account(i);
        let value = db.get(&key).map_err(|e| format!("get: {e}"))?;
        let actual = parse_balance(&key, value.as_deref())?;
        if actual as i64 != expected {
            return Err(format!(
                "{when}: {} holds {actual}, but the transfers that committed leave it {expected} \
                 (a commit that returned Ok is lost, or one that failed was applied)",
                String::from_utf8_lossy(&key)
            ));
        }
    }
    Ok(())
}
