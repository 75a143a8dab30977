//! TANS's 45-integer encoding of a MobileNetV3 point.
//!
//! TANS (Jeong et al., NeurIPS 2021) describes a network of the OFA MobileNetV3 space to its
//! model encoder as 45 integers: OFA's 20 kernel sizes, then its 20 expand ratios (slot
//! `4·stage + i` is block `i` of `stage`), then the 5 stage depths. **Inactive slots** (block
//! `i ≥ depth` of a stage) are written as kernel 0 and expand 0: TANS's loader masks them so
//! (`ks * mask`, `e * mask`), and a zero says "no block here" without inventing a choice.
//!
//! [`Mbv3Arch::to_tans`] always writes that form; [`Mbv3Arch::from_tans`] accepts only it;
//! [`Mbv3Arch::from_tans_lenient`] also accepts OFA's raw lists, whose inactive slots carry
//! leftover kernel sizes and ratios, and ignores them.

use super::arch::Mbv3Arch;
use super::choice::{Expand, Kernel, Mbv3Block, MAX_DEPTH, MIN_DEPTH, SLOTS, STAGES};

/// Length of the encoding: 20 kernel sizes, 20 expand ratios, 5 depths.
pub const TANS_LEN: usize = 2 * SLOTS + STAGES;

/// Why 45 integers are not a TANS encoding of a MobileNetV3 point. Positions are indices into
/// the 45 integers; a slot `4·stage + i` is block `i` of `stage` (all from 0).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TansEncodingError {
    /// Not 45 integers.
    #[error(
        "expected {TANS_LEN} integers (20 kernel sizes, 20 expand ratios, 5 depths), found {found}"
    )]
    Length {
        /// Integers given.
        found: usize,
    },
    /// A depth outside 2..=4.
    #[error("integer {} (depth of stage {stage}) is {found}; a stage has 2, 3 or 4 blocks", 2 * SLOTS + stage)]
    Depth {
        /// The stage.
        stage: usize,
        /// The depth given.
        found: u32,
    },
    /// An active block's kernel size outside 3, 5, 7.
    #[error("integer {slot} (kernel of stage {}, block {}) is {found}; an active block takes 3, 5 or 7", slot / MAX_DEPTH, slot % MAX_DEPTH)]
    Kernel {
        /// The slot (and position).
        slot: usize,
        /// The value given.
        found: u32,
    },
    /// An active block's expand ratio outside 3, 4, 6.
    #[error("integer {} (expand ratio of stage {}, block {}) is {found}; an active block takes 3, 4 or 6", SLOTS + slot, slot / MAX_DEPTH, slot % MAX_DEPTH)]
    Expand {
        /// The slot (position `20 + slot`).
        slot: usize,
        /// The value given.
        found: u32,
    },
    /// An inactive slot is not written 0, 0.
    #[error("slot {slot} (stage {}, block {}) is beyond its stage's depth and must be kernel 0, expand 0, found {kernel}, {expand}; write 0 there, or use from_tans_lenient for OFA's raw lists", slot / MAX_DEPTH, slot % MAX_DEPTH)]
    Inactive {
        /// The slot.
        slot: usize,
        /// Its kernel entry.
        kernel: u32,
        /// Its expand entry.
        expand: u32,
    },
}

impl Mbv3Arch {
    /// The 45 integers TANS encodes this network with (see the [module docs](self)): inactive
    /// slots are 0.
    ///
    /// ```
    /// use search_space::mbv3::Mbv3Arch;
    /// let code = Mbv3Arch::smallest().to_tans();
    /// assert_eq!(&code[..4], &[3, 3, 0, 0]);   // stage 0: two 3×3 blocks, two empty slots
    /// assert_eq!(&code[40..], &[2, 2, 2, 2, 2]);
    /// assert_eq!(Mbv3Arch::from_tans(&code), Ok(Mbv3Arch::smallest()));
    /// ```
    pub fn to_tans(&self) -> [u32; TANS_LEN] {
        let mut code = [0u32; TANS_LEN];
        for (slot, block) in self.slots().iter().enumerate() {
            if self.is_active(slot) {
                code[slot] = block.kernel.size() as u32;
                code[SLOTS + slot] = block.expand.ratio() as u32;
            }
        }
        for (s, d) in self.depths().into_iter().enumerate() {
            code[2 * SLOTS + s] = d as u32;
        }
        code
    }

    /// The network of a TANS encoding whose inactive slots are 0 (the form
    /// [`Mbv3Arch::to_tans`] writes).
    pub fn from_tans(code: &[u32]) -> Result<Self, TansEncodingError> {
        decode(code, false)
    }

    /// [`Mbv3Arch::from_tans`], also accepting any kernel size and expand ratio of the space in
    /// inactive slots (OFA's raw `ks + e + d` lists), which are ignored.
    pub fn from_tans_lenient(code: &[u32]) -> Result<Self, TansEncodingError> {
        decode(code, true)
    }
}

