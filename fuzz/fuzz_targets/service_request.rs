//! Fuzz target: the service's request path from raw parcel bytes, with no listening socket: an
//! RPC binder session over a socketpair inside this process, whose server side is the real
//! IAllocator (the service adapter over `Gralloc`, buffers from memfds). Each input is one
//! transaction: rsbinder's RPC parcel reading, the generated stub, the adapter, the policy, the
//! memory layer and the reply with its fds, exactly as a socket client reaches them.
//!
//! Input: one byte picks the method (`allocate`, `allocate2`, `isSupported`,
//! `getIMapperLibrarySuffix`); the rest, as little-endian 32-bit words, follows the interface
//! header as the arguments. Checked: the session survives every input, a failure is a
//! transaction error (arguments that do not parse) or an `AllocationError` (0, 1 or 2), and
//! every buffer a reply carries decodes as a handle.

#![no_main]

use binder::rsbinder::rpc::transport::UnixTransport;
use binder::rsbinder::rpc::{FileDescriptorTransportMode, RpcSession};
use binder::rsbinder::{self, ExceptionCode, Parcel, SIBinder, Status, StatusCode};
use central_gralloc_memory::{BufferHandle, NativeHandle};
use central_gralloc_service::aidl::AllocationResult;
use central_gralloc_service::host::{self, MemoryChoice};
use central_gralloc_service::rpc::WIRE_VERSION;
use libfuzzer_sys::fuzz_target;
use std::os::fd::AsFd;
use std::sync::OnceLock;

/// `allocate2`'s transaction code (AIDL method order, from `FIRST_CALL_TRANSACTION`).
const ALLOCATE2: u32 = rsbinder::FIRST_CALL_TRANSACTION + 1;

/// The client end of the session and the service's root object on it.
struct Client {
    _session: RpcSession,
    root: SIBinder,
}

fn client() -> &'static Client {
    static CLIENT: OnceLock<Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        let choice = MemoryChoice {
            profile: "host".into(),
            backend: "memfd".into(),
            stand_in: false,
            // No buffers made ahead: each input allocates what it asks for.
            pool_bytes: None,
        };
        // No quota window to wait out between inputs.
        let gralloc = host::gralloc_with_quota(&choice, Some(u64::MAX / 4)).expect("the service");
        let service = host::allocator_binder(gralloc);
        let (ours, theirs) = UnixTransport::pair().expect("a socketpair");
        std::thread::spawn(move || {
            let session = RpcSession::accept_android13plus_fd(Box::new(theirs), WIRE_VERSION, true)
                .expect("the server side of the handshake");
            session
                .set_root(binder::Interface::as_binder(&service))
                .expect("the root object");
            let end = session.serve_blocking();
            panic!("the service's session ended: {end:?}");
        });
        let session = RpcSession::connect_android13plus_fd(
            Box::new(ours),
            WIRE_VERSION,
            FileDescriptorTransportMode::Unix,
        )
        .expect("the client side of the handshake");
        let root = session.get_root().expect("the root object");
        // Stamps the interface descriptor the request header carries.
        let _ = <dyn central_gralloc_service::aidl::IAllocator as binder::FromIBinder>::try_from(
            root.clone(),
        )
        .expect("the root is an IAllocator");
        Client {
            _session: session,
            root,
        }
    })
}

/// The handles of a successful `allocate2` reply, each checked by the decoder every mapper runs.
fn check_allocation(reply: &mut Parcel) {
    let result: AllocationResult = reply.read().expect("an AllocationResult after OK");
    for buffer in &result.buffers {
        let fds = buffer
            .fds
            .iter()
            .map(|p| p.as_fd().try_clone_to_owned().expect("dup a reply fd"))
            .collect();
        let handle = NativeHandle {
            fds,
            ints: buffer.ints.clone(),
        };
        if let Err(e) = BufferHandle::decode(handle) {
            panic!("the service sent a handle that does not decode: {e}");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let code = rsbinder::FIRST_CALL_TRANSACTION + u32::from(pick % 4);
    let client = client();
    let proxy = client.root.as_remote().expect("an RPC proxy");
    let mut request = proxy.prepare_transact(true).expect("a request parcel");
    for word in body.chunks(4) {
        let mut b = [0u8; 4];
        b[..word.len()].copy_from_slice(word);
        request
            .write_u32(u32::from_le_bytes(b))
            .expect("write a word");
    }
    match proxy.submit_transact(code, &request, 0) {
        Ok(Some(mut reply)) => {
            let status: Status = reply.read().expect("a status first");
            match status.exception_code() {
                ExceptionCode::None if code == ALLOCATE2 => check_allocation(&mut reply),
                ExceptionCode::None => {}
                ExceptionCode::ServiceSpecific => {
                    let e = status.service_specific_error();
                    assert!((0..=2).contains(&e), "AllocationError {e}");
                }
                // The generated stub turns arguments that do not parse into a status too.
                _ => {}
            }
        }
        Ok(None) => panic!("no reply to a two-way call"),
        Err(StatusCode::DeadObject) => panic!("the session died"),
        // Arguments that do not parse.
        Err(_) => {}
    }
});
