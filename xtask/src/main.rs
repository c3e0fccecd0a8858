//! `cargo xtask …`: the one entry point for building, booting, testing and
//! stress-testing ppcbsd under QEMU mac99.

/// The race workload's boot arguments (small memory for pressure, few
/// vnodes so creates recycle, the mmap hack off), then `$rest`: the one
/// place they are written.
macro_rules! race_bootargs {
    ($rest:literal) => {
        concat!("workload=race physmem=24M kern.maxvnodes=32 kern.bufcachepercent=1 uvm.mmap_uncache=0 ", $rest)
    };
}

mod bench;
mod build;
mod deps;
#[cfg(test)]
mod docs;
mod explain;
mod image;
mod outcome;
mod qemu;
mod report;
mod run;
mod stats;
mod stress;
mod test;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Build, boot, test and stress ppcbsd under QEMU mac99")]
struct Cli {
    /// Print every command line run (cargo, makefs, the full QEMU command).
    #[arg(short, long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Build everything and boot the kernel with the console on this terminal.
    Run(run::Args),
    /// Host unit tests, then the in-QEMU tests; ends with "N passed, N failed".
    Test(test::Args),
    /// Boot many times with consecutive seeds and group the panics.
    Stress(stress::Args),
    /// Build the FFS ramdisk image, or look inside one.
    #[command(subcommand)]
    Image(image::Cmd),
    /// Boot timings and the kernel's `bench:` lines.
    Bench,
    /// Draw a panic's vnode history as a timeline (SVG and HTML).
    Explain(explain::Args),
    /// Format the tree as rustfmt.toml says (--check: only check).
    Fmt {
        #[arg(long)]
        check: bool,
    },
    /// Clippy, warnings as errors, on the host crates, the stub, the kernel and the user programs.
    Clippy,
}

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
    pub tools: deps::Tools,
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
    Ok(Setup { tools, art, images, machine })
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

fn main() {
    let cli = Cli::parse();
    let ctx = Ctx {
        // xtask lives one level below the workspace root.
        root: Path::new(env!("CARGO_MANIFEST_DIR")).parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf),
        verbose: cli.verbose,
    };
    if let Err(e) = qemu::install_interrupt_handler() {
        eprintln!("xtask: warning: no Ctrl-C handler: {e}");
    }
    let code = match dispatch(&ctx, cli.cmd) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            2
        }
    };
    std::process::exit(code);
}

/// Runs one command; Ok carries the process exit status.
fn dispatch(ctx: &Ctx, cmd: Cmd) -> anyhow::Result<i32> {
    match cmd {
        Cmd::Run(args) => run::main(ctx, &args),
        Cmd::Test(args) => test::main(ctx, &args),
        Cmd::Stress(args) => stress::main(ctx, &args),
        Cmd::Image(cmd) => image::main(ctx, cmd),
        Cmd::Bench => bench::main(ctx),
        Cmd::Explain(args) => explain::main(ctx, &args),
        Cmd::Fmt { check } => build::fmt(ctx, check),
        Cmd::Clippy => build::clippy(ctx),
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
