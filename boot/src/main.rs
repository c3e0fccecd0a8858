//! ppcbsd's Open Firmware client program (OpenBSD's ofwboot): learns the
//! machine through the client interface, loads `/bsd` and its symbols from
//! the FFS ramdisk QEMU passed with `-initrd`, and jumps to the kernel with a
//! boot-info record.
#![no_std]
#![no_main]
#![forbid(unsafe_op_in_unsafe_fn)]
// BootError carries its message in a fixed buffer: the stub has no heap.
#![allow(clippy::result_large_err)]

mod loadfile;
mod ofw;

use core::fmt::{self, Write};
use kcore::bootinfo::{BootInfo, MemRange, Usage};
use ofw::Ofw;

// OpenBIOS jumps to the first byte of the image with r3/r4 = initrd
// address/size and r5 = the client-interface entry; .bss is ours to zero.
core::arch::global_asm!(
    ".section .text.boot, \"ax\"",
    ".globl _start",
    "_start:",
    "lis 1, __stack_top@ha",
    "addi 1, 1, __stack_top@l",
    "li 0, 0",
    "stwu 0, -16(1)",
    "lis 6, __bss_start@ha",
    "addi 6, 6, __bss_start@l",
    "lis 7, __bss_end@ha",
    "addi 7, 7, __bss_end@l",
    "1: cmplw 6, 7",
    "bge 2f",
    "stw 0, 0(6)",
    "addi 6, 6, 4",
    "b 1b",
    "2: b boot_main",
);

extern "C" {
    static __boot_end: u8;
}

/// Console output through Open Firmware, with the CR a serial line needs.
pub struct Con<'a>(pub &'a Ofw);

impl Write for Con<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for (i, line) in s.split('\n').enumerate() {
            if i > 0 {
                self.0.write(b"\r\n");
            }
            self.0.write(line.as_bytes());
        }
        Ok(())
    }
}

macro_rules! say {
    ($o:expr, $($arg:tt)*) => {{
        let _ = writeln!($crate::Con($o), $($arg)*);
    }};
}
pub(crate) use say;

/// Why the boot cannot go on; printed as `boot: error: …`.
pub struct BootError {
    buf: [u8; 200],
    len: usize,
}

impl BootError {
    pub fn new(args: fmt::Arguments<'_>) -> BootError {
        let mut e = BootError { buf: [0; 200], len: 0 };
        let _ = e.write_fmt(args);
        e
    }

    fn as_str(&self) -> &str {
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("?")
    }
}

