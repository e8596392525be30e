//! Stride-1 convolution by Winograd's minimal filtering F(4×4, 3×3) (Lavin & Gray, 2015):
//! each 4×4 block of output pixels is `Aᵀ [ Σ_c (G g Gᵀ) ⊙ (Bᵀ d B) ] A` over 6×6 input
//! windows `d`, so the multiply-adds per output value are 36/16 = 2.25 per channel pair
//! instead of 9 — four times fewer — at the cost of three cheap transforms. F(2×2, 3×3)
//! (2×2 blocks from 4×4 windows, 16/4 = 4 per pair) runs the same passes with 16 matrices
//! ([`Variant`]) where the 36 would cost too much memory. InceptionV3's factorized 7×7s
//! (1×7 and 7×1 kernels) run F(2, 7) along their rows or columns: 2 outputs from 8 inputs,
//! 8 matrices, 4 products per output and channel pair instead of 7 (1.14–1.42× their implicit
//! GEMM in the kernels bench), and its 1×3 and 3×1 kernels F(4, 3) (F(4×4, 3×3)'s matrices
//! along one axis: 4 outputs from 6 inputs, 1.5 products instead of 3; 1.86× at 8×8, batch
//! 8). Below, "36" is F(4×4)'s count.
//!
//! - The kernel is transformed once (`U = G g Gᵀ`, in f64, then rounded) into 36 matrices
//!   `cin × cout`, prepacked for the GEMM microkernels as one `36·cin`-deep panel set
//!   ([`WinogradWeights`]).
//! - Output tiles are taken in blocks sized for the caches, each in three passes: the input
//!   transform (`V = Bᵀ d B` per tile and channel, zeros where the window leaves the image:
//!   any `same`/`valid` padding), then 36 GEMMs `V[ξ] (tiles × cin) · U[ξ] (cin × cout)` on
//!   the register tiles of [`super::gemm`] (the depth summed in [`SUM_CHUNK`]-channel chunks,
//!   as the implicit GEMM does), then the output transform with the epilogue (bias, residual,
//!   activation) into the output at its pixel stride. A block keeps each tile's 36 rows
//!   together (`slot_at`), so each tile's transforms touch one contiguous stretch. With few channels each worker runs
//!   the passes over blocks of its own in L2; with many, the team shares each block (in L3),
//!   each pass split over the workers, so the weights are read once per block.
//!
//! The transforms are plain Rust over 16-channel vectors, compiled for the kernels'
//! instruction set ([`super::vectorized`]). The result differs from the direct sum by
//! rounding only (the transforms' coefficients are small: tested against the f64 loop).
//! [`super::conv::conv2d_reference`] (the naive loop over the untransformed kernel) is the
//! twin it is tested against; [`super::conv::conv2d`] runs it for [`super::conv::Weights::Winograd`].

use super::conv::{ConvArgs, PackedWeights, ZEROS};
use super::gemm::{run_tile, tile_shape, Tile, MAX_MR};
use super::{Isa, OutPtr};
use crate::error::{shape_err, Result};
use crate::ops::conv_gemm::ConvGeometry;
use std::cell::RefCell;

/// Which minimal filtering a layer runs: F(4×4, 3×3) (36 products for 16 outputs: 4× fewer
/// than the direct sum) or F(2×2, 3×3) (16 for 4: 2.25× fewer, with the transforms' only
/// coefficients 0, ±1 and ±½, so its rounding is the direct sum's: for 32–63 input channels,
/// where F(4×4)'s moved InceptionResNetV2's logits 1.2e-4 from Keras's float64 run) for 3×3
/// kernels; F(2, 7) along rows or columns for InceptionV3's 1×7 and 7×1 kernels (8 products
/// for 2 outputs: 1.75× fewer), and F(4, 3) along rows or columns for its 1×3 and 3×1 ones
/// (6 products for 4 outputs: 2× fewer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// F(4×4, 3×3): 4 × 4 output pixels a tile from 6 × 6 inputs.
    F4,
    /// F(2×2, 3×3): 2 × 2 output pixels a tile from 4 × 4 inputs.
    F2,
    /// F(1×2, 1×7): a 1×7 kernel, 1 × 2 output pixels a tile from 1 × 8 inputs.
    Row7,
    /// F(2×1, 7×1): a 7×1 kernel, 2 × 1 output pixels a tile from 8 × 1 inputs.
    Col7,
    /// F(1×4, 1×3): a 1×3 kernel, 1 × 4 output pixels a tile from 1 × 6 inputs.
    Row3,
    /// F(2×2, 5×5): 2 × 2 output pixels a tile from 6 × 6 inputs (F(4×4, 3×3)'s points, so
    /// its input transform).
    F25,
    /// F(4×1, 3×1): a 3×1 kernel, 4 × 1 output pixels a tile from 6 × 1 inputs.
    Col3,
}

impl Variant {
    /// The kernel it filters with, `(rows, columns)`.
    pub fn kernel(self) -> (usize, usize) {
        match self {
            Variant::F4 | Variant::F2 => (3, 3),
            Variant::F25 => (5, 5),
            Variant::Row7 => (1, 7),
            Variant::Col7 => (7, 1),
            Variant::Row3 => (1, 3),
            Variant::Col3 => (3, 1),
        }
    }

    /// Whether a line variant runs along the rows (a 1×k kernel).
    fn along_row(self) -> bool {
        matches!(self, Variant::Row7 | Variant::Row3)
    }

    /// Output pixels per tile, `(rows, columns)`.
    pub fn tile(self) -> (usize, usize) {
        match self {
            Variant::F4 => (4, 4),
            Variant::F2 | Variant::F25 => (2, 2),
            Variant::Row7 => (1, 2),
            Variant::Col7 => (2, 1),
            Variant::Row3 => (1, 4),
            Variant::Col3 => (4, 1),
        }
    }

    /// The input window of a tile, `(rows, columns)`: the tile grown by the kernel.
    fn window(self) -> (usize, usize) {
        let ((th, tw), (kh, kw)) = (self.tile(), self.kernel());
        (th + kh - 1, tw + kw - 1)
    }

    /// Transformed positions per tile (the window's pixels).
    fn xi(self) -> usize {
        let (a, b) = self.window();
        a * b
    }

    /// The variants for a geometry's kernel (the tape and the plan choose among them).
    pub fn for_kernel(g: &ConvGeometry) -> &'static [Variant] {
        match (g.rows.kernel, g.cols.kernel) {
            (3, 3) => &[Variant::F4, Variant::F2],
            (1, 7) => &[Variant::Row7],
            (7, 1) => &[Variant::Col7],
            (1, 3) => &[Variant::Row3],
            (3, 1) => &[Variant::Col3],
            (5, 5) => &[Variant::F25],
            _ => &[],
        }
    }
}

/// Most transformed positions of a tile (F(4×4, 3×3)'s 6 × 6).
const XI_MAX: usize = 36;
/// Channels of one transform vector.
const L: usize = 16;
/// Most channels one running sum of the GEMM covers (as [`super::conv`]'s chunks).
const SUM_CHUNK: usize = 128;
/// Bytes of one block's transformed input and output (`36·tiles·(cin + cout)` floats):
/// within the last-level cache, which both workers share.
const BLOCK_BYTES: usize = 6 << 20;

/// A kernel transformed and packed for [`conv2d`].
#[derive(Debug, Clone)]
pub struct WinogradWeights {
    cin: usize,
    cout: usize,
    variant: Variant,
    packed: PackedWeights,
}

impl WinogradWeights {
    /// Transforms and packs a Keras kernel `(kh, kw, cin, cout)` (`variant`'s kernel size),
    /// flattened, for `isa` and `variant`.
    pub fn pack(isa: Isa, kernel: &[f32], cin: usize, cout: usize, variant: Variant) -> Result<WinogradWeights> {
        let (kh, kw) = variant.kernel();
        if kernel.len() != kh * kw * cin * cout || cin == 0 || cout == 0 {
            return shape_err(
                "winograd_weights",
                format!(
                    "kernel of {} values is not {kh} × {kw} × cin {cin} × cout {cout} ({variant:?})",
                    kernel.len()
                ),
            );
        }
        let xis = variant.xi();
        let depth = xis * cin;
        let mut packed = PackedWeights::zeroed(isa, depth, cout, 1);
        let (data, nr) = packed.data_mut();
        let out = OutPtr(data.as_mut_ptr());
        // Straight into the panels (`[panel][ξ·cin + ci][nr]`), one input channel a task: no
        // unpacked copy (37 MiB for a 512 → 512 layer) is ever held.
        use rayon::prelude::*;
        (0..cin).into_par_iter().for_each(|ci| {
            for co in 0..cout {
                let u = transform_pair(kernel, cin, cout, ci, co, variant);
                let (p, j) = (co / nr, co % nr);
                for (xi, &v) in u.iter().take(xis).enumerate() {
                    // SAFETY: row `ξ·cin + ci` of panel `p`, column `j < nr`, lies inside the
                    // `panels·depth·nr` values; tasks write disjoint rows (their own `ci`).
                    unsafe { *out.get().add((p * depth + xi * cin + ci) * nr + j) = v };
                }
            }
        });
        Ok(WinogradWeights {
            cin,
            cout,
            variant,
            packed,
        })
    }

    /// The minimal filtering it was transformed for.
    pub fn variant(&self) -> Variant {
        self.variant
    }

    /// The instruction set it was packed for.
    pub fn isa(&self) -> Isa {
        self.packed.isa()
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.packed.bytes()
    }
}

/// The transforms of F(4×4, 3×3) (Cook–Toom) for the interpolation points `0, −1, 1, ½, −2,
/// ∞`: `Bᵀ` (6 × 6) for the input, `G` (6 × 3) for the kernel, `Aᵀ` (4 × 6) for the output.
/// The usual points `0, ±1, ±2, ∞` (Lavin & Gray's matrices) had errors 2.5–4 times as large
/// in the kernel test, and moved InceptionResNetV2's logits 1.2e-4 from Keras's float64 run
/// (the direct sums: 4.4e-5); with a half, Barabasz et al.'s choice (2020), the transforms'
/// coefficients stay within 2.5 and the kernel's within 16/15. [`bt`] and [`at`] apply `Bᵀ`
/// and `Aᵀ` written out; the tests check them against these matrices.
#[cfg_attr(not(test), allow(dead_code))]
const BT4: [[f32; 6]; 6] = [
    [1.0, -1.5, -2.0, 1.5, 1.0, 0.0],
    [0.0, 1.0, -2.5, 0.5, 1.0, 0.0],
    [0.0, -1.0, 0.5, 2.5, 1.0, 0.0],
    [0.0, -2.0, -1.0, 2.0, 1.0, 0.0],
    [0.0, 0.5, -1.0, -0.5, 1.0, 0.0],
    [0.0, 1.0, -1.5, -2.0, 1.5, 1.0],
];

/// See [`BT4`].
const G4: [[f64; 3]; 6] = [
    [1.0, 0.0, 0.0],
    [-1.0 / 3.0, 1.0 / 3.0, -1.0 / 3.0],
    [1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0],
    [-16.0 / 15.0, -8.0 / 15.0, -4.0 / 15.0],
    [1.0 / 15.0, -2.0 / 15.0, 4.0 / 15.0],
    [0.0, 0.0, 1.0],
];

/// See [`BT4`].
#[cfg_attr(not(test), allow(dead_code))]
const AT4: [[f32; 6]; 4] = [
    [1.0, 1.0, 1.0, 1.0, 1.0, 0.0],
    [0.0, -1.0, 1.0, 0.5, -2.0, 0.0],
    [0.0, 1.0, 1.0, 0.25, 4.0, 0.0],
    [0.0, -1.0, 1.0, 0.125, -8.0, 1.0],
];

/// The kernel transform of F(2×2, 5×5) (6 × 5) for [`BT4`]'s points, whose `Bᵀ` it shares:
/// row `j` is `D_j·(1, p_j, …, p_j⁴)` with [`G4`]'s scale `D_j`.
const G25: [[f64; 5]; 6] = [
    [1.0, 0.0, 0.0, 0.0, 0.0],
    [-1.0 / 3.0, 1.0 / 3.0, -1.0 / 3.0, 1.0 / 3.0, -1.0 / 3.0],
    [1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0],
    [-16.0 / 15.0, -8.0 / 15.0, -4.0 / 15.0, -2.0 / 15.0, -1.0 / 15.0],
    [1.0 / 15.0, -2.0 / 15.0, 4.0 / 15.0, -8.0 / 15.0, 16.0 / 15.0],
    [0.0, 0.0, 0.0, 0.0, 1.0],
];

/// The output transform of F(2×2, 5×5) (2 × 6): [`AT4`]'s first two rows, the point at
/// infinity in the last.
#[cfg_attr(not(test), allow(dead_code))]
const AT25: [[f32; 6]; 2] = [[1.0, 1.0, 1.0, 1.0, 1.0, 0.0], [0.0, -1.0, 1.0, 0.5, -2.0, 1.0]];

/// The transforms of F(2×2, 3×3) for the points `0, ±1, ∞` (Lavin & Gray's): `Bᵀ` (4 × 4),
/// `G` (4 × 3), `Aᵀ` (2 × 4).
#[cfg_attr(not(test), allow(dead_code))]
const BT2: [[f32; 4]; 4] = [
    [1.0, 0.0, -1.0, 0.0],
    [0.0, 1.0, 1.0, 0.0],
    [0.0, -1.0, 1.0, 0.0],
    [0.0, 1.0, 0.0, -1.0],
];

/// See [`BT2`].
const G2: [[f64; 3]; 4] = [[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]];

