//! Direct ("implicit GEMM") convolution kernels: the forward and the weight gradient of any
//! stride and padding, and the input gradient of stride-1 "same" convolutions, without
//! unfolding the input into a `[K, pixels]` matrix.
//!
//! Each image's planes are copied once into zero-bordered planes of width `w + 2·pad`, laid
//! end to end. In that layout a kernel tap `(ky, kx)` is a constant offset, so every output
//! pixel of a plane (read as one flat row, with `2·pad` junk columns per image row that are
//! computed and dropped) is a sum of vectors loaded at fixed offsets. (With a stride `s`, the
//! planes are split into their `s²` phases first; see [`Layout`]. The formulas below are the
//! stride-1 case.)
//!
//! ```text
//! forward      y[o, f]  = Σ_{c, ky, kx} W[o, c, ky, kx] · xp[c, f + ky·wp + kx]
//! input grad   dx[c, f] = Σ_{ky, kx} ( Σ_o W[o, c, ky, kx] · dyp[o, f + (2ph − ky)·wp + (2pw − kx)] )
//! weight grad  dW[o, c, ky, kx] = Σ_{chunks} Σ_{images, f} dy[o, f] · xp[c, f + ky·wp + kx]
//! ```
//!
//! **Same sums, same order, same bits.** The im2col + `gemm` path computes each forward output
//! as one fused-multiply-add chain over `k = (c, ky, kx)` in order, from zero, and each
//! unfolded input gradient as a chain over `o`, which the fold then adds tap by tap, in order,
//! from zero. These kernels run exactly those chains (vector lanes are independent pixels), so
//! they return the same floats, bit for bit: a window reaching outside the image reads the zero
//! border, and `fma(w, 0, s) = s` for any `s` a chain from `+0` can hold (it is never `−0`).
//! The weight gradient's chains run over the pixels of a chunk of images, added chunk by chunk.
//! That holds while `gemm` keeps its sums in one block and on its microkernel path, which
//! [`applies`] and [`applies_weight_grad`] check; the tests in the parent module compare both
//! paths bit for bit.
//!
//! (One exception: a non-finite weight. The input gradient's taps that fall outside the output
//! multiply it by the zero border, NaN here where the fold skips them.)
//!
//! They run at AVX-512 where the CPU has it (16 lanes, 32 registers), else AVX2 + FMA (8 lanes;
//! `pulp`'s run-time dispatch); the lane count changes nothing in the results, each lane being
//! its own chain. Without FMA the parent module keeps im2col + GEMM, whose kernels then round
//! each product.

use pulp::x86::{V3, V4};
use pulp::{Simd, WithSimd};

use super::Geometry;

/// Whether [`forward`] computes `g` with the same floats as im2col + GEMM: a convolution
/// whose GEMMs stay on `gemm`'s blocked path in one block of depth (see the module docs); any
/// stride and padding.
pub fn applies(g: &Geometry) -> bool {
    (3..=512).contains(&g.channels_out) && (3..=512).contains(&g.k()) && g.pixels() >= 2
}

/// Whether [`input_grad`] covers `g`: besides [`applies`], a stride-1 convolution with an odd
/// kernel and "same" padding.
pub fn applies_input_grad(g: &Geometry) -> bool {
    let [kh, kw] = g.kernel;
    applies(g) && g.stride == [1, 1] && kh % 2 == 1 && kw % 2 == 1 && g.padding == [kh / 2, kw / 2]
}

/// Runs `op` at the widest level this CPU has: AVX-512 (`V4`), else AVX2 + FMA (`V3`); `None`
/// without FMA.
fn dispatch<Op: WithSimd>(op: Op) -> Option<Op::Output> {
    if let Some(simd) = V4::try_new() {
        Some(Simd::vectorize(simd, op))
    } else {
        V3::try_new().map(|simd| Simd::vectorize(simd, op))
    }
}