impl Write for BootError {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

macro_rules! err {
    ($($arg:tt)*) => { $crate::BootError::new(format_args!($($arg)*)) };
}
pub(crate) use err;

/// Kept for the panic handler, which has no other way to reach the console.
static mut OFW: Option<Ofw> = None;

static mut BOOTINFO: BootInfo = BootInfo::empty();

fn mftb() -> u32 {
    let tb: u32;
    // SAFETY: reading the time base has no side effects.
    unsafe { core::arch::asm!("mftb {0}", out(reg) tb) };
    tb
}

#[no_mangle]
extern "C" fn boot_main(initrd: u32, initrd_size: u32, cif: usize) -> ! {
    let tb0 = mftb();
    // SAFETY: OpenBIOS passed its client-interface entry in r5.
    let o = unsafe { Ofw::new(cif) };
    // SAFETY: single-threaded; set once before anything can panic.
    unsafe { OFW = Some(o) };
    say!(&o, "\n>> ppcbsd boot");
    // SAFETY: the stub is single-threaded and this is the only reference.
    let bi = unsafe { &mut *core::ptr::addr_of_mut!(BOOTINFO) };
    bi.tb_stub_entry = tb0;
    match boot(&o, bi, initrd, initrd_size) {
        Ok(entry) => {
            say!(&o, ">> jumping to kernel at {entry:#x}");
            bi.tb_kernel_entry = mftb();
            // SAFETY: `entry` is the e_entry of the kernel that was just
            // loaded, checked to lie inside one of its loaded segments.
            let k: extern "C" fn(*const BootInfo) -> ! = unsafe { core::mem::transmute(entry as usize) };
            k(bi)
        }
        Err(e) => fail(&o, bi, e),
    }
}

fn boot(o: &Ofw, bi: &mut BootInfo, initrd: u32, initrd_size: u32) -> Result<u32, BootError> {
    probe_machine(o, bi)?;
    say!(o, ">> bootargs \"{}\"", bi.bootargs());
    // Only the address of this linker-script symbol is used.
    let boot_end = core::ptr::addr_of!(__boot_end) as u32;
    bi.add_used(MemRange { start: 0x0100_0000, size: boot_end - 0x0100_0000 }, Usage::BootStub);
    if initrd_size == 0 {
        return Err(err!("no ramdisk: start QEMU with -initrd <ffs image>"));
    }
    let rd = MemRange { start: initrd, size: initrd_size };
    bi.ramdisk = rd;
    bi.add_used(rd, Usage::Ramdisk);
    say!(o, ">> ramdisk at {:#x}, {} bytes", initrd, initrd_size);
    // SAFETY: QEMU loaded the initrd at r3 with length r4 and nothing else
    // lives there (it is marked used above, so the kernel will not overlap it).
    let image = unsafe { core::slice::from_raw_parts(initrd as *const u8, initrd_size as usize) };
    loadfile::load_kernel(o, bi, image)
}

/// Fills the boot-info record from the device tree.
fn probe_machine(o: &Ofw, bi: &mut BootInfo) -> Result<(), BootError> {
    let chosen = o.finddevice(c"/chosen").ok_or_else(|| err!("no /chosen node"))?;
    let mut args = [0u8; kcore::bootinfo::BOOTARGS_LEN];
    let args_len = o.getprop(chosen, c"bootargs", &mut args).map(|n| args[..n.min(args.len())].iter().position(|&b| b == 0).unwrap_or(n));

    let mem = o.finddevice(c"/memory").ok_or_else(|| err!("no /memory node"))?;
    let mut cells = [0u32; 32];
    let n = o.getprop_cells(mem, c"reg", &mut cells).unwrap_or(0);
    for pair in cells[..n].chunks_exact(2) {
        bi.add_memory(MemRange { start: pair[0], size: pair[1] });
    }
    if bi.nmem == 0 {
        return Err(err!("/memory has no reg property"));
    }
    // What OF does not list as available is the firmware's (or its vectors').
    let n = o.getprop_cells(mem, c"available", &mut cells).unwrap_or(0);
    let avail = &cells[..n];
    for m in 0..bi.nmem as usize {
        let bank = bi.mem[m];
        let mut at = bank.start as u64;
        let mut free: [(u64, u64); 16] = [(0, 0); 16];
        let mut nfree = 0;
        for pair in avail.chunks_exact(2) {
            if nfree < free.len() {
                free[nfree] = (pair[0] as u64, pair[0] as u64 + pair[1] as u64);
                nfree += 1;
            }
        }
        free[..nfree].sort_unstable();
        for &(s, e) in &free[..nfree] {
            if s > at && s <= bank.end() {
                bi.add_used(MemRange { start: at as u32, size: (s - at) as u32 }, Usage::Firmware);
            }
            at = at.max(e);
        }
        if at < bank.end() {
            bi.add_used(MemRange { start: at as u32, size: (bank.end() - at) as u32 }, Usage::Firmware);
        }
    }

    bi.tbfreq = first_cpu(o).and_then(|cpu| o.getprop_u32(cpu, c"timebase-frequency")).ok_or_else(|| err!("no timebase-frequency on the cpu node"))?;

    let macio = o.finddevice(c"mac-io").ok_or_else(|| err!("no mac-io node"))?;
    let n = o.getprop_cells(macio, c"assigned-addresses", &mut cells).unwrap_or(0);
    if n < 5 {
        return Err(err!("mac-io has no assigned-addresses"));
    }
    bi.macio_base = cells[2];
    let reg = |path: &'static core::ffi::CStr, i: usize| -> Result<u32, BootError> {
        let mut c = [0u32; 16];
        let name = path.to_str().unwrap_or("?");
        let ph = o.finddevice(path).ok_or_else(|| err!("device {name} not found"))?;
        match o.getprop_cells(ph, c"reg", &mut c) {
            Some(n) if n > 2 * i => Ok(c[2 * i]),
            _ => Err(err!("{name} has no reg property")),
        }
    };
    bi.escc_ctrl = bi.macio_base + reg(c"mac-io/escc/ch-a", 0)?;
    bi.escc_data = bi.macio_base + reg(c"mac-io/escc/ch-a", 1)?;
    bi.cuda = bi.macio_base + reg(c"mac-io/via-cuda", 0)?;
    bi.openpic = bi.macio_base + reg(c"mac-io/interrupt-controller", 0)?;
    bi.pvpanic = find_pvpanic(o).unwrap_or(0);
    say!(
        o,
        ">> tbfreq {} macio {:#x} escc {:#x}/{:#x} cuda {:#x} openpic {:#x} pvpanic {:#x}",
        bi.tbfreq,
        bi.macio_base,
        bi.escc_ctrl,
        bi.escc_data,
        bi.cuda,
        bi.openpic,
        bi.pvpanic
    );
    // Checked last, so that the failure goes out through pvpanic (found
    // above). getprop says how long the property is even when the buffer
    // is shorter: a cut would run a different experiment than asked for.
    if let Some(len) = args_len {
        if len >= args.len() {
            return Err(err!("bootargs are {} bytes; at most {} fit", len, args.len() - 1));
        }
        bi.set_bootargs(&args[..len]);
    }
    Ok(())
}