/// See [`BT2`].
#[cfg_attr(not(test), allow(dead_code))]
const AT2: [[f32; 4]; 2] = [[1.0, 1.0, 1.0, 0.0], [0.0, 1.0, -1.0, -1.0]];

/// The transforms of F(2, 7) (Cook–Toom, the points `0, ±1, ±½, ±2, ∞`: those of the usual
/// F(6, 3), so `Bᵀ` is its matrix): `Bᵀ` (8 × 8), `G` (8 × 7), `Aᵀ` (2 × 8). In float32 its
/// error over 192 input channels measured 1.1e-5 of the outputs' mean size against the exact
/// sum (the direct sum's 3.1e-6; F(4×4, 3×3)'s over 64 channels, 1.1e-5); F(3, 7) and F(4, 7),
/// with points ±3/2 or ±4 added, 5–9e-5.
#[cfg_attr(not(test), allow(dead_code))]
const BT7: [[f32; 8]; 8] = [
    [1.0, 0.0, -5.25, 0.0, 5.25, 0.0, -1.0, 0.0],
    [0.0, -1.0, -1.0, 4.25, 4.25, -1.0, -1.0, 0.0],
    [0.0, 1.0, -1.0, -4.25, 4.25, 1.0, -1.0, 0.0],
    [0.0, 1.0, 2.0, -1.25, -2.5, 0.25, 0.5, 0.0],
    [0.0, -1.0, 2.0, 1.25, -2.5, -0.25, 0.5, 0.0],
    [0.0, 0.5, 0.25, -2.5, -1.25, 2.0, 1.0, 0.0],
    [0.0, -0.5, 0.25, 2.5, -1.25, -2.0, 1.0, 0.0],
    [0.0, -1.0, 0.0, 5.25, 0.0, -5.25, 0.0, 1.0],
];

/// See [`BT7`].
const G7: [[f64; 7]; 8] = [
    [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    [
        2.0 / 9.0,
        2.0 / 9.0,
        2.0 / 9.0,
        2.0 / 9.0,
        2.0 / 9.0,
        2.0 / 9.0,
        2.0 / 9.0,
    ],
    [
        2.0 / 9.0,
        -2.0 / 9.0,
        2.0 / 9.0,
        -2.0 / 9.0,
        2.0 / 9.0,
        -2.0 / 9.0,
        2.0 / 9.0,
    ],
    [
        64.0 / 45.0,
        32.0 / 45.0,
        16.0 / 45.0,
        8.0 / 45.0,
        4.0 / 45.0,
        2.0 / 45.0,
        1.0 / 45.0,
    ],
    [
        64.0 / 45.0,
        -32.0 / 45.0,
        16.0 / 45.0,
        -8.0 / 45.0,
        4.0 / 45.0,
        -2.0 / 45.0,
        1.0 / 45.0,
    ],
    [
        1.0 / 90.0,
        1.0 / 45.0,
        2.0 / 45.0,
        4.0 / 45.0,
        8.0 / 45.0,
        16.0 / 45.0,
        32.0 / 45.0,
    ],
    [
        1.0 / 90.0,
        -1.0 / 45.0,
        2.0 / 45.0,
        -4.0 / 45.0,
        8.0 / 45.0,
        -16.0 / 45.0,
        32.0 / 45.0,
    ],
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0],
];

/// See [`BT7`].
#[cfg_attr(not(test), allow(dead_code))]
const AT7: [[f32; 8]; 2] = [
    [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0],
    [0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0, 1.0],
];

/// The transformed kernel of input channel `ci`, output channel `co`, in f64, rounded once:
/// `(G g Gᵀ)[ξ = a·i + j]` (`a` the window side) of a 3×3 kernel, `(G g)[ξ]` of a 1×7 or
/// 7×1 one; the positions past `variant.xi()` are zero.
fn transform_pair(kernel: &[f32], cin: usize, cout: usize, ci: usize, co: usize, variant: Variant) -> [f32; XI_MAX] {
    let mut u = [0.0f32; XI_MAX];
    let (gm, r): (&[[f64; 5]], usize) = match variant {
        Variant::F4 => (&G4_AS5, 3),
        Variant::F2 => (&G2_AS5, 3),
        Variant::F25 => (&G25, 5),
        Variant::Row7 | Variant::Col7 | Variant::Row3 | Variant::Col3 => {
            // A 1×k and a k×1 kernel both lay their taps out as `(tap, cin, cout)`.
            let g = |k: usize| f64::from(kernel[(k * cin + ci) * cout + co]);
            if matches!(variant, Variant::Row7 | Variant::Col7) {
                for (v, row) in u.iter_mut().zip(&G7) {
                    *v = (0..7).map(|k| row[k] * g(k)).sum::<f64>() as f32;
                }
            } else {
                for (v, row) in u.iter_mut().zip(&G4) {
                    *v = (0..3).map(|k| row[k] * g(k)).sum::<f64>() as f32;
                }
            }
            return u;
        }
    };
    let g = |a: usize, b: usize| f64::from(kernel[((a * r + b) * cin + ci) * cout + co]);
    let a = gm.len();
    // t = G g (a × r), then t Gᵀ (a × a).
    let mut t = [[0.0f64; 5]; 6];
    for (i, row) in t.iter_mut().enumerate().take(a) {
        for (b, v) in row.iter_mut().enumerate().take(r) {
            *v = (0..r).map(|k| gm[i][k] * g(k, b)).sum();
        }
    }
    for i in 0..a {
        for j in 0..a {
            let v: f64 = (0..r).map(|b| t[i][b] * gm[j][b]).sum();
            u[i * a + j] = v as f32;
        }
    }
    u
}

/// A 3-tap kernel transform as 5 columns (the last two zero), for [`transform_pair`].
const fn widen<const A: usize>(g: &[[f64; 3]; A]) -> [[f64; 5]; A] {
    let mut out = [[0.0; 5]; A];
    let mut i = 0;
    while i < A {
        out[i] = [g[i][0], g[i][1], g[i][2], 0.0, 0.0];
        i += 1;
    }
    out
}

/// [`G4`] and [`G2`] as [`transform_pair`] reads them.
const G4_AS5: [[f64; 5]; 6] = widen(&G4);
const G2_AS5: [[f64; 5]; 4] = widen(&G2);

/// Whether [`conv2d`] computes this geometry with `variant`: its kernel, stride 1, no
/// dilation, one group.
pub fn fits(g: &ConvGeometry, variant: Variant) -> bool {
    (g.rows.kernel, g.cols.kernel) == variant.kernel()
        && g.rows.stride == 1
        && g.cols.stride == 1
        && g.rows.dilation == 1
        && g.cols.dilation == 1
        && g.groups == 1
}

/// Whether [`conv2d`] computes this geometry with some variant ([`Variant::for_kernel`]).
pub fn applies(g: &ConvGeometry) -> bool {
    Variant::for_kernel(g).iter().any(|&v| fits(g, v))
}

/// Whether it pays here, as the kernels bench measured it on AVX-512 (1.7–2.8× the implicit
/// GEMM from 64 input channels on), in a network that adds residuals (`residual_sums`) or not:
/// enough channels for the GEMMs to outweigh the transforms (32 input channels gained 1.5×;
/// in InceptionResNetV2's stem their rounding, amplified by its 244 residual layers, moved its
/// logits 1.2e-4 from Keras's float64 run, so there F(4×4) starts at 64 channels, and from 32
/// only in networks without residual sums: InceptionV3's 147×147 stem 32 → 64 1.57 ms against
/// F(2×2)'s 2.63, kernels bench minima at batch 1); tiles
/// mostly inside the output (at 7×7 or 14×14 a quarter of each tile's work is past the edge);
/// at least 32 tiles, unless the channels are many (DenseNet121's 128 → 32 at 14×14, batch 1:
/// 16 tiles, ran 7% slower, each worker reading all 36 weight matrices for 8 tiles); and enough
/// tiles for the transformed weights, four times the kernel's size and read again
/// for every block, to serve many rows: where a layer has more than [`WEIGHTS_PER_TILE`]
/// kernel values a tile (ResNet50's last stage below batch 16, VGG16's last block at batch 1)
/// it measured 1.2–1.3× at most (512 → 512 at 7×7, batch 1) for 3× the kernel's memory more
/// (85 MB for ResNet50's last stage: above onnxruntime's whole peak). `RKERAS_WINOGRAD=0`
/// turns it off (for comparisons).
/// Where only that memory rule keeps F(4×4) out, F(2×2, 3×3) ([`Variant`]: 1.8× the kernel's
/// memory, not 4×) runs instead: ResNet50's 512 → 512 at 7×7 batch 1 1.34 → 1.09 ms and
/// batch 8 10.8 → 7.8 ms, VGG16's block 5 at batch 1 5.5 → 3.5 ms, InceptionV3's 448 → 384 at
/// 8×8 1.01 → 0.79 ms (kernels bench medians). From 32 to 63 input channels, where F(4×4)'s
/// rounding is kept out, F(2×2) runs too since its transforms are in intrinsics (minima:
/// InceptionV3's 147×147 stem 32 → 64 3.72 → 2.45 ms and 32 → 32 1.85 → 1.34 ms,
/// InceptionResNetV2's 35×35 blocks 32 → 32 0.110 → 0.082, 32 → 48 0.212 → 0.138, 48 → 64
/// 0.310 → 0.198; with the compiled transforms the stem had gained nothing, 3.81 against
/// 3.88 ms).
pub fn worth(g: &ConvGeometry, residual_sums: bool) -> Option<Variant> {
    let f4_from = if residual_sums {
        PLAN_MIN_CHANNELS
    } else {
        PLAN_PLAIN_MIN_CHANNELS
    };
    if !enabled() {
        None
    } else if pays(g, f4_from) {
        Some(Variant::F4)
    } else if pays_f2(g) {
        Some(Variant::F2)
    } else if pays_f25(g) {
        Some(Variant::F25)
    } else {
        [Variant::Row7, Variant::Col7, Variant::Row3, Variant::Col3]
            .into_iter()
            .find(|&v| pays_line(g, v))
    }
}

/// [`worth`]'s line rule (F(2, 7), F(4, 3)): many channels (InceptionV3's 128–192), and
/// enough tiles, most of them inside the output (InceptionResNetV2's 1×7 layers at 3×3
/// pixels, from a 75×75 input, have 6 tiles, a quarter of each past the edge). F(4, 3) has
/// half the transformed positions per output pixel of F(2, 7) and runs from 16 tiles: in the
/// kernels bench, InceptionV3's 1×3 and 3×1 384 → 384 at 8×8 took 1.23 against 2.29 ms at
/// batch 8 (128 tiles) and 0.18–0.21 against 0.29 at batch 1 (16 tiles); InceptionResNetV2's
/// 192 → 224 and 224 → 256 at 8×8 0.40 / 0.51 against 0.62 / 0.82 ms at batch 8, 0.082 /
/// 0.095 against 0.088 / 0.113 at batch 1.
fn pays_line(g: &ConvGeometry, variant: Variant) -> bool {
    let min_tiles = if matches!(variant, Variant::Row3 | Variant::Col3) {
        LINE3_MIN_TILES
    } else {
        LINE_MIN_TILES
    };
    fits(g, variant)
        && g.cin >= PLAN_MIN_CHANNELS
        && g.cout >= 32
        && covered(g, variant) >= 0.7
        && tiles(g, variant) >= min_tiles
}

/// [`worth`]'s F(2×2, 5×5) rule: from 32 input channels and [`F25_MIN_TILES`] tiles, most of
/// them inside the output. In the kernels bench, InceptionV3's 48 → 64 at 35×35 took 3.66
/// against 6.65 ms at batch 8 and 0.54 against 0.86 at batch 1 (324 tiles), at 17×17 (81
/// tiles) 0.154 against 0.201, 32 → 32 at 35×35 0.205 against 0.291; at 7×7 (16 tiles) it
/// was slower, 0.053 against 0.040. Its rounding is F(4×4)'s size (the kernel test), with no
/// 3-tap stem of hundreds of residual layers behind it in the applications (InceptionV3's
/// and InceptionResNetV2's 5×5s take 48 channels from a 1×1).
fn pays_f25(g: &ConvGeometry) -> bool {
    fits(g, Variant::F25)
        && g.cin >= PLAN_F2_MIN_CHANNELS
        && g.cout >= 32
        && covered(g, Variant::F25) >= 0.7
        && tiles(g, Variant::F25) >= F25_MIN_TILES
}

/// Fewest tiles of an F(2×2, 5×5) convolution in the plan ([`pays_f25`]).
const F25_MIN_TILES: usize = 64;

/// Fewest tiles of an F(2, 7) convolution in the plan ([`pays_line`]).
const LINE_MIN_TILES: usize = 32;

/// Fewest tiles of an F(4, 3) convolution in the plan ([`pays_line`]).
const LINE3_MIN_TILES: usize = 16;

/// [`worth`]'s F(2×2) rule: F(4×4)'s shape rule (its coverage in 2 × 2 tiles) where its
/// memory bound alone fails, with many channel pairs and at least 16 tiles of 2 × 2; or
/// where only F(4×4)'s channel floor fails (32–63 input channels).
fn pays_f2(g: &ConvGeometry) -> bool {
    let pairs = g.cin * g.cout;
    let memory = shape_pays(g, Variant::F2, PLAN_MIN_CHANNELS)
        && !within_memory(g)
        && pairs >= 1 << 16
        && tiles(g, Variant::F2) >= 16;
    let channels = g.cin < PLAN_MIN_CHANNELS && shape_pays(g, Variant::F2, PLAN_F2_MIN_CHANNELS) && within_memory(g);
    memory || channels
}

