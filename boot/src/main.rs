#![no_std]
#![no_main]

core::arch::global_asm!(
    ".section .text.boot, \"ax\"",
    ".globl _start",
    "_start:",
    "lis 1, __stack_top@ha",
    "addi 1, 1, __stack_top@l",
    "li 0, 0",
    "stwu 0, -16(1)",
    "b boot_main",
);

#[no_mangle]
extern "C" fn boot_main(_a: u32, _b: u32, cif: extern "C" fn(*mut u32) -> i32) -> ! {
    let _ = cif;
    loop {}
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! { loop {} }
