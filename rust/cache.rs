//! A small process-wide cache of immutable per-shape tables (FFT plans, band tables).
//!
//! Archives hold a few distinct image shapes, so tables are built once per shape
//! and shared across threads through `Arc`. The cache is bounded: when full it
//! is cleared (tables still in use live on through their `Arc`), which keeps
//! memory in check when every image has its own shape.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

pub(crate) struct ShapeCache<K, V> {
    map: Mutex<HashMap<K, Arc<V>>>,
    capacity: usize,
}

impl<K: Eq + Hash + Clone, V> ShapeCache<K, V> {
    pub fn new(capacity: usize) -> Self {
        ShapeCache { map: Mutex::new(HashMap::new()), capacity }
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
        if map.len() >= self.capacity {
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