fn decode(code: &[u32], lenient: bool) -> Result<Mbv3Arch, TansEncodingError> {
    if code.len() != TANS_LEN {
        return Err(TansEncodingError::Length { found: code.len() });
    }
    let mut depths = [0usize; STAGES];
    for (stage, depth) in depths.iter_mut().enumerate() {
        let found = code[2 * SLOTS + stage];
        if !(MIN_DEPTH as u32..=MAX_DEPTH as u32).contains(&found) {
            return Err(TansEncodingError::Depth { stage, found });
        }
        *depth = found as usize;
    }
    let mut slots = [Mbv3Block::FILLER; SLOTS];
    for (slot, block) in slots.iter_mut().enumerate() {
        let (kernel, expand) = (code[slot], code[SLOTS + slot]);
        let active = slot % MAX_DEPTH < depths[slot / MAX_DEPTH];
        if !active && kernel == 0 && expand == 0 {
            continue;
        }
        if !active && !lenient {
            return Err(TansEncodingError::Inactive {
                slot,
                kernel,
                expand,
            });
        }
        let k = Kernel::from_size(kernel as usize).ok_or(TansEncodingError::Kernel {
            slot,
            found: kernel,
        })?;
        let e = Expand::from_ratio(expand as usize).ok_or(TansEncodingError::Expand {
            slot,
            found: expand,
        })?;
        *block = Mbv3Block::new(k, e);
    }
    Ok(Mbv3Arch::from_slots(depths, slots).expect("depths checked above"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mbv3::arch::MBV3_SIZE;
    use proptest::prelude::*;

    fn arb_arch() -> impl Strategy<Value = Mbv3Arch> {
        (0..MBV3_SIZE).prop_map(|i| Mbv3Arch::from_index(i).expect("index below size"))
    }

    #[test]
    fn layout_is_kernels_expands_depths() {
        let arch: Mbv3Arch = "k5e4,k7e6|k3e3,k3e3,k3e3|k3e3,k3e3,k3e3,k3e6|k3e3,k3e3|k3e3,k3e3"
            .parse()
            .unwrap();
        let code = arch.to_tans();
        assert_eq!(&code[0..4], &[5, 7, 0, 0]);
        assert_eq!(&code[20..24], &[4, 6, 0, 0]);
        assert_eq!(code[20 + 11], 6);
        assert_eq!(&code[40..], &[2, 3, 4, 2, 2]);
    }

    #[test]
    fn invalid_codes_are_typed_errors() {
        let good = Mbv3Arch::smallest().to_tans();
        assert_eq!(
            Mbv3Arch::from_tans(&good[..44]),
            Err(TansEncodingError::Length { found: 44 })
        );
        let mut c = good;
        c[42] = 5;
        assert_eq!(
            Mbv3Arch::from_tans(&c),
            Err(TansEncodingError::Depth { stage: 2, found: 5 })
        );
        let mut c = good;
        c[1] = 4;
        assert_eq!(
            Mbv3Arch::from_tans(&c),
            Err(TansEncodingError::Kernel { slot: 1, found: 4 })
        );
        let mut c = good;
        c[20 + 4] = 0;
        assert_eq!(
            Mbv3Arch::from_tans(&c),
            Err(TansEncodingError::Expand { slot: 4, found: 0 })
        );
        let mut c = good;
        c[2] = 7;
        c[22] = 6;
        let err = Mbv3Arch::from_tans(&c).unwrap_err();
        assert_eq!(
            err,
            TansEncodingError::Inactive {
                slot: 2,
                kernel: 7,
                expand: 6
            }
        );
        assert!(err.to_string().contains("from_tans_lenient"), "{err}");
        assert_eq!(Mbv3Arch::from_tans_lenient(&c), Ok(Mbv3Arch::smallest()));
        c[3] = 4;
        c[23] = 3;
        assert_eq!(
            Mbv3Arch::from_tans_lenient(&c),
            Err(TansEncodingError::Kernel { slot: 3, found: 4 })
        );
    }

    proptest! {
        #[test]
        fn tans_round_trip(arch in arb_arch()) {
            let code = arch.to_tans();
            prop_assert_eq!(Mbv3Arch::from_tans(&code), Ok(arch));
            prop_assert_eq!(Mbv3Arch::from_tans_lenient(&code), Ok(arch));
        }

        /// OFA's raw lists (anything in the inactive slots) decode leniently to the same network.
        #[test]
        fn raw_ofa_lists_decode_leniently(arch in arb_arch(), junk in proptest::collection::vec(0usize..9, 20)) {
            let mut code = arch.to_tans();
            for slot in (0..SLOTS).filter(|&s| !arch.is_active(s)) {
                let b = Mbv3Block::from_index(junk[slot]).unwrap();
                code[slot] = b.kernel.size() as u32;
                code[SLOTS + slot] = b.expand.ratio() as u32;
            }
            prop_assert_eq!(Mbv3Arch::from_tans_lenient(&code), Ok(arch));
        }
    }
}
