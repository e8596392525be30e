//! Training allocates and frees the same large buffers every step (activations, im2col
//! columns, gradients of a few MiB). With glibc's default malloc, blocks above the mmap
//! threshold are fresh `mmap`s each time: every first write to every page faults, and with
//! worker threads each `munmap` flushes the TLBs of the other cores. Measured on LeNet-5,
//! that was a third of a training step. The first `compile()` therefore raises glibc's mmap
//! threshold to its maximum (32 MiB) and the trim threshold to 1 GiB, so such buffers are
//! reused from the heap (as TensorFlow's and PyTorch's caching allocators do). Set
//! `RKERAS_KEEP_MALLOC=1` to leave malloc as it is. Other platforms: nothing to do.

/// Tunes malloc for training, once per process (see the module docs).
pub(crate) fn tune_for_training() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("RKERAS_KEEP_MALLOC").is_some_and(|v| v != "0") {
            return;
        }
        imp::tune();
    });
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod imp {
    use std::os::raw::c_int;

    extern "C" {
        /// glibc's `int mallopt(int param, int value)`; returns 1 on success.
        fn mallopt(param: c_int, value: c_int) -> c_int;
    }

    /// `<malloc.h>`: `M_TRIM_THRESHOLD`, `M_MMAP_THRESHOLD`.
    const M_TRIM_THRESHOLD: c_int = -1;
    const M_MMAP_THRESHOLD: c_int = -3;

    pub(super) fn tune() {
        // SAFETY: mallopt only changes allocator parameters; both values are in the ranges
        // glibc accepts (the mmap threshold is at most HEAP_MAX_SIZE / 2 = 32 MiB on 64-bit).
        unsafe {
            mallopt(M_MMAP_THRESHOLD, 32 << 20);
            mallopt(M_TRIM_THRESHOLD, 1 << 30);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
mod imp {
    pub(super) fn tune() {}
}
