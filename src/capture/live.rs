//! Live input: packets from a network interface through libpcap (the `pcap` crate), handed to
//! the same pipeline as a file's. Built with the cargo feature `live`.

use super::{LinkType, Packet, Timestamp};
use std::fmt;
use std::net::IpAddr;

/// TCP, and the ICMP errors that say why a connection failed; nothing else is read.
pub const DEFAULT_FILTER: &str = "tcp or icmp or icmp6 or (vlan and (tcp or icmp or icmp6))";
/// Large enough for any packet a handshake sends, offloading included.
pub const SNAPLEN: i32 = 262_144;
/// How long the kernel holds a partly filled block of packets before handing it over: the
/// delay between a packet and its verdict, at the most.
const BLOCK_TIMEOUT_MS: i32 = 100;
/// With nothing to read, `next` sleeps this long before handing control back: reads are
/// non-blocking, so that the caller gets control back for idle timeouts, signals and the
/// status line.
const IDLE_SLEEP: std::time::Duration = std::time::Duration::from_millis(2);
/// Packets handed over in one `next` call, at the most, between looks at the clock.
const BATCH: usize = 256;

#[derive(Debug)]
pub enum LiveError {
    /// Opening needs privileges the process lacks.
    Permission {
        interface: String,
        detail: String,
    },
    UnknownInterface {
        name: String,
        known: Vec<String>,
    },
    Filter {
        filter: String,
        detail: String,
    },
    Pcap(String),
}

impl fmt::Display for LiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LiveError::Permission { interface, detail } => write!(
                f,
                "cannot capture on {interface}: {detail}\n\
                 live capture needs root, or the capabilities CAP_NET_RAW and CAP_NET_ADMIN:\n  \
                 sudo setcap cap_net_raw,cap_net_admin=eip \"$(command -v tlsdiag)\""
            ),
            LiveError::UnknownInterface { name, known } => write!(
                f,
                "no interface named {name}; the interfaces are: {}",
                known.join(", ")
            ),
            LiveError::Filter { filter, detail } => {
                write!(
                    f,
                    "the capture filter '{filter}' does not compile: {detail}"
                )
            }
            LiveError::Pcap(detail) => write!(f, "libpcap: {detail}"),
        }
    }
}

impl std::error::Error for LiveError {}

fn classify(interface: &str, e: pcap::Error) -> LiveError {
    let detail = e.to_string();
    let lower = detail.to_ascii_lowercase();
    if lower.contains("permission") || lower.contains("not permitted") {
        LiveError::Permission {
            interface: interface.to_string(),
            detail,
        }
    } else {
        LiveError::Pcap(detail)
    }
}

/// One capture interface as libpcap lists it.
#[derive(Clone, Debug)]
pub struct Interface {
    pub name: String,
    pub description: Option<String>,
    pub addresses: Vec<IpAddr>,
    pub up: bool,
    pub running: bool,
    pub loopback: bool,
}

pub fn interfaces() -> Result<Vec<Interface>, LiveError> {
    let devices = pcap::Device::list().map_err(|e| LiveError::Pcap(e.to_string()))?;
    Ok(devices
        .into_iter()
        .map(|d| Interface {
            addresses: d.addresses.iter().map(|a| a.addr).collect(),
            up: d.flags.is_up(),
            running: d.flags.is_running(),
            loopback: d.flags.is_loopback(),
            description: d.desc,
            name: d.name,
        })
        .collect())
}

/// What libpcap counted since the capture started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LiveStats {
    pub received: u64,
    /// Dropped by the kernel: no room in the buffer, tlsdiag did not read fast enough.
    pub dropped: u64,
    /// Dropped by the interface or its driver.
    pub if_dropped: u64,
}

pub struct LiveCapture {
    capture: pcap::Capture<pcap::Active>,
    link: LinkType,
    frame: u64,
}

impl LiveCapture {
    /// Opens `interface` with `filter` (`DEFAULT_FILTER` when `None`) and a kernel ring of
    /// `buffer_bytes`. Not in immediate mode: libpcap then takes packets from the kernel in
    /// blocks (TPACKET_V3 on Linux), packed at their own sizes, where immediate mode gives a
    /// wake-up per packet and a slot of the full snaplen to each, 64 packets in 16 MiB.
    pub fn open(
        interface: &str,
        filter: Option<&str>,
        buffer_bytes: usize,
    ) -> Result<Self, LiveError> {
        let known = interfaces()?;
        if !known.iter().any(|i| i.name == interface) {
            return Err(LiveError::UnknownInterface {
                name: interface.to_string(),
                known: known.into_iter().map(|i| i.name).collect(),
            });
        }
        let mut capture = pcap::Capture::from_device(interface)
            .map_err(|e| classify(interface, e))?
            .promisc(false)
            .snaplen(SNAPLEN)
            .immediate_mode(false)
            .buffer_size(i32::try_from(buffer_bytes).unwrap_or(i32::MAX))
            .timeout(BLOCK_TIMEOUT_MS)
            .open()
            .map_err(|e| classify(interface, e))?;
        let filter = filter.unwrap_or(DEFAULT_FILTER);
        capture
            .filter(filter, true)
            .map_err(|e| LiveError::Filter {
                filter: filter.to_string(),
                detail: e.to_string(),
            })?;
        let capture = capture
            .setnonblock()
            .map_err(|e| LiveError::Pcap(e.to_string()))?;
        let link = LinkType(u32::try_from(capture.get_datalink().0).unwrap_or(u32::MAX));
        Ok(LiveCapture {
            capture,
            link,
            frame: 0,
        })
    }

    pub fn link(&self) -> LinkType {
        self.link
    }

    /// Hands the packets the kernel has ready to `on_packet`, a batch at the most, or waits a
    /// moment when there are none. Returns how many came.
    pub fn next(&mut self, mut on_packet: impl FnMut(&Packet<'_>)) -> Result<usize, LiveError> {
        for taken in 0..BATCH {
            match self.capture.next_packet() {
                Ok(p) => {
                    self.frame += 1;
                    // time_t is 32 bits on some targets.
                    #[allow(clippy::useless_conversion)]
                    let ts = Timestamp::new(
                        i64::from(p.header.ts.tv_sec),
                        u32::try_from(p.header.ts.tv_usec).unwrap_or(0) * 1_000,
                    );
                    on_packet(&Packet {
                        frame: self.frame,
                        ts,
                        link: self.link,
                        data: p.data,
                        orig_len: p.header.len,
                    });
                }
                Err(pcap::Error::TimeoutExpired) => {
                    if taken == 0 {
                        std::thread::sleep(IDLE_SLEEP);
                    }
                    return Ok(taken);
                }
                Err(e) => return Err(LiveError::Pcap(e.to_string())),
            }
        }
        Ok(BATCH)
    }

    pub fn stats(&mut self) -> Option<LiveStats> {
        self.capture.stats().ok().map(|s| LiveStats {
            received: u64::from(s.received),
            dropped: u64::from(s.dropped),
            if_dropped: u64::from(s.if_dropped),
        })
    }
}
