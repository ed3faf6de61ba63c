//! A small process-wide cache of immutable per-shape tables (FFT plans, band tables).
//!
//! Archives hold a few distinct image shapes, so tables are built once per shape
//! and shared across threads through `Arc`. The cache is bounded in entries
//! and bytes: when either bound is hit it is cleared (tables still in use live
//! on through their `Arc`), which keeps memory in check when every image has
//! its own shape.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

pub(crate) struct ShapeCache<K, V> {
    map: Mutex<HashMap<K, Arc<V>>>,
    capacity: usize,
    budget: usize,
    bytes_of: fn(&V) -> usize,
}

impl<K: Eq + Hash + Clone, V> ShapeCache<K, V> {
    /// At most `capacity` entries holding at most `budget` bytes by `bytes_of`.
    pub fn new(capacity: usize, budget: usize, bytes_of: fn(&V) -> usize) -> Self {
        ShapeCache { map: Mutex::new(HashMap::new()), capacity, budget, bytes_of }
    }

    /// The cached value for `key`, built by `build` on a miss.
    ///
    /// Building happens outside the lock so that threads needing other shapes
    /// are not held up; if two threads race, both builds are equal and one wins.
    pub fn get_or_build<E>(&self, key: &K, build: impl FnOnce() -> Result<V, E>) -> Result<Arc<V>, E> {
        if let Some(v) = self.lock().get(key) {
            return Ok(Arc::clone(v));
        }
        let value = Arc::new(build()?);
        let mut map = self.lock();
        let held: usize = map.values().map(|v| (self.bytes_of)(v)).sum();
        if map.len() >= self.capacity || held + (self.bytes_of)(&value) > self.budget {
            map.clear();
        }
        Ok(Arc::clone(map.entry(key.clone()).or_insert(value)))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, Arc<V>>> {
        // A panic while holding this lock cannot leave the map inconsistent
        // (inserts are single calls), so a poisoned lock is still usable.
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }
}
