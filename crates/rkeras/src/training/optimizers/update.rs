//! One optimizer update as Keras's `apply_gradients`: gradient clipping, weight decay, the
//! algorithm's step (f32, Keras's operation order), `iterations += 1`.

use super::{Optimizer, OptimizerKind, Param};
use crate::error::{KerasError, Result};
use rayon::prelude::*;

/// Values of a variable one task of the update takes (256 KiB of each of the variable, its
/// gradient and its slots).
const UPDATE_CHUNK: usize = 1 << 16;

impl Optimizer {
    /// One update of every parameter from its gradient, as Keras's `apply_gradients`:
    /// clip, weight decay, the algorithm's step, `iterations += 1`. Slots are created for
    /// parameters not seen before.
    pub fn apply(&mut self, params: &mut [Param]) -> Result<()> {
        for p in params.iter() {
            if p.grad.shape() != p.value.shape() {
                return Err(KerasError::Invalid(format!(
                    "{}: gradient of {} has shape {:?}, the variable has {:?}",
                    self.name,
                    p.path,
                    p.grad.shape(),
                    p.value.shape()
                )));
            }
        }
        let new: Vec<(u64, String, Vec<usize>)> = params
            .iter()
            .filter(|p| !self.index.contains_key(&p.id))
            .map(|p| (p.id, p.path.clone(), p.value.shape().to_vec()))
            .collect();
        self.build(&new);
        self.clip_gradients(params);
        let lr = self.current_learning_rate();
        if let Some(wd) = self.weight_decay {
            let wd = wd as f32;
            for p in params.iter_mut() {
                if self
                    .exclude_from_weight_decay
                    .iter()
                    .any(|s| p.path.contains(s.as_str()))
                {
                    continue;
                }
                for v in p.value.data_mut() {
                    *v -= *v * wd * lr;
                }
            }
        }
        // Every rule is element by element: the variables are cut into chunks, each updated
        // on its own by one worker (the same operations on every element whatever the
        // split, so the same results). One parallel loop over every chunk of every variable.
        let mut tasks: Vec<(&[f32], &mut [f32], Vec<&mut [f32]>)> = Vec::new();
        let mut slots: Vec<Option<&mut super::Slots>> = self.slots.iter_mut().map(Some).collect();
        for p in params.iter_mut() {
            let Some(slot) = self
                .index
                .get(&p.id)
                .and_then(|&k| slots.get_mut(k))
                .and_then(Option::take)
            else {
                continue; // built above; a variable listed twice is updated once
            };
            let mut slot_chunks: Vec<_> = slot
                .tensors
                .iter_mut()
                .map(|t| t.data_mut().chunks_mut(UPDATE_CHUNK))
                .collect();
            for (g, w) in p
                .grad
                .data()
                .chunks(UPDATE_CHUNK)
                .zip(p.value.data_mut().chunks_mut(UPDATE_CHUNK))
            {
                tasks.push((g, w, slot_chunks.iter_mut().filter_map(Iterator::next).collect()));
            }
        }
        let (kind, iterations) = (&self.kind, self.iterations);
        tasks.par_iter_mut().for_each(|(g, w, s)| {
            // Compiled for the CPU's vector ISA (the crate's baseline is SSE2); the same
            // per-element operations, so the same results.
            flush_denormals(|| {
                tensor::kernels::vectorized(
                    #[inline(always)]
                    || update_step(kind, iterations, lr, g, w, s),
                )
            });
        });
        self.iterations += 1;
        Ok(())
    }

    fn clip_gradients(&self, params: &mut [Param]) {
        if let Some(c) = self.clipnorm.filter(|&c| c > 0.0) {
            let c = c as f32;
            for p in params.iter_mut() {
                let l2sum: f32 = p.grad.data().iter().map(|g| g * g).sum();
                if l2sum > 0.0 {
                    let norm = l2sum.sqrt();
                    if norm > c {
                        // tf.clip_by_norm: t·clip_norm / max(‖t‖, clip_norm).
                        for g in p.grad.data_mut() {
                            *g = *g * c / norm;
                        }
                    }
                }
            }
        } else if let Some(c) = self.global_clipnorm.filter(|&c| c > 0.0) {
            let c = c as f32;
            let sq: f32 = params
                .iter()
                .map(|p| p.grad.data().iter().map(|g| g * g).sum::<f32>())
                .sum();
            let norm = sq.sqrt();
            let scale = c * (1.0 / norm).min(1.0 / c);
            if scale != 1.0 {
                for p in params.iter_mut() {
                    for g in p.grad.data_mut() {
                        *g *= scale;
                    }
                }
            }
        } else if let Some(v) = self.clipvalue.filter(|&v| v > 0.0) {
            let v = v as f32;
            for p in params.iter_mut() {
                for g in p.grad.data_mut() {
                    *g = g.clamp(-v, v);
                }
            }
        }
    }
}

/// Runs `f` with denormal floats flushed to zero (x86's FTZ and DAZ bits), as TensorFlow runs
/// its CPU kernels. Slots that decay geometrically (Adam's momentum of a weight whose gradient
/// stopped) reach the denormal range, where every operation takes a microcode assist of
/// about a hundred cycles: without this an MLP's Adam update took two thirds of its step.
fn flush_denormals<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse"))]
    #[allow(deprecated)]
    {
        use std::arch::x86_64::{_mm_getcsr, _mm_setcsr};
        const FTZ_DAZ: u32 = 0x8040;
        // SAFETY: only the flush-to-zero and denormals-are-zero bits change, on this thread,
        // and the previous control word is restored before returning.
        let old = unsafe { _mm_getcsr() };
        unsafe { _mm_setcsr(old | FTZ_DAZ) };
        let r = f();
        unsafe { _mm_setcsr(old) };
        r
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse")))]
    f()
}

