//! Taking the MMU over from Open Firmware. On the G4, BATs map RAM and the
//! I/O space 1:1 for the kernel (supervisor only); the hashed page table
//! and the segment registers are the pmap's (`pmap_bootstrap`). The 970 has
//! no BATs: there the pmap's table takes over at once, from real mode, with
//! the kernel image wired and the rest of RAM and the devices spilled on
//! demand (`pmap_bootstrap_nobat`).

use core::arch::asm;

/// 256 MiB block, valid in supervisor mode (BL = 0x7ff, Vs).
const BAT_256M_VS: u32 = 0x0000_1ffe;
/// Read/write, cacheable, coherent.
const BAT_PP_RW: u32 = 0x2;
const BAT_M: u32 = 0x10;
/// Cache-inhibited and guarded (WIMG = 0101): device registers.
const BAT_IO: u32 = 0x28;
pub const IO_BASE: u32 = 0x8000_0000;

/// The MMU and the trap vectors, first thing at boot. `image_end`: the
/// end of the kernel's loaded image and .bss; `ram_end`: of RAM; `table`:
/// the page table's memory (`pmap_steal_ptable`).
pub fn bootstrap(image_end: u32, ram_end: u32, table: kcore::bootinfo::MemRange) {
    if super::cpu::ppc_proc_is_64b() {
        bootstrap_nobat(image_end, ram_end, table);
    } else {
        load_bats();
        super::trap::install_vectors();
    }
}

/// The 970: translation off while the vectors and the page table are put
/// in place (the kernel runs at its physical addresses, so nothing moves),
/// then on again under the kernel's own table. RAM past the first segment
/// is not mapped (segments 1–11 are the process's).
fn bootstrap_nobat(image_end: u32, ram_end: u32, table: kcore::bootinfo::MemRange) {
    use super::cpu::{mfmsr, mtmsr, Msr};
    // SAFETY: code, data and stack are at their physical addresses, so
    // turning translation off and on again moves nothing in use; no trap
    // can come meanwhile (interrupts are off, real mode does not fault).
    unsafe {
        mtmsr(mfmsr() - Msr::IR - Msr::DR);
        super::trap::install_vectors();
        super::pmap::pmap_bootstrap_nobat(image_end, ram_end.min(0x1000_0000), table);
        mtmsr(mfmsr() | Msr::IR | Msr::DR);
    }
}

/// Where the kernel reaches a device register at physical `pa`: the same
/// address under the G4's BAT, segment 15 on the 970.
pub fn iomap(pa: u32) -> u32 {
    if super::cpu::ppc_proc_is_64b() && (IO_BASE..IO_BASE + 0x1000_0000).contains(&pa) {
        pa - IO_BASE + super::pmap::IO_VA_970
    } else {
        pa
    }
}

/// Loads the BATs. Runs once, first thing, while RAM is still mapped 1:1
/// by Open Firmware's page table, so nothing in use moves.
fn load_bats() {
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
