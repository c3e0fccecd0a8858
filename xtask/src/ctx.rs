//! What every command shares: the context (the repository's root and -v),
//! the set-up a boot needs (tools, built artifacts, images, the machine),
//! and shell quoting for printed command lines.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{build, deps, image, qemu};

/// What every command needs: where the workspace is and how loud to be.
pub struct Ctx {
    pub root: PathBuf,
    pub verbose: bool,
    /// The PowerMac every boot runs on (`--machine`).
    pub machine: qemu::Mac,
}

impl Ctx {
    /// `path` relative to the workspace root.
    pub fn path(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.root.join(rel)
    }

    /// Shows `cmd` (with -v) the way a shell would take it.
    pub fn show(&self, cmd: &Command) {
        if self.verbose {
            eprintln!("+ {}", command_line(cmd));
        }
    }
}

/// Everything a boot needs, built.
pub struct Setup {
    pub art: build::Artifacts,
    pub images: image::Images,
    /// The machine `--machine` chose, and the other one (tests that are
    /// about one machine run on it whatever `--machine` says).
    pub machine: qemu::Machine,
    pub other: qemu::Machine,
}

impl Setup {
    pub fn machine_for(&self, ctx: &Ctx, mac: qemu::Mac) -> &qemu::Machine {
        if mac == ctx.machine {
            &self.machine
        } else {
            &self.other
        }
    }
}

/// Set-up check, then build the stub, the kernel and the images.
pub fn setup(ctx: &Ctx) -> anyhow::Result<Setup> {
    let tools = deps::check(ctx)?;
    let art = build::powerpc(ctx)?;
    let images = image::build(ctx, &tools, &art)?;
    let machine = qemu::Machine::load(ctx, &tools, &art, ctx.machine)?;
    let other = qemu::Machine::load(ctx, &tools, &art, if ctx.machine == qemu::Mac::G4 { qemu::Mac::G5 } else { qemu::Mac::G4 })?;
    Ok(Setup { art, images, machine, other })
}

/// `cmd` as one shell-quoted line, for -v and for error messages.
pub fn command_line(cmd: &Command) -> String {
    std::iter::once(cmd.get_program()).chain(cmd.get_args()).map(shell_quote).collect::<Vec<_>>().join(" ")
}

/// Quotes `s` for a POSIX shell when it needs it.
pub fn shell_quote(s: impl AsRef<OsStr>) -> String {
    let s = s.as_ref().to_string_lossy();
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c);
    if !s.is_empty() && s.chars().all(plain) {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("seed=1"), "seed=1");
        assert_eq!(shell_quote("seed=1 halt=1"), "'seed=1 halt=1'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
