//! The UDP socket under a QUIC endpoint that carries many connections.

use std::net::{SocketAddr, UdpSocket};

/// What a busy endpoint asks the kernel for, each way; Linux caps it at `net.core.rmem_max` / `wmem_max`.
const BUFFER: usize = 4 * 1024 * 1024;

/// Binds `addr` with large socket buffers. With the default of about 200 KiB, a burst of handshakes (thousands of
/// agents coming back after a server restart) overflows the receive buffer while the endpoint's task waits for a
/// core, and each lost packet costs a retransmission timeout. A kernel that refuses the size keeps its default.
pub fn bind(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    let socket = UdpSocket::bind(addr)?;
    let sock = socket2::SockRef::from(&socket);
    let _ = sock.set_recv_buffer_size(BUFFER);
    let _ = sock.set_send_buffer_size(BUFFER);
    Ok(socket)
}
