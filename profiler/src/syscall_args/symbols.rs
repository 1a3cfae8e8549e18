//! The symbolic names of argument values (`AF_INET`, `FIONREAD`,
//! `PR_SET_NAME`), for comments and reports. The values come from the
//! kernel's own headers as `linux-raw-sys` and `libc` carry them, and
//! `bpf`'s commands from aya's bindings; only the choice of which names
//! belong to which argument is written here.

use linux_raw_sys::{general, ioctl, net, netlink, prctl, ptrace};

/// `(value, "NAME")` pairs from a module of constants.
macro_rules! named {
    ($module:path: $($name:ident),* $(,)?) => {{
        use $module as m;
        &[$((m::$name as u64, stringify!($name))),*]
    }};
}

type Names = &'static [(u64, &'static str)];

/// Which names an argument's values have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Symbols {
    Family,
    SocketType,
    /// A socket's protocol: named for the inet and netlink families.
    Protocol,
    SockoptLevel,
    /// An option's name: named for the level before it.
    Sockopt,
    Personality,
    Ioctl,
    Prctl,
    Fcntl,
    Keyctl,
    Bpf,
    Ptrace,
    ArchPrctl,
    CloneFlags,
    Prot,
}

const FAMILIES: Names = named!(net: AF_UNSPEC, AF_UNIX, AF_INET, AF_AX25, AF_IPX, AF_APPLETALK,
    AF_NETROM, AF_BRIDGE, AF_ATMPVC, AF_X25, AF_INET6, AF_ROSE, AF_DECnet, AF_NETBEUI, AF_SECURITY,
    AF_KEY, AF_NETLINK, AF_PACKET, AF_ASH, AF_ECONET, AF_ATMSVC, AF_RDS, AF_SNA, AF_IRDA, AF_PPPOX,
    AF_WANPIPE, AF_LLC, AF_CAN, AF_TIPC, AF_BLUETOOTH, AF_IUCV, AF_RXRPC, AF_ISDN, AF_PHONET,
    AF_IEEE802154, AF_CAIF, AF_ALG, AF_NFC, AF_VSOCK, AF_KCM, AF_QIPCRTR, AF_SMC, AF_XDP, AF_MCTP);
/// 27 and 28 are missing from the headers' list of families above.
const MORE_FAMILIES: Names = &[(27, "AF_IB"), (28, "AF_MPLS")];
const SOCKET_TYPES: Names =
    named!(net: SOCK_STREAM, SOCK_DGRAM, SOCK_RAW, SOCK_RDM, SOCK_SEQPACKET);
const MORE_SOCKET_TYPES: Names = &[(6, "SOCK_DCCP"), (10, "SOCK_PACKET")];
const INET_PROTOCOLS: Names = named!(net: IPPROTO_IP, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP,
    IPPROTO_IPV6, IPPROTO_ICMPV6, IPPROTO_SCTP, IPPROTO_RAW);
const NETLINK_PROTOCOLS: Names = named!(netlink: NETLINK_ROUTE, NETLINK_UNUSED, NETLINK_USERSOCK,
    NETLINK_FIREWALL, NETLINK_SOCK_DIAG, NETLINK_NFLOG, NETLINK_XFRM, NETLINK_SELINUX,
    NETLINK_ISCSI, NETLINK_AUDIT, NETLINK_FIB_LOOKUP, NETLINK_CONNECTOR, NETLINK_NETFILTER,
    NETLINK_IP6_FW, NETLINK_DNRTMSG, NETLINK_KOBJECT_UEVENT, NETLINK_GENERIC, NETLINK_SCSITRANSPORT,
    NETLINK_ECRYPTFS, NETLINK_RDMA, NETLINK_CRYPTO, NETLINK_SMC);
const SOCKOPT_LEVELS: Names = named!(net: SOL_SOCKET, IPPROTO_IP, IPPROTO_TCP, IPPROTO_UDP,
    IPPROTO_IPV6, IPPROTO_ICMPV6, IPPROTO_SCTP, IPPROTO_RAW, SOL_PACKET, SOL_NETLINK, SOL_ALG,
    SOL_TLS, SOL_XDP);
