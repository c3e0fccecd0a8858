//! `cargo xtask run`: build everything and boot with the console here.

use std::time::Duration;

use anyhow::Result;

use crate::ctx::{Ctx, Setup};
use crate::qemu::{self, Boot, Exit};

#[derive(clap::Args)]
pub struct Args {
    /// The vnode pager's policy (original, vget-diff, fixed, fixed-2,
    /// usecount0, uncache-vget, head), passed as `uvn.policy=P`.
    #[arg(long, value_parser = crate::qemu::parse_policy)]
    policy: Option<kcore::bootargs::UvnPolicy>,
    /// Seed for everything random in the kernel (`seed=N`).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// More boot arguments, e.g. "test=all" or "halt=0 hz=1000".
    #[arg(long, default_value = "")]
    bootargs: String,
    /// Kill QEMU after this many seconds (exit status 2).
    #[arg(long, default_value_t = 60)]
    timeout: u64,
    /// Start halted with a gdb server on :1234 (no timeout).
    #[arg(long)]
    gdb: bool,
    /// After a normal halt, write the ramdisk as the kernel left it to this
    /// file (an FFS image: look inside with `cargo xtask image ls F`).
    #[arg(long, value_name = "F")]
    save_image: Option<std::path::PathBuf>,
    /// Mount this FFS image (big-endian UFS1/UFS2, any block and fragment
    /// size), untouched, on /mnt beside the boot image: the kernel sees it
    /// as rd1 (`workload=walk` walks it, `fsstress.dir=/mnt` and
    /// `race.dir=/mnt` work in it, --save-image saves it).
    #[arg(long, value_name = "F")]
    image: Option<std::path::PathBuf>,
}

pub fn main(ctx: &Ctx, args: &Args) -> Result<i32> {
    let Setup { art, images, machine, .. } = crate::ctx::setup(ctx)?;
    if let Some(f) = &args.image {
        crate::image::check_user(f)?;
    }
    let bootargs = qemu::with_policy(&args.bootargs, args.policy);
    if args.gdb {
        eprintln!(
            "xtask: QEMU is waiting for gdb; attach with:\n  gdb-multiarch {} -ex 'target remote :1234'",
            crate::ctx::shell_quote(art.kernel.strip_prefix(&ctx.root).unwrap_or(&art.kernel))
        );
    }
    let log = ctx.path("target/run.log");
    let boot = Boot {
        image: &images.good,
        user_image: args.image.as_deref(),
        seed: args.seed,
        bootargs: &bootargs,
        timeout: (!args.gdb).then(|| Duration::from_secs(args.timeout)),
        gdb: args.gdb,
        console: true,
        input: None,
        save_image: args.save_image.as_deref(),
        log: &log,
    };
    let r = machine.boot(ctx, &boot)?;
    Ok(match r.exit {
        Exit::Code(c @ (0 | 1)) => c,
        Exit::Timeout => {
            eprintln!("\nxtask: timeout after {} s, QEMU killed", args.timeout);
            2
        }
        other => {
            eprintln!("\nxtask: QEMU failed: {other}");
            2
        }
    })
}
