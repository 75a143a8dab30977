//! Unit tests of the proxies on synthetic images (no data needed).

use burn::backend::{Autodiff, Flex};
use burn::module::AutodiffModule;
use datasets::Images;
use proptest::prelude::*;
use search_space::network::BnMode;
use search_space::{Nb201Arch, Nb201Network};

use super::*;

type B = Autodiff<Flex>;

const BEST: &str =
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|";
/// Node 3 only sees node 2, which has no input: the output is disconnected from the input.
const DISCONNECTED: &str = "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|skip_connect~2|";
const ALL_NONE: &str = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|";

fn arch(s: &str) -> Nb201Arch {
    s.parse().expect("valid arch")
}

/// `n` pseudo-random 3×8×8 images in 3 classes, values in [-1, 1].
fn images(n: usize, seed: u64) -> Images {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let data = (0..n * 3 * 64)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect();
    Images {
        data,
        labels: (0..n).map(|i| i % 3).collect(),
        channels: 3,
        height: 8,
        width: 8,
    }
}

fn config() -> ProxyConfig {
    ProxyConfig::new().with_channels(4).with_batch_size(8)
}

fn setup(cell: &str, n: usize) -> (Nb201Network<B>, Minibatch<B>) {
    let batch = Minibatch::<B>::draw(&images(n, 1), 3, n, 0, &Default::default()).unwrap();
    let network = config()
        .network(arch(cell), &batch)
        .unwrap()
        .init::<B>(&Default::default());
    (network, batch)
}

#[test]
fn disconnected_cell_scores_are_defined() {
    let (network, batch) = setup(DISCONNECTED, 8);
    assert_eq!(synflow(&network).unwrap(), 0.0);
    assert_eq!(snip(&network, &batch).unwrap(), 0.0);
    assert_eq!(grad_norm(&network, &batch).unwrap(), 0.0);
    // Its discarded conv edge still sees the input (as in NAS-Bench-201's own cells).
    assert!(naswot(&network.valid(), &batch.inner())
        .unwrap()
        .is_finite());
    assert_eq!(jacob_cov(&network, &batch).unwrap(), f64::NEG_INFINITY);

    let (network, batch) = setup(ALL_NONE, 8);
    assert_eq!(synflow(&network).unwrap(), 0.0);
    assert_eq!(
        naswot(&network.valid(), &batch.inner()).unwrap(),
        f64::NEG_INFINITY
    );
    assert_eq!(jacob_cov(&network, &batch).unwrap(), f64::NEG_INFINITY);
}

#[test]
fn connected_cell_scores_are_finite_and_positive_where_defined() {
    let (network, batch) = setup(BEST, 8);
    assert!(synflow(&network).unwrap() > 0.0);
    assert!(snip(&network, &batch).unwrap() > 0.0);
    assert!(grad_norm(&network, &batch).unwrap() > 0.0);
    assert!(naswot(&network.valid(), &batch.inner())
        .unwrap()
        .is_finite());
    assert!(jacob_cov(&network, &batch).unwrap().is_finite());
}

#[test]
fn batch_of_one_is_too_small() {
    let (network, batch) = setup(BEST, 1);
    let too_small = |r: Result<f64>| matches!(r, Err(ProxyError::BatchTooSmall { min: 2, .. }));
    assert!(too_small(naswot(&network.valid(), &batch.inner())));
    assert!(too_small(jacob_cov(&network, &batch)));
    assert!(too_small(snip(&network, &batch)));
    assert!(too_small(grad_norm(&network, &batch)));
}

#[test]
fn minibatch_larger_than_the_set_is_an_error() {
    let err = Minibatch::<B>::draw(&images(4, 0), 3, 5, 0, &Default::default()).unwrap_err();
    assert_eq!(
        err,
        ProxyError::NotEnoughImages {
            requested: 5,
            available: 4
        }
    );
}

#[test]
fn duplicated_image_makes_naswot_minus_infinity() {
    let (network, batch) = setup(BEST, 8);
    let twice = batch.permuted(&[0, 1, 2, 3, 4, 5, 6, 0]);
    assert_eq!(
        naswot(&network.valid(), &twice.inner()).unwrap(),
        f64::NEG_INFINITY
    );
}