const SOCKET_OPTIONS: Names = named!(net: SO_DEBUG, SO_REUSEADDR, SO_TYPE, SO_ERROR, SO_DONTROUTE,
    SO_BROADCAST, SO_SNDBUF, SO_RCVBUF, SO_SNDBUFFORCE, SO_RCVBUFFORCE, SO_KEEPALIVE, SO_OOBINLINE,
    SO_NO_CHECK, SO_PRIORITY, SO_LINGER, SO_BSDCOMPAT, SO_REUSEPORT, SO_PASSCRED, SO_PEERCRED,
    SO_RCVLOWAT, SO_SNDLOWAT, SO_BINDTODEVICE, SO_ATTACH_FILTER, SO_DETACH_FILTER, SO_PEERNAME,
    SO_ACCEPTCONN, SO_PEERSEC, SO_PASSSEC, SO_MARK, SO_PROTOCOL, SO_DOMAIN, SO_RXQ_OVFL,
    SO_WIFI_STATUS, SO_PEEK_OFF, SO_NOFCS, SO_LOCK_FILTER, SO_SELECT_ERR_QUEUE, SO_BUSY_POLL,
    SO_MAX_PACING_RATE, SO_BPF_EXTENSIONS, SO_INCOMING_CPU, SO_ATTACH_BPF, SO_ATTACH_REUSEPORT_CBPF,
    SO_ATTACH_REUSEPORT_EBPF, SO_CNX_ADVICE, SO_MEMINFO, SO_INCOMING_NAPI_ID, SO_COOKIE,
    SO_PEERGROUPS, SO_ZEROCOPY, SO_TXTIME, SO_BINDTOIFINDEX, SO_TIMESTAMP_OLD, SO_TIMESTAMPNS_OLD,
    SO_TIMESTAMPING_OLD, SO_RCVTIMEO_OLD, SO_SNDTIMEO_OLD, SO_RCVTIMEO_NEW, SO_SNDTIMEO_NEW,
    SO_PASSPIDFD, SO_PEERPIDFD);
const TCP_OPTIONS: Names = named!(net: TCP_NODELAY, TCP_MAXSEG, TCP_CORK, TCP_KEEPIDLE,
    TCP_KEEPINTVL, TCP_KEEPCNT, TCP_SYNCNT, TCP_LINGER2, TCP_DEFER_ACCEPT, TCP_WINDOW_CLAMP,
    TCP_INFO, TCP_QUICKACK, TCP_CONGESTION, TCP_MD5SIG, TCP_USER_TIMEOUT, TCP_FASTOPEN,
    TCP_FASTOPEN_CONNECT, TCP_ULP, TCP_NOTSENT_LOWAT, TCP_ZEROCOPY_RECEIVE);
const IP_OPTIONS: Names = named!(net: IP_TOS, IP_TTL, IP_HDRINCL, IP_OPTIONS, IP_RECVOPTS,
    IP_RETOPTS, IP_PKTINFO, IP_MTU_DISCOVER, IP_RECVERR, IP_RECVTTL, IP_RECVTOS, IP_MTU,
    IP_FREEBIND, IP_TRANSPARENT, IP_BIND_ADDRESS_NO_PORT, IP_MULTICAST_IF, IP_MULTICAST_TTL,
    IP_MULTICAST_LOOP, IP_ADD_MEMBERSHIP, IP_DROP_MEMBERSHIP);
const IPV6_OPTIONS: Names = named!(net: IPV6_V6ONLY, IPV6_UNICAST_HOPS, IPV6_MULTICAST_IF,
    IPV6_MULTICAST_HOPS, IPV6_MULTICAST_LOOP, IPV6_RECVPKTINFO, IPV6_PKTINFO, IPV6_RECVERR,
    IPV6_MTU_DISCOVER, IPV6_MTU, IPV6_TCLASS, IPV6_RECVTCLASS, IPV6_FREEBIND, IPV6_TRANSPARENT,
    IPV6_ADD_MEMBERSHIP, IPV6_DROP_MEMBERSHIP);
