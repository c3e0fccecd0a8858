//! The FFS ramdisk (`-initrd`): staging its tree, makefs, a corrupted copy
//! for the boot stub's error path, and `image ls` / `image cat` to look
//! inside one with the same `ffs` crate the stub and kernel use.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::build::{Artifacts, USER_PROGRAMS};
use crate::ctx::Ctx;
use crate::deps::Tools;

#[derive(clap::Subcommand)]
pub enum Cmd {
    /// Build the kernel and the image; print the image's path.
    Build,
    /// List a directory of an image (or one entry, for a file).
    Ls {
        /// The image file.
        image: PathBuf,
        /// Path inside the image.
        #[arg(default_value = "/")]
        path: String,
    },
    /// Check an image like fsck: tree, link counts, block and inode maps,
    /// summaries. Exit status 1 if anything is inconsistent.
    Check {
        /// The image file.
        image: PathBuf,
    },
    /// Write a file of an image to stdout.
    Cat {
        /// The image file.
        image: PathBuf,
        /// Path inside the image.
        path: String,
    },
}

pub fn main(ctx: &Ctx, cmd: Cmd) -> Result<i32> {
    match cmd {
        Cmd::Build => {
            println!("{}", crate::ctx::setup(ctx)?.images.good.display());
            Ok(0)
        }
        Cmd::Ls { image, path } => ls(&image, &path),
        Cmd::Cat { image, path } => cat(&image, &path),
        Cmd::Check { image } => check(&image),
    }
}

/// The images a build produces.
pub struct Images {
    pub good: PathBuf,
    /// The same image with every place a superblock is looked for zeroed.
    pub corrupt: PathBuf,
    /// The same tree as UFS1 with 4 KiB blocks and 512-byte fragments.
    pub ufs1: PathBuf,
    /// The same tree as UFS2 with 32 KiB blocks and 4 KiB fragments.
    pub big: PathBuf,
    /// The good image with its first file's inode (in use) marked free in
    /// its group's inode map: the next inode allocation meets it.
    pub dupalloc: PathBuf,
    /// The good image marked not cleanly unmounted (fs_clean 0).
    pub unclean: PathBuf,
    /// Clean-flagged, with /bsd's first block marked free in its map.
    pub freeinuse: PathBuf,
    /// Images of other trees and geometries, as a user would bring them:
    /// the tests mount them untouched on /mnt (rd1).
    pub user: Vec<(UserImg, PathBuf)>,
}

/// A user's image the tests bring (`--image` does the same with any file).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserImg {
    /// UFS1, 4 KiB blocks, 512-byte fragments, 512 KiB in all; a few files
    /// and a deep path.
    Tiny,
    /// UFS1 4K/512 with a 5 MiB file: past the single indirect block.
    DoubleIndirect,
    /// UFS2, 16 KiB blocks, 2 KiB fragments, 300 files in one directory.
    Many,
    /// UFS2, 32 KiB blocks, 4 KiB fragments, directories 24 deep.
    Deep,
    /// UFS2, 4 KiB blocks, 1 KiB fragments, 16 MiB mostly free: room for
    /// fsstress and the race.
    Roomy,
    /// Tiny, marked not cleanly unmounted.
    Unclean,
    /// Tiny with its superblocks zeroed.
    Corrupt,
}

impl UserImg {
    const ALL: [UserImg; 7] = [UserImg::Tiny, UserImg::DoubleIndirect, UserImg::Many, UserImg::Deep, UserImg::Roomy, UserImg::Unclean, UserImg::Corrupt];

    fn name(self) -> &'static str {
        match self {
            UserImg::Tiny => "tiny",
            UserImg::DoubleIndirect => "dindir",
            UserImg::Many => "many",
            UserImg::Deep => "deep",
            UserImg::Roomy => "roomy",
            UserImg::Unclean => "unclean",
            UserImg::Corrupt => "corrupt",
        }
    }
}

/// Which image a boot uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    Good,
    Corrupt,
    Ufs1,
    Big,
    DupAlloc,
    Unclean,
    FreeInUse,
}

impl Images {
    pub fn get(&self, v: Variant) -> &Path {
        match v {
            Variant::Good => &self.good,
            Variant::Corrupt => &self.corrupt,
            Variant::Ufs1 => &self.ufs1,
            Variant::Big => &self.big,
            Variant::DupAlloc => &self.dupalloc,
            Variant::Unclean => &self.unclean,
            Variant::FreeInUse => &self.freeinuse,
        }
    }

