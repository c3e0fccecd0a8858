//! Building the PowerPC crates (boot stub, kernel) and running host tests.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::ctx::Ctx;

/// The target JSON the PowerPC crates are built for, relative to the root.
const TARGET_JSON: &str = "targets/powerpc-none.json";
/// The cargo arguments of every PowerPC build and lint: the target JSON and
/// the core library built from source for it.
const PPC_ARGS: [&str; 4] = ["--target", TARGET_JSON, "-Zbuild-std=core,alloc", "-Zbuild-std-features=compiler-builtins-mem"];
/// Where cargo puts them (named after the target JSON).
const OUT_DIR: &str = "target/powerpc-none/release";

/// The user programs (binaries of the `userland` package) and where they go
/// in the ramdisk.
pub const USER_PROGRAMS: [(&str, &str); 14] = [
    ("init", "/sbin/init"),
    ("hello", "/bin/hello"),
    ("hog", "/bin/hog"),
    ("utest", "/bin/utest"),
    ("ubench", "/bin/ubench"),
    ("fsstress", "/bin/fsstress"),
    ("mapwriter", "/bin/mapwriter"),
    ("creator", "/bin/creator"),
    ("memhog", "/bin/memhog"),
    ("scfuzz", "/bin/scfuzz"),
    ("truncator", "/bin/truncator"),
    ("syncer", "/bin/syncer"),
    ("execer", "/bin/execer"),
    ("fieldjob", "/usr/bin/job0"),
];

/// What a build produces.
pub struct Artifacts {
    /// The Open Firmware client program, QEMU's `-kernel`.
    pub boot: PathBuf,
    /// The kernel ELF, `/bsd` in the ramdisk.
    pub kernel: PathBuf,
    /// Where the user programs are, by their binary names.
    pub dir: PathBuf,
}

impl Artifacts {
    /// Where the artefacts of a build are, whether or not they exist yet.
    pub fn paths(ctx: &Ctx) -> Self {
        let dir = ctx.path(OUT_DIR);
        Artifacts { boot: dir.join("boot"), kernel: dir.join("bsd"), dir }
    }
}

/// A `cargo` command in the workspace root, without the variables the outer
/// `cargo run` set for xtask itself: they would point the inner cargo at
/// xtask's toolchain, flags and package instead of the workspace's own.
pub fn cargo() -> Command {
    let mut cmd = Command::new("cargo");
    for (key, _) in std::env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        let outer = (key.starts_with("CARGO") && key != "CARGO_HOME")
            || key.starts_with("__CARGO")
            || key.starts_with("RUSTC")
            || matches!(key, "RUSTFLAGS" | "RUSTDOCFLAGS" | "RUSTUP_TOOLCHAIN" | "RUST_RECURSION_COUNT");
        if outer {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// Builds the boot stub, the kernel and the user programs for PowerPC. Cargo's own output
/// (errors included) goes straight to the terminal. The stub builds on its
/// own: cargo unifies a crate's features across one build, and the stub
/// must get the `ffs` crate without the heap-using write side.
pub fn powerpc(ctx: &Ctx) -> Result<Artifacts> {
    for (pkgs, what) in [(&["boot"][..], "build of the boot stub"), (&["kernel", "userland"][..], "build of the kernel and user programs")] {
        let mut cmd = cargo();
        cmd.current_dir(&ctx.root).args(["build", "--release"]);
        for p in pkgs {
            cmd.args(["-p", p]);
        }
        cmd.args(PPC_ARGS);
        run_cargo(ctx, &mut cmd, what)?;
    }
    let art = Artifacts::paths(ctx);
    let user = USER_PROGRAMS.map(|(bin, _)| art.dir.join(bin));
    for p in [&art.boot, &art.kernel].into_iter().chain(&user) {
        if !p.is_file() {
            bail!("the build succeeded but {} is missing", p.display());
        }
    }
    Ok(art)
}

/// `cargo xtask fmt [--check]`: rustfmt over the whole workspace, in the
/// style rustfmt.toml records; with `--check`, exit 1 and show the diff if
/// anything is not in it.
pub fn fmt(ctx: &Ctx, check: bool) -> Result<i32> {
    let mut cmd = cargo();
    cmd.current_dir(&ctx.root).args(["fmt", "--all"]);
    if check {
        cmd.args(["--", "--check"]);
    }
    ctx.show(&cmd);
    let status = cmd.status().context("cannot run cargo fmt (rustup component add rustfmt)")?;
    if !status.success() {
        eprintln!("xtask: fmt: {}", if check { "the tree is not formatted: run `cargo xtask fmt`" } else { "cargo fmt failed" });
        return Ok(1);
    }
    Ok(0)
}

/// `cargo xtask clippy`: clippy with warnings as errors on the host crates,
/// then the boot stub, then the kernel and user programs (the target JSON
/// and build-std, two runs for the reason `powerpc` gives).
pub fn clippy(ctx: &Ctx) -> Result<i32> {
    let mut runs: Vec<Command> = Vec::new();
    let mut host = cargo();
    host.current_dir(&ctx.root).args(["clippy", "--all-targets", "-p", "xtask", "-p", "ffs", "-p", "kcore", "-p", "vmcore"]);
    runs.push(host);
    for pkgs in [&["boot"][..], &["kernel", "userland"][..]] {
        let mut cmd = cargo();
        cmd.current_dir(&ctx.root).args(["clippy", "--release"]);
        for p in pkgs {
            cmd.args(["-p", p]);
        }
        cmd.args(PPC_ARGS);
        runs.push(cmd);
    }
    for mut cmd in runs {
        cmd.args(["--", "-D", "warnings"]);
        ctx.show(&cmd);
        let status = cmd.status().context("cannot run cargo clippy (rustup component add clippy)")?;
        if !status.success() {
            eprintln!("xtask: clippy: `{}` found something (above)", crate::ctx::command_line(&cmd));
            return Ok(1);
        }
    }
    Ok(0)
}

/// `cargo test` in the root: the workspace's default members are exactly
/// the host-testable crates.
pub fn host_tests(ctx: &Ctx) -> Result<()> {
    let mut cmd = cargo();
    cmd.current_dir(&ctx.root).arg("test");
    run_cargo(ctx, &mut cmd, "host unit tests (cargo test)")
}

fn run_cargo(ctx: &Ctx, cmd: &mut Command, what: &str) -> Result<()> {
    ctx.show(cmd);
    let status = cmd.status().with_context(|| format!("cannot run cargo for the {what}"))?;
    if !status.success() {
        bail!("{what} failed ({status}); cargo's errors are above");
    }
    Ok(())
}