/// [`worth`] for training's tape, whose kernel changes every step and is transformed on every
/// call: F(4×4) from [`TAPE_MIN_CHANNELS`] input channels (the CIFAR CNN's 32 → 32 layer at
/// batch 32 ran its forward 2.63 → 2.11 ms and its input gradient 3.10 → 2.20 ms, and the whole
/// fit 4–6% faster; the 64-channel rule is the plan's, for float64 fixtures through hundreds of
/// layers, and a training step's rounding is far inside its 1e-4 parity) and
/// [`TAPE_MIN_TILES`] tiles; F(2×2) where only F(4×4)'s coverage fails (a `valid` 3×3 on
/// 15×15: 13×13 outputs, two thirds of 4 × 4 tiles' pixels, six sevenths of 2 × 2 ones).
pub fn worth_on_tape(g: &ConvGeometry) -> Option<Variant> {
    if !enabled() || tiles(g, Variant::F4) < TAPE_MIN_TILES {
        None
    } else if pays(g, TAPE_MIN_CHANNELS) {
        Some(Variant::F4)
    } else if shape_pays(g, Variant::F2, TAPE_MIN_CHANNELS) && within_memory(g) {
        Some(Variant::F2)
    } else {
        None
    }
}

/// Fewest tiles (4×4 pixels) for which the tape transforms a kernel for Winograd on every
/// call ([`worth_on_tape`]): the transform is 36 values per channel pair, written and read
/// once, against 36 multiply-adds per pair for every tile. The CIFAR CNN's 32 → 64 layer at
/// 15×15, batch 32 (512 tiles), and its 64 → 64 input gradient gained (fit 1.51 → 1.42 s an
/// epoch); a 256 → 256 layer at 196 tiles had gained 10%, a 512 → 512 one at 49 tiles (batch
/// 1, 28×28) took 55–59 ms against 18 without.
const TAPE_MIN_TILES: usize = 256;

/// Fewest input channels of a Winograd convolution in the inference plan ([`worth`]).
const PLAN_MIN_CHANNELS: usize = 64;

/// Fewest input channels of an F(4×4) convolution in the plan of a network without residual
/// sums ([`worth`]).
const PLAN_PLAIN_MIN_CHANNELS: usize = 32;

/// Fewest input channels of an F(2×2) convolution in the plan ([`pays_f2`]).
const PLAN_F2_MIN_CHANNELS: usize = 32;

/// Fewest input channels of a Winograd convolution on the tape ([`worth_on_tape`]).
const TAPE_MIN_CHANNELS: usize = 32;

/// Whether `RKERAS_WINOGRAD=0` leaves Winograd off.
fn enabled() -> bool {
    static OFF: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    !*OFF.get_or_init(|| std::env::var("RKERAS_WINOGRAD").is_ok_and(|v| v == "0"))
}

/// Output tiles (`variant.tile()` pixels, the last row and column of tiles partly outside)
/// of a geometry.
pub fn tiles(g: &ConvGeometry, variant: Variant) -> usize {
    let (mh, mw) = variant.tile();
    g.n * g.oh().div_ceil(mh) * g.ow().div_ceil(mw)
}

/// [`worth`]'s measured F(4×4) rule, whatever `RKERAS_WINOGRAD` says.
fn pays(g: &ConvGeometry, min_cin: usize) -> bool {
    shape_pays(g, Variant::F4, min_cin) && within_memory(g)
}

/// The shape part of [`pays`], its coverage in `variant`'s tiles (tile counts are F(4×4)'s).
fn shape_pays(g: &ConvGeometry, variant: Variant, min_cin: usize) -> bool {
    fits(g, variant)
        && g.cin >= min_cin
        && g.cout >= 32
        && covered(g, variant) >= 0.7
        && (tiles(g, Variant::F4) >= 32 || g.cin * g.cout >= 1 << 16)
}

/// [`pays`]'s memory bound: at most [`WEIGHTS_PER_TILE`] kernel values an F(4×4) tile.
fn within_memory(g: &ConvGeometry) -> bool {
    g.cin * g.cout <= WEIGHTS_PER_TILE * tiles(g, Variant::F4)
}

/// See [`worth`].
const WEIGHTS_PER_TILE: usize = 6144;

/// The share of a geometry's tiles' pixels inside its output.
fn covered(g: &ConvGeometry, variant: Variant) -> f64 {
    let (mh, mw) = variant.tile();
    (g.oh() * g.ow()) as f64 / (g.oh().next_multiple_of(mh) * g.ow().next_multiple_of(mw)).max(1) as f64
}

thread_local! {
    /// The caller's transformed input and output blocks, reused from call to call.
    static BLOCKS: RefCell<(Vec<f32>, Vec<f32>)> = RefCell::default();
}

/// Runs a stride-1 convolution with weights transformed for its kernel.
pub fn conv2d(isa: Isa, args: ConvArgs, w: &WinogradWeights) -> Result<()> {
    let g = args.geometry;
    if !fits(g, w.variant) || w.cin != g.cin || w.cout != g.cout || w.isa() != isa {
        return shape_err(
            "conv2d",
            format!(
                "Winograd weights ({} → {}, {:?}, {:?}) do not fit this convolution ({}×{} kernel, stride {}×{}, \
                 dilation {}×{}, {} group(s), {} → {}, {isa:?})",
                w.cin,
                w.cout,
                w.variant,
                w.isa(),
                g.rows.kernel,
                g.cols.kernel,
                g.rows.stride,
                g.cols.stride,
                g.rows.dilation,
                g.cols.dilation,
                g.groups,
                g.cin,
                g.cout
            ),
        );
    }
    super::conv::check(&args, g.n * g.oh() * g.ow(), g.rows.kernel * g.cols.kernel * g.cin)?;
    let variant = w.variant;
    let ((mh, mw), xis) = (variant.tile(), variant.xi());
    let (th, tw) = (g.oh().div_ceil(mh), g.ow().div_ceil(mw));
    let total = tiles(g, variant);
    if total == 0 {
        return Ok(());
    }
    let (cin, cout) = (g.cin, g.cout);
    let (mr_max, nr) = tile_shape(isa, cout);
    let job = Job {
        isa,
        g,
        x: args.x,
        u: w.packed.data(),
        epi: args.epilogue,
        res: args.residual.map(|(r, s)| (OutPtr(r.as_ptr().cast_mut()), s)),
        y: OutPtr(args.y.as_mut_ptr()),
        y_stride: args.y_stride,
        th,
        tw,
        variant,
        xis,
        mr_max,
        nr,
    };
    let per_tile = 4 * xis * (cin + cout);
    // Few channels: each worker transforms, multiplies and transforms back its own blocks of
    // tiles in L2, with no barrier between the passes (shared blocks in L3 ran the 64-channel
    // layers at half the speed: the transforms waited on L3).
    // At least two blocks a worker, of at least LOCAL_MIN_TILES tiles (batch 1 at 14×14 has 16
    // tiles: shared).
    let threads = super::threads();
    let local = ((L2_BYTES / per_tile) / mr_max * mr_max).min(total.div_ceil(2 * threads).next_multiple_of(mr_max));
    if local >= LOCAL_MIN_TILES {
        let blocks = total.div_ceil(local);
        super::team::for_each(blocks, 1, |bi| {
            let t0 = bi * local;
            let count = local.min(total - t0);
            BLOCKS.with(|b| {
                let mut b = b.borrow_mut();
                let (vp, mp) = buffers(&mut b, local, cin, cout, xis);
                // SAFETY: the block's tiles write only their own output pixels; `v` and `m`
                // are this worker's, sized for `local` tiles.
                unsafe {
                    job.input(t0, 0..count, vp);
                    for xi in 0..xis {
                        for p in 0..cout.div_ceil(nr) {
                            job.gemm(vp, mp, xi, p, count);
                        }
                    }
                    job.output(t0, 0..count, mp);
                }
            });
        });
        return Ok(());
    }
    // Many channels: both workers share each block (the 36 weight matrices, up to 36 MiB, are
    // then read once per block, not once per worker's block): the input transform, the GEMMs
    // split over (matrix, panel) and the output transform, each in parallel.
    let cap = (BLOCK_BYTES / per_tile)
        .max(mr_max)
        .next_multiple_of(mr_max)
        .min(total.next_multiple_of(mr_max));
    BLOCKS.with(|b| {
        let mut b = b.borrow_mut();
        let (vp, mp) = buffers(&mut b, cap, cin, cout, xis);
        let panels = cout.div_ceil(nr);
        let mut t0 = 0;
        while t0 < total {
            let count = cap.min(total - t0);
            let chunks = count.div_ceil(4);
            // SAFETY (the three passes): tile `t` of the block writes only its own rows of `v`
            // (row `t` of each of the 36 matrices); a GEMM task reads rows of `v` the first
            // pass wrote and writes its own (matrix, panel) columns of `m`; the output pass
            // writes each tile's own output pixels from rows of `m` the GEMMs wrote.
            super::team::for_each(chunks, 1, |ch| unsafe {
                job.input(t0, ch * 4..(ch * 4 + 4).min(count), vp)
            });
            super::team::for_each(xis * panels, 1, |task| unsafe {
                job.gemm(vp, mp, task / panels, task % panels, count)
            });
            super::team::for_each(chunks, 1, |ch| unsafe {
                job.output(t0, ch * 4..(ch * 4 + 4).min(count), mp)
            });
            t0 += count;
        }
    });
    Ok(())
}

/// Bytes of a worker's own block of transformed input and output (about its L2, with room for
/// the weight panel it streams).
const L2_BYTES: usize = 768 << 10;

/// Fewest tiles of a worker's own block: fewer and the weight matrices, read again for every
/// block, serve too few rows.
const LOCAL_MIN_TILES: usize = 24;

/// The thread's block buffers, grown to `cap` tiles of `xis` positions.
fn buffers(b: &mut (Vec<f32>, Vec<f32>), cap: usize, cin: usize, cout: usize, xis: usize) -> (OutPtr, OutPtr) {
    let (v, m) = b;
    if v.len() < xis * cap * cin {
        v.resize(xis * cap * cin, 0.0);
    }
    if m.len() < xis * cap * cout {
        m.resize(xis * cap * cout, 0.0);
    }
    (OutPtr(v.as_mut_ptr()), OutPtr(m.as_mut_ptr()))
}

/// One convolution's operands, as the passes read them.
struct Job<'a> {
    isa: Isa,
    g: &'a ConvGeometry,
    x: &'a [f32],
    u: &'a [f32],
    epi: super::Epilogue<'a>,
    res: Option<(OutPtr, usize)>,
    y: OutPtr,
    y_stride: usize,
    th: usize,
    tw: usize,
    /// The minimal filtering, and its transformed positions per tile.
    variant: Variant,
    xis: usize,
    mr_max: usize,
    nr: usize,
}

// SAFETY: the raw output and residual pointers are written by disjoint tiles only (each pass
// states which), and the rest is shared read-only.
unsafe impl Sync for Job<'_> {}

impl Job<'_> {
    /// The input transform of block slots `slots` (tiles `t0 + slot`) into `v` (rows at
    /// [`slot_at`]).
    ///
    /// # Safety
    /// `v` holds `xis·cin` values for every slot of `slots`, and no other task writes these
    /// slots' rows.
    unsafe fn input(&self, t0: usize, slots: std::ops::Range<usize>, v: OutPtr) {
        match self.isa {
            // SAFETY: `isa` is never above what the CPU reported (`kernels::isa`).
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => input_tiles_avx512(self, t0, slots, v),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => input_tiles_avx2(self, t0, slots, v),
            _ => input_tiles(self.g, self.x, t0, slots, self.th, self.tw, v, self.variant),
        }
    }

    /// The output transform and epilogue of block slots `slots` from `m`.
    ///
    /// # Safety
    /// `m` holds the GEMMs' results for these slots (rows at [`slot_at`]); no other task
    /// writes these tiles' output pixels.
    unsafe fn output(&self, t0: usize, slots: std::ops::Range<usize>, m: OutPtr) {
        match self.isa {
            // SAFETY: `isa` is never above what the CPU reported (`kernels::isa`).
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => output_tiles_avx512(self, t0, slots, m),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => output_tiles_avx2(self, t0, slots, m),
            _ => {
                let (g, e, r, y, ys, th, tw) = (self.g, &self.epi, self.res, self.y, self.y_stride, self.th, self.tw);
                output_tiles(g, e, r, y, ys, t0, slots, th, tw, m, self.variant)
            }
        }
    }

    /// `M[ξ][0..count] (panel p) = V[ξ][0..count] · U[ξ] (panel p)`: matrix `xi`, panel `p`
    /// of the block's GEMMs, the depth in [`SUM_CHUNK`]-channel chunks.
    ///
    /// # Safety
    /// `v` holds the transformed values of the block's `count` slots (`36·cin` each), `m` room
    /// for `36·cout` each; no other task writes this (matrix, panel) of `m`.
    unsafe fn gemm(&self, v: OutPtr, m: OutPtr, xi: usize, p: usize, count: usize) {
        let (isa, cin, cout, mr_max, nr) = (self.isa, self.g.cin, self.g.cout, self.mr_max, self.nr);
        let xis = self.xis;
        let panel_len = xis * cin * nr;
        let u = self.u.as_ptr();
        let col0 = p * nr;
        let nc = nr.min(cout - col0);
        let b0 = u.add(p * panel_len + xi * cin * nr);
        let mut r0 = 0;
        while r0 < count {
            let real = mr_max.min(count - r0);
            let mut c = [std::ptr::null_mut(); MAX_MR];
            let mut rows = [ZEROS.as_ptr(); MAX_MR];
            for r in 0..real {
                c[r] = m.get().add(slot_at(xi, r0 + r, xis) * cout + col0);
                rows[r] = v.get().add(slot_at(xi, r0 + r, xis) * cin);
            }
            let mut k0 = 0;
            while k0 < cin {
                let kc = SUM_CHUNK.min(cin - k0);
                let mut a = [ZEROS.as_ptr(); MAX_MR];
                for r in 0..real {
                    a[r] = rows[r].add(k0);
                }
                let t = Tile {
                    taps: 1,
                    kc,
                    mr: real,
                    nc,
                    nr,
                    a: a.as_ptr(),
                    b: b0.add(k0 * nr),
                    ldb: nr,
                    full_b: true,
                    c,
                    accumulate: k0 > 0,
                    last: false,
                    bias: std::ptr::null(),
                    res: [std::ptr::null(); MAX_MR],
                    has_res: false,
                    lo: f32::NEG_INFINITY,
                    hi: f32::INFINITY,
                    slope: 1.0,
                    has_slope: false,
                    stream: false,
                };
                run_tile(isa, &t);
                k0 += kc;
            }
            r0 += real;
        }
    }
}

