//! A point of Once-for-All's MobileNetV3 space: five stages of 2–4 MBConv blocks, each with its
//! own kernel size and expand ratio.

use std::fmt;
use std::str::FromStr;

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::choice::{Expand, Kernel, Mbv3Block, MAX_DEPTH, MIN_DEPTH, SLOTS, STAGES};

/// Distinct networks of one stage: `9² + 9³ + 9⁴` (2, 3 or 4 blocks, 9 choices each).
pub const STAGE_SIZE: u128 = 81 + 729 + 6_561;

/// Number of distinct networks in the space, `7,371⁵ ≈ 2.18 · 10¹⁹` (the "≈ 10¹⁹ sub-networks"
/// of Once-for-All, counted without the inactive slots, which change nothing).
pub const MBV3_SIZE: u128 = STAGE_SIZE.pow(STAGES as u32);

/// One network of Once-for-All's MobileNetV3 space (Cai et al., ICLR 2020), the space of
/// MetaD2A's second experiment and of TANS: for each of the five searched stages a depth of 2,
/// 3 or 4 blocks, and for each of those blocks a [`Kernel`] (3, 5, 7) and an [`Expand`] ratio
/// (3, 4, 6).
///
/// OFA writes a point as 20 kernel sizes, 20 expand ratios (one per *slot*: four per stage)
/// and 5 depths; slots beyond a stage's depth are inactive and change nothing. Here inactive
/// slots always hold [`Mbv3Block::FILLER`], so two values are equal exactly when they are the
/// same network, and `Eq`/`Hash` can be trusted.
///
/// Its [`Display`](fmt::Display) form lists the active blocks, stages separated by `|`, blocks
/// by `,`; [`FromStr`] parses it back:
///
/// ```
/// use search_space::mbv3::{Mbv3Arch, Kernel};
/// let s = "k3e3,k5e4|k7e6,k3e3,k3e4|k5e6,k5e6|k3e3,k3e3,k3e3,k3e3|k7e4,k7e6";
/// let arch: Mbv3Arch = s.parse().unwrap();
/// assert_eq!(arch.depths(), [2, 3, 2, 4, 2]);
/// assert_eq!(arch.stage(1)[0].kernel, Kernel::K7);
/// assert_eq!(arch.to_string(), s);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Mbv3Arch {
    depths: [u8; STAGES],
    slots: [Mbv3Block; SLOTS],
}

/// Why a value is not a point of the MobileNetV3 space. Stages and blocks are numbered from 0.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Mbv3ArchError {
    /// Not five stages.
    #[error("expected 5 stages separated by `|`, found {found}; the OFA MobileNetV3 space searches exactly 5 stages")]
    StageCount {
        /// Stages given.
        found: usize,
    },
    /// A stage has fewer than 2 or more than 4 blocks.
    #[error("stage {stage} has {found} blocks; give each stage 2, 3 or 4 blocks")]
    Depth {
        /// The stage.
        stage: usize,
        /// Its number of blocks.
        found: usize,
    },
    /// A block is not written `k<kernel>e<expand>`.
    #[error("stage {stage}, block {block}: expected `k<kernel>e<expand>` such as `k5e4`, found `{token}`")]
    Block {
        /// The stage.
        stage: usize,
        /// The block within the stage.
        block: usize,
        /// The offending text.
        token: String,
    },
    /// A kernel size outside 3, 5, 7.
    #[error(
        "stage {stage}, block {block}: kernel size {found} is not in the space; use 3, 5 or 7"
    )]
    Kernel {
        /// The stage.
        stage: usize,
        /// The block within the stage.
        block: usize,
        /// The kernel size given.
        found: usize,
    },
    /// An expand ratio outside 3, 4, 6.
    #[error(
        "stage {stage}, block {block}: expand ratio {found} is not in the space; use 3, 4 or 6"
    )]
    Expand {
        /// The stage.
        stage: usize,
        /// The block within the stage.
        block: usize,
        /// The expand ratio given.
        found: usize,
    },
}

