//! Booting the kernel in QEMU: the machine definition, one boot with a
//! timeout and a log, and killing QEMU on every way out (error, drop,
//! timeout, Ctrl-C).

use kcore::bootargs::UvnPolicy;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::build::Artifacts;
use crate::ctx::Ctx;
use crate::deps::Tools;

/// The machine definition, relative to the workspace root.
pub const MACHINE_FILE: &str = "qemu/mac99.args";
/// One instruction per virtual nanosecond, never synchronised with the host:
/// the same seed then gives the same output byte for byte.
const ICOUNT: &str = "shift=0,align=off,sleep=off";

/// Which PowerMac: both are QEMU's `mac99` with OpenBIOS; the G5 is the
/// 64-bit PPC970FX, which the kernel runs in 32-bit mode as OpenBSD/macppc
/// does (doc/platform.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mac {
    G4,
    G5,
}

impl Mac {
    pub fn name(self) -> &'static str {
        match self {
            Mac::G4 => "g4",
            Mac::G5 => "g5",
        }
    }
}

impl std::fmt::Display for Mac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// QEMU and the fixed part of its command line.
pub struct Machine {
    qemu: PathBuf,
    args: Vec<String>,
    stub: PathBuf,
}

/// One boot.
pub struct Boot<'a> {
    /// The boot image (rd0: the kernel, the programs, the root).
    pub image: &'a Path,
    /// A user's image, mounted untouched on /mnt as rd1: it travels after
    /// the boot image in the one -initrd blob, at `rd1.offset`.
    pub user_image: Option<&'a Path>,
    pub seed: u64,
    /// Boot arguments after `seed=N` (may be empty).
    pub bootargs: &'a str,
    /// None only for --gdb, where a person sets the pace.
    pub timeout: Option<Duration>,
    /// Start halted, with a gdb server on :1234.
    pub gdb: bool,
    /// The serial console on this terminal (stdin forwarded, output shown)
    /// rather than only captured.
    pub console: bool,
    /// Raw serial output is written here as it arrives.
    pub log: &'a Path,
    /// Typed on the console once the output shows the first string (the
    /// kernel must be listening: OpenBIOS would eat earlier input).
    pub input: Option<(&'static str, &'static str)>,
    /// After a normal halt, write the ramdisk as the guest left it here
    /// (rd1, the user's image, when there is one).
    pub save_image: Option<&'a Path>,
}

/// The most -initrd the 256 MiB machine holds: OpenBIOS loads it at
/// 0x01116000, and its own memory starts at 0x0fc58000 (the kernel's
/// `in use … firmware` lines).
const INITRD_MAX: u64 = 0x0fc5_8000 - 0x0111_6000;

/// The -initrd blob of a boot with a user's image: the boot image padded
/// to a whole page, then the user's image; and the boot argument that
/// tells the kernel where the second starts.
pub fn initrd_with_user(image: &Path, user: &Path, out: &Path) -> Result<String> {
    let mut blob = std::fs::read(image).with_context(|| format!("cannot read {}", image.display()))?;
    blob.resize(blob.len().div_ceil(4096) * 4096, 0);
    let offset = blob.len();
    let ulen = std::fs::metadata(user).with_context(|| format!("cannot read {}", user.display()))?.len();
    if offset as u64 + ulen > INITRD_MAX {
        bail!(
            "{} is {ulen} bytes: after the {offset}-byte boot image the ramdisk would not fit in the machine's memory (at most {} bytes for your image)",
            user.display(),
            INITRD_MAX - offset as u64
        );
    }
    let u = std::fs::read(user).with_context(|| format!("cannot read {}", user.display()))?;
    blob.extend_from_slice(&u);
    std::fs::write(out, blob).with_context(|| format!("cannot write {}", out.display()))?;
    Ok(format!("rd1.offset={offset}"))
}

/// How a boot ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// QEMU exited with this status (0 halted, 1 panicked).
    Code(i32),
    /// QEMU was killed by a signal we did not send.
    Signal(i32),
    /// The timeout expired and xtask killed QEMU.
    Timeout,
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exit::Code(c) => write!(f, "exit status {c}"),
            Exit::Signal(s) => write!(f, "killed by signal {s}"),
            Exit::Timeout => write!(f, "timeout"),
        }
    }
}

