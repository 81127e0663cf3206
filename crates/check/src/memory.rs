//! Process-wide memory settings for long explorations.
//!
//! An exploration allocates and frees small blocks at a high rate (every successor state, most of them
//! already seen), and what matters is its peak resident memory. Two defaults inflate that peak without
//! making exploring faster (measured with `cargo bench -p themelios-check`: the Deployment rolling
//! update with two instances of each controller peaks at 31 MiB with both settings, 45 MiB with only
//! transparent huge pages off, 70 MiB with neither, at the same states per second):
//! - mimalloc (the `themelios` binary's allocator) returns freed memory to the system only after a delay of
//!   a second, so a run's freed successors count in its peak;
//! - transparent huge pages back the allocator's regions with 2 MiB pages that count as resident in
//!   full as soon as one byte of them is touched.

/// mimalloc's `mi_option_purge_delay` (mimalloc.h, v3): milliseconds before freed memory is returned.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Returns freed memory to the system at once, and keeps this process off transparent huge pages. Call it
/// first thing in a process that explores; it is harmless when mimalloc is not the global allocator (its
/// options are then unused).
///
/// ```
/// themelios_check::memory::tune_for_exploring();
/// ```
pub fn tune_for_exploring() {
    // SAFETY: mi_option_set only stores an integer option, valid at any time from any thread; prctl with
    // PR_SET_THP_DISABLE only sets a flag on this process (a failure leaves huge pages on, which is fine).
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0);
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}
