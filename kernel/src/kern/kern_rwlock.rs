//! Sleepable reader/writer locks (OpenBSD rwlock(9)): waiting for one
//! sleeps, so they may be held across sleeps, unlike spin mutexes.

use crate::arch::intr::Ipl;
use crate::kern::kern_mutex::Mutex;
use crate::kern::kern_proc::curproc;
use crate::kern::kern_synch::{msleep, wakeup, wchan};
use crate::sys::errno::Errno;

bitflags::bitflags! {
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct RwFlags: u32 {
        const RW_WRITE = 0x1;
        const RW_READ = 0x2;
        /// Fail with EBUSY instead of sleeping (a try-lock).
        const RW_NOSLEEP = 0x4;
    }
}

struct RwState {
    writer: Option<u32>,
    readers: u32,
}

pub struct Rwlock {
    name: &'static str,
    st: Mutex<RwState>,
}

impl Rwlock {
    pub const fn new(name: &'static str) -> Self {
        Rwlock { name, st: Mutex::new(Ipl::High, RwState { writer: None, readers: 0 }) }
    }

    fn ident(&self) -> usize {
        wchan(self)
    }

    /// Takes the lock as RW_WRITE or RW_READ, sleeping until it is free
    /// unless RW_NOSLEEP is given (then EBUSY).
    #[track_caller]
    pub fn rw_enter(&self, flags: RwFlags) -> Result<(), Errno> {
        crate::kern::kern_sched::sched_mp_point();
        let me = curproc();
        let write = flags.contains(RwFlags::RW_WRITE);
        let mut st = self.st.lock();
        loop {
            if st.writer == Some(me) {
                panic!("rw_enter: {} locking against myself", self.name);
            }
            let free = st.writer.is_none() && (!write || st.readers == 0);
            if free {
                if write {
                    st.writer = Some(me);
                } else {
                    st.readers += 1;
                }
                return Ok(());
            }
            if flags.contains(RwFlags::RW_NOSLEEP) {
                return Err(Errno::EBUSY);
            }
            st = msleep(self.ident(), st, self.name, 0).0;
        }
    }

    #[track_caller]
    pub fn rw_enter_write(&self) {
        let _ = self.rw_enter(RwFlags::RW_WRITE);
    }

    #[track_caller]
    pub fn rw_enter_read(&self) {
        let _ = self.rw_enter(RwFlags::RW_READ);
    }

    /// Whether the calling thread holds the lock for writing (OpenBSD
    /// rw_write_held), for the assertions of functions that must be called
    /// with it.
    pub fn rw_write_held(&self) -> bool {
        self.st.lock().writer == Some(curproc())
    }

    /// Whether anyone holds the lock, for reading or writing (what
    /// OpenBSD's VOP_ISLOCKED reports for a vnode lock).
    pub fn rw_lock_held(&self) -> bool {
        let st = self.st.lock();
        st.writer.is_some() || st.readers > 0
    }

    /// Panics unless the calling thread holds the lock for writing
    /// (OpenBSD rw_assert_wrlock): for functions whose contract is "called
    /// with the lock held".
    #[track_caller]
    pub fn rw_assert_wrlock(&self) {
        if !self.rw_write_held() {
            panic!("rw_assert_wrlock: {} not write-locked by this thread ({})", self.name, self.rw_status());
        }
    }

    /// "unlocked", "write-locked by N", "N readers" (for the debugger).
    pub fn rw_status(&self) -> alloc::string::String {
        match self.st.try_lock() {
            None => alloc::string::String::from("?"),
            Some(st) => match (st.writer, st.readers) {
                (Some(w), _) => alloc::format!("write-locked by thread {w}"),
                (None, 0) => alloc::string::String::from("unlocked"),
                (None, n) => alloc::format!("{n} readers"),
            },
        }
    }

    /// Releases a write lock held by this thread or one read hold.
    #[track_caller]
    pub fn rw_exit(&self) {
        let me = curproc();
        let mut st = self.st.lock();
        match st.writer {
            Some(w) if w == me => st.writer = None,
            Some(w) => panic!("rw_exit: {} write-locked by thread {w}, not {me}", self.name),
            None if st.readers > 0 => st.readers -= 1,
            None => panic!("rw_exit: {} not locked", self.name),
        }
        drop(st);
        wakeup(self.ident());
        crate::kern::kern_sched::sched_mp_point();
    }
}