/// Zero-bordered planes of one image, end to end. With a stride `s > 1` each plane is split
/// into its `s_h · s_w` phases (rows `≡ a`, columns `≡ b` modulo the stride), so that a tap
/// still reads a contiguous run: `xp[s·oy + ky][s·ox + kx]` is row `oy + ky / s`, column
/// `ox + kx / s` of phase `(ky mod s, kx mod s)`.
struct Layout {
    /// Row width of a phase: the padded width `w + 2·pw` divided by the stride, rounded up.
    wp: usize,
    /// Flat outputs computed per plane: `out_h · wp` rounded up to whole vectors.
    span: usize,
    /// Floats per phase: the phase plus the farthest read past `span`.
    phase: usize,
    /// Floats per padded plane: `s_h · s_w` phases.
    plane: usize,
    /// Tap offsets, in the kernel's row-major tap order.
    offsets: Vec<usize>,
}

impl Layout {
    /// The layout of the input planes (`input_grad`: of the output gradient's planes, for a
    /// stride-1 "same" convolution).
    fn new(g: &Geometry, lanes: usize, input_grad: bool) -> Self {
        let [kh, kw] = g.kernel;
        let [sh, sw] = g.stride;
        let [ph, pw] = g.padding;
        let hp = (g.height + 2 * ph).div_ceil(sh);
        let wp = (g.width + 2 * pw).div_ceil(sw);
        let span = (g.out_height * wp).next_multiple_of(lanes);
        let reach = (kh - 1) / sh * wp + (kw - 1) / sw;
        let phase = (span + reach).max(hp * wp);
        let offsets = (0..kh)
            .flat_map(|ky| (0..kw).map(move |kx| (ky, kx)))
            .map(|(ky, kx)| {
                if input_grad {
                    (kh - 1 - ky) * wp + (kw - 1 - kx)
                } else {
                    ((ky % sh) * sw + kx % sw) * phase + ky / sh * wp + kx / sw
                }
            })
            .collect();
        Self {
            wp,
            span,
            phase,
            plane: sh * sw * phase,
            offsets,
        }
    }

    /// Copies `channels` planes `[h, w]` from `src` into the interiors of `dst`'s padded
    /// planes (borders and tails stay as they are: zero).
    fn pad(&self, g: &Geometry, src: &[f32], channels: usize, dst: &mut [f32]) {
        let (h, w) = (g.height, g.width);
        let [sh, sw] = g.stride;
        let [ph, pw] = g.padding;
        for c in 0..channels {
            let plane = &mut dst[c * self.plane..][..self.plane];
            for (y, row) in src[c * h * w..][..h * w].chunks_exact(w).enumerate() {
                if sh == 1 && sw == 1 {
                    plane[(y + ph) * self.wp + pw..][..w].copy_from_slice(row);
                    continue;
                }
                let r = y + ph;
                for (x, &v) in row.iter().enumerate() {
                    let q = x + pw;
                    let phase = (r % sh) * sw + q % sw;
                    plane[phase * self.phase + r / sh * self.wp + q / sw] = v;
                }
            }
        }
    }

    /// Copies the valid columns of `channels` flat outputs `[span]` into planes
    /// `[out_h, out_w]`.
    fn crop(&self, g: &Geometry, src: &[f32], channels: usize, dst: &mut [f32]) {
        let (h, w) = (g.out_height, g.out_width);
        for c in 0..channels {
            let flat = &src[c * self.span..][..h * self.wp];
            let plane = &mut dst[c * h * w..][..h * w];
            for (row, out) in flat.chunks(self.wp).zip(plane.chunks_exact_mut(w)) {
                out.copy_from_slice(&row[..w]);
            }
        }
    }
}

/// Forward: `[batch, out, h, w]` from `x [batch, in, h, w]`, `w [out, in, kh, kw]`, without
/// the bias; `None` when the CPU lacks FMA. `g` must satisfy [`applies`].
pub fn forward(g: &Geometry, x: &[f32], w: &[f32]) -> Option<Vec<f32>> {
    debug_assert!(applies(g));
    assert_eq!(
        x.len(),
        g.batch * g.channels_in * g.height * g.width,
        "direct forward: input"
    );
    assert_eq!(w.len(), g.channels_out * g.k(), "direct forward: weight");
    dispatch(Forward { g, x, w })
}