/// Copies `n ≤ L` values: whole vectors as one fixed-size move (a length-`n` copy is a
/// `memcpy` call: 72 of them per tile and vector ran the transforms at a third of the speed).
///
/// # Safety
/// `src` and `dst` hold `n` values and do not overlap.
#[inline(always)]
unsafe fn copy_lanes(src: *const f32, dst: *mut f32, n: usize) {
    if n == L {
        std::ptr::copy_nonoverlapping(src.cast::<[f32; L]>(), dst.cast::<[f32; L]>(), 1);
    } else {
        for l in 0..n {
            *dst.add(l) = *src.add(l);
        }
    }
}

/// Row of matrix `xi` for block slot `slot` in the transformed input or output: tile-major,
/// so that each tile's 36 rows lie together and its transforms read and write one contiguous
/// stretch (matrix-major, the 36 rows a block apart, ran the 3×3 64 → 64 at 56×56, batch 8,
/// 4–6% slower, and DenseNet121's 128 → 32 at 56×56 13% slower).
#[inline(always)]
fn slot_at(xi: usize, slot: usize, xis: usize) -> usize {
    slot * xis + xi
}

/// `(image, tile row, tile column)` of tile `t`.
fn tile_at(t: usize, th: usize, tw: usize) -> (usize, usize, usize) {
    (t / (th * tw), (t / tw) % th, t % tw)
}

/// `Bᵀ z` over one column of `A` vectors (the rows of [`BT4`] for `A = 6`, of [`BT2`] for
/// `A = 4`, written out).
#[inline(always)]
fn bt<const A: usize>(z: &[[f32; L]; A]) -> [[f32; L]; A] {
    let mut out = [[0.0f32; L]; A];
    // As slices: one body per variant, the lengths known once `A` is.
    let (z, r): (&[[f32; L]], &mut [[f32; L]]) = (z, &mut out);
    if A == 6 {
        for l in 0..L {
            let [z0, z1, z2, z3, z4, z5] = [z[0][l], z[1][l], z[2][l], z[3][l], z[4][l], z[5][l]];
            r[0][l] = z0 + 1.5 * (z3 - z1) + (z4 - 2.0 * z2);
            r[1][l] = z1 - 2.5 * z2 + (0.5 * z3 + z4);
            r[2][l] = 0.5 * z2 - z1 + (2.5 * z3 + z4);
            r[3][l] = 2.0 * (z3 - z1) + (z4 - z2);
            r[4][l] = 0.5 * (z1 - z3) + (z4 - z2);
            r[5][l] = z1 + 1.5 * (z4 - z2) + (z5 - 2.0 * z3);
        }
    } else {
        for l in 0..L {
            let [z0, z1, z2, z3] = [z[0][l], z[1][l], z[2][l], z[3][l]];
            r[0][l] = z0 - z2;
            r[1][l] = z1 + z2;
            r[2][l] = z2 - z1;
            r[3][l] = z1 - z3;
        }
    }
    out
}

/// `Aᵀ m` over one column of `A` vectors (the rows of [`AT4`], [`AT25`] or [`AT2`], written
/// out).
#[inline(always)]
fn at<const M: usize, const A: usize>(m: &[[f32; L]; A]) -> [[f32; L]; M] {
    let mut out = [[0.0f32; L]; M];
    let (m, r): (&[[f32; L]], &mut [[f32; L]]) = (m, &mut out);
    if A == 6 && M == 2 {
        for l in 0..L {
            let [m0, m1, m2, m3, m4, m5] = [m[0][l], m[1][l], m[2][l], m[3][l], m[4][l], m[5][l]];
            r[0][l] = m0 + (m1 + m2) + (m3 + m4);
            r[1][l] = (m2 - m1) + (0.5 * m3 - 2.0 * m4) + m5;
        }
    } else if A == 6 {
        for l in 0..L {
            let [m0, m1, m2, m3, m4, m5] = [m[0][l], m[1][l], m[2][l], m[3][l], m[4][l], m[5][l]];
            let (s12, d21) = (m1 + m2, m2 - m1);
            r[0][l] = m0 + s12 + (m3 + m4);
            r[1][l] = d21 + (0.5 * m3 - 2.0 * m4);
            r[2][l] = s12 + (0.25 * m3 + 4.0 * m4);
            r[3][l] = d21 + (0.125 * m3 - 8.0 * m4) + m5;
        }
    } else {
        for l in 0..L {
            let [m0, m1, m2, m3] = [m[0][l], m[1][l], m[2][l], m[3][l]];
            r[0][l] = m0 + m1 + m2;
            r[1][l] = m1 - m2 - m3;
        }
    }
    out
}

/// [`input_tile`] for block slots `slots` (tiles `t0 + slot`).
///
/// # Safety
/// As [`input_tile`], for each slot.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn input_tiles(
    g: &ConvGeometry,
    x: &[f32],
    t0: usize,
    slots: std::ops::Range<usize>,
    th: usize,
    tw: usize,
    v: OutPtr,
    variant: Variant,
) {
    for slot in slots {
        match variant {
            Variant::F4 => input_tile::<4, 6>(g, x, t0 + slot, th, tw, v, slot),
            Variant::F2 => input_tile::<2, 4>(g, x, t0 + slot, th, tw, v, slot),
            Variant::F25 => input_tile::<2, 6>(g, x, t0 + slot, th, tw, v, slot),
            Variant::Row7 | Variant::Col7 | Variant::Row3 | Variant::Col3 => {
                input_line(g, x, t0 + slot, th, tw, v, slot, variant)
            }
        }
    }
}

/// [`input_tiles`] on AVX2 and on AVX-512, in intrinsics ([`simd`]).
///
/// # Safety
/// As [`input_tile`]; the CPU has the function's instruction set.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn input_tiles_avx2(job: &Job, t0: usize, slots: std::ops::Range<usize>, v: OutPtr) {
    simd::input_tiles::<simd::Ymm>(job, t0, slots, v)
}

/// See [`input_tiles_avx2`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn input_tiles_avx512(job: &Job, t0: usize, slots: std::ops::Range<usize>, v: OutPtr) {
    simd::input_tiles::<simd::Zmm>(job, t0, slots, v)
}

/// [`output_tile`] for block slots `slots` (tiles `t0 + slot`).
///
/// # Safety
/// As [`output_tile`], for each slot.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn output_tiles(
    g: &ConvGeometry,
    epi: &super::Epilogue,
    res: Option<(OutPtr, usize)>,
    y: OutPtr,
    y_stride: usize,
    t0: usize,
    slots: std::ops::Range<usize>,
    th: usize,
    tw: usize,
    m: OutPtr,
    variant: Variant,
) {
    for slot in slots {
        let t = t0 + slot;
        match variant {
            Variant::F4 => output_tile::<4, 6>(g, epi, res, y, y_stride, t, th, tw, m, slot),
            Variant::F2 => output_tile::<2, 4>(g, epi, res, y, y_stride, t, th, tw, m, slot),
            Variant::F25 => output_tile::<2, 6>(g, epi, res, y, y_stride, t, th, tw, m, slot),
            Variant::Row7 | Variant::Col7 | Variant::Row3 | Variant::Col3 => {
                output_line(g, epi, res, y, y_stride, t, th, tw, m, slot, variant)
            }
        }
    }
}

/// [`output_tiles`] on AVX2 and on AVX-512, in intrinsics ([`simd`]).
///
/// # Safety
/// As [`output_tile`]; the CPU has the function's instruction set.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn output_tiles_avx2(job: &Job, t0: usize, slots: std::ops::Range<usize>, m: OutPtr) {
    simd::output_tiles::<simd::Ymm>(job, t0, slots, m)
}

/// See [`output_tiles_avx2`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn output_tiles_avx512(job: &Job, t0: usize, slots: std::ops::Range<usize>, m: OutPtr) {
    simd::output_tiles::<simd::Zmm>(job, t0, slots, m)
}

/// The transforms in intrinsics on x86-64, over 16 channels at a time ([`Lanes`]: one
/// AVX-512 vector, or two AVX2 ones), the window's vectors in registers: the compiled loops
/// over 16-lane arrays ([`input_tile`], [`output_tile`], the portable fallback) moved every
/// vector through the stack several times and spent as long on the transforms as on the
/// GEMMs (F(4×4) 64 → 64 at 56×56, batch 8, AVX-512: 1.1 µs a tile for the input transform
/// alone). The same sums in the same order (no fused multiply-adds), so the same values as
/// the compiled code.
#[cfg(target_arch = "x86_64")]
mod simd {
    use super::{slot_at, tile_at, ConvGeometry, Job, OutPtr, Variant, ZEROS};
    use std::arch::x86_64::*;

    /// 16 channels of values in registers.
    pub(super) trait Lanes: Copy {
        unsafe fn zero() -> Self;
        unsafe fn splat(c: f32) -> Self;
        unsafe fn add(self, b: Self) -> Self;
        unsafe fn sub(self, b: Self) -> Self;
        unsafe fn mul(self, b: Self) -> Self;
        /// `max(self, lo)` then `min(…, hi)`, NaN going to `lo` (as `f32::max`, `f32::min`).
        unsafe fn clamp(self, lo: Self, hi: Self) -> Self;
        /// The first `n` values at `p` (`n ≤ 16`), zeros in the other lanes.
        unsafe fn load(p: *const f32, n: usize) -> Self;
        /// The first `n` lanes to `p`.
        unsafe fn store(self, p: *mut f32, n: usize);
    }

    /// One AVX-512 vector.
    #[derive(Clone, Copy)]
    pub(super) struct Zmm(__m512);

    impl Lanes for Zmm {
        #[inline(always)]
        unsafe fn zero() -> Self {
            Zmm(_mm512_setzero_ps())
        }
        #[inline(always)]
        unsafe fn splat(c: f32) -> Self {
            Zmm(_mm512_set1_ps(c))
        }
        #[inline(always)]
        unsafe fn add(self, b: Self) -> Self {
            Zmm(_mm512_add_ps(self.0, b.0))
        }
        #[inline(always)]
        unsafe fn sub(self, b: Self) -> Self {
            Zmm(_mm512_sub_ps(self.0, b.0))
        }
        #[inline(always)]
        unsafe fn mul(self, b: Self) -> Self {
            Zmm(_mm512_mul_ps(self.0, b.0))
        }
        #[inline(always)]
        unsafe fn clamp(self, lo: Self, hi: Self) -> Self {
            Zmm(_mm512_min_ps(_mm512_max_ps(self.0, lo.0), hi.0))
        }
        #[inline(always)]
        unsafe fn load(p: *const f32, n: usize) -> Self {
            Zmm(_mm512_maskz_loadu_ps(crate::kernels::lanes16(n), p))
        }
        #[inline(always)]
        unsafe fn store(self, p: *mut f32, n: usize) {
            _mm512_mask_storeu_ps(p, crate::kernels::lanes16(n), self.0)
        }
    }

    /// Two AVX2 vectors.
    #[derive(Clone, Copy)]
    pub(super) struct Ymm(__m256, __m256);

    /// The AVX2 load/store mask of lanes `n0 .. n0 + 8` of `n`.
    #[inline(always)]
    unsafe fn ymask(n: usize, n0: usize) -> __m256i {
        let idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        _mm256_cmpgt_epi32(_mm256_set1_epi32(n.saturating_sub(n0).min(8) as i32), idx)
    }

