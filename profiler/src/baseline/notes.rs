//! Why Docker keeps the significant syscalls from containers, and what each
//! would put at risk: the tool's own words, for reports.
//!
//! The list follows the syscalls Docker's documentation singles out as
//! significant, plus the newer ones with a record of kernel exploits
//! (io_uring, userfaultfd, bpf). A syscall not listed gets a generic note.

/// What the tool says about one syscall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Note {
    pub name: &'static str,
    /// Why Docker's default profile keeps it from containers.
    pub why_blocked: &'static str,
    /// What a program that may call it can do, in a few words.
    pub risk: &'static str,
    /// How dangerous it is to leave allowed: 3 most, 1 least.
    pub danger: u8,
}

const fn note(
    name: &'static str,
    danger: u8,
    why_blocked: &'static str,
    risk: &'static str,
) -> Note {
    Note {
        name,
        why_blocked,
        risk,
        danger,
    }
}

const KEYRING: &str = "the kernel keyring is shared by the whole host, not per container";
const TIME: &str = "the clock is shared by the whole host: no namespace isolates it";
const MODULES: &str = "loading or removing kernel code is the host's business alone";
const NUMA: &str = "it steers the host's memory placement, a privileged tuning knob";
const INSPECT: &str = "it reads or changes other processes' memory and state";
const NAMESPACES: &str =
    "new namespaces expose kernel code paths that unprivileged containers should not reach";

