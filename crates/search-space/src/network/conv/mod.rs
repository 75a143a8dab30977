//! A 2-D convolution whose forward and backward run as this module's kernels on contiguous
//! buffers on the flex CPU backend, and as Burn's own kernels everywhere else.
//!
//! Burn 0.21's flex backend convolves forward with im2col + GEMM, but its backward is Burn's
//! backend-generic default: the weight gradient swaps the batch and channel axes of the input
//! and of the output gradient and runs another convolution (strided copies), and the input
//! gradient is a transposed convolution. On the protocol's small images that backward costs
//! several times the forward. [`conv2d`] computes, per chunk of images:
//!
//! ```text
//! col  [K, n·P] = im2col(x)             K = in·kh·kw, P = out_h·out_w, n images per chunk
//! y    [out, n·P] = W [out, K] · col    (then copied into [batch, out, P])
//! dW  += dY [out, n·P] · colᵀ           (one GEMM per chunk, summed over the batch)
//! dcol [K, n·P] = Wᵀ · dY ;  dx = fold(dcol)
//! ```
//!
//! through the `gemm` crate (the matrix library flex itself uses), as a custom autodiff op
//! (`burn::backend::autodiff::ops::Backward`) that saves only `x` and `W` and recomputes the
//! unfolded input in the backward pass, like Burn's op. Where they give the same floats (the
//! network's convolutions do), the kernels of `conv/direct.rs` skip the unfolding: the forward
//! and the weight gradient of any stride, and the input gradient of stride-1 "same"
//! convolutions, from zero-bordered planes, with AVX-512 or AVX2 + FMA, in the same order as the
//! GEMMs.
//!
//! Dispatch is at run time on the backend *type*: when `B` is `Autodiff<Flex>` or `Flex` (with
//! the `flex` feature) and the convolution is dense (`groups = 1`, no dilation) in `f32`, the
//! tensors are downcast (`Any`, no unsafe code) and the op above runs; any other backend (wgpu,
//! CUDA, or a checkpointing autodiff) gets `burn::tensor::module::conv2d` unchanged. This keeps
//! library code generic over `B: Backend` with no extra trait bound to thread through every
//! crate.

use burn::nn::conv::Conv2d;
use burn::nn::PaddingConfig2d;
use burn::tensor::module;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{backend::Backend, Tensor};

/// 2-D convolution, `groups = 1`; the same function as [`burn::tensor::module::conv2d`].
///
/// - `input`: `[batch, in, height, width]`, `weight`: `[out, in, kh, kw]`, `bias`: `[out]`
/// - output: `[batch, out, (height + 2·pad_h − kh) / stride_h + 1, (width + 2·pad_w − kw) /
///   stride_w + 1]`
///
/// On `Autodiff<Flex>` and `Flex` in `f32` with unit dilation it runs this module's op (direct
/// or im2col + GEMM kernels, forward and backward); otherwise Burn's `conv2d`.
pub fn conv2d<B: Backend>(
    input: Tensor<B, 4>,
    weight: Tensor<B, 4>,
    bias: Option<Tensor<B, 1>>,
    options: ConvOptions<2>,
) -> Tensor<B, 4> {
    #[cfg(feature = "flex")]
    let (input, weight, bias) = match cpu_conv() {
        CpuConv::Gemm | CpuConv::Im2col => match flex::try_conv2d(input, weight, bias, &options) {
            Ok(output) => return output,
            Err(args) => args,
        },
        CpuConv::Burn => (input, weight, bias),
    };
    module::conv2d(input, weight, bias, options)
}

/// Which kernel [`conv2d`] runs on the flex backend.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CpuConv {
    /// This module's op with its own backward (the default; every database record since the v2
    /// rebuild was trained with it): direct kernels (`conv/direct.rs`) on CPUs with AVX2 + FMA
    /// where they give the same floats, im2col + GEMM for the rest.
    #[default]
    Gemm,
    /// The same op with im2col + GEMM for every convolution (the same floats as [`Self::Gemm`];
    /// the kernel before the direct one, for side-by-side speed measurements).
    Im2col,
    /// Burn's `conv2d` and its default backward, for side-by-side speed measurements.
    Burn,
}

thread_local! {
    static CPU_CONV: std::cell::Cell<CpuConv> = const { std::cell::Cell::new(CpuConv::Gemm) };
}

/// The kernel [`conv2d`] runs on flex on this thread ([`CpuConv::Gemm`] unless inside
/// [`with_cpu_conv`]).
pub fn cpu_conv() -> CpuConv {
    CPU_CONV.with(|k| k.get())
}

/// Runs `f` with [`conv2d`] on flex using `kernel` on this thread, then restores the previous
/// choice (also when `f` panics). For measuring the kernels side by side in one process
/// (`examples/speed.rs`); records a database builder writes are always made with the default.
///
/// ```
/// use search_space::network::{cpu_conv, with_cpu_conv, CpuConv};
/// assert_eq!(with_cpu_conv(CpuConv::Burn, cpu_conv), CpuConv::Burn);
/// assert_eq!(cpu_conv(), CpuConv::Gemm);
/// ```
pub fn with_cpu_conv<T>(kernel: CpuConv, f: impl FnOnce() -> T) -> T {
    struct Restore(CpuConv);
    impl Drop for Restore {
        fn drop(&mut self) {
            CPU_CONV.with(|k| k.set(self.0));
        }
    }
    let _restore = Restore(CPU_CONV.with(|k| k.replace(kernel)));
    f()
}

/// A Burn [`Conv2d`] module's forward through [`conv2d`] when its padding is explicit and
/// symmetric (as every convolution of the network is); otherwise its own forward.
///
/// - `input`: `[batch, in, height, width]`
/// - output: `[batch, out, out_height, out_width]`
pub(crate) fn conv_module<B: Backend>(conv: &Conv2d<B>, input: Tensor<B, 4>) -> Tensor<B, 4> {
    match conv.padding {
        PaddingConfig2d::Explicit(top, left, bottom, right) if top == bottom && left == right => {
            let options = ConvOptions::new(conv.stride, [top, left], conv.dilation, conv.groups);
            conv2d(
                input,
                conv.weight.val(),
                conv.bias.as_ref().map(|b| b.val()),
                options,
            )
        }
        _ => conv.forward(input),
    }
}

