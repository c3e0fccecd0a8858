//! The machine's device configuration (OpenBSD arch/macppc/macppc/conf.c):
//! which driver sits at which block major number. This is the one place
//! outside the drivers that names them.

use crate::dev::rd;
use crate::sys::conf::Bdevsw;

/// rd's block major on macppc.
pub const RD_MAJOR: u32 = 17;

pub static BDEVSW: [Option<Bdevsw>; 18] = {
    let mut t = [const { None }; 18];
    t[RD_MAJOR as usize] = Some(Bdevsw { d_name: "rd", d_strategy: rd::rdstrategy, d_psize: rd::rdsize, d_contents: rd::rdcontents });
    t
};
