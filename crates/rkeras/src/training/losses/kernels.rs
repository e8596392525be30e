//! The per-row loss formulas and their gradients, as TensorFlow computes them: cross-entropy
//! from probabilities (clipped to `[1e-7, 1 − 1e-7]`) or from logits, and the regression
//! losses. Each returns the row's loss and, when given a gradient buffer, writes
//! `upstream · ∂loss/∂pred` into it.

use super::{Loss, EPSILON};

pub(super) fn smooth(t: &[f32], s: f32, k: f32) -> Vec<f32> {
    if s == 0.0 {
        return t.to_vec();
    }
    t.iter().map(|&y| y * (1.0 - s) + s / k).collect()
}

fn log_sum_exp(z: &[f32]) -> f32 {
    let m = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    m + z.iter().map(|&v| (v - m).exp()).sum::<f32>().ln()
}

/// TF: from probabilities, `sparse_softmax_cross_entropy_with_logits(log(clip(p)))`, i.e.
/// `−log pc_y + log Σ pc`; from logits `lse(z) − z_y`.
pub(super) fn sparse_ce(p: &[f32], y: usize, from_logits: bool, d: Option<&mut [f32]>, up: f32) -> f32 {
    if from_logits {
        let lse = log_sum_exp(p);
        if let Some(d) = d {
            for (j, dj) in d.iter_mut().enumerate() {
                *dj = up * ((p[j] - lse).exp() - if j == y { 1.0 } else { 0.0 });
            }
        }
        return lse - p[y];
    }
    let pc: Vec<f32> = p.iter().map(|v| v.clamp(EPSILON, 1.0 - EPSILON)).collect();
    let s: f32 = pc.iter().sum();
    if let Some(d) = d {
        for (j, dj) in d.iter_mut().enumerate() {
            let inside = p[j] >= EPSILON && p[j] <= 1.0 - EPSILON;
            let g = 1.0 / s - if j == y { 1.0 / pc[y] } else { 0.0 };
            *dj = if inside { up * g } else { 0.0 };
        }
    }
    -pc[y].ln() + s.ln()
}

/// TF: from probabilities, `q = p/Σp`, `−Σ y·log clip(q)`; from logits `Σ y·(lse(z) − z)`.
pub(super) fn categorical_ce(p: &[f32], t: &[f32], from_logits: bool, d: Option<&mut [f32]>, up: f32) -> f32 {
    if from_logits {
        let lse = log_sum_exp(p);
        let ty: f32 = t.iter().sum();
        if let Some(d) = d {
            for (j, dj) in d.iter_mut().enumerate() {
                *dj = up * ((p[j] - lse).exp() * ty - t[j]);
            }
        }
        return t.iter().zip(p).map(|(y, z)| y * (lse - z)).sum();
    }
    let s: f32 = p.iter().sum();
    let q: Vec<f32> = p.iter().map(|v| v / s).collect();
    let qc: Vec<f32> = q.iter().map(|v| v.clamp(EPSILON, 1.0 - EPSILON)).collect();
    if let Some(d) = d {
        // dL/dq_j (through the clip), then through q = p/s.
        let dq: Vec<f32> = (0..p.len())
            .map(|j| {
                if q[j] >= EPSILON && q[j] <= 1.0 - EPSILON {
                    -t[j] / qc[j]
                } else {
                    0.0
                }
            })
            .collect();
        let dot: f32 = dq.iter().zip(&q).map(|(a, b)| a * b).sum();
        for (j, dj) in d.iter_mut().enumerate() {
            *dj = up * (dq[j] - dot) / s;
        }
    }
    -t.iter().zip(&qc).map(|(y, q)| y * q.ln()).sum::<f32>()
}

/// TF: from probabilities `−(y·log pc + (1−y)·log(1−pc))`, from logits
/// `max(z,0) − z·y + log(1 + e^−|z|)`; averaged over the last axis.
pub(super) fn binary_ce(p: &[f32], t: &[f32], from_logits: bool, mut d: Option<&mut [f32]>, up: f32) -> f32 {
    let c = p.len() as f32;
    let mut sum = 0.0f32;
    for j in 0..p.len() {
        let (z, y) = (p[j], t[j]);
        if from_logits {
            sum += z.max(0.0) - z * y + (-z.abs()).exp().ln_1p();
            if let Some(d) = d.as_deref_mut() {
                let sig = 1.0 / (1.0 + (-z).exp());
                d[j] = up * (sig - y) / c;
            }
        } else {
            let pc = z.clamp(EPSILON, 1.0 - EPSILON);
            sum += -(y * pc.ln() + (1.0 - y) * (1.0 - pc).ln());
            if let Some(d) = d.as_deref_mut() {
                let inside = (EPSILON..=1.0 - EPSILON).contains(&z);
                d[j] = if inside {
                    up * (-(y / pc) + (1.0 - y) / (1.0 - pc)) / c
                } else {
                    0.0
                };
            }
        }
    }
    sum / c
}

pub(super) fn regression(loss: &Loss, p: &[f32], t: &[f32], mut d: Option<&mut [f32]>, up: f32) -> f32 {
    let c = p.len() as f32;
    let mut sum = 0.0f32;
    for j in 0..p.len() {
        let e = p[j] - t[j];
        let (v, g) = match *loss {
            Loss::MeanSquaredError => (e * e, 2.0 * e),
            Loss::MeanAbsoluteError => (
                e.abs(),
                if e > 0.0 {
                    1.0
                } else if e < 0.0 {
                    -1.0
                } else {
                    0.0
                },
            ),
            Loss::Huber { delta } => {
                let delta = delta as f32;
                if e.abs() <= delta {
                    (0.5 * e * e, e)
                } else {
                    (delta * e.abs() - 0.5 * delta * delta, delta * e.signum())
                }
            }
            _ => (0.0, 0.0),
        };
        sum += v;
        if let Some(d) = d.as_deref_mut() {
            d[j] = up * g / c;
        }
    }
    sum / c
}
