//! Choosing a backend at run time: one place maps `cpu`, `wgpu:1` or `cuda` to a Burn backend.
//!
//! Burn backends are types, so a backend named in a flag or an environment variable is handled
//! in two steps: parse the name into a [`DeviceSpec`], then [`dispatch`] a job (anything that
//! implements [`WithBackend`]) to the matching autodiff backend type with its device. Library
//! code stays generic over `B: Backend`; only binaries, examples and benches pick a backend, and
//! they all do it here. A binary's `--device` flag is a `DeviceSpec` (it implements `FromStr`),
//! and [`DeviceSpec::resolve`] turns the flag into the checked spec to dispatch on.
//!
//! **Why this module is in `search-space`.** It is not about search spaces: it lives in the
//! lowest crate of the workspace that links Burn and that every crate with a binary, an example
//! or a bench depends on (`model-zoo`, `set-encoder`, `meta-predictor`, `metanas`; `datasets`,
//! lower still, does not link Burn). So `metanas-db`, `train-feature-cnn`, the `mbv3_db` example
//! and the crate benches pick a backend the same way as the `metanas` CLI. Users reach it as
//! `metanas::device`, which re-exports it. Each crate's `wgpu` and `cuda` cargo features forward
//! to this crate's, which compile the backends in (and, for `cuda`, `cudarc`, `burn-cubecl` and
//! `cubecl` for the driver checks and the unfused backend type).
//!
//! | spec | backend | device | cargo feature |
//! |---|---|---|---|
//! | `cpu`, `flex` | [`CpuBackend`] | the CPU | `flex` (default) |
//! | `wgpu` | [`WgpuBackend`] | Burn's default adapter (`CUBECL_WGPU_DEFAULT_DEVICE` overrides it) | `wgpu` |
//! | `wgpu:N` | [`WgpuBackend`] | the N-th discrete GPU | `wgpu` |
//! | `cuda`, `cuda:N` | [`CudaBackend`] | CUDA device 0 / N | `cuda` |
//!
//! **The GPU backends run without Burn's kernel fusion.** With fusion (Burn 0.21.0's default
//! `Wgpu` and `Cuda` types), the gradients of an attention block with one query per set — the
//! set encoder's pooling (PMA) — come out wrong on wgpu (wrong sign, not rounding), while the
//! unfused backend matches flex to 1e-6: `crates/metanas/tests/parity_ops.rs` shows both. CUDA
//! shares the fusion code, so it is unfused too until a GPU run proves otherwise.
//!
//! ```
//! use burn::tensor::backend::AutodiffBackend;
//! use burn::tensor::{ElementConversion, Tensor};
//! use search_space::device::{dispatch, DeviceSpec, WithBackend};
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
//! # Ok::<(), search_space::device::DeviceError>(())
//! ```

use std::fmt;
use std::str::FromStr;

use burn::tensor::backend::AutodiffBackend;

/// The environment variable examples and benches read the device from ([`DeviceSpec::from_env`]).
pub const DEVICE_ENV: &str = "METANAS_DEVICE";

/// What the device specs look like, for error messages.
const EXPECTED: &str = "cpu, flex, wgpu, wgpu:N, cuda or cuda:N";

/// A backend and device, parsed from `cpu` / `flex` / `wgpu[:N]` / `cuda[:N]`.
///
/// Parsing only reads the text; whether the backend is compiled in and the device exists is
/// checked by [`check`](Self::check) and [`dispatch`]. `Display` writes the canonical form, which
/// parses back to the same value.
///
/// ```
/// use search_space::device::DeviceSpec;
/// assert_eq!("cuda:1".parse::<DeviceSpec>()?, DeviceSpec::Cuda(Some(1)));
/// assert_eq!("flex".parse::<DeviceSpec>()?.to_string(), "cpu");
/// # Ok::<(), search_space::device::DeviceError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum DeviceSpec {
    /// Burn's flex backend on the CPU (`cpu` or `flex`).
    #[default]
    Cpu,
    /// Burn's wgpu backend: Burn's default adapter (`None`) or the N-th discrete GPU.
    Wgpu(Option<usize>),
    /// Burn's CUDA backend: device 0 (`None`) or device N.
    Cuda(Option<usize>),
}

