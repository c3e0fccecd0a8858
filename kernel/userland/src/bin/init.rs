//! /sbin/init: the first user process. Runs a short demo of processes
//! (fork, exec, wait, two CPU-bound processes sharing the CPU), then halts
//! the machine.
#![no_std]
#![no_main]

use userland::{execve, exit, fork, fmt_u64, getpid, println, reboot, uptime_ms, wait4, wexitstatus, Args, RB_HALT};

fn spawn(path: &[u8], argv: &[&[u8]]) -> u32 {
    match fork() {
        Ok(0) => {
            let e = execve(path, argv);
            println!("init: exec {} failed: errno {e}", core::str::from_utf8(path).unwrap_or("?"));
            exit(127)
        }
        Ok(pid) => pid,
        Err(e) => {
            println!("init: fork failed: errno {e}");
            0
        }
    }
}

fn main(_: Args) -> i32 {
    println!("init: pid {}, ppcbsd user mode", getpid());
    let pid = spawn(b"/bin/hello\0", &[b"hello\0", b"from\0", b"init\0"]);
    if let Ok((p, st)) = wait4(pid as i32) {
        println!("init: pid {p} exited with status {}", wexitstatus(st));
    }
    let mut buf = [0u8; 24];
    let deadline = fmt_u64(&mut buf, uptime_ms() + 600);
    println!("init: two CPU-bound processes until the same deadline");
    let a = spawn(b"/bin/hog\0", &[b"hog\0", b"A\0", deadline]);
    let b = spawn(b"/bin/hog\0", &[b"hog\0", b"B\0", deadline]);
    for _ in [a, b] {
        if let Ok((p, st)) = wait4(-1) {
            println!("init: pid {p} exited with status {}", wexitstatus(st));
        }
    }
    println!("init: demo done; halting");
    reboot(RB_HALT)
}

userland::entry!(main);
