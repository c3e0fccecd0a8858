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
    EXDEV = 18,
    ENODEV = 19,
    ENOTDIR = 20,
    EISDIR = 21,
    EINVAL = 22,
    ENFILE = 23,
    EMFILE = 24,
    ETXTBSY = 26,
    EFBIG = 27,
    ENOSPC = 28,
    EROFS = 30,
    ERANGE = 34,
    EAGAIN = 35,
    ELOOP = 62,
    ENAMETOOLONG = 63,
    ENOTEMPTY = 66,
    ENOSYS = 78,
}

impl Errno {
    /// tsleep's "timed out" (EWOULDBLOCK is EAGAIN on OpenBSD).
    pub const EWOULDBLOCK: Errno = Errno::EAGAIN;

    /// Every error number, in order.
    pub const ALL: [Errno; 33] = [
        Errno::EPERM,
        Errno::ENOENT,
        Errno::ESRCH,
        Errno::EINTR,
        Errno::EIO,
        Errno::ENXIO,
        Errno::E2BIG,
        Errno::ENOEXEC,
        Errno::EBADF,
        Errno::ECHILD,
        Errno::EDEADLK,
        Errno::ENOMEM,
        Errno::EACCES,
        Errno::EFAULT,
        Errno::EBUSY,
        Errno::EEXIST,
        Errno::EXDEV,
        Errno::ENODEV,
        Errno::ENOTDIR,
        Errno::EISDIR,
        Errno::EINVAL,
        Errno::ENFILE,
        Errno::EMFILE,
        Errno::ETXTBSY,
        Errno::EFBIG,
        Errno::ENOSPC,
        Errno::EROFS,
        Errno::ERANGE,
        Errno::EAGAIN,
        Errno::ELOOP,
        Errno::ENAMETOOLONG,
        Errno::ENOTEMPTY,
        Errno::ENOSYS,
    ];

    /// The error with this number, if there is one.
    pub fn from_i32(n: i32) -> Option<Errno> {
        Errno::ALL.iter().copied().find(|e| *e as i32 == n)
    }
}

impl core::fmt::Display for Errno {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:?} ({})", self, *self as i32)
    }
}

#[cfg(test)]
mod tests {
    use super::Errno;

    #[test]
    fn from_i32_finds_every_error_and_nothing_else() {
        for e in Errno::ALL {
            assert_eq!(Errno::from_i32(e as i32), Some(e));
        }
        assert_eq!(Errno::from_i32(14), Some(Errno::EFAULT));
        assert_eq!(Errno::from_i32(0), None);
        assert_eq!(Errno::from_i32(15), None);
    }
}
