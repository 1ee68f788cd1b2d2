//! The "deny" component `medic build` composes into every Python remediation: it exports
//! wasi:filesystem/{types,preopens}@0.2.9 and every wasi:sockets interface @0.2.9, each
//! refusing everything, so that the componentize-py component, plugged with it, imports
//! only what medic links (wasi io, cli, clocks, random and medic's own interfaces). medic's
//! host never links wasi:filesystem or wasi:sockets; this keeps it so for Python too, while
//! CPython's own `open()` and `socket` raise `PermissionError` instead of trapping.
//!
//! - preopens.get-directories: one descriptor for `/` whose every method refuses;
//! - every filesystem function: error-code `access`; filesystem-error-code: none;
//! - instance-network: a network resource of this component's own (no methods);
//! - socket creation, name lookup and every socket method: `access-denied`.
//!
//! Methods that have no error channel (subscribe, address-family, is-listening,
//! is-same-object) are unreachable, since no socket or descriptor can be created; they
//! still return something harmless (a ready pollable, ipv4, false) rather than trap.

#![expect(
    unsafe_code,
    reason = "wit-bindgen's export glue declares `export_name` functions; there is no other way to export a WIT interface"
)]

wit_bindgen::generate!({
    world: "deny",
    path: "wit",
    generate_all,
});

use exports::wasi::filesystem::{preopens, types as fs};
use exports::wasi::sockets::{
    instance_network, ip_name_lookup, network, tcp, tcp_create_socket, udp, udp_create_socket,
};
use wasi::clocks::monotonic_clock;
use wasi::io::poll::Pollable;

use fs::ErrorCode as FsError;
use network::ErrorCode as NetError;

const FS: FsError = FsError::Access;
const NET: NetError = NetError::AccessDenied;

/// A pollable that is ready at once (never reached: no socket can be created).
fn ready() -> Pollable {
    monotonic_clock::subscribe_duration(0)
}

struct Deny;

// ---------------------------------------------------------------- wasi:filesystem

/// The one preopen, `/`: every method refuses, so no other descriptor is ever made.
struct Descriptor;
/// Never constructed.
enum DirStream {}

impl fs::Guest for Deny {
    type Descriptor = Descriptor;
    type DirectoryEntryStream = DirStream;

    fn filesystem_error_code(_err: &fs::Error) -> Option<FsError> {
        None
    }
}

impl fs::GuestDescriptor for Descriptor {
    fn read_via_stream(&self, _: fs::Filesize) -> Result<fs::InputStream, FsError> {
        Err(FS)
    }
    fn write_via_stream(&self, _: fs::Filesize) -> Result<fs::OutputStream, FsError> {
        Err(FS)
    }
    fn append_via_stream(&self) -> Result<fs::OutputStream, FsError> {
        Err(FS)
    }
    fn advise(&self, _: fs::Filesize, _: fs::Filesize, _: fs::Advice) -> Result<(), FsError> {
        Err(FS)
    }
    fn sync_data(&self) -> Result<(), FsError> {
        Err(FS)
    }
    fn get_flags(&self) -> Result<fs::DescriptorFlags, FsError> {
        Err(FS)
    }
    fn get_type(&self) -> Result<fs::DescriptorType, FsError> {
        Err(FS)
    }
    fn set_size(&self, _: fs::Filesize) -> Result<(), FsError> {
        Err(FS)
    }
    fn set_times(&self, _: fs::NewTimestamp, _: fs::NewTimestamp) -> Result<(), FsError> {
        Err(FS)
    }
    fn read(&self, _: fs::Filesize, _: fs::Filesize) -> Result<(Vec<u8>, bool), FsError> {
        Err(FS)
    }
    fn write(&self, _: Vec<u8>, _: fs::Filesize) -> Result<fs::Filesize, FsError> {
        Err(FS)
    }
    fn read_directory(&self) -> Result<fs::DirectoryEntryStream, FsError> {
        Err(FS)
    }
    fn sync(&self) -> Result<(), FsError> {
        Err(FS)
    }
    fn create_directory_at(&self, _: String) -> Result<(), FsError> {
        Err(FS)
    }
    fn stat(&self) -> Result<fs::DescriptorStat, FsError> {
        Err(FS)
    }
    fn stat_at(&self, _: fs::PathFlags, _: String) -> Result<fs::DescriptorStat, FsError> {
        Err(FS)
    }
    fn set_times_at(
        &self,
        _: fs::PathFlags,
        _: String,
        _: fs::NewTimestamp,
        _: fs::NewTimestamp,
    ) -> Result<(), FsError> {
        Err(FS)
    }
    fn link_at(
        &self,
        _: fs::PathFlags,
        _: String,
        _: fs::DescriptorBorrow<'_>,
        _: String,
    ) -> Result<(), FsError> {
        Err(FS)
    }
    fn open_at(
        &self,
        _: fs::PathFlags,
        _: String,
        _: fs::OpenFlags,
        _: fs::DescriptorFlags,
    ) -> Result<fs::Descriptor, FsError> {
        Err(FS)
    }
    fn readlink_at(&self, _: String) -> Result<String, FsError> {
        Err(FS)
    }
    fn remove_directory_at(&self, _: String) -> Result<(), FsError> {
        Err(FS)
    }
    fn rename_at(&self, _: String, _: fs::DescriptorBorrow<'_>, _: String) -> Result<(), FsError> {
        Err(FS)
    }
    fn symlink_at(&self, _: String, _: String) -> Result<(), FsError> {
        Err(FS)
    }
    fn unlink_file_at(&self, _: String) -> Result<(), FsError> {
        Err(FS)
    }
    fn is_same_object(&self, _: fs::DescriptorBorrow<'_>) -> bool {
        false
    }
    fn metadata_hash(&self) -> Result<fs::MetadataHashValue, FsError> {
        Err(FS)
    }
    fn metadata_hash_at(
        &self,
        _: fs::PathFlags,
        _: String,
    ) -> Result<fs::MetadataHashValue, FsError> {
        Err(FS)
    }
}

