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
    pub machine: qemu::Machine,
}

/// Set-up check, then build the stub, the kernel and the images.
pub fn setup(ctx: &Ctx) -> anyhow::Result<Setup> {
    let tools = deps::check(ctx)?;
    let art = build::powerpc(ctx)?;
    let images = image::build(ctx, &tools, &art)?;
    let machine = qemu::Machine::load(ctx, &tools, &art)?;
    Ok(Setup { art, images, machine })
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
