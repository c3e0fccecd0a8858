//! Loading a program (OpenBSD kern_exec.c, exec_elf.c): a static ELF's
//! headers read through the VFS (namei, VOP_READ), its segments mapped
//! from the program's vnode copy-on-write (a partial last page and a
//! misaligned segment read in), into a fresh address space with its
//! arguments on the stack.

use crate::arch::pmap::{USER_MAX, USER_MIN};
use crate::arch::trap::TrapFrame;
use crate::arch::vm_machdep;
use crate::kern::kern_exit::exit1;
use crate::kern::kern_kthread::kthread_create;
use crate::kern::kern_proc::sched_lock;
use crate::kern::vfs_lookup::namei_lookup;
use crate::kern::vfs_subr::{vrele, Vnode};
use crate::kern::vfs_vnops::{vn_rdwr, Uio};
use crate::printf;
use crate::sys::errno::Errno;
use crate::sys::syscalls::w_exitcode;
use crate::sys::vnode::VType;
use crate::uvm::uvm_extern::Prot;
use crate::uvm::uvm_map::{self, VmSpace};
use crate::uvm::uvm_page::{round_page, trunc_page, PAGE_SIZE};
use alloc::string::String;
use alloc::vec::Vec;
use kcore::elf::{Ehdr, Phdr, EHDR_SIZE, PHDR_SIZE, PT_LOAD};

/// The user stack: the top MiB of the user address space.
pub const USRSTACK: u32 = USER_MAX;
const MAXSSIZ: u32 = 1 << 20;

/// Where every process's stack lies, [lo, hi).
pub const fn stack_range() -> (u32, u32) {
    (USRSTACK - MAXSSIZ, USRSTACK)
}
/// Most bytes of argument strings execve accepts (OpenBSD's ARG_MAX,
/// sys/syslimits.h); past it, E2BIG.
pub const ARG_MAX: usize = 512 * 1024;

/// The argument strings of an exec, each with its NUL, one after another
/// in one buffer (as OpenBSD's sys_execve copies them into its NCARGS
/// area), and how many there are.
#[derive(Default)]
pub struct ExecArgs {
    bytes: Vec<u8>,
    argc: usize,
}

impl ExecArgs {
    /// Adds one string; ENOMEM if the heap has no room for it.
    pub fn push(&mut self, s: &[u8]) -> Result<(), Errno> {
        self.bytes.try_reserve(s.len() + 1).map_err(|_| Errno::ENOMEM)?;
        self.bytes.extend_from_slice(s);
        self.bytes.push(0);
        self.argc += 1;
        Ok(())
    }

    fn strings(&self) -> impl Iterator<Item = &[u8]> {
        self.bytes.split(|&b| b == 0).take(self.argc)
    }
}

const PF_X: u32 = 1;
const PF_W: u32 = 2;
const PF_R: u32 = 4;

/// MSR of user mode: problem state, translation, interrupts, recoverable.
pub const PSL_USER: u32 = 0xd032;

/// Reads `buf.len()` bytes of the program at `off`; a file too short for
/// what its headers say is not an executable.
fn read_at(vp: &'static Vnode, off: u64, buf: &mut [u8]) -> Result<(), Errno> {
    let want = buf.len();
    if vn_rdwr(vp, Uio::Read(buf), off)? != want {
        return Err(Errno::ENOEXEC);
    }
    Ok(())
}

/// How much of a segment one read brings in: the program is streamed into
/// the new address space, never held whole in the kernel heap.
const EXEC_CHUNK: usize = 16 * 1024;

/// Where a loaded program starts: pc, stack pointer, argc and argv.
pub struct UserEntry {
    pub pc: u32,
    pub sp: u32,
    pub argc: u32,
    pub argv: u32,
}

