//! The one mapping from the service's errors to what a binder client sees.
//!
//! Rules:
//! - Every failure of `allocate`, `allocate2` goes out as a **service-specific** status whose
//!   value is an `AllocationError`: `BAD_DESCRIPTOR = 0`, `NO_RESOURCES = 1`, `UNSUPPORTED = 2`.
//!   Never a transaction error, never a generic exception: a client reads the value with
//!   `status.service_specific_error()`. (The status is not OK even when the value is
//!   `BAD_DESCRIPTOR`, whose number is 0: the exception code says service-specific.)
//! - Which value is decided by the error itself ([`ServiceError::code`], which defers to the
//!   core's and the memory layer's rules): malformed request (non-positive width, height,
//!   layer count or **count**, a stride the wire cannot carry) is `BAD_DESCRIPTOR`; a
//!   well-formed request this platform can never satisfy (unknown usage bits or options, a
//!   device limit, a missing heap, a single buffer over the per-request byte limit, the heap's
//!   largest buffer or the per-client cap, the deprecated V1 `allocate`) is `UNSUPPORTED`,
//!   and `isSupported` is false for exactly these and the malformed ones; anything that may
//!   succeed later (memory, fds, the per-request **count** and byte limits for several
//!   buffers, the per-client quota) is `NO_RESOURCES`.
//! - The detail (which device, which limit) never crosses the wire: the status carries no
//!   message, so it reads the same under AOSP libbinder_rs and rsbinder. It is logged here and
//!   kept in the service's ring of recent failures for `dumpsys`, both cut to
//!   [`crate::failures::REASON_MAX`] bytes (a reason may quote client-chosen text).
//! - `isSupported` and `getIMapperLibrarySuffix` never fail, so they never come here.
//!
//! A client reads a status back with [`allocation_error`], which holds the second half of the
//! first rule: only a service-specific status carries an `AllocationError`.

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
