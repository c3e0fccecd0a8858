//! Spin mutexes that carry an interrupt priority level (OpenBSD mutex(9)):
//! taking one raises the level so no interrupt handler that takes the same
//! mutex can run while it is held. On a uniprocessor, finding one already
//! held can only be a bug, so it panics instead of spinning forever.

use crate::arch::intr::{splraise, Ipl, Spl};
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicU32, Ordering};

/// Spin mutexes held right now (OpenBSD ci_mutex_level): sleeping with
/// one held would let another thread find it locked.
static MUTEX_LEVEL: AtomicU32 = AtomicU32::new(0);

pub fn mutex_level() -> u32 {
    MUTEX_LEVEL.load(Ordering::Relaxed)
}

pub struct Mutex<T> {
    ipl: Ipl,
    inner: spin::mutex::SpinMutex<T>,
}

// Field order matters: the lock is released before the level drops.
pub struct MutexGuard<'a, T> {
    guard: spin::mutex::SpinMutexGuard<'a, T>,
    mtx: &'a Mutex<T>,
    _spl: Spl,
}

impl<T> Mutex<T> {
    pub const fn new(ipl: Ipl, v: T) -> Self {
        Mutex { ipl, inner: spin::mutex::SpinMutex::new(v) }
    }

    #[track_caller]
    pub fn lock(&self) -> MutexGuard<'_, T> {
        match self.try_lock() {
            Some(g) => g,
            None => panic!("mtx_enter: locking against myself"),
        }
    }

    /// The address of the value, never dereferenced: with
    /// `core::mem::offset_of!`, a field's address, the wait channel OpenBSD
    /// sleeps on (`&uvn->u_nio`).
    pub fn data_addr(&self) -> usize {
        self.inner.as_mut_ptr() as usize
    }

    /// The value, for a mutex no one else can reach any more.
    pub fn into_inner(self) -> T {
        self.inner.into_inner()
    }

    /// The lock, or None if it is held (for code that may run inside a
    /// panic or the debugger, where the holder will never let go).
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        let spl = splraise(self.ipl);
        let guard = self.inner.try_lock()?;
        MUTEX_LEVEL.fetch_add(1, Ordering::Relaxed);
        Some(MutexGuard { guard, mtx: self, _spl: spl })
    }
}

impl<'a, T> MutexGuard<'a, T> {
    /// The mutex this guard holds, to take it again after letting go
    /// (msleep).
    pub fn mutex(&self) -> &'a Mutex<T> {
        self.mtx
    }
}

impl<T> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        MUTEX_LEVEL.fetch_sub(1, Ordering::Relaxed);
    }
}

impl<T> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}