/// Input gradient `[batch, in, h, w]` from the output gradient `dy [batch, out, h, w]` and
/// `w [out, in, kh, kw]`; `None` when the CPU lacks FMA. `g` must satisfy [`applies`].
pub fn input_grad(g: &Geometry, dy: &[f32], w: &[f32]) -> Option<Vec<f32>> {
    debug_assert!(applies_input_grad(g));
    assert_eq!(
        dy.len(),
        g.batch * g.channels_out * g.pixels(),
        "direct input gradient: dy"
    );
    assert_eq!(
        w.len(),
        g.channels_out * g.k(),
        "direct input gradient: weight"
    );
    dispatch(InputGrad { g, dy, w })
}

/// Whether this CPU runs the kernels (it has FMA).
#[cfg(test)]
pub fn available() -> bool {
    V3::try_new().is_some()
}

/// The weights as `[rows, cols, taps]` with `rows` zero-padded to a multiple of `block`:
/// `transpose` swaps the first two axes of `w [out, in, taps]` first.
fn blocked_weights(g: &Geometry, w: &[f32], block: usize, transpose: bool) -> (Vec<f32>, usize) {
    let (co, ci) = (g.channels_out, g.channels_in);
    let taps = g.kernel[0] * g.kernel[1];
    let (rows, cols) = if transpose { (ci, co) } else { (co, ci) };
    let padded = rows.next_multiple_of(block);
    let mut out = vec![0.0f32; padded * cols * taps];
    for r in 0..rows {
        for c in 0..cols {
            let (o, i) = if transpose { (c, r) } else { (r, c) };
            out[(r * cols + c) * taps..][..taps].copy_from_slice(&w[(o * ci + i) * taps..][..taps]);
        }
    }
    (out, padded)
}

struct Forward<'a> {
    g: &'a Geometry,
    x: &'a [f32],
    w: &'a [f32],
}

impl WithSimd for Forward<'_> {
    type Output = Vec<f32>;

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> Vec<f32> {
        // Pixel vectors × output channels per block: 3 × 8 accumulators with AVX-512's 32
        // registers, 3 × 4 with AVX2's 16 (plus the loads and a broadcast).
        if lanes::<S>() >= 16 {
            self.run::<S, 3, 8>(simd)
        } else {
            self.run::<S, 3, 4>(simd)
        }
    }
}

impl Forward<'_> {
    #[inline(always)]
    fn run<S: Simd, const R: usize, const CB: usize>(self, simd: S) -> Vec<f32> {
        let Self { g, x, w } = self;
        let lanes = lanes::<S>();
        let (ci, co, p) = (g.channels_in, g.channels_out, g.pixels());
        let layout = Layout::new(g, lanes, false);
        let (w, co_padded) = blocked_weights(g, w, CB, false);
        let mut xp = vec![0.0f32; ci * layout.plane];
        let mut flat = vec![0.0f32; co_padded * layout.span];
        let mut y = vec![0.0f32; g.batch * co * p];
        let block = Block {
            layout: &layout,
            weights: &w,
            inner: ci,
        };
        for i in 0..g.batch {
            let hw = g.height * g.width;
            layout.pad(g, &x[i * ci * hw..][..ci * hw], ci, &mut xp);
            for o in (0..co_padded).step_by(CB) {
                let mut start = 0;
                while start + R * lanes <= layout.span {
                    block.forward::<S, R, CB>(simd, &xp, o, start, &mut flat);
                    start += R * lanes;
                }
                while start < layout.span {
                    block.forward::<S, 1, CB>(simd, &xp, o, start, &mut flat);
                    start += lanes;
                }
            }
            layout.crop(g, &flat, co, &mut y[i * co * p..][..co * p]);
        }
        y
    }
}

struct InputGrad<'a> {
    g: &'a Geometry,
    dy: &'a [f32],
    w: &'a [f32],
}

impl WithSimd for InputGrad<'_> {
    type Output = Vec<f32>;

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> Vec<f32> {
        // Two sets of accumulators (per tap and total): 2 × (3 × 4) with AVX-512, 2 × (2 × 3)
        // with AVX2.
        if lanes::<S>() >= 16 {
            self.run::<S, 3, 4>(simd)
        } else {
            self.run::<S, 2, 3>(simd)
        }
    }
}

