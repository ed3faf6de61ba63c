//! The parallel driver: images spread over the package's own rayon pool.
//!
//! Each image is profiled whole by one thread, with that thread's
//! [`Workspace`]; results come back in input order. No sum ever spans two
//! images or two threads, so results are bit-identical for any thread count.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rayon::prelude::*;
use rayon::ThreadPool;

use crate::error::{Error, ImageError};
use crate::image::ImageView;
use crate::options::ProfileOptions;
use crate::profile::{profile_with, Profile, Workspace};

thread_local! {
    // One workspace per thread, kept between calls: a fresh one per rayon job
    // (what `map_init` gives) would re-fault ~25 MB of pages per 1024^2 job.
    static WORKSPACE: RefCell<Workspace> = RefCell::new(Workspace::default());
}

/// Run `f` with this thread's workspace.
///
/// Falls back to a temporary workspace if this thread's is already in use
/// (only if `f` itself ran a nested batch on the same thread).
pub fn with_workspace<R>(f: impl FnOnce(&mut Workspace) -> R) -> R {
    WORKSPACE.with(|cell| match cell.try_borrow_mut() {
        Ok(mut ws) => f(&mut ws),
        Err(_) => f(&mut Workspace::default()),
    })
}

/// Map `f` over `items` on `pool`, each call with its thread's workspace, in
/// input order. This is the driver for anything that makes an image per item
/// (e.g. decoders: decode, then [`profile_with`] on the same thread).
pub fn par_map_with_workspace<T: Sync, R: Send>(
    items: &[T],
    pool: &ThreadPool,
    f: impl Fn(&T, &mut Workspace) -> R + Sync + Send,
) -> Vec<R> {
    // One image per task: images cost milliseconds, so work stealing at this
    // grain balances well and the per-task overhead (~1 us) is negligible.
    pool.install(|| items.par_iter().with_max_len(1).map(|item| with_workspace(|ws| f(item, ws))).collect())
}

/// Profile every image on `pool`; one result per image, in order.
pub fn profile_batch(
    images: &[ImageView],
    opts: &ProfileOptions,
    pool: &ThreadPool,
) -> Vec<Result<Profile, ImageError>> {
    par_map_with_workspace(images, pool, |img, ws| profile_with(img, opts, ws))
}

/// Profile every image on the calling thread (what `threads = 1` means).
pub fn profile_serial(images: &[ImageView], opts: &ProfileOptions) -> Vec<Result<Profile, ImageError>> {
    with_workspace(|ws| images.iter().map(|img| profile_with(img, opts, ws)).collect())
}

static POOLS: Mutex<Option<HashMap<usize, Arc<ThreadPool>>>> = Mutex::new(None);

/// The package's pool of `threads` workers, built on first use and then shared.
///
/// Separate from rayon's global pool so that the host application's own use
/// of rayon neither sizes nor competes with ours.
pub fn thread_pool(threads: usize) -> Result<Arc<ThreadPool>, Error> {
    let mut pools = POOLS.lock().unwrap_or_else(|e| e.into_inner());
    let pools = pools.get_or_insert_with(HashMap::new);
    if let Some(p) = pools.get(&threads) {
        return Ok(Arc::clone(p));
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("spectral-fast-{i}"))
        .build()
        .map_err(|e| Error::invalid("threads", format!("cannot start {threads} threads: {e}")))?;
    let pool = Arc::new(pool);
    pools.insert(threads, Arc::clone(&pool));
    Ok(pool)
}

/// Forget every pool without touching it. For a child process right after
/// `fork()`: the pools' threads were not copied into the child, so using (or
/// even dropping) them there could hang; new pools are built on next use.
pub fn forget_pools_after_fork() {
    if let Ok(mut pools) = POOLS.try_lock() {
        if let Some(old) = pools.take() {
            std::mem::forget(old);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::Pixels;

    #[test]
    fn any_thread_count_gives_identical_results_in_order() {
        let imgs: Vec<Vec<u16>> = (0..9)
            .map(|k| (0..(20 + k) * 17).map(|i| ((i * (k + 3) * 2654435761usize) % 4096) as u16).collect())
            .collect();
        let mut views: Vec<ImageView> =
            imgs.iter().enumerate().map(|(k, px)| ImageView::new(Pixels::U16(px), 20 + k, 17, 1)).collect();
        let flat = vec![7u16; 100];
        views.insert(4, ImageView::new(Pixels::U16(&flat), 10, 10, 1));
        let opts = ProfileOptions::default();
        let serial = profile_serial(&views, &opts);
        assert_eq!(serial[4], Err(ImageError::NoVariation));
        for threads in [1, 2, 3] {
            let pool = thread_pool(threads).unwrap();
            let par = profile_batch(&views, &opts, &pool);
            // Bitwise: PartialEq on f64 is exact, and no NaN occurs here.
            assert_eq!(par, serial, "threads = {threads}");
        }
    }
}