/// Shapes of one convolution, in elements.
#[cfg_attr(not(feature = "flex"), allow(dead_code))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Geometry {
    pub batch: usize,
    pub channels_in: usize,
    pub height: usize,
    pub width: usize,
    pub channels_out: usize,
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    pub out_height: usize,
    pub out_width: usize,
}

#[cfg_attr(not(feature = "flex"), allow(dead_code))]
impl Geometry {
    /// `None` when the kernel does not fit the padded input, or a stride is zero.
    pub fn new(
        input: [usize; 4],
        weight: [usize; 4],
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> Option<Self> {
        let [batch, channels_in, height, width] = input;
        let [channels_out, weight_in, kh, kw] = weight;
        if weight_in != channels_in || stride.contains(&0) || kh == 0 || kw == 0 {
            return None;
        }
        let out = |size: usize, k: usize, s: usize, p: usize| {
            (size + 2 * p).checked_sub(k).map(|span| span / s + 1)
        };
        Some(Self {
            batch,
            channels_in,
            height,
            width,
            channels_out,
            kernel: [kh, kw],
            stride,
            padding,
            out_height: out(height, kh, stride[0], padding[0])?,
            out_width: out(width, kw, stride[1], padding[1])?,
        })
    }

    /// Rows of the unfolded input: `in · kh · kw`.
    pub fn k(&self) -> usize {
        self.channels_in * self.kernel[0] * self.kernel[1]
    }

    /// Output pixels per image.
    pub fn pixels(&self) -> usize {
        self.out_height * self.out_width
    }

    /// Images per GEMM: enough columns (`images · P`) to keep the matrix library efficient,
    /// few enough that the unfolded chunk stays in cache.
    pub fn chunk(&self) -> usize {
        const COLUMNS: usize = 512;
        COLUMNS
            .div_ceil(self.pixels().max(1))
            .clamp(1, self.batch.max(1))
    }
}

/// The kernels on contiguous `f32` NCHW buffers, independent of any backend.
#[cfg(all(feature = "flex", target_arch = "x86_64"))]
mod direct;

#[cfg(feature = "flex")]
pub(crate) mod kernels {
    use super::Geometry;

    /// `dst = a · b` (or `dst += a · b` with `accumulate`), matrices given by their row and
    /// column strides: `a` is `m × k`, `b` is `k × n`, `dst` is `m × n` row-major.
    #[allow(clippy::too_many_arguments)]
    fn gemm(
        m: usize,
        n: usize,
        k: usize,
        dst: &mut [f32],
        accumulate: bool,
        a: &[f32],
        [a_rs, a_cs]: [usize; 2],
        b: &[f32],
        [b_rs, b_cs]: [usize; 2],
    ) {
        if m == 0 || n == 0 {
            return;
        }
        if k == 0 {
            if !accumulate {
                dst[..m * n].fill(0.0);
            }
            return;
        }
        assert!(dst.len() >= m * n, "gemm: destination too small");
        assert!(
            a.len() > (m - 1) * a_rs + (k - 1) * a_cs,
            "gemm: left operand too small"
        );
        assert!(
            b.len() > (k - 1) * b_rs + (n - 1) * b_cs,
            "gemm: right operand too small"
        );
        // SAFETY: the asserts above keep every element the strides address inside the slices;
        // `dst` is a unique borrow that aliases neither operand.
        unsafe {
            gemm::gemm(
                m,
                n,
                k,
                dst.as_mut_ptr(),
                1,
                n as isize,
                accumulate,
                a.as_ptr(),
                a_cs as isize,
                a_rs as isize,
                b.as_ptr(),
                b_cs as isize,
                b_rs as isize,
                1.0,
                1.0,
                false,
                false,
                false,
                gemm::Parallelism::None,
            );
        }
    }

    /// For an output coordinate range `0..out` along one axis, kernel offset `kk`: the input
    /// coordinate of output `o` is `o·stride + kk − pad`; returns the range of `o` for which
    /// it lies in `0..size`.
    fn valid(out: usize, size: usize, stride: usize, pad: usize, kk: usize) -> (usize, usize) {
        // o·s + kk ≥ pad  ⇔  o ≥ ⌈(pad − kk) / s⌉
        let lo = pad.saturating_sub(kk).div_ceil(stride).min(out);
        // o·s + kk − pad ≤ size − 1  ⇔  o ≤ (size − 1 + pad − kk) / s
        let hi = match (size + pad).checked_sub(kk + 1) {
            Some(top) => (top / stride + 1).min(out),
            None => 0,
        };
        (lo, hi.max(lo))
    }

