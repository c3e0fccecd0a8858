//! Open Firmware client interface (IEEE 1275): the stub's only way to talk
//! to the machine before the kernel takes over.

use core::ffi::CStr;

type Entry = extern "C" fn(*mut u32) -> i32;

pub type Phandle = u32;
pub type Ihandle = u32;

/// OF returns -1 for "no such node/property/service".
const FAILED: u32 = u32::MAX;

#[derive(Clone, Copy)]
pub struct Ofw {
    entry: Entry,
    stdout: Ihandle,
}

impl Ofw {
    /// # Safety
    /// `entry` must be the client-interface entry OpenBIOS passed in r5.
    pub unsafe fn new(entry: usize) -> Ofw {
        // SAFETY: the caller vouches that `entry` is OF's client-interface entry point.
        let entry: Entry = unsafe { core::mem::transmute(entry) };
        let mut ofw = Ofw { entry, stdout: 0 };
        if let Some(chosen) = ofw.finddevice(c"/chosen") {
            ofw.stdout = ofw.getprop_u32(chosen, c"stdout").unwrap_or(0);
        }
        ofw
    }

    /// Calls service `name` with `args`, filling `rets`. None when OF does
    /// not know the service.
    fn call(&self, name: &CStr, args: &[u32], rets: &mut [u32]) -> Option<()> {
        let mut cell = [0u32; 16];
        let (na, nr) = (args.len(), rets.len());
        assert!(3 + na + nr <= cell.len());
        cell[0] = name.as_ptr() as u32;
        cell[1] = na as u32;
        cell[2] = nr as u32;
        cell[3..3 + na].copy_from_slice(args);
        if (self.entry)(cell.as_mut_ptr()) != 0 {
            return None;
        }
        rets.copy_from_slice(&cell[3 + na..3 + na + nr]);
        Some(())
    }

    fn call1(&self, name: &CStr, args: &[u32]) -> Option<u32> {
        let mut r = [0u32];
        self.call(name, args, &mut r)?;
        Some(r[0])
    }

    pub fn finddevice(&self, path: &CStr) -> Option<Phandle> {
        self.call1(c"finddevice", &[path.as_ptr() as u32]).filter(|&p| p != FAILED && p != 0)
    }

    pub fn child(&self, ph: Phandle) -> Option<Phandle> {
        self.call1(c"child", &[ph]).filter(|&p| p != FAILED && p != 0)
    }

    pub fn peer(&self, ph: Phandle) -> Option<Phandle> {
        self.call1(c"peer", &[ph]).filter(|&p| p != FAILED && p != 0)
    }

    /// Copies property `name` into `buf`; returns its full length (which may
    /// exceed `buf`).
    pub fn getprop(&self, ph: Phandle, name: &CStr, buf: &mut [u8]) -> Option<usize> {
        let args = [ph, name.as_ptr() as u32, buf.as_mut_ptr() as u32, buf.len() as u32];
        self.call1(c"getprop", &args).filter(|&n| n != FAILED).map(|n| n as usize)
    }

    pub fn getprop_u32(&self, ph: Phandle, name: &CStr) -> Option<u32> {
        let mut b = [0u8; 4];
        match self.getprop(ph, name, &mut b)? {
            4 => Some(u32::from_be_bytes(b)),
            _ => None,
        }
    }

    /// A property of 32-bit cells; returns how many cells were read.
    pub fn getprop_cells(&self, ph: Phandle, name: &CStr, cells: &mut [u32]) -> Option<usize> {
        let mut b = [0u8; 256];
        let n = self.getprop(ph, name, &mut b)?.min(b.len()) / 4;
        let n = n.min(cells.len());
        for (i, c) in cells.iter_mut().take(n).enumerate() {
            *c = u32::from_be_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]]);
        }
        Some(n)
    }

    pub fn write(&self, s: &[u8]) {
        if self.stdout != 0 {
            let _ = self.call1(c"write", &[self.stdout, s.as_ptr() as u32, s.len() as u32]);
        }
    }

    /// Runs a Forth command line (used for `power-off`).
    pub fn interpret(&self, cmd: &CStr) -> Option<()> {
        self.call1(c"interpret", &[cmd.as_ptr() as u32]).map(|_| ())
    }

    /// Asks OF to mark physical memory as used (virt == phys).
    pub fn claim(&self, addr: u32, size: u32) -> Option<u32> {
        self.call1(c"claim", &[addr, size, 0]).filter(|&a| a != FAILED)
    }
}
