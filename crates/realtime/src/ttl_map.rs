//! A map whose entries lapse after their time to live, like Redis keys with
//! EXPIRE. Expired entries are skipped on read and swept as the map grows.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::Duration;

use tokio::time::Instant;

/// Entries are swept when the map has grown by this many since the last sweep.
const SWEEP_EVERY: usize = 4_096;

#[derive(Debug)]
pub(crate) struct TtlMap<K, V> {
    entries: HashMap<K, (V, Option<Instant>)>,
    sweep_at: usize,
}

impl<K, V> Default for TtlMap<K, V> {
    fn default() -> Self {
        Self {
            entries: HashMap::new(),
            sweep_at: SWEEP_EVERY,
        }
    }
}

impl<K: Eq + Hash, V> TtlMap<K, V> {
    /// Insert or replace `key`, lapsing after `ttl` (never if `None`).
    pub fn insert(&mut self, key: K, value: V, ttl: Option<Duration>) {
        self.sweep_if_grown();
        self.entries
            .insert(key, (value, ttl.map(|ttl| Instant::now() + ttl)));
    }

    pub fn get(&self, key: &K) -> Option<&V> {
        self.entries
            .get(key)
            .filter(|(_, until)| is_live(*until))
            .map(|(value, _)| value)
    }

    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.entries
            .get_mut(key)
            .filter(|(_, until)| is_live(*until))
            .map(|(value, _)| value)
    }

    pub fn remove(&mut self, key: &K) -> Option<V> {
        self.entries
            .remove(key)
            .filter(|(_, until)| is_live(*until))
            .map(|(value, _)| value)
    }

    /// The entry of `key`, created with `make` and `ttl` if missing or lapsed;
    /// an existing entry keeps its expiry (like INCR on a key with a TTL).
    pub fn get_or_insert_with(
        &mut self,
        key: K,
        ttl: Option<Duration>,
        make: impl FnOnce() -> V,
    ) -> &mut V
    where
        K: Clone,
    {
        if self.get(&key).is_none() {
            self.insert(key.clone(), make(), ttl);
        }
        &mut self.entries.get_mut(&key).expect("just inserted").0
    }

    /// Time left before `key` lapses.
    #[cfg(test)]
    pub fn ttl(&self, key: &K) -> Option<Duration> {
        let (_, until) = self.entries.get(key)?;
        until.map(|u| u.saturating_duration_since(Instant::now()))
    }

    /// Entries held, lapsed ones included until the next sweep.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Drop every lapsed entry now.
    pub fn sweep(&mut self) {
        self.entries.retain(|_, (_, until)| is_live(*until));
        self.sweep_at = self.entries.len() + SWEEP_EVERY;
    }

    fn sweep_if_grown(&mut self) {
        if self.entries.len() >= self.sweep_at {
            self.sweep();
        }
    }
}

fn is_live(until: Option<Instant>) -> bool {
    until.is_none_or(|u| u > Instant::now())
}