    pub fn user(&self, u: UserImg) -> &Path {
        &self.user.iter().find(|(k, _)| *k == u).expect("every user image is built").1
    }
}

/// makefs -o for each image: the default, and the two other geometries.
const FORMAT: &str = "version=2,bsize=8192,fsize=1024";
const FORMAT_UFS1: &str = "version=1,bsize=4096,fsize=512";
const FORMAT_BIG: &str = "version=2,bsize=32768,fsize=4096";

const DIR: &str = "target/image";
/// All timestamps in the image: a fixed time, so the same inputs give the
/// same image byte for byte (2025-01-01 00:00:00 UTC).
const EPOCH: u64 = 1_735_689_600;
/// Byte ranges zeroed in the corrupted copy: the superblocks at 8192 (UFS1,
/// and UFS2 as this makefs writes it) and 65536 (UFS2's usual place).
const CORRUPT: [std::ops::Range<usize>; 2] = [8192..16384, 65536..73728];

/// What a staged file holds.
enum Source {
    Bytes(Vec<u8>),
    Copy(PathBuf),
    Symlink(String),
    /// An empty directory.
    Dir,
}

/// One file of the image tree.
struct ImageFile {
    /// Absolute path inside the image.
    path: String,
    mode: u32,
    source: Source,
}

/// Everything in the image (user programs: `build::USER_PROGRAMS`).
fn files(art: &Artifacts) -> Vec<ImageFile> {
    let text = |path: &str, s: &str| ImageFile { path: path.into(), mode: 0o644, source: Source::Bytes(s.as_bytes().to_vec()) };
    let sized = |path: &str, len| ImageFile { path: path.into(), mode: 0o644, source: Source::Bytes(pattern(path, len)) };
    let programs = USER_PROGRAMS.map(|(bin, path)| ImageFile { path: path.into(), mode: 0o755, source: Source::Copy(art.dir.join(bin)) });
    let mut files = vec![
        ImageFile { path: "/bsd".into(), mode: 0o644, source: Source::Copy(art.kernel.clone()) },
        // The kernel's ramdisk_ffs self-test expects this to start "ppcbsd".
        text("/etc/motd", "ppcbsd: a BSD-style kernel for PowerPC Macs\n"),
        text("/etc/hosts", "127.0.0.1\tlocalhost\n::1\t\tlocalhost\n"),
        // Sizes at the edges of FFS's fragments, blocks and indirect blocks.
        sized("/usr/share/misc/empty", 0),
        sized("/usr/share/misc/one", 1),
        sized("/usr/share/misc/page", 4096),
        sized("/usr/share/misc/big", 100_000),
        link("/usr/share/misc/link", "big"),
        // For namei's symbolic links: absolute, through a directory, a loop,
        // and one to nothing.
        link("/etc/motdlink", "/etc/motd"),
        link("/usr/share/lnk", "misc"),
        link("/usr/share/misc/loop", "loop"),
        link("/usr/share/misc/dangling", "nosuch"),
        // Where the kernel mounts a user's image (rd1).
        ImageFile { path: "/mnt".into(), mode: 0o755, source: Source::Dir },
    ];
    files.extend(programs);
    // The field workload's other three jobs: the same program, three more
    // files (and vnodes, and objects) of its own.
    files.extend((1..4).map(|i| ImageFile { path: format!("/usr/bin/job{i}"), mode: 0o755, source: Source::Copy(art.dir.join("fieldjob")) }));
    files
}

fn link(path: &str, target: &str) -> ImageFile {
    ImageFile { path: path.into(), mode: 0o777, source: Source::Symlink(target.into()) }
}

/// `len` bytes of lines that each say which file and offset they are at,
/// so a misread block is obvious in a dump.
fn pattern(name: &str, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 64);
    while out.len() < len {
        let line = format!("{name} offset {:08}\n", out.len());
        out.extend_from_slice(line.as_bytes());
    }
    out.truncate(len);
    out
}

