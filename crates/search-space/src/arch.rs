//! A NAS-Bench-201 cell: six edge ops, its official string and its official index.

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::op::Op;

/// Number of architectures in NAS-Bench-201 (5 ops on 6 edges).
pub const NB201_SIZE: usize = 15_625;

/// The six cell edges as `(to, from)` node pairs, in the order of the official string:
/// (1←0), (2←0), (2←1), (3←0), (3←1), (3←2).
pub const EDGES: [(usize, usize); 6] = [(1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2)];

/// One NAS-Bench-201 cell architecture: the op on each of the six edges, in [`EDGES`] order.
///
/// Its [`Display`](fmt::Display) form is the official string, and [`FromStr`] parses it back:
///
/// ```
/// use search_space::{Nb201Arch, Op};
/// let s = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|";
/// let arch: Nb201Arch = s.parse().unwrap();
/// assert_eq!(arch.ops()[3], Op::SkipConnect);
/// assert_eq!(arch.to_string(), s);
/// assert_eq!(arch.index(), 9930); // the CIFAR-100 optimum
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Nb201Arch {
    ops: [Op; 6],
}

impl Nb201Arch {
    /// The cell with these edge ops, in [`EDGES`] order.
    pub const fn new(ops: [Op; 6]) -> Self {
        Self { ops }
    }

    /// The edge ops, in [`EDGES`] order.
    pub const fn ops(&self) -> [Op; 6] {
        self.ops
    }

    /// The op on the edge `to ← from`, if that edge exists (`from < to ≤ 3`).
    pub fn edge(&self, to: usize, from: usize) -> Option<Op> {
        EDGES
            .iter()
            .position(|&e| e == (to, from))
            .map(|i| self.ops[i])
    }

    /// A dense code in `0..15_625`: the ops read as base-5 digits, first edge most significant.
    /// Unlike [`Nb201Arch::index`] this order is lexicographic, not the benchmark's.
    pub fn code(&self) -> usize {
        self.ops.iter().fold(0, |acc, op| acc * 5 + op.index())
    }

    /// The cell with dense code `code` (see [`Nb201Arch::code`]), if `code < 15_625`.
    pub fn from_code(code: usize) -> Option<Self> {
        if code >= NB201_SIZE {
            return None;
        }
        let mut ops = [Op::None; 6];
        let mut rest = code;
        for slot in ops.iter_mut().rev() {
            *slot = Op::from_index(rest % 5)?;
            rest /= 5;
        }
        Some(Self { ops })
    }

    /// The official NAS-Bench-201 index (row of the benchmark, `0..15_625`).
    pub fn index(&self) -> usize {
        order().code_to_index[self.code()] as usize
    }

    /// The cell at official NAS-Bench-201 index `index`, if `index < 15_625`.
    pub fn from_index(index: usize) -> Option<Self> {
        let code = *order().index_to_code.get(index)?;
        Self::from_code(code as usize)
    }

    /// All 15,625 cells in official index order.
    pub fn all() -> impl ExactSizeIterator<Item = Nb201Arch> {
        order()
            .index_to_code
            .iter()
            .map(|&c| Self::from_code(c as usize).expect("order table holds valid codes"))
    }

    /// Number of edges carrying `op`.
    pub fn count(&self, op: Op) -> usize {
        self.ops.iter().filter(|&&o| o == op).count()
    }
}

/// The official index order, shipped as `data/nb201_index_order.txt`: line k holds the six op
/// indices of NAS-Bench-201 architecture k. Only architecture strings (no results) are shipped;
/// the file is checked against the benchmark table by `tests/search_space.rs`.
struct Order {
    index_to_code: Vec<u16>,
    code_to_index: Vec<u16>,
}

fn order() -> &'static Order {
    static ORDER: OnceLock<Order> = OnceLock::new();
    ORDER.get_or_init(|| {
        let text = include_str!("../data/nb201_index_order.txt");
        let index_to_code: Vec<u16> = text
            .lines()
            .map(|line| {
                line.bytes()
                    .fold(0u16, |acc, b| acc * 5 + u16::from(b - b'0'))
            })
            .collect();
        assert_eq!(
            index_to_code.len(),
            NB201_SIZE,
            "corrupt built-in order table"
        );
        let mut code_to_index = vec![u16::MAX; NB201_SIZE];
        for (index, &code) in index_to_code.iter().enumerate() {
            code_to_index[code as usize] = index as u16;
        }
        assert!(
            code_to_index.iter().all(|&i| i != u16::MAX),
            "built-in order table is not a permutation"
        );
        Order {
            index_to_code,
            code_to_index,
        }
    })
}

impl fmt::Display for Nb201Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut k = 0;
        for node in 1..=3 {
            if node > 1 {
                f.write_str("+")?;
            }
            f.write_str("|")?;
            for from in 0..node {
                write!(f, "{}~{}|", self.ops[k], from)?;
                k += 1;
            }
        }
        Ok(())
    }
}

impl From<Nb201Arch> for String {
    fn from(arch: Nb201Arch) -> String {
        arch.to_string()
    }
}