/// Why a device spec cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    /// The backend name is not one of `cpu`, `flex`, `wgpu`, `cuda`.
    #[error("unknown device `{0}`; expected {EXPECTED}")]
    UnknownName(String),
    /// The part after `:` is not a device index, or the backend takes none.
    #[error("device `{spec}`: {reason}")]
    BadIndex {
        /// The spec as written.
        spec: String,
        /// What is wrong with the index.
        reason: String,
    },
    /// The backend exists but this binary was built without its cargo feature.
    #[error(
        "the {backend} backend is not compiled into this binary; rebuild with `--features {feature}`"
    )]
    NotCompiled {
        /// The backend asked for.
        backend: &'static str,
        /// The cargo feature that compiles it in: every crate of the workspace that links Burn
        /// has it under this name and forwards it to `search-space`.
        feature: &'static str,
    },
    /// The CUDA backend is compiled in but the machine cannot run it (no driver, no NVRTC, or
    /// the driver fails to start).
    #[error("cannot use CUDA: {0}")]
    NoCudaDriver(String),
    /// The backend works but has no device with that index.
    #[error("no device {spec}: this machine has {available} {} device(s)", spec.backend())]
    NoSuchDevice {
        /// The device asked for.
        spec: DeviceSpec,
        /// How many devices of that backend the machine has.
        available: usize,
    },
    /// [`DEVICE_ENV`] holds something that is not a device spec.
    #[error("{DEVICE_ENV}=`{value}`: {source}")]
    Env {
        /// The variable's value (lossily decoded if it is not UTF-8).
        value: String,
        /// What is wrong with it.
        source: Box<DeviceError>,
    },
}

impl DeviceSpec {
    /// The spec in [`DEVICE_ENV`] (`METANAS_DEVICE`), or [`DeviceSpec::Cpu`] when it is unset
    /// or empty.
    pub fn from_env() -> Result<Self, DeviceError> {
        Self::from_env_value(std::env::var_os(DEVICE_ENV))
    }

    /// The device a binary runs on: `flag` (its `--device`) when given, else [`DEVICE_ENV`],
    /// else [`DeviceSpec::Cpu`]; [checked](Self::check), so a backend that is not compiled in or
    /// a missing CUDA driver is reported before the binary reads or trains anything.
    ///
    /// ```
    /// use search_space::device::{DeviceError, DeviceSpec};
    /// assert_eq!(DeviceSpec::resolve(Some(DeviceSpec::Cpu))?, DeviceSpec::Cpu);
    /// # #[cfg(not(feature = "wgpu"))]
    /// assert!(matches!(
    ///     DeviceSpec::resolve(Some(DeviceSpec::Wgpu(None))),
    ///     Err(DeviceError::NotCompiled { .. })
    /// ));
    /// # Ok::<(), DeviceError>(())
    /// ```
    pub fn resolve(flag: Option<DeviceSpec>) -> Result<Self, DeviceError> {
        let spec = match flag {
            Some(spec) => spec,
            None => Self::from_env()?,
        };
        spec.check()?;
        Ok(spec)
    }

    /// [`from_env`](Self::from_env) given the variable's value.
    fn from_env_value(value: Option<std::ffi::OsString>) -> Result<Self, DeviceError> {
        match value {
            None => Ok(Self::Cpu),
            Some(value) => {
                let value = value.to_string_lossy();
                if value.trim().is_empty() {
                    return Ok(Self::Cpu);
                }
                value.parse().map_err(|e| DeviceError::Env {
                    value: value.into_owned(),
                    source: Box::new(e),
                })
            }
        }
    }

    /// The backend's name: `flex`, `wgpu` or `cuda`.
    pub fn backend(&self) -> &'static str {
        match self {
            Self::Cpu => "flex",
            Self::Wgpu(_) => "wgpu",
            Self::Cuda(_) => "cuda",
        }
    }

    /// Whether this binary has the backend compiled in.
    pub fn is_compiled(&self) -> bool {
        match self {
            Self::Cpu => cfg!(feature = "flex"),
            Self::Wgpu(_) => cfg!(feature = "wgpu"),
            Self::Cuda(_) => cfg!(feature = "cuda"),
        }
    }

    /// Checks, without creating a device, that the backend is compiled in and, for CUDA, that
    /// a driver, NVRTC and a device with this index exist. [`dispatch`] runs this first.
    ///
    /// A missing wgpu adapter is not detected here: Burn panics when it first uses the device.
    pub fn check(&self) -> Result<(), DeviceError> {
        if !self.is_compiled() {
            return Err(DeviceError::NotCompiled {
                backend: self.backend(),
                feature: self.backend(),
            });
        }
        match self {
            Self::Cuda(index) => check_cuda(*self, index.unwrap_or(0)),
            Self::Cpu | Self::Wgpu(_) => Ok(()),
        }
    }
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cpu => f.write_str("cpu"),
            Self::Wgpu(None) => f.write_str("wgpu"),
            Self::Wgpu(Some(i)) => write!(f, "wgpu:{i}"),
            Self::Cuda(None) => f.write_str("cuda"),
            Self::Cuda(Some(i)) => write!(f, "cuda:{i}"),
        }
    }
}

