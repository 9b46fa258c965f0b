//! The one mapping from the service's errors to what a binder client sees.
//!
//! The error rules are in docs/architecture.md §3. This module is their wire half, and the only
//! place a failure becomes a `Status`:
//! - every failure of `allocate` and `allocate2` is a **service-specific** status whose value is
//!   the `AllocationError` that [`ServiceError::code`] chose; never a transaction error or a
//!   generic exception (the status is not OK even for `BAD_DESCRIPTOR`, whose value is 0);
//! - the status carries no message, so it reads the same under AOSP's binder crate and rsbinder;
//!   the detail (which device, which limit) is logged here and kept in the ring of recent
//!   failures for `dumpsys`, both cut to [`crate::failures::REASON_MAX`] bytes (a reason may
//!   quote client-chosen text);
//! - `isSupported` and `getIMapperLibrarySuffix` never fail, so they never come here.
//!
//! A client reads a status back with [`allocation_error`]: only a service-specific status
//! carries an `AllocationError`.

use crate::error::ServiceError;
use crate::failures::bounded;
use binder::Status;
use central_gralloc::error::ErrorCode;

/// The binder status for `error`; logs the detail.
pub fn into_status(error: ServiceError) -> Status {
    let code = error.code();
    log::warn!(
        "request failed: {} ({})",
        code.name(),
        bounded(error.to_string())
    );
    Status::new_service_specific_error(code.value(), None)
}

/// The `AllocationError` a failed call carries, or `None` when `status` is not one: a
/// transaction that failed in the transport, a generic exception, or a service-specific value
/// outside the enum. (Read without this check, any non-service-specific status has value 0 and
/// would pass for `BAD_DESCRIPTOR`.)
pub fn allocation_error(status: &Status) -> Option<ErrorCode> {
    // Compared by value: the enum variant is spelled differently in AOSP's binder crate and in
    // rsbinder.
    let service_specific = Status::new_service_specific_error(1, None).exception_code();
    if status.exception_code() != service_specific {
        return None;
    }
    ErrorCode::from_value(status.service_specific_error())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_service_specific_statuses_carry_an_allocation_error() {
        for code in [
            ErrorCode::BadDescriptor,
            ErrorCode::NoResources,
            ErrorCode::Unsupported,
        ] {
            let status = Status::new_service_specific_error(code.value(), None);
            assert_eq!(allocation_error(&status), Some(code));
        }
        let outside = Status::new_service_specific_error(3, None);
        assert_eq!(allocation_error(&outside), None);
    }

    // rsbinder's spelling of the transport error; AOSP's binder crate names it DEAD_OBJECT.
    #[cfg(host_binder)]
    #[test]
    fn a_transport_error_is_not_bad_descriptor() {
        let transport = Status::from(binder::StatusCode::DeadObject);
        assert_eq!(
            transport.service_specific_error(),
            0,
            "reads as BAD_DESCRIPTOR"
        );
        assert_eq!(allocation_error(&transport), None);
    }
}
