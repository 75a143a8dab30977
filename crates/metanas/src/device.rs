//! Choosing a backend at run time: one place maps `cpu`, `wgpu:1` or `cuda` to a Burn backend.
//!
//! Burn backends are types, so a backend named in a flag or an environment variable is handled
//! in two steps: parse the name into a [`DeviceSpec`], then [`dispatch`] a job (anything that
//! implements [`WithBackend`]) to the matching autodiff backend type with its device.
//! [`DeviceSpec::resolve`] turns a binary's `--device` flag (else `$METANAS_DEVICE`, else `cpu`)
//! into a checked spec.
//!
//! | spec | backend | device | cargo feature |
//! |---|---|---|---|
//! | `cpu`, `flex` | [`CpuBackend`] | the CPU | `flex` (default) |
//! | `wgpu` | `WgpuBackend` | Burn's default adapter (`CUBECL_WGPU_DEFAULT_DEVICE` overrides it) | `wgpu` |
//! | `wgpu:N` | `WgpuBackend` | the N-th discrete GPU | `wgpu` |
//! | `cuda`, `cuda:N` | `CudaBackend` | CUDA device 0 / N | `cuda` |
//!
//! The GPU backends run without Burn's kernel fusion (why: [`search_space::device`]).
//!
//! This module re-exports [`search_space::device`], where the code lives so that the binaries
//! and benches of the lower crates (`metanas-db`, `train-feature-cnn`, the crate benches) can
//! pick a backend too; `metanas`'s `wgpu` and `cuda` features compile the backends in there.
//!
//! ```
//! use burn::tensor::backend::AutodiffBackend;
//! use burn::tensor::{ElementConversion, Tensor};
//! use metanas::device::{dispatch, DeviceSpec, WithBackend};
//!
//! /// Sums a small tensor on whichever backend the spec names.
//! struct Sum;
//! impl WithBackend for Sum {
//!     type Output = f32;
//!     fn run<B: AutodiffBackend>(self, device: B::Device) -> f32 {
//!         Tensor::<B, 1>::from_floats([1.0, 2.0, 3.0], &device).sum().into_scalar().elem()
//!     }
//! }
//!
//! let spec: DeviceSpec = "cpu".parse()?;
//! assert_eq!(dispatch(&spec, Sum)?, 6.0);
//! assert_eq!("cuda:1".parse::<DeviceSpec>()?, DeviceSpec::Cuda(Some(1)));
//! assert_eq!("flex".parse::<DeviceSpec>()?.to_string(), "cpu");
//! # Ok::<(), metanas::device::DeviceError>(())
//! ```

pub use search_space::device::*;