impl InputGrad<'_> {
    #[inline(always)]
    fn run<S: Simd, const R: usize, const CB: usize>(self, simd: S) -> Vec<f32> {
        let Self { g, dy, w } = self;
        let lanes = lanes::<S>();
        let (ci, co, p) = (g.channels_in, g.channels_out, g.pixels());
        let layout = Layout::new(g, lanes, true);
        let (w, ci_padded) = blocked_weights(g, w, CB, true);
        let mut dyp = vec![0.0f32; co * layout.plane];
        let mut flat = vec![0.0f32; ci_padded * layout.span];
        let mut dx = vec![0.0f32; g.batch * ci * p];
        let block = Block {
            layout: &layout,
            weights: &w,
            inner: co,
        };
        for i in 0..g.batch {
            layout.pad(g, &dy[i * co * p..][..co * p], co, &mut dyp);
            for c in (0..ci_padded).step_by(CB) {
                let mut start = 0;
                while start + R * lanes <= layout.span {
                    block.input_grad::<S, R, CB>(simd, &dyp, c, start, &mut flat);
                    start += R * lanes;
                }
                while start < layout.span {
                    block.input_grad::<S, 1, CB>(simd, &dyp, c, start, &mut flat);
                    start += lanes;
                }
            }
            layout.crop(g, &flat, ci, &mut dx[i * ci * p..][..ci * p]);
        }
        dx
    }
}

/// What every block of one image shares.
struct Block<'a> {
    layout: &'a Layout,
    /// `[rows, inner, taps]`, rows (the block's channels) padded to the block.
    weights: &'a [f32],
    /// Channels summed over: input channels in the forward, output channels in the input
    /// gradient.
    inner: usize,
}