impl TryFrom<String> for Nb201Arch {
    type Error = ParseArchError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

/// Why a string is not a NAS-Bench-201 architecture. `position` is a byte offset into the input.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseArchError {
    /// The string does not have three `+`-separated nodes.
    #[error("expected 3 nodes separated by `+`, found {found}")]
    NodeCount {
        /// Number of nodes found.
        found: usize,
    },
    /// A node is not of the form `|op~i|op~j|...|`.
    #[error("node {node} at byte {position}: expected `|op~input|...|`, found `{token}`")]
    BadNode {
        /// Node number (1..=3).
        node: usize,
        /// Byte offset of the node in the input.
        position: usize,
        /// The offending text.
        token: String,
    },
    /// A node has the wrong number of incoming edges.
    #[error("node {node} at byte {position}: expected {expected} edges, found {found}")]
    EdgeCount {
        /// Node number (1..=3).
        node: usize,
        /// Byte offset of the node in the input.
        position: usize,
        /// Edges node `node` must have.
        expected: usize,
        /// Edges found.
        found: usize,
    },
    /// An edge token is not `op~input`.
    #[error("byte {position}: expected `op~input`, found `{token}`")]
    BadEdge {
        /// Byte offset of the token.
        position: usize,
        /// The offending text.
        token: String,
    },
    /// An op name is unknown.
    #[error("byte {position}: unknown op `{token}`; expected one of none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3")]
    UnknownOp {
        /// Byte offset of the op name.
        position: usize,
        /// The offending op name.
        token: String,
    },
    /// An edge names the wrong input node (edges must list inputs 0, 1, ... in order).
    #[error("byte {position}: expected input node {expected}, found `{token}`")]
    BadInput {
        /// Byte offset of the input index.
        position: usize,
        /// The input index that belongs here.
        expected: usize,
        /// The offending text.
        token: String,
    },
}

impl FromStr for Nb201Arch {
    type Err = ParseArchError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let nodes: Vec<&str> = s.split('+').collect();
        if nodes.len() != 3 {
            return Err(ParseArchError::NodeCount { found: nodes.len() });
        }
        let mut ops = [Op::None; 6];
        let mut k = 0;
        let mut offset = 0;
        for (i, node_str) in nodes.iter().enumerate() {
            let node = i + 1;
            let inner = node_str
                .strip_prefix('|')
                .and_then(|t| t.strip_suffix('|'))
                .filter(|t| !t.is_empty())
                .ok_or_else(|| ParseArchError::BadNode {
                    node,
                    position: offset,
                    token: node_str.to_string(),
                })?;
            let edges: Vec<&str> = inner.split('|').collect();
            if edges.len() != node {
                return Err(ParseArchError::EdgeCount {
                    node,
                    position: offset,
                    expected: node,
                    found: edges.len(),
                });
            }
            let mut pos = offset + 1;
            for (from, edge) in edges.iter().enumerate() {
                let (name, input) =
                    edge.split_once('~')
                        .ok_or_else(|| ParseArchError::BadEdge {
                            position: pos,
                            token: edge.to_string(),
                        })?;
                ops[k] = name.parse().map_err(|_| ParseArchError::UnknownOp {
                    position: pos,
                    token: name.to_string(),
                })?;
                if input != from.to_string() {
                    return Err(ParseArchError::BadInput {
                        position: pos + name.len() + 1,
                        expected: from,
                        token: input.to_string(),
                    });
                }
                k += 1;
                pos += edge.len() + 1;
            }
            offset += node_str.len() + 1;
        }
        Ok(Self { ops })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_row_of_the_benchmark() {
        let arch = Nb201Arch::from_index(0).unwrap();
        assert_eq!(
            arch.to_string(),
            "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"
        );
        assert_eq!(arch.index(), 0);
    }

    #[test]
    fn index_is_a_bijection() {
        let mut seen = vec![false; NB201_SIZE];
        for (i, arch) in Nb201Arch::all().enumerate() {
            assert_eq!(arch.index(), i);
            assert!(!seen[arch.code()]);
            seen[arch.code()] = true;
        }
        assert_eq!(Nb201Arch::from_index(NB201_SIZE), None);
        assert_eq!(Nb201Arch::from_code(NB201_SIZE), None);
    }

    #[test]
    fn errors_name_position_and_token() {
        let err = "|none~0|+|none~0|conv5x5~1|+|none~0|none~1|none~2|"
            .parse::<Nb201Arch>()
            .unwrap_err();
        assert_eq!(
            err,
            ParseArchError::UnknownOp {
                position: 17,
                token: "conv5x5".into()
            }
        );
        let err = "|none~0|+|none~0|none~2|+|none~0|none~1|none~2|"
            .parse::<Nb201Arch>()
            .unwrap_err();
        assert!(matches!(err, ParseArchError::BadInput { expected: 1, .. }));
        assert!(matches!(
            "|none~0|".parse::<Nb201Arch>(),
            Err(ParseArchError::NodeCount { found: 1 })
        ));
        assert!(matches!(
            "|none~0|+|none~0|+|none~0|none~1|none~2|".parse::<Nb201Arch>(),
            Err(ParseArchError::EdgeCount { node: 2, .. })
        ));
        assert!(matches!(
            "none~0+|none~0|none~1|+|none~0|none~1|none~2|".parse::<Nb201Arch>(),
            Err(ParseArchError::BadNode { node: 1, .. })
        ));
    }

    #[test]
    fn serde_uses_the_string_form() {
        let arch = Nb201Arch::from_index(9930).unwrap();
        let json = serde_json::to_string(&arch).unwrap();
        assert_eq!(json, format!("\"{arch}\""));
        assert_eq!(serde_json::from_str::<Nb201Arch>(&json).unwrap(), arch);
        assert!(serde_json::from_str::<Nb201Arch>("\"|bad|\"").is_err());
    }
}
