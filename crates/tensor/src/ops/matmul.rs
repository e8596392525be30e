//! Matrix products on the GEMM door (`ops::gemm::sgemm`).
//!
//! - `matmul(a (…, m, k), b (k, n)) → (…, m, n)`: a rank-2 `b` multiplies `a`'s last axis,
//!   which is what `Dense` does on a rank-N input; the leading axes are flattened into one
//!   GEMM. A rank-1 `a (k)` gives `(n)`.
//! - Batched: `a (…, m, k)` and `b (…, k, n)` of the same rank and equal leading axes give
//!   `(…, m, n)`, one GEMM per batch element, spread over rayon's threads.
//! - `matmul_t` takes `Trans` flags: with `Trans::Yes` an operand's last two axes are read
//!   transposed (`a (…, k, m)`, `b (n, k)`), without copying.
//! - `linear(x (…, in), w (in, out), bias (out)) → (…, out)`: the bias is written into the
//!   output first and the GEMM accumulates onto it, so it costs no extra pass.
//!
//! Threading: one large product uses gemm's own threads (gemm keeps small products on one
//! thread); many small ones run one per rayon task, single-threaded.

use rayon::prelude::*;

use crate::autograd::{Tape, Var};
use crate::error::{shape_err, Result};
use crate::ops::elementwise::sum_to_shape;
use crate::ops::gemm::{sgemm, GemmThreads, Trans, PARALLEL_MIN_FLOPS};
use crate::tensor::{numel, Tensor};

fn flip(t: Trans) -> Trans {
    match t {
        Trans::No => Trans::Yes,
        Trans::Yes => Trans::No,
    }
}

fn all_threads() -> GemmThreads {
    GemmThreads::Rayon(rayon::current_num_threads())
}

/// How a (possibly batched) product maps onto GEMMs: `batch` products of `m×k · k×n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatmulPlan {
    /// Number of independent products (leading axes of a batched product).
    pub batch: usize,
    /// Rows of each product's output.
    pub m: usize,
    /// Columns of each product's output.
    pub n: usize,
    /// The contracted size.
    pub k: usize,
    /// True when one `b` serves every batch element (`b` has rank 2).
    pub shared_b: bool,
    /// `a` read transposed.
    pub ta: Trans,
    /// `b` read transposed.
    pub tb: Trans,
    /// The output's shape.
    pub out_shape: Vec<usize>,
}

/// The plan of `op(a) · op(b)`, or an error saying which axes disagree.
pub fn matmul_plan(a: &[usize], ta: Trans, b: &[usize], tb: Trans) -> Result<MatmulPlan> {
    let need_a = if ta == Trans::Yes { 2 } else { 1 };
    if a.len() < need_a {
        return shape_err(
            "matmul",
            format!(
                "a must have rank ≥ {need_a}{}, received shape {a:?}",
                if ta == Trans::Yes { " when transposed" } else { "" }
            ),
        );
    }
    if b.len() < 2 {
        return shape_err("matmul", format!("b must have rank ≥ 2, received shape {b:?}"));
    }
    let (bk, n) = match tb {
        Trans::No => (b[b.len() - 2], b[b.len() - 1]),
        Trans::Yes => (b[b.len() - 1], b[b.len() - 2]),
    };
    let (k, m, lead) = match ta {
        Trans::No if a.len() == 1 => (a[0], 1, &a[..0]),
        Trans::No => (a[a.len() - 1], a[a.len() - 2], &a[..a.len() - 2]),
        Trans::Yes => (a[a.len() - 2], a[a.len() - 1], &a[..a.len() - 2]),
    };
    let which = |t: Trans, last: bool| match (t, last) {
        (Trans::No, true) | (Trans::Yes, false) => "last axis",
        _ => "second-to-last axis",
    };
    if k != bk {
        return shape_err(
            "matmul",
            format!(
                "a {a:?} and b {b:?} do not fit: a's {} is {k} but b's {} is {bk}",
                which(ta, true),
                which(tb, false)
            ),
        );
    }
    let mut out_shape = lead.to_vec();
    if b.len() == 2 {
        if a.len() > 1 || ta == Trans::Yes {
            out_shape.push(m);
        }
        out_shape.push(n);
        // Without a transposed `a`, every leading axis folds into the rows of one GEMM.
        let (batch, m) = if ta == Trans::No {
            (1, m * numel(lead))
        } else {
            (numel(lead), m)
        };
        return Ok(MatmulPlan {
            batch,
            m,
            n,
            k,
            shared_b: true,
            ta,
            tb,
            out_shape,
        });
    }
    let b_lead = &b[..b.len() - 2];
    if a.len() != b.len() || lead != b_lead {
        return shape_err(
            "matmul",
            format!("batched product needs equal leading axes: a {a:?} has {lead:?}, b {b:?} has {b_lead:?}"),
        );
    }
    out_shape.extend([m, n]);
    Ok(MatmulPlan {
        batch: numel(lead),
        m,
        n,
        k,
        shared_b: false,
        ta,
        tb,
        out_shape,
    })
}