/// Checks a stage depth.
pub(crate) fn check_depth(stage: usize, depth: usize) -> Result<(), Mbv3ArchError> {
    if (MIN_DEPTH..=MAX_DEPTH).contains(&depth) {
        Ok(())
    } else {
        Err(Mbv3ArchError::Depth {
            stage,
            found: depth,
        })
    }
}

impl Mbv3Arch {
    /// The network whose stages hold these blocks (five stages of 2 to 4 blocks each).
    ///
    /// ```
    /// use search_space::mbv3::{Mbv3Arch, Mbv3Block, Mbv3ArchError};
    /// let b = Mbv3Block::FILLER;
    /// let arch = Mbv3Arch::from_stages(&[vec![b; 2], vec![b; 3], vec![b; 4], vec![b; 2], vec![b; 2]]).unwrap();
    /// assert_eq!(arch.num_blocks(), 13);
    /// assert_eq!(Mbv3Arch::from_stages(&[[b; 2]; 4]), Err(Mbv3ArchError::StageCount { found: 4 }));
    /// ```
    pub fn from_stages<S: AsRef<[Mbv3Block]>>(stages: &[S]) -> Result<Self, Mbv3ArchError> {
        if stages.len() != STAGES {
            return Err(Mbv3ArchError::StageCount {
                found: stages.len(),
            });
        }
        let mut depths = [0u8; STAGES];
        let mut slots = [Mbv3Block::FILLER; SLOTS];
        for (s, stage) in stages.iter().enumerate() {
            let blocks = stage.as_ref();
            check_depth(s, blocks.len())?;
            depths[s] = blocks.len() as u8;
            slots[s * MAX_DEPTH..][..blocks.len()].copy_from_slice(blocks);
        }
        Ok(Self { depths, slots })
    }

    /// The network of OFA's slot form: a depth per stage and a block per slot (slot
    /// `4·stage + i` is block `i` of `stage`). Blocks in slots beyond a stage's depth are
    /// ignored, as OFA ignores them.
    pub fn from_slots(
        depths: [usize; STAGES],
        slots: [Mbv3Block; SLOTS],
    ) -> Result<Self, Mbv3ArchError> {
        let mut arch = Self {
            depths: [0; STAGES],
            slots,
        };
        for (s, &d) in depths.iter().enumerate() {
            check_depth(s, d)?;
            arch.depths[s] = d as u8;
            for slot in &mut arch.slots[s * MAX_DEPTH + d..(s + 1) * MAX_DEPTH] {
                *slot = Mbv3Block::FILLER;
            }
        }
        Ok(arch)
    }

    /// Every stage `depth` blocks deep, every block `block` (OFA's `set_active_subnet(ks, e, d)`).
    ///
    /// # Panics
    /// If `depth` is not 2, 3 or 4.
    pub fn uniform(block: Mbv3Block, depth: usize) -> Self {
        Self::from_slots([depth; STAGES], [block; SLOTS])
            .unwrap_or_else(|e| panic!("Mbv3Arch::uniform: {e}"))
    }

    /// The largest network: depth 4 everywhere, kernel 7, expand 6.
    pub fn largest() -> Self {
        Self::uniform(Mbv3Block::new(Kernel::K7, Expand::E6), MAX_DEPTH)
    }

    /// The smallest network: depth 2 everywhere, kernel 3, expand 3.
    pub fn smallest() -> Self {
        Self::uniform(Mbv3Block::new(Kernel::K3, Expand::E3), MIN_DEPTH)
    }

    /// Blocks per stage, each in 2..=4.
    pub fn depths(&self) -> [usize; STAGES] {
        self.depths.map(usize::from)
    }

