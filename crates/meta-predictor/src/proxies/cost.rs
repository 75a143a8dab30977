//! The two structural baselines, parameters and FLOPs, from the search space's cost model.

use search_space::cost::{flop_count, param_count};
use search_space::{MacroConfig, Nb201Arch};

/// Trainable parameters of `arch`'s macro network (convs, batch-norm affine, classifier), the
/// official NAS-Bench-201 count ([`search_space::cost`]). Parameter count alone reaches
/// |Spearman| ≈ 0.73 with NAS-Bench-201 accuracy (Abdelfattah et al., ICLR 2021), so every
/// proxy should be compared with it.
///
/// ```
/// use meta_predictor::proxies::params;
/// use search_space::{MacroConfig, Nb201Arch};
/// let arch: Nb201Arch = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|".parse().unwrap();
/// assert_eq!(params(&arch, &MacroConfig::nb201_cifar10()), 1_288_506.0);
/// ```
pub fn params(arch: &Nb201Arch, config: &MacroConfig) -> f64 {
    param_count(arch, config) as f64
}

/// Multiply-adds per image of `arch`'s macro network (convs and the classifier, as the official
/// counter; [`search_space::cost`]).
pub fn flops(arch: &Nb201Arch, config: &MacroConfig) -> f64 {
    flop_count(arch, config) as f64
}
