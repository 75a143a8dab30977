//! Trainable MobileNetV3 networks of the OFA space as Burn modules.
//!
//! [`Mbv3Network`] builds the network a [`Mbv3Plan`](super::Mbv3Plan) describes (see
//! [`plan`](super::plan) for the structure): a stem, [`MbConv`] blocks with depthwise
//! convolutions, [`SqueezeExcite`] and h-swish where OFA's MobileNetV3 has them, and the
//! final expand / feature-mix / classifier head. Its parameter count
//! ([`Module::num_params`](burn::module::Module::num_params)) equals
//! [`Mbv3Plan::param_count`](super::Mbv3Plan::param_count) exactly: batch-norm running
//! statistics are [`Buffer`](crate::network::Buffer)s, not parameters.
//!
//! Weights are seeded and backend-independent ([`crate::network::init`]); convolutions use
//! PyTorch's default `U(±1/√fan_in)`, batch norms start at γ = 1, β = 0.
//!
//! Files: `activation` (ReLU, h-swish, h-sigmoid), [`squeeze_excite`](SqueezeExcite),
//! [`mb_conv`](MbConv), [`model`](Mbv3Network).

mod activation;
mod mb_conv;
mod model;
mod squeeze_excite;

pub use activation::hard_sigmoid;
pub use mb_conv::{MbConv, MbConvConfig};
pub use model::{Mbv3Network, Mbv3NetworkConfig};
pub use squeeze_excite::{SqueezeExcite, SqueezeExciteConfig};

#[cfg(test)]
mod tests;