const IOCTLS: Names = named!(ioctl: FIONREAD, FIONBIO, FIOCLEX, FIONCLEX, FIOASYNC, FIOQSIZE,
    FIOGETOWN, FIOSETOWN, TCGETS, TCSETS, TCSETSW, TCSETSF, TCGETS2, TCSETS2, TCFLSH, TCXONC,
    TCSBRK, TIOCGWINSZ, TIOCSWINSZ, TIOCSTI, TIOCGPGRP, TIOCSPGRP, TIOCSCTTY, TIOCNOTTY, TIOCGPTN,
    TIOCSPTLCK, TIOCGPTPEER, TIOCGSID, TIOCLINUX, TIOCOUTQ, TIOCEXCL, TIOCNXCL, TIOCMGET,
    TIOCSETD, TIOCGETD, TIOCSIG, TIOCVHANGUP, TIOCCONS, SIOCGIFCONF, SIOCGIFADDR, SIOCGIFFLAGS,
    SIOCSIFFLAGS, SIOCGIFINDEX, SIOCGIFHWADDR, SIOCGIFMTU, SIOCGIFNAME, SIOCATMARK, SIOCGPGRP,
    SIOCSPGRP, FICLONE, FICLONERANGE, FS_IOC_GETFLAGS, FS_IOC_SETFLAGS, FS_IOC_FIEMAP, FIGETBSZ,
    FIBMAP, BLKGETSIZE64, BLKSSZGET, NS_GET_USERNS, NS_GET_PARENT, NS_GET_NSTYPE, TUNSETIFF,
    RNDGETENTCNT, RNDADDENTROPY);
const PRCTLS: Names = named!(prctl: PR_SET_PDEATHSIG, PR_GET_PDEATHSIG, PR_GET_DUMPABLE,
    PR_SET_DUMPABLE, PR_GET_UNALIGN, PR_SET_UNALIGN, PR_GET_KEEPCAPS, PR_SET_KEEPCAPS,
    PR_GET_FPEMU, PR_SET_FPEMU, PR_GET_FPEXC, PR_SET_FPEXC, PR_GET_TIMING, PR_SET_TIMING,
    PR_SET_NAME, PR_GET_NAME, PR_GET_ENDIAN, PR_SET_ENDIAN, PR_GET_SECCOMP, PR_SET_SECCOMP,
    PR_CAPBSET_READ, PR_CAPBSET_DROP, PR_GET_TSC, PR_SET_TSC, PR_GET_SECUREBITS,
    PR_SET_SECUREBITS, PR_SET_TIMERSLACK, PR_GET_TIMERSLACK, PR_TASK_PERF_EVENTS_DISABLE,
    PR_TASK_PERF_EVENTS_ENABLE, PR_MCE_KILL, PR_MCE_KILL_GET, PR_SET_MM, PR_SET_PTRACER,
    PR_SET_CHILD_SUBREAPER, PR_GET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS, PR_GET_NO_NEW_PRIVS,
    PR_GET_TID_ADDRESS, PR_SET_THP_DISABLE, PR_GET_THP_DISABLE, PR_SET_FP_MODE, PR_GET_FP_MODE,
    PR_CAP_AMBIENT, PR_GET_SPECULATION_CTRL, PR_SET_SPECULATION_CTRL, PR_SET_TAGGED_ADDR_CTRL,
    PR_GET_TAGGED_ADDR_CTRL, PR_SET_IO_FLUSHER, PR_GET_IO_FLUSHER, PR_SET_SYSCALL_USER_DISPATCH,
    PR_SCHED_CORE, PR_SET_MDWE, PR_GET_MDWE, PR_SET_VMA, PR_GET_AUXV, PR_SET_MEMORY_MERGE,
    PR_GET_MEMORY_MERGE, PR_GET_SHADOW_STACK_STATUS, PR_SET_SHADOW_STACK_STATUS);
