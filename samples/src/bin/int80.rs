//! `int80` (x86_64 only): a 64-bit process that makes two syscalls through
//! the 32-bit entry point (`int $0x80`), where numbers mean what they mean in
//! the i386 table: 20 is getpid there (writev in x86_64's), 64 is getppid
//! there (semget in x86_64's). A recorder that reads the number without its
//! table would put writev and semget in the profile.

#[cfg(target_arch = "x86_64")]
fn int80(nr: u32) -> i32 {
    let ret: i32;
    // SAFETY: getpid and getppid take no arguments and touch no memory;
    // int $0x80 clobbers nothing but eax (and r8-r11 are preserved by the
    // kernel on this path, but are declared clobbered to be safe).
    unsafe {
        std::arch::asm!(
            "int 0x80",
            inlateout("eax") nr => ret,
            out("r8") _, out("r9") _, out("r10") _, out("r11") _,
            options(nostack)
        );
    }
    ret
}

fn main() {
    #[cfg(target_arch = "x86_64")]
    {
        let pid = int80(20);
        let ppid = int80(64);
        println!("i386 getpid={pid} getppid={ppid}");
        if pid != std::process::id() as i32 {
            eprintln!("int $0x80 is not available (no IA32 emulation?): {pid}");
            std::process::exit(1);
        }
    }
}