impl FromStr for DeviceSpec {
    type Err = DeviceError;

    /// Parses `cpu`, `flex`, `wgpu`, `wgpu:N`, `cuda` or `cuda:N` (ASCII case and surrounding
    /// whitespace ignored).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim().to_ascii_lowercase();
        let (name, index) = match text.split_once(':') {
            Some((name, index)) => (name, Some(index)),
            None => (text.as_str(), None),
        };
        let bad_index = |reason: String| DeviceError::BadIndex {
            spec: s.trim().to_string(),
            reason,
        };
        let index = match index {
            None => None,
            Some(index) => Some(index.parse::<usize>().map_err(|_| {
                bad_index(format!(
                    "`{index}` is not a device index (a number such as 0 or 1)"
                ))
            })?),
        };
        match (name, index) {
            ("cpu" | "flex", None) => Ok(Self::Cpu),
            ("cpu" | "flex", Some(_)) => Err(bad_index(
                "the CPU backend takes no device index; write `cpu`".into(),
            )),
            ("wgpu", index) => Ok(Self::Wgpu(index)),
            ("cuda", index) => Ok(Self::Cuda(index)),
            _ => Err(DeviceError::UnknownName(s.trim().to_string())),
        }
    }
}

/// A job that runs on any autodiff backend: what [`dispatch`] calls once the backend type is
/// known. Implement it on a struct holding the job's inputs.
pub trait WithBackend {
    /// What the job returns.
    type Output;

    /// Runs the job on backend `B` and `device`.
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Self::Output;
}

/// The CPU training backend: flex with autodiff.
#[cfg(feature = "flex")]
pub type CpuBackend = burn::backend::Autodiff<burn::backend::Flex>;

/// The wgpu backend without autodiff (f32), unfused: see the [module docs](self).
#[cfg(feature = "wgpu")]
pub type WgpuInner =
    burn::backend::wgpu::CubeBackend<burn::backend::wgpu::WgpuRuntime, f32, i32, u32>;

/// The wgpu training backend (f32): unfused wgpu with autodiff.
#[cfg(feature = "wgpu")]
pub type WgpuBackend = burn::backend::Autodiff<WgpuInner>;

/// The CUDA backend without autodiff (f32), unfused: see the [module docs](self).
#[cfg(feature = "cuda")]
pub type CudaInner = burn_cubecl::CubeBackend<cubecl::cuda::CudaRuntime, f32, i32, u8>;

/// The CUDA training backend (f32): unfused CUDA with autodiff.
#[cfg(feature = "cuda")]
pub type CudaBackend = burn::backend::Autodiff<CudaInner>;

/// Runs `job` on the backend and device `spec` names, after [`DeviceSpec::check`].
///
/// Errors: the backend is not compiled in ([`DeviceError::NotCompiled`], naming the cargo
/// feature), or CUDA cannot run here ([`DeviceError::NoCudaDriver`],
/// [`DeviceError::NoSuchDevice`]).
pub fn dispatch<W: WithBackend>(spec: &DeviceSpec, job: W) -> Result<W::Output, DeviceError> {
    spec.check()?;
    match *spec {
        DeviceSpec::Cpu => run_cpu(job),
        DeviceSpec::Wgpu(index) => run_wgpu(index, job),
        DeviceSpec::Cuda(index) => run_cuda(index.unwrap_or(0), job),
    }
}

#[cfg(feature = "flex")]
fn run_cpu<W: WithBackend>(job: W) -> Result<W::Output, DeviceError> {
    Ok(job.run::<CpuBackend>(burn::backend::flex::FlexDevice))
}