impl UserEntry {
    /// The trap frame that enters the program.
    pub fn trapframe(&self) -> TrapFrame {
        let mut fixreg = [0u32; 32];
        fixreg[1] = self.sp;
        fixreg[3] = self.argc;
        fixreg[4] = self.argv;
        TrapFrame { fixreg, lr: 0, cr: 0, xer: 0, ctr: 0, srr0: self.pc, srr1: PSL_USER, dar: 0, dsisr: 0, exc: 0 }
    }
}

/// Builds the address space of `path` run with `argv` (OpenBSD
/// exec_elf_makecmds + the stack set-up of sys_execve). Nothing of the
/// calling process is touched, so a failure leaves it as it was.
pub fn exec_image(path: &str, argv: &ExecArgs) -> Result<(VmSpace, UserEntry), Errno> {
    let vp = namei_lookup(path)?;
    // As OpenBSD's check_exec: a regular file with some execute bit (the
    // kernel runs everything as root, for whom any bit will do).
    let r = if vp.with(|v| v.v_type) != VType::VREG {
        Err(Errno::EACCES)
    } else {
        crate::kern::vfs_vops::VOP_GETATTR_MODE(vp).and_then(|mode| if mode & 0o111 == 0 { Err(Errno::EACCES) } else { exec_vnode(vp, argv) })
    };
    vrele(vp);
    r
}

fn exec_vnode(vp: &'static Vnode, argv: &ExecArgs) -> Result<(VmSpace, UserEntry), Errno> {
    let mut hdr = [0u8; EHDR_SIZE];
    read_at(vp, 0, &mut hdr)?;
    let eh = Ehdr::parse(&hdr).map_err(|_| Errno::ENOEXEC)?;
    // As exec_elf_makecmds: not a program open for writing.
    if vp.with(|v| v.v_writecount) != 0 {
        return Err(Errno::ETXTBSY);
    }
    let mut vs = VmSpace::new()?;
    let r = load_segments(&mut vs, vp, &eh).and_then(|_| setup_stack(&mut vs, argv));
    match r {
        Ok((sp, argc, argvp)) => {
            crate::diag::uvm_p0::race_count(crate::diag::uvm_p0::RaceCtr::Exec);
            Ok((vs, UserEntry { pc: eh.entry, sp, argc, argv: argvp }))
        }
        Err(e) => {
            vs.uvmspace_free();
            Err(e)
        }
    }
}

fn load_segments(vs: &mut VmSpace, vp: &'static Vnode, eh: &Ehdr) -> Result<(), Errno> {
    let mut entry_ok = false;
    // The kernel heap may be full (a G5 field boot panicked here): ENOMEM.
    let mut chunk = Vec::new();
    chunk.try_reserve_exact(EXEC_CHUNK).map_err(|_| Errno::ENOMEM)?;
    chunk.resize(EXEC_CHUNK, 0u8);
    for i in 0..eh.phnum as u64 {
        let mut b = [0u8; PHDR_SIZE];
        read_at(vp, eh.phoff as u64 + i * PHDR_SIZE as u64, &mut b)?;
        let ph = Phdr::parse(&b);
        if ph.ptype != PT_LOAD || ph.memsz == 0 {
            continue;
        }
        let end = ph.vaddr.checked_add(ph.memsz).ok_or(Errno::ENOEXEC)?;
        if ph.vaddr < USER_MIN || end > USRSTACK - MAXSSIZ || ph.filesz > ph.memsz {
            return Err(Errno::ENOEXEC);
        }
        let mut prot = Prot::NONE;
        if ph.flags & (PF_R | PF_X) != 0 {
            prot |= Prot::READ;
        }
        if ph.flags & PF_X != 0 {
            prot |= Prot::EXECUTE;
        }
        if ph.flags & PF_W != 0 {
            prot |= Prot::WRITE;
        }
        load_psection(vs, vp, &ph, prot, &mut chunk)?;
        entry_ok |= eh.entry >= ph.vaddr && eh.entry < end;
    }
    if entry_ok {
        Ok(())
    } else {
        Err(Errno::ENOEXEC)
    }
}