    impl Lanes for Ymm {
        #[inline(always)]
        unsafe fn zero() -> Self {
            Ymm(_mm256_setzero_ps(), _mm256_setzero_ps())
        }
        #[inline(always)]
        unsafe fn splat(c: f32) -> Self {
            Ymm(_mm256_set1_ps(c), _mm256_set1_ps(c))
        }
        #[inline(always)]
        unsafe fn add(self, b: Self) -> Self {
            Ymm(_mm256_add_ps(self.0, b.0), _mm256_add_ps(self.1, b.1))
        }
        #[inline(always)]
        unsafe fn sub(self, b: Self) -> Self {
            Ymm(_mm256_sub_ps(self.0, b.0), _mm256_sub_ps(self.1, b.1))
        }
        #[inline(always)]
        unsafe fn mul(self, b: Self) -> Self {
            Ymm(_mm256_mul_ps(self.0, b.0), _mm256_mul_ps(self.1, b.1))
        }
        #[inline(always)]
        unsafe fn clamp(self, lo: Self, hi: Self) -> Self {
            Ymm(
                _mm256_min_ps(_mm256_max_ps(self.0, lo.0), hi.0),
                _mm256_min_ps(_mm256_max_ps(self.1, lo.1), hi.1),
            )
        }
        #[inline(always)]
        unsafe fn load(p: *const f32, n: usize) -> Self {
            if n >= 16 {
                Ymm(_mm256_loadu_ps(p), _mm256_loadu_ps(p.add(8)))
            } else {
                Ymm(
                    _mm256_maskload_ps(p, ymask(n, 0)),
                    _mm256_maskload_ps(p.wrapping_add(8), ymask(n, 8)),
                )
            }
        }
        #[inline(always)]
        unsafe fn store(self, p: *mut f32, n: usize) {
            if n >= 16 {
                _mm256_storeu_ps(p, self.0);
                _mm256_storeu_ps(p.add(8), self.1);
            } else {
                _mm256_maskstore_ps(p, ymask(n, 0), self.0);
                _mm256_maskstore_ps(p.wrapping_add(8), ymask(n, 8), self.1);
            }
        }
    }

    #[inline(always)]
    unsafe fn add<V: Lanes>(a: V, b: V) -> V {
        a.add(b)
    }

    #[inline(always)]
    unsafe fn sub<V: Lanes>(a: V, b: V) -> V {
        a.sub(b)
    }

    #[inline(always)]
    unsafe fn mul<V: Lanes>(c: f32, a: V) -> V {
        V::splat(c).mul(a)
    }

    /// `Bᵀ z` on the first `A` vectors (as [`super::bt`]).
    #[inline(always)]
    unsafe fn bt<V: Lanes, const A: usize>(z: &[V; 6]) -> [V; 6] {
        let [z0, z1, z2, z3, z4, z5] = *z;
        if A == 6 {
            [
                add(add(z0, mul(1.5, sub(z3, z1))), sub(z4, mul(2.0, z2))),
                add(sub(z1, mul(2.5, z2)), add(mul(0.5, z3), z4)),
                add(sub(mul(0.5, z2), z1), add(mul(2.5, z3), z4)),
                add(mul(2.0, sub(z3, z1)), sub(z4, z2)),
                add(mul(0.5, sub(z1, z3)), sub(z4, z2)),
                add(add(z1, mul(1.5, sub(z4, z2))), sub(z5, mul(2.0, z3))),
            ]
        } else {
            let zero = V::zero();
            [sub(z0, z2), add(z1, z2), sub(z2, z1), sub(z1, z3), zero, zero]
        }
    }

    /// `Aᵀ m` on the first `A` vectors (as [`super::at`]): `M` outputs.
    #[inline(always)]
    unsafe fn at<V: Lanes, const M: usize, const A: usize>(m: &[V; 6]) -> [V; 4] {
        let [m0, m1, m2, m3, m4, m5] = *m;
        if A == 6 && M == 2 {
            let zero = V::zero();
            [
                add(add(m0, add(m1, m2)), add(m3, m4)),
                add(add(sub(m2, m1), sub(mul(0.5, m3), mul(2.0, m4))), m5),
                zero,
                zero,
            ]
        } else if A == 6 {
            let (s12, d21) = (add(m1, m2), sub(m2, m1));
            [
                add(add(m0, s12), add(m3, m4)),
                add(d21, sub(mul(0.5, m3), mul(2.0, m4))),
                add(s12, add(mul(0.25, m3), mul(4.0, m4))),
                add(add(d21, sub(mul(0.125, m3), mul(8.0, m4))), m5),
            ]
        } else {
            let zero = V::zero();
            [add(add(m0, m1), m2), sub(sub(m1, m2), m3), zero, zero]
        }
    }

    /// [`super::input_tile`] for F(`M`×`M`, 3×3), `A = M + 2`.
    ///
    /// # Safety
    /// As [`super::input_tile`]; the CPU has `V`'s instruction set.
    #[inline(always)]
    unsafe fn input_tile<V: Lanes, const M: usize, const A: usize>(
        g: &ConvGeometry,
        x: &[f32],
        t: usize,
        th: usize,
        tw: usize,
        v: OutPtr,
        slot: usize,
    ) {
        let (img, ty, tx) = tile_at(t, th, tw);
        let (h, w, cin) = (g.rows.input, g.cols.input, g.cin);
        let iy0 = (ty * M) as isize - g.rows.pad_before as isize;
        let ix0 = (tx * M) as isize - g.cols.pad_before as isize;
        // Each window pixel's channels, or zeros (a padding pixel's channel step is 0: every
        // chunk reads the same zeros).
        let mut px = [[(ZEROS.as_ptr(), 0usize); 6]; 6];
        for (dy, row) in px.iter_mut().enumerate().take(A) {
            for (dx, p) in row.iter_mut().enumerate().take(A) {
                let (iy, ix) = (iy0 + dy as isize, ix0 + dx as isize);
                if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w {
                    // `check` proved every pixel of the image in `x`.
                    *p = (x.as_ptr().add(((img * h + iy as usize) * w + ix as usize) * cin), 1);
                }
            }
        }
        let zero = V::zero();
        let mut c0 = 0;
        while c0 < cin {
            let n = 16.min(cin - c0);
            // Down the columns: t[i][dx] = Σ_dy Bᵀ[i][dy] d[dy][dx].
            let mut tc = [[zero; 6]; 6];
            for dx in 0..A {
                let mut col = [zero; 6];
                for (dy, c) in col.iter_mut().enumerate().take(A) {
                    let (p, step) = px[dy][dx];
                    *c = V::load(p.add(c0 * step), n);
                }
                let r = bt::<V, A>(&col);
                for i in 0..A {
                    tc[i][dx] = r[i];
                }
            }
            // Then along the rows: V[i][j] = Σ_dx t[i][dx] Bᵀ[j][dx].
            for (i, row) in tc.iter().enumerate().take(A) {
                let r = bt::<V, A>(row);
                for (j, &val) in r.iter().enumerate().take(A) {
                    val.store(v.get().add(slot_at(i * A + j, slot, A * A) * cin + c0), n);
                }
            }
            c0 += 16;
        }
    }

    /// [`super::input_tiles`] for block slots `slots` (tiles `t0 + slot`).
    ///
    /// # Safety
    /// As [`super::input_tile`]; the CPU has `V`'s instruction set.
    #[inline(always)]
    pub(super) unsafe fn input_tiles<V: Lanes>(job: &Job, t0: usize, slots: std::ops::Range<usize>, v: OutPtr) {
        let (g, x, th, tw) = (job.g, job.x, job.th, job.tw);
        for s in slots {
            match job.variant {
                Variant::F4 => input_tile::<V, 4, 6>(g, x, t0 + s, th, tw, v, s),
                Variant::F2 => input_tile::<V, 2, 4>(g, x, t0 + s, th, tw, v, s),
                Variant::F25 => input_tile::<V, 2, 6>(g, x, t0 + s, th, tw, v, s),
                Variant::Row7 | Variant::Col7 => input_line::<V, 8>(g, x, t0 + s, th, tw, v, s, job.variant),
                Variant::Row3 | Variant::Col3 => input_line::<V, 6>(g, x, t0 + s, th, tw, v, s, job.variant),
            }
        }
    }

    /// [`super::output_tiles`] for block slots `slots` from `m`.
    ///
    /// # Safety
    /// As [`super::output_tile`]; the CPU has `V`'s instruction set.
    #[inline(always)]
    pub(super) unsafe fn output_tiles<V: Lanes>(job: &Job, t0: usize, slots: std::ops::Range<usize>, m: OutPtr) {
        for s in slots {
            match job.variant {
                Variant::F4 => output_tile::<V, 4, 6>(job, m, t0 + s, s),
                Variant::F2 => output_tile::<V, 2, 4>(job, m, t0 + s, s),
                Variant::F25 => output_tile::<V, 2, 6>(job, m, t0 + s, s),
                Variant::Row7 | Variant::Col7 => output_line::<V, 8>(job, m, t0 + s, s),
                Variant::Row3 | Variant::Col3 => output_line::<V, 6>(job, m, t0 + s, s),
            }
        }
    }

    /// [`super::output_tile`] for F(`M`×`M`, 3×3), `A = M + 2`: `y = act(Aᵀ m A + bias +
    /// residual)`, the clamp in registers, other activations per value.
    ///
    /// # Safety
    /// As [`super::output_tile`]; the CPU has `V`'s instruction set.
    #[inline(always)]
    #[allow(clippy::needless_range_loop)] // `j` indexes the columns of `s`'s rows
    unsafe fn output_tile<V: Lanes, const M: usize, const A: usize>(o: &Job, m: OutPtr, t: usize, slot: usize) {
        let g = o.g;
        let (img, ty, tx) = tile_at(t, o.th, o.tw);
        let (oh, ow, cout) = (g.oh(), g.ow(), g.cout);
        let rows = M.min(oh - ty * M);
        let cols = M.min(ow - tx * M);
        let act = o.epi.act();
        let zero = V::zero();
        let mut c0 = 0;
        while c0 < cout {
            let n = 16.min(cout - c0);
            // Down the columns: s[a][j] = Σ_i Aᵀ[a][i] m[i][j].
            let mut s = [[zero; 6]; 4];
            for j in 0..A {
                let mut col = [zero; 6];
                for (i, c) in col.iter_mut().enumerate().take(A) {
                    *c = V::load(m.get().add(slot_at(i * A + j, slot, A * A) * cout + c0), n);
                }
                let r = at::<V, M, A>(&col);
                for a in 0..M {
                    s[a][j] = r[a];
                }
            }
            let bias = match o.epi.bias {
                Some(b) => V::load(b.as_ptr().add(c0), n),
                None => zero,
            };
            for (a, srow) in s.iter().enumerate().take(rows) {
                let r = at::<V, M, A>(srow);
                for (b, &val) in r.iter().enumerate().take(cols) {
                    let pix = (img * oh + ty * M + a) * ow + tx * M + b;
                    o.store(&act, pix, c0, n, add(val, bias));
                }
            }
            c0 += 16;
        }
    }

