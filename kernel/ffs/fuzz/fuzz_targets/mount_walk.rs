//! `cargo fuzz run mount_walk`: mount arbitrary bytes and walk the tree,
//! reading every file; any panic is a bug in the reader.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(fs) = ffs::Fs::mount(data) else { return };
    let mut stack = vec![ffs::ROOTINO];
    let mut budget = 256;
    while let Some(ino) = stack.pop() {
        budget -= 1;
        if budget == 0 {
            break;
        }
        let Ok(ip) = fs.inode(ino) else { continue };
        if ip.is_dir() {
            let _ = fs.readdir(&ip, &mut |e| {
                if e.name != b"." && e.name != b".." {
                    stack.push(e.ino);
                }
                true
            });
        } else {
            let mut buf = [0u8; 4096];
            let mut off = 0;
            while off < 1 << 20 {
                match fs.read(&ip, off, &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => off += n as u64,
                }
            }
        }
    }
    let _ = fs.lookup("/bsd");
});