/// `batch` products `c_i (α·c_i +) op(a_i)·op(b_i)`; a stride of 0 shares an operand, and
/// `c_stride == 0` sums every product into one `c` (the gradient of a shared `b`).
#[allow(clippy::too_many_arguments)]
fn gemm_batched(
    (batch, m, n, k): (usize, usize, usize, usize),
    a: &[f32],
    a_stride: usize,
    ta: Trans,
    b: &[f32],
    b_stride: usize,
    tb: Trans,
    c: &mut [f32],
    c_stride: usize,
    alpha: f32,
) -> Result<()> {
    if batch == 0 {
        return Ok(());
    }
    // Product `i` into `ci`, `ci ← α·ci + op(a_i)·op(b_i)`.
    let product = |i: usize, ci: &mut [f32], alpha: f32, threads: GemmThreads| {
        sgemm(
            m,
            n,
            k,
            &a[i * a_stride..],
            ta,
            &b[i * b_stride..],
            tb,
            ci,
            alpha,
            1.0,
            threads,
        )
    };
    if batch == 1 || c_stride == 0 {
        for i in 0..batch {
            product(i, c, if i == 0 { alpha } else { 1.0 }, all_threads())?;
        }
        return Ok(());
    }
    let c = &mut c[..batch * c_stride];
    if m * n * k >= PARALLEL_MIN_FLOPS {
        for (i, ci) in c.chunks_mut(c_stride).enumerate() {
            product(i, ci, alpha, all_threads())?;
        }
        return Ok(());
    }
    c.par_chunks_mut(c_stride)
        .enumerate()
        .try_for_each(|(i, ci)| product(i, ci, alpha, GemmThreads::Single))
}

/// `op(a) · op(b)` (see the module header for the shapes).
pub fn matmul_t(a: &Tensor, ta: Trans, b: &Tensor, tb: Trans) -> Result<Tensor> {
    let p = matmul_plan(a.shape(), ta, b.shape(), tb)?;
    let mut out = vec![0.0f32; numel(&p.out_shape)];
    let b_stride = if p.shared_b { 0 } else { p.k * p.n };
    gemm_batched(
        (p.batch, p.m, p.n, p.k),
        a.data(),
        p.m * p.k,
        ta,
        b.data(),
        b_stride,
        tb,
        &mut out,
        p.m * p.n,
        0.0,
    )?;
    Tensor::new(&p.out_shape, out)
}

/// `a · b`: `(…, m, k)·(k, n) → (…, m, n)`, or batched `(…, m, k)·(…, k, n)`.
pub fn matmul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    matmul_t(a, Trans::No, b, Trans::No)
}

