//! The network's nonlinearities on tensors.

use burn::tensor::activation::{hard_swish, relu};
use burn::tensor::{backend::Backend, Tensor};

use crate::mbv3::plan::Activation;

impl Activation {
    /// Applies the nonlinearity element-wise (any shape).
    pub fn forward<B: Backend, const D: usize>(self, x: Tensor<B, D>) -> Tensor<B, D> {
        match self {
            Activation::Relu => relu(x),
            Activation::HSwish => hard_swish(x),
        }
    }
}

/// `relu6(x + 3) / 6`, the gate of squeeze-and-excite (OFA's `Hsigmoid`), element-wise.
pub fn hard_sigmoid<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    burn::tensor::activation::hard_sigmoid(x, 1.0 / 6.0, 0.5)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;
    use burn::tensor::{TensorData, Tolerance};

    #[test]
    fn hard_functions_match_their_definitions() {
        let xs = [-5.0f32, -3.0, -1.0, 0.0, 1.5, 3.0, 7.0];
        let t =
            Tensor::<Flex, 1>::from_data(TensorData::new(xs.to_vec(), [7]), &Default::default());
        let relu6 = |v: f32| v.clamp(0.0, 6.0);
        let gate: Vec<f32> = xs.iter().map(|&v| relu6(v + 3.0) / 6.0).collect();
        let swish: Vec<f32> = xs.iter().map(|&v| v * relu6(v + 3.0) / 6.0).collect();
        hard_sigmoid(t.clone())
            .into_data()
            .assert_approx_eq::<f32>(&TensorData::new(gate, [7]), Tolerance::default());
        Activation::HSwish
            .forward(t)
            .into_data()
            .assert_approx_eq::<f32>(&TensorData::new(swish, [7]), Tolerance::default());
    }
}
