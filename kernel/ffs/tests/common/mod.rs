//! Images made with NetBSD's makefs for the tests, and the expected bytes.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// A directory under the system temp dir, removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!("ffs-test-{}-{}-{}", std::process::id(), tag, N.fetch_add(1, Ordering::Relaxed)));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Scratch(p)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Deterministic contents for a file: a xorshift stream seeded by `seed`.
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn makefs_path() -> PathBuf {
    for p in ["/usr/sbin/makefs", "/usr/bin/makefs"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    if let Ok(out) = Command::new("which").arg("makefs").output() {
        let s = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !s.is_empty() {
            return PathBuf::from(s);
        }
    }
    panic!("makefs not found: these tests build FFS images with NetBSD's makefs; install it with `apt-get install makefs`");
}

/// Builds a big-endian FFS image of `root` and returns its bytes.
#[allow(dead_code)]
pub fn makefs(root: &Path, version: u32, bsize: u32, size_mb: u32) -> Vec<u8> {
    makefs_with(root, version, bsize, size_mb, &[])
}

/// `makefs` with more options (`-f N` for N free inodes).
pub fn makefs_with(root: &Path, version: u32, bsize: u32, size_mb: u32, extra: &[&str]) -> Vec<u8> {
    let img = root.with_extension("ffs");
    let out = Command::new(makefs_path())
        .args(extra)
        .args(["-t", "ffs", "-B", "be", "-o"])
        .arg(format!("version={version},bsize={bsize},fsize={}", (bsize / 8).max(512)))
        .arg("-s")
        .arg(format!("{size_mb}m"))
        .arg(&img)
        .arg(root)
        .output()
        .expect("running makefs");
    assert!(out.status.success(), "makefs failed: {}", String::from_utf8_lossy(&out.stderr));
    let bytes = std::fs::read(&img).unwrap();
    std::fs::remove_file(&img).unwrap();
    bytes
}