#[cfg(not(feature = "flex"))]
fn run_cpu<W: WithBackend>(_job: W) -> Result<W::Output, DeviceError> {
    unreachable!("DeviceSpec::check rejects backends that are not compiled in")
}

#[cfg(feature = "wgpu")]
fn run_wgpu<W: WithBackend>(index: Option<usize>, job: W) -> Result<W::Output, DeviceError> {
    use burn::backend::wgpu::WgpuDevice;
    let device = index.map_or(WgpuDevice::DefaultDevice, WgpuDevice::DiscreteGpu);
    Ok(job.run::<WgpuBackend>(device))
}

#[cfg(not(feature = "wgpu"))]
fn run_wgpu<W: WithBackend>(_index: Option<usize>, _job: W) -> Result<W::Output, DeviceError> {
    unreachable!("DeviceSpec::check rejects backends that are not compiled in")
}

#[cfg(feature = "cuda")]
fn run_cuda<W: WithBackend>(index: usize, job: W) -> Result<W::Output, DeviceError> {
    Ok(job.run::<CudaBackend>(burn::backend::cuda::CudaDevice::new(index)))
}

#[cfg(not(feature = "cuda"))]
fn run_cuda<W: WithBackend>(_index: usize, _job: W) -> Result<W::Output, DeviceError> {
    unreachable!("DeviceSpec::check rejects backends that are not compiled in")
}

/// Checks that CUDA device `index` can be created. Burn's CUDA backend panics on a worker thread
/// when the driver is missing, so ask the driver first.
#[cfg(feature = "cuda")]
fn check_cuda(spec: DeviceSpec, index: usize) -> Result<(), DeviceError> {
    use cudarc::{driver, nvrtc};
    // SAFETY: both calls only try to dlopen the library and drop it; no symbol is called.
    if !unsafe { driver::sys::is_culib_present() } {
        return Err(DeviceError::NoCudaDriver(
            "the NVIDIA driver library (libcuda.so) was not found; install the driver or pick \
             another device (cpu, wgpu)"
                .into(),
        ));
    }
    // SAFETY: as above.
    if !unsafe { nvrtc::sys::is_culib_present() } {
        return Err(DeviceError::NoCudaDriver(
            "NVRTC (libnvrtc.so, from the CUDA toolkit) was not found; Burn compiles its CUDA \
             kernels with it at run time"
                .into(),
        ));
    }
    driver::result::init()
        .map_err(|e| DeviceError::NoCudaDriver(format!("the driver failed to start: {e}")))?;
    let count = driver::result::device::get_count()
        .map_err(|e| DeviceError::NoCudaDriver(format!("cannot count devices: {e}")))?;
    let available = usize::try_from(count).unwrap_or(0);
    if index >= available {
        return Err(DeviceError::NoSuchDevice { spec, available });
    }
    Ok(())
}