    impl Job<'_> {
        /// Output pixel `pix`, channels `c0 .. c0 + n`: `act(val + residual)` (`val` has the
        /// bias), the clamp in registers, other activations per value.
        ///
        /// # Safety
        /// The output (and the residual) hold these channels of pixel `pix`.
        #[inline(always)]
        unsafe fn store<V: Lanes>(&self, act: &crate::kernels::act::ActSpec, pix: usize, c0: usize, n: usize, val: V) {
            let mut out = val;
            if let Some((rp, rs)) = self.res {
                out = add(out, V::load(rp.get().add(pix * rs + c0), n));
            }
            let dst = self.y.get().add(pix * self.y_stride + c0);
            if act.slope.is_none() && act.post.is_none() {
                out.clamp(V::splat(act.lo), V::splat(act.hi)).store(dst, n);
            } else {
                let mut lanes = [0.0f32; 16];
                out.store(lanes.as_mut_ptr(), 16);
                for (l, v) in lanes.iter().enumerate().take(n) {
                    *dst.add(l) = act.apply(*v);
                }
            }
        }
    }

    /// `Bᵀ z` of F(2, 7) (as [`super::bt7`]).
    #[inline(always)]
    unsafe fn bt7<V: Lanes>(z: &[V; 8]) -> [V; 8] {
        let [z0, z1, z2, z3, z4, z5, z6, z7] = *z;
        let (e1, o1) = (sub(add(z2, z6), mul(4.25, z4)), sub(add(z1, z5), mul(4.25, z3)));
        let (e3, o3) = (
            add(sub(mul(2.0, z2), mul(2.5, z4)), mul(0.5, z6)),
            add(sub(z1, mul(1.25, z3)), mul(0.25, z5)),
        );
        let (e5, o5) = (
            add(sub(mul(0.25, z2), mul(1.25, z4)), z6),
            add(sub(mul(0.5, z1), mul(2.5, z3)), mul(2.0, z5)),
        );
        [
            add(sub(z0, z6), mul(5.25, sub(z4, z2))),
            sub(sub(V::zero(), e1), o1),
            sub(o1, e1),
            add(e3, o3),
            sub(e3, o3),
            add(e5, o5),
            sub(e5, o5),
            add(sub(z7, z1), mul(5.25, sub(z3, z5))),
        ]
    }

    /// `Aᵀ m` of F(2, 7) (as [`super::at7`]).
    #[inline(always)]
    unsafe fn at7<V: Lanes>(m: &[V; 8]) -> [V; 2] {
        let [m0, m1, m2, m3, m4, m5, m6, m7] = *m;
        [
            add(add(add(m0, add(m1, m2)), add(m3, m4)), add(m5, m6)),
            add(add(add(sub(m1, m2), mul(0.5, sub(m3, m4))), mul(2.0, sub(m5, m6))), m7),
        ]
    }

    /// `Bᵀ z` of a line variant with a `W`-pixel window: F(2, 7)'s ([`bt7`]) or F(4, 3)'s
    /// (F(4×4, 3×3)'s [`bt`]); the first `W` vectors are the result.
    #[inline(always)]
    unsafe fn line_bt<V: Lanes, const W: usize>(d: &[V; W]) -> [V; 8] {
        let z = V::zero();
        let at = |i: usize| if i < W { d[i] } else { z };
        if W == 8 {
            bt7(&std::array::from_fn(at))
        } else {
            let r = bt::<V, 6>(&std::array::from_fn(at));
            std::array::from_fn(|i| if i < 6 { r[i] } else { z })
        }
    }

    /// `Aᵀ m` of a line variant with a `W`-pixel window: F(2, 7)'s 2 outputs ([`at7`]) or
    /// F(4, 3)'s 4 (F(4×4, 3×3)'s [`at`]).
    #[inline(always)]
    unsafe fn line_at<V: Lanes, const W: usize>(m: &[V; W]) -> [V; 4] {
        let z = V::zero();
        let at_ = |i: usize| if i < W { m[i] } else { z };
        if W == 8 {
            let r = at7(&std::array::from_fn(at_));
            [r[0], r[1], z, z]
        } else {
            at::<V, 4, 6>(&std::array::from_fn(at_))
        }
    }

    /// [`super::input_line`] in intrinsics, for a `W`-pixel window.
    ///
    /// # Safety
    /// As [`super::input_line`]; the CPU has `V`'s instruction set.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    unsafe fn input_line<V: Lanes, const W: usize>(
        g: &ConvGeometry,
        x: &[f32],
        t: usize,
        th: usize,
        tw: usize,
        v: OutPtr,
        slot: usize,
        variant: Variant,
    ) {
        let (img, iy0, ix0, (sy, sx)) = super::line_window(g, t, th, tw, variant);
        let (h, w, cin) = (g.rows.input, g.cols.input, g.cin);
        let mut px = [(ZEROS.as_ptr(), 0usize); W];
        for (j, p) in px.iter_mut().enumerate() {
            let (iy, ix) = (iy0 + sy * j as isize, ix0 + sx * j as isize);
            if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w {
                // `check` proved every pixel of the image in `x`.
                *p = (x.as_ptr().add(((img * h + iy as usize) * w + ix as usize) * cin), 1);
            }
        }
        let mut c0 = 0;
        while c0 < cin {
            let n = 16.min(cin - c0);
            let d: [V; W] = px.map(|(p, step)| V::load(p.add(c0 * step), n));
            for (xi, &val) in line_bt::<V, W>(&d).iter().enumerate().take(W) {
                val.store(v.get().add(slot_at(xi, slot, W) * cin + c0), n);
            }
            c0 += 16;
        }
    }

    /// [`super::output_line`] in intrinsics, for a `W`-pixel window.
    ///
    /// # Safety
    /// As [`super::output_line`]; the CPU has `V`'s instruction set.
    #[inline(always)]
    unsafe fn output_line<V: Lanes, const W: usize>(o: &Job, m: OutPtr, t: usize, slot: usize) {
        let variant = o.variant;
        let g = o.g;
        let (img, ty, tx) = tile_at(t, o.th, o.tw);
        let (oh, ow, cout) = (g.oh(), g.ow(), g.cout);
        let (mh, mw) = variant.tile();
        let (oy0, ox0) = (ty * mh, tx * mw);
        let row = variant.along_row();
        // The tile's pixels, the last ones perhaps past the bottom or right edge.
        let inside = if row { mw.min(ow - ox0) } else { mh.min(oh - oy0) };
        let act = o.epi.act();
        let mut c0 = 0;
        while c0 < cout {
            let n = 16.min(cout - c0);
            let z: [V; W] = std::array::from_fn(|xi| V::load(m.get().add(slot_at(xi, slot, W) * cout + c0), n));
            let bias = match o.epi.bias {
                Some(b) => V::load(b.as_ptr().add(c0), n),
                None => V::zero(),
            };
            for (kk, &val) in line_at::<V, W>(&z).iter().enumerate().take(inside) {
                let (oy, ox) = if row { (oy0, ox0 + kk) } else { (oy0 + kk, ox0) };
                o.store(&act, (img * oh + oy) * ow + ox, c0, n, add(val, bias));
            }
            c0 += 16;
        }
    }
}

/// The input transform of one tile: `V[ξ][slot] = (Bᵀ d B)[ξ]` for every channel, `d` the
/// tile's 6×6 window (zeros outside the image).
///
/// # Safety
/// `v` holds `36·cin` values for slots `0..=slot`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn input_tile<const M: usize, const A: usize>(
    g: &ConvGeometry,
    x: &[f32],
    t: usize,
    th: usize,
    tw: usize,
    v: OutPtr,
    slot: usize,
) {
    let (img, ty, tx) = tile_at(t, th, tw);
    let (h, w, cin) = (g.rows.input, g.cols.input, g.cin);
    let iy0 = (ty * M) as isize - g.rows.pad_before as isize;
    let ix0 = (tx * M) as isize - g.cols.pad_before as isize;
    let pixel = |dy: usize, dx: usize| -> Option<usize> {
        let (iy, ix) = (iy0 + dy as isize, ix0 + dx as isize);
        (iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w)
            .then(|| ((img * h + iy as usize) * w + ix as usize) * cin)
    };
    let mut at_px = [[None; A]; A];
    for (dy, row) in at_px.iter_mut().enumerate() {
        for (dx, p) in row.iter_mut().enumerate() {
            *p = pixel(dy, dx);
        }
    }
    let mut c0 = 0;
    while c0 < cin {
        let n = L.min(cin - c0);
        // d, transformed down its columns: t[i][dx] = Σ_dy Bᵀ[i][dy] d[dy][dx].
        let mut tcol = [[[0.0f32; L]; A]; A];
        for dx in 0..A {
            let mut col = [[0.0f32; L]; A];
            for (dy, c) in col.iter_mut().enumerate() {
                if let Some(p) = at_px[dy][dx] {
                    // `check` proved every pixel of the image in `x`.
                    copy_lanes(x.as_ptr().add(p + c0), c.as_mut_ptr(), n);
                }
            }
            for (row, v) in tcol.iter_mut().zip(bt(&col)) {
                row[dx] = v;
            }
        }
        // Then along its rows: V[i][j] = Σ_dx t[i][dx] Bᵀ[j][dx].
        for (i, row) in tcol.iter().enumerate() {
            let r = bt(row);
            for (j, vals) in r.iter().enumerate() {
                let dst = v.get().add(slot_at(i * A + j, slot, A * A) * cin + c0);
                copy_lanes(vals.as_ptr(), dst, n);
            }
        }
        c0 += n;
    }
}

/// The output transform of one tile with the epilogue: `y = act(Aᵀ m A + bias + residual)` for
/// the tile's pixels inside the output.
///
/// # Safety
/// `m` holds the `36·cout` values the GEMMs wrote for `slot` (at [`slot_at`]); the output (and the
/// residual) hold every pixel of the geometry at their strides.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn output_tile<const M: usize, const A: usize>(
    g: &ConvGeometry,
    epi: &super::Epilogue,
    res: Option<(OutPtr, usize)>,
    y: OutPtr,
    y_stride: usize,
    t: usize,
    th: usize,
    tw: usize,
    m: OutPtr,
    slot: usize,
) {
    let (img, ty, tx) = tile_at(t, th, tw);
    let (oh, ow, cout) = (g.oh(), g.ow(), g.cout);
    let rows = M.min(oh - ty * M);
    let cols = M.min(ow - tx * M);
    let act = epi.act();
    let mut c0 = 0;
    while c0 < cout {
        let n = L.min(cout - c0);
        // Down the columns: s[a][j] = Σ_i Aᵀ[a][i] m[i][j].
        let mut s = [[[0.0f32; L]; A]; M];
        for j in 0..A {
            let mut col = [[0.0f32; L]; A];
            for (i, c) in col.iter_mut().enumerate() {
                let src = m.get().add(slot_at(i * A + j, slot, A * A) * cout + c0);
                copy_lanes(src, c.as_mut_ptr(), n);
            }
            for (row, v) in s.iter_mut().zip(at::<M, A>(&col)) {
                row[j] = v;
            }
        }
        let bias = bias_lanes(epi, c0, n);
        for (a, srow) in s.iter().enumerate().take(rows) {
            let o = at::<M, A>(srow);
            for (b, vals) in o.iter().enumerate().take(cols) {
                let pix = (img * oh + ty * M + a) * ow + tx * M + b;
                store_pixel(vals, &bias, &act, res, y, y_stride, pix, c0, n);
            }
        }
        c0 += n;
    }
}

/// The bias of channels `c0 .. c0 + n` (zeros past them, or without a bias).
///
/// # Safety
/// The bias, if any, holds `c0 + n` values.
#[inline(always)]
unsafe fn bias_lanes(epi: &super::Epilogue, c0: usize, n: usize) -> [f32; L] {
    let mut bias = [0.0f32; L];
    if let Some(b) = epi.bias {
        copy_lanes(b.as_ptr().add(c0), bias.as_mut_ptr(), n);
    }
    bias
}

/// Output pixel `pix`, channels `c0 .. c0 + n`: `act(vals + bias + residual)`.
///
/// # Safety
/// The output (and the residual) hold pixel `pix`'s channels `c0 .. c0 + n` at their strides.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn store_pixel(
    vals: &[f32; L],
    bias: &[f32; L],
    act: &super::act::ActSpec,
    res: Option<(OutPtr, usize)>,
    y: OutPtr,
    y_stride: usize,
    pix: usize,
    c0: usize,
    n: usize,
) {
    let mut out = [0.0f32; L];
    for l in 0..L {
        out[l] = vals[l] + bias[l];
    }
    if let Some((r, rs)) = res {
        let mut rv = [0.0f32; L];
        copy_lanes(r.get().add(pix * rs + c0), rv.as_mut_ptr(), n);
        for (o, r) in out.iter_mut().zip(rv) {
            *o += r;
        }
    }
    if act.slope.is_none() && act.post.is_none() {
        for o in out.iter_mut() {
            *o = o.max(act.lo).min(act.hi);
        }
    } else {
        for o in out.iter_mut().take(n) {
            *o = act.apply(*o);
        }
    }
    copy_lanes(out.as_ptr(), y.get().add(pix * y_stride + c0), n);
}

/// `Bᵀ z` for [`BT7`], written out: its rows pair up as `e ∓ o` (even and odd inputs).
#[inline(always)]
fn bt7(z: &[[f32; L]; 8]) -> [[f32; L]; 8] {
    let mut r = [[0.0f32; L]; 8];
    for l in 0..L {
        let [z0, z1, z2, z3, z4, z5, z6, z7] = [z[0][l], z[1][l], z[2][l], z[3][l], z[4][l], z[5][l], z[6][l], z[7][l]];
        r[0][l] = (z0 - z6) + 5.25 * (z4 - z2);
        let (e, o) = ((z2 + z6) - 4.25 * z4, (z1 + z5) - 4.25 * z3);
        r[1][l] = -e - o;
        r[2][l] = o - e;
        let (e, o) = (2.0 * z2 - 2.5 * z4 + 0.5 * z6, z1 - 1.25 * z3 + 0.25 * z5);
        r[3][l] = e + o;
        r[4][l] = e - o;
        let (e, o) = (0.25 * z2 - 1.25 * z4 + z6, 0.5 * z1 - 2.5 * z3 + 2.0 * z5);
        r[5][l] = e + o;
        r[6][l] = e - o;
        r[7][l] = (z7 - z1) + 5.25 * (z3 - z5);
    }
    r
}

/// `Aᵀ m` for [`AT7`], written out.
#[inline(always)]
fn at7(m: &[[f32; L]; 8]) -> [[f32; L]; 2] {
    let mut r = [[0.0f32; L]; 2];
    for l in 0..L {
        let [m0, m1, m2, m3, m4, m5, m6, m7] = [m[0][l], m[1][l], m[2][l], m[3][l], m[4][l], m[5][l], m[6][l], m[7][l]];
        r[0][l] = m0 + (m1 + m2) + (m3 + m4) + (m5 + m6);
        r[1][l] = (m1 - m2) + 0.5 * (m3 - m4) + 2.0 * (m5 - m6) + m7;
    }
    r
}

/// `Bᵀ z` of a line variant with a `w`-pixel window (8: F(2, 7)'s [`bt7`]; 6: F(4, 3)'s, the
/// rows of [`BT4`]); the first `w` rows are the result.
#[inline(always)]
fn line_bt(z: &[[f32; L]; 8], w: usize) -> [[f32; L]; 8] {
    if w == 8 {
        return bt7(z);
    }
    let r = bt::<6>(&std::array::from_fn(|i| z[i]));
    std::array::from_fn(|i| if i < 6 { r[i] } else { [0.0; L] })
}

/// `Aᵀ m` of a line variant with a `w`-pixel window: F(2, 7)'s 2 outputs ([`at7`]) or F(4,
/// 3)'s 4 (the rows of [`AT4`]).
#[inline(always)]
fn line_at(m: &[[f32; L]; 8], w: usize) -> [[f32; L]; 4] {
    if w == 8 {
        let r = at7(m);
        return [r[0], r[1], [0.0; L], [0.0; L]];
    }
    at::<4, 6>(&std::array::from_fn(|i| m[i]))
}

/// The window of a line tile (F(2, 7), F(4, 3)): `(image, first input row, first input
/// column)` (either may be negative: padding), and the step between its pixels, `(rows,
/// columns)`.
fn line_window(
    g: &ConvGeometry,
    t: usize,
    th: usize,
    tw: usize,
    variant: Variant,
) -> (usize, isize, isize, (isize, isize)) {
    let (img, ty, tx) = tile_at(t, th, tw);
    let (mh, mw) = variant.tile();
    let iy0 = (ty * mh) as isize - g.rows.pad_before as isize;
    let ix0 = (tx * mw) as isize - g.cols.pad_before as isize;
    let step = if variant.along_row() { (0, 1) } else { (1, 0) };
    (img, iy0, ix0, step)
}

