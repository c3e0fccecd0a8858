//! Taking the MMU over from Open Firmware: BATs map RAM and the I/O space
//! 1:1, and an empty hashed page table of our own replaces OF's, so any
//! address outside the BATs faults instead of reaching firmware mappings.

use core::arch::asm;

/// 256 MiB block, valid in supervisor mode (BL = 0x7ff, Vs).
const BAT_256M_VS: u32 = 0x0000_1ffe;
/// Read/write, cacheable.
const BAT_PP_RW: u32 = 0x2;
/// Cache-inhibited and guarded (WIMG = 0101): device registers.
const BAT_IO: u32 = 0x28;
pub const IO_BASE: u32 = 0x8000_0000;

/// The smallest hashed page table the architecture allows (64 KiB, 1024 PTEGs).
#[repr(C, align(65536))]
struct Htab([u8; 65536]);

static mut HTAB: Htab = Htab([0; 65536]);

/// Loads the BATs, an empty page table and fresh segment registers.
/// Runs once, early, while RAM is still identity-mapped by OF.
pub fn bootstrap() {
    // SAFETY: the new BAT0 maps RAM exactly as OF's page table did (1:1), so
    // the code and stack in use keep their addresses while the switch
    // happens; HTAB is zeroed .bss that nothing else references.
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
            ram_l = in(reg) BAT_PP_RW,
            io_u = in(reg) IO_BASE | BAT_256M_VS,
            io_l = in(reg) IO_BASE | BAT_IO | BAT_PP_RW,
        );
        let htab = core::ptr::addr_of!(HTAB) as u32;
        // SDR1: HTABORG | HTABMASK 0 (64 KiB).
        asm!("sync", "mtspr 25, {0}", "isync", in(reg) htab);
        for sr in 0..16u32 {
            // VSID = segment number, Ks/Kp = 0: kernel-only for now.
            asm!("mtsrin {0}, {1}", in(reg) sr, in(reg) sr << 28);
        }
        // Flush every TLB congruence class of OF's translations.
        let mut ea = 0u32;
        while ea < 0x0004_0000 {
            asm!("tlbie {0}", in(reg) ea);
            ea += 0x1000;
        }
        asm!("sync", "tlbsync", "sync", "isync");
    }
}