/// Calls `f(path, inode)` for everything under `dir`, depth first, in
/// directory order (directories before their contents).
fn tree(fs: &ffs::Fs<&[u8]>, dir: &ffs::Inode, path: &str, f: &mut dyn FnMut(&str, &ffs::Inode) -> Result<(), ffs::Error>) -> Result<(), ffs::Error> {
    let mut entries = Vec::new();
    fs.readdir(dir, &mut |e| {
        if e.name != b"." && e.name != b".." {
            entries.push((e.ino, String::from_utf8_lossy(e.name).into_owned()));
        }
        true
    })?;
    for (ino, name) in entries {
        let p = format!("{path}/{name}");
        let ip = fs.inode(ino)?;
        f(&p, &ip)?;
        if ip.is_dir() {
            tree(fs, &ip, &p, f)?;
        }
    }
    Ok(())
}

/// A whole file's bytes.
fn read_all(fs: &ffs::Fs<&[u8]>, ip: &ffs::Inode) -> Result<Vec<u8>, ffs::Error> {
    let mut v = vec![0u8; ip.size as usize];
    let mut off = 0;
    while off < v.len() {
        match fs.read(ip, off as u64, &mut v[off..])? {
            0 => break,
            n => off += n,
        }
    }
    Ok(v)
}

/// A user's image in memory, writable through the `ffs` crate's write side.
struct MemImage(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);

impl ffs::Device for MemImage {
    fn len(&self) -> u64 {
        self.0.borrow().len() as u64
    }
    fn read_at(&self, off: u64, buf: &mut [u8]) -> std::result::Result<(), ffs::Error> {
        self.0.borrow().as_slice().read_at(off, buf)
    }
}

impl ffs::DeviceMut for MemImage {
    fn write_at(&self, off: u64, buf: &[u8]) -> std::result::Result<(), ffs::Error> {
        let mut v = self.0.borrow_mut();
        let size = v.len() as u64;
        let range = usize::try_from(off).ok().and_then(|s| Some(s..s.checked_add(buf.len())?)).filter(|r| r.end <= v.len());
        let Some(r) = range else { return Err(ffs::Error::DeviceRange { off, len: buf.len() as u64, size }) };
        v[r].copy_from_slice(buf);
        Ok(())
    }
}

/// A user's image for `run --image`, looked at before the boot: it must
/// be a file the `ffs` crate can mount; problems the check finds are said
/// (the kernel mounts an unclean image read-only, as OpenBSD).
pub fn check_user(image: &Path) -> Result<()> {
    let bytes = load(image)?;
    ffs::Fs::mount(&bytes[..]).map_err(|e| anyhow::anyhow!("{}: not an FFS image the kernel can mount: {e}", image.display()))?;
    let problems = ffs::fsck::check(&bytes).map(|r| r.problems).map_err(|e| anyhow::anyhow!("{}: {e}", image.display()))?;
    if !problems.is_empty() {
        eprintln!("xtask: warning: {} has {} problems (cargo xtask image check); mounting it anyway", image.display(), problems.len());
    }
    Ok(())
}

