//! Set-up check: the host tools and the rust-src component the build needs.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::ctx::Ctx;

/// Host programs xtask runs.
pub struct Tools {
    /// QEMU for the G4 (qemu-system-ppc) and for the G5 (qemu-system-ppc64,
    /// from the same Debian package).
    pub qemu: PathBuf,
    pub qemu64: PathBuf,
    pub makefs: PathBuf,
}

const QEMU: &str = "qemu-system-ppc";
const QEMU64: &str = "qemu-system-ppc64";
/// The Debian package with both QEMUs.
const QEMU_PKG: &str = "qemu-system-ppc";
const MAKEFS: &str = "makefs";

/// Finds (or, as root on Debian, installs) QEMU and makefs, and makes sure
/// the nightly toolchain has rust-src for -Zbuild-std.
pub fn check(ctx: &Ctx) -> Result<Tools> {
    let found = || Some(Tools { qemu: find(QEMU)?, qemu64: find(QEMU64)?, makefs: find(MAKEFS)? });
    let tools = match found() {
        Some(t) => t,
        None => {
            let mut missing = Vec::new();
            if find(QEMU).is_none() || find(QEMU64).is_none() {
                missing.push(QEMU_PKG);
            }
            if find(MAKEFS).is_none() {
                missing.push(MAKEFS);
            }
            install(ctx, &missing)?;
            found().with_context(|| format!("{QEMU}, {QEMU64} or {MAKEFS} still missing after apt-get install"))?
        }
    };
    rust_src(ctx)?;
    Ok(tools)
}

/// `name` on PATH, or in the sbin directories a non-root PATH often lacks
/// (Debian's makefs is /usr/sbin/makefs).
fn find(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).chain(["/usr/sbin", "/sbin"].map(PathBuf::from)).map(|dir| dir.join(name)).find(|p| p.is_file())
}

fn install(ctx: &Ctx, missing: &[&str]) -> Result<()> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    if !root || !Path::new("/etc/debian_version").exists() {
        bail!("missing {}; install with: sudo apt-get install {}", missing.join(", "), missing.join(" "));
    }
    eprintln!("xtask: installing {} with apt-get", missing.join(", "));
    let mut update = Command::new("apt-get");
    update.arg("update").env("DEBIAN_FRONTEND", "noninteractive");
    run(ctx, &mut update)?;
    let mut inst = Command::new("apt-get");
    inst.args(["install", "-y", "--no-install-recommends"]).args(missing).env("DEBIAN_FRONTEND", "noninteractive");
    run(ctx, &mut inst)
}

/// The toolchain rust-toolchain.toml pins, the one place that names it.
pub fn toolchain() -> &'static str {
    const TOML: &str = include_str!("../../rust-toolchain.toml");
    TOML.lines().find_map(|l| l.trim().strip_prefix("channel = \"")?.strip_suffix('"')).expect("rust-toolchain.toml has a channel line")
}

/// -Zbuild-std needs the standard library's source. This machine sets
/// RUSTUP_AUTO_INSTALL=0, so rust-toolchain.toml alone does not add it.
fn rust_src(ctx: &Ctx) -> Result<()> {
    let add = ["component", "add", "rust-src", "--toolchain", toolchain()];
    let mut list = Command::new("rustup");
    list.args(["component", "list", "--toolchain", toolchain(), "--installed"]);
    ctx.show(&list);
    let out = match list.output() {
        Ok(out) => out,
        Err(_) => {
            eprintln!("xtask: warning: rustup not found; the build needs rust-src: rustup {}", add.join(" "));
            return Ok(());
        }
    };
    if String::from_utf8_lossy(&out.stdout).lines().any(|l| l.trim().starts_with("rust-src")) {
        return Ok(());
    }
    let mut cmd = Command::new("rustup");
    cmd.args(add);
    run(ctx, &mut cmd)
}

fn run(ctx: &Ctx, cmd: &mut Command) -> Result<()> {
    ctx.show(cmd);
    let line = crate::ctx::command_line(cmd);
    let status = cmd.status().with_context(|| format!("cannot run {line}"))?;
    if !status.success() {
        bail!("{line} failed ({status})");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// A dated nightly: plain `nightly` would move with `rustup update` to
    /// one that rejects the soft-float target (doc/xtask.md, "The toolchain pin").
    #[test]
    fn toolchain_is_a_dated_nightly() {
        let t = super::toolchain();
        let date = t.strip_prefix("nightly-").expect("a nightly");
        assert_eq!(date.len(), 10, "{t}");
        assert!(date.split('-').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())), "{t}");
    }
}
