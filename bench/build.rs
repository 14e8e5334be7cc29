//! Build script of the `urcu-bench` package. Without the `liburcu` feature
//! it does nothing (and needs nothing). With it, it compiles the C shim in
//! `liburcu/` against the system's liburcu (Debian's `liburcu-dev`,
//! 0.13) and links the flavor libraries, for the scaling driver's
//! `liburcu-*` implementations.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    #[cfg(feature = "liburcu")]
    liburcu();
}

#[cfg(feature = "liburcu")]
fn liburcu() {
    const DIR: &str = "liburcu";
    const SOURCES: &[&str] = &["shim.c", "flavor_memb.c", "flavor_mb.c", "flavor_qsbr.c"];
    for f in SOURCES.iter().chain(&["shim.h", "flavor_body.h"]) {
        println!("cargo:rerun-if-changed={DIR}/{f}");
    }
    cc::Build::new()
        .files(SOURCES.iter().map(|f| format!("{DIR}/{f}")))
        .opt_level(2)
        .flag_if_supported("-std=gnu11")
        .warnings(true)
        .extra_warnings(true)
        .compile("urcu_rs_liburcu_shim");
    // One library per flavor, with flavor-prefixed symbols; lfht lives in
    // liburcu-cds, the queues they share in liburcu-common.
    for lib in [
        "urcu-cds",
        "urcu-memb",
        "urcu-mb",
        "urcu-qsbr",
        "urcu-common",
    ] {
        println!("cargo:rustc-link-lib=dylib={lib}");
    }
    println!("cargo:rustc-link-lib=dylib=pthread");
}