impl Block<'_> {
    /// Forward outputs `start..start + R·lanes` of channels `o..o + CB` into `out [rows, span]`.
    #[inline(always)]
    fn forward<S: Simd, const R: usize, const CB: usize>(
        &self,
        simd: S,
        xp: &[f32],
        o: usize,
        start: usize,
        out: &mut [f32],
    ) {
        let lanes = lanes::<S>();
        let Layout {
            plane,
            span,
            ref offsets,
            ..
        } = *self.layout;
        let taps = offsets.len();
        let reach = offsets.iter().max().copied().unwrap_or(0);
        // Every read below: plane c < inner, at start + offset + R·lanes ≤ span + reach ≤ plane.
        assert!(start + R * lanes <= span && span + reach <= plane);
        assert!(xp.len() >= self.inner * plane);
        assert!(self.weights.len() >= (o + CB) * self.inner * taps);
        assert!(out.len() >= (o + CB - 1) * span + start + R * lanes);
        let zero = simd.splat_f32s(0.0);
        let mut acc = [[zero; R]; CB];
        let weights = self.weights[o * self.inner * taps..].as_ptr();
        for c in 0..self.inner {
            // SAFETY: in bounds by the asserts above.
            let src = unsafe { xp.as_ptr().add(c * plane + start) };
            for (t, &off) in offsets.iter().enumerate() {
                // SAFETY: as above.
                let xv: [S::f32s; R] =
                    std::array::from_fn(|r| unsafe { load::<S>(src.add(off + r * lanes)) });
                for (j, acc) in acc.iter_mut().enumerate() {
                    // SAFETY: row o + j < o + CB of the weights, column c < inner, tap t.
                    let wv =
                        simd.splat_f32s(unsafe { *weights.add((j * self.inner + c) * taps + t) });
                    for (a, &xv) in acc.iter_mut().zip(&xv) {
                        *a = simd.mul_add_f32s(wv, xv, *a);
                    }
                }
            }
        }
        for (j, acc) in acc.iter().enumerate() {
            let out = &mut out[(o + j) * span + start..][..R * lanes];
            for (r, a) in acc.iter().enumerate() {
                store::<S>(&mut out[r * lanes..], *a);
            }
        }
    }

    /// Input-gradient outputs `start..start + R·lanes` of channels `c..c + CB` into
    /// `out [rows, span]`.
    #[inline(always)]
    fn input_grad<S: Simd, const R: usize, const CB: usize>(
        &self,
        simd: S,
        dyp: &[f32],
        c: usize,
        start: usize,
        out: &mut [f32],
    ) {
        let lanes = lanes::<S>();
        let Layout {
            plane,
            span,
            ref offsets,
            ..
        } = *self.layout;
        let taps = offsets.len();
        let reach = offsets.iter().max().copied().unwrap_or(0);
        // Every read below: plane o < inner, at start + offset + R·lanes ≤ span + reach ≤ plane.
        assert!(start + R * lanes <= span && span + reach <= plane);
        assert!(dyp.len() >= self.inner * plane);
        assert!(self.weights.len() >= (c + CB) * self.inner * taps);
        assert!(out.len() >= (c + CB - 1) * span + start + R * lanes);
        let zero = simd.splat_f32s(0.0);
        let mut acc = [[zero; R]; CB];
        let weights = self.weights[c * self.inner * taps..].as_ptr();
        for (t, &off) in offsets.iter().enumerate() {
            // The unfolded gradient of this tap: a chain over the output channels, from zero.
            let mut tap = [[zero; R]; CB];
            for o in 0..self.inner {
                // SAFETY: in bounds by the asserts above.
                let src = unsafe { dyp.as_ptr().add(o * plane + start + off) };
                // SAFETY: as above.
                let yv: [S::f32s; R] =
                    std::array::from_fn(|r| unsafe { load::<S>(src.add(r * lanes)) });
                for (j, tap) in tap.iter_mut().enumerate() {
                    // SAFETY: row c + j < c + CB of the weights, column o < inner, tap t.
                    let wv =
                        simd.splat_f32s(unsafe { *weights.add((j * self.inner + o) * taps + t) });
                    for (a, &yv) in tap.iter_mut().zip(&yv) {
                        *a = simd.mul_add_f32s(wv, yv, *a);
                    }
                }
            }
            // The fold: taps added in order, from zero.
            for (acc, tap) in acc.iter_mut().zip(&tap) {
                for (a, &v) in acc.iter_mut().zip(tap) {
                    *a = simd.add_f32s(*a, v);
                }
            }
        }
        for (j, acc) in acc.iter().enumerate() {
            let out = &mut out[(c + j) * span + start..][..R * lanes];
            for (r, a) in acc.iter().enumerate() {
                store::<S>(&mut out[r * lanes..], *a);
            }
        }
    }
}

/// Whether [`weight_grad`] computes `g`'s weight gradient with the same floats as im2col +
/// GEMM: besides [`applies`], every chunk of images is one block of `gemm`'s depth
/// (`chunk · pixels ≤ 512`, so the pixels divide 512) of depth at least 3 (`gemm` sums depths 1
/// and 2 on another path), the GEMM is not small enough for `gemm`'s dot-product kernels
/// (`K · out > 256`), and the output channels fill 8-wide vectors.
pub fn applies_weight_grad(g: &Geometry) -> bool {
    applies(g)
        && g.pixels() >= 3
        && 512 % g.pixels() == 0
        && g.k() * g.channels_out > 256
        && g.channels_out.is_multiple_of(8)
}