/// The input transform of one line tile (F(2, 7) or F(4, 3)): `V[ξ][slot] = (Bᵀ d)[ξ]` for
/// every channel, `d` the tile's 8 or 6 input pixels along its row or column (zeros outside
/// the image).
///
/// # Safety
/// `v` holds `xi·cin` values for slots `0..=slot` (`xi` the variant's 8 or 6).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn input_line(
    g: &ConvGeometry,
    x: &[f32],
    t: usize,
    th: usize,
    tw: usize,
    v: OutPtr,
    slot: usize,
    variant: Variant,
) {
    let (img, iy0, ix0, (sy, sx)) = line_window(g, t, th, tw, variant);
    let (h, w, cin) = (g.rows.input, g.cols.input, g.cin);
    let w_len = variant.xi();
    let mut at_px = [None; 8];
    for (j, p) in at_px.iter_mut().enumerate().take(w_len) {
        let (iy, ix) = (iy0 + sy * j as isize, ix0 + sx * j as isize);
        *p = (iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w)
            .then(|| ((img * h + iy as usize) * w + ix as usize) * cin);
    }
    let mut c0 = 0;
    while c0 < cin {
        let n = L.min(cin - c0);
        let mut d = [[0.0f32; L]; 8];
        for (dj, p) in d.iter_mut().zip(at_px) {
            if let Some(p) = p {
                // `check` proved every pixel of the image in `x`.
                copy_lanes(x.as_ptr().add(p + c0), dj.as_mut_ptr(), n);
            }
        }
        for (xi, vals) in line_bt(&d, w_len).iter().enumerate().take(w_len) {
            copy_lanes(vals.as_ptr(), v.get().add(slot_at(xi, slot, w_len) * cin + c0), n);
        }
        c0 += n;
    }
}

