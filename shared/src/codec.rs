//! The one codec for untrusted bytes: a 4-byte big-endian length prefix, then a bincode body.
//!
//! This is the only module that names bincode. A body is at most [`MAX_FRAME_LEN`] bytes on the wire, and bincode counts
//! the decoded size of every value against the same limit, so decoding one frame allocates a bounded amount (measured
//! by fuzzing: about six times the limit at worst, transiently). The codec tells an incomplete buffer (wait for more
//! bytes) apart from an invalid one (close the stream), and rejects trailing bytes, so one frame has exactly one
//! meaning.
//!
//! Because the decoder counts decoded sizes (8 bytes for every integer and length, however short on the wire), a
//! frame well under the wire limit that is made mostly of tiny fields (over about 128 KiB of empty strings, say) is
//! refused. No message we send comes near that: their lists are capped far lower.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Hard ceiling on one frame's body. A snapshot of a busy machine is tens of KiB; this leaves room without letting a
/// peer make us buffer more.
pub const MAX_FRAME_LEN: usize = 1024 * 1024;
/// Bytes of the length prefix.
pub const PREFIX_LEN: usize = 4;

type Config = bincode::config::Configuration<
    bincode::config::LittleEndian,
    bincode::config::Varint,
    bincode::config::Limit<MAX_FRAME_LEN>,
>;

const CONFIG: Config = bincode::config::standard().with_limit::<MAX_FRAME_LEN>();

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CodecError {
    #[error("frame of {len} bytes exceeds the {max}-byte limit")]
    TooLarge { len: usize, max: usize },
    #[error("malformed frame: {0}")]
    Malformed(String),
    #[error("frame has {0} trailing bytes after its message")]
    Trailing(usize),
    #[error("cannot encode message: {0}")]
    Encode(String),
}

/// Encodes `msg` as one frame: length prefix and body.
pub fn encode<T: Serialize>(msg: &T) -> Result<Vec<u8>, CodecError> {
    let mut out = vec![0u8; PREFIX_LEN];
    bincode::serde::encode_into_std_write(msg, &mut out, CONFIG).map_err(|e| CodecError::Encode(e.to_string()))?;
    let len = out.len() - PREFIX_LEN;
    if len > MAX_FRAME_LEN {
        return Err(CodecError::TooLarge { len, max: MAX_FRAME_LEN });
    }
    let prefix = u32::try_from(len).map_err(|_| CodecError::TooLarge { len, max: MAX_FRAME_LEN })?;
    out[..PREFIX_LEN].copy_from_slice(&prefix.to_be_bytes());
    Ok(out)
}

/// Reads a length prefix, refusing it before any body byte is buffered if it is over the limit.
pub fn body_len(prefix: [u8; PREFIX_LEN]) -> Result<usize, CodecError> {
    let len = u32::from_be_bytes(prefix) as usize;
    if len > MAX_FRAME_LEN {
        return Err(CodecError::TooLarge { len, max: MAX_FRAME_LEN });
    }
    Ok(len)
}

/// Decodes one frame body (without its prefix); the whole body must be exactly one message.
pub fn decode_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, CodecError> {
    if body.len() > MAX_FRAME_LEN {
        return Err(CodecError::TooLarge { len: body.len(), max: MAX_FRAME_LEN });
    }
    let (msg, used) =
        bincode::serde::decode_from_slice(body, CONFIG).map_err(|e| CodecError::Malformed(e.to_string()))?;
    if used != body.len() {
        return Err(CodecError::Trailing(body.len() - used));
    }
    Ok(msg)
}