/// Weight gradient `[out, in, kh, kw]` from `x [batch, in, h, w]` and `dy [batch, out, h, w]`;
/// `None` when the CPU lacks FMA. `g` must satisfy [`applies_weight_grad`].
///
/// im2col + GEMM computes, per chunk of [`Geometry::chunk`] images, `dW += dY · colᵀ`: each
/// entry a fused-multiply-add chain over the chunk's pixels (image by image, row-major) from
/// zero, added to the running sum. The same here, with the output channels in the vector
/// lanes and the input read from zero-bordered planes.
pub fn weight_grad(g: &Geometry, x: &[f32], dy: &[f32]) -> Option<Vec<f32>> {
    debug_assert!(applies_weight_grad(g));
    assert_eq!(
        x.len(),
        g.batch * g.channels_in * g.height * g.width,
        "direct weight gradient: x"
    );
    assert_eq!(
        dy.len(),
        g.batch * g.channels_out * g.pixels(),
        "direct weight gradient: dy"
    );
    let op = WeightGrad { g, x, dy };
    if let Some(simd) = V4::try_new() {
        // Output channels in 16-wide vectors where they fill them, else 8-wide; either way
        // with AVX-512's 32 registers.
        Some(if g.channels_out.is_multiple_of(16) {
            Simd::vectorize(simd, op)
        } else {
            let v3: V3 = *simd;
            simd.vectorize(move || op.run::<V3, 24, 12>(v3))
        })
    } else {
        V3::try_new().map(|simd| simd.vectorize(move || op.run::<V3, 12, 6>(simd)))
    }
}

struct WeightGrad<'a> {
    g: &'a Geometry,
    x: &'a [f32],
    dy: &'a [f32],
}

impl WithSimd for WeightGrad<'_> {
    type Output = Vec<f32>;

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> Vec<f32> {
        self.run::<S, 24, 12>(simd)
    }
}

impl WeightGrad<'_> {
    /// Rows of `K` per block: `R1` with one vector of output channels, `R2` with two.
    #[inline(always)]
    fn run<S: Simd, const R1: usize, const R2: usize>(self, simd: S) -> Vec<f32> {
        let Self { g, x, dy } = self;
        let lanes = lanes::<S>();
        let (ci, co, p, k) = (g.channels_in, g.channels_out, g.pixels(), g.k());
        let layout = Layout::new(g, lanes, false);
        let chunk = g.chunk();
        let mut xp = vec![0.0f32; chunk * ci * layout.plane];
        let mut dyt = vec![0.0f32; chunk * p * co];
        let mut dw = vec![0.0f32; co * k];
        // Row r = (c, tap) of the unfolded input reads plane c at the tap's offset.
        let taps = layout.offsets.len();
        let rows: Vec<usize> = (0..k)
            .map(|r| (r / taps) * layout.plane + layout.offsets[r % taps])
            .collect();
        let pixels: Vec<usize> = (0..g.out_height)
            .flat_map(|y| (0..g.out_width).map(move |x| y * layout.wp + x))
            .collect();
        for first in (0..g.batch).step_by(chunk) {
            let count = chunk.min(g.batch - first);
            for i in 0..count {
                let hw = g.height * g.width;
                let image = (first + i) * ci * hw;
                layout.pad(
                    g,
                    &x[image..][..ci * hw],
                    ci,
                    &mut xp[i * ci * layout.plane..],
                );
                // dY of the image as [pixel, out].
                let src = &dy[(first + i) * co * p..][..co * p];
                let dst = &mut dyt[i * p * co..][..p * co];
                for (o, plane) in src.chunks_exact(p).enumerate() {
                    for (j, &v) in plane.iter().enumerate() {
                        dst[j * co + o] = v;
                    }
                }
            }
            let sweep = Sweep {
                xp: &xp[..count * ci * layout.plane],
                image_stride: ci * layout.plane,
                dyt: &dyt[..count * p * co],
                co,
                pixels: &pixels,
                accumulate: first > 0,
            };
            for o in (0..co).step_by(lanes * 2) {
                if co - o >= 2 * lanes {
                    sweep.rows::<S, 2, R2>(simd, &rows, o, &mut dw);
                } else {
                    sweep.rows::<S, 1, R1>(simd, &rows, o, &mut dw);
                }
            }
        }
        dw
    }
}

/// One chunk of images of the weight gradient.
struct Sweep<'a> {
    /// The chunk's zero-bordered input planes, image after image.
    xp: &'a [f32],
    image_stride: usize,
    /// The chunk's output gradient as `[image, pixel, out]`.
    dyt: &'a [f32],
    co: usize,
    /// Flat offsets of the image's pixels in a padded plane, row-major.
    pixels: &'a [usize],
    /// Add to the running sum (every chunk after the first).
    accumulate: bool,
}

