//! The GPU backend the parity suites (`parity.rs`, `parity_ops.rs`) compare with flex.
//!
//! Built with `--features wgpu`, the suites test unfused wgpu on Burn's default adapter, as
//! they always did; with `--features cuda` (and not `wgpu`), unfused CUDA on device 0 (the
//! backends `metanas::device` dispatches to). `METANAS_DEVICE` picks the backend and device when
//! it names a GPU (`wgpu`, `wgpu:N`, `cuda`, `cuda:N`); that is how a build with both features
//! chooses. Unset, empty or `cpu` (the project's default) means the default above. A backend
//! that is not compiled in, or CUDA without a driver or NVRTC, fails every test with the device
//! module's message, before Burn is asked for a device.

use std::sync::OnceLock;

use metanas::device::{DeviceSpec, WithBackend, DEVICE_ENV};

/// The backend used when `METANAS_DEVICE` names none: wgpu when compiled in, else CUDA.
#[cfg(feature = "wgpu")]
const DEFAULT: DeviceSpec = DeviceSpec::Wgpu(None);
#[cfg(not(feature = "wgpu"))]
const DEFAULT: DeviceSpec = DeviceSpec::Cuda(None);

/// The backend under test, resolved and checked once per test binary. Panics with the reason
/// when it cannot be used.
pub fn under_test() -> DeviceSpec {
    static SPEC: OnceLock<Result<DeviceSpec, String>> = OnceLock::new();
    match SPEC.get_or_init(resolve) {
        Ok(spec) => *spec,
        Err(e) => panic!("{e}"),
    }
}

/// The backend's name in the suites' messages: `wgpu` or `cuda`.
pub fn name() -> &'static str {
    under_test().backend()
}

fn resolve() -> Result<DeviceSpec, String> {
    let named =
        std::env::var_os(DEVICE_ENV).is_some_and(|v| !v.to_string_lossy().trim().is_empty());
    let spec = if named {
        DeviceSpec::from_env().map_err(|e| format!("parity suites: {e}"))?
    } else {
        DEFAULT
    };
    let spec = if spec == DeviceSpec::Cpu {
        DEFAULT
    } else {
        spec
    };
    spec.check()
        .map_err(|e| format!("parity suites: cannot test {spec} against flex: {e}"))?;
    Ok(spec)
}

/// Runs `job` on the backend under test ([`under_test`]) and its device.
pub fn run_on_gpu<W: WithBackend>(job: W) -> W::Output {
    match under_test() {
        #[cfg(feature = "wgpu")]
        DeviceSpec::Wgpu(index) => {
            use burn::backend::wgpu::WgpuDevice;
            let device = index.map_or(WgpuDevice::DefaultDevice, WgpuDevice::DiscreteGpu);
            job.run::<metanas::device::WgpuBackend>(device)
        }
        #[cfg(feature = "cuda")]
        DeviceSpec::Cuda(index) => {
            let device = burn::backend::cuda::CudaDevice::new(index.unwrap_or(0));
            job.run::<metanas::device::CudaBackend>(device)
        }
        spec => unreachable!("resolve() checked that {spec} is a compiled-in GPU backend"),
    }
}

/// Runs a test body, `fn body<G: AutodiffBackend>(gpu: &G::Device)`, on the backend under
/// test: `on_gpu!(body)`.
macro_rules! on_gpu {
    ($body:ident) => {{
        struct Job;
        impl metanas::device::WithBackend for Job {
            type Output = ();
            fn run<G: burn::tensor::backend::AutodiffBackend>(self, device: G::Device) {
                $body::<G>(&device)
            }
        }
        crate::parity_backend::run_on_gpu(Job)
    }};
}
pub(crate) use on_gpu;