    /// The active blocks of stage `stage` (`0..5`).
    ///
    /// # Panics
    /// If `stage >= 5`.
    pub fn stage(&self, stage: usize) -> &[Mbv3Block] {
        &self.slots[stage * MAX_DEPTH..][..usize::from(self.depths[stage])]
    }

    /// All 20 slots, OFA's layout (slot `4·stage + i`); inactive slots hold
    /// [`Mbv3Block::FILLER`].
    pub fn slots(&self) -> [Mbv3Block; SLOTS] {
        self.slots
    }

    /// Whether slot `slot` (`4·stage + i`) is an active block.
    pub fn is_active(&self, slot: usize) -> bool {
        slot < SLOTS && slot % MAX_DEPTH < usize::from(self.depths[slot / MAX_DEPTH])
    }

    /// Number of searched blocks, 10..=20.
    pub fn num_blocks(&self) -> usize {
        self.depths.iter().map(|&d| usize::from(d)).sum()
    }

    /// A dense code in `0..MBV3_SIZE`: the five stage codes read as base-7,371 digits, stage 0
    /// most significant. A stage of depth `d` with block indices `b₀ … b_{d−1}` (see
    /// [`Mbv3Block::index`]) has code `Σ_{d' < d} 9^{d'} + (b₀ b₁ … )₉`, shallower stages first.
    pub fn index(&self) -> u128 {
        (0..STAGES).fold(0u128, |acc, s| {
            let blocks = self.stage(s);
            let offset: u128 = (2..blocks.len() as u32).map(|d| 9u128.pow(d)).sum();
            let code = blocks.iter().fold(0u128, |c, b| c * 9 + b.index() as u128);
            acc * STAGE_SIZE + offset + code
        })
    }

    /// The network with [`Mbv3Arch::index`] `index`, if `index < MBV3_SIZE`.
    pub fn from_index(index: u128) -> Option<Self> {
        if index >= MBV3_SIZE {
            return None;
        }
        let mut depths = [0usize; STAGES];
        let mut slots = [Mbv3Block::FILLER; SLOTS];
        let mut rest = index;
        for s in (0..STAGES).rev() {
            let mut code = rest % STAGE_SIZE;
            rest /= STAGE_SIZE;
            let mut depth = 2;
            while code >= 9u128.pow(depth as u32) {
                code -= 9u128.pow(depth as u32);
                depth += 1;
            }
            depths[s] = depth;
            for i in (0..depth).rev() {
                slots[s * MAX_DEPTH + i] = Mbv3Block::from_index((code % 9) as usize)?;
                code /= 9;
            }
        }
        Self::from_slots(depths, slots).ok()
    }

    /// A network drawn uniformly from the whole space (every one of the [`MBV3_SIZE`]
    /// networks equally likely; deeper stages are therefore more likely than shallower ones,
    /// 9⁴ : 9³ : 9²). Deterministic for a seeded `rng`.
    pub fn sample<R: Rng + ?Sized>(rng: &mut R) -> Self {
        Self::from_index(rng.random_range(0..MBV3_SIZE)).expect("index below MBV3_SIZE")
    }

    /// A network drawn as OFA's `sample_active_subnet` draws one: each stage's depth uniform in
    /// {2, 3, 4}, each block's kernel and expand ratio uniform. Not uniform over networks.
    pub fn sample_ofa<R: Rng + ?Sized>(rng: &mut R) -> Self {
        let depths = std::array::from_fn(|_| rng.random_range(MIN_DEPTH..=MAX_DEPTH));
        let slots = std::array::from_fn(|_| {
            Mbv3Block::new(
                Kernel::ALL[rng.random_range(0..3)],
                Expand::ALL[rng.random_range(0..3)],
            )
        });
        Self::from_slots(depths, slots).expect("depths drawn in 2..=4")
    }
}

