//! Types the VM system shares with the rest of the kernel and the machine
//! layer (OpenBSD uvm/uvm_extern.h).

bitflags::bitflags! {
    /// vm_prot_t.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Prot: u32 {
        const READ = 1;
        const WRITE = 2;
        const EXECUTE = 4;
    }
}

impl Prot {
    pub const NONE: Prot = Prot::empty();
    pub const RW: Prot = Prot::READ.union(Prot::WRITE);
    pub const ALL: Prot = Prot::all();
}