#[test]
fn observed_forward_is_the_forward() {
    let (network, batch) = setup(BEST, 8);
    let network = network.valid();
    let x = batch.inner().images;
    let mut count = 0;
    let observed = network.forward_observed(x.clone(), BnMode::Train, &mut |_| count += 1);
    let plain = network.forward_mode(x, BnMode::Train);
    assert_eq!(observed.into_data(), plain.into_data());
    // 5 conv edges of one cell per stage, 2 per reduction, the final ReLU.
    assert_eq!(count, 3 * 5 + 2 * 2 + 1);

    // A discarded conv edge is observed too, and changes nothing.
    let (network, batch) = setup(DISCONNECTED, 8);
    let network = network.valid();
    let x = batch.inner().images;
    let mut count = 0;
    let observed = network.forward_observed(x.clone(), BnMode::Train, &mut |_| count += 1);
    let plain = network.forward_mode(x, BnMode::Train);
    assert_eq!(observed.into_data(), plain.into_data());
    assert_eq!(count, 3 + 2 * 2 + 1);
}

#[test]
fn synflow_rescaling_is_exact() {
    let (network, _) = setup(BEST, 2);
    let linear = synflow::linearize(network);
    let (plain, r0) = synflow::scaled_pass(&linear, 0, true);
    let (scaled, r1) = synflow::scaled_pass(&linear, 20, true);
    assert!(plain > 0.0);
    assert!(
        (plain - scaled).abs() <= 1e-5 * plain,
        "{plain} vs {scaled}"
    );
    assert!((r0 - r1).abs() <= 1e-5 * r0, "{r0} vs {r1}");
}

#[test]
fn synflow_does_not_change_the_network() {
    let (network, batch) = setup(BEST, 8);
    let before = network.forward_mode(batch.images.clone(), BnMode::Eval);
    synflow(&network).unwrap();
    let after = network.forward_mode(batch.images.clone(), BnMode::Eval);
    assert_eq!(before.into_data(), after.into_data());
}

#[test]
fn scores_do_not_depend_on_the_order_of_proxies() {
    let batch = Minibatch::<B>::draw(&images(8, 2), 3, 8, 0, &Default::default()).unwrap();
    let a = score_arch(arch(BEST), &Proxy::ALL, &batch, &config()).unwrap();
    let mut reversed = Proxy::ALL;
    reversed.reverse();
    let mut b = score_arch(arch(BEST), &reversed, &batch, &config()).unwrap();
    b.reverse();
    assert_eq!(a, b);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    /// Permuting the batch permutes K's rows and columns, which leaves its determinant alone.
    #[test]
    fn naswot_is_invariant_to_batch_permutation(
        index in 0usize..15_625,
        order in Just((0..8).collect::<Vec<usize>>()).prop_shuffle(),
    ) {
        let arch = Nb201Arch::from_index(index).unwrap();
        let batch = Minibatch::<B>::draw(&images(8, 3), 3, 8, 0, &Default::default()).unwrap();
        let network = config().network(arch, &batch).unwrap().init::<B>(&Default::default()).valid();
        let a = naswot(&network, &batch.inner()).unwrap();
        let b = naswot(&network, &batch.permuted(&order).inner()).unwrap();
        if a.is_finite() {
            // Batch statistics are summed in another order: a pre-activation within rounding of
            // 0 could flip its code, moving K by a unit; anything else is a bug.
            prop_assert!((a - b).abs() <= 1e-3 * a.abs().max(1.0), "{} vs {}", a, b);
        } else {
            prop_assert_eq!(a, b);
        }
    }

    /// Synflow is a sum of |θ · ∂R/∂θ|: never negative, for any cell.
    #[test]
    fn synflow_is_non_negative(index in 0usize..15_625) {
        let arch = Nb201Arch::from_index(index).unwrap();
        let batch = Minibatch::<B>::draw(&images(2, 4), 3, 2, 0, &Default::default()).unwrap();
        let network = config().network(arch, &batch).unwrap().init::<B>(&Default::default());
        let s = synflow(&network).unwrap();
        prop_assert!(s >= 0.0 && s.is_finite(), "{}", s);
    }
}

#[test]
fn ranking_is_best_first_with_minus_infinity_last() {
    let batch = Minibatch::<B>::draw(&images(8, 5), 3, 8, 0, &Default::default()).unwrap();
    let archs = [arch(ALL_NONE), arch(BEST), arch(DISCONNECTED)];
    let mut calls = 0;
    let ranked = rank_archs(
        &archs,
        &[Proxy::Naswot, Proxy::Params],
        &batch,
        &config(),
        |_, _| calls += 1,
    )
    .unwrap();
    assert_eq!(calls, 3);
    let first: Vec<f64> = ranked.iter().map(|c| c.scores[0]).collect();
    assert!(first.windows(2).all(|w| w[0] >= w[1]), "{first:?}");
    assert_eq!(ranked[2].arch, arch(ALL_NONE));
    assert_eq!(ranked[2].scores[0], f64::NEG_INFINITY);
}
