//! `bringup mapper-pattern`: a buffer from the allocator over kernel binder crosses two processes
//! through the mapper. Process A allocates, imports, locks for write, fills a pattern and unlocks;
//! it sends the raw handle (ints, and the fds with SCM_RIGHTS) to process B, a fresh exec of this
//! binary, which imports it, locks for read and checks every byte.

use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};

use central_gralloc_memory::handle::{BufferInfo, HANDLE_FDS, HANDLE_INTS};
use central_gralloc_service::aidl::{BufferDescriptorInfo, BufferUsage, IAllocator, PixelFormat};
use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags,
    SockFlag, SockType,
};

use crate::mapper_client::Mapper;

/// The byte at `offset` of the pattern: not periodic in any power of two, so a row or plane
/// landing at the wrong offset shows.
fn pattern(offset: usize) -> u8 {
    (offset % 251) as u8 ^ (offset / 251 % 7) as u8
}

fn descriptor() -> BufferDescriptorInfo {
    let mut name = [0u8; 128];
    name[..14].copy_from_slice(b"mapper-pattern");
    BufferDescriptorInfo {
        name,
        width: 1280,
        height: 720,
        layerCount: 1,
        format: PixelFormat::RGBA_8888,
        usage: BufferUsage(
            BufferUsage::CPU_READ_OFTEN.0
                | BufferUsage::CPU_WRITE_OFTEN.0
                | BufferUsage::GPU_TEXTURE.0
                | BufferUsage::COMPOSER_OVERLAY.0,
        ),
        ..Default::default()
    }
}

/// Process A. Returns what B reported.
pub fn writer(allocator: &binder::Strong<dyn IAllocator>) -> Result<String, String> {
    let result = allocator
        .allocate2(&descriptor(), 1)
        .map_err(|e| format!("allocate2: {e:?}"))?;
    let handle = result
        .buffers
        .first()
        .ok_or("allocate2 returned no buffer")?;
    let fds: Vec<RawFd> = handle.fds.iter().map(|p| p.as_ref().as_raw_fd()).collect();
    let info = BufferInfo::from_ints(&handle.ints).map_err(|e| format!("handle ints: {e}"))?;
    let mapper = Mapper::load()?;
    let imported = mapper.import(&fds, &handle.ints)?;
    let size = usize::try_from(info.size).map_err(|_| "allocation size")?;
    let data = imported.lock(BufferUsage::CPU_WRITE_OFTEN.0 as u64)?;
    for offset in 0..size {
        // SAFETY: the lock maps the whole allocation, `size` bytes.
        unsafe { data.add(offset).write(pattern(offset)) };
    }
    imported.unlock()?;
    drop(imported);

    let (ours, theirs) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| format!("socketpair: {e}"))?;
    let child = crate::peer::spawn_with_fd3("mapper-reader", theirs, true)?;
    let words: Vec<u8> = handle.ints.iter().flat_map(|i| i.to_le_bytes()).collect();
    let rights = [ControlMessage::ScmRights(&fds)];
    sendmsg::<()>(
        ours.as_raw_fd(),
        &[IoSlice::new(&words)],
        &rights,
        MsgFlags::empty(),
        None,
    )
    .map_err(|e| format!("sendmsg: {e}"))?;
    let out = child
        .wait_with_output()
        .map_err(|e| format!("the reader: {e}"))?;
    let report = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if !out.status.success() {
        return Err(format!("the reader failed ({}): {report}", out.status));
    }
    Ok(format!(
        "{}x{} RGBA stride {}: {size} bytes written in pid {}, {report}",
        1280,
        720,
        result.stride,
        std::process::id()
    ))
}

/// Process B: receives the handle on `socket`, imports, locks for read and checks every byte.
pub fn reader(socket: RawFd) -> Result<String, String> {
    // SAFETY: fd `socket` was placed by the writer for this process alone (dup2 before exec).
    let socket = unsafe { OwnedFd::from_raw_fd(socket) };
    let mut words = vec![0u8; HANDLE_INTS * 4 + 4];
    let mut space = nix::cmsg_space!([RawFd; HANDLE_FDS]);
    let mut iov = [std::io::IoSliceMut::new(&mut words)];
    let msg = recvmsg::<()>(
        socket.as_fd().as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(|e| format!("recvmsg: {e}"))?;
    let mut fds: Vec<OwnedFd> = Vec::new();
    for cmsg in msg.cmsgs().map_err(|e| format!("cmsgs: {e}"))? {
        if let ControlMessageOwned::ScmRights(received) = cmsg {
            for fd in received {
                // SAFETY: SCM_RIGHTS installed these descriptors in this process for us alone.
                fds.push(unsafe { OwnedFd::from_raw_fd(fd) });
            }
        }
    }
    let len = msg.bytes;
    let ints: Vec<i32> = words[..len]
        .chunks_exact(4)
        .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let info = BufferInfo::from_ints(&ints).map_err(|e| format!("received ints: {e}"))?;
    let raw: Vec<RawFd> = fds.iter().map(AsRawFd::as_raw_fd).collect();
    let mapper = Mapper::load()?;
    let imported = mapper.import(&raw, &ints)?;
    // The raw handle is ours to close once imported: the mapper holds its own copies.
    drop(fds);
    let size = usize::try_from(info.size).map_err(|_| "allocation size")?;
    let data = imported.lock(BufferUsage::CPU_READ_OFTEN.0 as u64)?;
    // SAFETY: the lock maps the whole allocation, `size` bytes, readable while locked.
    let bytes = unsafe { std::slice::from_raw_parts(data, size) };
    let wrong = bytes
        .iter()
        .enumerate()
        .filter(|&(offset, &b)| b != pattern(offset))
        .count();
    let first_wrong = bytes
        .iter()
        .enumerate()
        .position(|(offset, &b)| b != pattern(offset));
    imported.unlock()?;
    if wrong > 0 {
        return Err(format!(
            "{wrong} of {size} bytes differ, first at offset {first_wrong:?}"
        ));
    }
    Ok(format!(
        "pid {} imported buffer {:#x} and read all {size} bytes back",
        std::process::id(),
        info.id
    ))
}