const FCNTLS: Names = named!(general: F_DUPFD, F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_GETLK,
    F_SETLK, F_SETLKW, F_SETOWN, F_GETOWN, F_SETSIG, F_GETSIG, F_SETOWN_EX, F_GETOWN_EX,
    F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW, F_SETLEASE, F_GETLEASE, F_NOTIFY, F_DUPFD_CLOEXEC,
    F_SETPIPE_SZ, F_GETPIPE_SZ, F_ADD_SEALS, F_GET_SEALS, F_GET_RW_HINT, F_SET_RW_HINT,
    F_GET_FILE_RW_HINT, F_SET_FILE_RW_HINT);
const PTRACES: Names = named!(ptrace: PTRACE_TRACEME, PTRACE_PEEKTEXT, PTRACE_PEEKDATA,
    PTRACE_PEEKUSR, PTRACE_POKETEXT, PTRACE_POKEDATA, PTRACE_POKEUSR, PTRACE_CONT, PTRACE_KILL,
    PTRACE_SINGLESTEP, PTRACE_ATTACH, PTRACE_DETACH, PTRACE_SYSCALL, PTRACE_SETOPTIONS,
    PTRACE_GETEVENTMSG, PTRACE_GETSIGINFO, PTRACE_SETSIGINFO, PTRACE_GETREGSET, PTRACE_SETREGSET,
    PTRACE_SEIZE, PTRACE_INTERRUPT, PTRACE_LISTEN, PTRACE_PEEKSIGINFO, PTRACE_GETSIGMASK,
    PTRACE_SETSIGMASK, PTRACE_SECCOMP_GET_FILTER, PTRACE_SECCOMP_GET_METADATA,
    PTRACE_GET_SYSCALL_INFO, PTRACE_GETREGS, PTRACE_SETREGS, PTRACE_GETFPREGS, PTRACE_SETFPREGS);
const KEYCTLS: Names = named!(libc: KEYCTL_GET_KEYRING_ID, KEYCTL_JOIN_SESSION_KEYRING,
    KEYCTL_UPDATE, KEYCTL_REVOKE, KEYCTL_CHOWN, KEYCTL_SETPERM, KEYCTL_DESCRIBE, KEYCTL_CLEAR,
    KEYCTL_LINK, KEYCTL_UNLINK, KEYCTL_SEARCH, KEYCTL_READ, KEYCTL_INSTANTIATE, KEYCTL_NEGATE,
    KEYCTL_SET_REQKEY_KEYRING, KEYCTL_SET_TIMEOUT, KEYCTL_ASSUME_AUTHORITY, KEYCTL_GET_SECURITY,
    KEYCTL_SESSION_TO_PARENT, KEYCTL_REJECT, KEYCTL_INSTANTIATE_IOV, KEYCTL_INVALIDATE,
    KEYCTL_GET_PERSISTENT, KEYCTL_DH_COMPUTE, KEYCTL_PKEY_QUERY, KEYCTL_PKEY_ENCRYPT,
    KEYCTL_PKEY_DECRYPT, KEYCTL_PKEY_SIGN, KEYCTL_PKEY_VERIFY, KEYCTL_RESTRICT_KEYRING,
    KEYCTL_MOVE, KEYCTL_CAPABILITIES);
/// The codes of x86's `asm/prctl.h`, which the generated headers carry only
/// in part (`ARCH_SET_FS`), so all of them are written here.
const ARCH_PRCTLS: Names = &[
    (0x1001, "ARCH_SET_GS"),
    (0x1002, "ARCH_SET_FS"),
    (0x1003, "ARCH_GET_FS"),
    (0x1004, "ARCH_GET_GS"),
    (0x1011, "ARCH_GET_CPUID"),
    (0x1012, "ARCH_SET_CPUID"),
    (0x1021, "ARCH_GET_XCOMP_SUPP"),
    (0x1022, "ARCH_GET_XCOMP_PERM"),
    (0x1023, "ARCH_REQ_XCOMP_PERM"),
    (0x1024, "ARCH_GET_XCOMP_GUEST_PERM"),
    (0x1025, "ARCH_REQ_XCOMP_GUEST_PERM"),
    (0x2001, "ARCH_MAP_VDSO_X32"),
    (0x2002, "ARCH_MAP_VDSO_32"),
    (0x2003, "ARCH_MAP_VDSO_64"),
    (0x5001, "ARCH_SHSTK_ENABLE"),
    (0x5002, "ARCH_SHSTK_DISABLE"),
    (0x5003, "ARCH_SHSTK_LOCK"),
    (0x5004, "ARCH_SHSTK_UNLOCK"),
    (0x5005, "ARCH_SHSTK_STATUS"),
];
const CLONE_FLAGS: Names = named!(general: CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS,
    CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWTIME);