/// Stages the tree and runs makefs; writes the corrupted copy beside it.
pub fn build(ctx: &Ctx, tools: &Tools, art: &Artifacts) -> Result<Images> {
    let dir = ctx.path(DIR);
    let root = dir.join("root");
    let files = files(art);
    let size = stage(&root, &files)?;
    let spec_file = dir.join("ppcbsd.mtree");
    fs::write(&spec_file, spec(&files)?).with_context(|| format!("cannot write {}", spec_file.display()))?;
    let good = dir.join("ppcbsd.ffs");
    makefs(ctx, tools, &root, &spec_file, &good, image_size(size), FORMAT)?;
    let ufs1 = dir.join("ppcbsd-ufs1.ffs");
    makefs(ctx, tools, &root, &spec_file, &ufs1, image_size(size), FORMAT_UFS1)?;
    let big = dir.join("ppcbsd-32k.ffs");
    makefs(ctx, tools, &root, &spec_file, &big, image_size(size), FORMAT_BIG)?;
    let corrupt = dir.join("ppcbsd-corrupt.ffs");
    let mut bytes = fs::read(&good).with_context(|| format!("cannot read {}", good.display()))?;
    for r in CORRUPT {
        bytes.get_mut(r).context("image too small to corrupt")?.fill(0);
    }
    fs::write(&corrupt, bytes).with_context(|| format!("cannot write {}", corrupt.display()))?;
    let dupalloc = dir.join("ppcbsd-dupalloc.ffs");
    let mut bytes = fs::read(&good).with_context(|| format!("cannot read {}", good.display()))?;
    mark_first_inode_free(&mut bytes).with_context(|| format!("cannot damage a copy of {}", good.display()))?;
    fs::write(&dupalloc, bytes).with_context(|| format!("cannot write {}", dupalloc.display()))?;
    let unclean = dir.join("ppcbsd-unclean.ffs");
    let bytes = std::rc::Rc::new(std::cell::RefCell::new(fs::read(&good).with_context(|| format!("cannot read {}", good.display()))?));
    ffs::Fs::mount(MemImage(bytes.clone())).and_then(|f| f.set_clean(false)).map_err(|e| anyhow::anyhow!("{}: {e}", good.display()))?;
    fs::write(&unclean, bytes.take()).with_context(|| format!("cannot write {}", unclean.display()))?;
    let freeinuse = dir.join("ppcbsd-freeinuse.ffs");
    let mut bytes = fs::read(&good).with_context(|| format!("cannot read {}", good.display()))?;
    mark_file_block_free(&mut bytes, "/bsd").with_context(|| format!("cannot damage a copy of {}", good.display()))?;
    fs::write(&freeinuse, bytes).with_context(|| format!("cannot write {}", freeinuse.display()))?;
    let user = UserImg::ALL.iter().map(|&u| build_user_image(ctx, tools, u).map(|p| (u, p))).collect::<Result<_>>()?;
    Ok(Images { good, corrupt, ufs1, big, dupalloc, unclean, freeinuse, user })
}

/// The tree of a test's user image: its files (none of the project's).
fn user_tree(u: UserImg) -> Vec<ImageFile> {
    let sized = |path: String, len| ImageFile { source: Source::Bytes(pattern(&path, len)), path, mode: 0o644 };
    match u {
        UserImg::Tiny | UserImg::Unclean | UserImg::Corrupt => vec![
            sized("/readme".into(), 300),
            sized("/docs/notes".into(), 5000),
            sized("/docs/empty".into(), 0),
            sized("/a/b/c/d/e/f/leaf".into(), 1),
            sized("/blocks".into(), 3 * 4096 + 513),
            link("/docs/here", "notes"),
        ],
        UserImg::DoubleIndirect => vec![sized("/big".into(), 5 << 20), sized("/small".into(), 100)],
        UserImg::Many => (0..300).map(|i| sized(format!("/many/f{i:03}"), i * 37 % 3000)).collect(),
        UserImg::Deep => (1..=24)
            .map(|d| {
                let dir: String = (1..=d).map(|k| format!("/d{k}")).collect();
                sized(format!("{dir}/file"), d * 1000)
            })
            .collect(),
        UserImg::Roomy => vec![sized("/etc/keep".into(), 2000), ImageFile { path: "/work".into(), mode: 0o755, source: Source::Dir }],
    }
}

/// Makes a test's user image with makefs: `target/image/user-NAME.ffs`.
fn build_user_image(ctx: &Ctx, tools: &Tools, u: UserImg) -> Result<PathBuf> {
    let dir = ctx.path(DIR);
    let root = dir.join(format!("user-{}-root", u.name()));
    let files = user_tree(u);
    let content = stage(&root, &files)?;
    let spec_file = dir.join(format!("user-{}.mtree", u.name()));
    fs::write(&spec_file, spec(&files)?).with_context(|| format!("cannot write {}", spec_file.display()))?;
    let out = dir.join(format!("user-{}.ffs", u.name()));
    const MIB: u64 = 1 << 20;
    let (format, size, inodes) = match u {
        UserImg::Tiny | UserImg::Unclean | UserImg::Corrupt => (FORMAT_UFS1, MIB / 2, 64),
        UserImg::DoubleIndirect => (FORMAT_UFS1, (content + MIB).div_ceil(MIB) * MIB, 64),
        UserImg::Many => ("version=2,bsize=16384,fsize=2048", (content + 2 * MIB).div_ceil(MIB) * MIB, 64),
        UserImg::Deep => (FORMAT_BIG, (content + 2 * MIB).div_ceil(MIB) * MIB, 64),
        UserImg::Roomy => ("version=2,bsize=4096,fsize=1024", 16 * MIB, FREE_INODES),
    };
    makefs_with(ctx, tools, &root, &spec_file, &out, size, format, inodes)?;
    match u {
        UserImg::Unclean => {
            let bytes = std::rc::Rc::new(std::cell::RefCell::new(fs::read(&out).with_context(|| format!("cannot read {}", out.display()))?));
            ffs::Fs::mount(MemImage(bytes.clone())).and_then(|f| f.set_clean(false)).map_err(|e| anyhow::anyhow!("{}: {e}", out.display()))?;
            fs::write(&out, bytes.take()).with_context(|| format!("cannot write {}", out.display()))?;
        }
        UserImg::Corrupt => {
            let mut bytes = fs::read(&out).with_context(|| format!("cannot read {}", out.display()))?;
            for r in CORRUPT {
                if let Some(b) = bytes.get_mut(r) {
                    b.fill(0);
                }
            }
            fs::write(&out, bytes).with_context(|| format!("cannot write {}", out.display()))?;
        }
        _ => {}
    }
    Ok(out)
}

