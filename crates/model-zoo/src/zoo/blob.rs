//! A zoo blob: one network's weights in half precision, and the checks made before loading it.
//!
//! The bytes are Burn's `CompactRecorder` format, made in memory: the network's record
//! (parameters and batch-norm statistics) as named MessagePack with every float stored as f16
//! (`NamedMpkBytesRecorder<HalfPrecisionSettings>`). A blob written to `<name>.mpk` therefore
//! also loads with `CompactRecorder::load`. The format is self-describing, which is why it was
//! chosen over the bincode of `BinBytesRecorder`: bincode cannot be read without knowing the
//! network first (and Burn's bincode loader panics on bytes it does not expect), whereas a
//! named record can be walked as it is ([`Layout`]) and compared, field by field and shape by
//! shape, with the network its entry describes before any tensor is built. Names, shapes and
//! ids take about 7% of a blob (15.9 MB of blobs hold 14.9 MB of f16 values).

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::record::{HalfPrecisionSettings, NamedMpkBytesRecorder, Recorder};
use burn::tensor::backend::Backend;
use search_space::{Nb201Network, Nb201NetworkConfig};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use super::error::ZooError;

/// File extension of a blob (`blobs/<sha256>.mpk`), the one Burn's `CompactRecorder` uses.
pub const BLOB_EXTENSION: &str = "mpk";

type BlobRecorder = NamedMpkBytesRecorder<HalfPrecisionSettings>;

/// SHA-256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A network's weights as a blob: its record in half precision (named MessagePack).
pub fn encode<B: Backend>(network: Nb201Network<B>) -> Result<Vec<u8>, ZooError> {
    Recorder::<B>::record(&BlobRecorder::default(), network.into_record(), ())
        .map_err(|e| ZooError::Encode(e.to_string()))
}

/// The network `config` describes, with the weights of `bytes` (a blob from [`encode`]),
/// converted from f16 to the backend's float type. The blob's layout is checked against
/// `config`'s network first: every field, and every tensor's dtype and shape, must agree.
pub fn decode<B: Backend>(
    bytes: &[u8],
    config: &Nb201NetworkConfig,
    device: &B::Device,
) -> Result<Nb201Network<B>, ZooError> {
    decode_at(
        bytes,
        config,
        device,
        Path::new("(in memory)"),
        &config.arch.to_string(),
    )
}

/// [`decode`], with errors naming the blob's `path` and its `entry`.
pub(crate) fn decode_at<B: Backend>(
    bytes: &[u8],
    config: &Nb201NetworkConfig,
    device: &B::Device,
    path: &Path,
    entry: &str,
) -> Result<Nb201Network<B>, ZooError> {
    config.validate().map_err(|source| ZooError::Config {
        entry: entry.to_string(),
        source,
    })?;
    let decode_error = |message: String| ZooError::Decode {
        path: path.to_path_buf(),
        message,
    };
    let found = Layout::of::<B>(bytes).map_err(decode_error)?;
    let fresh = config.init::<B>(device);
    let expected = Layout::of::<B>(&encode(fresh.clone())?).map_err(|message| {
        ZooError::Encode(format!(
            "the reference network's record is unreadable: {message}"
        ))
    })?;
    if let Some((at, expected, found)) = expected.first_difference(&found) {
        return Err(ZooError::Mismatch {
            path: path.to_path_buf(),
            entry: entry.to_string(),
            at,
            expected,
            found,
        });
    }
    let record = Recorder::<B>::load::<<Nb201Network<B> as Module<B>>::Record>(
        &BlobRecorder::default(),
        bytes.to_vec(),
        device,
    )
    .map_err(|e| decode_error(e.to_string()))?;
    Ok(fresh.load_record(record))
}

/// The structure of a serialised record: one leaf per field, list and tensor, in order, each
/// with its path and a description (a tensor's dtype and shape; a list's length). Parameter ids
/// and the recorder's metadata are left out: they differ between equal networks.
#[derive(Debug, PartialEq)]
pub(crate) struct Layout {
    leaves: Vec<(String, String)>,
}

impl Layout {
    /// The layout of a blob; `Err` if it is not named MessagePack or a tensor's payload does
    /// not match its shape.
    fn of<B: Backend>(bytes: &[u8]) -> Result<Self, String> {
        let node: Node = Recorder::<B>::load_item(&BlobRecorder::default(), &mut bytes.to_vec())
            .map_err(|e| e.to_string())?;
        let mut leaves = Vec::new();
        match &node {
            Node::Map(fields) => {
                for (key, value) in fields {
                    if key == "item" {
                        walk(value, "", &mut leaves)?;
                    }
                }
            }
            _ => return Err("the blob is not a record (no top-level map)".into()),
        }
        if leaves.is_empty() {
            return Err("the record holds no `item`".into());
        }
        Ok(Self { leaves })
    }

