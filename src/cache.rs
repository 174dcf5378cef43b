//! A cache that every replica can be told to empty: what the credential,
//! workspace configuration and customer caches share.
//!
//! Whatever changes what an entry holds commits through a `commit_change`
//! (see `store::credentials`, `store::workspace_config` and
//! `store::customer_cache`), which uses `store::commit_notifying`: on
//! PostgreSQL it NOTIFYs the cache's channel inside the transaction, which
//! every replica's listener turns into `forget_all` (or `forget` of the keys
//! its payload names), and after the commit it does the same here. So a
//! change is seen at once on the replica that made it and within a
//! notification's delay on the others.
//!
//! On PostgreSQL a cache serves only while that listener is connected:
//! without it, changes made elsewhere would go unheard. Every entry lives at
//! most its TTL in any case, which bounds changes made outside the service
//! (by hand in SQL, or the CLI on a SQLite file the service has open).
use crate::clock::Timestamp;
use std::{collections::HashMap, hash::Hash, sync::Mutex};

pub struct SharedCache<K, V> {
    inner: Mutex<Inner<K, V>>,
    ttl: chrono::Duration,
    most_entries: usize,
}

struct Inner<K, V> {
    /// Bumped by every `forget_all`: a lookup that began before a change
    /// must not store what it read after the change was forgotten.
    generation: u64,
    serving: bool,
    entries: HashMap<K, (V, Timestamp)>,
}

/// Taken before reading the database; `remember` stores only if nothing
/// was forgotten since.
#[derive(Debug, Clone, Copy)]
pub struct Ticket(u64);

impl<K: Eq + Hash, V: Clone> SharedCache<K, V> {
    /// `serving`: whether it may answer from the start (SQLite, one process);
    /// on PostgreSQL it waits for `set_serving(true)` from the listener.
    /// Past `most_entries` it starts over rather than grow.
    pub fn new(serving: bool, ttl: chrono::Duration, most_entries: usize) -> Self {
        Self { inner: Mutex::new(Inner { generation: 0, serving, entries: HashMap::new() }), ttl, most_entries }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<K, V>> {
        // The data is a cache: a panic elsewhere leaves nothing to repair.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The value read less than the TTL ago, or a ticket to remember what
    /// the database says now (`None`: the cache is off).
    pub fn get(&self, key: &K, now: Timestamp) -> Result<V, Option<Ticket>> {
        let inner = self.lock();
        if !inner.serving {
            return Err(None);
        }
        match inner.entries.get(key) {
            Some((value, read_at)) if now >= *read_at && now - *read_at < self.ttl => Ok(value.clone()),
            _ => Err(Some(Ticket(inner.generation))),
        }
    }

    pub fn remember(&self, ticket: Ticket, key: K, value: V, read_at: Timestamp) {
        let mut inner = self.lock();
        if !inner.serving || inner.generation != ticket.0 {
            return;
        }
        if inner.entries.len() >= self.most_entries {
            inner.entries.clear();
        }
        inner.entries.insert(key, (value, read_at));
    }

    /// The value read less than the TTL ago, else what `read` gives, kept
    /// for the next lookup.
    pub async fn get_or_read<E, F>(&self, key: K, now: Timestamp, read: impl FnOnce() -> F) -> Result<V, E>
    where
        F: std::future::Future<Output = Result<V, E>>,
    {
        let ticket = match self.get(&key, now) {
            Ok(value) => return Ok(value),
            Err(ticket) => ticket,
        };
        let value = read().await?;
        if let Some(ticket) = ticket {
            self.remember(ticket, key, value.clone(), now);
        }
        Ok(value)
    }

    /// Drops every entry; lookups in flight will not store theirs.
    pub fn forget_all(&self) {
        self.lock().forget();
    }

    /// Drops these keys' entries. Lookups in flight, of any key, will not
    /// store theirs: a ticket does not say which key it was taken for, and
    /// declining a few stores is cheaper than tracking that.
    pub fn forget<'a>(&self, keys: impl IntoIterator<Item = &'a K>)
    where
        K: 'a,
    {
        let mut inner = self.lock();
        inner.generation += 1;
        for key in keys {
            inner.entries.remove(key);
        }
    }

    /// Drops the entries whose value `matches`; lookups in flight, of any
    /// key, will not store theirs (as `forget`).
    pub fn forget_where(&self, matches: impl Fn(&V) -> bool) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.entries.retain(|_, (value, _)| !matches(value));
    }

    /// Turns serving on or off (the PostgreSQL listener connected or lost);
    /// either way, what was held is forgotten: changes may have gone unheard.
    pub fn set_serving(&self, serving: bool) {
        let mut inner = self.lock();
        inner.forget();
        inner.serving = serving;
    }
}