/// Clears the inode-map bit of the first inode in use after the root's, so
/// that it is the first free one an allocation finds; returns its number.
fn mark_first_inode_free(img: &mut [u8]) -> Result<u32> {
    let (ino, iu) = {
        let fs = ffs::Fs::mount(&img[..]).map_err(|e| anyhow::anyhow!("{e}"))?;
        let ino = (ffs::ROOTINO + 1..fs.sb().ipg).find(|&i| fs.inode(i).is_ok_and(|ip| ip.mode != 0)).context("no inode in use in group 0")?;
        (ino, fs.cg_maps(0).map_err(|e| anyhow::anyhow!("{e}"))?.0)
    };
    let at = (iu + ino as u64 / 8) as usize;
    *img.get_mut(at).context("inode map outside the image")? &= !(1 << (ino % 8));
    Ok(ino)
}

/// Sets the free-map bits of the first block of file `path`, leaving the
/// clean flag and the summaries alone: the damage a clean flag hides from
/// a check that trusts it. Returns the block's first fragment.
pub fn mark_file_block_free(img: &mut [u8], path: &str) -> Result<u64> {
    let (f, base, frag, free) = {
        let fs = ffs::Fs::mount(&img[..]).map_err(|e| anyhow::anyhow!("{e}"))?;
        let ip = fs.lookup(path).and_then(|ino| fs.inode(ino)).map_err(|e| anyhow::anyhow!("{path}: {e}"))?;
        let f = fs.bmap(&ip, 0).map_err(|e| anyhow::anyhow!("{path}: {e}"))?.with_context(|| format!("{path} has no first block"))?;
        let sb = fs.sb();
        let cg = (f / sb.fpg as u64) as u32;
        (f, cg as u64 * sb.fpg as u64, sb.frag as u64, fs.cg_maps(cg).map_err(|e| anyhow::anyhow!("{e}"))?.1)
    };
    for k in f - base..f - base + frag {
        *img.get_mut((free + k / 8) as usize).context("free map outside the image")? |= 1 << (k % 8);
    }
    Ok(f)
}

/// Room for the files plus FREE_MIB for FFS's own structures and for the
/// kernel to write in, rounded up to a MiB.
fn image_size(content: u64) -> u64 {
    const MIB: u64 = 1 << 20;
    (content + FREE_MIB * MIB).div_ceil(MIB) * MIB
}

/// Free space and free inodes the image gets for the kernel to write in
/// (fsstress keeps up to 40 files of up to 160 KiB, and makes many more).
const FREE_MIB: u64 = 12;
const FREE_INODES: u32 = 2048;

/// Recreates `root` holding `files`; returns their total size. Modes,
/// owners and times come from the mtree spec, not from this tree.
fn stage(root: &Path, files: &[ImageFile]) -> Result<u64> {
    if root.exists() {
        fs::remove_dir_all(root).with_context(|| format!("cannot remove {}", root.display()))?;
    }
    let mut total = 0;
    for f in files {
        let dst = root.join(f.path.trim_start_matches('/'));
        let parent = dst.parent().context("file without a parent directory")?;
        fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
        match &f.source {
            Source::Bytes(b) => {
                fs::write(&dst, b).with_context(|| format!("cannot write {}", dst.display()))?;
                total += b.len() as u64;
            }
            Source::Copy(src) => {
                total += fs::copy(src, &dst).with_context(|| format!("cannot copy {} to {}", src.display(), dst.display()))?;
            }
            Source::Symlink(target) => std::os::unix::fs::symlink(target, &dst).with_context(|| format!("cannot make symlink {}", dst.display()))?,
            Source::Dir => fs::create_dir_all(&dst).with_context(|| format!("cannot create {}", dst.display()))?,
        }
    }
    Ok(total)
}

