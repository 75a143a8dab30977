//! The five NAS-Bench-201 edge operations.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One NAS-Bench-201 edge operation, in the benchmark's own op order.
///
/// The discriminant (`op as usize`) is the official op index used by
/// [`crate::Nb201Arch::index`] and by MetaD2A's typed graphs (vertex type = index + 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Op {
    /// `none`: outputs zeros; the edge is cut.
    None = 0,
    /// `skip_connect`: identity.
    SkipConnect = 1,
    /// `nor_conv_1x1`: ReLU → Conv 1×1 → BatchNorm.
    NorConv1x1 = 2,
    /// `nor_conv_3x3`: ReLU → Conv 3×3 → BatchNorm.
    NorConv3x3 = 3,
    /// `avg_pool_3x3`: 3×3 average pool, stride 1, padding 1 not counted.
    AvgPool3x3 = 4,
}

impl Op {
    /// All ops in official order.
    pub const ALL: [Op; 5] = [
        Op::None,
        Op::SkipConnect,
        Op::NorConv1x1,
        Op::NorConv3x3,
        Op::AvgPool3x3,
    ];

    /// The official name, as written in architecture strings.
    pub const fn name(self) -> &'static str {
        match self {
            Op::None => "none",
            Op::SkipConnect => "skip_connect",
            Op::NorConv1x1 => "nor_conv_1x1",
            Op::NorConv3x3 => "nor_conv_3x3",
            Op::AvgPool3x3 => "avg_pool_3x3",
        }
    }

    /// The official op index (0..5).
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The op with official index `i`, if `i < 5`.
    pub const fn from_index(i: usize) -> Option<Op> {
        match i {
            0 => Some(Op::None),
            1 => Some(Op::SkipConnect),
            2 => Some(Op::NorConv1x1),
            3 => Some(Op::NorConv3x3),
            4 => Some(Op::AvgPool3x3),
            _ => None,
        }
    }

    /// Whether the op holds trainable parameters (the two convolutions).
    pub const fn is_conv(self) -> bool {
        matches!(self, Op::NorConv1x1 | Op::NorConv3x3)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An op name that is not one of the five NAS-Bench-201 ops.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown op `{0}`; expected one of none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3")]
pub struct UnknownOp(pub String);

impl FromStr for Op {
    type Err = UnknownOp;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Op::ALL
            .into_iter()
            .find(|op| op.name() == s)
            .ok_or_else(|| UnknownOp(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for op in Op::ALL {
            assert_eq!(op.name().parse::<Op>(), Ok(op));
            assert_eq!(Op::from_index(op.index()), Some(op));
        }
        assert_eq!(Op::from_index(5), None);
    }

    #[test]
    fn unknown_name_is_an_error() {
        assert_eq!("conv5x5".parse::<Op>(), Err(UnknownOp("conv5x5".into())));
    }
}