/// The personality flags of `linux/personality.h`.
const PERSONALITY_FLAGS: Names = named!(libc: UNAME26, ADDR_NO_RANDOMIZE, FDPIC_FUNCPTRS,
    MMAP_PAGE_ZERO, ADDR_COMPAT_LAYOUT, READ_IMPLIES_EXEC, ADDR_LIMIT_32BIT, SHORT_INODE,
    WHOLE_SECONDS, STICKY_TIMEOUTS, ADDR_LIMIT_3GB);
/// The execution domains (the low byte) Docker's default names.
const PERSONAS: Names = &[(0x0000, "PER_LINUX"), (0x0008, "PER_LINUX32")];

fn lookup(names: &[Names], value: u64) -> Option<String> {
    names
        .iter()
        .flat_map(|names| names.iter())
        .find(|(v, _)| *v == value)
        .map(|(_, name)| (*name).to_owned())
}

fn bpf_command(value: u64) -> Option<String> {
    use aya_obj::generated::bpf_cmd::{self, *};
    let commands: [bpf_cmd; 37] = [
        BPF_MAP_CREATE,
        BPF_MAP_LOOKUP_ELEM,
        BPF_MAP_UPDATE_ELEM,
        BPF_MAP_DELETE_ELEM,
        BPF_MAP_GET_NEXT_KEY,
        BPF_PROG_LOAD,
        BPF_OBJ_PIN,
        BPF_OBJ_GET,
        BPF_PROG_ATTACH,
        BPF_PROG_DETACH,
        BPF_PROG_TEST_RUN,
        BPF_PROG_GET_NEXT_ID,
        BPF_MAP_GET_NEXT_ID,
        BPF_PROG_GET_FD_BY_ID,
        BPF_MAP_GET_FD_BY_ID,
        BPF_OBJ_GET_INFO_BY_FD,
        BPF_PROG_QUERY,
        BPF_RAW_TRACEPOINT_OPEN,
        BPF_BTF_LOAD,
        BPF_BTF_GET_FD_BY_ID,
        BPF_TASK_FD_QUERY,
        BPF_MAP_LOOKUP_AND_DELETE_ELEM,
        BPF_MAP_FREEZE,
        BPF_BTF_GET_NEXT_ID,
        BPF_MAP_LOOKUP_BATCH,
        BPF_MAP_LOOKUP_AND_DELETE_BATCH,
        BPF_MAP_UPDATE_BATCH,
        BPF_MAP_DELETE_BATCH,
        BPF_LINK_CREATE,
        BPF_LINK_UPDATE,
        BPF_LINK_GET_FD_BY_ID,
        BPF_LINK_GET_NEXT_ID,
        BPF_ENABLE_STATS,
        BPF_ITER_CREATE,
        BPF_LINK_DETACH,
        BPF_PROG_BIND_MAP,
        BPF_TOKEN_CREATE,
    ];
    // The bindings' `Debug` is the constant's name.
    commands
        .into_iter()
        .find(|c| *c as u64 == value)
        .map(|c| format!("{c:?}"))
}

/// The names of the bits of `value` in `names`, joined with `|`, with what
/// is left in hex; `none` when no named bit is set and nothing is left.
fn bit_names(names: &[Names], value: u64, none: &str) -> String {
    let mut parts = Vec::new();
    let mut rest = value;
    for (bit, name) in names.iter().flat_map(|n| n.iter()) {
        if *bit != 0 && value & bit == *bit {
            parts.push((*name).to_owned());
            rest &= !bit;
        }
    }
    if rest != 0 {
        parts.push(format!("{rest:#x}"));
    }
    if parts.is_empty() {
        none.to_owned()
    } else {
        parts.join("|")
    }
}