pub struct BootResult {
    pub exit: Exit,
    /// Raw serial output (\r\n line ends).
    pub output: Vec<u8>,
    /// QEMU's own messages (empty in console mode, where they go to the terminal).
    pub stderr: Vec<u8>,
    pub wall: Duration,
}

impl BootResult {
    /// The serial output as text, with \r stripped.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.output).replace('\r', "")
    }
}

/// The -append string: the seed always comes first, so every log says how
/// to replay it.
pub fn append_line(seed: u64, bootargs: &str) -> String {
    std::iter::once(format!("seed={seed}")).chain(bootargs.split_whitespace().map(str::to_owned)).collect::<Vec<_>>().join(" ")
}

/// The race workload with P0 arising through real paths: small memory for
/// pressure, few vnodes so creates recycle, the mmap hack off.
pub const RACE_BOOTARGS: &str = race_bootargs!("race.secs=10");

/// `--policy`'s value: a policy's name (original, vget-diff, fixed,
/// fixed-2).
pub fn parse_policy(s: &str) -> Result<UvnPolicy, String> {
    UvnPolicy::from_name(s).ok_or_else(|| format!("no policy '{s}' (there are: {})", UvnPolicy::ALL.map(UvnPolicy::name).join(", ")))
}

/// User boot arguments plus `uvn.policy=P` when --policy was given.
pub fn with_policy(bootargs: &str, policy: Option<UvnPolicy>) -> String {
    match policy {
        Some(p) => format!("{} uvn.policy={}", bootargs.trim(), p.name()).trim_start().to_owned(),
        None => bootargs.trim().to_owned(),
    }
}

/// One argument per line; blank lines and lines starting with '#' skipped.
pub fn parse_args_file(text: &str) -> Vec<String> {
    text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(str::to_owned).collect()
}

impl Machine {
    pub fn load(ctx: &Ctx, tools: &Tools, art: &Artifacts, mac: Mac) -> Result<Self> {
        let file = ctx.path(MACHINE_FILE);
        let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
        let mut args = parse_args_file(&text);
        let qemu = match mac {
            Mac::G4 => tools.qemu.clone(),
            Mac::G5 => {
                args.extend(["-cpu".to_owned(), "970fx".to_owned()]);
                tools.qemu64.clone()
            }
        };
        Ok(Machine { qemu, args, stub: art.boot.clone() })
    }

    /// The QEMU command of a boot; with a user's image, the initrd blob
    /// is written beside the log first.
    pub fn command(&self, b: &Boot<'_>) -> Result<Command> {
        let (initrd, bootargs) = match b.user_image {
            Some(user) => {
                let blob = b.log.with_extension("initrd");
                let arg = initrd_with_user(b.image, user, &blob)?;
                (blob, format!("{} {arg}", b.bootargs))
            }
            None => (b.image.to_path_buf(), b.bootargs.to_owned()),
        };
        let mut cmd = Command::new(&self.qemu);
        cmd.args(&self.args).args(["-icount", ICOUNT, "-kernel"]).arg(&self.stub).arg("-initrd").arg(initrd).arg("-append").arg(append_line(b.seed, &bootargs));
        if b.gdb {
            cmd.args(["-s", "-S"]);
        }
        if b.save_image.is_some() {
            // Pause instead of exiting at power-off, so the memory can be read.
            let mut qmp = std::ffi::OsString::from("unix:");
            qmp.push(qmp_socket(b.log));
            qmp.push(",server=on,wait=off");
            cmd.arg("-qmp").arg(qmp).args(["-action", "shutdown=pause"]);
        }
        Ok(cmd)
    }

