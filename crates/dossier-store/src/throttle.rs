//! Failed authentications counted in the store, so that several nodes on one database
//! throttle together: a guesser gains nothing by spreading attempts over the nodes.

use crate::StoreError;

/// Authentication attempts per key (`addr:IP`, `account:NAME`) within a window.
pub trait Throttles: Send + Sync {
    /// Whether several processes may share this store, so that counts must be kept in it
    /// (a process alone may count in memory).
    fn shares_throttle(&self) -> bool {
        false
    }

    /// When `key` reached `limit` failures within `window` (µs) before `now`, the start of
    /// its window: the key is refused until it ends. `None`: admitted.
    fn refused_since(&self, key: &str, limit: u32, window: i64, now: i64) -> Result<Option<i64>, StoreError>;

    /// Counts one attempt against every key, atomically: unless one is at its limit (then
    /// nothing is counted and the start of that key's window is returned). A count older
    /// than `window` starts again at one.
    fn attempt(&self, keys: &[(&str, u32)], window: i64, now: i64) -> Result<Option<i64>, StoreError>;

    /// Takes back one attempt of each key (a success).
    fn refund(&self, keys: &[&str]) -> Result<(), StoreError>;
}
