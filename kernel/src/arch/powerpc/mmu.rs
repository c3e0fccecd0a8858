//! Taking the MMU over from Open Firmware: BATs map RAM and the I/O space
//! 1:1 for the kernel (supervisor only). The hashed page table and the
//! segment registers are the pmap's (`pmap_bootstrap`).

use core::arch::asm;

/// 256 MiB block, valid in supervisor mode (BL = 0x7ff, Vs).
const BAT_256M_VS: u32 = 0x0000_1ffe;
/// Read/write, cacheable, coherent.
const BAT_PP_RW: u32 = 0x2;
const BAT_M: u32 = 0x10;
/// Cache-inhibited and guarded (WIMG = 0101): device registers.
const BAT_IO: u32 = 0x28;
pub const IO_BASE: u32 = 0x8000_0000;

/// Loads the BATs. Runs once, first thing, while RAM is still mapped 1:1
/// by Open Firmware's page table, so nothing in use moves.
pub fn bootstrap() {
    // SAFETY: the new BAT0 maps RAM exactly as OF's page table did (1:1), so
    // the code and stack in use keep their addresses during the switch.
    unsafe {
        asm!(
            "isync",
            // Invalidate every BAT first so no stale OF block overlaps.
            "li {z}, 0",
            "mtspr 528, {z}", "mtspr 530, {z}", "mtspr 532, {z}", "mtspr 534, {z}",
            "mtspr 536, {z}", "mtspr 538, {z}", "mtspr 540, {z}", "mtspr 542, {z}",
            "isync",
            "mtspr 529, {ram_l}", "mtspr 528, {ram_u}",
            "mtspr 537, {ram_l}", "mtspr 536, {ram_u}",
            "mtspr 539, {io_l}", "mtspr 538, {io_u}",
            "isync",
            z = out(reg) _,
            ram_u = in(reg) BAT_256M_VS,
            ram_l = in(reg) BAT_M | BAT_PP_RW,
            io_u = in(reg) IO_BASE | BAT_256M_VS,
            io_l = in(reg) IO_BASE | BAT_IO | BAT_PP_RW,
        );
    }
}