/// The algorithm's update of one variable, in f32 and in Keras's operation order. The loops
/// zip their slices (no bounds checks) so the compiler vectorizes them; every element still
/// sees the same operations in the same order, so results are unchanged.
#[inline(always)]
fn update_step(kind: &OptimizerKind, iterations: i64, lr: f32, g: &[f32], w: &mut [f32], slots: &mut [&mut [f32]]) {
    match *kind {
        OptimizerKind::Sgd { momentum, nesterov } => {
            if momentum == 0.0 {
                for (w, &g) in w.iter_mut().zip(g) {
                    *w -= g * lr;
                }
                return;
            }
            let mo = momentum as f32;
            let m = &mut *slots[0];
            if nesterov {
                for ((w, &g), m) in w.iter_mut().zip(g).zip(m.iter_mut()) {
                    *m = *m * mo - g * lr;
                    *w += *m * mo - g * lr;
                }
            } else {
                for ((w, &g), m) in w.iter_mut().zip(g).zip(m.iter_mut()) {
                    *m = *m * mo - g * lr;
                    *w += *m;
                }
            }
        }
        OptimizerKind::Adam {
            beta_1,
            beta_2,
            epsilon,
            amsgrad,
            ..
        } => {
            let step = (iterations + 1) as f32;
            let b1p = (beta_1 as f32).powf(step);
            let b2p = (beta_2 as f32).powf(step);
            let alpha = lr * (1.0 - b2p).sqrt() / (1.0 - b1p);
            let (c1, c2, eps) = ((1.0 - beta_1) as f32, (1.0 - beta_2) as f32, epsilon as f32);
            let (ms, rest) = slots.split_at_mut(1);
            let (vs, hats) = rest.split_at_mut(1);
            let (m, v) = (&mut *ms[0], &mut *vs[0]);
            if amsgrad {
                let vh = &mut *hats[0];
                for ((((w, &g), m), v), vh) in w
                    .iter_mut()
                    .zip(g)
                    .zip(m.iter_mut())
                    .zip(v.iter_mut())
                    .zip(vh.iter_mut())
                {
                    *m += (g - *m) * c1;
                    *v += (g * g - *v) * c2;
                    // ops.maximum: the larger value (NaN-free inputs).
                    *vh = if *vh >= *v { *vh } else { *v };
                    *w -= (*m * alpha) / (vh.sqrt() + eps);
                }
            } else {
                for (((w, &g), m), v) in w.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
                    *m += (g - *m) * c1;
                    *v += (g * g - *v) * c2;
                    *w -= (*m * alpha) / (v.sqrt() + eps);
                }
            }
        }
        OptimizerKind::RmsProp {
            rho,
            momentum,
            epsilon,
            centered,
        } => {
            let (r, c, eps, mo) = (rho as f32, (1.0 - rho) as f32, epsilon as f32, momentum as f32);
            let mut it = slots.iter_mut().map(|t| &mut **t);
            let Some(vel) = it.next() else { return };
            let mom = if momentum > 0.0 { it.next() } else { None };
            let avg = if centered { it.next() } else { None };
            match (avg, mom) {
                (None, None) => {
                    for ((w, &g), vel) in w.iter_mut().zip(g).zip(vel.iter_mut()) {
                        *vel = r * *vel + c * (g * g);
                        *w -= (lr * g) / (*vel + eps).sqrt();
                    }
                }
                (None, Some(mom)) => {
                    for (((w, &g), vel), m) in w.iter_mut().zip(g).zip(vel.iter_mut()).zip(mom.iter_mut()) {
                        *vel = r * *vel + c * (g * g);
                        *m = mo * *m + (lr * g) / (*vel + eps).sqrt();
                        *w -= *m;
                    }
                }
                (Some(avg), None) => {
                    for (((w, &g), vel), a) in w.iter_mut().zip(g).zip(vel.iter_mut()).zip(avg.iter_mut()) {
                        *vel = r * *vel + c * (g * g);
                        *a = r * *a + c * g;
                        *w -= (lr * g) / (*vel - *a * *a + eps).sqrt();
                    }
                }
                (Some(avg), Some(mom)) => {
                    let zipped = w
                        .iter_mut()
                        .zip(g)
                        .zip(vel.iter_mut())
                        .zip(avg.iter_mut())
                        .zip(mom.iter_mut());
                    for ((((w, &g), vel), a), m) in zipped {
                        *vel = r * *vel + c * (g * g);
                        *a = r * *a + c * g;
                        *m = mo * *m + (lr * g) / (*vel - *a * *a + eps).sqrt();
                        *w -= *m;
                    }
                }
            }
        }
        OptimizerKind::Adagrad { epsilon, .. } => {
            let eps = epsilon as f32;
            let acc = &mut *slots[0];
            for ((w, &g), a) in w.iter_mut().zip(g).zip(acc.iter_mut()) {
                *a += g * g;
                *w -= (lr * g) / (*a + eps).sqrt();
            }
        }
    }
}