/// One PT_LOAD segment, as OpenBSD's exec_elf load_psection and its
/// vmcmds: the file's pages mapped from the vnode's object copy-on-write
/// (vmcmd_map_pagedvn, UVM_FLAG_COPYONW), so that a program's text is its
/// vnode's pages and its object persists when the program exits; a
/// writable segment's last partial page read in (vmcmd_map_readvn); the
/// rest zero-fill (vmcmd_map_zero). A segment whose file offset is not
/// congruent to its address is read in whole (readvn).
fn load_psection(vs: &mut VmSpace, vp: &'static Vnode, ph: &Phdr, prot: Prot, chunk: &mut [u8]) -> Result<(), Errno> {
    let start = trunc_page(ph.vaddr);
    let end = round_page((ph.vaddr + ph.memsz) as u64) as u32;
    let paged = ph.offset % PAGE_SIZE == ph.vaddr % PAGE_SIZE && ph.filesz > 0;
    let file_end = match (paged, prot.contains(Prot::WRITE)) {
        (false, _) => start,
        (true, true) => trunc_page(ph.vaddr + ph.filesz),
        (true, false) => round_page((ph.vaddr + ph.filesz) as u64) as u32,
    };
    if file_end > start {
        crate::uvm::uvm_vnode::uvn_attach(vp, false)?;
        let pgoff = (ph.offset - (ph.vaddr - start)) / PAGE_SIZE;
        if let Err(e) = vs.uvm_map_obj(start, file_end, prot, uvm_map::MapObj { vp, pgoff, shared: false }) {
            crate::uvm::uvm_vnode::uvn_detach(vp);
            return Err(if e == Errno::ENOMEM { e } else { Errno::ENOEXEC });
        }
    }
    if end > file_end {
        vs.uvm_map_anon(file_end, end, prot).map_err(|_| Errno::ENOEXEC)?;
        // The file's bytes in that part: a partial page, or all of it.
        let mut at = file_end.max(ph.vaddr);
        let stop = ph.vaddr + ph.filesz;
        while at < stop {
            let n = (stop - at).min(chunk.len() as u32) as usize;
            read_at(vp, (ph.offset + (at - ph.vaddr)) as u64, &mut chunk[..n])?;
            fill(vs, at, &chunk[..n])?;
            at += n as u32;
        }
    }
    Ok(())
}

/// uvm_fill into the new address space, waiting for free pages as a fault
/// would (OpenBSD's exec writes the arguments with copyout, whose faults
/// wait in uvm_fault): the pagedaemon takes programs' pages back, so an
/// exec under memory pressure meets no free page and must not fail for it.
fn fill(vs: &mut VmSpace, at: u32, data: &[u8]) -> Result<(), Errno> {
    let start = crate::kern::kern_clock::ticks();
    loop {
        match vs.uvm_fill(at, data) {
            Err(Errno::ENOMEM) if crate::kern::kern_clock::ticks().wrapping_sub(start) < EXEC_MEMWAIT_TICKS => crate::uvm::uvm_pdaemon::uvm_wait("execmem"),
            r => {
                crate::diag::deadlock::memwait_end();
                return r;
            }
        }
    }
}

/// How long an exec waits for a free page before ENOMEM (the fault path's
/// limit: doc/fidelity.md).
const EXEC_MEMWAIT_TICKS: u32 = 1000;