/// Reference kernel: the triple loop, reading transposed operands by index.
pub fn matmul_naive(a: &Tensor, ta: Trans, b: &Tensor, tb: Trans) -> Result<Tensor> {
    let p = matmul_plan(a.shape(), ta, b.shape(), tb)?;
    let (m, n, k) = (p.m, p.n, p.k);
    let mut out = vec![0.0f32; numel(&p.out_shape)];
    for bi in 0..p.batch {
        let ab = &a.data()[bi * m * k..];
        let bb = if p.shared_b { b.data() } else { &b.data()[bi * k * n..] };
        for i in 0..m {
            for j in 0..n {
                let mut s = 0.0f32;
                for q in 0..k {
                    let av = if ta == Trans::No { ab[i * k + q] } else { ab[q * m + i] };
                    let bv = if tb == Trans::No { bb[q * n + j] } else { bb[j * k + q] };
                    s += av * bv;
                }
                out[bi * m * n + i * n + j] = s;
            }
        }
    }
    Tensor::new(&p.out_shape, out)
}

/// Gradients of `c = op(a)·op(b)` for the inputs in `need`.
pub fn matmul_backward(
    grad: &Tensor,
    a: &Tensor,
    ta: Trans,
    b: &Tensor,
    tb: Trans,
    need: [bool; 2],
) -> Result<Vec<Option<Tensor>>> {
    let p = matmul_plan(a.shape(), ta, b.shape(), tb)?;
    if grad.shape() != p.out_shape {
        return shape_err(
            "matmul",
            format!(
                "gradient shape {:?} differs from the output's {:?}",
                grad.shape(),
                p.out_shape
            ),
        );
    }
    let (batch, m, n, k) = (p.batch, p.m, p.n, p.k);
    let (sa, sb, sc) = (m * k, if p.shared_b { 0 } else { k * n }, m * n);
    let g = grad.data();
    let mut out = vec![None, None];
    if need[0] {
        let mut da = vec![0.0f32; a.len()];
        match ta {
            // dA = dC · op(B)ᵀ
            Trans::No => gemm_batched(
                (batch, m, k, n),
                g,
                sc,
                Trans::No,
                b.data(),
                sb,
                flip(tb),
                &mut da,
                sa,
                0.0,
            )?,
            // dA (k×m) = op(B) · dCᵀ
            Trans::Yes => gemm_batched((batch, k, m, n), b.data(), sb, tb, g, sc, Trans::Yes, &mut da, sa, 0.0)?,
        }
        out[0] = Some(Tensor::new(a.shape(), da)?);
    }
    if need[1] {
        let mut db = vec![0.0f32; b.len()];
        let cs = if p.shared_b { 0 } else { k * n };
        match tb {
            // dB = op(A)ᵀ · dC
            Trans::No => gemm_batched(
                (batch, k, n, m),
                a.data(),
                sa,
                flip(ta),
                g,
                sc,
                Trans::No,
                &mut db,
                cs,
                0.0,
            )?,
            // dB (n×k) = dCᵀ · op(A)
            Trans::Yes => gemm_batched((batch, n, k, m), g, sc, Trans::Yes, a.data(), sa, ta, &mut db, cs, 0.0)?,
        }
        out[1] = Some(Tensor::new(b.shape(), db)?);
    }
    Ok(out)
}

fn linear_dims(x: &[usize], w: &[usize], bias: Option<&[usize]>) -> Result<(usize, usize, usize, Vec<usize>)> {
    if w.len() != 2 {
        return shape_err("linear", format!("kernel must have shape (in, out), received {w:?}"));
    }
    let (fan_in, fan_out) = (w[0], w[1]);
    if x.last() != Some(&fan_in) {
        return shape_err(
            "linear",
            format!("input {x:?} does not fit kernel {w:?}: its last axis must be {fan_in}"),
        );
    }
    if let Some(bs) = bias {
        if bs != [fan_out] {
            return shape_err(
                "linear",
                format!("bias must have shape [{fan_out}] for kernel {w:?}, received {bs:?}"),
            );
        }
    }
    let mut out_shape = x.to_vec();
    *out_shape.last_mut().unwrap_or(&mut 0) = fan_out;
    Ok((numel(x) / fan_in.max(1), fan_in, fan_out, out_shape))
}

