//! A GRU cell, PyTorch's formulation (`torch.nn.GRUCell`), seeded.

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::activation::{sigmoid, tanh};
use burn::tensor::{backend::Backend, Tensor};
use search_space::network::init::{mix, uniform_param};

/// One GRU step: `r = σ(W_ir x + W_hr h)`, `z = σ(W_iz x + W_hz h)`,
/// `n = tanh(W_in x + r ⊙ (W_hn h))` (each with its bias), `h' = (1 − z) ⊙ n + z ⊙ h`.
///
/// Burn's `Gru` runs whole sequences; D-VAE needs single steps whose hidden input is an
/// aggregate of other vertices' states, hence this cell.
#[derive(Module, Debug)]
pub struct GruCell<B: Backend> {
    /// `x → [r, z, n]` pre-activations, `[input, 3·hidden]`.
    pub input: Linear<B>,
    /// `h → [r, z, n]` pre-activations, `[hidden, 3·hidden]`.
    pub hidden: Linear<B>,
    /// Hidden width.
    pub hidden_size: usize,
}

impl<B: Backend> GruCell<B> {
    /// A cell `input_size → hidden_size` with PyTorch's initialisation (every weight and bias
    /// `U(-1/√hidden, 1/√hidden)`), drawn from the stream `seed`.
    pub fn new(input_size: usize, hidden_size: usize, seed: u64, device: &B::Device) -> Self {
        let bound = 1.0 / (hidden_size as f32).sqrt();
        let layer = |d_in: usize, tag: u64| Linear {
            weight: uniform_param([d_in, 3 * hidden_size], bound, mix(seed, 2 * tag), device),
            bias: Some(uniform_param(
                [3 * hidden_size],
                bound,
                mix(seed, 2 * tag + 1),
                device,
            )),
        };
        Self {
            input: layer(input_size, 0),
            hidden: layer(hidden_size, 1),
            hidden_size,
        }
    }

    /// One step: `x` is `[batch, input]`, `h` is `[batch, hidden]`; returns `[batch, hidden]`.
    pub fn forward(&self, x: Tensor<B, 2>, h: Tensor<B, 2>) -> Tensor<B, 2> {
        let hs = self.hidden_size;
        let gi = self.input.forward(x);
        let gh = self.hidden.forward(h.clone());
        let gate = |t: &Tensor<B, 2>, k: usize| t.clone().narrow(1, k * hs, hs);
        let r = sigmoid(gate(&gi, 0) + gate(&gh, 0));
        let z = sigmoid(gate(&gi, 1) + gate(&gh, 1));
        let n = tanh(gate(&gi, 2) + r * gate(&gh, 2));
        n.clone() + z * (h - n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;
    use burn::tensor::TensorData;

    #[test]
    fn matches_the_gru_equations_on_one_element() {
        let device = Default::default();
        let cell = GruCell::<Flex>::new(2, 1, 3, &device);
        let x = [0.5f32, -1.0];
        let h = 0.25f32;
        let w_i = cell.input.weight.val().into_data().to_vec::<f32>().unwrap(); // [2, 3]
        let b_i = cell
            .input
            .bias
            .as_ref()
            .unwrap()
            .val()
            .into_data()
            .to_vec::<f32>()
            .unwrap();
        let w_h = cell
            .hidden
            .weight
            .val()
            .into_data()
            .to_vec::<f32>()
            .unwrap(); // [1, 3]
        let b_h = cell
            .hidden
            .bias
            .as_ref()
            .unwrap()
            .val()
            .into_data()
            .to_vec::<f32>()
            .unwrap();
        let gi = |k: usize| x[0] * w_i[k] + x[1] * w_i[3 + k] + b_i[k];
        let gh = |k: usize| h * w_h[k] + b_h[k];
        let sig = |v: f32| 1.0 / (1.0 + (-v).exp());
        let r = sig(gi(0) + gh(0));
        let z = sig(gi(1) + gh(1));
        let n = (gi(2) + r * gh(2)).tanh();
        let expected = (1.0 - z) * n + z * h;
        let out = cell.forward(
            Tensor::from_data(TensorData::new(x.to_vec(), [1, 2]), &device),
            Tensor::from_data(TensorData::new(vec![h], [1, 1]), &device),
        );
        let got = out.into_data().to_vec::<f32>().unwrap()[0];
        assert!((got - expected).abs() < 1e-6, "{got} vs {expected}");
    }
}