    /// Unfolds images `first..first + count` of `x` into `col [K, count·P]` (zeros where the
    /// window leaves the image).
    fn im2col(g: &Geometry, x: &[f32], first: usize, count: usize, col: &mut [f32]) {
        let [kh, kw] = g.kernel;
        let [sh, sw] = g.stride;
        let [ph, pw] = g.padding;
        let (oh, ow, p) = (g.out_height, g.out_width, g.pixels());
        let (h, w) = (g.height, g.width);
        let cols = count * p;
        for c in 0..g.channels_in {
            for ky in 0..kh {
                let (y_lo, y_hi) = valid(oh, h, sh, ph, ky);
                for kx in 0..kw {
                    let (x_lo, x_hi) = valid(ow, w, sw, pw, kx);
                    let row = &mut col[((c * kh + ky) * kw + kx) * cols..][..cols];
                    for i in 0..count {
                        let plane = &x[((first + i) * g.channels_in + c) * h * w..][..h * w];
                        let out = &mut row[i * p..][..p];
                        out[..y_lo * ow].fill(0.0);
                        out[y_hi * ow..].fill(0.0);
                        if sh == 1 && sw == 1 && ow == w && y_lo < y_hi && x_lo < x_hi {
                            // A "same" stride-1 window is the plane shifted by a constant
                            // offset: copy the valid rows as one span, then zero the columns
                            // that wrapped around from a neighbouring row.
                            let start = y_lo * ow + x_lo;
                            let end = (y_hi - 1) * ow + x_hi;
                            let src = (y_lo + ky - ph) * w + x_lo + kx - pw;
                            out[start..end].copy_from_slice(&plane[src..src + end - start]);
                            zero_columns(out, ow, y_lo..y_hi, x_lo, x_hi);
                            continue;
                        }
                        for oy in y_lo..y_hi {
                            let src = &plane[(oy * sh + ky - ph) * w..][..w];
                            let dst = &mut out[oy * ow..][..ow];
                            dst[..x_lo].fill(0.0);
                            dst[x_hi..].fill(0.0);
                            if x_lo == x_hi {
                                // The window never overlaps this row of the image.
                            } else if sw == 1 {
                                let start = x_lo + kx - pw;
                                dst[x_lo..x_hi].copy_from_slice(&src[start..start + x_hi - x_lo]);
                            } else {
                                for ox in x_lo..x_hi {
                                    dst[ox] = src[ox * sw + kx - pw];
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Adds `col [K, count·P]` back onto images `first..first + count` of `dx` (the adjoint of
    /// [`im2col`]).
    /// Zeros columns `..x_lo` and `x_hi..` of rows `rows` of a `[_, ow]` plane: column by
    /// column (strided stores; a fill per row would call `memset` for one or two floats).
    fn zero_columns(
        plane: &mut [f32],
        ow: usize,
        rows: std::ops::Range<usize>,
        x_lo: usize,
        x_hi: usize,
    ) {
        for x in (0..x_lo).chain(x_hi..ow) {
            for y in rows.clone() {
                plane[y * ow + x] = 0.0;
            }
        }
    }

    /// Adds `col [K, count·P]` back onto images `first..first + count` of `dx` (the adjoint of
    /// [`im2col`]). `col` is scratch: the columns a window takes from outside the image are
    /// zeroed on the way.
    fn col2im(g: &Geometry, col: &mut [f32], first: usize, count: usize, dx: &mut [f32]) {
        let [kh, kw] = g.kernel;
        let [sh, sw] = g.stride;
        let [ph, pw] = g.padding;
        let (oh, ow, p) = (g.out_height, g.out_width, g.pixels());
        let (h, w) = (g.height, g.width);
        let cols = count * p;
        for i in 0..count {
            for c in 0..g.channels_in {
                let plane = &mut dx[((first + i) * g.channels_in + c) * h * w..][..h * w];
                for ky in 0..kh {
                    let (y_lo, y_hi) = valid(oh, h, sh, ph, ky);
                    for kx in 0..kw {
                        let (x_lo, x_hi) = valid(ow, w, sw, pw, kx);
                        let row = &mut col[((c * kh + ky) * kw + kx) * cols + i * p..][..p];
                        if sh == 1 && sw == 1 && ow == w && y_lo < y_hi && x_lo < x_hi {
                            // The adjoint of im2col's span copy: one span add, after zeroing
                            // the columns that would wrap onto a neighbouring row.
                            zero_columns(row, ow, y_lo..y_hi, x_lo, x_hi);
                            let start = y_lo * ow + x_lo;
                            let end = (y_hi - 1) * ow + x_hi;
                            let at = (y_lo + ky - ph) * w + x_lo + kx - pw;
                            let dst = &mut plane[at..at + end - start];
                            for (d, s) in dst.iter_mut().zip(&row[start..end]) {
                                *d += s;
                            }
                            continue;
                        }
                        for oy in y_lo..y_hi {
                            let dst = &mut plane[(oy * sh + ky - ph) * w..][..w];
                            let src = &row[oy * ow..][..ow];
                            if x_lo == x_hi {
                                // The window never overlaps this row of the image.
                            } else if sw == 1 {
                                let start = x_lo + kx - pw;
                                let dst = &mut dst[start..start + x_hi - x_lo];
                                for (d, s) in dst.iter_mut().zip(&src[x_lo..x_hi]) {
                                    *d += s;
                                }
                            } else {
                                for ox in x_lo..x_hi {
                                    dst[ox * sw + kx - pw] += src[ox];
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// `[batch, out, P]` ↔ `[out, count·P]` for images `first..first + count`.
    fn gather(g: &Geometry, dy: &[f32], first: usize, count: usize, out: &mut [f32]) {
        let (p, co) = (g.pixels(), g.channels_out);
        for i in 0..count {
            for c in 0..co {
                out[c * count * p + i * p..][..p]
                    .copy_from_slice(&dy[((first + i) * co + c) * p..][..p]);
            }
        }
    }

    /// Forward: `[batch, out, out_h, out_w]` from `x [batch, in, h, w]`, `w [out, in, kh, kw]`.
    ///
    /// With `direct`, a convolution [`super::direct`] covers runs there when the CPU allows
    /// (the same floats).
    pub fn forward(
        g: &Geometry,
        x: &[f32],
        w: &[f32],
        bias: Option<&[f32]>,
        direct: bool,
    ) -> Vec<f32> {
        if let Some(mut y) = direct_forward(g, x, w, direct) {
            if let Some(bias) = bias {
                for (plane, &b) in y.chunks_exact_mut(g.pixels()).zip(bias.iter().cycle()) {
                    plane.iter_mut().for_each(|v| *v += b);
                }
            }
            return y;
        }
        let (k, p, co) = (g.k(), g.pixels(), g.channels_out);
        let chunk = g.chunk();
        let mut y = vec![0.0f32; g.batch * co * p];
        let mut col = vec![0.0f32; k * chunk * p];
        let mut out = vec![0.0f32; co * chunk * p];
        for first in (0..g.batch).step_by(chunk) {
            let count = chunk.min(g.batch - first);
            let cols = count * p;
            im2col(g, x, first, count, &mut col);
            gemm(co, cols, k, &mut out, false, w, [k, 1], &col, [cols, 1]);
            for i in 0..count {
                for c in 0..co {
                    let dst = &mut y[((first + i) * co + c) * p..][..p];
                    dst.copy_from_slice(&out[c * cols + i * p..][..p]);
                    if let Some(bias) = bias {
                        dst.iter_mut().for_each(|v| *v += bias[c]);
                    }
                }
            }
        }
        y
    }

    /// Gradients with respect to the input (`[batch, in, h, w]`) and the weight
    /// (`[out, in, kh, kw]`), each only if asked for. With `direct`, the input gradient of a
    /// convolution [`super::direct`] covers runs there when the CPU allows (the same floats).
    pub fn backward(
        g: &Geometry,
        x: &[f32],
        w: &[f32],
        dy: &[f32],
        [want_input, want_weight]: [bool; 2],
        direct: bool,
    ) -> (Option<Vec<f32>>, Option<Vec<f32>>) {
        let (k, p, co) = (g.k(), g.pixels(), g.channels_out);
        let direct_dx = direct_input_grad(g, dy, w, want_input && direct);
        let fold = want_input && direct_dx.is_none();
        let mut dx = fold.then(|| vec![0.0f32; g.batch * g.channels_in * g.height * g.width]);
        let dw = want_weight.then(|| vec![0.0f32; co * k]);
        let direct_dw = direct_weight_grad(g, x, dy, want_weight && direct);
        let mut dw = dw.filter(|_| direct_dw.is_none());
        if fold || dw.is_some() {
            let chunk = g.chunk();
            let mut col = vec![0.0f32; k * chunk * p];
            let mut dyc = vec![0.0f32; co * chunk * p];
            for first in (0..g.batch).step_by(chunk) {
                let count = chunk.min(g.batch - first);
                let cols = count * p;
                gather(g, dy, first, count, &mut dyc);
                if let Some(dw) = dw.as_mut() {
                    im2col(g, x, first, count, &mut col);
                    // dW [out, K] += dY [out, cols] · colᵀ [cols, K]
                    gemm(co, k, cols, dw, first > 0, &dyc, [cols, 1], &col, [1, cols]);
                }
                if let Some(dx) = dx.as_mut() {
                    // dcol [K, cols] = Wᵀ [K, out] · dY [out, cols]
                    gemm(k, cols, co, &mut col, false, w, [1, k], &dyc, [cols, 1]);
                    col2im(g, &mut col, first, count, dx);
                }
            }
        }
        (direct_dx.or(dx), direct_dw.or(dw))
    }

    /// [`super::direct::forward`], when `direct` is asked for, its kernels cover `g` and this
    /// CPU has their level.
    #[cfg(target_arch = "x86_64")]
    fn direct_forward(g: &Geometry, x: &[f32], w: &[f32], direct: bool) -> Option<Vec<f32>> {
        (direct && super::direct::applies(g)).then(|| super::direct::forward(g, x, w))?
    }

    /// [`super::direct::input_grad`], under the same conditions as [`direct_forward`].
    #[cfg(target_arch = "x86_64")]
    fn direct_input_grad(g: &Geometry, dy: &[f32], w: &[f32], direct: bool) -> Option<Vec<f32>> {
        (direct && super::direct::applies_input_grad(g))
            .then(|| super::direct::input_grad(g, dy, w))?
    }

    /// [`super::direct::weight_grad`], when `direct` is asked for, it covers `g` and this CPU
    /// has its level.
    #[cfg(target_arch = "x86_64")]
    fn direct_weight_grad(g: &Geometry, x: &[f32], dy: &[f32], direct: bool) -> Option<Vec<f32>> {
        (direct && super::direct::applies_weight_grad(g))
            .then(|| super::direct::weight_grad(g, x, dy))?
    }

    #[cfg(not(target_arch = "x86_64"))]
    fn direct_weight_grad(_: &Geometry, _: &[f32], _: &[f32], _: bool) -> Option<Vec<f32>> {
        None
    }

    /// No direct kernels off x86-64: im2col + GEMM everywhere.
    #[cfg(not(target_arch = "x86_64"))]
    fn direct_forward(_: &Geometry, _: &[f32], _: &[f32], _: bool) -> Option<Vec<f32>> {
        None
    }

    #[cfg(not(target_arch = "x86_64"))]
    fn direct_input_grad(_: &Geometry, _: &[f32], _: &[f32], _: bool) -> Option<Vec<f32>> {
        None
    }

    /// Bias gradient `[out]`: the output gradient summed over batch and pixels.
    pub fn bias_backward(g: &Geometry, dy: &[f32]) -> Vec<f32> {
        let (p, co) = (g.pixels(), g.channels_out);
        let mut db = vec![0.0f32; co];
        for image in dy.chunks_exact(co * p) {
            for (d, plane) in db.iter_mut().zip(image.chunks_exact(p)) {
                *d += plane.iter().sum::<f32>();
            }
        }
        db
    }
}

/// The op on flex tensors, and the autodiff op around it.
#[cfg(feature = "flex")]
mod flex {
    use std::any::Any;

    use burn::backend::autodiff::checkpoint::base::Checkpointer;
    use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
    use burn::backend::autodiff::grads::Gradients;
    use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
    use burn::backend::{Autodiff, Flex};
    use burn::tensor::ops::ConvOptions;
    use burn::tensor::{backend::Backend, DType, Tensor, TensorData, TensorPrimitive};

    use super::{kernels, Geometry};

    type Ad = Autodiff<Flex>;
    use burn::backend::flex::FlexTensor;
    type Args<B> = (Tensor<B, 4>, Tensor<B, 4>, Option<Tensor<B, 1>>);

    /// Runs the op if `B` is `Autodiff<Flex>` or `Flex` and the convolution is supported;
    /// otherwise hands the arguments back.
    pub fn try_conv2d<B: Backend>(
        input: Tensor<B, 4>,
        weight: Tensor<B, 4>,
        bias: Option<Tensor<B, 1>>,
        options: &ConvOptions<2>,
    ) -> Result<Tensor<B, 4>, Args<B>> {
        let geometry = Geometry::new(input.dims(), weight.dims(), options.stride, options.padding);
        let supported = options.groups == 1
            && options.dilation == [1, 1]
            && input.dtype() == DType::F32
            && weight.dtype() == DType::F32
            && bias
                .as_ref()
                .is_none_or(|b| b.dtype() == DType::F32 && b.dims() == [weight.dims()[0]]);
        let Some(geometry) = geometry.filter(|_| supported) else {
            return Err((input, weight, bias));
        };
        let args: Box<dyn Any> = Box::new((input, weight, bias));
        let args = match args.downcast::<Args<Ad>>() {
            Ok(args) => return Ok(cast(autodiff_conv2d(*args, geometry))),
            Err(args) => args,
        };
        let args = match args.downcast::<Args<Flex>>() {
            Ok(args) => return Ok(cast(flex_conv2d(*args, geometry))),
            Err(args) => args,
        };
        Err(*args.downcast::<Args<B>>().expect("the arguments' own type"))
    }

    /// `Tensor<Ad or Flex, 4>` back to `Tensor<B, 4>`, where the caller's downcast proved they
    /// are the same type.
    fn cast<B: Backend, T: Any>(tensor: T) -> Tensor<B, 4> {
        *(Box::new(tensor) as Box<dyn Any>)
            .downcast::<Tensor<B, 4>>()
            .expect("downcast proved B is this backend")
    }

    fn contiguous(tensor: &FlexTensor) -> FlexTensor {
        tensor.to_contiguous()
    }

    fn slice(tensor: &FlexTensor) -> &[f32] {
        tensor
            .as_slice::<f32>()
            .expect("a contiguous f32 flex tensor")
    }

    fn flex_tensor(values: Vec<f32>, shape: &[usize]) -> FlexTensor {
        FlexTensor::from_data(TensorData::new(values, shape.to_vec()))
    }

    fn output_shape(g: &Geometry) -> [usize; 4] {
        [g.batch, g.channels_out, g.out_height, g.out_width]
    }

    fn forward(g: &Geometry, x: &FlexTensor, w: &FlexTensor, b: Option<&FlexTensor>) -> FlexTensor {
        let (x, w, b) = (contiguous(x), contiguous(w), b.map(contiguous));
        let direct = super::cpu_conv() == super::CpuConv::Gemm;
        let y = kernels::forward(g, slice(&x), slice(&w), b.as_ref().map(slice), direct);
        flex_tensor(y, &output_shape(g))
    }

    fn flex_conv2d((x, w, b): Args<Flex>, g: Geometry) -> Tensor<Flex, 4> {
        let prim = |t: Tensor<Flex, 4>| t.into_primitive().tensor();
        let b = b.map(|b| b.into_primitive().tensor());
        let y = forward(&g, &prim(x), &prim(w), b.as_ref());
        Tensor::from_primitive(TensorPrimitive::Float(y))
    }

    /// What the backward pass keeps: the input and the weight (the unfolded input is recomputed).
    #[derive(Clone, Debug)]
    struct State {
        input: FlexTensor,
        weight: FlexTensor,
        geometry: Geometry,
    }

    /// Backward of the convolution without bias; parents `[input, weight]`.
    #[derive(Debug)]
    struct ConvBackward;

    /// Backward of the convolution with bias; parents `[input, weight, bias]`.
    #[derive(Debug)]
    struct ConvBiasBackward;

    /// Registers the input and weight gradients, and returns the contiguous output gradient.
    fn input_weight_grads(
        state: State,
        node_input: Option<&burn::backend::autodiff::NodeId>,
        node_weight: Option<&burn::backend::autodiff::NodeId>,
        dy: &FlexTensor,
        grads: &mut Gradients,
    ) {
        let g = state.geometry;
        let (x, w) = (contiguous(&state.input), contiguous(&state.weight));
        let (dx, dw) = kernels::backward(
            &g,
            slice(&x),
            slice(&w),
            slice(dy),
            [node_input.is_some(), node_weight.is_some()],
            super::cpu_conv() == super::CpuConv::Gemm,
        );
        if let (Some(id), Some(dx)) = (node_input, dx) {
            grads.register::<Flex>(
                *id,
                flex_tensor(dx, &[g.batch, g.channels_in, g.height, g.width]),
            );
        }
        if let (Some(id), Some(dw)) = (node_weight, dw) {
            let [kh, kw] = g.kernel;
            grads.register::<Flex>(
                *id,
                flex_tensor(dw, &[g.channels_out, g.channels_in, kh, kw]),
            );
        }
    }

    impl Backward<Flex, 2> for ConvBackward {
        type State = State;

        fn backward(self, ops: Ops<State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
            let [node_input, node_weight] = ops.parents;
            let dy = contiguous(&grads.consume::<Flex>(&ops.node));
            input_weight_grads(
                ops.state,
                node_input.as_ref().map(|n| &n.id),
                node_weight.as_ref().map(|n| &n.id),
                &dy,
                grads,
            );
        }
    }

    impl Backward<Flex, 3> for ConvBiasBackward {
        type State = State;

        fn backward(self, ops: Ops<State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
            let [node_input, node_weight, node_bias] = ops.parents;
            let dy = contiguous(&grads.consume::<Flex>(&ops.node));
            let g = ops.state.geometry;
            if let Some(node) = node_bias {
                let db = kernels::bias_backward(&g, slice(&dy));
                grads.register::<Flex>(node.id, flex_tensor(db, &[g.channels_out]));
            }
            input_weight_grads(
                ops.state,
                node_input.as_ref().map(|n| &n.id),
                node_weight.as_ref().map(|n| &n.id),
                &dy,
                grads,
            );
        }
    }

    fn autodiff_conv2d((x, w, b): Args<Ad>, g: Geometry) -> Tensor<Ad, 4> {
        let x = x.into_primitive().tensor();
        let w = w.into_primitive().tensor();
        let state = |x: &FlexTensor, w: &FlexTensor| State {
            input: x.clone(),
            weight: w.clone(),
            geometry: g,
        };
        let y = match b {
            None => match ConvBackward
                .prepare::<NoCheckpointing>([x.node.clone(), w.node.clone()])
                .compute_bound()
                .stateful()
            {
                OpsKind::Tracked(prep) => {
                    let y = forward(&g, &x.primitive, &w.primitive, None);
                    prep.finish(state(&x.primitive, &w.primitive), y)
                }
                OpsKind::UnTracked(prep) => {
                    prep.finish(forward(&g, &x.primitive, &w.primitive, None))
                }
            },
            Some(b) => {
                let b = b.into_primitive().tensor();
                match ConvBiasBackward
                    .prepare::<NoCheckpointing>([x.node.clone(), w.node.clone(), b.node.clone()])
                    .compute_bound()
                    .stateful()
                {
                    OpsKind::Tracked(prep) => {
                        let y = forward(&g, &x.primitive, &w.primitive, Some(&b.primitive));
                        prep.finish(state(&x.primitive, &w.primitive), y)
                    }
                    OpsKind::UnTracked(prep) => {
                        prep.finish(forward(&g, &x.primitive, &w.primitive, Some(&b.primitive)))
                    }
                }
            }
        };
        Tensor::from_primitive(TensorPrimitive::Float(y))
    }
}

#[cfg(all(test, feature = "flex"))]
mod tests {
    use super::*;
    use burn::backend::{Autodiff, Flex};
    use burn::tensor::{Distribution, TensorData, Tolerance};
    use proptest::prelude::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    type Ad = Autodiff<Flex>;

    /// Values uniform in `[-1, 1)`.
    fn random<const D: usize>(shape: [usize; D], rng: &mut ChaCha8Rng) -> Tensor<Ad, D> {
        let count = shape.iter().product();
        let values: Vec<f32> = (0..count).map(|_| rng.random_range(-1.0..1.0)).collect();
        Tensor::from_data(TensorData::new(values, shape), &Default::default())
    }

    /// Relative 1e-4, with an absolute floor for entries that cancel to nearly zero.
    fn tolerance() -> Tolerance<f32> {
        Tolerance::rel_abs(1e-4, 1e-5)
    }

    struct Case {
        input: [usize; 4],
        weight: [usize; 4],
        options: ConvOptions<2>,
        bias: bool,
    }

    /// Forward and the gradients of `Σ output · r` for input, weight and bias, through `conv`.
    #[allow(clippy::type_complexity)]
    fn run(
        case: &Case,
        seed: u64,
        conv: impl Fn(Tensor<Ad, 4>, Tensor<Ad, 4>, Option<Tensor<Ad, 1>>) -> Tensor<Ad, 4>,
    ) -> (
        Tensor<Flex, 4>,
        Tensor<Flex, 4>,
        Tensor<Flex, 4>,
        Option<Tensor<Flex, 1>>,
    ) {
        // A local generator: Burn's seeded one is global, and tests run in parallel.
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let x = random::<4>(case.input, &mut rng).require_grad();
        let w = random::<4>(case.weight, &mut rng).require_grad();
        let b = random::<1>([case.weight[0]], &mut rng).require_grad();
        let y = conv(x.clone(), w.clone(), case.bias.then(|| b.clone()));
        let r = random::<4>(y.dims(), &mut rng);
        let grads = (y.clone() * r).sum().backward();
        (
            y.inner(),
            x.grad(&grads).expect("input grad"),
            w.grad(&grads).expect("weight grad"),
            case.bias.then(|| b.grad(&grads).expect("bias grad")),
        )
    }

    fn check_against_burn(case: &Case, seed: u64) {
        let options = case.options.clone();
        let ours = run(case, seed, |x, w, b| conv2d(x, w, b, options.clone()));
        let burn = run(case, seed, |x, w, b| {
            module::conv2d(x, w, b, options.clone())
        });
        let tol = tolerance();
        ours.0
            .into_data()
            .assert_approx_eq::<f32>(&burn.0.into_data(), tol);
        ours.1
            .into_data()
            .assert_approx_eq::<f32>(&burn.1.into_data(), tol);
        ours.2
            .into_data()
            .assert_approx_eq::<f32>(&burn.2.into_data(), tol);
        if let (Some(a), Some(b)) = (ours.3, burn.3) {
            a.into_data().assert_approx_eq::<f32>(&b.into_data(), tol);
        }
    }

    /// The geometry of the case is one our op accepts (so the test exercises it, not the
    /// fallback).
    fn accepted(case: &Case) -> bool {
        Geometry::new(
            case.input,
            case.weight,
            case.options.stride,
            case.options.padding,
        )
        .is_some()
    }

    #[test]
    fn nb201_shapes_match_burn() {
        for (input, out, stride) in [
            ([4, 8, 16, 16], 8, 1),
            ([4, 8, 16, 16], 16, 2),
            ([4, 16, 8, 8], 16, 1),
            ([4, 32, 4, 4], 32, 1),
            ([3, 1, 16, 16], 8, 1),
        ] {
            let case = Case {
                input,
                weight: [out, input[1], 3, 3],
                options: ConvOptions::new([stride, stride], [1, 1], [1, 1], 1),
                bias: false,
            };
            check_against_burn(&case, 7);
        }
    }

    #[test]
    fn inference_backend_matches_burn() {
        let device = Default::default();
        let x = Tensor::<Flex, 4>::random([3, 4, 7, 6], Distribution::Default, &device);
        let w = Tensor::<Flex, 4>::random([5, 4, 3, 2], Distribution::Default, &device);
        let b = Tensor::<Flex, 1>::random([5], Distribution::Default, &device);
        let options = ConvOptions::new([2, 1], [1, 2], [1, 1], 1);
        let ours = conv2d(x.clone(), w.clone(), Some(b.clone()), options.clone());
        let burn = module::conv2d(x, w, Some(b), options);
        ours.into_data()
            .assert_approx_eq::<f32>(&burn.into_data(), tolerance());
    }

    /// Central differences of `L = Σ r·y + ½ Σ y²`, which are exact for a quadratic in exact
    /// arithmetic, against the op's gradients.
    #[test]
    fn gradients_match_finite_differences() {
        let device = Default::default();
        let options = ConvOptions::new([2, 1], [1, 1], [1, 1], 1);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let x = random::<4>([2, 2, 5, 4], &mut rng).inner();
        let w = random::<4>([3, 2, 3, 3], &mut rng).inner();
        let b = random::<1>([3], &mut rng).inner();
        let y_dims = conv2d(x.clone(), w.clone(), Some(b.clone()), options.clone()).dims();
        let r = random::<4>(y_dims, &mut rng).inner();
        let r_values = r.to_data().to_vec::<f32>().expect("f32");

        let loss = |x: &[f32], w: &[f32], b: &[f32]| -> f64 {
            let t4 = |v: &[f32], s: [usize; 4]| {
                Tensor::<Flex, 4>::from_data(TensorData::new(v.to_vec(), s), &device)
            };
            let y = conv2d(
                t4(x, [2, 2, 5, 4]),
                t4(w, [3, 2, 3, 3]),
                Some(Tensor::<Flex, 1>::from_data(
                    TensorData::new(b.to_vec(), [3]),
                    &device,
                )),
                options.clone(),
            );
            let y = y.to_data().to_vec::<f32>().expect("f32");
            y.iter()
                .zip(&r_values)
                .map(|(&y, &r)| f64::from(r) * f64::from(y) + 0.5 * f64::from(y) * f64::from(y))
                .sum()
        };

        // Autodiff gradients of the same loss.
        let xa = Tensor::<Ad, 4>::from_inner(x.clone()).require_grad();
        let wa = Tensor::<Ad, 4>::from_inner(w.clone()).require_grad();
        let ba = Tensor::<Ad, 1>::from_inner(b.clone()).require_grad();
        let y = conv2d(xa.clone(), wa.clone(), Some(ba.clone()), options.clone());
        let l = (y.clone() * Tensor::from_inner(r.clone())).sum() + y.square().sum() * 0.5;
        let grads = l.backward();
        let analytic = [
            xa.grad(&grads)
                .expect("x")
                .to_data()
                .to_vec::<f32>()
                .expect("f32"),
            wa.grad(&grads)
                .expect("w")
                .to_data()
                .to_vec::<f32>()
                .expect("f32"),
            ba.grad(&grads)
                .expect("b")
                .to_data()
                .to_vec::<f32>()
                .expect("f32"),
        ];

        let mut values = [
            x.to_data().to_vec::<f32>().expect("f32"),
            w.to_data().to_vec::<f32>().expect("f32"),
            b.to_data().to_vec::<f32>().expect("f32"),
        ];
        let eps = 0.05f32;
        let mut worst = 0.0f64;
        for which in 0..3 {
            for i in 0..values[which].len() {
                let original = values[which][i];
                values[which][i] = original + eps;
                let up = loss(&values[0], &values[1], &values[2]);
                values[which][i] = original - eps;
                let down = loss(&values[0], &values[1], &values[2]);
                values[which][i] = original;
                let numeric = (up - down) / (2.0 * f64::from(eps));
                let exact = f64::from(analytic[which][i]);
                let error = (numeric - exact).abs() / exact.abs().max(1.0);
                worst = worst.max(error);
            }
        }
        assert!(worst < 1e-4, "worst relative error {worst:e}");
    }

    fn case_strategy() -> impl Strategy<Value = Case> {
        (
            (1usize..=3, 1usize..=4, 1usize..=4),
            (1usize..=8, 1usize..=8, 1usize..=3, 1usize..=3),
            (1usize..=3, 1usize..=3, 0usize..=2, 0usize..=2),
            any::<bool>(),
        )
            .prop_map(
                |((n, ci, co), (h, w, kh, kw), (sh, sw, ph, pw), bias)| Case {
                    input: [n, ci, h, w],
                    weight: [co, ci, kh, kw],
                    options: ConvOptions::new([sh, sw], [ph, pw], [1, 1], 1),
                    bias,
                },
            )
            .prop_filter("the kernel fits the padded input", accepted)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        /// Forward, input, weight and bias gradients equal Burn's conv2d on random shapes,
        /// strides and paddings.
        #[test]
        fn matches_burn_conv2d(case in case_strategy(), seed in 0u64..1000) {
            check_against_burn(&case, seed);
        }

        /// The same for "same" stride-1 convolutions (odd kernels, padding k / 2), whose
        /// unfolding copies whole planes at once, down to 1×1 images.
        #[test]
        fn same_stride_one_matches_burn_conv2d(
            (n, ci, co) in (1usize..=3, 1usize..=4, 1usize..=4),
            (h, w) in (1usize..=9, 1usize..=9),
            (kh, kw) in (prop_oneof![Just(1usize), Just(3), Just(5)],
                         prop_oneof![Just(1usize), Just(3), Just(5)]),
            bias in any::<bool>(),
            seed in 0u64..1000,
        ) {
            let case = Case {
                input: [n, ci, h, w],
                weight: [co, ci, kh, kw],
                options: ConvOptions::new([1, 1], [kh / 2, kw / 2], [1, 1], 1),
                bias,
            };
            check_against_burn(&case, seed);
        }

        /// The direct kernels equal im2col + GEMM bit for bit on random "same" stride-1
        /// convolutions they cover.
        #[cfg(target_arch = "x86_64")]
        #[test]
        fn direct_kernels_match_im2col_bits(
            (n, ci, co) in (1usize..=3, 1usize..=12, 3usize..=12),
            (h, w) in (1usize..=11, 1usize..=11),
            (kh, kw) in (prop_oneof![Just(1usize), Just(3), Just(5)],
                         prop_oneof![Just(1usize), Just(3), Just(5)]),
            seed in 0u64..1000,
        ) {
            prop_assume!(h * w >= 2 && ci * kh * kw >= 3);
            check_direct_bits([n, ci, h, w], [co, ci, kh, kw], seed);
        }

        /// The same for the forward and the weight gradient of any stride and padding.
        #[cfg(target_arch = "x86_64")]
        #[test]
        fn direct_kernels_match_im2col_bits_strided(
            (n, ci, co) in (1usize..=3, 1usize..=12, 3usize..=16),
            (h, w) in (1usize..=11, 1usize..=11),
            (kh, kw) in (1usize..=4, 1usize..=4),
            (sh, sw, ph, pw) in (1usize..=3, 1usize..=3, 0usize..=2, 0usize..=2),
            seed in 0u64..1000,
        ) {
            let g = Geometry::new([n, ci, h, w], [co, ci, kh, kw], [sh, sw], [ph, pw]);
            prop_assume!(g.is_some_and(|g| direct::applies(&g)));
            check_direct_bits_strided([n, ci, h, w], [co, ci, kh, kw], [sh, sw], [ph, pw], seed);
        }
    }

    /// Values uniform in `[-1, 1)`, about a quarter of them `+0` or `−0` (as after a ReLU and
    /// its gradient).
    fn values(count: usize, rng: &mut ChaCha8Rng) -> Vec<f32> {
        (0..count)
            .map(|_| match rng.random_range(0..8) {
                0 => 0.0,
                1 => -0.0,
                _ => rng.random_range(-1.0..1.0),
            })
            .collect()
    }

    /// The direct kernels' forward, input and weight gradients are the floats of im2col +
    /// GEMM, bit for bit.
    #[cfg(target_arch = "x86_64")]
    fn check_direct_bits(input: [usize; 4], weight: [usize; 4], seed: u64) {
        let padding = [weight[2] / 2, weight[3] / 2];
        check_direct_bits_strided(input, weight, [1, 1], padding, seed);
    }

    /// [`check_direct_bits`] with any stride and padding.
    #[cfg(target_arch = "x86_64")]
    fn check_direct_bits_strided(
        input: [usize; 4],
        weight: [usize; 4],
        stride: [usize; 2],
        padding: [usize; 2],
        seed: u64,
    ) {
        let g = Geometry::new(input, weight, stride, padding).expect("a valid geometry");
        assert!(direct::applies(&g), "the direct kernels should cover {g:?}");
        if !direct::available() {
            eprintln!("this CPU lacks AVX2 + FMA: only im2col + GEMM runs, nothing to compare");
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let x = values(input.iter().product(), &mut rng);
        let w = values(weight.iter().product(), &mut rng);
        let b = values(weight[0], &mut rng);
        let dy = values(g.batch * g.channels_out * g.pixels(), &mut rng);
        assert_eq!(x.len(), g.batch * g.channels_in * g.height * g.width);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        let forward = |direct| bits(&kernels::forward(&g, &x, &w, Some(&b), direct));
        assert_eq!(forward(true), forward(false), "forward of {g:?}");
        let backward = |direct| {
            let (dx, dw) = kernels::backward(&g, &x, &w, &dy, [true, true], direct);
            (bits(&dx.expect("dx")), bits(&dw.expect("dw")))
        };
        assert_eq!(backward(true), backward(false), "gradients of {g:?}");
    }

    /// The network's stride-1 3×3 convolutions at the mini protocol's and NB201's sizes, the
    /// widest input the direct kernels take (`K = 504`), and output channels that fill one
    /// 16-wide vector and a half.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn direct_kernels_match_im2col_bits_on_network_shapes() {
        for (input, out) in [
            ([5, 8, 16, 16], 8),
            ([3, 16, 8, 8], 16),
            ([9, 32, 4, 4], 32),
            ([2, 16, 32, 32], 16),
            ([2, 48, 8, 8], 64),
            ([2, 56, 5, 7], 9),
            ([3, 3, 16, 16], 8),
            ([3, 8, 8, 8], 24),
        ] {
            check_direct_bits(input, [out, input[1], 3, 3], 11);
        }
        // The reduction blocks' stride-2 convolutions.
        for (input, out) in [
            ([64, 8, 16, 16], 16),
            ([64, 16, 8, 8], 32),
            ([3, 5, 7, 9], 8),
        ] {
            check_direct_bits_strided(input, [out, input[1], 3, 3], [2, 2], [1, 1], 13);
        }
        // The weight gradient's direct kernel covers the mini protocol's cells and reductions.
        for (input, out, stride) in [
            ([64, 8, 16, 16], 8, 1),
            ([64, 16, 8, 8], 16, 1),
            ([64, 32, 4, 4], 32, 1),
            ([64, 8, 16, 16], 16, 2),
            ([64, 16, 8, 8], 32, 2),
        ] {
            let g = Geometry::new(input, [out, input[1], 3, 3], [stride; 2], [1, 1]);
            assert!(direct::applies_weight_grad(&g.expect("a valid geometry")));
        }
    }

    impl std::fmt::Debug for Case {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(
                f,
                "input {:?} weight {:?} stride {:?} padding {:?} bias {}",
                self.input, self.weight, self.options.stride, self.options.padding, self.bias
            )
        }
    }
}
