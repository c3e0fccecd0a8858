//! Path lookup (OpenBSD vfs_lookup.c namei), read-only for now: from the
//! root vnode, one VOP_LOOKUP per component, `..` included (the file
//! system's directories hold it).

use crate::kern::vfs_subr::{vrele, Vnode};
use crate::sys::errno::Errno;
use crate::ufs::ffs::ffs_vfsops::ffs_vget;

/// Most components followed (bounds the work on a looping image).
const MAXCOMPONENTS: usize = 64;
pub const MAXPATHLEN: usize = 1024;

/// The vnode `path` names, referenced and unlocked.
pub fn namei(path: &str) -> Result<&'static Vnode, Errno> {
    if path.len() >= MAXPATHLEN {
        return Err(Errno::ENAMETOOLONG);
    }
    let mut vp = ffs_vget(ffs::ROOTINO)?;
    for (n, comp) in path.split('/').filter(|c| !c.is_empty() && *c != ".").enumerate() {
        if n == MAXCOMPONENTS {
            vrele(vp);
            return Err(Errno::ENAMETOOLONG);
        }
        let next = vp.op().vop_lookup(vp, comp.as_bytes());
        vrele(vp);
        vp = next?;
    }
    Ok(vp)
}
