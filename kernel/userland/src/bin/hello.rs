//! /bin/hello: prints its pid and arguments; exits with its argument count,
//! so a parent can tell that exec passed them.
#![no_std]
#![no_main]

use userland::{getpid, getppid, print, println, Args};

fn main(args: Args) -> i32 {
    print!("hello: pid {} (parent {}), argv:", getpid(), getppid());
    for i in 0..args.len() {
        print!(" {}", args.get(i).unwrap_or("?"));
    }
    println!();
    args.len() as i32
}

userland::entry!(main);