    /// Boots once and waits for QEMU to exit or the timeout to expire.
    /// Err only when QEMU cannot be started or its output cannot be read.
    pub fn boot(&self, ctx: &Ctx, b: &Boot<'_>) -> Result<BootResult> {
        if let Some(dir) = b.log.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let mut cmd = self.command(b)?;
        cmd.stdout(Stdio::piped());
        if b.console {
            // With -serial stdio QEMU reads its own stdin: typed characters
            // reach the guest. It must stay in the terminal's foreground
            // process group to read it.
            cmd.stdin(Stdio::inherit()).stderr(Stdio::inherit());
        } else {
            // Its own process group: a Ctrl-C at the terminal reaches only
            // xtask, whose handler stops the QEMUs; none of them must see the
            // signal first and exit 0 as if halted.
            cmd.stdin(if b.input.is_some() { Stdio::piped() } else { Stdio::null() }).stderr(Stdio::piped()).process_group(0);
        }
        // SAFETY: prctl is async-signal-safe and touches only the child's
        // own state between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                // The child dies with the thread that started it, whatever
                // ends xtask (even SIGKILL, which no handler sees).
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        ctx.show(&cmd);
        let log = File::create(b.log).with_context(|| format!("cannot create {}", b.log.display()))?;
        let start = Instant::now();
        let mut child = cmd.spawn().with_context(|| format!("cannot start {}", self.qemu.display()))?;
        let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
        if let (Some(stdin), Some(input)) = (child.stdin.take(), b.input) {
            let log = b.log.to_path_buf();
            thread::spawn(move || type_when_shown(stdin, &log, input));
        }
        let guard = Guard::new(child)?;
        let tee = b.console;
        let out = stdout.map(|s| thread::spawn(move || pump(s, Some(log), tee)));
        let err = stderr.map(|s| thread::spawn(move || pump(s, None, false)));

        let mut saved = false;
        let exit = loop {
            if let Some(st) = guard.try_wait().context("cannot wait for QEMU")? {
                break exit_of(st);
            }
            if let (Some(dest), false) = (b.save_image, saved) {
                let text = std::fs::read(b.log).map(|t| String::from_utf8_lossy(&t).replace('\r', "")).unwrap_or_default();
                if text.lines().any(|l| l == "halted") {
                    saved = true;
                    save_ramdisk(ctx, &qmp_socket(b.log), &text, if b.user_image.is_some() { "rd1" } else { "rd0" }, dest)?;
                }
            }
            if b.timeout.is_some_and(|t| start.elapsed() >= t) {
                guard.terminate();
                break Exit::Timeout;
            }
            thread::sleep(Duration::from_millis(10));
        };
        let wall = start.elapsed();
        drop(guard);
        if b.user_image.is_some() {
            // The blob is a copy of two images; only they are kept.
            let _ = std::fs::remove_file(b.log.with_extension("initrd"));
        }
        let output = join(out).with_context(|| format!("cannot read QEMU's output or write {}", b.log.display()))?;
        let stderr = join(err).context("cannot read QEMU's error output")?;
        Ok(BootResult { exit, output, stderr, wall })
    }
}

/// The QMP socket of a boot: beside its log.
fn qmp_socket(log: &Path) -> PathBuf {
    log.with_extension("qmp")
}

/// Where the kernel said ramdisk `unit` is: `rd0: ramdisk N bytes at
/// 0xADDR`.
fn ramdisk_range(text: &str, unit: &str) -> Option<(u64, u64)> {
    text.lines().find_map(|l| {
        let rest = l.strip_prefix(unit)?.strip_prefix(": ramdisk ")?;
        let (size, addr) = rest.split_once(" bytes at 0x")?;
        Some((u64::from_str_radix(addr.trim(), 16).ok()?, size.parse().ok()?))
    })
}