impl Symbols {
    /// `value` by name, `previous` being the value of the captured argument
    /// before it (a socket's family for its protocol, an option's level for
    /// its name). Values without a name are written in hex (small ones in
    /// decimal).
    pub(crate) fn describe(self, value: u64, previous: Option<u64>) -> String {
        let found: Option<String> = match self {
            Symbols::Family => lookup(&[FAMILIES, MORE_FAMILIES], value),
            Symbols::SocketType => lookup(&[SOCKET_TYPES, MORE_SOCKET_TYPES], value),
            Symbols::Protocol => match previous {
                _ if value == 0 => Some("default protocol".to_owned()),
                Some(f) if f == net::AF_INET as u64 || f == net::AF_INET6 as u64 => {
                    lookup(&[INET_PROTOCOLS], value)
                }
                Some(f) if f == net::AF_NETLINK as u64 => lookup(&[NETLINK_PROTOCOLS], value),
                _ => None,
            },
            Symbols::SockoptLevel => lookup(&[SOCKOPT_LEVELS], value),
            Symbols::Sockopt => match previous.map(|l| l as u32) {
                Some(net::SOL_SOCKET) => lookup(&[SOCKET_OPTIONS], value),
                Some(l) if l == net::IPPROTO_TCP as u32 => lookup(&[TCP_OPTIONS], value),
                Some(l) if l == net::IPPROTO_IP as u32 => lookup(&[IP_OPTIONS], value),
                Some(l) if l == net::IPPROTO_IPV6 as u32 => lookup(&[IPV6_OPTIONS], value),
                _ => None,
            },
            Symbols::Personality => return personality(value),
            Symbols::Ioctl => lookup(&[IOCTLS], value),
            Symbols::Prctl => lookup(&[PRCTLS], value),
            Symbols::Fcntl => lookup(&[FCNTLS], value),
            Symbols::Keyctl => lookup(&[KEYCTLS], value),
            Symbols::Bpf => return bpf_command(value).unwrap_or_else(|| value.to_string()),
            Symbols::Ptrace => lookup(&[PTRACES], value),
            Symbols::ArchPrctl => lookup(&[ARCH_PRCTLS], value),
            Symbols::CloneFlags => return bit_names(&[CLONE_FLAGS], value, "no namespace flag"),
            Symbols::Prot => {
                return if value & super::PROT_EXEC != 0 {
                    "PROT_EXEC".to_owned()
                } else {
                    "no PROT_EXEC".to_owned()
                };
            }
        };
        match found {
            Some(name) => name,
            None if value < 4096 => value.to_string(),
            None => format!("{value:#x}"),
        }
    }

    /// The value of `name`, for the names [`Symbols::describe`] gives
    /// (single values; numbers are read too).
    #[cfg(test)]
    pub(crate) fn value_of(self, name: &str) -> Option<u64> {
        if let Some(hex) = name.strip_prefix("0x") {
            return u64::from_str_radix(hex, 16).ok();
        }
        if let Ok(n) = name.parse() {
            return Some(n);
        }
        self.tables()
            .iter()
            .flat_map(|t| t.iter())
            .find(|(_, n)| *n == name)
            .map(|(v, _)| *v)
    }

