//! Zilog 8530 ESCC, channel A: the console. Output is polled; input arrives
//! by receive interrupt (OpenPIC source 0x25) into a ring that `cngetc`
//! drains.

use super::mmio::Mmio;
use crate::arch::intr::Ipl;
use crate::kern::kern_mutex::Mutex;
use core::sync::atomic::{AtomicU32, Ordering};
use spin::Once;

/// OpenPIC source of channel A (its `interrupts` property).
pub const ESCC_A_IRQ: usize = 0x25;

bitflags::bitflags! {
    /// Read register 0: buffer and line status.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Rr0: u8 {
        const RX_AVAIL = 0x01;
        const TX_EMPTY = 0x04;
    }

    /// Read register 3 (channel A only): interrupts pending.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Rr3: u8 {
        const A_RX = 0x20;
        const A_TX = 0x10;
        const A_EXT = 0x08;
    }

    /// Write register 1: interrupt enables.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Wr1: u8 {
        const TX_INT = 0x02;
        /// Receive interrupt on every character.
        const RX_ALL = 0x10;
    }
}

const WR0_RESET_TX_PENDING: u8 = 0x28;
const WR0_RESET_IUS: u8 = 0x38;
/// WR9: master interrupt enable.
const WR9_MIE: u8 = 0x08;

#[derive(Clone, Copy)]
struct Escc {
    ctrl: Mmio,
    data: Mmio,
}

impl Escc {
    fn read_reg(&self, r: u8) -> u8 {
        if r != 0 {
            self.ctrl.write8(0, r);
        }
        self.ctrl.read8(0)
    }

    fn write_reg(&self, r: u8, v: u8) {
        if r != 0 {
            self.ctrl.write8(0, r);
        }
        self.ctrl.write8(0, v);
    }

    fn putc(&self, c: u8) {
        while !Rr0::from_bits_retain(self.read_reg(0)).contains(Rr0::TX_EMPTY) {
            core::hint::spin_loop();
        }
        self.data.write8(0, c);
    }
}

static CONS: Once<Escc> = Once::new();
/// WR1 as last written (the chip cannot read it back).
static WR1: AtomicU32 = AtomicU32::new(0);
static TX_INTRS: AtomicU32 = AtomicU32::new(0);

struct Ring {
    buf: [u8; 256],
    head: usize,
    len: usize,
}

static RX: Mutex<Ring> = Mutex::new(Ipl::Tty, Ring { buf: [0; 256], head: 0, len: 0 });

pub fn cninit(ctrl: u32, data: u32) {
    // SAFETY: both addresses come from the ESCC channel A `reg` property in
    // the device tree and lie in the I/O space (mmu::iomap).
    CONS.call_once(|| unsafe { Escc { ctrl: Mmio::new(ctrl as usize), data: Mmio::new(data as usize) } });
}

/// Polled output of one byte, newline as CR LF. Safe from any context,
/// including a panic that interrupted another printf.
pub fn cnputc(c: u8) {
    if let Some(e) = CONS.get() {
        if c == b'\n' {
            e.putc(b'\r');
        }
        e.putc(c);
    }
}

fn set_wr1(bits: Wr1) {
    if let Some(e) = CONS.get() {
        WR1.store(bits.bits() as u32, Ordering::Relaxed);
        e.write_reg(1, bits.bits());
    }
}

/// Turns on the receive interrupt through the OpenPIC.
pub fn cnattach_intr() {
    let Some(e) = CONS.get() else { return };
    crate::arch::intr::intr_establish(ESCC_A_IRQ, Ipl::Tty, "escc0", esccintr);
    set_wr1(Wr1::RX_ALL);
    e.write_reg(9, WR9_MIE);
}

/// Transmit-empty interrupts on or off (used by the interrupt self-test).
pub fn set_tx_intr(on: bool) {
    let cur = Wr1::from_bits_retain(WR1.load(Ordering::Relaxed) as u8);
    set_wr1(if on { cur | Wr1::TX_INT } else { cur - Wr1::TX_INT });
}

pub fn tx_intr_count() -> u32 {
    TX_INTRS.load(Ordering::Relaxed)
}

fn esccintr() {
    let Some(e) = CONS.get() else { return };
    let pending = Rr3::from_bits_retain(e.read_reg(3));
    if pending.contains(Rr3::A_RX) {
        let mut rx = RX.lock();
        while Rr0::from_bits_retain(e.read_reg(0)).contains(Rr0::RX_AVAIL) {
            let c = e.data.read8(0);
            if rx.len < rx.buf.len() {
                let at = (rx.head + rx.len) % rx.buf.len();
                rx.buf[at] = c;
                rx.len += 1;
            }
        }
    }
    if pending.contains(Rr3::A_TX) {
        TX_INTRS.fetch_add(1, Ordering::Relaxed);
        e.write_reg(0, WR0_RESET_TX_PENDING);
    }
    e.write_reg(0, WR0_RESET_IUS);
}

/// The next received byte, if any (non-blocking).
pub fn cngetc() -> Option<u8> {
    let mut rx = RX.lock();
    if rx.len == 0 {
        return None;
    }
    let c = rx.buf[rx.head];
    rx.head = (rx.head + 1) % rx.buf.len();
    rx.len -= 1;
    Some(c)
}

/// Polled input for the debugger, which runs with interrupts off.
pub fn cngetc_poll() -> u8 {
    loop {
        if let Some(c) = cngetc() {
            return c;
        }
        if let Some(e) = CONS.get() {
            if Rr0::from_bits_retain(e.read_reg(0)).contains(Rr0::RX_AVAIL) {
                return e.data.read8(0);
            }
        }
        core::hint::spin_loop();
    }
}

/// Bytes received and not yet read.
pub fn input_pending() -> usize {
    RX.lock().len
}
