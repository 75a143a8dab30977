//! The per-block choices of the MobileNetV3 space: kernel size, expand ratio, and stage depth.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Number of stages whose depth is searched.
pub const STAGES: usize = 5;
/// Most blocks a stage can hold (the block slots per stage).
pub const MAX_DEPTH: usize = 4;
/// Fewest blocks a stage can hold.
pub const MIN_DEPTH: usize = 2;
/// Block slots in all: [`STAGES`] × [`MAX_DEPTH`].
pub const SLOTS: usize = STAGES * MAX_DEPTH;
/// The stage depths OFA allows, in order.
pub const DEPTHS: [usize; 3] = [2, 3, 4];

/// Depthwise kernel size of an MBConv block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Kernel {
    /// 3×3.
    K3,
    /// 5×5.
    K5,
    /// 7×7.
    K7,
}

impl Kernel {
    /// All kernel sizes, smallest first (their [`Kernel::index`] order).
    pub const ALL: [Kernel; 3] = [Kernel::K3, Kernel::K5, Kernel::K7];

    /// The side of the square kernel: 3, 5 or 7.
    pub const fn size(self) -> usize {
        match self {
            Kernel::K3 => 3,
            Kernel::K5 => 5,
            Kernel::K7 => 7,
        }
    }

    /// Position in [`Kernel::ALL`] (0..3).
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The kernel of side `size`, if it is 3, 5 or 7.
    pub const fn from_size(size: usize) -> Option<Kernel> {
        match size {
            3 => Some(Kernel::K3),
            5 => Some(Kernel::K5),
            7 => Some(Kernel::K7),
            _ => None,
        }
    }
}

/// Expand ratio of an MBConv block: the inverted bottleneck widens its input this many times.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Expand {
    /// Ratio 3.
    E3,
    /// Ratio 4.
    E4,
    /// Ratio 6.
    E6,
}

impl Expand {
    /// All ratios, smallest first (their [`Expand::index`] order).
    pub const ALL: [Expand; 3] = [Expand::E3, Expand::E4, Expand::E6];

    /// The ratio: 3, 4 or 6.
    pub const fn ratio(self) -> usize {
        match self {
            Expand::E3 => 3,
            Expand::E4 => 4,
            Expand::E6 => 6,
        }
    }

    /// Position in [`Expand::ALL`] (0..3).
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The ratio `ratio`, if it is 3, 4 or 6.
    pub const fn from_ratio(ratio: usize) -> Option<Expand> {
        match ratio {
            3 => Some(Expand::E3),
            4 => Some(Expand::E4),
            6 => Some(Expand::E6),
            _ => None,
        }
    }
}

/// The searched choices of one MBConv block. Written `k{kernel}e{expand}`, e.g. `k5e6`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Mbv3Block {
    /// Depthwise kernel size.
    pub kernel: Kernel,
    /// Expand ratio.
    pub expand: Expand,
}

impl Mbv3Block {
    /// The block the space stores in slots beyond a stage's depth, so that equal networks have
    /// equal values: the smallest choice, `k3e3`.
    pub const FILLER: Mbv3Block = Mbv3Block::new(Kernel::K3, Expand::E3);

    /// The block with these choices.
    pub const fn new(kernel: Kernel, expand: Expand) -> Self {
        Self { kernel, expand }
    }

    /// All nine blocks, kernel-major (`k3e3, k3e4, k3e6, k5e3, …`), as [`Mbv3Block::index`]
    /// numbers them.
    pub fn all() -> impl ExactSizeIterator<Item = Mbv3Block> {
        (0..9).map(|i| Self::from_index(i).expect("0..9 are block indices"))
    }

    /// `3 · kernel index + expand index`, in `0..9`.
    pub const fn index(self) -> usize {
        3 * self.kernel.index() + self.expand.index()
    }

    /// The block with [`Mbv3Block::index`] `index`, if `index < 9`.
    pub const fn from_index(index: usize) -> Option<Mbv3Block> {
        if index >= 9 {
            return None;
        }
        Some(Self::new(Kernel::ALL[index / 3], Expand::ALL[index % 3]))
    }
}

impl fmt::Display for Mbv3Block {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "k{}e{}", self.kernel.size(), self.expand.ratio())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_round_trip_through_their_values() {
        for k in Kernel::ALL {
            assert_eq!(Kernel::from_size(k.size()), Some(k));
        }
        for e in Expand::ALL {
            assert_eq!(Expand::from_ratio(e.ratio()), Some(e));
        }
        assert_eq!(Kernel::from_size(4), None);
        assert_eq!(Expand::from_ratio(5), None);
        for (i, b) in Mbv3Block::all().enumerate() {
            assert_eq!(b.index(), i);
        }
        assert_eq!(Mbv3Block::from_index(9), None);
        assert_eq!(Mbv3Block::from_index(5).unwrap().to_string(), "k5e6");
    }
}
