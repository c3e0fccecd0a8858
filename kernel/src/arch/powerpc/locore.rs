//! Kernel entry. The boot stub jumps here with r3 = the boot-info record,
//! translation on (Open Firmware's 1:1 mappings) and interrupts off.

core::arch::global_asm!(
    ".section .text.locore, \"ax\"",
    ".globl _start",
    ".type _start, @function",
    "_start:",
    // Zero .bss before anything (the boot stack included) lives there.
    "lis 4, __bss_start@ha",
    "addi 4, 4, __bss_start@l",
    "lis 5, __bss_end@ha",
    "addi 5, 5, __bss_end@l",
    "li 0, 0",
    "1: cmplw 4, 5",
    "bge 2f",
    "stw 0, 0(4)",
    "addi 4, 4, 4",
    "b 1b",
    "2:",
    "lis 1, boot_stack_top@ha",
    "addi 1, 1, boot_stack_top@l",
    // A terminal frame: back chain 0 and LR save 0 end every stack walk.
    "stwu 0, -16(1)",
    "stw 0, 4(1)",
    "bl main",
    "b .",

    ".section .bss.bootstack, \"aw\", @nobits",
    ".balign 16",
    ".globl boot_stack_bottom",
    "boot_stack_bottom:",
    ".space 65536",
    ".globl boot_stack_top",
    "boot_stack_top:",
);