impl Sweep<'_> {
    /// Every row of `dw [out, K]` for output channels `o..o + CV·lanes`, in blocks of `NB`
    /// rows.
    #[inline(always)]
    fn rows<S: Simd, const CV: usize, const NB: usize>(
        &self,
        simd: S,
        rows: &[usize],
        o: usize,
        dw: &mut [f32],
    ) {
        let mut r = 0;
        while r < rows.len() {
            if rows.len() - r >= NB {
                self.block::<S, CV, NB>(simd, &rows[r..r + NB], o, dw, r);
                r += NB;
            } else {
                self.block::<S, CV, 1>(simd, &rows[r..r + 1], o, dw, r);
                r += 1;
            }
        }
    }

    /// Rows `first..first + NB` of `dw` for output channels `o..o + CV·lanes`; `rows` holds
    /// their offsets into an image's padded planes.
    #[inline(always)]
    fn block<S: Simd, const CV: usize, const NB: usize>(
        &self,
        simd: S,
        rows: &[usize],
        o: usize,
        dw: &mut [f32],
        first: usize,
    ) {
        let lanes = lanes::<S>();
        assert_eq!(rows.len(), NB);
        let count = self.dyt.len() / (self.pixels.len() * self.co);
        let reach =
            rows.iter().max().copied().unwrap_or(0) + self.pixels.last().copied().unwrap_or(0);
        // Every read below: image i < count, at i·image_stride + row + pixel ≤ … + reach, and
        // dY at (i·P + j)·co + o + CV·lanes ≤ dyt.len().
        assert!(count == 0 || (count - 1) * self.image_stride + reach < self.xp.len());
        assert!(o + CV * lanes <= self.co);
        let zero = simd.splat_f32s(0.0);
        let mut acc = [[zero; CV]; NB];
        for i in 0..count {
            // SAFETY: in bounds by the asserts above.
            let image = unsafe { self.xp.as_ptr().add(i * self.image_stride) };
            let grads = self.dyt[i * self.pixels.len() * self.co..].as_ptr();
            for (j, &pf) in self.pixels.iter().enumerate() {
                // SAFETY: as above.
                let dv: [S::f32s; CV] = std::array::from_fn(|v| unsafe {
                    load::<S>(grads.add(j * self.co + o + v * lanes))
                });
                for (acc, &row) in acc.iter_mut().zip(rows) {
                    // SAFETY: as above.
                    let xs = simd.splat_f32s(unsafe { *image.add(row + pf) });
                    for (a, &dv) in acc.iter_mut().zip(&dv) {
                        *a = simd.mul_add_f32s(xs, dv, *a);
                    }
                }
            }
        }
        let mut lane = vec![0.0f32; lanes];
        let k = dw.len() / self.co;
        for (n, acc) in acc.iter().enumerate() {
            for (v, &a) in acc.iter().enumerate() {
                store::<S>(&mut lane, a);
                for (l, &value) in lane.iter().enumerate() {
                    let d = &mut dw[(o + v * lanes + l) * k + first + n];
                    *d = if self.accumulate { *d + value } else { value };
                }
            }
        }
    }
}

fn lanes<S: Simd>() -> usize {
    std::mem::size_of::<S::f32s>() / std::mem::size_of::<f32>()
}

/// The `lanes` floats at `src` as a vector.
///
/// # Safety
/// `src` must point to `lanes` readable floats.
#[inline(always)]
unsafe fn load<S: Simd>(src: *const f32) -> S::f32s {
    // SAFETY: the caller's; `S::f32s` is a plain vector of `f32` (any bits valid), read
    // unaligned.
    unsafe { src.cast::<S::f32s>().read_unaligned() }
}

/// Writes `v` over the first `lanes` floats of `dst`.
#[inline(always)]
fn store<S: Simd>(dst: &mut [f32], v: S::f32s) {
    let dst = &mut dst[..lanes::<S>()];
    // SAFETY: `dst` is a unique borrow of exactly the vector's size; the write is unaligned.
    unsafe { dst.as_mut_ptr().cast::<S::f32s>().write_unaligned(v) }
}
