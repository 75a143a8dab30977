//! Non-trainable tensor state of a module (batch-norm running statistics).

use std::sync::{Arc, Mutex, PoisonError};

use burn::module::{
    AutodiffModule, Content, Devices, HasAutodiffModule, Module, ModuleDisplay,
    ModuleDisplayDefault, ModuleMapper, ModuleVisitor, Param, ParamId,
};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::Tensor;

/// A tensor that belongs to a module's state but is not a parameter, like PyTorch's
/// `register_buffer`: batch-norm running statistics.
///
/// Unlike Burn's `RunningState`, a `Buffer` is invisible to [`ModuleVisitor`]s and
/// [`ModuleMapper`]s, so [`Module::num_params`] does not count it (matching the parameter counts
/// that NAS-Bench-201 publishes) and optimisers never see it. It is still saved and loaded with
/// the module's record, moved by [`Module::to_device`], and converted by
/// [`AutodiffModule::valid`].
///
/// The value sits behind a shared lock so that a forward pass taking `&self` can update it;
/// clones of a module share their buffers, while [`AutodiffModule::valid`] makes an independent
/// copy.
#[derive(Clone, Debug)]
pub struct Buffer<B: Backend, const D: usize> {
    id: ParamId,
    value: Arc<Mutex<Tensor<B, D>>>,
}

impl<B: Backend, const D: usize> Buffer<B, D> {
    /// A buffer holding `value`.
    pub fn new(value: Tensor<B, D>) -> Self {
        Self::with_id(ParamId::new(), value)
    }

    fn with_id(id: ParamId, value: Tensor<B, D>) -> Self {
        Self {
            id,
            value: Arc::new(Mutex::new(value)),
        }
    }

    /// The current value.
    pub fn value(&self) -> Tensor<B, D> {
        self.value
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replaces the value (detached from any autodiff graph).
    pub fn set(&self, value: Tensor<B, D>) {
        *self.value.lock().unwrap_or_else(PoisonError::into_inner) = value.detach();
    }
}

impl<B: Backend, const D: usize> Module<B> for Buffer<B, D> {
    type Record = Param<Tensor<B, D>>;

    fn collect_devices(&self, mut devices: Devices<B>) -> Devices<B> {
        let device = self.value().device();
        if !devices.contains(&device) {
            devices.push(device);
        }
        devices
    }

    fn fork(self, device: &B::Device) -> Self {
        self.to_device(device)
    }

    fn to_device(self, device: &B::Device) -> Self {
        Self::with_id(self.id, self.value().to_device(device))
    }

    /// Buffers are not parameters: visitors do not see them.
    fn visit<V: ModuleVisitor<B>>(&self, _visitor: &mut V) {}

    /// Buffers are not parameters: mappers (optimisers included) do not see them.
    fn map<M: ModuleMapper<B>>(self, _mapper: &mut M) -> Self {
        self
    }

    fn load_record(self, record: Self::Record) -> Self {
        let device = self.value().device();
        Self::with_id(record.id, record.val().to_device(&device))
    }

    fn into_record(self) -> Self::Record {
        Param::initialized(self.id, self.value())
    }
}

impl<B: Backend, const D: usize> ModuleDisplayDefault for Buffer<B, D> {
    fn content(&self, content: Content) -> Option<Content> {
        let shape = self.value().shape();
        content
            .add_formatted(&format!("Buffer {:?}", shape.as_slice()))
            .optional()
    }
}

impl<B: Backend, const D: usize> ModuleDisplay for Buffer<B, D> {}

impl<B: AutodiffBackend, const D: usize> AutodiffModule<B> for Buffer<B, D> {
    type InnerModule = Buffer<B::InnerBackend, D>;

    fn valid(&self) -> Self::InnerModule {
        Buffer::with_id(self.id, self.value().inner())
    }

    fn from_inner(module: Self::InnerModule) -> Self {
        Buffer::with_id(module.id, Tensor::from_inner(module.value()))
    }
}

impl<B: AutodiffBackend, const D: usize> HasAutodiffModule<B> for Buffer<B::InnerBackend, D> {
    type TrainModule = Buffer<B, D>;
}
