//! Reptile's meta-update on Burn modules: move every parameter of the meta-model a fraction of
//! the way towards its value after adaptation.

use std::collections::HashMap;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::tensor::{backend::Backend, ElementConversion, Tensor};

/// `meta + epsilon · (adapted − meta)` for every float parameter, matched by [`ParamId`]
/// (`adapted` must be a clone of `meta` that an optimiser updated: cloning and optimiser steps
/// keep parameter ids). The result is detached from any autodiff graph; a parameter of `meta`
/// that `adapted` lacks is kept as it is. Buffers that are not parameters are kept.
pub(crate) fn interpolate<B: Backend, M: Module<B>>(meta: M, adapted: &M, epsilon: f64) -> M {
    let mut collect = Collect(HashMap::new());
    adapted.visit(&mut collect);
    meta.map(&mut Towards {
        targets: collect.0,
        epsilon,
    })
}

/// Squared distance `Σ (a − b)²` over the float parameters the two modules share (matched by
/// id): how far adaptation moved the weights.
pub(crate) fn squared_distance<B: Backend, M: Module<B>>(a: &M, b: &M) -> f64 {
    let mut collect = Collect(HashMap::new());
    b.visit(&mut collect);
    let mut sum = Distance {
        targets: collect.0,
        total: 0.0,
    };
    a.visit(&mut sum);
    sum.total
}

/// Every float parameter's value, flattened, by id.
struct Collect<B: Backend>(HashMap<ParamId, Tensor<B, 1>>);

impl<B: Backend> ModuleVisitor<B> for Collect<B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let value = param.val().detach();
        let n = value.shape().num_elements();
        self.0.insert(param.id, value.reshape([n]));
    }
}

struct Towards<B: Backend> {
    targets: HashMap<ParamId, Tensor<B, 1>>,
    epsilon: f64,
}

impl<B: Backend> ModuleMapper<B> for Towards<B> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let (id, value, mapper) = param.consume();
        let require_grad = value.is_require_grad();
        let value = value.detach();
        let value = match self.targets.get(&id) {
            Some(target) => {
                let shape = value.shape();
                let delta = target.clone().reshape(shape) - value.clone();
                value + delta * self.epsilon
            }
            None => value,
        };
        // A fresh leaf: on an autodiff backend the arithmetic above may still be tracked.
        let device = value.device();
        let value = Tensor::<B, D>::from_data(value.into_data(), &device);
        let value = if require_grad {
            value.require_grad()
        } else {
            value
        };
        Param::from_mapped_value(id, value, mapper)
    }
}

struct Distance<B: Backend> {
    targets: HashMap<ParamId, Tensor<B, 1>>,
    total: f64,
}

impl<B: Backend> ModuleVisitor<B> for Distance<B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if let Some(target) = self.targets.get(&param.id) {
            let value = param.val().detach();
            let n = value.shape().num_elements();
            let d: f32 = (value.reshape([n]) - target.clone())
                .square()
                .sum()
                .into_scalar()
                .elem();
            self.total += d as f64;
        }
    }
}

#[cfg(test)]
mod tests {
    use burn::backend::{Autodiff, Flex};
    use burn::nn::Linear;

    use super::*;

    type B = Autodiff<Flex>;

    fn weights(l: &Linear<B>) -> Vec<f32> {
        l.weight.val().into_data().to_vec().unwrap()
    }

    #[test]
    fn interpolation_moves_each_parameter_a_fraction_of_the_way() {
        let device = Default::default();
        // Concrete values: a lazy random initialiser would draw anew in each clone.
        let meta = Linear::<B> {
            weight: Param::from_tensor(Tensor::from_data([[0.5f32, -1.0], [2.0, 0.25]], &device)),
            bias: Some(Param::from_tensor(Tensor::from_data(
                [0.1f32, -0.2],
                &device,
            ))),
        };
        let mut adapted = meta.clone();
        adapted.weight = adapted.weight.map(|w| w + 1.0);
        let before = weights(&meta);
        let d = squared_distance(&meta, &adapted);
        // Four weights moved by 1 (the bias did not move).
        assert!((d - 4.0).abs() < 1e-6, "{d}");
        let out = interpolate(meta, &adapted, 0.25);
        let after = weights(&out);
        for (a, b) in before.iter().zip(&after) {
            assert!((b - a - 0.25).abs() < 1e-6, "{a} → {b}");
        }
        // Still a trainable parameter.
        assert!(out.weight.val().is_require_grad());
        // ε = 0 keeps the meta-model, ε = 1 takes the adapted one.
        let same = interpolate(out.clone(), &adapted, 0.0);
        assert_eq!(weights(&same), after);
        let all = interpolate(out, &adapted, 1.0);
        all.weight.val().into_data().assert_approx_eq::<f32>(
            &adapted.weight.val().into_data(),
            burn::tensor::Tolerance::absolute(1e-6),
        );
    }
}