const NOTES: &[Note] = &[
    note(
        "acct",
        2,
        "process accounting is host-wide: a container could switch it off or fill a file with it",
        "turns host process accounting on or off",
    ),
    note(
        "add_key",
        2,
        KEYRING,
        "writes keys into the host-wide keyring",
    ),
    note(
        "keyctl",
        3,
        KEYRING,
        "reaches the host-wide keyring; a long history of kernel bugs",
    ),
    note(
        "request_key",
        2,
        KEYRING,
        "asks the host keyring (and its upcalls) for keys",
    ),
    note(
        "adjtimex",
        2,
        TIME,
        "can skew the host clock (with CAP_SYS_TIME)",
    ),
    note("clock_adjtime", 2, TIME, "can skew the host clock"),
    note("clock_settime", 2, TIME, "sets the host clock"),
    note("settimeofday", 2, TIME, "sets the host clock"),
    note("stime", 2, TIME, "sets the host clock"),
    note(
        "bpf",
        3,
        "eBPF programs and maps run in the kernel and can outlive the container",
        "loads code into the kernel; a common privilege-escalation route",
    ),
    note(
        "perf_event_open",
        3,
        "profiling and tracing can observe the whole host",
        "observes other processes and the kernel; frequent kernel bugs",
    ),
    note(
        "lookup_dcookie",
        2,
        "a profiling interface that can reveal host paths",
        "leaks host file information",
    ),
    note(
        "clone",
        2,
        NAMESPACES,
        "with namespace flags: creates namespaces (user namespaces reach root-only kernel code)",
    ),
    note(
        "unshare",
        3,
        NAMESPACES,
        "creates namespaces, incl. user namespaces: root-only kernel code within reach",
    ),
    note(
        "setns",
        3,
        "joining another namespace can cross the container's boundary",
        "joins other namespaces",
    ),
    note(
        "clone3",
        2,
        NAMESPACES,
        "can create namespaces; Docker answers ENOSYS so that libcs fall back to clone",
    ),
    note("create_module", 3, MODULES, "kernel module handling"),
    note("init_module", 3, MODULES, "loads code into the kernel"),
    note("finit_module", 3, MODULES, "loads code into the kernel"),
    note("delete_module", 3, MODULES, "removes kernel modules"),
    note("query_module", 2, MODULES, "inspects kernel modules"),
    note(
        "get_kernel_syms",
        2,
        "exported kernel symbols help an attacker locate the kernel",
        "reveals kernel addresses",
    ),
    note("get_mempolicy", 1, NUMA, "reads NUMA memory policy"),
    note("set_mempolicy", 1, NUMA, "changes NUMA memory policy"),
    note("mbind", 1, NUMA, "binds memory to NUMA nodes"),
    note(
        "move_pages",
        2,
        NUMA,
        "moves other processes' pages between NUMA nodes",
    ),
    note(
        "set_mempolicy_home_node",
        1,
        NUMA,
        "changes NUMA memory policy",
    ),
    note(
        "migrate_pages",
        2,
        NUMA,
        "moves other processes' pages between NUMA nodes",
    ),
    note(
        "ioperm",
        3,
        "direct hardware I/O port access bypasses the kernel",
        "touches hardware I/O ports",
    ),
    note(
        "iopl",
        3,
        "direct hardware I/O privilege bypasses the kernel",
        "raises the I/O privilege level",
    ),
    note(
        "kcmp",
        2,
        INSPECT,
        "compares other processes' kernel objects",
    ),
    note(
        "process_vm_readv",
        3,
        INSPECT,
        "reads other processes' memory",
    ),
    note(
        "process_vm_writev",
        3,
        INSPECT,
        "writes other processes' memory",
    ),
    note(
        "ptrace",
        3,
        INSPECT,
        "reads and writes other processes, can bypass their seccomp filters (before 4.8)",
    ),
    note(
        "pidfd_getfd",
        2,
        INSPECT,
        "steals file descriptors from other processes",
    ),
    note(
        "process_madvise",
        2,
        INSPECT,
        "advises on other processes' memory",
    ),
    note(
        "kexec_load",
        3,
        "booting another kernel is the host's decision",
        "replaces the running kernel",
    ),
    note(
        "kexec_file_load",
        3,
        "booting another kernel is the host's decision",
        "replaces the running kernel",
    ),
    note(
        "modify_ldt",
        2,
        "a legacy interface for 16-bit code with a record of information leaks",
        "legacy x86 segment tables; past kernel leaks",
    ),
    note(
        "mount",
        3,
        "mounting changes what the container sees of filesystems and can expose the host's",
        "mounts filesystems: escapes from a weakened container",
    ),
    note(
        "umount",
        2,
        "unmounting is a privileged filesystem operation",
        "removes mounts",
    ),
    note(
        "umount2",
        2,
        "unmounting is a privileged filesystem operation",
        "removes mounts",
    ),
    note(
        "pivot_root",
        2,
        "changing the root filesystem is a privileged operation",
        "changes the root filesystem",
    ),
    note(
        "fsopen",
        3,
        "the new mount API: the same powers as mount",
        "mounts filesystems",
    ),
    note(
        "fsmount",
        3,
        "the new mount API: the same powers as mount",
        "mounts filesystems",
    ),
    note(
        "fsconfig",
        3,
        "the new mount API: the same powers as mount",
        "configures filesystems to mount",
    ),
    note(
        "fspick",
        3,
        "the new mount API: the same powers as mount",
        "reconfigures mounts",
    ),
    note(
        "move_mount",
        3,
        "the new mount API: the same powers as mount",
        "moves mounts",
    ),
    note(
        "open_tree",
        2,
        "the new mount API: the same powers as mount",
        "clones mount trees",
    ),
    note(
        "mount_setattr",
        2,
        "the new mount API: the same powers as mount",
        "changes mount flags",
    ),
    note(
        "name_to_handle_at",
        2,
        "file handles open files by number, around path permissions",
        "turns paths into file handles",
    ),
    note(
        "open_by_handle_at",
        3,
        "file handles open files by number, around path checks: the route of a known container breakout",
        "opens host files by handle (the 'shocker' breakout)",
    ),
    note(
        "nfsservctl",
        1,
        "talks to the kernel NFS server, a host service",
        "controls the kernel NFS server",
    ),
    note(
        "personality",
        1,
        "other execution domains are rarely used and little tested in the kernel",
        "switches to little-tested execution domains",
    ),
    note(
        "quotactl",
        2,
        "disk quotas are host-wide",
        "changes disk quotas",
    ),
    note(
        "quotactl_fd",
        2,
        "disk quotas are host-wide",
        "changes disk quotas",
    ),
    note(
        "reboot",
        3,
        "only the host may reboot the host",
        "reboots the host (or the pid namespace)",
    ),
    note("swapon", 2, "swap is host-wide", "adds swap space"),
    note("swapoff", 2, "swap is host-wide", "removes swap space"),
    note(
        "sysfs",
        1,
        "an obsolete interface",
        "obsolete filesystem-type queries",
    ),
    note(
        "_sysctl",
        1,
        "an obsolete interface, replaced by /proc/sys",
        "changes kernel parameters",
    ),
    note(
        "uselib",
        1,
        "an obsolete way of loading libraries",
        "obsolete library loader",
    ),
    note(
        "userfaultfd",
        3,
        "user-space page fault handling makes kernel race conditions easy to win",
        "stalls kernel memory accesses: a staple of kernel exploits",
    ),
    note(
        "ustat",
        1,
        "an obsolete interface",
        "obsolete filesystem statistics",
    ),
    note(
        "vm86",
        2,
        "an in-kernel virtual machine for real-mode x86 code",
        "legacy x86 virtual-8086 mode",
    ),
    note(
        "vm86old",
        2,
        "an in-kernel virtual machine for real-mode x86 code",
        "legacy x86 virtual-8086 mode",
    ),
    note(
        "syslog",
        2,
        "the kernel log can reveal host addresses and activity",
        "reads or clears the kernel log",
    ),
    note(
        "vhangup",
        1,
        "hanging up the terminal is a privileged operation",
        "hangs up the terminal",
    ),
    note(
        "chroot",
        1,
        "changing root is reserved for CAP_SYS_CHROOT",
        "changes the root directory",
    ),
    note(
        "fanotify_init",
        2,
        "filesystem-wide event monitoring sees other processes' file access",
        "watches file access across mounts",
    ),
    note(
        "io_uring_setup",
        3,
        "",
        "a second syscall interface around seccomp; many kernel exploits",
    ),
    note(
        "io_uring_enter",
        3,
        "",
        "a second syscall interface around seccomp; many kernel exploits",
    ),
    note(
        "io_uring_register",
        3,
        "",
        "a second syscall interface around seccomp; many kernel exploits",
    ),
    note(
        "memfd_secret",
        1,
        "",
        "memory hidden from the kernel's own direct map",
    ),
    note(
        "seccomp",
        1,
        "",
        "installs further filters (harmless: filters only restrict)",
    ),
    note(
        "sethostname",
        1,
        "",
        "renames the container's UTS namespace",
    ),
    note(
        "setdomainname",
        1,
        "",
        "renames the container's UTS namespace",
    ),
    note("mknod", 1, "", "creates device nodes (with CAP_MKNOD)"),
    note("mknodat", 1, "", "creates device nodes (with CAP_MKNOD)"),
    note(
        "landlock_create_ruleset",
        1,
        "",
        "restricts the caller's own file access",
    ),
    note(
        "execveat",
        1,
        "",
        "runs programs from file descriptors (fileless execution)",
    ),
    note(
        "memfd_create",
        1,
        "",
        "anonymous executable memory files (fileless execution)",
    ),
    note(
        "mprotect",
        1,
        "",
        "makes memory executable (code injection needs it)",
    ),
];

