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
mod ctx;
mod deps;
#[cfg(test)]
mod docs;
mod explain;
mod image;
mod matrix;
mod outcome;
mod qemu;
mod report;
mod results;
mod run;
mod stats;
mod stress;
mod test;

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Build, boot, test and stress ppcbsd under QEMU mac99")]
struct Cli {
    /// Print every command line run (cargo, makefs, the full QEMU command).
    #[arg(short, long, global = true)]
    verbose: bool,
    /// The PowerMac to boot: g4 (MPC7400, qemu-system-ppc) or g5 (PPC970FX,
    /// qemu-system-ppc64 -cpu 970fx), both `-M mac99`.
    #[arg(long, global = true, value_enum, default_value_t = qemu::Mac::G4)]
    machine: qemu::Mac,
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
    /// Boot nothing: tables, comparisons, merges and reports of finished
    /// stress runs.
    #[command(subcommand)]
    Runs(stress::RunsCmd),
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

fn main() {
    let cli = Cli::parse();
    let ctx = ctx::Ctx {
        // xtask lives one level below the workspace root.
        root: Path::new(env!("CARGO_MANIFEST_DIR")).parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf),
        verbose: cli.verbose,
        machine: cli.machine,
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
fn dispatch(ctx: &ctx::Ctx, cmd: Cmd) -> anyhow::Result<i32> {
    match cmd {
        Cmd::Run(args) => run::main(ctx, &args),
        Cmd::Test(args) => test::main(ctx, &args),
        Cmd::Stress(args) => stress::main(ctx, &args),
        Cmd::Runs(cmd) => stress::runs(ctx, &cmd),
        Cmd::Image(cmd) => image::main(ctx, cmd),
        Cmd::Bench => bench::main(ctx),
        Cmd::Explain(args) => explain::main(ctx, &args),
        Cmd::Fmt { check } => build::fmt(ctx, check),
        Cmd::Clippy => build::clippy(ctx),
    }
}