impl fmt::Display for Mbv3Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for s in 0..STAGES {
            if s > 0 {
                f.write_str("|")?;
            }
            for (i, block) in self.stage(s).iter().enumerate() {
                if i > 0 {
                    f.write_str(",")?;
                }
                write!(f, "{block}")?;
            }
        }
        Ok(())
    }
}

/// Parses `k<K>e<E>` at stage `stage`, block `block`.
fn parse_block(token: &str, stage: usize, block: usize) -> Result<Mbv3Block, Mbv3ArchError> {
    let bad = || Mbv3ArchError::Block {
        stage,
        block,
        token: token.to_string(),
    };
    let (k, e) = token
        .strip_prefix('k')
        .and_then(|t| t.split_once('e'))
        .ok_or_else(bad)?;
    let number = |s: &str| {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<usize>().ok())
            .flatten()
            .ok_or_else(bad)
    };
    let (k, e) = (number(k)?, number(e)?);
    let kernel = Kernel::from_size(k).ok_or(Mbv3ArchError::Kernel {
        stage,
        block,
        found: k,
    })?;
    let expand = Expand::from_ratio(e).ok_or(Mbv3ArchError::Expand {
        stage,
        block,
        found: e,
    })?;
    Ok(Mbv3Block::new(kernel, expand))
}

impl FromStr for Mbv3Arch {
    type Err = Mbv3ArchError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let stages: Vec<&str> = s.split('|').collect();
        if stages.len() != STAGES {
            return Err(Mbv3ArchError::StageCount {
                found: stages.len(),
            });
        }
        let parsed = stages
            .iter()
            .enumerate()
            .map(|(stage, text)| {
                let tokens: Vec<&str> = text.split(',').collect();
                check_depth(stage, tokens.len())?;
                tokens
                    .iter()
                    .enumerate()
                    .map(|(block, t)| parse_block(t, stage, block))
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_stages(&parsed)
    }
}

impl From<Mbv3Arch> for String {
    fn from(arch: Mbv3Arch) -> String {
        arch.to_string()
    }
}

impl TryFrom<String> for Mbv3Arch {
    type Error = Mbv3ArchError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn arb_arch() -> impl Strategy<Value = Mbv3Arch> {
        (0..MBV3_SIZE).prop_map(|i| Mbv3Arch::from_index(i).expect("index below size"))
    }

    #[test]
    fn size_of_the_space() {
        assert_eq!(STAGE_SIZE, 7_371);
        assert_eq!(MBV3_SIZE, 21_758_655_492_572_485_851);
        // ≈ 2 · 10¹⁹: Once-for-All's "more than 10¹⁹ sub-networks".
        assert!(MBV3_SIZE > 10u128.pow(19) && MBV3_SIZE < 10u128.pow(20));
    }

    #[test]
    fn first_and_last_indices() {
        assert_eq!(Mbv3Arch::from_index(0), Some(Mbv3Arch::smallest()));
        assert_eq!(Mbv3Arch::smallest().index(), 0);
        assert_eq!(Mbv3Arch::largest().index(), MBV3_SIZE - 1);
        assert_eq!(Mbv3Arch::from_index(MBV3_SIZE), None);
    }