/// A directory of the mtree spec being built.
#[derive(Default)]
struct SpecDir(BTreeMap<String, SpecNode>);

enum SpecNode {
    Dir(SpecDir),
    /// The mtree keywords of a file or symlink.
    Leaf(String),
}

/// An mtree(8) spec for makefs -F: every entry owned by root, with its
/// mode and the fixed time. Without it makefs takes owners and times
/// (ctime included, which no one can set) from the staging tree.
fn spec(files: &[ImageFile]) -> Result<String> {
    let mut top = SpecDir::default();
    for f in files {
        let mut parts: Vec<&str> = f.path.split('/').filter(|p| !p.is_empty()).collect();
        let name = parts.pop().with_context(|| format!("bad image path '{}'", f.path))?;
        if let Some(bad) = parts.iter().chain([&name]).find(|p| !p.chars().all(|c| c.is_ascii_alphanumeric() || "._-+".contains(c))) {
            // mtree would need these escaped; no file needs that yet.
            bail!("image path '{}': unsupported characters in '{bad}'", f.path);
        }
        let mut dir = &mut top;
        for p in parts {
            let node = dir.0.entry(p.to_owned()).or_insert_with(|| SpecNode::Dir(SpecDir::default()));
            dir = match node {
                SpecNode::Dir(d) => d,
                SpecNode::Leaf(_) => bail!("image path '{}': '{p}' is a file", f.path),
            };
        }
        let node = match &f.source {
            Source::Symlink(target) => SpecNode::Leaf(format!("type=link mode={:04o} link={target}", f.mode)),
            Source::Dir => SpecNode::Dir(SpecDir::default()),
            _ => SpecNode::Leaf(format!("type=file mode={:04o}", f.mode)),
        };
        if dir.0.insert(name.to_owned(), node).is_some() {
            bail!("image path '{}' listed twice", f.path);
        }
    }
    let mut out = format!("/set uid=0 gid=0 time={EPOCH}.0\n. type=dir mode=0755\n");
    render(&top, 1, &mut out);
    Ok(out)
}

fn render(dir: &SpecDir, depth: usize, out: &mut String) {
    let indent = "    ".repeat(depth);
    for (name, node) in &dir.0 {
        match node {
            SpecNode::Leaf(kw) => out.push_str(&format!("{indent}{name} {kw}\n")),
            SpecNode::Dir(d) => {
                out.push_str(&format!("{indent}{name} type=dir mode=0755\n"));
                render(d, depth + 1, out);
                out.push_str(&format!("{indent}..\n"));
            }
        }
    }
}

fn makefs(ctx: &Ctx, tools: &Tools, root: &Path, spec: &Path, image: &Path, size: u64, format: &str) -> Result<()> {
    makefs_with(ctx, tools, root, spec, image, size, format, FREE_INODES)
}

/// makefs with `free_inodes` free inodes asked for.
#[allow(clippy::too_many_arguments)]
fn makefs_with(ctx: &Ctx, tools: &Tools, root: &Path, spec: &Path, image: &Path, size: u64, format: &str, free_inodes: u32) -> Result<()> {
    if image.exists() {
        fs::remove_file(image).with_context(|| format!("cannot remove {}", image.display()))?;
    }
    let mut cmd = Command::new(&tools.makefs);
    // Big-endian, in `format`; -T fixes the superblock's times, the spec
    // every inode's.
    cmd.args(["-t", "ffs", "-B", "be", "-o", format, "-T"])
        .arg(EPOCH.to_string())
        .arg("-F")
        .arg(spec)
        .arg("-f")
        .arg(free_inodes.to_string())
        .arg("-s")
        .arg(size.to_string())
        .arg(image)
        .arg(root);
    // makefs writes some of its in-memory pointers into the superblock's
    // unused fields; without address randomisation they are the same each
    // run, and so is the image.
    // SAFETY: personality(2) is a plain system call, safe between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let p = libc::personality(0xffff_ffff);
            if p != -1 {
                libc::personality((p | libc::ADDR_NO_RANDOMIZE) as libc::c_ulong);
            }
            Ok(())
        });
    }
    ctx.show(&cmd);
    let out = cmd.output().with_context(|| format!("cannot run {}", tools.makefs.display()))?;
    if ctx.verbose || !out.status.success() {
        std::io::stderr().write_all(&out.stdout).ok();
        std::io::stderr().write_all(&out.stderr).ok();
    }
    if !out.status.success() {
        bail!("makefs failed ({}) making {}", out.status, image.display());
    }
    Ok(())
}