/// The syscalls `record --include reachable` leaves out unless the run
/// made them (or `--include-risky` names them), even where the default
/// allows them: each gives a program that was compromised on a path the
/// run never took a reach no untested path should get for free. Docker's
/// default allows some of them outright (ptrace and process_vm_* on kernels
/// from 4.8, since ptrace no longer gets around seccomp there), and others
/// with a capability or in other engines' defaults, which
/// `--include reachable` may be set against.
pub(crate) const WITHHELD_FROM_REACHABLE: &[&str] = &[
    // Other processes' memory, state and descriptors (the same user's:
    // within a container, every process of it).
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "process_madvise",
    "kcmp",
    "pidfd_getfd",
    // Execution domains: READ_IMPLIES_EXEC makes every readable mapping
    // executable; the other domains are little tested in the kernel.
    "personality",
    // The kernel keyring, shared by the whole host.
    "keyctl",
    "add_key",
    "request_key",
    // Code run by the kernel, the whole host's events, and the staple of
    // kernel race exploits.
    "bpf",
    "perf_event_open",
    "userfaultfd",
    // A second syscall interface: what is submitted through a ring (open,
    // read, connect, ...) never passes the seccomp filter, so allowing the
    // ring allows its operations whatever the profile says of them
    // (Docker 20.10's built-in default and podman's allow it).
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    // Files opened by handle, around path checks (the "shocker" breakout;
    // Docker allows it with CAP_DAC_READ_SEARCH).
    "open_by_handle_at",
];

/// Whether `--include reachable` leaves `name` out unless the run made it
/// ([`WITHHELD_FROM_REACHABLE`]).
pub(crate) fn withheld_from_reachable(name: &str) -> bool {
    WITHHELD_FROM_REACHABLE.contains(&name)
}

/// The note for `name`, if it is a syscall the tool has something to say
/// about.
pub(crate) fn note_for(name: &str) -> Option<&'static Note> {
    NOTES.iter().find(|n| n.name == name)
}

/// The risk note for `name`: the tool's own, or a generic one.
pub(crate) fn risk(name: &str) -> &'static str {
    note_for(name).map_or("no particular risk known to this tool", |n| n.risk)
}

/// Why Docker denies `name`: the tool's own words, or a generic reason.
pub(crate) fn why_docker_blocks(name: &str) -> &'static str {
    match note_for(name) {
        Some(note) if !note.why_blocked.is_empty() => note.why_blocked,
        _ => "not on Docker's allow-list: a syscall most containers never need",
    }
}

/// How dangerous `name` is to leave allowed (0 for syscalls without a note).
pub(crate) fn danger(name: &str) -> u8 {
    note_for(name).map_or(0, |n| n.danger)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_are_unique_and_name_real_syscalls() {
        let mut seen = std::collections::BTreeSet::new();
        for note in NOTES {
            assert!(seen.insert(note.name), "{} twice", note.name);
            assert!((1..=3).contains(&note.danger), "{}", note.name);
            assert!(!note.risk.is_empty(), "{}", note.name);
            let known = [
                crate::profile::Arch::X86_64,
                crate::profile::Arch::X86,
                crate::profile::Arch::Aarch64,
                crate::profile::Arch::Arm,
            ]
            .into_iter()
            .any(|arch| crate::profile::table::knows(arch, note.name) == Some(true));
            // Syscalls removed from the kernel's tables long ago.
            let historic = [
                "create_module",
                "get_kernel_syms",
                "query_module",
                "nfsservctl",
                "_sysctl",
            ];
            assert!(known || historic.contains(&note.name), "{}", note.name);
        }
    }

    #[test]
    fn every_withheld_syscall_has_a_note_to_say_why() {
        let mut seen = std::collections::BTreeSet::new();
        for name in WITHHELD_FROM_REACHABLE {
            assert!(seen.insert(name), "{name} twice");
            assert!(note_for(name).is_some(), "{name} has no note");
        }
    }
}
