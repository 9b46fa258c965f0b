//! The solver as a three-step lifecycle: create a buffer with no storage, attach the devices that
//! will use it one by one, then finalize one placement from all of their constraints. This is the
//! shape of the central dma-buf allocator first proposed on dri-devel in 2013, for callers that
//! learn about devices one at a time; `solve` is the same thing in one call when usage names them
//! all up front.

use super::{check_device, solve_for, DeviceSet, Placement, SolveError};
use crate::descriptor::Descriptor;
use crate::device::Access;
use crate::profile::Profile;

/// A buffer being set up: no storage yet, devices attached one by one, then one placement from
/// the union of their constraints. Attaching after finalize checks the device against the
/// placement already made (and fails if it does not fit) instead of moving the buffer.
#[derive(Clone, Debug)]
pub struct PendingBuffer<'p> {
    profile: &'p Profile,
    descriptor: Descriptor,
    readers: DeviceSet,
    writers: DeviceSet,
    placement: Option<Placement>,
}

impl<'p> PendingBuffer<'p> {
    /// A buffer with no devices attached and no storage.
    pub fn new(profile: &'p Profile, descriptor: Descriptor) -> PendingBuffer<'p> {
        PendingBuffer {
            profile,
            descriptor,
            readers: DeviceSet::default(),
            writers: DeviceSet::default(),
            placement: None,
        }
    }

    /// Attaches `device`. After [`PendingBuffer::finalize`], fails with the reason if the
    /// placement does not satisfy it (and leaves the placement unchanged).
    pub fn attach(&mut self, device: &str, access: Access) -> Result<(), SolveError> {
        let index = self
            .profile
            .device_index(device)
            .ok_or_else(|| SolveError::UnknownDevice(device.to_string()))?;
        if let Some(placement) = &mut self.placement {
            check_device(
                &self.profile.devices()[index],
                access,
                placement,
                &self.descriptor,
            )?;
            if access.read {
                placement.readers = placement.readers.with(index);
            }
            if access.write {
                placement.writers = placement.writers.with(index);
            }
        }
        if access.read {
            self.readers = self.readers.with(index);
        }
        if access.write {
            self.writers = self.writers.with(index);
        }
        Ok(())
    }

    /// Decides the placement from every device attached so far (idempotent).
    pub fn finalize(&mut self) -> Result<&Placement, SolveError> {
        if self.placement.is_none() {
            self.placement = Some(solve_for(
                &self.descriptor,
                self.profile,
                self.readers,
                self.writers,
            )?);
        }
        self.placement
            .as_ref()
            .ok_or(SolveError::NoFormat(self.descriptor.format))
    }

    /// The placement, once finalized.
    pub fn placement(&self) -> Option<&Placement> {
        self.placement.as_ref()
    }
}