/// The output transform of one line tile (F(2, 7) or F(4, 3)) with the epilogue: `y =
/// act(Aᵀ m + bias + residual)` for its pixels inside the output.
///
/// # Safety
/// As [`output_tile`], with `xi·cout` values for `slot`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn output_line(
    g: &ConvGeometry,
    epi: &super::Epilogue,
    res: Option<(OutPtr, usize)>,
    y: OutPtr,
    y_stride: usize,
    t: usize,
    th: usize,
    tw: usize,
    m: OutPtr,
    slot: usize,
    variant: Variant,
) {
    let (img, ty, tx) = tile_at(t, th, tw);
    let (oh, ow, cout) = (g.oh(), g.ow(), g.cout);
    let (mh, mw) = variant.tile();
    let (oy0, ox0) = (ty * mh, tx * mw);
    // The tile's pixels, the last ones perhaps past the bottom or right edge.
    let inside = if variant.along_row() {
        mw.min(ow - ox0)
    } else {
        mh.min(oh - oy0)
    };
    let w_len = variant.xi();
    let act = epi.act();
    let mut c0 = 0;
    while c0 < cout {
        let n = L.min(cout - c0);
        let mut z = [[0.0f32; L]; 8];
        for (xi, zi) in z.iter_mut().enumerate().take(w_len) {
            copy_lanes(m.get().add(slot_at(xi, slot, w_len) * cout + c0), zi.as_mut_ptr(), n);
        }
        let bias = bias_lanes(epi, c0, n);
        for (k, vals) in line_at(&z, w_len).iter().enumerate().take(inside) {
            let (oy, ox) = if variant.along_row() {
                (oy0, ox0 + k)
            } else {
                (oy0 + k, ox0)
            };
            store_pixel(vals, &bias, &act, res, y, y_stride, (img * oh + oy) * ow + ox, c0, n);
        }
        c0 += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::conv::{conv2d_reference, Weights};
    use crate::kernels::Epilogue;
    use crate::ops::conv::{conv2d_geometry, Conv2dParams};
    use crate::{Padding, Rng};

    fn random(rng: &mut Rng, n: usize) -> Vec<f32> {
        (0..n).map(|_| rng.uniform_range(-1.0, 1.0) as f32).collect()
    }

    /// Every shape class (partial tiles at the bottom and right, `same` and `valid`, channel
    /// counts off the 16-lane vectors and off the 128-channel chunks, one tile, several
    /// blocks, batch 1 and 3) with bias, residual and each kind of activation, on every
    /// instruction set, against the naive loop in f32 and the exact sum in f64: Winograd's
    /// error stays within a few times the direct sum's rounding.
    #[test]
    fn winograd_matches_the_direct_convolution() {
        let mut rng = Rng::new(7);
        let cases: &[(usize, usize, usize, usize, usize, Padding)] = &[
            (1, 8, 8, 16, 32, Padding::Same),
            (1, 7, 9, 3, 5, Padding::Same),
            (3, 11, 6, 37, 70, Padding::Valid),
            (2, 4, 4, 129, 20, Padding::Same),
            (1, 3, 3, 8, 8, Padding::Valid),
            (1, 30, 29, 64, 64, Padding::Same),
            (1, 5, 13, 300, 48, Padding::Same),
        ];
        let acts = [
            crate::kernels::act::ActSpec::LINEAR,
            crate::kernels::act::ActSpec::from_activation(crate::ops::activation::Activation::Relu).unwrap(),
            crate::kernels::act::ActSpec::from_activation(crate::ops::activation::Activation::Swish).unwrap(),
            crate::kernels::act::ActSpec::relu_general(0.1, Some(6.0), 0.0).unwrap(),
        ];
        let variants = [
            Variant::F4,
            Variant::F2,
            Variant::F25,
            Variant::Row7,
            Variant::Col7,
            Variant::Row3,
            Variant::Col3,
        ];
        for (isa, variant) in Isa::available().into_iter().flat_map(|i| variants.map(|v| (i, v))) {
            let (kh, kw) = variant.kernel();
            for (ci, &(n, h, w, cin, cout, padding)) in cases.iter().enumerate() {
                if padding == Padding::Valid && (h < kh || w < kw) {
                    continue;
                }
                let x = random(&mut rng, n * h * w * cin);
                let k = random(&mut rng, kh * kw * cin * cout);
                let bias = random(&mut rng, cout);
                let g = conv2d_geometry(
                    "t",
                    &[n, h, w, cin],
                    &[kh, kw, cin, cout],
                    &Conv2dParams::new((1, 1), padding),
                )
                .unwrap();
                let px = n * g.oh() * g.ow();
                let res = random(&mut rng, px * (cout + 3));
                let ww = WinogradWeights::pack(isa, &k, cin, cout, variant).unwrap();
                let act = acts[ci % acts.len()];
                let with_res = ci % 2 == 0;
                let epi = act.with_bias(Some(&bias));
                let run = |weights: Weights, naive: bool| {
                    let stride = cout + 2;
                    let mut y = vec![f32::NAN; px * stride];
                    let a = ConvArgs {
                        geometry: &g,
                        x: &x,
                        weights,
                        epilogue: epi,
                        residual: with_res.then_some((&res[..], cout + 3)),
                        y: &mut y,
                        y_stride: stride,
                        prologue: None,
                    };
                    if naive {
                        conv2d_reference(a).unwrap();
                    } else {
                        crate::kernels::conv::conv2d(isa, a).unwrap();
                    }
                    y
                };
                let got = run(Weights::Winograd(&ww), false);
                let want = run(Weights::Raw(&k), true);
                // The f64 sum, for the error scale.
                let mut worst = 0f64;
                for p in 0..px {
                    let (img, oy, ox) = (p / (g.oh() * g.ow()), (p / g.ow()) % g.oh(), p % g.ow());
                    for co in 0..cout {
                        let mut s = 0f64;
                        let mut mag = 0f64;
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let iy = (oy + ky) as isize - g.rows.pad_before as isize;
                                let ix = (ox + kx) as isize - g.cols.pad_before as isize;
                                if iy < 0 || ix < 0 || iy as usize >= h || ix as usize >= w {
                                    continue;
                                }
                                for c in 0..cin {
                                    let t = f64::from(x[((img * h + iy as usize) * w + ix as usize) * cin + c])
                                        * f64::from(k[((ky * kw + kx) * cin + c) * cout + co]);
                                    s += t;
                                    mag += t.abs();
                                }
                            }
                        }
                        let (a, b) = (got[p * (cout + 2) + co], want[p * (cout + 2) + co]);
                        // Both went through the same epilogue: compare their difference to the
                        // size of the products summed.
                        let d = f64::from((a - b).abs()) / (mag + 1.0);
                        worst = worst.max(d);
                        assert!(
                            d < 2e-6,
                            "{isa:?} {variant:?} case {ci} pixel {p} channel {co}: winograd {a} vs direct {b} (sum {s}, magnitude {mag}, error {d:e})"
                        );
                    }
                    // The padding columns between pixels stay untouched.
                    for j in cout..cout + 2 {
                        assert!(
                            got[p * (cout + 2) + j].is_nan(),
                            "{isa:?} {variant:?} case {ci}: wrote past cout"
                        );
                    }
                }
                eprintln!("{isa:?} {variant:?} case {ci}: worst error {worst:e} of the products' magnitude");
            }
        }
    }

    /// The written-out transforms are the matrices, up to the rounding of their reordered
    /// sums, for the three square variants; F(2×2, 5×5)'s matrices filter exactly.
    #[test]
    fn the_transforms_are_the_matrices() {
        fn check<const M: usize, const A: usize, const R: usize>(
            bt_m: &[[f32; A]],
            at_m: &[[f32; A]],
            g_m: &[[f64; R]],
            variant: Variant,
        ) {
            let mut rng = Rng::new(3);
            let mut z = [[0.0f32; L]; A];
            for row in z.iter_mut() {
                for v in row.iter_mut() {
                    *v = rng.uniform_range(-4.0, 4.0) as f32;
                }
            }
            let naive = |m: &[[f32; A]], l: usize, i: usize| -> f64 {
                (0..A).map(|k| f64::from(m[i][k]) * f64::from(z[k][l])).sum()
            };
            let (b, a) = (bt(&z), at::<M, A>(&z));
            for l in 0..L {
                for (i, bi) in b.iter().enumerate() {
                    assert!(
                        (f64::from(bi[l]) - naive(bt_m, l, i)).abs() < 1e-5,
                        "{variant:?} Bᵀ row {i}"
                    );
                }
                for (i, ai) in a.iter().enumerate() {
                    assert!(
                        (f64::from(ai[l]) - naive(at_m, l, i)).abs() < 1e-5,
                        "{variant:?} Aᵀ row {i}"
                    );
                }
            }
            // G g Gᵀ of a kernel that is one tap: the outer product of G's column.
            for tap in 0..R * R {
                let mut k = [0.0f32; 25];
                k[tap] = 1.0;
                let u = transform_pair(&k[..R * R], 1, 1, 0, 0, variant);
                for i in 0..A {
                    for j in 0..A {
                        let want = g_m[i][tap / R] * g_m[j][tap % R];
                        assert!(
                            (f64::from(u[i * A + j]) - want).abs() < 1e-7,
                            "{variant:?} tap {tap} ({i}, {j})"
                        );
                    }
                }
                assert!(u[A * A..].iter().all(|&v| v == 0.0));
            }
            assert_eq!((variant.tile(), variant.xi()), ((M, M), A * A));
        }
        check::<4, 6, 3>(&BT4, &AT4, &G4, Variant::F4);
        check::<2, 4, 3>(&BT2, &AT2, &G2, Variant::F2);
        check::<2, 6, 5>(&BT4, &AT25, &G25, Variant::F25);
        // Aᵀ [(G g) ⊙ (Bᵀ d)] of F(2, 5) along one axis is the 5-tap correlation of 6 inputs.
        let mut rng = Rng::new(13);
        for _ in 0..20 {
            let d: Vec<f64> = (0..6).map(|_| rng.uniform_range(-2.0, 2.0)).collect();
            let k: Vec<f64> = (0..5).map(|_| rng.uniform_range(-2.0, 2.0)).collect();
            let gk: Vec<f64> = G25.iter().map(|row| (0..5).map(|j| row[j] * k[j]).sum()).collect();
            let bd: Vec<f64> = BT4
                .iter()
                .map(|row| (0..6).map(|j| f64::from(row[j]) * d[j]).sum())
                .collect();
            for (i, row) in AT25.iter().enumerate() {
                let got: f64 = (0..6).map(|j| f64::from(row[j]) * gk[j] * bd[j]).sum();
                let want: f64 = (0..5).map(|j| k[j] * d[i + j]).sum();
                assert!(
                    (got - want).abs() < 1e-12 * (1.0 + want.abs()),
                    "F(2, 5) output {i}: {got} vs {want}"
                );
            }
        }
    }

    /// F(2, 7)'s matrices filter exactly (`Aᵀ [(G g) ⊙ (Bᵀ d)]` is the 7-tap correlation of
    /// 8 inputs, in f64), [`bt7`] and [`at7`] are them, and the kernel transform is `G`'s column for
    /// a kernel of one tap, in both orientations.
    #[test]
    fn the_line_transforms_filter_exactly() {
        let mut rng = Rng::new(11);
        for _ in 0..20 {
            let d: Vec<f64> = (0..8).map(|_| rng.uniform_range(-2.0, 2.0)).collect();
            let k: Vec<f64> = (0..7).map(|_| rng.uniform_range(-2.0, 2.0)).collect();
            let gk: Vec<f64> = G7.iter().map(|row| (0..7).map(|j| row[j] * k[j]).sum()).collect();
            let bd: Vec<f64> = BT7
                .iter()
                .map(|row| (0..8).map(|j| f64::from(row[j]) * d[j]).sum())
                .collect();
            for (i, row) in AT7.iter().enumerate() {
                let got: f64 = (0..8).map(|j| f64::from(row[j]) * gk[j] * bd[j]).sum();
                let want: f64 = (0..7).map(|j| k[j] * d[i + j]).sum();
                assert!(
                    (got - want).abs() < 1e-12 * (1.0 + want.abs()),
                    "output {i}: {got} vs {want}"
                );
            }
        }
        let mut z = [[0.0f32; L]; 8];
        for row in z.iter_mut() {
            for v in row.iter_mut() {
                *v = rng.uniform_range(-4.0, 4.0) as f32;
            }
        }
        let (b, a) = (bt7(&z), at7(&z));
        for l in 0..L {
            for (i, row) in BT7.iter().enumerate() {
                let want: f64 = (0..8).map(|j| f64::from(row[j]) * f64::from(z[j][l])).sum();
                assert!((f64::from(b[i][l]) - want).abs() < 1e-5, "Bᵀ row {i}");
            }
            for (i, row) in AT7.iter().enumerate() {
                let want: f64 = (0..8).map(|j| f64::from(row[j]) * f64::from(z[j][l])).sum();
                assert!((f64::from(a[i][l]) - want).abs() < 1e-5, "Aᵀ row {i}");
            }
        }
        // F(4, 3) along a line: F(4×4, 3×3)'s matrices once, and its transforms are them.
        for _ in 0..20 {
            let d: Vec<f64> = (0..6).map(|_| rng.uniform_range(-2.0, 2.0)).collect();
            let k: Vec<f64> = (0..3).map(|_| rng.uniform_range(-2.0, 2.0)).collect();
            let gk: Vec<f64> = G4.iter().map(|row| (0..3).map(|j| row[j] * k[j]).sum()).collect();
            let bd: Vec<f64> = BT4
                .iter()
                .map(|row| (0..6).map(|j| f64::from(row[j]) * d[j]).sum())
                .collect();
            for (i, row) in AT4.iter().enumerate() {
                let got: f64 = (0..6).map(|j| f64::from(row[j]) * gk[j] * bd[j]).sum();
                let want: f64 = (0..3).map(|j| k[j] * d[i + j]).sum();
                assert!(
                    (got - want).abs() < 1e-12 * (1.0 + want.abs()),
                    "F(4, 3) output {i}: {got} vs {want}"
                );
            }
        }
        let (b, a) = (line_bt(&z, 6), line_at(&z, 6));
        for l in 0..L {
            for (i, row) in BT4.iter().enumerate() {
                let want: f64 = (0..6).map(|j| f64::from(row[j]) * f64::from(z[j][l])).sum();
                assert!((f64::from(b[i][l]) - want).abs() < 1e-5, "F(4, 3) Bᵀ row {i}");
            }
            for (i, row) in AT4.iter().enumerate() {
                let want: f64 = (0..6).map(|j| f64::from(row[j]) * f64::from(z[j][l])).sum();
                assert!((f64::from(a[i][l]) - want).abs() < 1e-5, "F(4, 3) Aᵀ row {i}");
            }
        }
        for variant in [Variant::Row3, Variant::Col3] {
            assert_eq!(variant.xi(), 6);
            for tap in 0..3 {
                let mut k = [0.0f32; 3];
                k[tap] = 1.0;
                let u = transform_pair(&k, 1, 1, 0, 0, variant);
                for (xi, row) in G4.iter().enumerate() {
                    assert!(
                        (f64::from(u[xi]) - row[tap]).abs() < 1e-7,
                        "{variant:?} tap {tap} ξ {xi}"
                    );
                }
                assert!(u[6..].iter().all(|&v| v == 0.0));
            }
        }
        for variant in [Variant::Row7, Variant::Col7] {
            assert_eq!(variant.xi(), 8);
            for tap in 0..7 {
                let mut k = [0.0f32; 7];
                k[tap] = 1.0;
                let u = transform_pair(&k, 1, 1, 0, 0, variant);
                for (xi, row) in G7.iter().enumerate() {
                    assert!(
                        (f64::from(u[xi]) - row[tap]).abs() < 1e-7,
                        "{variant:?} tap {tap} ξ {xi}"
                    );
                }
                assert!(u[8..].iter().all(|&v| v == 0.0));
            }
        }
    }

    /// Where Winograd is used: the layers the kernels bench measured faster, and not the ones
    /// it measured slower or the memory rule keeps direct.
    #[test]
    fn worth_follows_the_measured_shapes() {
        let geo = |n: usize, hw: usize, cin: usize, cout: usize, padding: Padding| {
            conv2d_geometry(
                "t",
                &[n, hw, hw, cin],
                &[3, 3, cin, cout],
                &Conv2dParams::new((1, 1), padding),
            )
            .unwrap()
        };
        // VGG16's blocks, ResNet50's stage 4 at batch 1 (many channel pairs), DenseNet121's
        // first block.
        let f4 = |g: &ConvGeometry, min: usize| pays(g, min);
        assert!(f4(&geo(1, 224, 64, 64, Padding::Same), PLAN_MIN_CHANNELS));
        assert!(f4(&geo(1, 28, 512, 512, Padding::Same), PLAN_MIN_CHANNELS));
        assert!(f4(&geo(1, 14, 256, 256, Padding::Same), PLAN_MIN_CHANNELS));
        assert!(f4(&geo(1, 56, 128, 32, Padding::Same), PLAN_MIN_CHANNELS));
        // 32 input channels; DenseNet121 at 14×14, batch 1 (16 tiles, few pairs); a 3-channel
        // stem; ResNet50's last stage below batch 16 (over 6144 kernel values a tile); a
        // `valid` 13×13 output (a third of each tile's work outside); strides.
        assert!(!f4(&geo(1, 149, 32, 32, Padding::Valid), PLAN_MIN_CHANNELS));
        assert!(!f4(&geo(1, 14, 128, 32, Padding::Same), PLAN_MIN_CHANNELS));
        assert!(!f4(&geo(1, 224, 3, 64, Padding::Same), PLAN_MIN_CHANNELS));
        assert!(!f4(&geo(8, 7, 512, 512, Padding::Same), PLAN_MIN_CHANNELS));
        assert!(!f4(&geo(32, 15, 64, 64, Padding::Valid), PLAN_MIN_CHANNELS));
        // The tape from 32 channels: the CIFAR CNN's second layer and its input gradient.
        assert!(f4(&geo(32, 30, 32, 32, Padding::Valid), TAPE_MIN_CHANNELS));
        assert!(f4(&geo(32, 32, 32, 32, Padding::Same), TAPE_MIN_CHANNELS));
        assert!(!f4(&geo(32, 30, 16, 32, Padding::Valid), TAPE_MIN_CHANNELS));
        // F(2×2) where F(4×4)'s memory rule alone says no: ResNet50's last stage at batch 1
        // and 8, VGG16's block 5 and InceptionV3's 448 → 384 at batch 1; and where its channel
        // floor alone does: InceptionV3's 32-channel stem, InceptionResNetV2's 35×35 blocks; not
        // DenseNet121's 16-tile layer, 16 input channels, a 32-channel layer at 7×7 (4 tiles:
        // InceptionResNetV2's blocks from a 75×75 input), nor where F(4×4) runs.
        let f2 = pays_f2;
        assert!(f2(&geo(1, 7, 512, 512, Padding::Same)) && f2(&geo(8, 7, 512, 512, Padding::Same)));
        assert!(f2(&geo(1, 14, 512, 512, Padding::Same)) && f2(&geo(1, 8, 448, 384, Padding::Same)));
        assert!(f2(&geo(1, 149, 32, 32, Padding::Valid)) && f2(&geo(1, 147, 32, 64, Padding::Same)));
        assert!(f2(&geo(1, 35, 32, 48, Padding::Same)) && f2(&geo(8, 35, 48, 64, Padding::Same)));
        assert_eq!(worth(&geo(1, 147, 32, 64, Padding::Same), true), Some(Variant::F2));
        // Without residual sums (InceptionV3), F(4×4) from 32 channels; below, neither.
        assert_eq!(worth(&geo(1, 147, 32, 64, Padding::Same), false), Some(Variant::F4));
        assert_eq!(worth(&geo(1, 149, 32, 32, Padding::Valid), false), Some(Variant::F4));
        assert_eq!(worth(&geo(1, 56, 16, 32, Padding::Same), false), None);
        assert!(!f2(&geo(1, 14, 128, 32, Padding::Same)) && !f2(&geo(1, 56, 64, 64, Padding::Same)));
        assert!(!f2(&geo(1, 56, 16, 32, Padding::Same)) && !f2(&geo(1, 7, 32, 32, Padding::Same)));
        let strided = conv2d_geometry(
            "t",
            &[1, 56, 56, 64],
            &[3, 3, 64, 64],
            &Conv2dParams::new((2, 2), Padding::Same),
        )
        .unwrap();
        assert!(!applies(&strided) && !f4(&strided, TAPE_MIN_CHANNELS) && !f2(&strided));
        // F(2, 7): InceptionV3's 1×7 and 7×1 layers at 17×17 (128–192 channels, batch 1 and
        // 8, 1.14–1.42× in the kernels bench), each orientation with its own variant; not
        // InceptionResNetV2's at 3×3 (from a 75×75 input: 6 tiles), nor 7×7 or strided ones,
        // and the tape never.
        let line = |n: usize, hw: usize, c: usize, k: (usize, usize), stride: usize| {
            conv2d_geometry(
                "t",
                &[n, hw, hw, c],
                &[k.0, k.1, c, c],
                &Conv2dParams::new((stride, stride), Padding::Same),
            )
            .unwrap()
        };
        for (n, c) in [(1, 128), (1, 192), (8, 160)] {
            assert_eq!(worth(&line(n, 17, c, (1, 7), 1), true), Some(Variant::Row7));
            assert_eq!(worth(&line(n, 17, c, (7, 1), 1), true), Some(Variant::Col7));
            assert_eq!(worth_on_tape(&line(n, 17, c, (1, 7), 1)), None);
        }
        assert_eq!(worth(&line(1, 3, 128, (1, 7), 1), true), None);
        assert_eq!(worth(&line(1, 17, 32, (7, 1), 1), true), None);
        assert_eq!(worth(&line(1, 17, 192, (7, 1), 2), true), None);
        assert_eq!(worth(&line(1, 17, 192, (7, 7), 1), true), None);
        assert!(!fits(&line(1, 17, 192, (7, 1), 1), Variant::Row7));
        // F(4, 3): InceptionV3's 1×3 and 3×1 384 → 384 and InceptionResNetV2's 192 → 224 and
        // 224 → 256 at 8×8 (1.07–1.86× in the kernels bench), batch 1 (16 tiles) and 8; not
        // at 4×4 (4 tiles), with 32 channels, or strided.
        for n in [1, 8] {
            assert_eq!(worth(&line(n, 8, 384, (1, 3), 1), true), Some(Variant::Row3));
            assert_eq!(worth(&line(n, 8, 224, (3, 1), 1), true), Some(Variant::Col3));
            assert_eq!(worth_on_tape(&line(n, 8, 384, (1, 3), 1)), None);
        }
        assert_eq!(worth(&line(1, 4, 384, (1, 3), 1), true), None);
        assert_eq!(worth(&line(8, 8, 32, (3, 1), 1), true), None);
        assert_eq!(worth(&line(8, 8, 384, (1, 3), 2), true), None);
        assert!(!fits(&line(1, 8, 384, (1, 3), 1), Variant::Col3));
        // F(2×2, 5×5): InceptionV3's 48 → 64 at 35×35 (batch 1 and 8) and at 17×17, from 32
        // channels; not at 7×7 (16 tiles), with 16 channels, or strided; the tape never.
        let five = |n: usize, hw: usize, cin: usize, cout: usize, stride: usize| {
            conv2d_geometry(
                "t",
                &[n, hw, hw, cin],
                &[5, 5, cin, cout],
                &Conv2dParams::new((stride, stride), Padding::Same),
            )
            .unwrap()
        };
        for g in [
            five(1, 35, 48, 64, 1),
            five(8, 35, 48, 64, 1),
            five(1, 17, 48, 64, 1),
            five(1, 35, 32, 32, 1),
        ] {
            assert_eq!(worth(&g, true), Some(Variant::F25));
            assert_eq!(worth_on_tape(&g), None);
        }
        assert_eq!(worth(&five(1, 7, 48, 64, 1), true), None);
        assert_eq!(worth(&five(8, 35, 16, 64, 1), true), None);
        assert_eq!(worth(&five(8, 35, 48, 64, 2), true), None);
    }

    #[test]
    fn mismatched_weights_are_an_error() {
        let isa = crate::kernels::isa();
        let k = vec![0.5f32; 9 * 4 * 8];
        let ww = WinogradWeights::pack(isa, &k, 4, 8, Variant::F4).unwrap();
        assert!(WinogradWeights::pack(isa, &k, 4, 9, Variant::F2).is_err());
        assert!(WinogradWeights::pack(isa, &k, 4, 8, Variant::Row7).is_err());
        let x = vec![1.0f32; 2 * 6 * 6 * 4];
        let strided = conv2d_geometry(
            "t",
            &[2, 6, 6, 4],
            &[3, 3, 4, 8],
            &Conv2dParams::new((2, 2), Padding::Same),
        )
        .unwrap();
        let mut y = vec![0.0f32; 2 * 3 * 3 * 8];
        let err = crate::kernels::conv::conv2d(
            isa,
            ConvArgs {
                geometry: &strided,
                x: &x,
                weights: Weights::Winograd(&ww),
                epilogue: Epilogue::linear(),
                residual: None,
                y: &mut y,
                y_stride: 8,
                prologue: None,
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("stride 2×2"), "{err}");
    }
}
