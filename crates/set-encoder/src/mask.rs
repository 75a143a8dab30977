//! Validity masks: how padding is kept out of attention and pooling.
//!
//! A mask is a `Bool` tensor that is `true` where an element *exists* (a real image, a real
//! class) and `false` where the batch only pads. Two rules keep padding inert:
//! - as **keys**, padded elements get the logit [`MASKED_LOGIT`] before the softmax, so their
//!   attention weight is exactly zero (in f32, `exp(-1e4 - max)` underflows to 0);
//! - as **queries**, padded elements' outputs are reset to zero after every block, so they never
//!   carry anything forward (and a fully padded set stays finite: all its logits are equal).

use burn::tensor::{backend::Backend, Bool, Tensor};

/// The logit given to a masked key. Finite (a set whose keys are all masked then gets uniform
/// weights instead of NaN) and, like Burn's own attention, small enough for f16; in f32 its
/// softmax weight is exactly zero whenever real logits are above −9,900.
pub const MASKED_LOGIT: f32 = -1.0e4;

/// `scores: [batch, heads, queries, keys]` with the keys that `key_valid: [batch, keys]` marks
/// invalid set to [`MASKED_LOGIT`].
pub(crate) fn mask_keys<B: Backend>(
    scores: Tensor<B, 4>,
    key_valid: &Tensor<B, 2, Bool>,
) -> Tensor<B, 4> {
    let [batch, heads, queries, keys] = scores.dims();
    assert_eq!(
        key_valid.dims(),
        [batch, keys],
        "key mask must be [batch, keys]"
    );
    let masked = key_valid
        .clone()
        .bool_not()
        .reshape([batch, 1, 1, keys])
        .expand([batch, heads, queries, keys]);
    scores.mask_fill(masked, MASKED_LOGIT)
}

/// `x: [batch, n, dim]` with the rows that `valid: [batch, n]` marks invalid set to zero.
pub(crate) fn zero_invalid_rows<B: Backend>(
    x: Tensor<B, 3>,
    valid: &Tensor<B, 2, Bool>,
) -> Tensor<B, 3> {
    let [batch, n, dim] = x.dims();
    assert_eq!(valid.dims(), [batch, n], "row mask must be [batch, n]");
    let padded = valid
        .clone()
        .bool_not()
        .reshape([batch, n, 1])
        .expand([batch, n, dim]);
    x.mask_fill(padded, 0.0)
}