#[cfg(not(feature = "cuda"))]
fn check_cuda(_spec: DeviceSpec, _index: usize) -> Result<(), DeviceError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<DeviceSpec, DeviceError> {
        s.parse()
    }

    #[test]
    fn parses_every_form() {
        assert_eq!(parse("cpu"), Ok(DeviceSpec::Cpu));
        assert_eq!(parse("flex"), Ok(DeviceSpec::Cpu));
        assert_eq!(parse(" CPU "), Ok(DeviceSpec::Cpu));
        assert_eq!(parse("wgpu"), Ok(DeviceSpec::Wgpu(None)));
        assert_eq!(parse("wgpu:2"), Ok(DeviceSpec::Wgpu(Some(2))));
        assert_eq!(parse("cuda"), Ok(DeviceSpec::Cuda(None)));
        assert_eq!(parse("Cuda:0"), Ok(DeviceSpec::Cuda(Some(0))));
    }

    #[test]
    fn display_round_trips() {
        for spec in [
            DeviceSpec::Cpu,
            DeviceSpec::Wgpu(None),
            DeviceSpec::Wgpu(Some(3)),
            DeviceSpec::Cuda(None),
            DeviceSpec::Cuda(Some(1)),
        ] {
            assert_eq!(parse(&spec.to_string()), Ok(spec));
        }
    }

    #[test]
    fn unknown_name_is_an_error() {
        let err = parse("tpu").unwrap_err();
        assert_eq!(err, DeviceError::UnknownName("tpu".into()));
        assert!(
            err.to_string().contains("expected cpu, flex, wgpu"),
            "{err}"
        );
        assert!(matches!(parse(""), Err(DeviceError::UnknownName(_))));
        assert!(matches!(parse("rocm:0"), Err(DeviceError::UnknownName(_))));
    }

    #[test]
    fn bad_index_is_an_error() {
        for s in ["cuda:", "cuda:x", "wgpu:-1", "wgpu:1:2", "cuda: 1x"] {
            assert!(
                matches!(parse(s), Err(DeviceError::BadIndex { .. })),
                "{s}: {:?}",
                parse(s)
            );
        }
        let err = parse("cpu:0").unwrap_err();
        assert!(err.to_string().contains("takes no device index"), "{err}");
    }

    #[test]
    fn cpu_is_the_default() {
        assert_eq!(DeviceSpec::default(), DeviceSpec::Cpu);
    }

    #[cfg(feature = "flex")]
    #[test]
    fn cpu_dispatches_to_flex() {
        struct Name;
        impl WithBackend for Name {
            type Output = String;
            fn run<B: AutodiffBackend>(self, device: B::Device) -> String {
                B::name(&device)
            }
        }
        let name = dispatch(&DeviceSpec::Cpu, Name).unwrap();
        assert!(name.to_lowercase().contains("flex"), "{name}");
    }

    /// A job that must never run: dispatch has to refuse first.
    struct MustNotRun;
    impl WithBackend for MustNotRun {
        type Output = ();
        fn run<B: AutodiffBackend>(self, _device: B::Device) {
            panic!("dispatch ran a job on a backend it should have refused");
        }
    }

    #[cfg(not(feature = "wgpu"))]
    #[test]
    fn wgpu_without_the_feature_names_the_feature() {
        let err = dispatch(&DeviceSpec::Wgpu(None), MustNotRun).unwrap_err();
        assert_eq!(
            err,
            DeviceError::NotCompiled {
                backend: "wgpu",
                feature: "wgpu"
            }
        );
        assert!(err.to_string().contains("--features wgpu"), "{err}");
    }

    #[cfg(not(feature = "wgpu"))]
    #[test]
    fn resolve_refuses_a_flag_for_a_backend_not_compiled_in() {
        assert_eq!(
            DeviceSpec::resolve(Some(DeviceSpec::Wgpu(Some(1)))),
            Err(DeviceError::NotCompiled {
                backend: "wgpu",
                feature: "wgpu"
            })
        );
    }

    #[cfg(feature = "flex")]
    #[test]
    fn resolve_takes_the_flag() {
        assert_eq!(
            DeviceSpec::resolve(Some(DeviceSpec::Cpu)),
            Ok(DeviceSpec::Cpu)
        );
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn cuda_without_the_feature_names_the_feature() {
        let err = dispatch(&DeviceSpec::Cuda(Some(0)), MustNotRun).unwrap_err();
        assert!(err.to_string().contains("--features cuda"), "{err}");
    }

    /// On a machine without an NVIDIA driver (CI, this project's dev machines) the CUDA build
    /// must refuse with a clear error instead of panicking inside Burn.
    #[cfg(feature = "cuda")]
    #[test]
    fn cuda_without_a_driver_is_a_clear_error() {
        // SAFETY: only tries to dlopen the library.
        if unsafe { cudarc::driver::sys::is_culib_present() } {
            return; // a machine with a driver: nothing to check here
        }
        let err = dispatch(&DeviceSpec::Cuda(None), MustNotRun).unwrap_err();
        assert!(matches!(err, DeviceError::NoCudaDriver(_)), "{err}");
        assert!(err.to_string().contains("libcuda"), "{err}");
    }

    #[test]
    fn env_value_unset_or_empty_is_cpu() {
        assert_eq!(DeviceSpec::from_env_value(None), Ok(DeviceSpec::Cpu));
        assert_eq!(
            DeviceSpec::from_env_value(Some(" ".into())),
            Ok(DeviceSpec::Cpu)
        );
        assert_eq!(
            DeviceSpec::from_env_value(Some("wgpu:1".into())),
            Ok(DeviceSpec::Wgpu(Some(1)))
        );
    }

    #[test]
    fn env_errors_name_the_variable() {
        let err = DeviceSpec::from_env_value(Some("gpu".into())).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("METANAS_DEVICE=`gpu`: unknown device"),
            "{err}"
        );
    }
}