impl fs::GuestDirectoryEntryStream for DirStream {
    fn read_directory_entry(&self) -> Result<Option<fs::DirectoryEntry>, FsError> {
        Err(FS)
    }
}

impl preopens::Guest for Deny {
    fn get_directories() -> Vec<(preopens::Descriptor, String)> {
        // One preopen, `/`, whose every method refuses: paths resolve against it, so
        // Python's `open()` raises PermissionError (EACCES), as a refusal should read,
        // rather than FileNotFoundError (no preopen matches).
        vec![(fs::Descriptor::new(Descriptor), String::from("/"))]
    }
}

// ---------------------------------------------------------------- wasi:sockets

/// The one resource this component does hand out: `instance-network` returns it.
struct Network;

impl network::Guest for Deny {
    type Network = Network;
}
impl network::GuestNetwork for Network {}

impl instance_network::Guest for Deny {
    fn instance_network() -> instance_network::Network {
        network::Network::new(Network)
    }
}

/// Never constructed: create-tcp-socket denies.
enum Tcp {}
/// Never constructed: create-udp-socket denies.
enum Udp {}
enum InDgram {}
enum OutDgram {}
enum Resolve {}

impl tcp_create_socket::Guest for Deny {
    fn create_tcp_socket(_: tcp::IpAddressFamily) -> Result<tcp::TcpSocket, NetError> {
        Err(NET)
    }
}

impl udp_create_socket::Guest for Deny {
    fn create_udp_socket(_: udp::IpAddressFamily) -> Result<udp::UdpSocket, NetError> {
        Err(NET)
    }
}

impl ip_name_lookup::Guest for Deny {
    type ResolveAddressStream = Resolve;
    fn resolve_addresses(
        _: ip_name_lookup::NetworkBorrow<'_>,
        _: String,
    ) -> Result<ip_name_lookup::ResolveAddressStream, NetError> {
        Err(NET)
    }
}

impl ip_name_lookup::GuestResolveAddressStream for Resolve {
    fn resolve_next_address(&self) -> Result<Option<ip_name_lookup::IpAddress>, NetError> {
        Err(NET)
    }
    fn subscribe(&self) -> Pollable {
        ready()
    }
}

impl tcp::Guest for Deny {
    type TcpSocket = Tcp;
}

