//! `load-plugin get|set`: loads libcap (`libcap.so.2`) with `dlopen` at run
//! time, which is not among this program's DT_NEEDED libraries, and calls
//! it: `get` reads this process's capabilities (`capget`), `set` reads them
//! and sets them back unchanged (`capget`, then `capset`). Prints
//! `capget=ok` and, for `set`, `capset=ok` or `capset=errno:N` on one line.
//! Neither syscall is one this program's own code makes: only the library
//! loaded at run time reaches them. Exits 2 on a bad argument or when the
//! library cannot be loaded.

use std::ffi::{CStr, c_int, c_void};

type GetProc = unsafe extern "C" fn() -> *mut c_void;
type SetProc = unsafe extern "C" fn(*mut c_void) -> c_int;

/// The address of `name` in `library`, or exit 2 naming what failed.
fn symbol(library: *mut c_void, name: &CStr) -> *mut c_void {
    // SAFETY: a handle dlopen returned and a NUL-terminated name.
    let address = unsafe { libc::dlsym(library, name.as_ptr()) };
    if address.is_null() {
        eprintln!("load-plugin: libcap.so.2 has no {}", name.to_string_lossy());
        std::process::exit(2);
    }
    address
}

fn main() {
    let set = match std::env::args().nth(1).as_deref() {
        Some("get") => false,
        Some("set") => true,
        _ => {
            eprintln!("usage: load-plugin get|set");
            std::process::exit(2);
        }
    };
    // SAFETY: a NUL-terminated library name; the library's initialisers
    // are libcap's own.
    let library = unsafe { libc::dlopen(c"libcap.so.2".as_ptr(), libc::RTLD_NOW) };
    if library.is_null() {
        eprintln!("load-plugin: cannot load libcap.so.2");
        std::process::exit(2);
    }
    // SAFETY: the symbols have these C signatures in libcap (sys/capability.h:
    // cap_t cap_get_proc(void); int cap_set_proc(cap_t)).
    let (get_proc, set_proc) = unsafe {
        (
            std::mem::transmute::<*mut c_void, GetProc>(symbol(library, c"cap_get_proc")),
            std::mem::transmute::<*mut c_void, SetProc>(symbol(library, c"cap_set_proc")),
        )
    };
    // SAFETY: libcap's own functions, called as documented; the state they
    // return stays owned by libcap (leaked: the process ends right after).
    let caps = unsafe { get_proc() };
    let mut line = format!(
        "capget={}",
        if caps.is_null() {
            errno()
        } else {
            "ok".to_owned()
        }
    );
    if set && !caps.is_null() {
        // SAFETY: as above; `caps` is the state cap_get_proc returned.
        let status = unsafe { set_proc(caps) };
        line.push_str(&format!(
            " capset={}",
            if status == 0 {
                "ok".to_owned()
            } else {
                errno()
            }
        ));
    }
    println!("{line}");
}

fn errno() -> String {
    format!(
        "errno:{}",
        std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
    )
}