impl<K, V> Inner<K, V> {
    fn forget(&mut self) {
        self.generation += 1;
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        chrono::DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    fn cache(serving: bool) -> SharedCache<&'static str, u32> {
        SharedCache::new(serving, chrono::Duration::seconds(10), 2)
    }

    #[test]
    fn remembers_for_the_ttl_only() {
        let cache = cache(true);
        let ticket = cache.get(&"h", at(0)).unwrap_err().unwrap();
        cache.remember(ticket, "h", 7, at(0));
        assert_eq!(cache.get(&"h", at(9)).ok(), Some(7));
        assert!(cache.get(&"h", at(10)).is_err());
        assert!(cache.get(&"other", at(1)).is_err());
    }

    #[test]
    fn a_lookup_that_straddles_a_change_is_not_stored() {
        let cache = cache(true);
        let ticket = cache.get(&"h", at(0)).unwrap_err().unwrap();
        cache.forget_all();
        cache.remember(ticket, "h", 7, at(0));
        assert!(cache.get(&"h", at(1)).is_err());
    }

    #[test]
    fn forget_all_drops_entries() {
        let cache = cache(true);
        let ticket = cache.get(&"h", at(0)).unwrap_err().unwrap();
        cache.remember(ticket, "h", 7, at(0));
        cache.forget_all();
        assert!(cache.get(&"h", at(1)).is_err());
    }

    #[test]
    fn forget_drops_only_its_keys_and_lookups_in_flight() {
        let cache = SharedCache::new(true, chrono::Duration::seconds(10), 10);
        for (k, v) in [("a", 1), ("b", 2)] {
            let ticket = cache.get(&k, at(0)).unwrap_err().unwrap();
            cache.remember(ticket, k, v, at(0));
        }
        let in_flight = cache.get(&"c", at(0)).unwrap_err().unwrap();
        cache.forget(&["a"]);
        assert!(cache.get(&"a", at(1)).is_err());
        assert_eq!(cache.get(&"b", at(1)).ok(), Some(2));
        cache.remember(in_flight, "c", 3, at(0));
        assert!(cache.get(&"c", at(1)).is_err(), "a lookup begun before the change is not stored");
    }

    #[test]
    fn forget_where_drops_matching_values_and_lookups_in_flight() {
        let cache = SharedCache::new(true, chrono::Duration::seconds(10), 10);
        for (k, v) in [("a", 1), ("b", 2), ("c", 1)] {
            let ticket = cache.get(&k, at(0)).unwrap_err().unwrap();
            cache.remember(ticket, k, v, at(0));
        }
        let in_flight = cache.get(&"d", at(0)).unwrap_err().unwrap();
        cache.forget_where(|v| *v == 1);
        assert!(cache.get(&"a", at(1)).is_err());
        assert!(cache.get(&"c", at(1)).is_err());
        assert_eq!(cache.get(&"b", at(1)).ok(), Some(2));
        cache.remember(in_flight, "d", 1, at(0));
        assert!(cache.get(&"d", at(1)).is_err(), "a lookup begun before the change is not stored");
    }

    #[test]
    fn off_until_serving() {
        let cache = cache(false);
        assert!(matches!(cache.get(&"h", at(0)), Err(None)));
        cache.set_serving(true);
        let ticket = cache.get(&"h", at(0)).unwrap_err().unwrap();
        cache.remember(ticket, "h", 7, at(0));
        assert!(cache.get(&"h", at(1)).is_ok());
        cache.set_serving(false);
        assert!(matches!(cache.get(&"h", at(1)), Err(None)));
    }

    #[tokio::test]
    async fn get_or_read_reads_once_then_serves() {
        let cache = cache(true);
        let reads = std::cell::Cell::new(0);
        let read = || async {
            reads.set(reads.get() + 1);
            Ok::<_, ()>(7)
        };
        assert_eq!(cache.get_or_read("h", at(0), read).await, Ok(7));
        assert_eq!(cache.get_or_read("h", at(1), read).await, Ok(7));
        assert_eq!(reads.get(), 1);
        let failing = || async { Err::<u32, _>("down") };
        assert_eq!(cache.get_or_read("other", at(1), failing).await, Err("down"));
        assert!(cache.get(&"other", at(1)).is_err(), "a failed read is not kept");
    }

    #[test]
    fn starts_over_rather_than_grow() {
        let cache = cache(true);
        for (k, v) in [("a", 1), ("b", 2), ("c", 3)] {
            let ticket = cache.get(&k, at(0)).unwrap_err().unwrap();
            cache.remember(ticket, k, v, at(0));
        }
        assert!(cache.get(&"a", at(1)).is_err());
        assert_eq!(cache.get(&"c", at(1)).ok(), Some(3));
    }
}