impl tcp::GuestTcpSocket for Tcp {
    fn start_bind(
        &self,
        _: tcp::NetworkBorrow<'_>,
        _: tcp::IpSocketAddress,
    ) -> Result<(), NetError> {
        Err(NET)
    }
    fn finish_bind(&self) -> Result<(), NetError> {
        Err(NET)
    }
    fn start_connect(
        &self,
        _: tcp::NetworkBorrow<'_>,
        _: tcp::IpSocketAddress,
    ) -> Result<(), NetError> {
        Err(NET)
    }
    fn finish_connect(&self) -> Result<(tcp::InputStream, tcp::OutputStream), NetError> {
        Err(NET)
    }
    fn start_listen(&self) -> Result<(), NetError> {
        Err(NET)
    }
    fn finish_listen(&self) -> Result<(), NetError> {
        Err(NET)
    }
    fn accept(&self) -> Result<(tcp::TcpSocket, tcp::InputStream, tcp::OutputStream), NetError> {
        Err(NET)
    }
    fn local_address(&self) -> Result<tcp::IpSocketAddress, NetError> {
        Err(NET)
    }
    fn remote_address(&self) -> Result<tcp::IpSocketAddress, NetError> {
        Err(NET)
    }
    fn is_listening(&self) -> bool {
        false
    }
    fn address_family(&self) -> tcp::IpAddressFamily {
        tcp::IpAddressFamily::Ipv4
    }
    fn set_listen_backlog_size(&self, _: u64) -> Result<(), NetError> {
        Err(NET)
    }
    fn keep_alive_enabled(&self) -> Result<bool, NetError> {
        Err(NET)
    }
    fn set_keep_alive_enabled(&self, _: bool) -> Result<(), NetError> {
        Err(NET)
    }
    fn keep_alive_idle_time(&self) -> Result<tcp::Duration, NetError> {
        Err(NET)
    }
    fn set_keep_alive_idle_time(&self, _: tcp::Duration) -> Result<(), NetError> {
        Err(NET)
    }
    fn keep_alive_interval(&self) -> Result<tcp::Duration, NetError> {
        Err(NET)
    }
    fn set_keep_alive_interval(&self, _: tcp::Duration) -> Result<(), NetError> {
        Err(NET)
    }
    fn keep_alive_count(&self) -> Result<u32, NetError> {
        Err(NET)
    }
    fn set_keep_alive_count(&self, _: u32) -> Result<(), NetError> {
        Err(NET)
    }
    fn hop_limit(&self) -> Result<u8, NetError> {
        Err(NET)
    }
    fn set_hop_limit(&self, _: u8) -> Result<(), NetError> {
        Err(NET)
    }
    fn receive_buffer_size(&self) -> Result<u64, NetError> {
        Err(NET)
    }
    fn set_receive_buffer_size(&self, _: u64) -> Result<(), NetError> {
        Err(NET)
    }
    fn send_buffer_size(&self) -> Result<u64, NetError> {
        Err(NET)
    }
    fn set_send_buffer_size(&self, _: u64) -> Result<(), NetError> {
        Err(NET)
    }
    fn subscribe(&self) -> Pollable {
        ready()
    }
    fn shutdown(&self, _: tcp::ShutdownType) -> Result<(), NetError> {
        Err(NET)
    }
}

impl udp::Guest for Deny {
    type UdpSocket = Udp;
    type IncomingDatagramStream = InDgram;
    type OutgoingDatagramStream = OutDgram;
}

impl udp::GuestUdpSocket for Udp {
    fn start_bind(
        &self,
        _: udp::NetworkBorrow<'_>,
        _: udp::IpSocketAddress,
    ) -> Result<(), NetError> {
        Err(NET)
    }
    fn finish_bind(&self) -> Result<(), NetError> {
        Err(NET)
    }
    fn stream(
        &self,
        _: Option<udp::IpSocketAddress>,
    ) -> Result<(udp::IncomingDatagramStream, udp::OutgoingDatagramStream), NetError> {
        Err(NET)
    }
    fn local_address(&self) -> Result<udp::IpSocketAddress, NetError> {
        Err(NET)
    }
    fn remote_address(&self) -> Result<udp::IpSocketAddress, NetError> {
        Err(NET)
    }
    fn address_family(&self) -> udp::IpAddressFamily {
        udp::IpAddressFamily::Ipv4
    }
    fn unicast_hop_limit(&self) -> Result<u8, NetError> {
        Err(NET)
    }
    fn set_unicast_hop_limit(&self, _: u8) -> Result<(), NetError> {
        Err(NET)
    }
    fn receive_buffer_size(&self) -> Result<u64, NetError> {
        Err(NET)
    }
    fn set_receive_buffer_size(&self, _: u64) -> Result<(), NetError> {
        Err(NET)
    }
    fn send_buffer_size(&self) -> Result<u64, NetError> {
        Err(NET)
    }
    fn set_send_buffer_size(&self, _: u64) -> Result<(), NetError> {
        Err(NET)
    }
    fn subscribe(&self) -> Pollable {
        ready()
    }
}

impl udp::GuestIncomingDatagramStream for InDgram {
    fn receive(&self, _: u64) -> Result<Vec<udp::IncomingDatagram>, NetError> {
        Err(NET)
    }
    fn subscribe(&self) -> Pollable {
        ready()
    }
}

impl udp::GuestOutgoingDatagramStream for OutDgram {
    fn check_send(&self) -> Result<u64, NetError> {
        Err(NET)
    }
    fn send(&self, _: Vec<udp::OutgoingDatagram>) -> Result<u64, NetError> {
        Err(NET)
    }
    fn subscribe(&self) -> Pollable {
        ready()
    }
}

export!(Deny);
