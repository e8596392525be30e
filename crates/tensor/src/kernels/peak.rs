//! This machine's FMA peak, measured: independent fused multiply-add chains on the widest
//! vectors the chosen instruction set has (enough chains to cover the FMA latency on every
//! port), on `threads` workers at once. Kernel benchmarks report their GFLOP/s as a share of it.

use super::Isa;
use std::time::Instant;

/// Measured peak GFLOP/s (2 flops per lane per FMA) of `isa` on `threads` workers, timing
/// about `seconds` of FMAs.
pub fn fma_peak_gflops(isa: Isa, threads: usize, seconds: f64) -> f64 {
    let iters = calibrate(isa, seconds / 4.0);
    let start = Instant::now();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads.max(1)).build();
    let flops_per_worker = match pool {
        Ok(pool) => pool.broadcast(|_| run(isa, iters)),
        Err(_) => vec![run(isa, iters)],
    };
    let total: f64 = flops_per_worker.iter().sum();
    total / start.elapsed().as_secs_f64() / 1e9
}

fn calibrate(isa: Isa, seconds: f64) -> u64 {
    let mut iters = 1u64 << 16;
    loop {
        let t = Instant::now();
        run(isa, iters);
        let e = t.elapsed().as_secs_f64();
        if e > seconds / 8.0 || iters > 1 << 40 {
            return ((iters as f64) * seconds / e.max(1e-9)) as u64 + 1;
        }
        iters *= 2;
    }
}

/// Runs `iters` rounds of 12 independent FMA chains; returns the flops done.
fn run(isa: Isa, iters: u64) -> f64 {
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { x86::avx512(iters) },
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { x86::avx2(iters) },
        _ => portable(iters),
    }
}

fn portable(iters: u64) -> f64 {
    let mut acc = [1.0f32; 32];
    let (a, b) = (std::hint::black_box(0.999_999f32), std::hint::black_box(1e-7f32));
    for _ in 0..iters {
        for v in acc.iter_mut() {
            *v = *v * a + b;
        }
    }
    std::hint::black_box(acc);
    iters as f64 * 32.0 * 2.0
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn avx512(iters: u64) -> f64 {
        let a = _mm512_set1_ps(std::hint::black_box(0.999_999));
        let b = _mm512_set1_ps(std::hint::black_box(1e-7));
        let mut acc = [_mm512_set1_ps(1.0); 12];
        for _ in 0..iters {
            for v in acc.iter_mut() {
                *v = _mm512_fmadd_ps(*v, a, b);
            }
        }
        std::hint::black_box(acc);
        iters as f64 * 12.0 * 16.0 * 2.0
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn avx2(iters: u64) -> f64 {
        let a = _mm256_set1_ps(std::hint::black_box(0.999_999));
        let b = _mm256_set1_ps(std::hint::black_box(1e-7));
        let mut acc = [_mm256_set1_ps(1.0); 12];
        for _ in 0..iters {
            for v in acc.iter_mut() {
                *v = _mm256_fmadd_ps(*v, a, b);
            }
        }
        std::hint::black_box(acc);
        iters as f64 * 12.0 * 8.0 * 2.0
    }
}