fn first_cpu(o: &Ofw) -> Option<ofw::Phandle> {
    let cpus = o.finddevice(c"/cpus")?;
    let mut node = o.child(cpus);
    while let Some(ph) = node {
        let mut t = [0u8; 8];
        if o.getprop(ph, c"device_type", &mut t) == Some(4) && &t[..3] == b"cpu" {
            return Some(ph);
        }
        node = o.peer(ph);
    }
    None
}

/// The pvpanic-pci device (1b36:0011) on the PCI bus, by its BAR 0.
fn find_pvpanic(o: &Ofw) -> Option<u32> {
    let pci = o.finddevice(c"/pci")?;
    let mut node = o.child(pci);
    while let Some(ph) = node {
        if o.getprop_u32(ph, c"vendor-id") == Some(0x1b36) && o.getprop_u32(ph, c"device-id") == Some(0x11) {
            let mut c = [0u32; 5];
            if o.getprop_cells(ph, c"assigned-addresses", &mut c) == Some(5) {
                // OpenBIOS sizes BARs as at least 16 bytes and writes back the
                // low address bits it read while probing; for this 2-byte BAR
                // those are 0xe, and QEMU decodes the register there.
                return Some(c[2] + 0xe);
            }
        }
        node = o.peer(ph);
    }
    None
}

/// Prints the reason and stops the machine: through pvpanic when there is
/// one (QEMU exits with the "panicked" status), else OF's power-off.
fn fail(o: &Ofw, bi: &BootInfo, e: BootError) -> ! {
    say!(o, "boot: error: {}", e.as_str());
    say!(o, "boot: halted");
    if bi.pvpanic != 0 {
        // SAFETY: the address came from the pvpanic device's assigned BAR;
        // writing 1 there tells QEMU the guest panicked.
        unsafe { core::ptr::write_volatile(bi.pvpanic as *mut u8, 1) };
    }
    let _ = o.interpret(c"power-off");
    loop {
        core::hint::spin_loop();
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    // Only reachable through a bug in the stub itself; OF is still there to
    // print with.
    // SAFETY: single-threaded; OFW was set first thing and BOOTINFO is only read.
    let (o, bi) = unsafe { (*core::ptr::addr_of!(OFW), &*core::ptr::addr_of!(BOOTINFO)) };
    match o {
        Some(o) => fail(&o, bi, err!("stub bug: {info}")),
        None => loop {
            core::hint::spin_loop();
        },
    }
}