/// `x · w + bias` over `x`'s last axis: `(…, in)·(in, out) + (out) → (…, out)` (`Dense`).
pub fn linear(x: &Tensor, w: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    let (rows, fan_in, fan_out, out_shape) = linear_dims(x.shape(), w.shape(), bias.map(|b| b.shape()))?;
    let mut out = crate::kernels::zeros(rows * fan_out);
    // The GEMM accumulates onto the bias rows (α = 1); with in = 0 it leaves them as they are.
    let alpha = match bias {
        Some(b) if fan_out > 0 => {
            out.chunks_exact_mut(fan_out).for_each(|r| r.copy_from_slice(b.data()));
            1.0
        }
        _ => 0.0,
    };
    sgemm(
        rows,
        fan_out,
        fan_in,
        x.data(),
        Trans::No,
        w.data(),
        Trans::No,
        &mut out,
        alpha,
        1.0,
        all_threads(),
    )?;
    Tensor::new(&out_shape, out)
}

/// Reference for [`linear`]: a dot product per output element, then the bias.
pub fn linear_naive(x: &Tensor, w: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    let (rows, fan_in, fan_out, out_shape) = linear_dims(x.shape(), w.shape(), bias.map(|b| b.shape()))?;
    let mut out = crate::kernels::zeros(rows * fan_out);
    for r in 0..rows {
        for j in 0..fan_out {
            let dot: f32 = (0..fan_in)
                .map(|q| x.data()[r * fan_in + q] * w.data()[q * fan_out + j])
                .sum();
            out[r * fan_out + j] = dot + bias.map_or(0.0, |b| b.data()[j]);
        }
    }
    Tensor::new(&out_shape, out)
}

/// Whether a dense layer's input gradient runs on the convolution kernels: a product large
/// enough to pay for packing `Wᵀ` (the CIFAR CNN's 2304→512: 1.6–2.0 ms in `gemm`, whose
/// transposed-B reads ran at ~47 GFLOP/s).
fn dense_input_grad_on_kernels(rows: usize, fan_in: usize, fan_out: usize) -> bool {
    rows >= 8 && fan_out >= 64 && fan_in * fan_out >= 1 << 18
}

/// `dx = dy · Wᵀ` on the implicit-GEMM kernels, as a 1×1 convolution either way round:
/// - few rows (a batch against a wide layer: the CIFAR CNN's 32 rows against 2304 → 512):
///   `dxᵀ = W · dyᵀ`, `W`'s rows the pixels read in place and `dy` the packed weights, then
///   `dxᵀ` transposed (`rows·fan_in` values), instead of packing all of `Wᵀ` on every call;
/// - else `dy`'s rows the pixels and `Wᵀ` packed straight from `W`'s rows.
fn dense_input_grad(gy: &[f32], w: &[f32], rows: usize, fan_in: usize, fan_out: usize) -> Result<Vec<f32>> {
    let transposed = rows * DENSE_ROWS_PER_INPUT <= fan_in;
    let (pixels, channels, x, packed_rows) = if transposed {
        (fan_in, rows, w, gy)
    } else {
        (rows, fan_in, gy, w)
    };
    let product = pointwise_product(x, packed_rows, pixels, fan_out, channels)?;
    if !transposed {
        return Ok(product);
    }
    let mut dx = vec![0.0f32; rows * fan_in];
    for (i, col) in product.chunks_exact(rows).enumerate() {
        for (r, &v) in col.iter().enumerate() {
            dx[r * fan_in + i] = v;
        }
    }
    Ok(dx)
}

