//! Spin mutexes that carry an interrupt priority level (OpenBSD mutex(9)):
//! taking one raises the level so no interrupt handler that takes the same
//! mutex can run while it is held. On a uniprocessor, finding one already
//! held can only be a bug, so it panics instead of spinning forever.

use crate::arch::powerpc::intr::{splraise, Ipl, Spl};
use core::ops::{Deref, DerefMut};

pub struct Mutex<T> {
    ipl: Ipl,
    inner: spin::Mutex<T>,
}

// Field order matters: the lock is released before the level drops.
pub struct MutexGuard<'a, T> {
    guard: spin::MutexGuard<'a, T>,
    _spl: Spl,
}

impl<T> Mutex<T> {
    pub const fn new(ipl: Ipl, v: T) -> Self {
        Mutex { ipl, inner: spin::Mutex::new(v) }
    }

    #[track_caller]
    pub fn lock(&self) -> MutexGuard<'_, T> {
        let spl = splraise(self.ipl);
        match self.inner.try_lock() {
            Some(guard) => MutexGuard { guard, _spl: spl },
            None => panic!("mtx_enter: locking against myself"),
        }
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