/// The most an image may hold: the ramdisk must fit the guest's 256 MB.
const IMAGE_MAX: u64 = 256 << 20;

/// Reads the whole image (ramdisks are small) for the `ffs` crate: a
/// regular file of at most IMAGE_MAX bytes, so that a device or a pipe
/// (`/dev/zero`) is refused by name instead of read forever.
fn load(image: &Path) -> Result<Vec<u8>> {
    let md = fs::metadata(image).with_context(|| format!("cannot read {}", image.display()))?;
    if !md.is_file() {
        bail!("{} is not a regular file (an FFS image is one)", image.display());
    }
    if md.len() > IMAGE_MAX {
        bail!("{} is {} bytes: more than an image for a 256 MB machine can be ({} MB at most)", image.display(), md.len(), IMAGE_MAX >> 20);
    }
    fs::read(image).with_context(|| format!("cannot read {}", image.display()))
}

/// `ls -l`-style mode: type letter and permission bits.
fn mode_string(mode: u16) -> String {
    let kind = match ffs::FileType::from_mode(mode) {
        ffs::FileType::Dir => 'd',
        ffs::FileType::Symlink => 'l',
        ffs::FileType::Char => 'c',
        ffs::FileType::Block => 'b',
        ffs::FileType::Fifo => 'p',
        ffs::FileType::Socket => 's',
        ffs::FileType::Regular => '-',
        ffs::FileType::Unknown(_) => '?',
    };
    let mut out = String::from(kind);
    for shift in [6, 3, 0] {
        let bits = (mode >> shift) & 7;
        out.push(if bits & 4 != 0 { 'r' } else { '-' });
        out.push(if bits & 2 != 0 { 'w' } else { '-' });
        out.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
    out
}

fn ls_line(ip: &ffs::Inode, name: &str) -> String {
    format!("{} {:>3} {:>10} {:>6} {name}", mode_string(ip.mode), ip.nlink, ip.size, ip.ino)
}

fn ls(image: &Path, path: &str) -> Result<i32> {
    let bytes = load(image)?;
    let fail = |e: ffs::Error| anyhow::anyhow!("{}: {path}: {e}", image.display());
    let fs = ffs::Fs::mount(&bytes[..]).map_err(|e| anyhow::anyhow!("{}: {e}", image.display()))?;
    let ip = fs.inode(fs.lookup(path).map_err(fail)?).map_err(fail)?;
    if !ip.is_dir() {
        println!("{}", ls_line(&ip, path));
        return Ok(0);
    }
    let mut entries = Vec::new();
    fs.readdir(&ip, &mut |e| {
        entries.push((e.ino, String::from_utf8_lossy(e.name).into_owned()));
        true
    })
    .map_err(fail)?;
    for (ino, name) in entries {
        let child = fs.inode(ino).map_err(fail)?;
        println!("{}", ls_line(&child, &name));
    }
    Ok(0)
}

/// `PATH SIZE CRC32` for every regular file of an image, as the kernel's
/// `workload=walk` prints them (directory order, depth first).
pub fn walk(img: &[u8]) -> Result<Vec<String>, ffs::Error> {
    let fs = ffs::Fs::mount(img)?;
    let root = fs.inode(ffs::ROOTINO)?;
    let mut out = Vec::new();
    tree(&fs, &root, "", &mut |p, ip| {
        if ip.kind() == ffs::FileType::Regular {
            let data = read_all(&fs, ip)?;
            out.push(format!("{p} {} {:08x}", data.len(), kcore::crc32::crc32(&data)));
        }
        Ok(())
    })?;
    Ok(out)
}

fn check(image: &Path) -> Result<i32> {
    let bytes = load(image)?;
    let r = ffs::fsck::check(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", image.display()))?;
    for p in &r.problems {
        println!("{}: {p}", image.display());
    }
    println!("{}: {} files, {} directories, {} fragments in use; {} problems", image.display(), r.files, r.dirs, r.frags_used, r.problems.len());
    Ok(i32::from(!r.problems.is_empty()))
}

fn cat(image: &Path, path: &str) -> Result<i32> {
    let bytes = load(image)?;
    let fail = |e: ffs::Error| anyhow::anyhow!("{}: {path}: {e}", image.display());
    let fs = ffs::Fs::mount(&bytes[..]).map_err(|e| anyhow::anyhow!("{}: {e}", image.display()))?;
    let ip = fs.inode(fs.lookup(path).map_err(fail)?).map_err(fail)?;
    if ip.is_dir() {
        bail!("{}: {path}: is a directory (use image ls)", image.display());
    }
    let mut out = std::io::stdout().lock();
    let mut buf = vec![0u8; 64 * 1024];
    let mut off = 0u64;
    loop {
        let n = fs.read(&ip, off, &mut buf).map_err(fail)?;
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n]).context("cannot write to stdout")?;
        off += n as u64;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_and_huge_files_are_refused() {
        let e = load(Path::new("/dev/zero")).unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
        let e = load(Path::new("/nonexistent/x.ffs")).unwrap_err().to_string();
        assert!(e.contains("cannot read"), "{e}");
    }

    #[test]
    fn modes_read_like_ls() {
        assert_eq!(mode_string(0o040755), "drwxr-xr-x");
        assert_eq!(mode_string(0o100644), "-rw-r--r--");
        assert_eq!(mode_string(0o120777), "lrwxrwxrwx");
    }

    #[test]
    fn pattern_is_sized_and_self_describing() {
        assert!(pattern("/x", 0).is_empty());
        assert_eq!(pattern("/x", 1), b"/");
        let p = pattern("/x", 100_000);
        assert_eq!(p.len(), 100_000);
        assert!(p.starts_with(b"/x offset 00000000\n/x offset 00000019\n"));
    }

    #[test]
    fn spec_nests_directories() {
        let f = |path: &str, source| ImageFile { path: path.into(), mode: 0o644, source };
        let files = [
            f("/bsd", Source::Bytes(Vec::new())),
            f("/etc/motd", Source::Bytes(Vec::new())),
            f("/usr/share/misc/big", Source::Bytes(Vec::new())),
            ImageFile { path: "/usr/share/misc/link".into(), mode: 0o777, source: Source::Symlink("big".into()) },
            f("/etc/hosts", Source::Bytes(Vec::new())),
        ];
        let expect = format!(
            "/set uid=0 gid=0 time={EPOCH}.0\n. type=dir mode=0755\n\
             \x20   bsd type=file mode=0644\n\
             \x20   etc type=dir mode=0755\n\
             \x20       hosts type=file mode=0644\n\
             \x20       motd type=file mode=0644\n\
             \x20   ..\n\
             \x20   usr type=dir mode=0755\n\
             \x20       share type=dir mode=0755\n\
             \x20           misc type=dir mode=0755\n\
             \x20               big type=file mode=0644\n\
             \x20               link type=link mode=0777 link=big\n\
             \x20           ..\n\
             \x20       ..\n\
             \x20   ..\n"
        );
        assert_eq!(spec(&files).expect("spec"), expect);
        assert!(spec(&[f("/a b", Source::Bytes(Vec::new()))]).is_err());
        assert!(spec(&[f("/x", Source::Bytes(Vec::new())), f("/x/y", Source::Bytes(Vec::new()))]).is_err());
        assert!(spec(&[f("/x", Source::Bytes(Vec::new())), f("/x", Source::Bytes(Vec::new()))]).is_err());
    }

    #[test]
    fn size_has_slack_and_is_whole_mib() {
        assert_eq!(image_size(0), 12 << 20);
        assert_eq!(image_size(1), 13 << 20);
        assert_eq!(image_size(3_644_012), 16 << 20);
    }
}
