//! Types the VM system shares with the rest of the kernel and the machine
//! layer (OpenBSD uvm/uvm_extern.h), and the boot-time configuration of
//! the vnode pager: its policy and the mmap hack.

use kcore::bootargs::UvnPolicy;

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

/// The vnode pager's policy and OpenBSD's mmap hack (`uvm.mmap_uncache=`,
/// on by default: shared-writable objects do not persist), set once at
/// boot from the boot arguments.
struct UvmConfig {
    policy: UvnPolicy,
    mmap_uncache: bool,
}

static UVM_CONFIG: spin::Once<UvmConfig> = spin::Once::new();

/// Before it is set (early self-tests), OpenBSD's defaults: 1.131's fix
/// and the mmap hack on.
const UVM_CONFIG_DEFAULT: UvmConfig = UvmConfig { policy: UvnPolicy::DEFAULT, mmap_uncache: true };

fn uvm_config() -> &'static UvmConfig {
    UVM_CONFIG.get().unwrap_or(&UVM_CONFIG_DEFAULT)
}

/// Sets the policy and the mmap hack, once (init_main).
pub fn uvm_config_init(policy: UvnPolicy, mmap_uncache: bool) {
    let set = UVM_CONFIG.call_once(|| UvmConfig { policy, mmap_uncache });
    assert!(set.policy == policy && set.mmap_uncache == mmap_uncache, "uvm_config_init: set twice, differently");
}

pub fn uvm_mmap_uncache() -> bool {
    uvm_config().mmap_uncache
}

pub fn uvn_policy() -> UvnPolicy {
    uvm_config().policy
}
