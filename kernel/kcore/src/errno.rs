//! Error numbers (the values of OpenBSD's sys/errno.h), shared by the
//! kernel and the user programs.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum Errno {
    EPERM = 1,
    ENOENT = 2,
    ESRCH = 3,
    EINTR = 4,
    EIO = 5,
    ENXIO = 6,
    E2BIG = 7,
    ENOEXEC = 8,
    EBADF = 9,
    ECHILD = 10,
    EDEADLK = 11,
    ENOMEM = 12,
    EACCES = 13,
    EFAULT = 14,
    EBUSY = 16,
    EEXIST = 17,
    ENODEV = 19,
    ENOTDIR = 20,
    EISDIR = 21,
    EINVAL = 22,
    ENFILE = 23,
    EMFILE = 24,
    EFBIG = 27,
    ENOSPC = 28,
    EROFS = 30,
    ERANGE = 34,
    EAGAIN = 35,
    ENAMETOOLONG = 63,
    ENOTEMPTY = 66,
    ENOSYS = 78,
}

impl Errno {
    /// tsleep's "timed out" (EWOULDBLOCK is EAGAIN on OpenBSD).
    pub const EWOULDBLOCK: Errno = Errno::EAGAIN;
}

impl core::fmt::Display for Errno {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:?} ({})", self, *self as i32)
    }
}