/// Splits the first frame off `buf`: `Ok(None)` while it is incomplete, `Ok(Some((msg, consumed)))` once whole.
pub fn decode_frame<T: DeserializeOwned>(buf: &[u8]) -> Result<Option<(T, usize)>, CodecError> {
    let Some(prefix) = buf.first_chunk::<PREFIX_LEN>() else {
        return Ok(None);
    };
    let len = body_len(*prefix)?;
    let Some(body) = buf.get(PREFIX_LEN..PREFIX_LEN + len) else {
        return Ok(None);
    };
    decode_body(body).map(|msg| Some((msg, PREFIX_LEN + len)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::*;

    fn check_golden<T>(msg: &T, expected_hex: &str)
    where
        T: Serialize + DeserializeOwned + PartialEq + Clone + std::fmt::Debug,
    {
        let bytes = encode(msg).unwrap();
        assert_eq!(hex::encode(&bytes), expected_hex, "wire bytes drifted for {msg:?}");
        let back: Option<(T, usize)> = decode_frame(&bytes).unwrap();
        assert_eq!(back, Some((msg.clone(), bytes.len())));
    }

    /// The wire format is frozen by these bytes: a failure here means old agents and servers would misread new ones.
    #[test]
    fn golden_vectors() {
        check_golden(
            &AgentControl::Hello(Hello {
                protocol: 1,
                agent_version: "0.1.0".into(),
                hostname: "pc-42".into(),
                os: "Debian 12".into(),
            }),
            "00000018000105302e312e300570632d34320944656269616e203132",
        );
        check_golden(&AgentControl::Heartbeat { seq: 300 }, "0000000401fb2c01");
        check_golden(
            &ServerControl::Welcome {
                protocol: 1,
                server_version: "0.1.0".into(),
                agent_id: "a1".into(),
                heartbeat_secs: 15,
            },
            "0000000c000105302e312e300261310f",
        );
        check_golden(&Response::Stored { id: [7; 16] }, "000000110007070707070707070707070707070707");
        check_golden(
            &Response::Error(WireError { code: ErrorCode::TooLarge, message: "big".into() }),
            "00000006030103626967",
        );
        check_golden(
            &Response::Error(WireError { code: ErrorCode::Unavailable, message: "full".into() }),
            "0000000703040466756c6c",
        );
        check_golden(&EnrollResponse::Refused { message: "expired".into() }, "00000009010765787069726564");
        check_golden(&Request::Tickets { user: "ann".into() }, "000000050203616e6e");
        check_golden(
            &ServerControl::RunCheck(CheckRequest {
                id: 9,
                ticket: Some(42),
                technician: "bob".into(),
                check: crate::catalog::Check::DiskUsage { path: "/home".into() },
            }),
            "0000000f0209012a03626f6202052f686f6d65",
        );
        check_golden(
            &Request::CheckResult(CheckReport {
                id: 9,
                outcome: CheckOutcome::Refused { reason: "no consent".into() },
            }),
            "0000000e0509010a6e6f20636f6e73656e74",
        );
        check_golden(&Request::Probe { payload: vec![1, 2], reply_len: 300 }, "0000000703020102fb2c01");
        check_golden(&ServerControl::WatchStart { interval_ms: 1000 }, "0000000403fbe803");
        check_golden(&ServerControl::WatchStop, "0000000104");
        check_golden(&ServerControl::SnapshotNow { ticket: 42 }, "00000002052a");
        check_golden(&ServerControl::CertificateRenewed { cert_der: vec![1, 2, 3] }, "000000050703010203");
        check_golden(&Goodbye { reconnect_within_ms: 10_000 }, "00000003fb1027");
    }

    #[test]
    fn snapshot_round_trips() {
        let snap = Snapshot {
            id: [1; 16],
            taken_at_ms: 1_700_000_000_000,
            host: Host { hostname: "h".into(), users: vec!["ann".into()], ..Host::default() },
            cpu: Cpu { usage_pct: 12.5, load_avg: [0.5, 1.0, 1.5], logical_cores: 8, ..Cpu::default() },
            disks: vec![Disk { mount_point: "/".into(), total_bytes: 100, available_bytes: 3, ..Disk::default() }],
            network: Network {
                probes: vec![Probe {
                    kind: ProbeKind::Dns,
                    target: "example.org".into(),
                    ok: false,
                    latency_us: None,
                    detail: "no answer".into(),
                }],
                ..Network::default()
            },
            ..Snapshot::default()
        };
        let req = Request::Snapshot(snap);
        let bytes = encode(&req).unwrap();
        assert_eq!(decode_frame::<Request>(&bytes).unwrap(), Some((req, bytes.len())));
    }

    #[test]
    fn incomplete_is_not_invalid() {
        let bytes = encode(&AgentControl::Heartbeat { seq: 1 }).unwrap();
        for cut in 0..bytes.len() {
            assert_eq!(decode_frame::<AgentControl>(&bytes[..cut]), Ok(None), "cut at {cut}");
        }
    }

    #[test]
    fn oversized_prefix_is_refused_before_buffering() {
        let prefix = ((MAX_FRAME_LEN + 1) as u32).to_be_bytes();
        assert!(matches!(body_len(prefix), Err(CodecError::TooLarge { .. })));
        assert!(matches!(decode_frame::<AgentControl>(&prefix), Err(CodecError::TooLarge { .. })));
        assert!(matches!(encode(&vec![0u8; MAX_FRAME_LEN + 1]), Err(CodecError::TooLarge { .. })));
    }

    #[test]
    fn garbage_and_trailing_bytes_are_malformed() {
        let cases: &[&[u8]] = &[
            &[0, 0, 0, 1, 9],                      // unknown variant 9
            &[0, 0, 0, 2, 1, 0xff],                // truncated varint
            &[0, 0, 0, 3, 0, 0xfc, 0xff],          // truncated u32 in varint form
            &[0, 0, 0, 5, 0, 1, 0xfd, 0xff, 0xff], // absurd string length, limit refuses it
        ];
        for case in cases {
            assert!(matches!(decode_frame::<AgentControl>(case), Err(CodecError::Malformed(_))), "{case:?}");
        }
        let mut bytes = encode(&AgentControl::Heartbeat { seq: 1 }).unwrap();
        bytes[3] += 1;
        bytes.push(0);
        assert_eq!(decode_frame::<AgentControl>(&bytes), Err(CodecError::Trailing(1)));
    }

    #[test]
    fn decode_never_panics_on_any_short_input() {
        // Exhaustive over every 1- and 2-byte body: cheap, and catches a class of panics a fuzzer finds first.
        for a in 0..=255u8 {
            let _ = decode_body::<Request>(&[a]);
            for b in 0..=255u8 {
                let _ = decode_body::<Request>(&[a, b]);
                let _ = decode_body::<AgentControl>(&[a, b]);
                let _ = decode_body::<EnrollRequest>(&[a, b]);
            }
        }
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::wire::*;
    use proptest::prelude::*;

    fn text() -> impl Strategy<Value = String> {
        proptest::string::string_regex("[ -~\u{e9}\u{4e2d}]{0,40}").unwrap()
    }

    fn process() -> impl Strategy<Value = Process> {
        (any::<u32>(), text(), proptest::option::of(text()), any::<f32>(), any::<u64>())
            .prop_map(|(pid, name, user, cpu_pct, rss_bytes)| Process { pid, name, user, cpu_pct, rss_bytes })
    }

    fn snapshot() -> impl Strategy<Value = Snapshot> {
        (
            any::<[u8; 16]>(),
            any::<u64>(),
            (text(), text(), any::<u64>(), proptest::collection::vec(text(), 0..3)),
            (any::<f32>(), any::<[f64; 3]>(), any::<u32>()),
            proptest::collection::vec((text(), any::<u64>(), any::<u64>()), 0..4),
            proptest::collection::vec(process(), 0..4),
            proptest::option::of((text(), text())),
            proptest::collection::vec(text(), 0..3),
        )
            .prop_map(|(id, taken_at_ms, host, cpu, disks, procs, route, problems)| Snapshot {
                id,
                taken_at_ms,
                host: Host { hostname: host.0, os_name: host.1, uptime_secs: host.2, users: host.3, ..Host::default() },
                cpu: Cpu { usage_pct: cpu.0, load_avg: cpu.1, logical_cores: cpu.2, ..Cpu::default() },
                disks: disks
                    .into_iter()
                    .map(|(mount_point, total_bytes, available_bytes)| Disk {
                        mount_point,
                        total_bytes,
                        available_bytes,
                        ..Disk::default()
                    })
                    .collect(),
                network: Network {
                    default_route: route.map(|(interface, gateway)| Route { interface, gateway }),
                    ..Network::default()
                },
                processes: Processes { count: procs.len() as u32, top_cpu: procs.clone(), top_memory: procs },
                problems,
                ..Snapshot::default()
            })
    }

    fn request() -> impl Strategy<Value = Request> {
        prop_oneof![
            snapshot().prop_map(Request::Snapshot),
            (any::<[u8; 16]>(), text(), text(), text(), snapshot()).prop_map(|(id, user, subject, description, s)| {
                Request::Help(HelpRequest { id, user, subject, description, snapshot: s })
            }),
            text().prop_map(|user| Request::Tickets { user }),
        ]
    }

    /// NaN never equals itself, so compare through the encoding: one message, one byte string.
    fn same_bytes<T: Serialize>(a: &T, b: &T) -> bool {
        encode(a).ok() == encode(b).ok()
    }

    proptest! {
        #[test]
        fn requests_round_trip(req in request()) {
            let bytes = encode(&req).unwrap();
            let (back, used) = decode_frame::<Request>(&bytes).unwrap().unwrap();
            prop_assert_eq!(used, bytes.len());
            prop_assert!(same_bytes(&back, &req));
        }

        #[test]
        fn control_round_trips(seq in any::<u64>(), proto in any::<u16>(), s in text()) {
            for msg in [
                AgentControl::Heartbeat { seq },
                AgentControl::Hello(Hello { protocol: proto, agent_version: s.clone(), hostname: s.clone(), os: s.clone() }),
            ] {
                let bytes = encode(&msg).unwrap();
                prop_assert_eq!(decode_frame::<AgentControl>(&bytes).unwrap(), Some((msg, bytes.len())));
            }
        }

        #[test]
        fn any_prefix_of_a_frame_is_incomplete(req in request(), cut in any::<prop::sample::Index>()) {
            let bytes = encode(&req).unwrap();
            let cut = cut.index(bytes.len());
            prop_assert!(decode_frame::<Request>(&bytes[..cut]).unwrap().is_none());
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode_frame::<Request>(&bytes);
            let _ = decode_frame::<AgentControl>(&bytes);
            let _ = decode_frame::<EnrollRequest>(&bytes);
            let _ = decode_frame::<LocalRequest>(&bytes);
        }
    }
}