    /// The first leaf where `self` (expected) and `found` differ: (path, expected, found).
    fn first_difference(&self, found: &Layout) -> Option<(String, String, String)> {
        let n = self.leaves.len().max(found.leaves.len());
        (0..n).find_map(|i| match (self.leaves.get(i), found.leaves.get(i)) {
            (Some(a), Some(b)) if a == b => None,
            (Some((path, a)), Some((other, b))) if path == other => {
                Some((path.clone(), a.clone(), b.clone()))
            }
            (Some((path, a)), Some((other, b))) => {
                Some((path.clone(), a.clone(), format!("`{other}` ({b}) instead")))
            }
            (Some((path, a)), None) => Some((path.clone(), a.clone(), "nothing".into())),
            (None, Some((path, b))) => Some((path.clone(), "nothing".into(), b.clone())),
            (None, None) => None,
        })
    }
}

fn walk(node: &Node, path: &str, out: &mut Vec<(String, String)>) -> Result<(), String> {
    let join = |key: &str| {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    };
    match node {
        Node::Map(fields) => {
            let get = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v);
            if let (Some(bytes), Some(shape), Some(dtype)) =
                (get("bytes"), get("shape"), get("dtype"))
            {
                out.push((path.to_string(), tensor(path, bytes, shape, dtype)?));
                return Ok(());
            }
            for (key, value) in fields {
                // Parameter ids are random per network: not part of its layout.
                if key != "id" {
                    walk(value, &join(key), out)?;
                }
            }
        }
        Node::Seq(items) => {
            out.push((path.to_string(), format!("a list of {}", items.len())));
            for (i, item) in items.iter().enumerate() {
                walk(item, &join(&i.to_string()), out)?;
            }
        }
        Node::Value(text) => out.push((path.to_string(), format!("the value {text}"))),
        Node::Bytes(n) => out.push((path.to_string(), format!("{n} bytes"))),
    }
    Ok(())
}

/// Describes a tensor leaf, checking that its payload has the length its shape and dtype need.
fn tensor(path: &str, bytes: &Node, shape: &Node, dtype: &Node) -> Result<String, String> {
    let Node::Seq(dims) = shape else {
        return Err(format!("`{path}`: a tensor's shape is not a list"));
    };
    let dims: Vec<u64> = dims
        .iter()
        .map(|d| match d {
            Node::Value(v) => v.parse().ok(),
            _ => None,
        })
        .collect::<Option<_>>()
        .ok_or_else(|| format!("`{path}`: a tensor's shape is not a list of sizes"))?;
    let dtype = match dtype {
        Node::Value(v) => v.clone(),
        _ => return Err(format!("`{path}`: a tensor's dtype is not a name")),
    };
    let payload = match bytes {
        Node::Bytes(n) => *n as u64,
        Node::Seq(items) => items.len() as u64,
        _ => return Err(format!("`{path}`: a tensor's data is not bytes")),
    };
    let width = match dtype.as_str() {
        "F16" | "BF16" => Some(2),
        "F32" => Some(4),
        "F64" => Some(8),
        _ => None,
    };
    let values = dims.iter().try_fold(1u64, |n, &d| n.checked_mul(d));
    if let (Some(width), Some(values)) = (width, values) {
        if values.checked_mul(width) != Some(payload) {
            return Err(format!(
                "`{path}`: a tensor of {dtype} values, shape {dims:?}, needs {} bytes; the blob holds {payload}",
                values.saturating_mul(width)
            ));
        }
    }
    Ok(format!("a tensor of {dtype} values, shape {dims:?}"))
}

/// Any value of a self-describing format, keeping only what a layout needs: byte strings are
/// reduced to their length, scalars to their text.
#[derive(Debug)]
enum Node {
    Value(String),
    Bytes(usize),
    Seq(Vec<Node>),
    Map(Vec<(String, Node)>),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any MessagePack value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Value(v.to_string()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Value(v.to_string()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Value(v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Value(v.to_string()))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Value(v.to_string()))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Node, E> {
        Ok(Node::Bytes(v.len()))
    }

    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Value("nil".into()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Value("nil".into()))
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        Node::deserialize(d)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        Node::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(0).min(4096));
        while let Some((key, value)) = map.next_entry::<Node, Node>()? {
            let key = match key {
                Node::Value(text) => text,
                other => return Err(de::Error::custom(format!("a map key is {other:?}"))),
            };
            fields.push((key, value));
        }
        Ok(Node::Map(fields))
    }
}

/// The path of the blob with hash `sha256` in the blob folder `dir`.
pub(crate) fn blob_path(dir: &Path, sha256: &str) -> PathBuf {
    dir.join(format!("{sha256}.{BLOB_EXTENSION}"))
}