/// [`dense_input_grad`] reads `W` in place when the rows are at most this share of `fan_in`.
const DENSE_ROWS_PER_INPUT: usize = 4;

/// `x (pixels × depth) · mᵀ` for a row-major `m` (`cout × depth`), as a 1×1 convolution of
/// `x` with `mᵀ` packed straight from `m`'s rows.
fn pointwise_product(x: &[f32], m: &[f32], pixels: usize, depth: usize, cout: usize) -> Result<Vec<f32>> {
    use crate::kernels::conv::{ConvArgs, PackedWeights, Weights};
    let isa = crate::kernels::isa();
    let packed = PackedWeights::pack_transposed(isa, m, cout, depth)?;
    let geometry = crate::ops::conv::conv2d_geometry(
        "dense_backward",
        &[pixels, 1, 1, depth],
        &[1, 1, depth, cout],
        &crate::ops::conv::Conv2dParams::default(),
    )?;
    let mut y = crate::kernels::zeros(pixels * cout);
    crate::kernels::conv::conv2d(
        isa,
        ConvArgs {
            geometry: &geometry,
            x,
            weights: Weights::Packed(&packed),
            epilogue: crate::kernels::act::Epilogue::linear(),
            residual: None,
            y: &mut y,
            y_stride: cout,
            prologue: None,
        },
    )?;
    Ok(y)
}

/// Gradients of [`linear`] for `x`, `w` and (when present) `bias`, those in `need` only.
pub fn linear_backward(
    grad: &Tensor,
    x: &Tensor,
    w: &Tensor,
    has_bias: bool,
    need: [bool; 3],
) -> Result<Vec<Option<Tensor>>> {
    let (rows, fan_in, fan_out, _) = linear_dims(x.shape(), w.shape(), None)?;
    let g = grad.data();
    let mut out = Vec::with_capacity(3);
    out.push(if need[0] && dense_input_grad_on_kernels(rows, fan_in, fan_out) {
        let dx = dense_input_grad(g, w.data(), rows, fan_in, fan_out)?;
        Some(Tensor::new(x.shape(), dx)?)
    } else if need[0] {
        let mut dx = vec![0.0f32; x.len()];
        sgemm(
            rows,
            fan_in,
            fan_out,
            g,
            Trans::No,
            w.data(),
            Trans::Yes,
            &mut dx,
            0.0,
            1.0,
            all_threads(),
        )?;
        Some(Tensor::new(x.shape(), dx)?)
    } else {
        None
    });
    out.push(if need[1] {
        let mut dw = vec![0.0f32; w.len()];
        sgemm(
            fan_in,
            fan_out,
            rows,
            x.data(),
            Trans::Yes,
            g,
            Trans::No,
            &mut dw,
            0.0,
            1.0,
            all_threads(),
        )?;
        Some(Tensor::new(w.shape(), dw)?)
    } else {
        None
    });
    if has_bias {
        out.push(if need[2] {
            Some(sum_to_shape(grad, &[fan_out])?)
        } else {
            None
        });
    }
    Ok(out)
}

impl Tape {
    /// `op(a) · op(b)` on the tape.
    pub fn matmul_t(&mut self, a: Var, ta: Trans, b: Var, tb: Trans) -> Result<Var> {
        let value = matmul_t(self.try_value(a)?, ta, self.try_value(b)?, tb)?;
        let need = [self.requires_grad(a), self.requires_grad(b)];
        self.record(
            value,
            &[a, b],
            Box::new(move |g, ins, _| matmul_backward(g, ins[0], ta, ins[1], tb, need)),
        )
    }

    /// `a · b` on the tape.
    pub fn matmul(&mut self, a: Var, b: Var) -> Result<Var> {
        self.matmul_t(a, Trans::No, b, Trans::No)
    }