/// Stops the halted guest, has QEMU write the ramdisk's memory to `dest`
/// (QMP pmemsave), and quits QEMU (status 0).
fn save_ramdisk(ctx: &Ctx, sock: &Path, text: &str, unit: &str, dest: &Path) -> Result<()> {
    use std::io::{BufRead, BufReader};
    use std::os::unix::net::UnixStream;
    let (addr, size) = ramdisk_range(text, unit).with_context(|| format!("the kernel did not say where {unit} is"))?;
    let dest = std::path::absolute(dest).with_context(|| format!("bad path {}", dest.display()))?;
    let stream = UnixStream::connect(sock).with_context(|| format!("cannot connect to QMP at {}", sock.display()))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut w = stream;
    let mut line = String::new();
    reader.read_line(&mut line).context("no QMP greeting")?;
    let mut call = |cmd: String| -> Result<()> {
        if ctx.verbose {
            eprintln!("xtask: qmp {cmd}");
        }
        writeln!(w, "{cmd}")?;
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                bail!("QMP closed the connection after {cmd}");
            }
            if line.contains("\"return\"") {
                return Ok(());
            }
            if line.contains("\"error\"") {
                bail!("QMP refused {cmd}: {}", line.trim());
            }
        }
    };
    call(r#"{"execute":"qmp_capabilities"}"#.into())?;
    call(r#"{"execute":"stop"}"#.into())?;
    let file = serde_json::to_string(&dest.to_string_lossy())?;
    call(format!(r#"{{"execute":"pmemsave","arguments":{{"val":{addr},"size":{size},"filename":{file}}}}}"#))?;
    eprintln!("xtask: ramdisk ({size} bytes at {addr:#x}) saved to {}", dest.display());
    let _ = call(r#"{"execute":"quit"}"#.into());
    Ok(())
}

/// Waits until the serial log shows `input.0`, then writes `input.1` to
/// QEMU's stdin. Gives up quietly if QEMU exits first (the pipe closes).
fn type_when_shown(mut stdin: impl Write, log: &Path, input: (&str, &str)) {
    let (trigger, text) = input;
    for _ in 0..6000 {
        let shown = std::fs::read(log).is_ok_and(|b| String::from_utf8_lossy(&b).contains(trigger));
        if shown {
            let _ = stdin.write_all(text.as_bytes()).and_then(|_| stdin.flush());
            // Held open until QEMU is done: an EOF on stdin is not needed.
            thread::sleep(Duration::from_secs(600));
            return;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

fn exit_of(st: ExitStatus) -> Exit {
    match (st.code(), st.signal()) {
        (Some(c), _) => Exit::Code(c),
        (None, Some(s)) => Exit::Signal(s),
        (None, None) => Exit::Code(-1),
    }
}

/// Copies `src` to the end, into a buffer, the log and (tee) our stdout.
fn pump(mut src: impl Read, mut log: Option<File>, tee: bool) -> io::Result<Vec<u8>> {
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let chunk = &buf[..n];
        all.extend_from_slice(chunk);
        if let Some(f) = log.as_mut() {
            f.write_all(chunk)?;
        }
        if tee {
            let mut out = io::stdout().lock();
            out.write_all(chunk)?;
            out.flush()?;
        }
    }
    Ok(all)
}

fn join(h: Option<thread::JoinHandle<io::Result<Vec<u8>>>>) -> Result<Vec<u8>> {
    match h {
        None => Ok(Vec::new()),
        Some(h) => Ok(h.join().map_err(|_| anyhow::anyhow!("output reader thread panicked"))??),
    }
}

/// Runs `work` on every item, `jobs` at a time; `done` gets each result on
/// the calling thread as it comes in, with the item's index, and returns
/// whether to go on: once it says no, no new item is started (those running
/// finish and are still handed to `done`).
pub fn parallel<T: Send, R: Send>(items: Vec<T>, jobs: usize, work: impl Fn(T) -> R + Sync, mut done: impl FnMut(usize, R) -> bool) {
    let queue = Mutex::new(items.into_iter().enumerate());
    let (tx, rx) = mpsc::channel();
    thread::scope(|s| {
        for _ in 0..jobs.max(1) {
            let (tx, queue, work) = (tx.clone(), &queue, &work);
            s.spawn(move || {
                // Bind first: the queue lock must not be held while working.
                while let Some((i, item)) = {
                    let next = lock(queue).next();
                    next
                } {
                    if tx.send((i, work(item))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for (i, r) in rx {
            if !done(i, r) {
                lock(&queue).by_ref().for_each(drop);
            }
        }
    });
}

type Shared = Arc<Mutex<Child>>;

/// Every running QEMU, so the Ctrl-C handler can stop them; None once the
/// handler has run, so no new QEMU outlives xtask.
static CHILDREN: Mutex<Option<Vec<(u64, Shared)>>> = Mutex::new(Some(Vec::new()));
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking holder cannot leave a Child or the list half-updated.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Owns a QEMU process: stops and reaps it when dropped.
struct Guard {
    id: u64,
    child: Shared,
}

impl Guard {
    fn new(mut child: Child) -> Result<Self> {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let mut children = lock(&CHILDREN);
        let Some(list) = children.as_mut() else {
            drop(children);
            terminate(&mut child);
            anyhow::bail!("interrupted");
        };
        let child = Arc::new(Mutex::new(child));
        list.push((id, Arc::clone(&child)));
        Ok(Guard { id, child })
    }

    fn try_wait(&self) -> io::Result<Option<ExitStatus>> {
        lock(&self.child).try_wait()
    }

    fn terminate(&self) {
        terminate(&mut lock(&self.child));
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.terminate();
        if let Some(list) = lock(&CHILDREN).as_mut() {
            list.retain(|(id, _)| *id != self.id);
        }
    }
}

/// Stops `child` if it is still running and reaps it.
fn terminate(child: &mut Child) {
    if !matches!(child.try_wait(), Ok(None)) {
        return;
    }
    // SIGTERM first: QEMU then puts back the terminal it set to raw mode.
    // The pid cannot have been reused: the child is not reaped yet and only
    // this function (under the lock) or try_wait reaps it.
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(2) {
        if !matches!(child.try_wait(), Ok(None)) {
            return;
        }
        thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// On Ctrl-C, SIGTERM or SIGHUP (ctrlc's `termination`): stop every QEMU,
/// then exit 130 like a shell would. A SIGKILL no handler sees is covered
/// by each QEMU's PR_SET_PDEATHSIG.
pub fn install_interrupt_handler() -> Result<(), ctrlc::Error> {
    ctrlc::set_handler(|| {
        // Take the list out so no lock is held while waiting for children.
        let children = lock(&CHILDREN).take().unwrap_or_default();
        for (_, c) in children {
            terminate(&mut lock(&c));
        }
        eprintln!("\nxtask: interrupted");
        std::process::exit(130);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ramdisk_range_from_the_boot_line() {
        assert_eq!(ramdisk_range("x\nrd0: ramdisk 5528452 bytes at 0x1111000\n", "rd0"), Some((0x111_1000, 5_528_452)));
        assert_eq!(ramdisk_range("rd0: nothing\n", "rd0"), None);
        let two = "rd0: ramdisk 8192 bytes at 0x1111000\nrd1: ramdisk 4096 bytes at 0x1113000\n";
        assert_eq!(ramdisk_range(two, "rd1"), Some((0x111_3000, 4096)));
    }

    #[test]
    fn args_file() {
        let text = "# machine\n-M\nmac99\n\n  # indented comment\n-m\n256\n-append\nsome words here  \n";
        assert_eq!(parse_args_file(text), ["-M", "mac99", "-m", "256", "-append", "some words here"]);
        assert!(parse_args_file("# only comments\n\n").is_empty());
    }

    #[test]
    fn the_shipped_machine_file_parses() {
        let text = include_str!("../../qemu/mac99.args");
        let args = parse_args_file(text);
        assert!(args.windows(2).any(|w| w == ["-M", "mac99"]));
        assert!(args.iter().all(|a| !a.starts_with('#')));
    }

    #[test]
    fn seed_comes_first() {
        assert_eq!(append_line(7, ""), "seed=7");
        assert_eq!(append_line(1, "  test=all   halt=1 "), "seed=1 test=all halt=1");
    }

    #[test]
    fn parallel_runs_everything_once() {
        let mut seen = [0; 20];
        parallel(
            (0..20).collect(),
            3,
            |x: usize| x * 2,
            |i, r| {
                assert_eq!(r, i * 2);
                seen[i] += 1;
                true
            },
        );
        assert!(seen.iter().all(|&n| n == 1));
    }

    #[test]
    fn parallel_stops_starting_when_told() {
        let mut got = 0;
        parallel(
            (0..100).collect(),
            2,
            |x: usize| {
                thread::sleep(Duration::from_millis(5));
                x
            },
            |_, _| {
                got += 1;
                got < 5
            },
        );
        // The fifth result stops it; the few already taken then finish.
        assert!((5..=8).contains(&got), "{got}");
    }

    #[test]
    fn policy_is_appended() {
        assert_eq!(with_policy("test=all", Some(UvnPolicy::Fixed)), "test=all uvn.policy=fixed");
        assert_eq!(with_policy("", Some(UvnPolicy::Original)), "uvn.policy=original");
        assert_eq!(parse_policy("fixed-2"), Ok(UvnPolicy::Fixed2));
        assert!(parse_policy("fixed2").is_err_and(|e| e.contains("vget-diff")));
        assert_eq!(with_policy(" halt=1 ", None), "halt=1");
    }
}