    #[test]
    fn errors_name_the_problem() {
        let parse = |s: &str| s.parse::<Mbv3Arch>().unwrap_err();
        let ok = "k3e3,k3e3";
        assert_eq!(
            parse(&[ok; 4].join("|")),
            Mbv3ArchError::StageCount { found: 4 }
        );
        assert_eq!(
            parse(&format!("{ok}|k3e3|{ok}|{ok}|{ok}")),
            Mbv3ArchError::Depth { stage: 1, found: 1 }
        );
        assert_eq!(
            parse(&format!("{ok}|{ok}|k3e3,k3e3,k3e3,k3e3,k3e3|{ok}|{ok}")),
            Mbv3ArchError::Depth { stage: 2, found: 5 }
        );
        assert_eq!(
            parse(&format!("{ok}|{ok}|{ok}|k3e3,k9e3|{ok}")),
            Mbv3ArchError::Kernel {
                stage: 3,
                block: 1,
                found: 9
            }
        );
        assert_eq!(
            parse(&format!("k3e5,k3e3|{ok}|{ok}|{ok}|{ok}")),
            Mbv3ArchError::Expand {
                stage: 0,
                block: 0,
                found: 5
            }
        );
        assert_eq!(
            parse(&format!("{ok}|{ok}|{ok}|{ok}|k3e3,3x3")),
            Mbv3ArchError::Block {
                stage: 4,
                block: 1,
                token: "3x3".into()
            }
        );
        assert!(matches!(
            parse(&format!("{ok}|{ok}|{ok}|{ok}|k3e3,k+3e3")),
            Mbv3ArchError::Block { .. }
        ));
        let message = parse(&format!("{ok}|{ok}|{ok}|{ok}|k3e3,k4e3")).to_string();
        assert!(message.contains("use 3, 5 or 7"), "{message}");
    }

    #[test]
    fn inactive_slots_do_not_matter() {
        let big = Mbv3Block::new(Kernel::K7, Expand::E6);
        let a = Mbv3Arch::from_slots([2; STAGES], [big; SLOTS]).unwrap();
        let mut slots = [big; SLOTS];
        slots[3] = Mbv3Block::FILLER;
        let b = Mbv3Arch::from_slots([2; STAGES], slots).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.slots()[3], Mbv3Block::FILLER);
        assert!(a.is_active(1) && !a.is_active(2));
        assert_eq!(
            Mbv3Arch::from_slots([2, 3, 4, 5, 2], [big; SLOTS]),
            Err(Mbv3ArchError::Depth { stage: 3, found: 5 })
        );
    }

    #[test]
    fn sampling_is_seeded_and_covers_depths() {
        let draw = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            (0..200)
                .map(|_| Mbv3Arch::sample(&mut rng))
                .collect::<Vec<_>>()
        };
        let a = draw(1);
        assert_eq!(a, draw(1));
        assert_ne!(a, draw(2));
        // Uniform over networks: a stage is depth 4 with probability 6561/7371 ≈ 0.89.
        let deep = a.iter().filter(|x| x.depths()[0] == 4).count();
        assert!((150..=195).contains(&deep), "{deep}");
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let ofa: Vec<_> = (0..300).map(|_| Mbv3Arch::sample_ofa(&mut rng)).collect();
        let shallow = ofa.iter().filter(|x| x.depths()[2] == 2).count();
        assert!((70..=130).contains(&shallow), "{shallow}");
    }

    #[test]
    fn serde_uses_the_string_form() {
        let arch = Mbv3Arch::largest();
        let json = serde_json::to_string(&arch).unwrap();
        assert_eq!(json, format!("\"{arch}\""));
        assert_eq!(serde_json::from_str::<Mbv3Arch>(&json).unwrap(), arch);
        assert!(serde_json::from_str::<Mbv3Arch>("\"k3e3\"").is_err());
    }

    proptest! {
        #[test]
        fn display_from_str_round_trip(arch in arb_arch()) {
            let text = arch.to_string();
            prop_assert_eq!(text.parse::<Mbv3Arch>(), Ok(arch));
        }

        #[test]
        fn index_round_trip(index in 0..MBV3_SIZE) {
            let arch = Mbv3Arch::from_index(index).unwrap();
            prop_assert_eq!(arch.index(), index);
        }

        #[test]
        fn stages_round_trip(arch in arb_arch()) {
            let stages: Vec<Vec<Mbv3Block>> = (0..STAGES).map(|s| arch.stage(s).to_vec()).collect();
            prop_assert_eq!(Mbv3Arch::from_stages(&stages), Ok(arch));
            prop_assert_eq!(Mbv3Arch::from_slots(arch.depths(), arch.slots()), Ok(arch));
        }
    }
}