    /// The tables of names this argument's values are read back from.
    fn tables(self) -> &'static [Names] {
        match self {
            Symbols::Family => &[FAMILIES, MORE_FAMILIES],
            Symbols::SocketType => &[SOCKET_TYPES, MORE_SOCKET_TYPES],
            Symbols::Protocol => &[INET_PROTOCOLS],
            Symbols::SockoptLevel => &[SOCKOPT_LEVELS],
            Symbols::Sockopt => &[SOCKET_OPTIONS],
            Symbols::Personality => &[PERSONAS, PERSONALITY_FLAGS],
            Symbols::Ioctl => &[IOCTLS],
            Symbols::Prctl => &[PRCTLS],
            Symbols::Fcntl => &[FCNTLS],
            Symbols::Keyctl => &[KEYCTLS],
            Symbols::Ptrace => &[PTRACES],
            Symbols::ArchPrctl => &[ARCH_PRCTLS],
            Symbols::CloneFlags => &[CLONE_FLAGS],
            Symbols::Bpf | Symbols::Prot => &[],
        }
    }

    /// The argument whose value names this one's: a protocol is named for
    /// its socket's family, an option for its level.
    pub(crate) fn named_after(self) -> Option<Symbols> {
        match self {
            Symbols::Protocol => Some(Symbols::Family),
            Symbols::Sockopt => Some(Symbols::SockoptLevel),
            _ => None,
        }
    }

    /// Every value this argument has a name for (a protocol's of every
    /// family, an option's of every level): the values a comparison of
    /// two policies names.
    pub(crate) fn named_values(self) -> Vec<u64> {
        let extra: &[Names] = match self {
            Symbols::Protocol => &[NETLINK_PROTOCOLS],
            Symbols::Sockopt => &[TCP_OPTIONS, IP_OPTIONS, IPV6_OPTIONS],
            _ => &[],
        };
        let mut values: Vec<u64> = self
            .tables()
            .iter()
            .chain(extra)
            .flat_map(|t| t.iter().map(|(v, _)| *v))
            .collect();
        match self {
            Symbols::Bpf => values.extend((0..64).filter(|v| bpf_command(*v).is_some())),
            Symbols::Prot => values.extend([0, super::PROT_EXEC]),
            _ => {}
        }
        values.sort_unstable();
        values.dedup();
        values
    }
}

/// A personality: its execution domain and flags, or the query.
fn personality(value: u64) -> String {
    if value == 0xffff_ffff {
        return "0xffffffff (query)".to_owned();
    }
    let domain = value & 0xff;
    let flags = value & !0xff;
    let domain = lookup(&[PERSONAS], domain).unwrap_or_else(|| format!("{domain:#x}"));
    if flags == 0 {
        domain
    } else {
        format!("{domain}|{}", bit_names(&[PERSONALITY_FLAGS], flags, ""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_named_as_the_headers_name_them() {
        assert_eq!(Symbols::Family.describe(1, None), "AF_UNIX");
        assert_eq!(Symbols::Family.describe(40, None), "AF_VSOCK");
        assert_eq!(Symbols::Ioctl.describe(0x541b, None), "FIONREAD");
        assert_eq!(Symbols::Ioctl.describe(0x5412, None), "TIOCSTI");
        assert_eq!(Symbols::Prctl.describe(15, None), "PR_SET_NAME");
        assert_eq!(Symbols::Prctl.describe(24, None), "PR_CAPBSET_DROP");
        assert_eq!(Symbols::Protocol.describe(6, Some(2)), "IPPROTO_TCP");
        assert_eq!(Symbols::Sockopt.describe(1, Some(6)), "TCP_NODELAY");
        assert_eq!(Symbols::Sockopt.describe(2, Some(1)), "SO_REUSEADDR");
        assert_eq!(Symbols::Bpf.describe(5, None), "BPF_PROG_LOAD");
        assert_eq!(Symbols::ArchPrctl.describe(0x1002, None), "ARCH_SET_FS");
        assert_eq!(Symbols::Keyctl.describe(0, None), "KEYCTL_GET_KEYRING_ID");
        assert_eq!(
            Symbols::CloneFlags.describe(0x1000_0000 | 0x2_0000, None),
            "CLONE_NEWNS|CLONE_NEWUSER"
        );
        assert_eq!(Symbols::CloneFlags.describe(0, None), "no namespace flag");
        assert_eq!(
            Symbols::Personality.describe(0x0040_0000, None),
            "PER_LINUX|READ_IMPLIES_EXEC"
        );
        assert_eq!(
            Symbols::Personality.describe(0xffff_ffff, None),
            "0xffffffff (query)"
        );
        assert_eq!(Symbols::Ioctl.describe(0xdead_beef, None), "0xdeadbeef");
        assert_eq!(Symbols::Ioctl.value_of("TIOCSTI"), Some(0x5412));
        assert_eq!(Symbols::Family.value_of("AF_NETLINK"), Some(16));
    }
}
