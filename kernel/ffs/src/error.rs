//! What can be wrong with an image, each naming the value at fault.

use core::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// A read outside the device.
    DeviceRange {
        off: u64,
        len: u64,
        size: u64,
    },
    /// No superblock magic at any of the standard offsets.
    NoSuperblock,
    /// A superblock field that makes no sense.
    BadSuperblock {
        field: &'static str,
        value: u64,
    },
    /// The file system claims more space than the image holds.
    Truncated {
        fs_bytes: u64,
        dev_bytes: u64,
    },
    /// An inode number outside the file system.
    BadInodeNumber {
        ino: u32,
        max: u32,
    },
    /// An inode field that makes no sense.
    BadInode {
        ino: u32,
        field: &'static str,
        value: u64,
    },
    /// A block pointer outside the file system.
    BadBlockPointer {
        ino: u32,
        blk: u64,
        fs_frags: u64,
    },
    /// A file offset beyond what the inode's block tree can address.
    FileTooBig {
        ino: u32,
    },
    /// A directory entry that makes no sense.
    BadDirEntry {
        dir: u32,
        off: u64,
        what: &'static str,
        value: u64,
    },
    NotADirectory {
        ino: u32,
    },
    /// Freeing a fragment or inode that is already free.
    DoubleFree {
        frag: u64,
    },
    /// A name that cannot go into a directory (empty, too long, or with '/'
    /// or NUL in it).
    BadName {
        len: usize,
    },
    NotFound,
    PathTooLong,
    /// No free fragments (or inodes) left for an allocation.
    NoSpace {
        what: &'static str,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::DeviceRange { off, len, size } => {
                write!(f, "device read at {off:#x} (+{len:#x}) beyond end of device ({size:#x} bytes)")
            }
            Error::NoSuperblock => write!(f, "no superblock found (tried offsets 65536, 8192, 0, 262144)"),
            Error::BadSuperblock { field, value } => write!(f, "superblock: {field} {value} is invalid"),
            Error::Truncated { fs_bytes, dev_bytes } => {
                write!(f, "image truncated: the file system needs {fs_bytes} bytes, the image has {dev_bytes}")
            }
            Error::BadInodeNumber { ino, max } => write!(f, "inode number {ino} is out of range (0..{max})"),
            Error::BadInode { ino, field, value } => write!(f, "inode {ino}: {field} {value:#x} is invalid"),
            Error::BadBlockPointer { ino, blk, fs_frags } => {
                write!(f, "inode {ino}: block pointer {blk:#x} is beyond the file system ({fs_frags} fragments)")
            }
            Error::FileTooBig { ino } => write!(f, "inode {ino}: offset beyond the largest file the block tree addresses"),
            Error::BadDirEntry { dir, off, what, value } => {
                write!(f, "directory inode {dir}: entry at offset {off}: {what} {value}")
            }
            Error::BadName { len } => write!(f, "bad file name ({len} bytes; 1 to 255, no '/' or NUL)"),
            Error::DoubleFree { frag } => write!(f, "freeing {frag}, which is already free"),
            Error::NotADirectory { ino } => write!(f, "not a directory (inode {ino})"),
            Error::NotFound => write!(f, "no such file or directory"),
            Error::PathTooLong => write!(f, "path has too many components"),
            Error::NoSpace { what } => write!(f, "file system full: no free {what}"),
        }
    }
}

impl core::error::Error for Error {}