    /// `x · w + bias` over `x`'s last axis, bias fused (`Dense`).
    pub fn linear(&mut self, x: Var, w: Var, bias: Option<Var>) -> Result<Var> {
        let value = {
            let b = match bias {
                Some(b) => Some(self.try_value(b)?),
                None => None,
            };
            linear(self.try_value(x)?, self.try_value(w)?, b)?
        };
        let need = [
            self.requires_grad(x),
            self.requires_grad(w),
            bias.is_some_and(|b| self.requires_grad(b)),
        ];
        let mut inputs = vec![x, w];
        inputs.extend(bias);
        let has_bias = bias.is_some();
        self.record(
            value,
            &inputs,
            Box::new(move |g, ins, _| linear_backward(g, ins[0], ins[1], has_bias, need)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::check_gradients;
    use crate::ops::test_util::random;
    use crate::rng::Rng;

    /// A large dense layer's input gradient on the convolution kernels, both ways round (`W`
    /// read in place against packed `dy` for few rows, `Wᵀ` packed from `W`'s rows for many),
    /// is `dy · Wᵀ` summed in f64, on every instruction set, for row counts and widths that
    /// are not multiples of the tiles (and the CIFAR CNN's 32 × 2304 → 512).
    #[test]
    fn dense_input_grad_on_the_kernels_matches_f64_sums() {
        let mut rng = Rng::new(12);
        let cases = [
            (9, 700, 450),
            (32, 2304, 512),
            (13, 515, 513),
            (200, 600, 450),
            (131, 517, 600),
        ];
        let transposed = cases.iter().filter(|c| c.0 * DENSE_ROWS_PER_INPUT <= c.1).count();
        assert!(transposed > 0 && transposed < cases.len(), "both ways round");
        for (rows, fan_in, fan_out) in cases {
            assert!(dense_input_grad_on_kernels(rows, fan_in, fan_out));
            let (gy, w) = (random(&mut rng, &[rows, fan_out]), random(&mut rng, &[fan_in, fan_out]));
            let dx = dense_input_grad(gy.data(), w.data(), rows, fan_in, fan_out).unwrap();
            for r in 0..rows {
                for i in 0..fan_in {
                    let want: f64 = (0..fan_out)
                        .map(|o| gy.data()[r * fan_out + o] as f64 * w.data()[i * fan_out + o] as f64)
                        .sum();
                    let got = dx[r * fan_in + i] as f64;
                    assert!(
                        (got - want).abs() <= 1e-4 * (1.0 + want.abs()),
                        "({rows}, {fan_in}, {fan_out}) [{r}, {i}]: {got} vs {want}"
                    );
                }
            }
        }
    }

    fn stored(shape: &[usize], t: Trans) -> Vec<usize> {
        let mut s = shape.to_vec();
        let r = s.len();
        if t == Trans::Yes {
            s.swap(r - 2, r - 1);
        }
        s
    }

    const FLAGS: [(Trans, Trans); 4] = [
        (Trans::No, Trans::No),
        (Trans::No, Trans::Yes),
        (Trans::Yes, Trans::No),
        (Trans::Yes, Trans::Yes),
    ];

    #[test]
    fn hand_checked_products() {
        let a = Tensor::new(&[2, 2], vec![1.0, 2.0, 3.0, 4.0]).unwrap();
        let b = Tensor::new(&[2, 2], vec![5.0, 6.0, 7.0, 8.0]).unwrap();
        assert_eq!(matmul(&a, &b).unwrap().data(), &[19.0, 22.0, 43.0, 50.0]);
        // aᵀ·b = [[1, 3], [2, 4]]·b
        assert_eq!(
            matmul_t(&a, Trans::Yes, &b, Trans::No).unwrap().data(),
            &[26.0, 30.0, 38.0, 44.0]
        );
        // Dense on a rank-3 input multiplies the last axis.
        let x = Tensor::arange(&[2, 3, 2]);
        let y = matmul(&x, &Tensor::ones(&[2, 4])).unwrap();
        assert_eq!(y.shape(), &[2, 3, 4]);
        assert_eq!(&y.data()[..8], &[1.0, 1.0, 1.0, 1.0, 5.0, 5.0, 5.0, 5.0]);
        let v = matmul(&Tensor::new(&[2], vec![1.0, 2.0]).unwrap(), &b).unwrap();
        assert_eq!((v.shape(), v.data()), (&[2usize][..], &[19.0f32, 22.0][..]));
        // Batched: identity times b, twice.
        let eye = Tensor::new(&[2, 2, 2], vec![1.0, 0.0, 0.0, 1.0, 2.0, 0.0, 0.0, 2.0]).unwrap();
        let bb = Tensor::new(&[2, 2, 2], vec![5.0, 6.0, 7.0, 8.0, 1.0, 2.0, 3.0, 4.0]).unwrap();
        assert_eq!(
            matmul(&eye, &bb).unwrap().data(),
            &[5.0, 6.0, 7.0, 8.0, 2.0, 4.0, 6.0, 8.0]
        );
        let l = linear(&a, &b, Some(&Tensor::new(&[2], vec![0.5, -1.0]).unwrap())).unwrap();
        assert_eq!(l.data(), &[19.5, 21.0, 43.5, 49.0]);
    }

    #[test]
    fn fast_matches_naive_on_random_shapes() {
        let mut rng = Rng::new(21);
        for case in 0..120 {
            let (ta, tb) = FLAGS[case % 4];
            let (m, n, k) = (1 + rng.below(17), 1 + rng.below(17), 1 + rng.below(17));
            let lead: Vec<usize> = (0..rng.below(3)).map(|_| 1 + rng.below(4)).collect();
            let batched = case % 3 == 0 && !lead.is_empty();
            let a_shape = stored(&[lead.clone(), vec![m, k]].concat(), ta);
            let b_shape = stored(
                &if batched {
                    [lead.clone(), vec![k, n]].concat()
                } else {
                    vec![k, n]
                },
                tb,
            );
            let (a, b) = (random(&mut rng, &a_shape), random(&mut rng, &b_shape));
            let fast = matmul_t(&a, ta, &b, tb).unwrap();
            let slow = matmul_naive(&a, ta, &b, tb).unwrap();
            assert!(
                fast.allclose(&slow, 1e-5, 1e-4),
                "{a_shape:?} {ta:?} {b_shape:?} {tb:?}"
            );
            let bias = random(&mut rng, &[n]);
            let x = random(&mut rng, &[lead.clone(), vec![m, k]].concat());
            let w = random(&mut rng, &[k, n]);
            for bias in [None, Some(&bias)] {
                assert!(linear(&x, &w, bias)
                    .unwrap()
                    .allclose(&linear_naive(&x, &w, bias).unwrap(), 1e-5, 1e-4));
            }
        }
    }

    #[test]
    fn large_products_use_threads_and_stay_right() {
        let mut rng = Rng::new(4);
        let a = random(&mut rng, &[3, 200, 150]);
        let b = random(&mut rng, &[150, 170]);
        assert!(matmul(&a, &b)
            .unwrap()
            .allclose(&matmul_naive(&a, Trans::No, &b, Trans::No).unwrap(), 1e-4, 1e-4));
        let bb = random(&mut rng, &[3, 150, 170]);
        assert!(matmul(&a, &bb)
            .unwrap()
            .allclose(&matmul_naive(&a, Trans::No, &bb, Trans::No).unwrap(), 1e-4, 1e-4));
    }

    #[test]
    fn gradients_match_finite_differences() {
        let mut rng = Rng::new(9);
        for (ta, tb) in FLAGS {
            for (lead, batched) in [(vec![], false), (vec![2], false), (vec![2], true), (vec![2, 1], true)] {
                let a = random(&mut rng, &stored(&[lead.clone(), vec![3, 4]].concat(), ta));
                let b_shape = if batched {
                    [lead.clone(), vec![4, 2]].concat()
                } else {
                    vec![4, 2]
                };
                let b = random(&mut rng, &stored(&b_shape, tb));
                check_gradients(&[a, b], |tp, v| tp.matmul_t(v[0], ta, v[1], tb), 1e-2, 1e-2)
                    .unwrap_or_else(|e| panic!("{ta:?} {tb:?} {lead:?} {batched}: {e}"));
            }
        }
        let v = random(&mut rng, &[3]);
        check_gradients(
            &[v, random(&mut rng, &[3, 2])],
            |tp, x| tp.matmul(x[0], x[1]),
            1e-2,
            1e-2,
        )
        .unwrap();
    }

    #[test]
    fn linear_gradients_match_finite_differences() {
        let mut rng = Rng::new(10);
        let x = random(&mut rng, &[2, 3, 4]);
        let w = random(&mut rng, &[4, 5]);
        let b = random(&mut rng, &[5]);
        check_gradients(
            &[x.clone(), w.clone(), b],
            |tp, v| tp.linear(v[0], v[1], Some(v[2])),
            1e-2,
            1e-2,
        )
        .unwrap();
        check_gradients(&[x, w], |tp, v| tp.linear(v[0], v[1], None), 1e-2, 1e-2).unwrap();
    }

    #[test]
    fn constant_inputs_get_no_gradient_work() {
        let mut tape = Tape::new();
        let x = tape.constant(Tensor::ones(&[2, 3]));
        let w = tape.param(Tensor::ones(&[3, 2]));
        let y = tape.linear(x, w, None).unwrap();
        let s = tape.sum_all(y).unwrap();
        let g = tape.backward(s).unwrap();
        assert!(g.get(x).is_none());
        assert_eq!(g.get(w).unwrap().data(), &[2.0; 6]);
    }

    #[test]
    fn mismatched_shapes_are_errors() {
        let e = matmul(&Tensor::zeros(&[2, 3]), &Tensor::zeros(&[4, 5]))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "matmul: a [2, 3] and b [4, 5] do not fit: a's last axis is 3 but b's second-to-last axis is 4"
        );
        assert!(matmul(&Tensor::zeros(&[2, 3]), &Tensor::zeros(&[3])).is_err());
        assert!(matmul_t(&Tensor::zeros(&[3]), Trans::Yes, &Tensor::zeros(&[3, 2]), Trans::No).is_err());
        let e = matmul(&Tensor::zeros(&[2, 2, 3]), &Tensor::zeros(&[3, 3, 4]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("equal leading axes"), "{e}");
        assert!(matmul(&Tensor::zeros(&[2, 2, 3]), &Tensor::zeros(&[1, 2, 3, 4])).is_err());
        let e = linear(&Tensor::zeros(&[2, 3]), &Tensor::zeros(&[4, 5]), None)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "linear: input [2, 3] does not fit kernel [4, 5]: its last axis must be 4"
        );
        assert!(linear(
            &Tensor::zeros(&[2, 4]),
            &Tensor::zeros(&[4, 5]),
            Some(&Tensor::zeros(&[4]))
        )
        .is_err());
        assert!(linear(&Tensor::zeros(&[2, 4]), &Tensor::zeros(&[4, 5, 1]), None).is_err());
        let (a, b) = (Tensor::zeros(&[3, 2, 3]), Tensor::zeros(&[3, 2, 4]));
        assert!(matmul_backward(&Tensor::zeros(&[1, 2, 4]), &a, Trans::No, &b, Trans::Yes, [true, true]).is_err());
        assert!(linear_backward(
            &Tensor::zeros(&[1, 5]),
            &Tensor::zeros(&[2, 4]),
            &Tensor::zeros(&[4, 5]),
            true,
            [true; 3]
        )
        .is_err());
    }
}