/// Puts the argument strings and the argv array at the top of a fresh
/// stack; returns (sp, argc, argv). ENOMEM, as OpenBSD's check against
/// the stack's size, if they would not leave a page of it.
fn setup_stack(vs: &mut VmSpace, argv: &ExecArgs) -> Result<(u32, u32, u32), Errno> {
    if argv.bytes.len() + 4 * (argv.argc + 1) + 64 > (MAXSSIZ - PAGE_SIZE) as usize {
        return Err(Errno::ENOMEM);
    }
    vs.uvm_map_anon(USRSTACK - MAXSSIZ, USRSTACK, Prot::RW)?;
    let mut at = USRSTACK;
    let mut ptrs = Vec::new();
    ptrs.try_reserve(argv.argc + 1).map_err(|_| Errno::ENOMEM)?;
    for a in argv.strings() {
        at -= a.len() as u32 + 1;
        fill(vs, at, a)?;
        fill(vs, at + a.len() as u32, &[0])?;
        ptrs.push(at);
    }
    ptrs.push(0);
    at &= !15;
    at -= 4 * ptrs.len() as u32;
    let argvp = at;
    for (i, p) in ptrs.iter().enumerate() {
        fill(vs, argvp + 4 * i as u32, &p.to_be_bytes())?;
    }
    // A terminal ABI frame: back chain 0, LR save 0.
    let sp = (argvp - 16) & !15;
    fill(vs, sp, &[0; 8])?;
    Ok((sp, argv.argc as u32, argvp))
}

/// Gives the running thread the new address space and name.
pub fn exec_install(path: &str, vs: VmSpace) {
    let pmap = vs.pmap;
    let name = path.rsplit('/').next().unwrap_or(path);
    let me = {
        let mut st = sched_lock();
        let p = st.cur();
        p.p_pmap = Some(pmap);
        p.p_comm = String::from(name);
        p.p_tid
    };
    crate::diag::vfs_hist::vh_comm(me, name);
    if let Some(old) = uvm_map::vmspace_replace(me, vs) {
        old.uvmspace_free();
    }
    crate::arch::pmap::pmap_activate(pmap);
}

/// Starts a user process running `path` as a child of the running thread
/// (the kernel's way to start /sbin/init and the user-mode tests).
pub fn proc_spawn(path: &str, argv: &[&str]) -> Option<u32> {
    let path = String::from(path);
    let mut args = ExecArgs::default();
    argv.iter().try_for_each(|a| args.push(a.as_bytes())).ok()?;
    let argv = args;
    let name = String::from(path.rsplit('/').next().unwrap_or(&path));
    kthread_create(&name, move || spawn_main(path, argv))
}

fn spawn_main(path: String, argv: ExecArgs) -> ! {
    let tf = match exec_image(&path, &argv) {
        Ok((vs, entry)) => {
            exec_install(&path, vs);
            entry.trapframe()
        }
        Err(e) => {
            printf!("exec {path}: {e}\n");
            drop((path, argv));
            exit1(w_exitcode(127, 0))
        }
    };
    drop((path, argv));
    // As init's thread once its execve worked (init_main.c:714@2ea167a2).
    crate::kern::kern_lock::KERNEL_UNLOCK();
    vm_machdep::cpu_enter_user(&tf)
}

/// The argument vector at `argv` copied in, as OpenBSD's sys_execve: in
/// the room left of ARG_MAX, a string that does not fit being E2BIG.
fn copyin_args(argv: u32) -> Result<ExecArgs, Errno> {
    let mut args = ExecArgs::default();
    loop {
        let mut w = [0u8; 4];
        uvm_map::copyin(argv.wrapping_add(4 * args.argc as u32), &mut w)?;
        let p = u32::from_be_bytes(w);
        if p == 0 {
            return Ok(args);
        }
        let left = ARG_MAX - args.bytes.len();
        let s = uvm_map::copyinstr(p, left).map_err(|e| if e == Errno::ENAMETOOLONG { Errno::E2BIG } else { e })?;
        args.push(&s)?;
    }
}

/// execve(2): the path and argument vector copied in, then the new image
/// in place of the old; the trap frame returns into it.
pub fn sys_execve(tf: &mut TrapFrame, path: u32, argv: u32) -> Result<u32, Errno> {
    let path = uvm_map::copyinstr(path, 1024)?;
    let args = copyin_args(argv)?;
    if args.argc == 0 {
        return Err(Errno::EINVAL);
    }
    let path = core::str::from_utf8(&path).map_err(|_| Errno::ENOENT)?;
    let (vs, entry) = exec_image(path, &args)?;
    exec_install(path, vs);
    *tf = entry.trapframe();
    Ok(entry.argc)
}
