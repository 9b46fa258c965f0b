//! The tracker's view of a placed buffer: whether the CPU mapping is cached, which devices the
//! buffer's usage attaches and whether each snoops the CPU caches. Every process that opens the
//! buffer derives the same view from the profile and the placement, so they agree on the rules
//! that update the shared state word.

use super::state::CacheDomains;
use crate::device::Role;
use crate::profile::Profile;
use crate::solver::{CachePolicy, Placement};
use crate::usage::Usage;

/// The tracker's view of a placed buffer: cached or not, its devices and their coherency. With
/// FRONT_BUFFER usage the display reads at any moment, without a handoff to clean at.
pub fn domains(
    profile: &Profile,
    placement: &Placement,
    usage: Usage,
) -> Result<CacheDomains, String> {
    let mut domains = CacheDomains::new(placement.cache == CachePolicy::Cached);
    for index in placement.devices().iter() {
        let device = profile
            .devices()
            .get(index)
            .ok_or("placement names a device the profile lacks")?;
        if device.has_role(Role::Cpu) {
            continue;
        }
        domains = domains
            .attach(index, device.coherent())
            .map_err(|e| e.to_string())?;
        if usage.contains(Usage::FRONT_BUFFER)
            && device.has_role(Role::Display)
            && placement.access(index).read
        {
            domains = domains
                .read_continuously(index)
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(domains)
}
