//! The weight tensors the gradient proxies sum over: every convolution and the classifier.

use burn::tensor::{backend::Backend, Tensor};
use search_space::network::{EdgeOp, ReluConvBn};
use search_space::Nb201Network;

/// One prunable layer's weight, as the zero-cost literature counts layers: every `Conv2d` and
/// `Linear` weight (not biases, not batch norm).
#[derive(Clone, Debug)]
pub enum LayerWeight<B: Backend> {
    /// A convolution weight, `[out, in, k, k]`.
    Conv(Tensor<B, 4>),
    /// The classifier weight, `[in, out]` (Burn's layout; PyTorch stores `[out, in]`).
    Linear(Tensor<B, 2>),
}

/// A layer's weight with its position in the network.
#[derive(Clone, Debug)]
pub struct NamedWeight<B: Backend> {
    /// Position, e.g. `stem`, `stage1.cell0.edge3.conv3x3`, `reduction0.conv_a`,
    /// `reduction0.shortcut`, `classifier`.
    pub name: String,
    /// The weight.
    pub weight: LayerWeight<B>,
}

/// Every convolution and linear weight of `network`, in forward order: the stem, then per
/// stage the reduction before it (`conv_a`, `conv_b`, `shortcut`) and its cells' conv edges in
/// edge order, then the classifier. `none`, `skip_connect` and `avg_pool_3x3` edges have no
/// weight.
pub fn layer_weights<B: Backend>(network: &Nb201Network<B>) -> Vec<NamedWeight<B>> {
    let conv = |name: String, op: &ReluConvBn<B>| NamedWeight {
        name,
        weight: LayerWeight::Conv(op.conv.weight.val()),
    };
    let mut out = vec![NamedWeight {
        name: "stem".into(),
        weight: LayerWeight::Conv(network.stem_conv.weight.val()),
    }];
    for (s, cells) in network.stages.iter().enumerate() {
        if s > 0 {
            let block = &network.reductions[s - 1];
            let r = s - 1;
            out.push(conv(format!("reduction{r}.conv_a"), &block.conv_a));
            out.push(conv(format!("reduction{r}.conv_b"), &block.conv_b));
            out.push(NamedWeight {
                name: format!("reduction{r}.shortcut"),
                weight: LayerWeight::Conv(block.shortcut.weight.val()),
            });
        }
        for (i, cell) in cells.iter().enumerate() {
            for (e, edge) in cell.edges.iter().enumerate() {
                let (kind, op) = match edge {
                    Some(EdgeOp::Conv1x1(op)) => ("conv1x1", op),
                    Some(EdgeOp::Conv3x3(op)) => ("conv3x3", op),
                    _ => continue,
                };
                out.push(conv(format!("stage{s}.cell{i}.edge{e}.{kind}"), op));
            }
        }
    }
    out.push(NamedWeight {
        name: "classifier".into(),
        weight: LayerWeight::Linear(network.classifier.weight.val()),
    });
    out
}
