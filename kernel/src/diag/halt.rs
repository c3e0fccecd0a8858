//! The report printed at halt, once vfs_shutdown has synced and unmounted:
//! the profile, the pagedaemon's work, the race counters, the flight
//! recorder's count and the P0 detector's summary.

use crate::kern::subr_prf::Cons;

/// vfs_shutdown, the report, and the machine halted (OpenBSD's boot()
/// with RB_HALT, plus the report).
pub fn halt() -> ! {
    crate::kern::vfs_subr::vfs_shutdown();
    halt_report();
    crate::arch::machdep::boot_halt()
}

fn halt_report() {
    crate::kern::subr_prof::prof_report(&mut Cons);
    let e = crate::uvm::uvm_page::uvmexp();
    if e.pdrevs > 0 {
        crate::printf!(
            "uvm: pagedaemon: {} passes, {} pageouts, {} pages freed; free {}, active {}, inactive {}\n",
            e.pdrevs,
            e.pdpageouts,
            e.pdfreed,
            e.free,
            e.active,
            e.inactive
        );
    }
    crate::diag::uvm_p0::race_counters_print(&mut Cons);
    crate::diag::race_window::race_windows_print(&mut Cons);
    crate::kern::kern_sched::sched_pct_report(&mut Cons);
    if crate::diag::vfs_hist::vhist_on() {
        crate::printf!("vfs: flight recorder: {} events recorded\n", crate::diag::vfs_hist::vhist_recorded());
        crate::diag::uvm_p0::p0_report(&mut Cons);
    }
}
